"""What every source's run shares: table locations, writes, stage records, the run log and the final check."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.config import Config
from visionlake.errors import ReconciliationError
from visionlake.ingest.listing import Listing, list_input
from visionlake.lake import delta, table_location
from visionlake.lake.delta import Txn
from visionlake.lake.runlog import StageRecord, append_runs, new_run_id

RUN_COLUMNS = ("run_id", "ingested_at", "ingest_date")  # the last columns of every bronze table


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


def new_input(cfg: Config, bronze: str, input_root: str, suffix: str | tuple[str, ...], full_refresh: bool) -> Listing:
    """The input files that the ``bronze`` table does not hold yet (all of them on a full refresh); no Spark."""
    known = [] if full_refresh else delta.column_values(bronze, "source_path", cfg.storage)
    return list_input(input_root, cfg.storage, suffix, cfg.ingest.read_threads, known=frozenset(known))


class SourceRun:
    """One run of one source. Subclasses define ``SOURCE``, ``BRONZE_TABLE``, :meth:`input_suffix` and the
    stages; :meth:`execute` runs them."""

    SOURCE = ""
    BRONZE_TABLE = ""

    @staticmethod
    def input_suffix(cfg: Config) -> str | tuple[str, ...]:
        return cfg.ingest.suffix

    @classmethod
    def pending_input(cls, cfg: Config, input_root: str, lake: str, full_refresh: bool) -> Listing:
        """What the bronze stage of a run would take: callable before any Spark session exists."""
        bronze = table_location(lake, "bronze", cls.SOURCE, cls.BRONZE_TABLE)
        return new_input(cfg, bronze, input_root, cls.input_suffix(cfg), full_refresh)

    def __init__(
        self, spark: SparkSession, cfg: Config, lake: str, full_refresh: bool, listing: Listing | None = None
    ) -> None:
        self.listing = listing  # the new input, when the caller listed it already
        self.spark = spark
        self.cfg = cfg
        self.storage = cfg.storage
        self.lake = lake
        self.full_refresh = full_refresh
        self.now = datetime.now(UTC)
        self.summary = RunSummary(run_id=new_run_id(self.now))
        self.writer = delta.choose_writer(cfg.lake.writer, spark)
        self._clock = time.monotonic()

    def loc(self, layer: str, table: str | None = None) -> str:
        if layer == "quarantine" or table == "quarantine":
            return table_location(self.lake, "quarantine", self.SOURCE)
        return table_location(self.lake, layer, self.SOURCE, table)

    def write(self, df: DataFrame, location: str, **kwargs) -> int:
        result = delta.write_table(
            df, location, storage=self.storage, max_file_mb=self.cfg.lake.max_file_mb, writer=self.writer, **kwargs
        )
        return result.rows

    def stage(self, name: str) -> StageRecord:
        record = StageRecord(stage=name, started_at=datetime.now(UTC))
        self._clock = time.monotonic()
        self.summary.stages.append(record)
        return record

    def done(self, record: StageRecord) -> None:
        record.seconds = round(time.monotonic() - self._clock, 3)

    def count_out(self, record: StageRecord, key: str, rows: int) -> None:
        record.rows_out[key] = record.rows_out.get(key, 0) + rows
        self.summary.rows_out[key] = self.summary.rows_out.get(key, 0) + rows

    def marker(self, location: str, app_id: str) -> int | None:
        """The version of its input a table has consumed (its Delta app transaction); None on full refresh."""
        return None if self.full_refresh else delta.transaction_version(location, app_id, self.storage)

    def list_new(self, record: StageRecord, input_root: str) -> Listing:
        """The input files that bronze does not hold yet (all of them on a full refresh)."""
        suffix = self.input_suffix(self.cfg)
        listing = self.listing or self.pending_input(self.cfg, input_root, self.lake, self.full_refresh)
        self.summary.files_listed, self.summary.files_skipped = listing.total, listing.skipped
        self.summary.files_new = record.files_in = len(listing.files)
        suffixes = "/".join(suffix) if isinstance(suffix, tuple) else suffix
        record.message = (
            f"listed {listing.total} files under {listing.root}, {len(listing.files)} new, "
            f"{listing.skipped} skipped (not *{suffixes})"
        )
        return listing

    def write_bronze(self, record: StageRecord, rows: DataFrame, table: str, schema: T.StructType) -> None:
        """Append ``rows`` (the bronze columns but the run's) to bronze ``table`` as the next ingest batch,
        with this run's id and time; a full refresh overwrites the table instead."""
        location = self.loc("bronze", table)
        app_id = f"visionlake/{self.SOURCE}/ingest"
        rows = rows.select(
            *[c for c in schema.fieldNames() if c not in RUN_COLUMNS],
            F.lit(self.summary.run_id).alias("run_id"),
            F.lit(self.now).alias("ingested_at"),
            F.lit(self.now.date()).alias("ingest_date"),
        )
        batch = (delta.transaction_version(location, app_id, self.storage) or 0) + 1
        mode = "overwrite" if self.full_refresh else "append"
        written = self.write(rows, location, partition_by=["ingest_date"], txn=Txn(app_id, batch), mode=mode)
        self.count_out(record, f"bronze/{table}", written)

    def behind(self, layer: str, names: list[str], app_id: str, version: int) -> dict[int | None, list[str]]:
        """The tables of ``names`` whose marker is older than ``version``, grouped by their marker."""
        pending: dict[int | None, list[str]] = {}
        for name in names:
            marker = self.marker(self.loc(layer, name), app_id)
            if marker is None or marker < version:
                pending.setdefault(marker, []).append(name)
        return pending

    def check_counts(self, bronze: str, accepted: str) -> None:
        """Stage ``check``: every bronze row is either in the ``accepted`` silver table or quarantined."""
        record = self.stage("check")
        bronze_rows = delta.row_count(self.loc("bronze", bronze), self.storage)
        accepted_rows = delta.row_count(self.loc("silver", accepted), self.storage)
        quarantined = delta.row_count(self.loc("quarantine"), self.storage)
        record.rows_in = bronze_rows
        record.rows_out = {f"silver/{accepted}": accepted_rows, f"quarantine/{self.SOURCE}": quarantined}
        record.message = f"bronze {bronze_rows} = silver {accepted} {accepted_rows} + quarantined {quarantined}"
        if bronze_rows != accepted_rows + quarantined:
            record.status = "failed"
            record.message = record.message.replace(" = ", " != ")
        self.summary.check = record.message
        self.done(record)

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
    ) -> RunSummary:
        """Run the source's pipeline once on the new files under ``input_root`` (``listing``, when given).

        Raises:
            ReconciliationError: bronze rows are not all accounted for by silver and quarantine.
        """
        return cls(spark, cfg, lake, full_refresh, listing).execute(input_root)

    def execute(self, input_root: str) -> RunSummary:
        """Run the stages, then append their records to ``_runs`` (also when a stage failed).

        Raises:
            ReconciliationError: the final check found bronze rows that are not accounted for.
        """
        try:
            self.stages(input_root)
        except Exception as exc:
            failed = self.summary.stages[-1] if self.summary.stages else self.stage("start")
            failed.status, failed.message = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            if failed.seconds is None:
                self.done(failed)
            append_runs(self.lake, self.summary.run_id, self.SOURCE, self.summary.stages, self.storage)
            raise
        append_runs(self.lake, self.summary.run_id, self.SOURCE, self.summary.stages, self.storage)
        if self.summary.stages and self.summary.stages[-1].status == "failed":
            raise ReconciliationError(self.summary.check)
        return self.summary


def concurrently(fn: Callable[[str], int], names: list[str], threads: int = 4) -> dict[str, int]:
    """``{name: fn(name)}``, the calls made from a few driver threads so that Spark jobs and commits overlap."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return dict(zip(names, pool.map(fn, names), strict=True))
