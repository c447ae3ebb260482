"""The ALPR run: new result files -> bronze -> silver (+ quarantine) -> gold, with a run log and a check.

Each stage consumes what the previous one committed and has not yet been consumed, so a run that died
part-way is completed by the next one and never appends twice:
- bronze takes input files whose path it does not hold yet;
- each silver table (and quarantine) records, as its Delta app transaction, the bronze version it has
  consumed, and takes the rows that bronze commits added since (``dataChange = true``: compaction adds
  nothing; a commit that removed data stops the run and asks for ``--full-refresh``);
- the checks of ``conf/quality/alpr.yaml`` gate gold;
- each gold table records the silver ``frames`` version it has consumed and recomputes the event dates
  of the frames rows added since (``plate_sightings``, which is not per date, is recomputed whole).
"""

from __future__ import annotations

import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

from visionlake.ingest.drift import FieldScanner
from visionlake.ingest.listing import FileEntry
from visionlake.ingest.quarantine import to_quarantine, with_copies_marked
from visionlake.ingest.reader import Read, read_files
from visionlake.lake import delta, reader
from visionlake.lake.delta import Staged, Txn
from visionlake.lake.runlog import StageRecord
from visionlake.sources.alpr import gold, silver
from visionlake.sources.alpr.quality import with_result
from visionlake.sources.alpr.schema import BRONZE, RESULT
from visionlake.sources.runner import SilverBatch, SourceRun, concurrently, rejections

SOURCE = "alpr"
SILVER_APP = "visionlake/alpr/silver"
GOLD_APP = "visionlake/alpr/gold"
# frames goes last: once it has consumed a bronze version, every other silver table has too.
SILVER_TABLES = ("quarantine", *silver.ELEMENT_TABLES, "frames")
GOLD_DATED = ["vehicles", "daily_camera_stats", "daily_processing"]
GOLD_TABLES = [*GOLD_DATED, "plate_sightings"]


class _Run(SourceRun):
    SOURCE = SOURCE
    BRONZE_TABLE = "results"
    SILVER_TABLES = SILVER_TABLES

    @staticmethod
    def scanner() -> FieldScanner:
        return FieldScanner(RESULT)

    def stages(self, input_root: str) -> None:
        self.bronze(input_root, BRONZE)
        self.silver()
        self.check(GOLD_TABLES, GOLD_APP)
        self.gold()

    def bronze_rows(self, files: list[FileEntry], root: str, table: str) -> Read:
        return read_files(self.spark, root, files, self.storage, self.cfg.ingest, self.scanner())

    # ---------------------------------------------------------------------------------------------

    def silver(self) -> None:
        self.silver_batches(SILVER_APP, BRONZE, self._silver_batch)

    def _duplicates(self, changes: delta.Changes) -> tuple[DataFrame | None, list[str]]:
        """Frames that more than one file of the batch, or a file already in silver, carry (byte-identical
        copies with the same name from the same camera): ``(frame_key, first_path)`` of them and the paths of
        the copies, which become ``duplicate_file``; the first path (in path order, or the one already in
        silver) keeps the frame. (None, []) when there are none.

        Copies have the same bytes, so the same reason: keys are compared before any parsing, on the driver,
        from three lineage columns of the batch's bronze files and silver's frame_key/source_path (read by
        the lake reader, no Spark job)."""
        bronze = self.loc("bronze", "results")
        lineage = reader.scan(
            reader.files_dataset(
                bronze, self.storage, to_arrow_schema(BRONZE), ["ingest_date"], changes.files, changes.partitions
            ),
            self.storage,
            bronze,
            ["camera_id", "source_path", "sha256"],
            pc.field("sha256").is_valid(),
        )
        batch = sorted(
            (path, silver.frame_key_of(camera, path, digest))
            for camera, path, digest in zip(*(lineage[c].to_pylist() for c in lineage.column_names), strict=True)
        )
        first: dict[str, str] = {}
        if not self.full_refresh:
            existing = delta.read_columns(self.loc("silver", "frames"), ["frame_key", "source_path"], self.storage)
            if existing is not None:
                first = dict(zip(existing["frame_key"].to_pylist(), existing["source_path"].to_pylist(), strict=True))
        seen = set(first)
        copies: list[str] = []
        found: dict[str, str] = {}
        for path, key in batch:
            if key in seen:
                if first[key] != path:
                    copies.append(path)
                    found[key] = first[key]
            else:
                seen.add(key)
                first[key] = path
        if not found:
            return None, []
        return self.spark.createDataFrame(list(found.items()), "frame_key string, first_path string"), copies

    def _silver_batch(self, batch: SilverBatch, record: StageRecord) -> int:
        bronze_rows, tables, txn = batch.rows, batch.tables, batch.txn
        duplicates, copies = self._duplicates(batch.changes)
        # The parsed batch is cached for the jobs below: only the columns they read, and the raw text only of
        # the rejected rows (quarantine keeps a prefix of it), so the cache holds no copy of the input. Where:
        # lake.heap_cache_mb (in a G1 heap, 1,000,000 parsed files filled 4 GB that Spark counted within its share).
        keep_raw = F.col("reason").isNotNull() | F.col("source_path").isin(copies)
        base = (
            bronze_rows.drop("run_id", "ingested_at", "ingest_date")
            .transform(with_result)
            .transform(silver.with_frame_key)
            .transform(silver.with_event_time)
            .select(
                "frame_key",
                "source_path",
                *silver.EVENT_COLUMNS,
                "reason",
                "detail",
                F.when(keep_raw, F.col("raw")).alias("raw"),
                "result",
            )
            .persist(self.batch_cache(batch.changes.bytes))
        )
        cached = [base]
        try:
            classified = base
            if duplicates is not None:
                classified = with_copies_marked(base, F.broadcast(duplicates), "frame_key", "camera")
            counted = rejections(classified, "raw")
            cached += counted.cached
            total, rejected, quarantined = counted.total, counted.rejected, counted.quarantined
            accepted = classified.where(F.col("reason").isNull())
            elements = silver.explode_elements(accepted)
            mode = "overwrite" if self.full_refresh else "append"

            def write_one(name: str) -> int:
                if name == "quarantine":
                    df = to_quarantine(quarantined, self.summary.run_id, F.lit(self.now))
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
            for df in cached:
                df.unpersist()

    def gold(self) -> None:
        record = self.stage("gold")
        frames_location = self.loc("silver", "frames")
        frames_version = delta.version(frames_location, self.storage)
        if frames_version is None:
            record.status, record.message = "skipped", "no silver frames yet"
            self.done(record)
            return
        txn = Txn(GOLD_APP, frames_version)
        also = self.silver_markers(GOLD_APP)
        settings = self.cfg.alpr
        pending = {
            name: marker
            for marker, names in self.behind("gold", GOLD_TABLES, GOLD_APP, frames_location, frames_version).items()
            for name in names
        }
        if not pending:
            record.status, record.message = "skipped", "every gold table is up to date"
            self.done(record)
            return

        def stage_one(name: str) -> Staged:
            location = self.loc("gold", name)
            if name == "plate_sightings":
                df = gold.build_plate_sightings(self._silver("plates", None))
                return self.stage_write(df, location, mode="overwrite", txn=txn, also=also)
            marker = pending[name]
            dates = (
                None
                if marker is None
                else delta.changes_since(frames_location, marker, self.storage, frames_version).partition_values(
                    silver.PARTITION
                )
            )
            df = self._gold_dated(name, dates, settings.low_confidence_threshold, settings.hourly_price)
            return self.stage_write(
                df,
                location,
                partition_by=[silver.PARTITION],
                mode="overwrite",
                replace_partitions=dates,
                txn=txn,
                also=also,
            )

        self.publish(record, concurrently(stage_one, list(pending)))
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


# run(spark, cfg, input_root, lake, full_refresh=False, listing=None, lease=None): one run of this source.
run = _Run.run
RUN = _Run
