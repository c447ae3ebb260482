"""What every source's run shares: the lease, listing new input, the bronze batch, staged writes, the quality
gate before gold, the run log, schema drift and the summary.

A run, start to end:
1. takes the source's lease in the lake (one run at a time; a killed holder is recorded as ``interrupted``);
2. **bronze**: lists the input files bronze does not hold, reads them and appends them as one batch
   (files that cannot be read now stay pending for the next run);
3. **silver**: the source's tables, from the bronze rows that commits added since each table's marker;
4. **check**: the quality checks of ``conf/quality/<source>.yaml`` over the silver rows gold has not
   consumed yet and the reconciliation of the layers; a failed ``error`` check stops the run here;
5. **gold**: every gold table is written (staged), its checks run on the staged rows, then all are committed;
6. the check results go to ``_quality/results``, new fields to ``_quality/schema_drift``, the stages to
   ``_runs`` (also when the run failed).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
from pyspark import SparkContext, StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake import faults
from visionlake.config import Config, StorageSettings
from visionlake.descriptions import table_text
from visionlake.errors import InputError, LakeError, QualityError, describe, redact
from visionlake.ingest import jsonparse
from visionlake.ingest.drift import FieldScanner
from visionlake.ingest.listing import FileEntry, Listing, NewFiles, list_input
from visionlake.ingest.quarantine import duplicate_keys, keys_present, with_duplicates_marked
from visionlake.lake import delta, reader, table_location
from visionlake.lake import storage as st
from visionlake.lake.delta import Staged, Txn
from visionlake.lake.lease import Lease
from visionlake.lake.runlog import StageRecord, append_runs, new_run_id, record_interrupted
from visionlake.quality import checks as qc
from visionlake.quality.results import Drift, append_results, record_drift
from visionlake.spark import sql_settings

R = TypeVar("R")
RUN_COLUMNS = ("run_id", "ingested_at", "ingest_date")  # the last columns of every bronze table
# Bronze rows that carry refused texts (JSON Lines, --jsonArray) are diagnosed by the task that writes them.
DIAGNOSIS = delta.Finish((jsonparse.REFUSED_TEXT,), jsonparse.diagnose_refused)
BROADCAST_ROWS = 100_000  # rows (a path, an offset, a hash: about 30 MB) a join may ship to every executor (computed)


@dataclass
class RunSummary:
    run_id: str
    files_listed: int = 0
    files_skipped: int = 0
    files_new: int = 0
    rows_out: dict[str, int] = field(default_factory=dict)
    quarantined: Counter = field(default_factory=Counter)
    stages: list[StageRecord] = field(default_factory=list)
    check: str = ""
    pending: dict[str, str] = field(default_factory=dict)  # files to read next run, and why
    changed: list[str] = field(default_factory=list)  # ingested files whose size or mtime changed since
    problems: list[str] = field(default_factory=list)  # folders that could not be listed
    checks: list[qc.CheckResult] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    waited: float = 0.0  # seconds spent waiting for another run's lease
    interrupted: list[str] = field(default_factory=list)  # runs found killed, now recorded as interrupted
    resumed: str | None = None  # the full refresh that did not end, which this run (a full refresh) completed


@dataclass
class SilverBatch:
    """What one silver batch consumes: the bronze rows committed after ``marker`` (the version the batch's
    tables consumed last; None: none yet, or a full refresh), the commits that added them, the tables to
    write and the app transaction their commits record."""

    rows: DataFrame
    changes: delta.Changes
    marker: int | None
    tables: list[str]
    txn: Txn


class SourceRun:
    """One run of one source. Subclasses set the class attributes and define :meth:`bronze_rows`,
    :meth:`silver` and :meth:`gold`."""

    SOURCE = ""
    BRONZE_TABLE = ""
    SIZE_COLUMN, MTIME_COLUMN = "size_bytes", "modified_at"  # bronze lineage compared with the listing
    SILVER_TABLES: tuple[str, ...] = ()  # written in this order by silver; "quarantine" is the quarantine table
    PARTIAL_FILES = False  # a file can give many rows, so one that failed half-way must be read again whole
    # Spark SQL settings of this source's stages, set for the run only (:func:`visionlake.spark.sql_settings`)
    SQL_CONF: Mapping[str, str] = {}

    @staticmethod
    def input_suffix(cfg: Config) -> str | tuple[str, ...]:
        return cfg.ingest.suffix

    @staticmethod
    def scanner() -> FieldScanner | None:
        """What finds fields the declared schema does not know (schema drift)."""
        return None

    @classmethod
    def bronze_tables(cls) -> tuple[str, ...]:
        """The source's bronze tables (one per input kind; most sources have one)."""
        return (cls.BRONZE_TABLE,)

    @classmethod
    def bronze_bytes(cls, cfg: Config, lake: str) -> int:
        """The size of the data files of the source's bronze tables: the most a run with no new input can have to
        do (the silver and gold of a batch a killed run left, gold computed again for new settings), which chooses
        its JIT (:func:`visionlake.spark.for_input`). Callable before any Spark session exists."""
        snapshots = (
            reader.snapshot(table_location(lake, "bronze", cls.SOURCE, t), cfg.storage) for t in cls.bronze_tables()
        )
        return sum(snap.size_bytes for snap in snapshots if snap is not None)

    @classmethod
    def pending_input(
        cls, cfg: Config, input_root: str, lake: str, full_refresh: bool, on_new: NewFiles | None = None
    ) -> Listing:
        """What the bronze stage of a run would take: callable before any Spark session exists. ``on_new``: see
        :func:`~visionlake.ingest.listing.list_input`."""
        known: dict[str, tuple[int, float]] = {}
        versions: dict[str, int] = {}
        for table in cls.bronze_tables():
            bronze = table_location(lake, "bronze", cls.SOURCE, table)
            snap = reader.snapshot(bronze, cfg.storage)
            versions[table] = -1 if snap is None else snap.version
            if snap is None or full_refresh:
                continue
            columns = ["source_path", cls.SIZE_COLUMN, cls.MTIME_COLUMN]
            lineage = reader.scan(reader.dataset(snap, cfg.storage), cfg.storage, bronze, columns)
            # past 2^53 microseconds (year 2255) a double holds them within 32 µs, well within _same's millisecond
            # (until Dec 6 pyarrow's checked cast refused them, and a file of year 2300 stopped every later run)
            micros = pc.cast(pc.cast(lineage[cls.MTIME_COLUMN], pa.timestamp("us")), pa.int64())
            seconds = pc.divide(pc.cast(micros, pa.float64(), safe=False), 1e6)
            known.update(
                zip(
                    lineage["source_path"].to_pylist(),
                    zip(lineage[cls.SIZE_COLUMN].to_pylist(), seconds.to_pylist(), strict=True),
                    strict=False,
                )
            )
        suffix = cls.input_suffix(cfg)
        return list_input(
            input_root,
            cfg.storage,
            suffix,
            cfg.ingest.read_threads,
            known=known,
            bronze_versions=versions,
            on_new=on_new,
        )

    @classmethod
    def refresh_flag(cls, lake: str) -> str:
        """Where a full refresh of the source says it has begun (its run id and input root) until it has ended."""
        return st.join(lake, "_locks", f"{cls.SOURCE}.refresh.json")

    @classmethod
    def interrupted_refresh(cls, cfg: Config, lake: str, input_root: str, full_refresh: bool) -> str | None:
        """The run id of a full refresh of the source that began and never ended (killed, or failed), which a run
        from the same input root completes (as a full refresh); None when there is none or ``full_refresh`` was
        asked for anyway. Until Dec 7 every later run failed ("version N removed data (WRITE)") until someone ran
        ``--full-refresh`` by hand.

        Raises:
            InputError: that refresh read another input root (a lake rebuilt from another day's folder would lose
                every other day).
        """
        data = None if full_refresh else st.read_bytes(cls.refresh_flag(lake), cfg.storage)
        if data is None:
            return None
        begun = json.loads(data)
        if st.normalize(begun["input"]) != st.normalize(input_root):
            raise InputError(
                f"a --full-refresh of {cls.SOURCE} from {begun['input']} (run {begun['run_id']}) did not end, and this "
                f"run reads {input_root}: finish it with --input {begun['input']} --full-refresh"
            )
        return begun["run_id"]

    @classmethod
    def lease(cls, cfg: Config, lake: str, run_id: str) -> Lease:
        """The lease a run of this source holds in ``lake`` (not taken yet)."""
        return Lease.configured(cfg, lake, cls.SOURCE, run_id)

    def __init__(
        self,
        spark: SparkSession,
        cfg: Config,
        lake: str,
        full_refresh: bool,
        listing: Listing | None = None,
        run_id: str | None = None,
    ) -> None:
        self.listing = listing  # the new input, when the caller listed it already (under the lease)
        self.spark = spark
        self.cfg = cfg
        self.storage = cfg.storage
        self.lake = lake
        self.full_refresh = full_refresh
        self.resumed: str | None = None  # the run id of an interrupted full refresh this run completes
        self.now = datetime.now(UTC)
        self.summary = RunSummary(run_id=run_id or new_run_id(self.now))
        self.writer = delta.choose_writer(cfg.lake.writer, spark)
        self.suite = qc.load_suite(self.SOURCE)
        self._clock = time.monotonic()

    # ---------------------------------------------------------------------------------------------
    # tables, stages and writes

    def loc(self, layer: str, table: str | None = None) -> str:
        if layer == "quarantine" or table == "quarantine":
            return table_location(self.lake, "quarantine", self.SOURCE)
        return table_location(self.lake, layer, self.SOURCE, table)

    def stage(self, name: str) -> StageRecord:
        record = StageRecord(stage=name, started_at=datetime.now(UTC))
        self._clock = time.monotonic()
        self.summary.stages.append(record)
        return record

    def done(self, record: StageRecord) -> None:
        record.seconds = round(time.monotonic() - self._clock, 3)
        faults.point(f"{record.stage}:done")

    def count_out(self, record: StageRecord, key: str, rows: int) -> None:
        record.rows_out[key] = record.rows_out.get(key, 0) + rows
        self.summary.rows_out[key] = self.summary.rows_out.get(key, 0) + rows

    @staticmethod
    def _label(location: str) -> str:
        parts = location.rstrip("/").split("/")
        return "/".join(parts[-2:]) if parts[-2] != "quarantine" else f"quarantine/{parts[-1]}"

    def stage_write(self, df: DataFrame, location: str, **kwargs) -> Staged:
        """Write ``df``'s data files for the table at ``location``; commit them with :meth:`commit`, which also
        puts the table's description and column comments (``visionlake/descriptions.yaml``) into its Delta log."""
        stop_point()
        staged = delta.stage(
            df, location, storage=self.storage, max_file_mb=self.cfg.lake.max_file_mb, writer=self.writer, **kwargs
        )
        root = st.normalize(self.lake)
        inside = location.startswith(root.rstrip("/") + "/")
        texts = table_text(st.relative_to(root, location).replace("/", "_")) if inside else None
        if texts is not None:
            staged.description, staged.column_comments = texts.description, texts.columns
        faults.point(f"{self._label(location)}:staged")
        return staged

    def commit(self, staged: Staged) -> int:
        stop_point()
        staged.run_id = self.summary.run_id
        rows = delta.commit(staged, self.storage).rows
        faults.point(f"{self._label(staged.location)}:committed")
        return rows

    def write(self, df: DataFrame, location: str, **kwargs) -> int:
        return self.commit(self.stage_write(df, location, **kwargs))

    def read_back(self, staged: Staged, df: DataFrame) -> DataFrame:
        """The rows of ``df`` that ``staged`` wrote, read back from its data files: a plain scan, so that what is
        built from them does not compute them again, nor plan their whole computation at every job (with cached
        steps in it, Spark took seconds per job to plan and match them). ``df`` itself when the write was
        skipped (its commit was made already) or left to delta-spark."""
        if staged.skipped or staged.deferred is not None:
            return df
        return delta.read_files(self.spark, staged.location, staged.files, staged.schema)

    def compacted(self, batch_bytes: int) -> bool:
        """Whether a write of a batch of ``batch_bytes`` of input makes one file per partition (a shuffle of its
        rows first): only a small batch, which would otherwise add a small file per task; a large one keeps its
        tasks' files, which are large enough, and saves the shuffle (3,000,000 request lines: 669 MB)."""
        return batch_bytes < self.cfg.lake.max_file_mb << 20

    def batch_cache(self, batch_bytes: int) -> StorageLevel:
        """Where silver caches a parsed batch of ``batch_bytes`` of bronze: in the heap as it is (what does not fit
        goes to disk) up to ``lake.heap_cache_mb``, on local disk past it."""
        limit = self.cfg.lake.heap_cache_mb << 20
        in_heap = limit > 0 and batch_bytes <= limit
        return StorageLevel.MEMORY_AND_DISK_DESER if in_heap else StorageLevel.DISK_ONLY

    def marker(self, location: str, app_id: str) -> int | None:
        """The version of its input a table has consumed (its Delta app transaction); None on full refresh."""
        return None if self.full_refresh else delta.transaction_version(location, app_id, self.storage)

    def behind(self, layer: str, names: list[str], app_id: str, source: str, upto: int) -> dict[int | None, list[str]]:
        """The tables of ``names`` for which commits of ``source`` (a table location) after their marker up to
        version ``upto`` added data, grouped by their marker. Commits that only compacted or checkpointed
        ``source`` add nothing; a table whose marker is behind only those is left as it is."""
        pending: dict[int | None, list[str]] = {}
        for name in names:
            marker = self.marker(self.loc(layer, name), app_id)
            if marker is not None and marker >= upto:
                continue
            if marker is not None and not delta.changes_since(source, marker, self.storage, upto).files:
                continue
            pending.setdefault(marker, []).append(name)
        return pending

    def silver_batches(
        self,
        app_id: str,
        schema: T.StructType,
        write: Callable[[SilverBatch, StageRecord], int],
        record: StageRecord | None = None,
    ) -> None:
        """Stage ``silver`` (``record``, when the source began it already): for each group of the source's silver
        tables that share a marker (the bronze version they consumed, their Delta app transaction ``app_id``),
        ``write(batch, record)`` the bronze rows committed since, and count the rows it returns as read. Tables
        that consumed every bronze commit are skipped."""
        record = record or self.stage("silver")
        found = self.silver_from(self.BRONZE_TABLE, list(self.SILVER_TABLES), app_id, schema, write, record)
        if found is None:
            record.status, record.message = "skipped", "no bronze table yet"
        elif not found:
            record.status, record.message = "skipped", "every silver table is up to date"
        record.quarantined = sum(self.summary.quarantined.values())
        self.done(record)

    def silver_from(
        self,
        bronze_table: str,
        tables: list[str],
        app_id: str,
        schema: T.StructType,
        write: Callable[[SilverBatch, StageRecord], int],
        record: StageRecord,
    ) -> bool | None:
        """``write`` the rows of ``bronze_table`` that ``tables`` have not consumed (see :meth:`silver_batches`),
        adding the rows read to ``record.rows_in``. Returns whether any table was behind (None: no bronze table)."""
        bronze_location = self.loc("bronze", bronze_table)
        bronze_version = delta.version(bronze_location, self.storage)
        if bronze_version is None:
            return None
        record.rows_in = record.rows_in or 0
        pending = self.behind("silver", tables, app_id, bronze_location, bronze_version)
        for marker, behind in pending.items():
            changes = delta.changes_since(bronze_location, marker, self.storage, bronze_version)
            rows = delta.read_files(self.spark, bronze_location, changes.files, schema)
            batch = SilverBatch(rows, changes, marker, behind, Txn(app_id, bronze_version))
            record.rows_in += write(batch, record)
        return bool(pending)

    # ---------------------------------------------------------------------------------------------
    # bronze

    def list_new(self, record: StageRecord, input_root: str) -> Listing:
        """The input files that bronze does not hold yet (all of them on a full refresh)."""
        suffix = self.input_suffix(self.cfg)
        listing = self.listing or self.pending_input(self.cfg, input_root, self.lake, self.full_refresh)
        if self.full_refresh and not listing.files:
            # it would overwrite every table with nothing: a mistyped --input (an S3 prefix of no object lists
            # nothing, as an empty folder does) once emptied the source's tables and exited 0
            raise InputError(
                f"--full-refresh found no {self.SOURCE} input file under {listing.root} ({listing.skipped} other "
                f"files skipped): it would empty every {self.SOURCE} table; nothing was written"
            )
        self.summary.files_listed, self.summary.files_skipped = listing.total, listing.skipped
        self.summary.files_new = record.files_in = len(listing.files)
        self.summary.changed, self.summary.problems = listing.changed, listing.problems
        suffixes = "/".join(suffix) if isinstance(suffix, tuple) else suffix
        record.message = (
            f"listed {listing.total} files under {listing.root}, {len(listing.files)} new, "
            f"{listing.skipped} skipped (not *{suffixes})"
        )
        if listing.changed:
            record.message += f"; {len(listing.changed)} ingested files changed since (not read again)"
        if self.resumed:
            record.message += f"; a full refresh, to complete that of run {self.resumed}, which did not end"
        faults.point("bronze:listed")
        return listing

    def bronze_rows(self, files: list[FileEntry], root: str, table: str):
        """The columns of bronze ``table`` (but the run's) for ``files``: a :class:`~visionlake.ingest.reader.Read`."""
        raise NotImplementedError

    def bronze_files(self, files: list[FileEntry], root: str) -> dict[str, list[FileEntry]]:
        """The new ``files`` each bronze table takes (a source with several input kinds splits them)."""
        return {self.BRONZE_TABLE: files}

    def ingesting(self, record: StageRecord) -> None:
        """Called as the bronze stage begins, before any input is listed: what a source records as in force when
        its files are ingested (detections: the threat rules' versions)."""

    def bronze(self, input_root: str, schemas: T.StructType | Mapping[str, T.StructType]) -> None:
        """Stage ``bronze``: the new files as the next ingest batch of the bronze table (``schemas``: its schema, or
        each bronze table's), with this run's id and time (a full refresh overwrites the tables instead). Files that
        cannot be read now are left pending."""
        record = self.stage("bronze")
        self.ingesting(record)
        listing = self.list_new(record, input_root)
        if self.full_refresh:  # from its first overwrite until its end (see interrupted_refresh)
            begun = {"run_id": self.resumed or self.summary.run_id, "input": input_root}
            st.write_bytes(self.refresh_flag(self.lake), json.dumps(begun).encode(), self.storage)
        if not listing.files and not self.full_refresh:
            self.done(record)
            return
        schemas = schemas if isinstance(schemas, Mapping) else {self.BRONZE_TABLE: schemas}
        groups = self.bronze_files(list(listing.files), listing.root)
        # the tables are written side by side (face_recognition: request logs, evaluation runs, k6 results)
        tables = [t for t in schemas if groups.get(t) or self.full_refresh]
        done: dict[str, tuple[dict[str, str], Staged, int]] = {}

        def ingest(table: str) -> None:
            done[table] = self._ingest(listing, table, schemas[table], groups.get(table, []))

        try:
            concurrently(ingest, tables)
        except BaseException:
            # the tables committed before another failed (or Ctrl-C) are not read again: their counts and new fields
            # are recorded now or never
            with contextlib.suppress(Exception):
                self._ingested(record, [t for t in tables if t in done], schemas, done)
            raise
        pending = self._ingested(record, tables, schemas, done)
        self.summary.pending = pending
        if pending:
            record.message += f"; {len(pending)} files could not be read now and stay pending for the next run"
        new = [d.field_path for d in self.summary.drift if d.new]
        if new:
            record.message += f"; new fields: {', '.join(new)}"
        self.done(record)

    def _ingested(
        self, record: StageRecord, tables: list[str], schemas: Mapping[str, T.StructType], done: Mapping[str, tuple]
    ) -> dict[str, str]:
        """Count the rows ``tables`` committed and record their new fields, in table order; returns the files left
        pending (and why)."""
        pending: dict[str, str] = {}
        for table in tables:
            left, staged, written = done[table]
            pending.update(left)
            self.count_out(record, f"bronze/{table}", written)
            if written and "new_fields" in schemas[table].fieldNames():
                carried = reader.scan(
                    staged.dataset(self.storage),
                    self.storage,
                    staged.location,
                    ["source_path", "new_fields"],
                    pc.field("new_fields").is_valid(),
                )
                self.summary.drift += record_drift(
                    self.lake, self.summary.run_id, self.SOURCE, carried, self.now, self.storage
                )
        return pending

    def _ingest(
        self, listing: Listing, table: str, schema: T.StructType, files: list[FileEntry]
    ) -> tuple[dict[str, str], Staged, int]:
        """Append ``files`` to bronze ``table`` as its next batch; returns the files left pending (and why), the
        commit and the rows it added."""
        location = self.loc("bronze", table)
        app_id = f"visionlake/{self.SOURCE}/ingest"
        batch = (delta.transaction_version(location, app_id, self.storage) or 0) + 1
        for attempt in range(3):
            read = self.bronze_rows(files, listing.root, table)
            finish = DIAGNOSIS if jsonparse.REFUSED_TEXT in read.rows.columns else None
            rows = read.rows.select(
                *[c for c in schema.fieldNames() if c not in RUN_COLUMNS],
                *(finish.consumes if finish else ()),
                F.lit(self.summary.run_id).alias("run_id"),
                F.lit(self.now).alias("ingested_at"),
                F.lit(self.now.date()).alias("ingest_date"),
            )
            staged = self.stage_write(
                rows,
                location,
                partition_by=["ingest_date"],
                txn=Txn(app_id, batch),
                mode="overwrite" if self.full_refresh else "append",
                read_version=None if self.full_refresh else listing.bronze_versions.get(table, -1),
                compact=self.compacted(sum(f.size for f in files)),
                finish=finish,
            )
            pending = dict(read.pending.value)
            partial = set(pending) - set(read.planned) if self.PARTIAL_FILES else set()
            if not partial:
                break
            # a file failed half-way while others of the batch were read: write the batch again without it
            delta.discard(staged, self.storage)
            files = [f for f in files if f.path not in partial]
            if attempt == 2:
                raise LakeError(f"files kept failing while they were read (e.g. {sorted(partial)[0]}); rerun later")
        return pending, staged, self.commit(staged)

    # ---------------------------------------------------------------------------------------------
    # the quality gate

    def _silver_scopes(self, gold_tables: list[str], gold_app: str) -> dict[str, qc.Scope]:
        """Each silver table's rows that gold has not consumed yet (all of them on a full refresh), the whole
        silver tables, and the bronze and quarantine tables as wholes (for reconciliation)."""
        scopes: dict[str, qc.Scope] = {}
        for name in self.SILVER_TABLES:
            layer = "quarantine" if name == "quarantine" else "silver"
            location = self.loc(layer, name)
            snap = reader.snapshot(location, self.storage)
            key = "quarantine" if name == "quarantine" else f"silver.{name}"
            if snap is None:
                scopes[key] = qc.Scope(None, None, 0)
                continue
            whole = reader.dataset(snap, self.storage)
            rows = None
            if name != "quarantine":
                consumed = self._consumed_by_gold(name, gold_tables, gold_app)
                changes = delta.changes_since(location, consumed, self.storage, snap.version)
                rows = reader.files_dataset(
                    location,
                    self.storage,
                    snap.schema,
                    list(snap.partition_columns),
                    changes.files,
                    changes.partitions,
                )
            scopes[key] = qc.Scope(rows, whole, snap.num_records)
        for table in self.bronze_tables():
            bronze = reader.snapshot(self.loc("bronze", table), self.storage)
            if bronze is not None:
                scopes[f"bronze.{table}"] = qc.Scope(None, reader.dataset(bronze, self.storage), bronze.num_records)
        return scopes

    def _consumed_by_gold(self, silver_table: str, gold_tables: list[str], gold_app: str) -> int | None:
        """The version of ``silver_table`` that every gold table has consumed (None: some has not, or full
        refresh): recorded by gold's commits as app transactions ``<gold app>:<silver table>``."""
        if self.full_refresh or not gold_tables:
            return None
        versions = [
            delta.transaction_version(self.loc("gold", g), f"{gold_app}:{silver_table}", self.storage)
            for g in gold_tables
        ]
        return None if any(v is None for v in versions) else min(versions)

    def silver_markers(self, gold_app: str) -> tuple[Txn, ...]:
        """The app transactions a gold commit records: the version of each silver table it was built from."""
        found = []
        for name in self.SILVER_TABLES:
            if name == "quarantine":
                continue
            version = delta.version(self.loc("silver", name), self.storage)
            if version is not None:
                found.append(Txn(f"{gold_app}:{name}", version))
        return tuple(found)

    def _gate(self, record: StageRecord, results: list[qc.CheckResult], what: str) -> None:
        self.summary.checks += results
        failed = [r for r in results if not r.passed]
        errors = [r for r in failed if r.check.level == "error"]
        reconcile = [r for r in results if r.check.kind == "reconcile"]
        if reconcile and not self.summary.check:
            self.summary.check = "; ".join(r.detail for r in reconcile)
        record.message = (
            f"{len(results)} checks, {len(failed)} failed ({len(errors)} errors)" if results else "no checks declared"
        )
        if errors:
            record.status = "failed"
            first = errors[0]
            sample = f" (e.g. {first.sample[0]})" if first.sample else f" ({first.detail})" if first.detail else ""
            more = f" and {len(errors) - 1} more" if len(errors) > 1 else ""
            raise QualityError(
                f"quality check {first.check.table} {first.check.name} failed on {first.failing_rows} rows{sample}"
                f"{more}; {what} (see _quality/results)"
            )

    def check(self, gold_tables: list[str], gold_app: str) -> None:
        """Stage ``check``: the declared checks over the silver rows gold has not consumed and the layers'
        reconciliation. A failed ``error`` check fails the run: gold is not published."""
        record = self.stage("check")
        scopes = self._silver_scopes(gold_tables, gold_app)
        tables = set(scopes)
        checks = [c for c in self.suite.for_tables(tables) if not c.table.startswith("gold.")]
        results = qc.evaluate(self.suite, checks, scopes, self.now, "run", self.storage)
        self._gate(record, results, "gold was not published")
        self.done(record)

    def publish(self, record: StageRecord, staged: dict[str, Staged]) -> None:
        """Check the staged gold rows against ``conf/quality``; if no ``error`` check fails, commit every gold
        table (otherwise nothing of gold is committed and the run fails)."""
        scopes: dict[str, qc.Scope] = {}
        for name, item in staged.items():
            if not item.skipped and item.deferred is None:
                scopes[f"gold.{name}"] = qc.Scope(item.dataset(self.storage), None)
        parents = {c.parent for c in self.suite.checks if c.table in scopes and c.parent}
        for parent in parents:
            layer, _, name = parent.partition(".")
            snap = reader.snapshot(self.loc(layer, name), self.storage)
            scopes[parent] = qc.Scope(None, None if snap is None else reader.dataset(snap, self.storage))
        checks = [c for c in self.suite.checks if c.table in scopes and c.table.startswith("gold.")]
        results = qc.evaluate(self.suite, checks, scopes, self.now, "run", self.storage)
        try:
            self._gate(record, results, "gold was not published")
        except QualityError:
            for item in staged.values():
                delta.discard(item, self.storage)
            raise
        faults.point("gold:checked")
        for name, rows in concurrently(lambda n: self.commit(staged[n]), list(staged)).items():
            self.count_out(record, f"gold/{name}", rows)

    # ---------------------------------------------------------------------------------------------

    def stages(self, input_root: str) -> None:
        raise NotImplementedError

    @classmethod
    def run(
        cls,
        spark: SparkSession,
        cfg: Config,
        input_root: str,
        lake: str,
        full_refresh: bool = False,
        listing: Listing | None = None,
        lease: Lease | None = None,
        run_id: str | None = None,
    ) -> RunSummary:
        """Run the source's pipeline once on the new files under ``input_root`` (``listing``, when given: it
        must have been made under ``lease``). Without a lease, takes one for the run.

        Raises:
            LeaseTimeoutError: another run held the lease for longer than ``lake.lease_wait_seconds``.
            QualityError: an ``error`` check failed (gold was not published).
            ConcurrentRunError: a table changed under the run (another writer); nothing of it was committed.
        """
        run_id = run_id or (lease.run_id if lease is not None else new_run_id())
        if lease is not None:
            return cls(spark, cfg, lake, full_refresh, listing, run_id).execute(input_root, lease)
        with cls.lease(cfg, lake, run_id) as held:
            return cls(spark, cfg, lake, full_refresh, listing, run_id).execute(input_root, held)

    def execute(self, input_root: str, lease: Lease | None = None) -> RunSummary:
        """Run the stages, then append their records to ``_runs`` and the check results to ``_quality``
        (also when a stage failed)."""
        if lease is not None:
            self.summary.waited = lease.waited
            for holder in lease.interrupted:
                by = self.summary.run_id
                record_interrupted(self.lake, holder.run_id, self.SOURCE, holder.since, by, self.storage)
                self.summary.interrupted.append(holder.run_id)
            lease.recorded()
        if self.listing is None:  # else the caller has listed the input, a full refresh's or not (the command line)
            self.resumed = self.summary.resumed = self.interrupted_refresh(
                self.cfg, self.lake, input_root, self.full_refresh
            )
            self.full_refresh = self.full_refresh or self.resumed is not None
        try:
            with sql_settings(self.spark, self.SQL_CONF):
                self.stages(input_root)
        except (Exception, KeyboardInterrupt) as exc:
            failed = self.summary.stages[-1] if self.summary.stages else self.stage("start")
            kept = failed.message if isinstance(exc, QualityError) else None
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C (until Dec 7 not recorded at all)
                failed.status, why = "interrupted", "stopped by Ctrl-C (SIGINT)"
            else:
                failed.status, why = "failed", redact(describe(exc, hint=False))
            failed.message = "; ".join(filter(None, [kept, why]))[:2000]
            if failed.seconds is None:
                failed.seconds = round(time.monotonic() - self._clock, 3)
            with contextlib.suppress(Exception):  # best effort: the failure may be the lake's own storage
                self._log()
            raise
        try:
            self._log()
        except Exception as exc:  # e.g. a damaged _runs or _quality/results: delta-rs cannot read its log
            raise LakeError(
                "the run committed its tables, but its record could not be written to _runs and _quality/results: "
                f"{describe(exc, hint=False)}"
            ) from exc
        if self.full_refresh:  # it has ended
            with contextlib.suppress(FileNotFoundError):
                st.delete(self.refresh_flag(self.lake), self.storage)
        return self.summary

    def _log(self) -> None:
        if self.summary.checks:
            append_results(self.lake, self.summary.run_id, self.SOURCE, self.summary.checks, self.now, self.storage)
        append_runs(self.lake, self.summary.run_id, self.SOURCE, self.summary.stages, self.storage)


def computed(df: DataFrame) -> DataFrame:
    """``df``'s rows as a broadcast table when they are at most :data:`BROADCAST_ROWS` (computed now and held by
    the driver, as the rows of a local table), else ``df`` itself, to be joined by a shuffle. For the few rows a
    large batch is joined with (its duplicates): a broadcast join reads the batch where it is, where a sort-merge
    join shuffled all of it (a cold 600,000-line face_recognition batch wrote 235 MB of shuffle to mark 600
    duplicates). Past the limit the rows are computed again by the join, which is rare (a whole export read
    twice) and still right."""
    rows = df.limit(BROADCAST_ROWS + 1).collect()
    if len(rows) > BROADCAST_ROWS:
        return df
    return F.broadcast(df.sparkSession.createDataFrame(rows, df.schema))


def duplicates_marked(
    batch: DataFrame,
    earlier: DataFrame | None,
    keys: list[str],
    name: str,
    label: str,
    level: StorageLevel | None = None,
) -> DataFrame:
    """``batch`` with its rows whose ``keys`` were seen first elsewhere marked ``duplicate_<name>`` or
    ``conflicting_duplicate_<name>`` (:func:`~visionlake.ingest.quarantine.duplicate_keys` against ``earlier``,
    :func:`~visionlake.ingest.quarantine.with_duplicates_marked`); the rows found are computed first and
    broadcast when few (:func:`computed`). When they are too many and ``level`` is given, the marked batch is
    persisted at that level (the caller unpersists it): its shuffle join is then done once, however often a caller
    that holds ``batch`` cached reads it."""
    found = duplicate_keys(batch, earlier, keys)
    shipped = computed(found)
    marked = with_duplicates_marked(batch, shipped, name, label)
    return marked.persist(level) if level is not None and shipped is found else marked


def earlier_rows(
    spark: SparkSession,
    location: str,
    storage: StorageSettings,
    schema: T.StructType,
    batch: DataFrame,
    keys: list[str],
) -> DataFrame:
    """The rows of the bronze table at ``location`` consumed before ``batch`` (every row but the batch's) that a
    duplicate of a row of ``batch`` can repeat, as :func:`duplicates_marked` takes them: the rows of the data files
    that hold a row with the ``keys`` (none null) of a row of ``batch``, found from the key columns alone. Every
    file's when ``batch`` lacks a key column (one that silver derives, a k6 sample's). Until Dec 7 every row of the
    table was read, classified and sorted again at every run: 7.4 s of a 10,000-line face_recognition increment
    on 600,000 lines, and growing with the table."""
    files = delta.snapshot_files(location, storage)
    if files and all(key in batch.columns for key in keys):
        # the path of each of the few rows found is cut to its file name, not that of every row read (the key scan
        # of 3,000,000 rows alone: 2.9 s with every path cut, 1.6 s without)
        keyed = delta.read_files(spark, location, files, schema).select(*keys, F.input_file_name().alias("_file"))
        found = keyed.join(batch.where(keys_present(keys)).select(*keys), keys, "left_semi").select("_file").distinct()
        # matched by name (Spark escapes a path as delta-rs does not; a data file's name is unique in its table)
        names = {unquote(r["_file"].rsplit("/", 1)[-1]) for r in found.collect()}
        files = [f for f in files if f.rsplit("/", 1)[-1] in names]
    rows = delta.read_files(spark, location, files, schema)
    return rows.join(batch.select("source_path", "source_offset"), ["source_path", "source_offset"], "left_anti")


@dataclass
class Rejections:
    """A silver batch's rows counted by reason (:func:`rejections`)."""

    total: int  # every row
    rejected: Counter  # reason -> rows, the refused texts counted by their diagnosis
    quarantined: DataFrame  # the rejected rows, refused texts diagnosed
    cached: list[DataFrame]  # the diagnosed rows, cached (if any): unpersist after the batch


def rejections(classified: DataFrame, text: str) -> Rejections:
    """``classified`` (rows with ``reason`` and ``detail``) counted by reason. The texts the parser refused
    (``invalid_json``, rare) are diagnosed once (:func:`~visionlake.ingest.jsonparse.with_diagnosis` of column
    ``text``, Python), cached, and both counted and quarantined from that cache: until Dec 7 ALPR and detections
    diagnosed them again for the quarantine (a 50 MB refused file: 0.6 s each time, 10 s before ``988661b``)."""
    reasons = Counter({r["reason"]: r["count"] for r in classified.groupBy("reason").count().collect()})
    rejected = Counter({k: v for k, v in reasons.items() if k is not None})
    quarantined = classified.where(F.col("reason").isNotNull())
    if not rejected[jsonparse.INVALID]:
        return Rejections(sum(reasons.values()), rejected, quarantined, [])
    invalid = F.col("reason") == jsonparse.INVALID
    diagnosed = jsonparse.with_diagnosis(classified.where(invalid), text).persist(StorageLevel.MEMORY_AND_DISK)
    del rejected[jsonparse.INVALID]
    rejected.update({r["reason"]: r["count"] for r in diagnosed.groupBy("reason").count().collect()})
    quarantined = quarantined.where(~invalid).unionByName(diagnosed)
    return Rejections(sum(reasons.values()), rejected, quarantined, [diagnosed])


class Stopped(Exception):
    """Raised at the next write or commit of a call of :func:`concurrently` once a call beside it failed or its
    caller was interrupted."""


_SIDE = threading.local()  # the calls of `concurrently` this thread makes: (stop event, Spark job tag), outermost first


def stop_point() -> None:
    """Where a call of :func:`concurrently` stops once a call beside it failed or its caller was interrupted (before
    each write and commit of a run), so that it commits nothing after."""
    if any(stop.is_set() for stop, _ in getattr(_SIDE, "calls", ())):
        raise Stopped("stopped: a call beside it failed, or the run was interrupted")


def concurrently(fn: Callable[[str], R], names: list[str], threads: int = 4) -> dict[str, R]:
    """``{name: fn(name)}``, the calls made from a few driver threads so that Spark jobs and commits overlap (one call
    is made in the calling thread).

    When a call fails, the others stop: their Spark jobs are cancelled (a job tag per call of this function) and
    they stop at their next write or commit (:func:`stop_point`); the failure (the first of the calls, in order,
    found failed) is raised once they have ended, at once unless one is busy in Python. Ctrl-C in the calling
    thread stops them the same way and is raised at once. Until Dec 7 both waited for every call to end, commits
    included."""
    if len(names) < 2:
        return {name: fn(name) for name in names}
    stop, tag = threading.Event(), f"visionlake-{uuid.uuid4().hex}"
    calls = (*getattr(_SIDE, "calls", ()), (stop, tag))
    context = SparkContext._active_spark_context  # None in calls without Spark (getActiveSession is per thread)

    def call(name: str) -> R:
        _SIDE.calls = calls
        if context is not None:  # this call's jobs, and those of any `concurrently` it is within
            for _, outer in calls:
                context.addJobTag(outer)
        stop_point()
        return fn(name)

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="visionlake")
    futures = [pool.submit(call, name) for name in names]
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            while not all(f.done() for f in futures):  # again and again: a job begun after a cancel is not cancelled
                _halt(stop, tag, context)
                wait(futures, timeout=0.2)
            raise failed[0].exception()
        return {name: f.result() for name, f in zip(names, futures, strict=True)}
    except BaseException:
        _halt(stop, tag, context)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _halt(stop: threading.Event, tag: str, context: SparkContext | None) -> None:
    stop.set()
    if context is not None:
        with contextlib.suppress(Exception):  # after Ctrl-C inside a call, the gateway may not answer
            context.cancelJobsWithTag(tag)


def record_failure(lake: str, source: str, run_id: str, exc: Exception, cfg: Config) -> None:
    """Record a run that failed before its stages began (no lease, no input), best effort: the lake may be
    what is unreachable."""
    with contextlib.suppress(Exception):
        record = StageRecord(
            "start", datetime.now(UTC), "failed", seconds=0.0, message=redact(describe(exc, hint=False))[:2000]
        )
        append_runs(lake, run_id, source, [record], cfg.storage)
