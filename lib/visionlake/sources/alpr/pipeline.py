"""The ALPR run: new result files -> bronze -> silver (+ quarantine) -> gold, with a run log and a check.

Each stage consumes what the previous one committed and has not yet been consumed, so a run that died
part-way is completed by the next one and never appends twice:
- bronze takes input files whose path it does not hold yet;
- each silver table (and quarantine) records, as its Delta app transaction, the bronze version it has
  consumed, and takes the bronze files added since;
- each gold table records the silver ``frames`` version it has consumed and recomputes the event dates
  of the frames files added since (``plate_sightings``, which is not per date, is recomputed whole).
"""

from __future__ import annotations

from collections import Counter

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visionlake.ingest.quarantine import to_quarantine
from visionlake.ingest.reader import read_files
from visionlake.lake import delta
from visionlake.lake.delta import Txn
from visionlake.lake.runlog import StageRecord
from visionlake.sources.alpr import gold, silver
from visionlake.sources.alpr.quality import with_result
from visionlake.sources.alpr.schema import BRONZE
from visionlake.sources.runner import SourceRun, concurrently

SOURCE = "alpr"
SILVER_APP = "visionlake/alpr/silver"
GOLD_APP = "visionlake/alpr/gold"
# frames goes last: once it has consumed a bronze version, every other silver table has too.
SILVER_TABLES = ["quarantine", *silver.ELEMENT_TABLES, "frames"]
GOLD_DATED = ["vehicles", "daily_camera_stats", "daily_processing"]
GOLD_TABLES = [*GOLD_DATED, "plate_sightings"]


class _Run(SourceRun):
    SOURCE = SOURCE
    BRONZE_TABLE = "results"

    def stages(self, input_root: str) -> None:
        self.bronze(input_root)
        self.silver()
        self.gold()
        self.check_counts("results", "frames")

    # ---------------------------------------------------------------------------------------------

    def bronze(self, input_root: str) -> None:
        record = self.stage("bronze")
        listing = self.list_new(record, input_root)
        if listing.files or self.full_refresh:
            raw = read_files(self.spark, listing.root, listing.files, self.storage, self.cfg.ingest)
            self.write_bronze(record, raw, "results", BRONZE)
        self.done(record)

    def silver(self) -> None:
        record = self.stage("silver")
        bronze_location = self.loc("bronze", "results")
        bronze_version = delta.version(bronze_location, self.storage)
        if bronze_version is None:
            record.status, record.message = "skipped", "no bronze table yet"
            self.done(record)
            return
        pending = self.behind("silver", SILVER_TABLES, SILVER_APP, bronze_version)
        record.rows_in = 0
        for marker, tables in pending.items():
            files = delta.files_added_since(bronze_location, marker, self.storage)
            bronze_rows = delta.read_files(self.spark, bronze_location, files, BRONZE)
            record.rows_in += self._silver_batch(bronze_rows, tables, Txn(SILVER_APP, bronze_version), record)
        if not pending:
            record.status, record.message = "skipped", "every silver table is up to date"
        record.quarantined = sum(self.summary.quarantined.values())
        self.done(record)

    def _classified(self, bronze_rows: DataFrame) -> DataFrame:
        classified = (
            bronze_rows.drop("run_id", "ingested_at", "ingest_date")
            .transform(with_result)
            .transform(silver.with_frame_key)
            .transform(silver.with_event_time)
        )
        known = None if self.full_refresh else self._already_in_silver(classified)
        if known is None:
            return classified
        duplicate = F.col("reason").isNull() & F.col("first_path").isNotNull()
        return (
            classified.join(F.broadcast(known), "frame_key", "left")
            .withColumns(
                {
                    "reason": F.when(duplicate, "duplicate_file").otherwise(F.col("reason")),
                    "detail": F.when(
                        duplicate, F.concat(F.lit("same camera, name and content as "), "first_path")
                    ).otherwise(F.col("detail")),
                }
            )
            .drop("first_path")
        )

    def _already_in_silver(self, classified: DataFrame) -> DataFrame | None:
        """(frame_key, first_path) of the batch's frames that silver already holds from another file, or None.

        The keys are compared on the driver: silver's frame_key/source_path columns come from delta-rs, the
        batch's from three small bronze columns, so the common case (no duplicate) needs no join at all.
        """
        existing = delta.read_columns(self.loc("silver", "frames"), ["frame_key", "source_path"], self.storage)
        if existing is None or existing.num_rows == 0:
            return None
        first_path = dict(
            zip(existing.column("frame_key").to_pylist(), existing.column("source_path").to_pylist(), strict=True)
        )
        batch = classified.select("frame_key", "source_path").collect()
        duplicates = [(key, first_path[key]) for key, path in batch if key in first_path and first_path[key] != path]
        if not duplicates:
            return None
        return self.spark.createDataFrame(duplicates, "frame_key string, first_path string")

    def _silver_batch(self, bronze_rows: DataFrame, tables: list[str], txn: Txn, record: StageRecord) -> int:
        # The parsed batch is cached for the jobs below: only the columns they read, and the raw text only of
        # the rejected rows (quarantine keeps a prefix of it), so the cache holds no copy of the input. It is
        # cached on local disk, not in the heap: Spark keeps cached blocks as 1 MB arrays, which a 4 GB G1 heap
        # (2 MB regions) holds as humongous objects at twice their size, so a cache of 1,000,000 parsed files
        # filled the heap although Spark counted it within its share. Read back from disk costs no more here.
        rejected_raw = F.when(F.col("reason").isNotNull(), F.col("raw")).alias("raw")
        classified = (
            self._classified(bronze_rows)
            .select("frame_key", "source_path", *silver.EVENT_COLUMNS, "reason", "detail", rejected_raw, "result")
            .persist(StorageLevel.DISK_ONLY)
        )
        try:
            reasons = Counter(
                {r["reason"]: r["n"] for r in classified.groupBy("reason").agg(F.count("*").alias("n")).collect()}
            )
            total = sum(reasons.values())
            rejected = Counter({k: v for k, v in reasons.items() if k is not None})
            accepted = classified.where(F.col("reason").isNull())
            elements = silver.explode_elements(accepted)
            mode = "overwrite" if self.full_refresh else "append"

            def write_one(name: str) -> int:
                if name == "quarantine":
                    df = to_quarantine(
                        classified.where(F.col("reason").isNotNull()), self.summary.run_id, F.lit(self.now)
                    )
                    return self.write(df, self.loc("quarantine", name), mode=mode, txn=txn, known_empty=not rejected)
                df = silver.build_frames(accepted) if name == "frames" else silver.ELEMENT_TABLES[name](elements)
                return self.write(df, self.loc("silver", name), partition_by=[silver.PARTITION], mode=mode, txn=txn)

            # Tables are independent: their jobs and commits overlap. frames commits last, on its own.
            written = concurrently(write_one, [t for t in tables if t != "frames"])
            if "frames" in tables:
                written["frames"] = write_one("frames")
            if "quarantine" in tables:
                self.summary.quarantined.update(rejected)
            for name, rows in written.items():
                key = f"quarantine/{SOURCE}" if name == "quarantine" else f"silver/{name}"
                self.count_out(record, key, rows)
            return total
        finally:
            classified.unpersist()

    def gold(self) -> None:
        record = self.stage("gold")
        frames_location = self.loc("silver", "frames")
        frames_version = delta.version(frames_location, self.storage)
        if frames_version is None:
            record.status, record.message = "skipped", "no silver frames yet"
            self.done(record)
            return
        txn = Txn(GOLD_APP, frames_version)
        settings = self.cfg.alpr
        record.status, record.message = "skipped", "every gold table is up to date"
        pending = {
            name: marker
            for marker, names in self.behind("gold", GOLD_TABLES, GOLD_APP, frames_version).items()
            for name in names
        }

        def write_one(name: str) -> int:
            location = self.loc("gold", name)
            if name == "plate_sightings":
                return self.write(
                    gold.build_plate_sightings(self._silver("plates", None)), location, mode="overwrite", txn=txn
                )
            marker = pending[name]
            dates = (
                None
                if marker is None
                else delta.partitions_added_since(frames_location, marker, silver.PARTITION, self.storage)
            )
            df = self._gold_dated(name, dates, settings.low_confidence_threshold, settings.hourly_price)
            return self.write(
                df, location, partition_by=[silver.PARTITION], mode="overwrite", replace_partitions=dates, txn=txn
            )

        if pending:
            record.status, record.message = "ok", None
        for name, rows in concurrently(write_one, list(pending)).items():
            self.count_out(record, f"gold/{name}", rows)
        self.done(record)

    def _silver(self, name: str, dates: list[str] | None) -> DataFrame:
        filters = None if dates is None else [(silver.PARTITION, "in", dates)]
        return delta.read_table(self.spark, self.loc("silver", name), self.storage, filters)

    def _gold_dated(self, name: str, dates: list[str] | None, threshold: float, hourly_price: float) -> DataFrame:
        if name == "vehicles":
            return gold.build_vehicles(
                *[
                    self._silver(t, dates)
                    for t in ("plates", "cars", "car_colors", "car_makes", "car_body_styles", "plate_countries")
                ]
            )
        if name == "daily_camera_stats":
            return gold.build_daily_camera_stats(
                self._silver("frames", dates), self._silver("plates", dates), self._silver("cars", dates), threshold
            )
        return gold.build_daily_processing(self._silver("frames", dates), hourly_price)


# run(spark, cfg, input_root, lake, full_refresh=False, listing=None): one run of this source.
run = _Run.run
RUN = _Run
