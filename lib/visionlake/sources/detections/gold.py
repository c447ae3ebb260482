"""Gold detections tables besides alerts and suppressed matches (see :mod:`episodes`): the daily threat report,
threats per user, the aggregated detections of the records repository and each device's health.

Pure DataFrame functions. ``decided`` is :func:`episodes.decide`'s output (one row per frame and rule that
matched, with its ``decision``); the others are silver tables.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from visionlake.sources.detections.schema import UNTAGGED

TOP_LABELS = 3


def build_daily_threat_report(decided: DataFrame) -> DataFrame:
    """Per user, site-local date (the match's ``local_date``), rule and severity: alerts and episodes that had a
    matching frame that day, matching frames (every decision), and the labels matched most often (at most three,
    most frequent first, ties by name). An episode that crosses midnight counts on both days."""
    matches = decided
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


def build_threats_by_user(frames: DataFrame, invalid_images: DataFrame, alerts: DataFrame) -> DataFrame:
    """Per user (tagged frames only): frames analysed (valid and invalid), alerts, frames in alerted episodes,
    ``threat_share`` (those frames over the frames analysed) and ``alert_share`` (the user's share of every
    alert): the seed's bar plot of threats per user."""
    analysed = (
        frames.select("user_id")
        .unionByName(invalid_images.select("user_id"))
        .where(F.col("user_id").isNotNull())
        .groupBy("user_id")
        .agg(F.count(F.lit(1)).alias("frames"))
    )
    alerted = alerts.groupBy("user_id").agg(
        F.count(F.lit(1)).alias("alerts"), F.sum("frames").cast("long").alias("alert_frames")
    )
    total = Window.partitionBy()
    return (
        analysed.join(alerted, "user_id", "full")
        .select(
            "user_id",
            F.coalesce("frames", F.lit(0)).alias("frames"),
            F.coalesce("alerts", F.lit(0)).alias("alerts"),
            F.coalesce("alert_frames", F.lit(0)).alias("alert_frames"),
        )
        .withColumn("threat_share", F.when(F.col("frames") > 0, F.col("alert_frames") / F.col("frames")))
        .withColumn(
            "alert_share",
            F.when(F.sum("alerts").over(total) > 0, F.col("alerts") / F.sum("alerts").over(total)),
        )
    )


def build_detections_daily(objects: DataFrame) -> DataFrame:
    """Per user, device, UTC date and label: detections on valid images, their mean and best score (the
    records repository's aggregate of what the detector saw, matched by a rule or not)."""
    return (
        objects.where(F.col("is_valid_image"))
        .groupBy("user_id", "device_id", "event_date", "label")
        .agg(
            F.count(F.lit(1)).alias("detections"),
            F.avg("score").alias("mean_score"),
            F.max("score").alias("max_score"),
        )
        .select("user_id", "device_id", "label", "detections", "mean_score", "max_score", "event_date")
    )


def build_device_health(
    frames: DataFrame, invalid_images: DataFrame, silence_alert_minutes: float, invalid_alert_share: float
) -> DataFrame:
    """Per camera (user_id and device_id: device ids repeat across users) and UTC date: frames (valid and
    invalid), invalid ones, their share and count by reason, the longest silence (minutes between a frame and
    the camera's previous one, counted on the later frame's day; after a camera's last frame, the silence up to
    the latest frame of any camera counts on that last day),
    and the flags ``silent`` (longest silence over ``silence_alert_minutes``), ``mostly_invalid`` (invalid
    share over ``invalid_alert_share``) and ``needs_attention`` (either): the equipment-failure alert."""
    columns = ["user_id", "device_id", "site_id", "captured_at", "event_date"]
    seen = frames.select(*columns, F.array().cast("array<string>").alias("reasons")).unionByName(
        invalid_images.select(*columns, "reasons")
    )
    seen = seen.withColumns({c: F.coalesce(c, F.lit(UNTAGGED)) for c in ("user_id", "device_id")})
    latest = seen.agg(F.max("captured_at").alias("latest"))
    camera = ["user_id", "device_id"]
    by_device = Window.partitionBy(*camera).orderBy("captured_at")
    gaps = (
        seen.crossJoin(F.broadcast(latest))
        .withColumn("previous", F.lag("captured_at").over(by_device))
        .withColumn("is_last", F.lead("captured_at").over(by_device).isNull())
        .withColumn(
            "silence",
            F.greatest(
                F.coalesce(_minutes(F.col("previous"), F.col("captured_at")), F.lit(0.0)),
                F.when(F.col("is_last"), _minutes(F.col("captured_at"), F.col("latest"))).otherwise(F.lit(0.0)),
            ),
        )
    )
    reasons = (
        gaps.select(*camera, "event_date", F.explode(F.array_distinct("reasons")).alias("reason"))
        .groupBy(*camera, "event_date", "reason")
        .count()
        .groupBy(*camera, "event_date")
        .agg(F.map_from_entries(F.sort_array(F.collect_list(F.struct("reason", "count")))).alias("invalid_by_reason"))
    )
    daily = gaps.groupBy(*camera, "event_date").agg(
        F.first("site_id", ignorenulls=True).alias("site_id"),
        F.count(F.lit(1)).alias("frames"),
        F.sum(F.when(F.size("reasons") > 0, 1).otherwise(0)).cast("long").alias("invalid_frames"),
        F.max("silence").alias("longest_silence_minutes"),
    )
    share = F.col("invalid_frames") / F.col("frames")
    return (
        daily.join(reasons, [*camera, "event_date"], "left")
        .select(
            "user_id",
            "device_id",
            "site_id",
            "frames",
            "invalid_frames",
            share.alias("invalid_share"),
            F.coalesce("invalid_by_reason", F.create_map().cast("map<string,bigint>")).alias("invalid_by_reason"),
            F.round("longest_silence_minutes", 3).alias("longest_silence_minutes"),
            (F.col("longest_silence_minutes") > silence_alert_minutes).alias("silent"),
            (share > invalid_alert_share).alias("mostly_invalid"),
            "event_date",
        )
        .withColumn("needs_attention", F.col("silent") | F.col("mostly_invalid"))
        .select(
            "user_id",
            "device_id",
            "site_id",
            "frames",
            "invalid_frames",
            "invalid_share",
            "invalid_by_reason",
            "longest_silence_minutes",
            "silent",
            "mostly_invalid",
            "needs_attention",
            "event_date",
        )
    )


def _minutes(start: Column, end: Column) -> Column:
    return (end.cast("double") - start.cast("double")) / 60.0
