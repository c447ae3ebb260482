"""Gold ALPR analytics from silver tables: vehicles, per-camera daily stats, plate sightings, daily cost.

Pure DataFrame functions; scalars from config come in as arguments.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

KEY = ["frame_key", "plate_idx"]


def _top1(df: DataFrame, columns: dict[str, str]) -> DataFrame:
    return df.where(F.col("rank") == 1).select(*KEY, *[F.col(src).alias(dst) for src, dst in columns.items()])


def build_vehicles(
    plates: DataFrame,
    cars: DataFrame,
    colors: DataFrame,
    makes: DataFrame,
    body_styles: DataFrame,
    countries: DataFrame,
) -> DataFrame:
    """One row per element (a plate, a car or both) with the top-1 of each classifier; null where absent."""
    event = ["camera_id", "event_ts", "event_date"]
    elements = plates.select(*KEY, *event, "plate_text", "ocr_confidence").join(
        cars.select(*KEY, *[F.col(c).alias(f"car_{c}") for c in event], "car_confidence"), KEY, "full"
    )
    elements = elements.select(
        *KEY,
        *[F.coalesce(c, f"car_{c}").alias(c) for c in event],
        "plate_text",
        "ocr_confidence",
        "car_confidence",
    )
    return (
        elements.join(_top1(countries, {"code": "country_code", "state": "country_state"}), KEY, "left")
        .join(_top1(colors, {"name": "color", "confidence": "color_confidence"}), KEY, "left")
        .join(
            _top1(makes, {"make": "make", "model": "model", "year": "year", "confidence": "make_confidence"}),
            KEY,
            "left",
        )
        .join(_top1(body_styles, {"name": "body_style", "confidence": "body_style_confidence"}), KEY, "left")
        .select(
            *KEY,
            *event,
            "plate_text",
            "ocr_confidence",
            "car_confidence",
            "country_code",
            "country_state",
            "color",
            "color_confidence",
            "make",
            "model",
            "year",
            "make_confidence",
            "body_style",
            "body_style_confidence",
        )
    )


def build_daily_camera_stats(
    frames: DataFrame, plates: DataFrame, cars: DataFrame, low_confidence_threshold: float
) -> DataFrame:
    """Per camera and day: frame and plate counts, recognition time percentiles and OCR confidence."""
    group = ["camera_id", "event_date"]
    frame_stats = frames.groupBy(*group).agg(
        F.count("*").alias("frames"),
        F.count(F.when(F.col("plate_count") > 0, True)).alias("frames_with_plates"),
        F.mean("duration_ms").alias("duration_ms_mean"),
        F.percentile("duration_ms", 0.5).alias("duration_ms_p50"),
        F.percentile("duration_ms", 0.95).alias("duration_ms_p95"),
    )
    plate_stats = plates.groupBy(*group).agg(
        F.count("*").alias("plates"),
        F.count(F.when(F.col("is_masked"), True)).alias("masked_plates"),
        F.mean("ocr_confidence").alias("ocr_confidence_mean"),
        F.count(F.when(F.col("ocr_confidence") < low_confidence_threshold, True)).alias("low_confidence_plates"),
    )
    car_stats = cars.where(~F.col("has_plate")).groupBy(*group).agg(F.count("*").alias("cars_without_plate"))
    return (
        frame_stats.join(plate_stats, group, "left")
        .join(car_stats, group, "left")
        .select(
            *group,
            "frames",
            "frames_with_plates",
            F.coalesce("plates", F.lit(0)).alias("plates"),
            F.coalesce("cars_without_plate", F.lit(0)).alias("cars_without_plate"),
            F.coalesce("masked_plates", F.lit(0)).alias("masked_plates"),
            "duration_ms_mean",
            "duration_ms_p50",
            "duration_ms_p95",
            "ocr_confidence_mean",
            F.coalesce("low_confidence_plates", F.lit(0)).alias("low_confidence_plates"),
        )
    )


def build_plate_sightings(plates: DataFrame) -> DataFrame:
    """Per plate text: first and last time seen, number of sightings and of distinct cameras. Masked texts
    (``is_masked``: trial SDKs replace the end of every plate with ``*``, e.g. ``IQT9*``) are not plates one can
    follow across sightings: they are left out here and stay in silver ``plates``, flagged."""
    readable = plates.where(~F.coalesce(F.col("is_masked"), F.lit(False)))
    return readable.groupBy("plate_text").agg(
        F.min("event_ts").alias("first_seen"),
        F.max("event_ts").alias("last_seen"),
        F.count("*").alias("sightings"),
        F.countDistinct("camera_id").alias("cameras"),
    )


def build_daily_processing(frames: DataFrame, hourly_price: float) -> DataFrame:
    """Per day: frames, recognition seconds (sum of duration_ms / 1000) and their estimated cost."""
    seconds = F.coalesce(F.sum("duration_ms"), F.lit(0)) / 1000.0
    return (
        frames.groupBy("event_date")
        .agg(F.count("*").alias("frames"), seconds.alias("recognition_seconds"))
        .withColumn("estimated_cost", F.col("recognition_seconds") / 3600.0 * F.lit(hourly_price))
        .select("event_date", "frames", "recognition_seconds", "estimated_cost")
    )
