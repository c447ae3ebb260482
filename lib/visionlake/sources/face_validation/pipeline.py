"""The face_validation run: new export files -> bronze documents -> silver api_calls (+ quarantine) -> gold.

- bronze takes export files whose path it does not hold yet, reads them in pieces
  (:mod:`visionlake.ingest.documents`), and writes each document parsed, redacted and pseudonymised
  (:mod:`.bronze`): no raw identifying value is written anywhere.
- quarantine and api_calls record, as their Delta app transaction, the bronze version they consumed, and
  take the bronze files added since; ``_id`` duplicates are judged against everything consumed before.
- gold is small (one row per call at most) and is recomputed whole whenever api_calls changed, with the
  api_calls version as its transaction.
"""

from __future__ import annotations

from collections import Counter

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from visionlake.config import Config
from visionlake.ingest.documents import read_documents
from visionlake.ingest.drift import FieldScanner
from visionlake.ingest.listing import FileEntry, Listing
from visionlake.ingest.quarantine import to_quarantine
from visionlake.ingest.reader import Read
from visionlake.lake import delta
from visionlake.lake.delta import Staged, Txn
from visionlake.lake.runlog import StageRecord
from visionlake.sources.face_validation import gold, silver
from visionlake.sources.face_validation.bronze import parse_documents
from visionlake.sources.face_validation.schema import (
    BRONZE,
    DOCUMENT,
    IGNORED,
    IGNORED_NAMES,
    JSON_TEXT,
    PARTITION,
)
from visionlake.sources.runner import SilverBatch, SourceRun, concurrently, duplicates_marked, earlier_rows
from visionlake.transforms.pseudonymise import pii_key, pseudonym_of

SOURCE = "face_validation"
SILVER_APP = f"visionlake/{SOURCE}/silver"
GOLD_APP = f"visionlake/{SOURCE}/gold"
BRONZE_TABLE = "documents"
ACCEPTED = "api_calls"
SILVER_TABLES = ("quarantine", ACCEPTED)  # api_calls last: once it has consumed a version, quarantine has too


class FaceValidationRun(SourceRun):
    SOURCE = SOURCE
    BRONZE_TABLE = BRONZE_TABLE
    SIZE_COLUMN, MTIME_COLUMN = "source_size", "source_modified_at"
    SILVER_TABLES = SILVER_TABLES
    PARTIAL_FILES = True

    @staticmethod
    def input_suffix(cfg: Config) -> tuple[str, ...]:
        return cfg.face_validation.suffixes

    @staticmethod
    def scanner() -> FieldScanner:
        return FieldScanner(DOCUMENT, IGNORED, IGNORED_NAMES, JSON_TEXT)

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

    def stages(self, input_root: str) -> None:
        self.bronze(input_root, BRONZE)
        self.silver()
        self.check(list(gold.BUILDERS), GOLD_APP)
        self.gold()

    def bronze_rows(self, files: list[FileEntry], root: str, table: str) -> Read:
        read = read_documents(self.spark, files, self.storage, self.cfg.ingest, scanner=self.scanner())
        return Read(parse_documents(read.rows, self.key), read.pending, read.planned)

    def silver(self) -> None:
        self.silver_batches(SILVER_APP, BRONZE, self._silver_batch)

    def _silver_batch(self, consumed: SilverBatch, record: StageRecord) -> int:
        batch, tables, txn = consumed.rows, consumed.tables, consumed.txn
        # Every bronze row but the batch's was consumed before (no commit since the marker removed data, or
        # changes_since would have stopped the run): _id duplicates are judged against them.
        earlier, zone = None, self.cfg.face_validation.local_timezone
        if consumed.marker is not None:
            location = self.loc("bronze", BRONZE_TABLE)
            before = earlier_rows(self.spark, location, self.storage, BRONZE, batch, silver.KEY[0])
            # in the zone in force: until Dec 6 in UTC alone, and a document the zone had put in quarantine (a
            # date in 1899 in Bogota) still held its _id, so its corrected export was a conflicting duplicate
            earlier = silver.classify(before, zone).where(F.col("reason").isNull())
        cache = self.batch_cache(consumed.changes.bytes)  # lake.heap_cache_mb, as in the other sources
        classified = duplicates_marked(silver.classify(batch, zone), earlier, *silver.KEY).persist(cache)
        try:
            reasons = Counter(
                {r["reason"]: r["n"] for r in classified.groupBy("reason").agg(F.count("*").alias("n")).collect()}
            )
            rejected = Counter({k: v for k, v in reasons.items() if k is not None})
            mode = "overwrite" if self.full_refresh else "append"
            for name in tables:  # in order: api_calls last
                if name == "quarantine":
                    df = to_quarantine(silver.quarantine_rows(classified), self.summary.run_id, F.lit(self.now))
                    rows = self.write(df, self.loc("quarantine"), mode=mode, txn=txn, known_empty=not rejected)
                    self.summary.quarantined.update(rejected)
                    self.count_out(record, f"quarantine/{SOURCE}", rows)
                else:
                    df = silver.build_api_calls(classified.where(F.col("reason").isNull()))
                    rows = self.write(df, self.loc("silver", name), partition_by=[PARTITION], mode=mode, txn=txn)
                    self.count_out(record, f"silver/{name}", rows)
            return sum(reasons.values())
        finally:
            classified.unpersist()

    def gold(self) -> None:
        record = self.stage("gold")
        calls_location = self.loc("silver", ACCEPTED)
        calls_version = delta.version(calls_location, self.storage)
        if calls_version is None:
            record.status, record.message = "skipped", "no silver api_calls yet"
            self.done(record)
            return
        pending = [
            name
            for names in self.behind("gold", list(gold.BUILDERS), GOLD_APP, calls_location, calls_version).values()
            for name in names
        ]
        if not pending:
            record.status, record.message = "skipped", "every gold table is up to date"
            self.done(record)
            return
        calls = delta.read_table(self.spark, calls_location, self.storage)
        settings = self.cfg.face_validation
        names = {pseudonym_of(guid, self.key): name for guid, name in settings.client_names.items()}
        derived = gold.with_transaction_columns(calls, settings.local_timezone, names).persist(StorageLevel.DISK_ONLY)
        txn = Txn(GOLD_APP, calls_version)
        also = self.silver_markers(GOLD_APP)

        def stage_one(name: str) -> Staged:
            return self.stage_write(
                gold.BUILDERS[name](derived), self.loc("gold", name), mode="overwrite", txn=txn, also=also
            )

        try:
            self.publish(record, concurrently(stage_one, pending))
        finally:
            derived.unpersist()
        self.done(record)


# run(spark, cfg, input_root, lake, full_refresh=False, listing=None, lease=None): one run of this source.
run = FaceValidationRun.run
RUN = FaceValidationRun
