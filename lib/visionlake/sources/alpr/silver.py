"""Silver ALPR tables from parsed results: frames, plates, cars and one table per classifier array.

Every function here is a pure DataFrame transform. The input of the table builders is a frame-level
DataFrame with ``frame_key``, ``source_path``, ``camera_id``, ``event_ts``, ``event_date`` and
``result`` (the parsed JSON, declared schema); each builder returns its table's columns, with
``camera_id``, ``event_ts`` and ``event_date`` (the partition) last.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from visionlake.transforms import keys
from visionlake.transforms.times import in_years

# years 1900-9999 only: Spark refuses to parse a date its old (Julian) calendar reads otherwise, 29 Feb 1500 (until
# Dec 6 such a file name stopped every later run)
FILE_TIME_PATTERN = r"_(\d{2}\.\d{2}\.(?:19|[2-9]\d)\d{2}\.\d{2}\.\d{2}\.\d{2}\.\d{6})\.json$"
FILE_TIME_FORMAT = "MM.dd.yyyy.HH.mm.ss.SSSSSS"
EVENT_COLUMNS = ("camera_id", "event_ts", "event_date")
PARTITION = "event_date"


def file_name_time(path: Column) -> Column:
    """The capture time in an SDK file name ``<frame_id>_<MM.DD.YYYY.HH.MM.SS.ffffff>.json`` (UTC), or null (also
    out of the years 1900-9999: :func:`~visionlake.transforms.times.in_years`)."""
    stamp = F.regexp_extract(path, FILE_TIME_PATTERN, 1)
    return F.when(stamp != "", in_years(F.to_timestamp(stamp, FILE_TIME_FORMAT)))


def iso_time(text: Column) -> Column:
    """An ISO 8601 string as a UTC instant; no offset means UTC (the session time zone). Null if unparseable or
    out of the years 1900-9999 UTC (:func:`~visionlake.transforms.times.in_years`: until Dec 6 a result of year
    10000 stopped every later run)."""
    return in_years(F.to_timestamp(text))


def with_event_time(df: DataFrame) -> DataFrame:
    """Add ``event_ts`` (the result's timestamp, else the file-name time, else the file's mtime) and ``event_date``.

    Requires ``result``, ``source_path`` and ``modified_at``.
    """
    event_ts = F.coalesce(
        iso_time(F.col("result.timestamp")), file_name_time(F.col("source_path")), F.col("modified_at")
    )
    return df.withColumn("event_ts", event_ts).withColumn("event_date", F.to_date("event_ts"))


frame_key = keys.file_key  # (camera_id, source_path, sha256): see visionlake.transforms.keys
frame_key_of = keys.file_key_of


def with_frame_key(df: DataFrame) -> DataFrame:
    """Add ``frame_key``; requires ``camera_id``, ``source_path`` and ``sha256``."""
    return df.withColumn("frame_key", frame_key(F.col("camera_id"), F.col("source_path"), F.col("sha256")))


def _box_columns(box: Column) -> dict[str, Column]:
    xs = [box[i] for i in (0, 2, 4, 6)]
    ys = [box[i] for i in (1, 3, 5, 7)]
    return {
        "box": box,
        "box_xmin": F.least(*xs),
        "box_ymin": F.least(*ys),
        "box_xmax": F.greatest(*xs),
        "box_ymax": F.greatest(*ys),
    }


def _has_text(element: Column) -> Column:
    return element["text"].isNotNull()


def build_frames(df: DataFrame) -> DataFrame:
    """One row per result file, frames without plates included."""
    plates = F.coalesce(F.col("result.plates"), F.array())
    return df.select(
        "frame_key",
        "source_path",
        F.col("result.frame_id").alias("frame_id"),
        F.col("result.duration").alias("duration_ms"),
        F.coalesce("result.latency", "result.lantency").alias("latency"),
        F.size(F.filter(plates, _has_text)).alias("plate_count"),
        F.size(F.filter(plates, lambda e: e["car"].isNotNull())).alias("car_count"),
        *EVENT_COLUMNS,
    )


def explode_elements(df: DataFrame) -> DataFrame:
    """One row per element of ``plates`` with ``plate_idx`` (its position) and ``element``."""
    return df.select("frame_key", *EVENT_COLUMNS, F.posexplode("result.plates").alias("plate_idx", "element"))


def build_plates(elements: DataFrame) -> DataFrame:
    """One row per element with text."""
    confidences = F.col("element.confidences")
    text = F.col("element.text")
    return elements.where(_has_text(F.col("element"))).select(
        "frame_key",
        "plate_idx",
        text.alias("plate_text"),
        confidences[0].alias("ocr_confidence"),
        confidences[1].alias("detection_confidence"),
        F.when(confidences.isNotNull(), F.slice(confidences, 3, F.greatest(F.size(confidences) - 2, F.lit(0)))).alias(
            "char_confidences"
        ),
        text.endswith("*").alias("is_masked"),
        *[c.alias(n) for n, c in _box_columns(F.col("element.warpedBox")).items()],
        *EVENT_COLUMNS,
    )


def build_cars(elements: DataFrame) -> DataFrame:
    """One row per element with a car."""
    car = F.col("element.car")
    return elements.where(car.isNotNull()).select(
        "frame_key",
        "plate_idx",
        _has_text(F.col("element")).alias("has_plate"),
        car["confidence"].alias("car_confidence"),
        *[c.alias(n) for n, c in _box_columns(car["warpedBox"]).items()],
        *EVENT_COLUMNS,
    )


def _explode_ranked(elements: DataFrame, array: Column, fields: list[str]) -> DataFrame:
    return elements.select("frame_key", "plate_idx", *EVENT_COLUMNS, F.posexplode(array).alias("pos", "item")).select(
        "frame_key",
        "plate_idx",
        (F.col("pos") + 1).alias("rank"),
        F.col("item.klass").alias("klass"),
        F.col("item.confidence").alias("confidence"),
        *[F.col(f"item.{name}").alias(name) for name in fields],
        *EVENT_COLUMNS,
    )


def build_car_colors(elements: DataFrame) -> DataFrame:
    return _explode_ranked(elements, F.col("element.car.color"), ["name"])


def build_car_body_styles(elements: DataFrame) -> DataFrame:
    return _explode_ranked(elements, F.col("element.car.bodyStyle"), ["name"])


def build_car_makes(elements: DataFrame) -> DataFrame:
    return _explode_ranked(elements, F.col("element.car.makeModelYear"), ["make", "model", "year"])


def build_plate_countries(elements: DataFrame) -> DataFrame:
    return _explode_ranked(elements, F.col("element.country"), ["code", "name", "state", "other"])


ELEMENT_TABLES = {
    "plates": build_plates,
    "cars": build_cars,
    "car_colors": build_car_colors,
    "car_body_styles": build_car_body_styles,
    "car_makes": build_car_makes,
    "plate_countries": build_plate_countries,
}
