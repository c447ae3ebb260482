"""The detections run: new frame files -> bronze -> silver (frames, invalid images, objects, quarantine) -> gold
(alerts, suppressed matches, reports), with the threat rules versioned in silver.

- The rules file is read first: a bad file stops the run before any table is touched. Its content goes to
  ``silver/detections/rules`` as a slowly changing table (a new version only when a rule changed), as the
  bronze stage begins: the versions in force when the frames are ingested.
- bronze and silver work as ALPR's (see :mod:`visionlake.sources.alpr.pipeline`): each silver table records
  the bronze version it consumed, so a killed run is completed by the next and never appends twice.
  ``bronze = silver frames + silver invalid_images + quarantine`` is checked every run.
- silver ``rule_matches``: each batch's objects (read back from the files just written) matched against the
  rule versions (the version in force when the frame was ingested), so gold never rereads every object.
- gold ``match_decisions`` holds every match's decision and episode. On a new lake or a full refresh every match
  is decided; otherwise only the new rule_matches and, per user, device and rule they touch, the episodes from
  the stored one the first new match can join (:func:`episodes.redecide`), replacing the local dates that
  changed: what deciding the whole history gives, so the same input always gives the same episodes and alert
  ids, an episode that continues in a later run extends its alert, and a late frame joins its episode.
- gold ``alerts``, ``suppressed_matches`` and ``daily_threat_report``: when match_decisions replaced some local
  dates, their stored rows less those of the episodes and dates decided again, plus those aggregated again from
  the new decisions; on a new lake, a full refresh or after a run killed between gold's commits, aggregated from
  every decision. ``device_health`` computes again only the UTC dates that got frames (and the later ones),
  keeping the others' rows with their silence after a camera's last frame measured again; ``threats_by_user``
  sums it. ``detections_daily`` replaces only the dates that got new objects. Each is what aggregating the
  whole history gives.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.ingest import jsonparse
from visionlake.ingest.drift import FieldScanner
from visionlake.ingest.listing import FileEntry
from visionlake.ingest.quarantine import to_quarantine, with_copies_marked
from visionlake.ingest.reader import Read, read_files
from visionlake.lake import delta
from visionlake.lake.delta import Staged, Txn
from visionlake.lake.runlog import StageRecord
from visionlake.sources.detections import episodes, gold, rules, silver
from visionlake.sources.detections.schema import BRONZE, FRAME, REQUIRED_FIELDS
from visionlake.sources.runner import SilverBatch, SourceRun, concurrently, rejections
from visionlake.transforms.keys import file_key

SOURCE = "detections"
SILVER_APP = "visionlake/detections/silver"
GOLD_APP = "visionlake/detections/gold"
# frames goes last: once it has consumed a bronze version, every other silver table has too.
SILVER_TABLES = ("quarantine", "objects", "rule_matches", "invalid_images", "frames")
GOLD_DERIVED = ["alerts", "suppressed_matches", "daily_threat_report", "threats_by_user", "device_health"]
# staged together whenever a gold table is behind: match_decisions (replaced by local date) and what derives from it
GOLD_WHOLE = ["match_decisions", *GOLD_DERIVED]
GOLD_TABLES = [*GOLD_WHOLE, "detections_daily"]
FIRSTS = T.StructType([silver.FRAMES[c] for c in ("frame_key", "source_path")])  # what a copy is looked up in
PARTITION = "event_date"
LOCAL_DATE = "local_date"


class _Run(SourceRun):
    SOURCE = SOURCE
    BRONZE_TABLE = "frames_raw"
    SILVER_TABLES = SILVER_TABLES

    @staticmethod
    def scanner() -> FieldScanner:
        return FieldScanner(FRAME)

    def stages(self, input_root: str) -> None:
        self.rules = rules.load_rules(self.cfg.rules_path())
        self.bronze(input_root, BRONZE)
        self.silver()
        self.check(GOLD_TABLES, GOLD_APP)
        self.gold()

    def bronze_rows(self, files: list[FileEntry], root: str, table: str) -> Read:
        read = read_files(self.spark, root, files, self.storage, self.cfg.ingest, self.scanner())
        return dataclasses.replace(read, rows=read.rows.withColumnRenamed("camera_id", "folder"))

    # ---------------------------------------------------------------------------------------------

    def _version_rules(self, record: StageRecord) -> None:
        """Write the rules file's content to ``silver/rules`` when it differs from the current versions."""
        location = self.loc("silver", "rules")
        rows = rules.plan_versions(self.rules, self._rule_rows(), self.now)
        if rows is None:
            return
        df = self.spark.createDataFrame(rows, rules.RULES_TABLE_SCHEMA)
        self.count_out(record, "silver/rules", self.write(df, location, mode="overwrite"))

    def _rule_rows(self) -> list[dict]:
        """The rows of silver ``rules`` (every version; none on a new lake)."""
        columns = list(rules.RULES_TABLE_SCHEMA.fieldNames())
        found = delta.read_columns(self.loc("silver", "rules"), columns, self.storage)
        return [] if found is None else found.to_pylist()

    def ingesting(self, record: StageRecord) -> None:
        # before any frame is ingested: a frame is matched against the version in force at its ingestion, and a
        # run killed after bronze must not leave frames older than every version
        self._version_rules(record)

    def silver(self) -> None:
        record = self.stage("silver")
        # every version: a frame is matched against the version in force when it was ingested
        self.rule_frame = rules.rules_frame(self.spark, self._rule_rows())
        self.silver_batches(SILVER_APP, BRONZE, self._silver_batch, record)

    def _mark_copies(self, parsed: DataFrame) -> DataFrame:
        """``parsed`` with the reason ``duplicate_file`` on every byte-identical copy, with the same folder and name,
        of a frame silver already holds from another file (read from another input root): quarantined, so that a
        frame is counted once. The same file is no copy: a run killed between two silver tables' commits left its
        frames in one of them.

        A copy has the same content and name, so the same capture time and UTC date: only the silver frames of
        those dates are read, unless a frame's time fell back to its file's modification time (a copy's may
        differ), then every frame. Nothing is read (nor joined) on a full refresh, a new lake or new dates."""
        if self.full_refresh:
            return parsed
        opened = {n: delta.open_table(self.loc("silver", n), self.storage) for n in ("frames", "invalid_images")}
        tables = {n: table for n, table in opened.items() if table is not None}
        if not tables:
            return parsed
        fell_back = ~F.col("_time_given") & ~F.col("captured_at").eqNullSafe(F.col("_name_time"))
        found = parsed.where(F.col("reason").isNull()).select(PARTITION, fell_back.alias("fell_back")).distinct()
        rows = found.collect()
        if not rows:
            return parsed
        dates = None if any(r["fell_back"] for r in rows) else sorted({r[PARTITION].isoformat() for r in rows})
        filters = None if dates is None else [(PARTITION, "in", dates)]
        files = {n: delta.table_files(table, filters) for n, table in tables.items()}
        known = [
            delta.read_files(self.spark, self.loc("silver", n), paths, FIRSTS).withColumnRenamed(
                "source_path", "first_path"
            )
            for n, paths in files.items()
            if paths
        ]
        if not known:  # silver holds no frame of those dates (a new day): nothing to join with
            return parsed
        return with_copies_marked(
            parsed, known[0] if len(known) == 1 else known[0].unionByName(known[1]), "frame_key", "folder"
        )

    def _silver_batch(self, batch: SilverBatch, record: StageRecord) -> int:
        bronze_rows, tables, txn = batch.rows, batch.tables, batch.txn
        settings = self.cfg.detections
        # parsed, timed and validated once and cached (the raw text only of rejected files; lake.heap_cache_mb): every
        # table and count reads it; the capture date finds the frames a copy could repeat
        parsed = (
            bronze_rows.withColumn("frame_key", file_key(F.col("folder"), F.col("source_path"), F.col("sha256")))
            .transform(lambda df: jsonparse.classify(df, FRAME, REQUIRED_FIELDS, "raw", "frame"))
            .transform(silver.with_detections_checked)
            .select(
                "frame_key",
                "source_path",
                "folder",
                "modified_at",
                "ingested_at",
                "reason",
                "detail",
                F.when(F.col("reason").isNotNull(), F.col("raw")).alias("raw"),
                "frame",
            )
            .transform(lambda df: silver.with_capture_time(df, settings.site_time_zones))
            .transform(lambda df: silver.with_validation(df, settings.validation))
            .persist(self.batch_cache(batch.changes.bytes))
        )
        cached = [parsed]
        try:
            base = self._mark_copies(parsed)
            if base is not parsed:  # joined with the frames silver holds: once, not once per table
                base = base.persist(self.batch_cache(batch.changes.bytes))
                cached.append(base)
            counted = rejections(base, "raw")
            cached += counted.cached
            total, rejected, quarantined = counted.total, counted.rejected, counted.quarantined
            accepted = base.where(F.col("reason").isNull())
            mode = "overwrite" if self.full_refresh else "append"
            min_score, written = settings.min_score, {}
            objects = silver.build_objects(accepted, min_score)
            if "objects" in tables:
                staged = self.stage_write(
                    objects, self.loc("silver", "objects"), partition_by=[PARTITION], mode=mode, txn=txn
                )
                written["objects"] = self.commit(staged)
                objects = self.read_back(staged, objects)  # rule_matches need not explode the frames again
            builders = {
                "frames": lambda: silver.build_frames(accepted, min_score),
                "invalid_images": lambda: silver.build_invalid_images(accepted, min_score),
                "rule_matches": lambda: episodes.find_matches(objects, self.rule_frame),
            }

            def write_one(name: str) -> int:
                if name == "quarantine":
                    df = to_quarantine(quarantined, self.summary.run_id, F.lit(self.now))
                    return self.write(df, self.loc("quarantine", name), mode=mode, txn=txn, known_empty=not rejected)
                return self.write(
                    builders[name](), self.loc("silver", name), partition_by=[PARTITION], mode=mode, txn=txn
                )

            written |= concurrently(write_one, [t for t in tables if t not in ("objects", "frames")])
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

    # ---------------------------------------------------------------------------------------------

    def gold(self) -> None:
        record = self.stage("gold")
        frames_location = self.loc("silver", "frames")
        frames_version = delta.version(frames_location, self.storage)
        if frames_version is None:
            record.status, record.message = "skipped", "no silver frames yet"
            self.done(record)
            return
        behind = self.behind("gold", GOLD_TABLES, GOLD_APP, frames_location, frames_version)
        pending = {name for names in behind.values() for name in names}
        if not pending and not self._invalid_images_since_gold():
            record.status, record.message = "skipped", "every gold table is up to date"
            self.done(record)
            return
        txn = Txn(GOLD_APP, frames_version)
        also = self.silver_markers(GOLD_APP)
        cached: list[DataFrame] = []
        try:
            # device_health and detections_daily need no match decision: they are computed beside the decisions,
            # whose small jobs and planning leave a core idle
            work = {
                "decisions": lambda: self._decisions(txn, also),
                "undecided": lambda: self._undecided("detections_daily" in pending, txn, also, cached),
            }
            found = concurrently(lambda name: work[name](), list(work))
            decisions, (health, daily) = found["decisions"], found["undecided"]
            cached += decisions.cached
            alerts, suppressed, report = self._from_decisions(decisions)
            derived = {
                "alerts": alerts,
                "suppressed_matches": suppressed,
                "daily_threat_report": report,
                "threats_by_user": gold.build_threats_by_user(health, decisions.rows),
                "device_health": health,
            }

            def stage_one(name: str) -> Staged:
                if name == "match_decisions":
                    return decisions.staged
                return self.stage_write(derived[name], self.loc("gold", name), mode="overwrite", txn=txn, also=also)

            # the whole tables are recomputed together when any gold table is behind: they agree with one another
            staged = concurrently(stage_one, GOLD_WHOLE)
            self.publish(record, staged | ({"detections_daily": daily} if daily is not None else {}))
        finally:
            for df in cached:
                df.unpersist()
        self.done(record)

    def _undecided(
        self, daily: bool, txn: Txn, also: tuple[Txn, ...], cached: list[DataFrame]
    ) -> tuple[DataFrame, Staged | None]:
        """gold device_health's rows (cached, and added to ``cached``) and, when ``daily``, detections_daily
        staged: the dates that got new objects (every date on a new lake or a full refresh)."""
        health = self._device_health().persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(health)
        if not daily:
            return health, None
        changed = self._dates_since("detections_daily", ("frames",))
        dates = None if changed is None else sorted(changed)
        staged = self.stage_write(
            gold.build_detections_daily(self._silver("objects", dates)),
            self.loc("gold", "detections_daily"),
            partition_by=[PARTITION],
            mode="overwrite",
            replace_partitions=dates,
            txn=txn,
            also=also,
        )
        return health, staged

    def _decisions(self, txn: Txn, also: tuple[Txn, ...]) -> _Decisions:
        """gold match_decisions, staged, and every decision after it: decided from scratch on a new lake, a full
        refresh or a history under ``detections.redecide_from_rows``; otherwise only the new rule_matches and, per
        key they touch, the episodes from the one they can join (:func:`episodes.redecide`), replacing the local
        dates that changed."""
        location, source = self.loc("gold", "match_decisions"), self.loc("silver", "rule_matches")
        gap = self.cfg.detections.episode_gap_seconds
        rule_frame = self.rule_frame  # every version, as silver read it after versioning the rules file
        consumed = self.marker(location, f"{GOLD_APP}:rule_matches")
        upto = delta.version(source, self.storage)
        # a small history is decided again whole: fewer Spark jobs than finding what the new matches touch
        if consumed is None or delta.row_count(location, self.storage) < self.cfg.detections.redecide_from_rows:
            matches = episodes.with_rule_terms(self._silver("rule_matches", None), rule_frame)
            # the matches are read twice by decide (its cooldown fold is joined back)
            matches = matches.persist(StorageLevel.MEMORY_AND_DISK)
            decided = episodes.decide(matches, gap)
            staged = self.stage_write(
                decided, location, partition_by=[LOCAL_DATE], mode="overwrite", txn=txn, also=also
            )
            return _Decisions(self.read_back(staged, decided), staged, [matches], consumed)
        stored = delta.read_table(self.spark, location, self.storage)
        changes = delta.changes_since(source, consumed, self.storage, upto)
        # the steps' results are checkpointed (computed once, kept by the executors, the plan cut): each step's
        # plan would otherwise hold every step before it, and Spark plans and matches it again at every job
        new = None
        if changes.files:
            new = episodes.with_rule_terms(
                delta.read_files(self.spark, source, changes.files, episodes.RULE_MATCHES), rule_frame
            ).localCheckpoint()
        first_new = None if new is None else _utc(new.agg(F.unix_micros(F.min("captured_at"))).first()[0])
        if first_new is None:
            # nothing new to decide: the stored decisions stand; the commit only records what gold consumed
            staged = self.stage_write(stored.limit(0), location, mode="append", txn=txn, also=also, known_empty=True)
            return _Decisions(stored, staged, [], consumed, dates=[])
        # A new match joins a stored episode only when the episode's last match is at most the gap before it, and
        # the alert whose cooldown reaches a window lies at most the longest cooldown before the window's start:
        # the stored decisions from `bound` on suffice, unless an episode joined began before bound + cooldown
        # (a parked car matched for hours); then every stored decision is read. The local dates read start a
        # day early: a site's local date may lag its UTC date.
        cooldown = timedelta(minutes=rule_frame.agg(F.max("cooldown_minutes")).first()[0] or 0)
        bound = first_new - timedelta(seconds=gap) - cooldown
        recent = delta.read_table(
            self.spark, location, self.storage, [(LOCAL_DATE, ">=", (bound.date() - timedelta(days=1)).isoformat())]
        )
        starts = episodes.window_starts(recent, new, gap).localCheckpoint()
        earliest = _utc(starts.agg(F.unix_micros(F.min("window_from"))).first()[0])
        if earliest is not None and earliest - cooldown < bound:
            starts = episodes.window_starts(stored, new, gap).localCheckpoint()
            earliest = _utc(starts.agg(F.unix_micros(F.min("window_from"))).first()[0])
        # the history a window can reach: the UTC dates from the earliest window on (none: only the new matches)
        history = (
            new
            if earliest is None
            else episodes.with_rule_terms(self._silver_from("rule_matches", earliest.date().isoformat()), rule_frame)
        )
        window = episodes.window_matches(history, new, starts).localCheckpoint()
        dates = sorted(r[0].isoformat() for r in window.select(episodes.site_local_date()).distinct().collect())
        # only the stored decisions of the local dates the window touches are read again
        touched = delta.read_table(self.spark, location, self.storage, [(LOCAL_DATE, "in", dates)])
        redecided = episodes.redecide(touched, window, starts, gap)
        staged = self.stage_write(
            redecided,
            location,
            partition_by=[LOCAL_DATE],
            mode="overwrite",
            replace_partitions=dates,
            txn=txn,
            also=also,
        )
        untouched = delta.read_table(self.spark, location, self.storage, [(LOCAL_DATE, "not in", dates)])
        changed = self.read_back(staged, redecided)
        rows = untouched.unionByName(changed) if untouched is not None else changed
        return _Decisions(rows, staged, [], consumed, dates, changed, starts)

    def _from_decisions(self, decisions: _Decisions) -> tuple[DataFrame, DataFrame, DataFrame]:
        """gold alerts, suppressed_matches and daily_threat_report. When only some local dates were decided again
        and the three tables had consumed what match_decisions had: their stored rows, less those of the
        episodes and local dates decided again, and the rows of those (:func:`episodes.replace_alerts`,
        :func:`gold.replace_dates`); otherwise (a new lake, a full refresh, a run killed between gold's commits)
        aggregated from every decision."""
        names = ("alerts", "suppressed_matches", "daily_threat_report")
        in_step = decisions.dates is not None and all(
            self.marker(self.loc("gold", n), f"{GOLD_APP}:rule_matches") == decisions.consumed for n in names
        )
        stored = {n: delta.read_table(self.spark, self.loc("gold", n), self.storage) for n in names if in_step}
        if not in_step or None in stored.values():
            rows = decisions.rows
            return (
                episodes.build_alerts(rows),
                episodes.build_suppressed(rows),
                gold.build_daily_threat_report(rows),
            )
        dates = [date.fromisoformat(d) for d in decisions.dates]
        if decisions.changed is None:  # nothing decided again: the stored rows stand
            return stored["alerts"], stored["suppressed_matches"], stored["daily_threat_report"]
        changed = decisions.changed
        return (
            episodes.replace_alerts(stored["alerts"], changed, decisions.starts),
            gold.replace_dates(stored["suppressed_matches"], episodes.build_suppressed(changed), LOCAL_DATE, dates),
            gold.replace_dates(
                stored["daily_threat_report"], gold.build_daily_threat_report(changed), LOCAL_DATE, dates
            ),
        )

    def _device_health(self) -> DataFrame:
        """gold device_health: only the UTC dates that the frames and invalid images added since its last commit
        change (:func:`gold.health_dates`) are computed again from them; the stored rows of the other dates are
        kept, their silence after a camera's last frame measured again (:func:`gold.refresh_kept`). Every
        date on a new lake, a full refresh or a table of an older layout."""
        settings = self.cfg.detections
        location = self.loc("gold", "device_health")
        changed = self._dates_since("device_health", ("frames", "invalid_images"))
        stored = None if changed is None else delta.read_table(self.spark, location, self.storage)
        dates, kept = None, None
        if stored is not None and "longest_gap_minutes" in stored.columns:
            days = delta.read_columns(location, [PARTITION], self.storage).column(PARTITION).to_pylist()
            dates = [d.isoformat() for d in gold.health_dates(days, [date.fromisoformat(d) for d in changed])]
            kept = stored.where(~F.col(PARTITION).isin([date.fromisoformat(d) for d in dates]))
            if not dates:  # no frame: the stored rows, with the flags of the settings now in force
                return gold.refresh_kept(
                    kept, kept.limit(0), settings.silence_alert_minutes, settings.invalid_alert_share
                )
        fresh = gold.build_device_health(
            self._silver("frames", dates),
            self._silver("invalid_images", dates),
            settings.silence_alert_minutes,
            settings.invalid_alert_share,
            kept,
        )
        if kept is None:
            return fresh
        fresh = fresh.localCheckpoint()  # read twice: the kept rows' silences are measured against it
        refreshed = gold.refresh_kept(kept, fresh, settings.silence_alert_minutes, settings.invalid_alert_share)
        return refreshed.unionByName(fresh)

    def _dates_since(self, table: str, sources: tuple[str, ...]) -> set[str] | None:
        """The UTC dates (``event_date`` partitions) of the silver ``sources`` that got rows since gold ``table``
        consumed them (its ``<gold app>:<source>`` markers); None when it consumed none (a new table, a full
        refresh): every date."""
        dates: set[str] = set()
        for name in sources:
            source = self.loc("silver", name)
            version = delta.version(source, self.storage)
            if version is None:
                continue
            marker = self.marker(self.loc("gold", table), f"{GOLD_APP}:{name}")
            if marker is None:
                return None
            dates |= set(delta.changes_since(source, marker, self.storage, version).partition_values(PARTITION))
        return dates

    def _invalid_images_since_gold(self) -> bool:
        """Whether silver invalid_images got rows the whole gold tables have not seen: a batch of nothing but
        invalid images (a covered lens) adds no frame, yet changes device health and the suppressed matches."""
        location = self.loc("silver", "invalid_images")
        version = delta.version(location, self.storage)
        if version is None:
            return False
        seen = self.marker(self.loc("gold", "alerts"), f"{GOLD_APP}:invalid_images")
        return seen is None or (
            seen < version and bool(delta.changes_since(location, seen, self.storage, version).files)
        )

    def _silver(self, name: str, dates: list[str] | None) -> DataFrame:
        filters = None if dates is None else [(PARTITION, "in", dates)]
        return delta.read_table(self.spark, self.loc("silver", name), self.storage, filters)

    def _silver_from(self, name: str, first_date: str) -> DataFrame:
        """The rows of a silver table from the UTC date ``first_date`` on (partition pruning)."""
        return delta.read_table(self.spark, self.loc("silver", name), self.storage, [(PARTITION, ">=", first_date)])


def _utc(micros: int | None) -> datetime | None:
    """An instant collected as epoch microseconds (a collected timestamp is in the driver's local time zone)."""
    return None if micros is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


@dataclasses.dataclass
class _Decisions:
    """Every match decision after this run (``rows``), its gold commit (``staged``), what to unpersist and the
    version of rule_matches gold had consumed before (``consumed``). When only some local dates were decided
    again: those dates (``dates``; none when nothing was new), their decisions (``changed``) and each touched
    key's window (``starts``: :func:`episodes.window_starts`); ``dates`` None: every match was decided."""

    rows: DataFrame
    staged: Staged
    cached: list[DataFrame]
    consumed: int | None
    dates: list[str] | None = None
    changed: DataFrame | None = None
    starts: DataFrame | None = None


# run(spark, cfg, input_root, lake, full_refresh=False, listing=None, lease=None): one run of this source.
run = _Run.run
RUN = _Run
