"""The face_recognition run: request logs, evaluation runs and k6 results -> bronze lines -> silver -> gold.

- bronze takes the new files under ``requests/``, ``evaluations/`` and ``loadtests/`` of the input root (files
  elsewhere are skipped), reads them in pieces (:mod:`visionlake.ingest.documents`) and writes each line parsed
  with its kind's allowlist and pseudonymised (:mod:`.bronze`) to that kind's bronze table (the three side by
  side).
- silver takes, per kind, the bronze rows committed since its tables' marker (their Delta app transaction
  ``visionlake/face_recognition/silver/<kind>``); request and probe duplicates are judged against every line
  consumed before.
- gold is recomputed whole from the silver table it is built from whenever that table changed, with that
  table's version as its transaction (:mod:`.gold`), and whenever the settings it is computed with changed (a
  hash of them is recorded as the version of another transaction).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from visionlake.config import Config, FaceRecognitionSettings
from visionlake.ingest.documents import read_documents
from visionlake.ingest.drift import FieldScanner
from visionlake.ingest.listing import FileEntry, Listing, NewFiles
from visionlake.ingest.quarantine import ORDER, to_quarantine
from visionlake.ingest.reader import Read
from visionlake.lake import delta
from visionlake.lake import storage as st
from visionlake.lake.delta import Staged, Txn
from visionlake.lake.runlog import StageRecord
from visionlake.sources.face_recognition import gold, silver
from visionlake.sources.face_recognition.bronze import kind_of, parse_lines
from visionlake.sources.face_recognition.schema import (
    BRONZE,
    BRONZE_TABLES,
    IGNORED,
    IGNORED_NAMES,
    KINDS,
    LINES,
    LOADTESTS,
    PARTITION,
    REQUESTS,
)
from visionlake.sources.runner import SilverBatch, SourceRun, concurrently, duplicates_marked, earlier_rows
from visionlake.transforms.pseudonymise import pii_key

SOURCE = "face_recognition"
SILVER_APP = f"visionlake/{SOURCE}/silver"
GOLD_APP = f"visionlake/{SOURCE}/gold"
SETTINGS_APP = f"{GOLD_APP}/settings"  # its version: a hash of the settings a gold table was computed with
KIND_OF_TABLE = {table: kind for kind, table in BRONZE_TABLES.items()}
# each kind's silver tables, quarantine first: once the last has consumed a bronze version, the others have too
SILVER_OF = {
    REQUESTS: ("quarantine", "requests"),
    "evaluations": ("quarantine", "evaluations"),
    LOADTESTS: ("quarantine", "load_test_runs", "load_test_points"),
}
PARTITIONED = {"requests"}  # by event_date; the others are small
BUILD = {  # silver table -> its rows from the classified lines (load_test_runs counts the rejected and skipped too)
    "requests": silver.build_requests,
    "evaluations": silver.build_evaluations,
    "load_test_points": silver.build_load_test_points,
    "load_test_runs": silver.build_load_test_runs,
}


class FaceRecognitionRun(SourceRun):
    SOURCE = SOURCE
    BRONZE_TABLE = BRONZE_TABLES[REQUESTS]
    SIZE_COLUMN, MTIME_COLUMN = "source_size", "source_modified_at"
    SILVER_TABLES = ("quarantine", "requests", "evaluations", "load_test_runs", "load_test_points")
    PARTIAL_FILES = True
    # A stage whose generated Java method is over 8,000 bytes of bytecode runs operator by operator (Spark's advice
    # for HotSpot, which compiles no larger method and interprets it). Bronze's stage (parse, scrub nine texts,
    # pseudonymise, hash) and silver's crossed it: 3,000,000 lines took 257 s rather than 211 s (README,
    # Benchmarks). Only here: ALPR's small runs, JIT-compiled by the quick tier, were not faster with it.
    SQL_CONF: Mapping[str, str] = {"spark.sql.codegen.hugeMethodLimit": "8000"}

    @classmethod
    def bronze_tables(cls) -> tuple[str, ...]:
        return tuple(BRONZE_TABLES[kind] for kind in KINDS)

    @staticmethod
    def input_suffix(cfg: Config) -> tuple[str, ...]:
        return cfg.face_recognition.suffixes

    @classmethod
    def pending_input(
        cls, cfg: Config, input_root: str, lake: str, full_refresh: bool, on_new: NewFiles | None = None
    ) -> Listing:
        """The new files of the three input folders; files elsewhere under the root count as skipped."""
        root = st.normalize(input_root)

        def of_kinds(files: list[FileEntry]) -> list[FileEntry]:
            return [f for f in files if kind_of(root, f.path)]

        told = None if on_new is None else lambda files: on_new(of_kinds(files))
        listing = super().pending_input(cfg, input_root, lake, full_refresh, told)
        kept = of_kinds(listing.files)
        return dataclasses.replace(listing, files=kept, skipped=listing.skipped + len(listing.files) - len(kept))

    def __init__(
        self,
        spark: SparkSession,
        cfg: Config,
        lake: str,
        full_refresh: bool,
        listing: Listing | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(spark, cfg, lake, full_refresh, listing, run_id)
        self.key = pii_key(cfg.env)  # before anything is read: other environments refuse to run without it
        gold.check_settings(cfg.face_recognition)  # and settings gold cannot use are refused before any work
        self._overwritten: set[str] = set()  # tables a full refresh has overwritten already in this run

    def stages(self, input_root: str) -> None:
        self.bronze(input_root, {BRONZE_TABLES[kind]: BRONZE[kind] for kind in KINDS})
        self.silver()
        self.check(list(gold.BUILDERS), GOLD_APP)
        self.gold()

    # ---------------------------------------------------------------------------------------------
    # bronze

    def bronze_files(self, files: list[FileEntry], root: str) -> dict[str, list[FileEntry]]:
        groups: dict[str, list[FileEntry]] = {}
        for entry in files:
            kind = kind_of(root, entry.path)
            if kind is not None:
                groups.setdefault(BRONZE_TABLES[kind], []).append(entry)
        return groups

    def bronze_rows(self, files: list[FileEntry], root: str, table: str) -> Read:
        kind = KIND_OF_TABLE[table]
        scanner = FieldScanner(LINES[kind], IGNORED[kind], IGNORED_NAMES[kind], ())
        read = read_documents(self.spark, files, self.storage, self.cfg.ingest, scanner=scanner)
        return Read(parse_lines(read.rows, kind, self.key), read.pending, read.planned)

    # ---------------------------------------------------------------------------------------------
    # silver

    def silver(self) -> None:
        record = self.stage("silver")
        found = [
            self.silver_from(
                BRONZE_TABLES[kind],
                list(SILVER_OF[kind]),
                f"{SILVER_APP}/{kind}",
                BRONZE[kind],
                partial(self._silver_batch, kind),
                record,
            )
            for kind in KINDS
        ]
        if all(f is None for f in found):
            record.status, record.message = "skipped", "no bronze table yet"
        elif not any(found):
            record.status, record.message = "skipped", "every silver table is up to date"
        record.quarantined = sum(self.summary.quarantined.values())
        self.done(record)

    def _mode(self, name: str) -> str:
        """A full refresh overwrites a table with its first write of the run (quarantine takes three)."""
        if not self.full_refresh or name in self._overwritten:
            return "append"
        self._overwritten.add(name)
        return "overwrite"

    def _earlier(self, kind: str, batch: DataFrame) -> DataFrame:
        """The usable lines of ``kind`` consumed before ``batch`` that one of it can repeat (:func:`earlier_rows`)."""
        location, keys = self.loc("bronze", BRONZE_TABLES[kind]), silver.KEYS[kind][0]
        before = earlier_rows(self.spark, location, self.storage, BRONZE[kind], batch, keys)
        return silver.classify(before, kind).where(F.col("reason").isNull())

    def _silver_batch(self, kind: str, consumed: SilverBatch, record: StageRecord) -> int:
        batch, tables, txn = consumed.rows, consumed.tables, consumed.txn
        # cached before its duplicates are marked, with the columns that find them: the window that finds them reads
        # the cache, not bronze classified again (a cold 3,000,000-line batch: silver 49.1 and 49.9 s, not 55.9 and
        # 55.6 s); the few found are broadcast and joined to the cache at each use (too many: joined once, and kept)
        keyed, level = silver.KEYS.get(kind), self.batch_cache(consumed.changes.bytes)
        also = [*keyed[0], "content_sha256", *ORDER] if keyed else []
        cached = silver.table_columns(silver.classify(batch, kind), kind, also).persist(level)
        held = [cached]
        try:
            classified = cached
            if keyed:
                earlier = self._earlier(kind, batch) if consumed.marker is not None else None
                held.append(duplicates_marked(cached, earlier, *keyed, level=level))
                classified = silver.table_columns(held[-1], kind)
            counted = classified.groupBy("reason", "skipped").agg(F.count(F.lit(1)).alias("n")).collect()
            rejected = Counter({r["reason"]: r["n"] for r in counted if r["reason"] is not None})
            skipped = sum(r["n"] for r in counted if r["skipped"])
            accepted = classified.where(F.col("reason").isNull())
            for name in tables:  # in order: the last one marks the bronze version as consumed
                if name == "quarantine":
                    df = to_quarantine(silver.quarantine_rows(classified, kind), self.summary.run_id, F.lit(self.now))
                    mode = self._mode(name)
                    rows = self.write(df, self.loc("quarantine"), mode=mode, txn=txn, known_empty=not rejected)
                    self.summary.quarantined.update(rejected)
                    self.count_out(record, f"quarantine/{SOURCE}", rows)
                    continue
                df = BUILD[name](classified if name == "load_test_runs" else accepted)
                partition_by = [PARTITION] if name in PARTITIONED else []
                rows = self.write(
                    df,
                    self.loc("silver", name),
                    partition_by=partition_by,
                    mode=self._mode(name),
                    txn=txn,
                    # a large batch of requests keeps its tasks' files per date (no shuffle); small tables: one file
                    compact=name not in PARTITIONED or self.compacted(consumed.changes.bytes),
                )
                self.count_out(record, f"silver/{name}", rows)
            if skipped:
                note = f"{skipped} k6 lines skipped (declarations and metrics not used)"
                record.message = f"{record.message}; {note}" if record.message else note
            return sum(r["n"] for r in counted)
        finally:
            for df in held:
                df.unpersist()

    # ---------------------------------------------------------------------------------------------
    # gold

    def gold(self) -> None:
        record = self.stage("gold")
        versions = {
            name: delta.version(self.loc("silver", name), self.storage)
            for name in {i for i, _ in gold.BUILDERS.values()}
        }
        pending: list[str] = []
        # the settings gold is computed with are recorded with it (a hash, as the version of one app transaction:
        # the last one committed is the table's): a table computed with others is computed again (a new latency
        # target re-judges every request), though silver did not change
        settings_txn = Txn(SETTINGS_APP, _settings_key(self.cfg.face_recognition))
        resettled: set[str] = set()
        for source_table, version in versions.items():
            if version is None:
                continue
            names = [n for n, (i, _) in gold.BUILDERS.items() if i == source_table]
            location = self.loc("silver", source_table)
            for behind in self.behind("gold", names, GOLD_APP, location, version).values():
                pending += behind
            for name in names:
                if name not in pending and self.marker(self.loc("gold", name), SETTINGS_APP) != settings_txn.version:
                    resettled.add(name)
        pending += sorted(resettled)
        if not pending:
            record.status, record.message = "skipped", "every gold table is up to date"
            self.done(record)
            return
        inputs = {gold.BUILDERS[name][0] for name in pending}
        tables = {name: delta.read_table(self.spark, self.loc("silver", name), self.storage) for name in inputs}
        settings = self.cfg.face_recognition
        also = self.silver_markers(GOLD_APP)

        def stage_one(name: str) -> Staged:
            source_table, build = gold.BUILDERS[name]
            txn = Txn(GOLD_APP, versions[source_table])
            df = build(tables[source_table], settings)
            # a table computed again for its settings alone has consumed its silver version already: its marker
            # is recorded again, not checked (the check would skip the write)
            markers = (txn, *also, settings_txn) if name in resettled else (*also, settings_txn)
            txn = None if name in resettled else txn
            return self.stage_write(df, self.loc("gold", name), mode="overwrite", txn=txn, also=markers)

        self.publish(record, concurrently(stage_one, pending))
        self.done(record)


def _settings_key(settings: FaceRecognitionSettings) -> int:
    """A hash of the settings gold is computed with (all but the input's suffixes), as a positive 60-bit number:
    the version of an app transaction."""
    used = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name != "suffixes"}
    return int(hashlib.sha256(json.dumps(used, sort_keys=True, default=repr).encode()).hexdigest()[:15], 16)


# run(spark, cfg, input_root, lake, full_refresh=False, listing=None, lease=None): one run of this source.
run = FaceRecognitionRun.run
RUN = FaceRecognitionRun
