"""Gold detections tables besides alerts and suppressed matches (see :mod:`episodes`): the daily threat report,
threats per user, the aggregated detections of the records repository and each device's health.

Pure DataFrame functions. ``decided`` is :func:`episodes.decide`'s output (one row per frame and rule that
matched, with its ``decision``); ``health`` is gold device_health; the others are silver tables. A run that
computes only some dates again merges them with the stored rows (:func:`replace_dates`, :func:`refresh_kept`).
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from visionlake.sources.detections.episodes import ALERT, ORDER
from visionlake.sources.detections.schema import UNTAGGED

TOP_LABELS = 3
DEVICE_HEALTH_COLUMNS = [
    "user_id",
    "device_id",
    "site_id",
    "frames",
    "invalid_frames",
    "invalid_share",
    "invalid_by_reason",
    "longest_gap_minutes",
    "longest_silence_minutes",
    "silent",
    "mostly_invalid",
    "needs_attention",
    "last_frame_at",
    "event_date",
]
CAMERA = ["user_id", "device_id"]


def build_daily_threat_report(decided: DataFrame) -> DataFrame:
    """Per user, site-local date (the match's ``local_date``), rule and severity: alerts and episodes that had a
    matching frame that day, matching frames (every decision), and the labels matched most often (at most three,
    most frequent first, ties by name). An episode that crosses midnight counts on both days. An episode counts
    under its first match's severity, as its alert does (a rule whose severity changed during an episode counted
    it twice until Dec 5); a match in no episode under its own. ``decided`` holds each episode it holds whole."""
    episode = Window.partitionBy("user_id", "device_id", "rule_id", "episode_start_key").orderBy(*ORDER)
    first_severity = F.first("severity").over(episode)
    matches = decided.withColumn(
        "severity", F.when(F.col("episode_start_key").isNotNull(), first_severity).otherwise(F.col("severity"))
    )
    keys = ["user_id", "local_date", "rule_id", "severity"]
    counts = matches.groupBy(*keys).agg(
        F.countDistinct(F.when(F.col("decision") == "alert", F.col("episode_start_key"))).alias("alerts"),
        F.countDistinct("episode_start_key").alias("episodes"),
        F.count(F.lit(1)).alias("frames"),
    )
    labels = (
        matches.select(*keys, F.explode("labels_matched").alias("label"))
        .groupBy(*keys, "label")
        .count()
        .withColumn("rank", F.row_number().over(Window.partitionBy(*keys).orderBy(F.desc("count"), "label")))
        .where(F.col("rank") <= TOP_LABELS)
        .groupBy(*keys)
        .agg(F.sort_array(F.collect_list(F.struct("rank", "label"))).alias("ranked"))
        .select(*keys, F.transform("ranked", lambda r: r["label"]).alias("top_labels"))
    )
    return counts.join(labels, keys, "left").select(
        "user_id",
        "local_date",
        "rule_id",
        "severity",
        "alerts",
        "episodes",
        "frames",
        F.coalesce("top_labels", F.array().cast("array<string>")).alias("top_labels"),
    )


def build_threats_by_user(health: DataFrame, decided: DataFrame) -> DataFrame:
    """Per user (tagged frames only): frames analysed (valid and invalid, summed from ``health``: gold
    device_health), alerts (alerted episodes), frames in alerted episodes (each frame once, though two rules
    alerted on it: summed per alert, the share could pass 1 until Dec 5), ``threat_share`` (those frames over the
    frames analysed) and ``alert_share`` (the user's share of every alert): the seed's bar plot of threats per
    user. ``decided``: every decision (gold match_decisions)."""
    analysed = (
        health.where(F.col("user_id") != UNTAGGED).groupBy("user_id").agg(F.sum("frames").cast("long").alias("frames"))
    )
    alerted = (
        decided.where(F.col("decision") == ALERT)
        .groupBy("user_id")
        .agg(
            F.countDistinct("device_id", "rule_id", "episode_start_key").alias("alerts"),
            F.countDistinct("frame_key").alias("alert_frames"),
        )
    )
    total = Window.partitionBy()
    return (
        analysed.join(alerted, "user_id", "full")
        .select(
            "user_id",
            F.coalesce("frames", F.lit(0)).cast("long").alias("frames"),
            F.coalesce("alerts", F.lit(0)).cast("long").alias("alerts"),
            F.coalesce("alert_frames", F.lit(0)).cast("long").alias("alert_frames"),
        )
        .withColumn("threat_share", F.when(F.col("frames") > 0, F.col("alert_frames") / F.col("frames")))
        .withColumn(
            "alert_share",
            F.when(F.sum("alerts").over(total) > 0, F.col("alerts") / F.sum("alerts").over(total)),
        )
    )


def replace_dates(stored: DataFrame, fresh: DataFrame, column: str, dates: list[date]) -> DataFrame:
    """``stored`` rows whose ``column`` is not one of ``dates``, and ``fresh`` (the rows of those dates)."""
    return stored.where(~F.col(column).isin(dates)).unionByName(fresh.select(*stored.columns))


def build_detections_daily(objects: DataFrame) -> DataFrame:
    """Per user, device, UTC date and label: detections on valid images, their mean (of the scores to 12
    decimals) and best score (the records repository's aggregate of what the detector saw, matched by a rule
    or not)."""
    return (
        objects.where(F.col("is_valid_image"))
        .groupBy("user_id", "device_id", "event_date", "label")
        .agg(
            F.count(F.lit(1)).alias("detections"),
            # summed as decimals: exact, so the mean does not depend on the order the runs brought the rows in
            F.avg(F.col("score").cast("decimal(20,12)")).cast("double").alias("mean_score"),
            F.max("score").alias("max_score"),
        )
        .select("user_id", "device_id", "label", "detections", "mean_score", "max_score", "event_date")
    )


def build_device_health(
    frames: DataFrame,
    invalid_images: DataFrame,
    silence_alert_minutes: float,
    invalid_alert_share: float,
    kept: DataFrame | None = None,
) -> DataFrame:
    """Per camera (user_id and device_id: device ids repeat across users) and UTC date: frames (valid and
    invalid), invalid ones, their share and count by reason, the longest gap (minutes between a frame and the
    camera's previous one, counted on the later frame's day), the longest silence (the longest gap, or after a
    camera's last frame the silence up to the latest frame of any camera, on that last day), the day's last
    frame (``last_frame_at``), and the flags ``silent`` (longest silence over ``silence_alert_minutes``),
    ``mostly_invalid`` (invalid share over ``invalid_alert_share``) and ``needs_attention`` (either): the
    equipment-failure alert.

    ``kept``: when only some dates are computed again (``frames`` and ``invalid_images`` hold those dates' rows),
    the stored rows of every other date: their ``last_frame_at`` stand for the frames of those dates that a
    gap is measured from or a silence to. Only the computed dates' rows are returned (see
    :func:`refresh_kept` for the kept ones)."""
    columns = ["user_id", "device_id", "site_id", "captured_at", "event_date"]
    seen = frames.select(*columns, F.array().cast("array<string>").alias("reasons")).unionByName(
        invalid_images.select(*columns, "reasons")
    )
    seen = seen.withColumns({c: F.coalesce(c, F.lit(UNTAGGED)) for c in ("user_id", "device_id")})
    seen = seen.withColumn("_kept", F.lit(False))
    if kept is not None:  # each other day's last frame: it can be the previous or the next frame of a camera
        seen = seen.unionByName(
            kept.select(
                "user_id",
                "device_id",
                F.lit(None).cast("string").alias("site_id"),
                F.col("last_frame_at").alias("captured_at"),
                "event_date",
                F.array().cast("array<string>").alias("reasons"),
                F.lit(True).alias("_kept"),
            )
        )
    latest = seen.agg(F.max("captured_at").alias("latest"))
    by_device = Window.partitionBy(*CAMERA).orderBy("captured_at")
    gaps = (
        seen.crossJoin(F.broadcast(latest))
        .withColumn("gap", F.coalesce(_minutes(F.lag("captured_at").over(by_device), F.col("captured_at")), F.lit(0.0)))
        .withColumn("is_last", F.lead("captured_at").over(by_device).isNull())
        .where(~F.col("_kept"))
    )
    reasons = (
        gaps.select(*CAMERA, "event_date", F.explode(F.array_distinct("reasons")).alias("reason"))
        .groupBy(*CAMERA, "event_date", "reason")
        .count()
        .groupBy(*CAMERA, "event_date")
        .agg(F.map_from_entries(F.sort_array(F.collect_list(F.struct("reason", "count")))).alias("invalid_by_reason"))
    )
    daily = gaps.groupBy(*CAMERA, "event_date").agg(
        F.first("site_id", ignorenulls=True).alias("site_id"),
        F.count(F.lit(1)).alias("frames"),
        F.sum(F.when(F.size("reasons") > 0, 1).otherwise(0)).cast("long").alias("invalid_frames"),
        F.round(F.max("gap"), 3).alias("longest_gap_minutes"),
        F.max("captured_at").alias("last_frame_at"),
        F.max("is_last").alias("is_last"),
        F.first("latest").alias("latest"),
    )
    share = F.col("invalid_frames") / F.col("frames")
    return (
        daily.join(reasons, [*CAMERA, "event_date"], "left")
        .withColumns(
            {
                "invalid_share": share,
                "invalid_by_reason": F.coalesce("invalid_by_reason", F.create_map().cast("map<string,bigint>")),
                "mostly_invalid": share > invalid_alert_share,
            }
        )
        .withColumns(_silences(F.col("is_last"), F.col("latest"), silence_alert_minutes))
        .select(*DEVICE_HEALTH_COLUMNS)
    )


def refresh_kept(
    kept: DataFrame, fresh: DataFrame, silence_alert_minutes: float, invalid_alert_share: float
) -> DataFrame:
    """The ``kept`` device_health rows (of the dates not computed again) with their silence after the camera's
    last frame measured again against ``fresh`` (the rows computed again, :func:`build_device_health`): a day
    that is no longer its camera's last has none; a camera's last day has it up to the new latest frame. Their
    flags follow the thresholds given (they may have changed since the rows were written)."""
    everything = kept.select(*CAMERA, "last_frame_at").unionByName(fresh.select(*CAMERA, "last_frame_at"))
    cameras = everything.groupBy(*CAMERA).agg(F.max("last_frame_at").alias("_camera_last"))
    latest = everything.agg(F.max("last_frame_at").alias("latest"))
    return (
        kept.join(cameras, CAMERA, "left")
        .crossJoin(F.broadcast(latest))
        .withColumn("mostly_invalid", F.col("invalid_share") > invalid_alert_share)
        .withColumns(_silences(F.col("last_frame_at") == F.col("_camera_last"), F.col("latest"), silence_alert_minutes))
        .select(*kept.columns)
    )


def _silences(is_last: Column, latest: Column, silence_alert_minutes: float) -> dict[str, Column]:
    """longest_silence_minutes, silent and needs_attention of a device_health row (longest_gap_minutes,
    last_frame_at and mostly_invalid set) whose day is (``is_last``) or is not its camera's last."""
    trailing = F.when(is_last, F.round(_minutes(F.col("last_frame_at"), latest), 3)).otherwise(F.lit(0.0))
    longest = F.greatest(F.col("longest_gap_minutes"), trailing)
    silent = longest > silence_alert_minutes
    return {"longest_silence_minutes": longest, "silent": silent, "needs_attention": silent | F.col("mostly_invalid")}


def health_dates(stored: list[date], changed: list[date]) -> list[date]:
    """The UTC dates whose device_health rows are computed again from the frames when frames of the dates
    ``changed`` arrive, given the dates of the ``stored`` rows: every changed date and every stored date after
    the first of them (a late frame shortens the gap before a camera's next frame, whatever day that is).
    Nothing on or before the other dates changed: their rows stand, but for the silence after a camera's last
    frame (:func:`refresh_kept`)."""
    if not changed:
        return []
    first = min(changed)
    return sorted({*changed, *(d for d in stored if d >= first)})


def _minutes(start: Column, end: Column) -> Column:
    return (end.cast("double") - start.cast("double")) / 60.0
