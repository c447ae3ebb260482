"""Tests of visionlake.sources.detections.silver: capture time, image validation and the silver table builders."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from chispa import assert_column_equality
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.config import ImageValidationSettings
from visionlake.sources.detections import silver
from visionlake.sources.detections.schema import FRAME

SETTINGS = ImageValidationSettings(
    formats=("jpeg", "png"),
    min_width=320,
    min_height=240,
    max_size_bytes=5_000_000,
    min_contrast=0.05,
    max_clock_skew_seconds=300.0,
)
MIN_SCORE = 0.5
# the file-name time of PATH: 2026-11-30 22:14:05.12 UTC
PATH = "/in/u-0042-cam-03/2026-11-30T22-14-05.120000Z.json"
NAME_TS = datetime(2026, 11, 30, 22, 14, 5, 120000, tzinfo=UTC)
NO_TIME_PATH = "/in/u-0042-cam-03/frame.json"
MTIME = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
INGESTED = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
D_1130 = date(2026, 11, 30)

IMAGE = {
    "uri": "s3://collector/u-0042-cam-03/a.jpg",
    "format": "jpeg",
    "width": 1920,
    "height": 1080,
    "size_bytes": 412331,
    "contrast": 0.41,
    "brightness": 0.38,
}
ENVELOPE = {
    "user_id": "u-0042",
    "device_id": "cam-03",
    "site_id": "site-07",
    "captured_at": "2026-11-30T23:14:05.120+01:00",
    "image": IMAGE,
    "detector": {"name": "ssd_mobilenet_v2_coco", "version": "2.4.1"},
}
DELETE = object()  # an override that removes the key


def _frame(image: dict[str, Any] | None = None, **fields: Any) -> str:
    """The JSON text of ENVELOPE with ``fields`` and the ``image`` fields replaced (DELETE removes a key)."""
    body = {**ENVELOPE, **fields, "image": {**IMAGE, **(image or {})}}
    body["image"] = {k: v for k, v in body["image"].items() if v is not DELETE}
    return json.dumps({k: v for k, v in body.items() if v is not DELETE})


def _input(spark: SparkSession, rows: list[tuple[str, str, str]], mtime: datetime = MTIME) -> DataFrame:
    """The pipeline's parsed input from (frame_key, source_path, frame JSON) rows."""
    schema = T.StructType(
        [
            T.StructField("frame_key", T.StringType()),
            T.StructField("source_path", T.StringType()),
            T.StructField("modified_at", T.TimestampType()),
            T.StructField("ingested_at", T.TimestampType()),
            T.StructField("raw", T.StringType()),
        ]
    )
    data = [(key, path, mtime, INGESTED, raw) for key, path, raw in rows]
    return spark.createDataFrame(data, schema).select(
        "frame_key",
        "source_path",
        F.lit("u-0042-cam-03").alias("folder"),
        "modified_at",
        "ingested_at",
        F.from_json("raw", FRAME).alias("frame"),
    )


def _prepared(spark: SparkSession, rows: list[tuple[str, str, str]], mtime: datetime = MTIME) -> DataFrame:
    return _input(spark, rows, mtime).transform(silver.with_capture_time).transform(silver.with_validation, SETTINGS)


def _utc(value: Any) -> Any:
    """A collected timestamp (naive, in the driver's local time) as an aware UTC datetime; other values as they are."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _by_key(df: DataFrame, *columns: str) -> dict[str, tuple]:
    return {r["frame_key"]: tuple(_utc(r[c]) for c in columns) for r in df.collect()}


# ------------------------------------------------------------------------------------------------
# file-name time


def test_file_name_time_parses_utc_name(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            (PATH, NAME_TS),
            ("s3a://b/in/u-1-c-1/2026-01-02T03-04-05.000001Z.json", datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC)),
            ("2026-01-02T03-04-05Z.json", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # no fraction, no folder
        ],
        "path string, expected_ts timestamp",
    )
    actual_df = source_df.withColumn("actual_ts", silver.file_name_time(F.col("path")))
    assert_column_equality(actual_df, "actual_ts", "expected_ts")


def test_file_name_time_null_without_time_in_name(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            (NO_TIME_PATH, None),
            ("/in/u-1-c-1/2026-13-02T03-04-05.000000Z.json", None),  # month 13
            ("/in/u-1-c-1/2026-01-02T03-04-05.000000Z.json.tmp", None),
            ("/in/u-1-c-1/2026-01-02T03-04-05.000000.json", None),  # no Z: not the contract's name
            ("/in/x2026-01-02T03-04-05.000000Z.json", None),  # the time is not the whole name
            (None, None),
        ],
        "path string, expected_ts timestamp",
    )
    actual_df = source_df.withColumn("actual_ts", silver.file_name_time(F.col("path")))
    assert_column_equality(actual_df, "actual_ts", "expected_ts")


# ------------------------------------------------------------------------------------------------
# capture time

TIME_COLUMNS = ("captured_at", "local_tz_offset_min", "event_date", "_time_given")


def _times(spark: SparkSession, cases: dict[str, tuple[str, Any]]) -> dict[str, tuple]:
    """with_capture_time of frames whose captured_at is given per key as (path, captured_at or DELETE)."""
    rows = [(key, path, _frame(captured_at=text)) for key, (path, text) in cases.items()]
    return _by_key(silver.with_capture_time(_input(spark, rows)), *TIME_COLUMNS)


def test_with_capture_time_applies_written_offset(spark: SparkSession) -> None:
    actual = _times(
        spark,
        {
            "plus": (PATH, "2026-11-30T23:14:05.120+01:00"),
            "zulu": (PATH, "2026-11-30T22:14:05.12Z"),
            "minus": (PATH, "2026-11-30T16:44:05.120-05:30"),
            "compact": (PATH, "2026-11-30T23:14:05.120+0100"),
            "micros": (PATH, "2026-12-01T00:14:05.123456+02:00"),
            "no_fraction": (PATH, "2026-12-01T07:14:05+09:00"),
            "one_digit": (PATH, "2026-11-30T23:14:05.1+01:00"),
            # the offset wins over the file-name time, even far from it (then time_mismatch says so)
            "next_day": (NO_TIME_PATH, "2026-12-01T00:30:00-01:00"),
        },
    )
    assert actual == {
        "plus": (NAME_TS, 60, D_1130, True),
        "zulu": (NAME_TS, 0, D_1130, True),
        "minus": (NAME_TS, -330, D_1130, True),
        "compact": (NAME_TS, 60, D_1130, True),
        "micros": (datetime(2026, 11, 30, 22, 14, 5, 123456, tzinfo=UTC), 120, D_1130, True),
        "no_fraction": (datetime(2026, 11, 30, 22, 14, 5, tzinfo=UTC), 540, D_1130, True),
        "one_digit": (datetime(2026, 11, 30, 22, 14, 5, 100000, tzinfo=UTC), 60, D_1130, True),
        "next_day": (datetime(2026, 12, 1, 1, 30, tzinfo=UTC), -60, date(2026, 12, 1), True),
    }


def test_a_site_with_a_time_zone_is_timed_in_it_whatever_offset_its_frames_carry(spark: SparkSession) -> None:
    zones = {"site-ny": "America/New_York", "site-07": "Europe/Berlin"}
    cases = {
        # written in UTC: Friday 21:10 in New York (EST, -5 h) is 02:10 UTC on Saturday the 28th
        "utc": ("site-ny", "2026-11-28T02:10:00Z"),
        # the same instant written with the wrong offset: the instant stands, the local offset is the zone's
        "wrong": ("site-ny", "2026-11-28T03:10:00+01:00"),
        # no offset: the wall time in New York; in July (EDT, -4 h) 12:00 is 16:00 UTC
        "naive_summer": ("site-ny", "2026-07-01T12:00:00"),
        # Berlin in November (CET, +1 h), no offset
        "berlin": ("site-07", "2026-11-30T23:14:05.120"),
        # a site without a zone keeps its written offset
        "other": ("site-99", "2026-11-30T16:44:05.120-05:30"),
    }
    rows = [(key, NO_TIME_PATH, _frame(site_id=site, captured_at=text)) for key, (site, text) in cases.items()]
    actual = _by_key(silver.with_capture_time(_input(spark, rows), zones), *TIME_COLUMNS)
    assert actual == {
        "utc": (datetime(2026, 11, 28, 2, 10, tzinfo=UTC), -300, date(2026, 11, 28), True),
        "wrong": (datetime(2026, 11, 28, 2, 10, tzinfo=UTC), -300, date(2026, 11, 28), True),
        "naive_summer": (datetime(2026, 7, 1, 16, 0, tzinfo=UTC), -240, date(2026, 7, 1), True),
        "berlin": (NAME_TS, 60, D_1130, True),
        "other": (NAME_TS, -330, D_1130, True),
    }


def test_a_time_out_of_the_years_at_its_site_is_no_time(spark: SparkSession) -> None:
    """A site's zone may move a time in the years 1900-9999 UTC out of them: 20:00 UTC on 31 Dec 9999 is 10:00 on
    1 Jan 10000 at Kiritimati (+14 h), a local date the lake cannot write (until Dec 6 gold's write of it failed,
    and so did every later run). Such a time is no time; a last resort that is still out of the years (the
    file's modification time) keeps the site's frame at UTC's offset."""
    zones = {"site-ki": "Pacific/Kiritimati", "site-hnl": "Pacific/Honolulu"}
    late_name = "/in/u-0042-cam-03/9999-12-31T20-00-00.000000Z.json"
    cases = {
        "late_east": ("site-ki", PATH, "9999-12-31T20:00:00Z"),  # the file-name time is taken
        "late_name_east": ("site-ki", late_name, "soon"),  # no time in the frame, the name's out too: mtime
        "first_day_west": ("site-hnl", PATH, "1900-01-01T05:00:00Z"),  # 18:30 on 31 Dec 1899 in Honolulu (-10:30)
        "last_local": ("site-ki", NO_TIME_PATH, "9999-12-31T09:59:59.999999Z"),  # 23:59:59.999999 at the site
        "late_no_zone": ("site-99", NO_TIME_PATH, "9999-12-31T20:00:00Z"),  # no zone: the UTC rule alone
    }
    rows = [(key, path, _frame(site_id=site, captured_at=text)) for key, (site, path, text) in cases.items()]
    late_mtime = datetime(9999, 12, 31, 20, 0, tzinfo=UTC)
    timeless = [("late_mtime_east", NO_TIME_PATH, _frame(site_id="site-ki", captured_at="soon"))]
    timed = silver.with_capture_time(_input(spark, rows).unionByName(_input(spark, timeless, late_mtime)), zones)
    columns = ["frame_key", F.unix_micros("captured_at").alias("us"), "local_tz_offset_min", "event_date"]
    got = {r[0]: tuple(r[1:]) for r in timed.select(*columns, "_time_given").collect()}
    # the name's time is still the one the clock skew is checked against (time_mismatch)
    name_time = timed.where(F.col("frame_key") == "late_name_east").select(F.unix_micros("_name_time")).first()[0]
    assert name_time == 253_402_286_400_000_000
    name_us, mtime_us = 1_796_076_845_120_000, 1_796_191_200_000_000  # 2026-11-30T22:14:05.12Z, 2026-12-02T06:00Z
    last_day = date(9999, 12, 31)
    assert got == {
        "late_east": (name_us, 840, D_1130, False),
        "late_name_east": (mtime_us, 840, date(2026, 12, 2), False),
        "first_day_west": (name_us, -600, D_1130, False),
        "last_local": (253_402_250_399_999_999, 840, last_day, True),
        "late_no_zone": (253_402_286_400_000_000, 0, last_day, True),
        "late_mtime_east": (253_402_286_400_000_000, 0, last_day, False),
    }


def test_with_capture_time_infers_missing_offset_from_file_name(spark: SparkSession) -> None:
    actual = _times(
        spark,
        {
            # local 23:14:05.12, name 22:14:05.12 UTC: +60 min
            "exact": (PATH, "2026-11-30T23:14:05.120"),
            # local 07:50 next day, 9 h 35 min 54.88 s ahead of the name: rounded to +9:30, so 22:20 UTC
            "rounded": (PATH, "2026-12-01T07:50:00"),
            # local 16:14:05.12, 6 h behind: -360 min
            "behind": (PATH, "2026-11-30T16:14:05.120"),
            # 25 h ahead: beyond +-14 h, so the local time is taken as UTC
            "too_far": (PATH, "2026-12-01T23:14:05.120"),
            # no file-name time: UTC
            "no_name": (NO_TIME_PATH, "2026-11-30T23:14:05.120"),
        },
    )
    assert actual == {
        "exact": (NAME_TS, 60, D_1130, True),
        "rounded": (datetime(2026, 11, 30, 22, 20, tzinfo=UTC), 570, D_1130, True),
        "behind": (NAME_TS, -360, D_1130, True),
        "too_far": (datetime(2026, 12, 1, 23, 14, 5, 120000, tzinfo=UTC), 0, date(2026, 12, 1), True),
        "no_name": (datetime(2026, 11, 30, 23, 14, 5, 120000, tzinfo=UTC), 0, D_1130, True),
    }


def test_with_capture_time_falls_back_to_file_name_then_mtime(spark: SparkSession) -> None:
    actual = _times(
        spark,
        {
            "absent": (PATH, DELETE),
            "null": (PATH, None),
            "text": (PATH, "yesterday"),
            "date_only": (PATH, "2026-11-30"),
            "seven_digits": (PATH, "2026-11-30T23:14:05.1234567+01:00"),
            "bad_offset": (PATH, "2026-11-30T23:14:05.120+15:00"),
            "bad_minutes": (PATH, "2026-11-30T23:14:05.120+01:75"),
            "month_13": (PATH, "2026-13-30T23:14:05.120+01:00"),
            # out of the years 1900-9999 in UTC: such a time in a table stopped every later run of the lake
            "clock_reset": (PATH, "1899-12-31T10:00:00.000-08:00"),
            "first_day_east": (PATH, "1900-01-01T00:30:00+01:00"),  # 1899-12-31T23:30 UTC
            "last_day_west": (PATH, "9999-12-31T23:36:32.308-08:00"),  # 10000-01-01T07:36 UTC
            "mtime": (NO_TIME_PATH, DELETE),
            # a file name out of those years is no time either: the modification time is taken
            "name_1899": ("/in/u-0042-cam-03/1899-12-31T18-00-00.000000Z.json", DELETE),
        },
    )
    from_name = (NAME_TS, 0, D_1130, False)
    from_mtime = (MTIME, 0, date(2026, 12, 2), False)
    assert actual == {
        "absent": from_name,
        "null": from_name,
        "text": from_name,
        "date_only": from_name,
        "seven_digits": from_name,
        "bad_offset": from_name,
        "bad_minutes": from_name,
        "month_13": from_name,
        "clock_reset": from_name,
        "first_day_east": from_name,
        "last_day_west": from_name,
        "mtime": from_mtime,
        "name_1899": from_mtime,
    }


def test_the_first_and_last_instants_the_lake_holds_are_times(spark: SparkSession) -> None:
    cases = {"first": "1900-01-01T01:00:00+01:00", "last": "9999-12-31T23:59:59.999999Z"}
    rows = [(key, NO_TIME_PATH, _frame(captured_at=text)) for key, text in cases.items()]
    timed = silver.with_capture_time(_input(spark, rows))
    # as epoch microseconds: Python cannot shift the last instant to the driver's local time
    got = timed.select("frame_key", F.unix_micros("captured_at").alias("us"), "event_date", "_time_given").collect()
    assert {r["frame_key"]: (r["us"], r["event_date"], r["_time_given"]) for r in got} == {
        "first": (-2_208_988_800_000_000, date(1900, 1, 1), True),
        "last": (253_402_300_799_999_999, date(9999, 12, 31), True),
    }


def test_with_capture_time_ignores_session_time_zone(spark: SparkSession) -> None:
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        actual = _times(
            spark,
            {
                "plus": (PATH, "2026-11-30T23:14:05.120+01:00"),
                "naive": (PATH, "2026-11-30T23:14:05.120"),
                "late": (NO_TIME_PATH, "2026-11-30T23:30:00Z"),  # 18:30 in New York, still 30 Nov in UTC
                "early": (NO_TIME_PATH, "2026-12-01T01:30:00Z"),  # 1 Dec in UTC, 30 Nov in New York
            },
        )
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert actual == {
        "plus": (NAME_TS, 60, D_1130, True),
        "naive": (NAME_TS, 60, D_1130, True),
        "late": (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), 0, D_1130, True),
        "early": (datetime(2026, 12, 1, 1, 30, tzinfo=UTC), 0, date(2026, 12, 1), True),
    }


# ------------------------------------------------------------------------------------------------
# validation


def _reasons(spark: SparkSession, rows: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    return {k: v[0] for k, v in _by_key(_prepared(spark, rows), "reasons").items()}


def test_with_validation_each_reason_alone(spark: SparkSession) -> None:
    actual = _reasons(
        spark,
        [
            ("valid", PATH, _frame()),
            ("upper_format", PATH, _frame(image={"format": "PNG"})),
            ("no_size", PATH, _frame(image={"size_bytes": DELETE})),
            ("at_limits", PATH, _frame(image={"width": 320, "height": 240, "size_bytes": 5_000_000, "contrast": 0.05})),
            ("gif", PATH, _frame(image={"format": "gif"})),
            ("no_format", PATH, _frame(image={"format": DELETE})),
            ("narrow", PATH, _frame(image={"width": 319})),
            ("low", PATH, _frame(image={"height": 239})),
            ("no_height", PATH, _frame(image={"height": DELETE})),
            ("big", PATH, _frame(image={"size_bytes": 5_000_001})),
            ("dark", PATH, _frame(image={"contrast": 0.049})),
            ("no_contrast", PATH, _frame(image={"contrast": None})),
            ("no_user", PATH, _frame(user_id=DELETE)),
            ("blank_user", PATH, _frame(user_id=" ")),
            ("no_device", PATH, _frame(device_id=None)),
            ("no_time", PATH, _frame(captured_at=DELETE)),
            ("skew_300", PATH, _frame(captured_at="2026-11-30T23:19:05.120+01:00")),
            ("skew_301", PATH, _frame(captured_at="2026-11-30T23:19:06.120+01:00")),
            ("skew_early", PATH, _frame(captured_at="2026-11-30T23:09:04+01:00")),
            # no offset: inferred +60 min, then 23:21 local is 7 min after the name: past the skew
            ("skew_naive", PATH, _frame(captured_at="2026-11-30T23:21:05.120")),
            # no file-name time: nothing to compare
            ("no_name", NO_TIME_PATH, _frame(captured_at="2020-01-01T00:00:00Z")),
        ],
    )
    assert actual == {
        "valid": [],
        "upper_format": [],
        "no_size": [],
        "at_limits": [],
        "gif": ["format"],
        "no_format": ["format"],
        "narrow": ["min_resolution"],
        "low": ["min_resolution"],
        "no_height": ["min_resolution"],
        "big": ["max_size"],
        "dark": ["min_contrast"],
        "no_contrast": ["min_contrast"],
        "no_user": ["missing_user_tag"],
        "blank_user": ["missing_user_tag"],
        "no_device": ["missing_device_tag"],
        "no_time": ["missing_time"],
        "skew_300": [],
        "skew_301": ["time_mismatch"],
        "skew_early": ["time_mismatch"],
        "skew_naive": ["time_mismatch"],
        "no_name": [],
    }


def test_with_validation_lists_every_failure_in_order(spark: SparkSession) -> None:
    actual = _reasons(
        spark,
        [
            (
                "dead_camera",
                NO_TIME_PATH,
                _frame(
                    image={"format": "bmp", "width": 100, "contrast": 0.0},
                    user_id=DELETE,
                    device_id="",
                    captured_at="soon",
                ),
            ),
            (
                "all",
                PATH,
                _frame(
                    image={"format": None, "height": None, "size_bytes": 9_000_000, "contrast": None},
                    user_id=None,
                    device_id=None,
                    captured_at="2026-11-30T12:00:00Z",
                ),
            ),
        ],
    )
    assert actual == {
        "dead_camera": [
            "format",
            "min_resolution",
            "min_contrast",
            "missing_user_tag",
            "missing_device_tag",
            "missing_time",
        ],
        "all": [
            "format",
            "min_resolution",
            "max_size",
            "min_contrast",
            "missing_user_tag",
            "missing_device_tag",
            "time_mismatch",
        ],
    }


# ------------------------------------------------------------------------------------------------
# detections: shape B (TF Object Detection API) and shape A (DeepStack)

SHAPE_B = _frame(
    num_detections=4.0,
    detection_classes=[18.0, 91.0, 1.0, 64.0, 1.0],
    # percentages; the 5th is padding past num_detections, which neither counts nor is checked
    detection_scores=[90.0, 85.0, 30.0, 75.0, 250.0],
    detection_boxes=[
        [0.25, 0.5, 0.75, 1.25],  # xmax past the edge
        [-0.25, 0.0, 0.5, 0.5],  # ymin before the edge
        [0.0, 0.0, 0.5, 0.5],
        [0.5, 0.5, 0.625, 0.75],
        [0.0, 0.0, 1.0, 1.0],
    ],
    detection_track_ids=["t1", "t2"],  # shorter: the others have none
    inference_ms=41.5,
)
# num_detections larger than the arrays, scores shorter than the others; no image width: invalid image
SHAPE_B_SHORT = _frame(
    image={"width": DELETE},
    num_detections=10,
    detection_classes=[17.0, 3.0, 2.0],
    detection_scores=[0.6, 0.7],
    detection_boxes=[[0.0, 0.0, 1.0, 1.0], [0.5, 0.25, 1.0, 0.75], [0.0, 0.0, 0.5, 0.5]],
)
SHAPE_A = _frame(
    success=True,
    inferenceMs=38,
    predictions=[
        {"label": "Dog", "confidence": 0.5, "x_min": 480, "y_min": 270, "x_max": 960, "y_max": 540, "track_id": 7},
        {"label": "Raccoon", "confidence": 0.91, "x_min": -100, "y_min": 540, "x_max": 480, "y_max": 1200},
        {"label": "person", "confidence": 0.49, "x_min": 0, "y_min": 0, "x_max": 10, "y_max": 10},
        {"label": "truck", "confidence": 0.8, "x_min": 1440, "y_min": 0, "x_max": 2400, "y_max": 270},
    ],
)
SHAPE_A_FAILED = _frame(success=False, error="model not loaded", inferenceMs=2)
SHAPE_A_EMPTY = _frame(success=True, predictions=[])
NO_DETECTOR = _frame()

DETECTION_ROWS = [
    ("b", PATH, SHAPE_B),
    ("b_short", PATH, SHAPE_B_SHORT),
    ("a", PATH, SHAPE_A),
    ("a_failed", PATH, SHAPE_A_FAILED),
    ("a_empty", PATH, SHAPE_A_EMPTY),
    ("none", PATH, NO_DETECTOR),
]
OBJECT_FIELDS = ("det_idx", "label", "label_id", "score", "x_min", "y_min", "x_max", "y_max", "x", "y", "w", "h")
OBJECT_TAIL = (
    "area_fraction",
    "track_id",
    "user_id",
    "device_id",
    "site_id",
    "captured_at",
    "local_tz_offset_min",
    "is_valid_image",
    "ingested_at",
    "event_date",
)
ENVELOPE_TAIL = ("u-0042", "cam-03", "site-07", NAME_TS, 60)
ROW_TAIL = (INGESTED, D_1130)


def test_build_objects_both_shapes(spark: SparkSession) -> None:
    actual_df = silver.build_objects(_prepared(spark, DETECTION_ROWS), MIN_SCORE)
    actual = sorted(tuple(_utc(v) for v in r) for r in actual_df.collect())
    valid = (*ENVELOPE_TAIL, True, *ROW_TAIL)
    invalid = (*ENVELOPE_TAIL, False, *ROW_TAIL)
    # frame_key, det_idx, label, label_id, score, x_min, y_min, x_max, y_max (px), x, y, w, h, area, track_id
    assert actual == [
        ("a", 0, "dog", None, 0.5, 480.0, 270.0, 960.0, 540.0, 0.25, 0.25, 0.25, 0.25, 0.0625, "7", *valid),
        ("a", 1, "racoon", None, 0.91, 0.0, 540.0, 480.0, 1080.0, 0.0, 0.5, 0.25, 0.5, 0.125, None, *valid),
        ("a", 3, "truck", None, 0.8, 1440.0, 0.0, 1920.0, 270.0, 0.75, 0.0, 0.25, 0.25, 0.0625, None, *valid),
        ("b", 0, "dog", 18, 0.9, 960.0, 270.0, 1920.0, 810.0, 0.5, 0.25, 0.5, 0.5, 0.25, "t1", *valid),
        ("b", 1, "racoon", 91, 0.85, 0.0, 0.0, 960.0, 540.0, 0.0, 0.0, 0.5, 0.5, 0.25, "t2", *valid),
        ("b", 3, "class-64", 64, 0.75, 960.0, 540.0, 1440.0, 675.0, 0.5, 0.5, 0.25, 0.125, 0.03125, None, *valid),
        ("b_short", 0, "cat", 17, 0.6, None, 0.0, None, 1080.0, 0.0, 0.0, 1.0, 1.0, 1.0, None, *invalid),
        ("b_short", 1, "car", 3, 0.7, None, 540.0, None, 1080.0, 0.25, 0.5, 0.5, 0.5, 0.25, None, *invalid),
    ]
    assert actual_df.columns == ["frame_key", *OBJECT_FIELDS, *OBJECT_TAIL]
    assert actual_df.schema.simpleString() == silver.OBJECTS.simpleString()


def test_build_objects_score_floor_is_inclusive_and_configurable(spark: SparkSession) -> None:
    prepared = _prepared(spark, [("b", PATH, SHAPE_B), ("a", PATH, SHAPE_A)])
    at_85 = sorted((r["frame_key"], r["det_idx"], r["score"]) for r in silver.build_objects(prepared, 0.85).collect())
    assert at_85 == [("a", 1, 0.91), ("b", 0, 0.9), ("b", 1, 0.85)]
    at_0 = sorted((r["frame_key"], r["det_idx"]) for r in silver.build_objects(prepared, 0.0).collect())
    assert at_0 == [("a", 0), ("a", 1), ("a", 2), ("a", 3), ("b", 0), ("b", 1), ("b", 2), ("b", 3)]


def test_build_objects_shape_a_without_image_size_keeps_pixels(spark: SparkSession) -> None:
    frame = _frame(
        image={"width": None, "height": None},
        predictions=[{"label": " CAT ", "confidence": 0.7, "x_min": -5, "y_min": 10, "x_max": 3000, "y_max": 20}],
    )
    rows = silver.build_objects(_prepared(spark, [("a", PATH, frame)]), MIN_SCORE).collect()
    # clipped at 0 only (the image's right edge is unknown); nothing normalised
    assert [tuple(r)[:15] for r in rows] == [
        ("a", 0, "cat", None, 0.7, 0.0, 10.0, 3000.0, 20.0, None, None, None, None, None, None)
    ]
    assert [r["is_valid_image"] for r in rows] == [False]


def test_detections_shape_b_without_num_detections_uses_array_sizes(spark: SparkSession) -> None:
    frame = _frame(detection_classes=[1.0, 16.0], detection_scores=[0.9, 0.8, 0.7], detection_boxes=[[0, 0, 1, 1]] * 3)
    rows = silver.build_objects(_prepared(spark, [("b", PATH, frame)]), MIN_SCORE).collect()
    assert [(r["det_idx"], r["label"], r["score"]) for r in rows] == [(0, "person", 0.9), (1, "bird", 0.8)]


def test_a_frame_with_one_score_above_1_gives_percentages_for_all_its_scores(spark: SparkSession) -> None:
    """A detector sends its scores all one way: beside a car at 87, a dog at 1 is 1 % (until Dec 5 it was read
    as certain, and alerted), a cat at 0.6 is 0.6 %. A frame whose scores are all at most 1 is read as 0-1."""

    def pred(label: str, confidence: float) -> dict:
        return {"label": label, "confidence": confidence, "x_min": 0, "y_min": 0, "x_max": 960, "y_max": 540}

    percent = _frame(predictions=[pred("car", 87), pred("dog", 1), pred("cat", 0.6)])
    fraction = _frame(predictions=[pred("dog", 1), pred("cat", 0.6)])
    shape_b = _frame(
        num_detections=2,
        detection_classes=[18.0, 17.0],
        detection_scores=[1.0, 64.0],
        detection_boxes=[[0, 0, 1, 1]] * 2,
    )
    prepared = _prepared(spark, [("percent", PATH, percent), ("fraction", PATH, fraction), ("b", PATH, shape_b)])
    rows = silver.build_objects(prepared, 0.0).collect()
    assert sorted((r["frame_key"], r["label"], r["score"]) for r in rows) == [
        ("b", "cat", 0.64),
        ("b", "dog", 0.01),
        ("fraction", "cat", 0.6),
        ("fraction", "dog", 1.0),
        ("percent", "car", 0.87),
        ("percent", "cat", 0.006),
        ("percent", "dog", 0.01),
    ]
    counts = {r["frame_key"]: r["object_count"] for r in silver.build_frames(prepared, MIN_SCORE).collect()}
    assert counts == {"percent": 1, "fraction": 2, "b": 1}


def test_area_fraction_of_a_pixel_box_is_its_pixels_over_the_images(spark: SparkSession) -> None:
    """A shape A box of 100 x 50 px in a 1000 x 500 image is 1 % wherever it is: its area is its pixels over the
    image's ((x_max - x_min) * (y_max - y_min) / (width * height)). Until Dec 5 each corner was divided by the
    image size and then subtracted: 0.010000000000000002 at (0, 0), 0.009999999999999998 at (100, 100), and a
    rule with min_area_fraction 0.01 took one and not the other."""

    def pred(x: int, y: int) -> dict:
        return {"label": "person", "confidence": 0.9, "x_min": x, "y_min": y, "x_max": x + 100, "y_max": y + 50}

    frame = _frame(image={"width": 1000, "height": 500}, predictions=[pred(0, 0), pred(100, 100), pred(900, 450)])
    rows = silver.build_objects(_prepared(spark, [("a", PATH, frame)]), MIN_SCORE).collect()
    # det_idx, x, y, w, h, area_fraction
    assert sorted((r["det_idx"], r["x"], r["y"], r["w"], r["h"], r["area_fraction"]) for r in rows) == [
        (0, 0.0, 0.0, 0.1, 0.1, 0.01),
        (1, 0.1, 0.2, 0.1, 0.1, 0.01),
        (2, 0.9, 0.9, 0.1, 0.1, 0.01),
    ]


def test_a_failed_inference_has_no_objects(spark: SparkSession) -> None:
    """A frame whose detector says ``success: false`` has no objects, whatever its ``predictions`` hold (until
    Dec 5 a dog at 0.9 beside "inference timeout" was an object and alerted); its ``detector_error`` says so, with
    the detector's error text or, without one, that the inference failed. Its predictions are not read, so a
    score of 250 in them does not quarantine it."""
    dog = {"label": "dog", "confidence": 0.9, "x_min": 0, "y_min": 0, "x_max": 960, "y_max": 540}
    rows = [
        ("timeout", PATH, _frame(success=False, error="inference timeout", predictions=[dog])),
        ("silent", PATH, _frame(success=False, predictions=[dog, {**dog, "confidence": 250}])),
        ("blank", PATH, _frame(success=False, error=" ", predictions=[])),
        ("ok", PATH, _frame(success=True, predictions=[dog])),
        # the detector's text is prose: addresses, GUIDs and document numbers in it go (until Dec 7 kept)
        ("pii", PATH, _frame(success=False, error="failed for ana@example.org on 10.1.2.3 doc 1023456789")),
    ]
    prepared = _prepared(spark, rows)
    objects = silver.build_objects(prepared, MIN_SCORE).collect()
    assert [(r["frame_key"], r["label"]) for r in objects] == [("ok", "dog")]
    frames = _by_key(silver.build_frames(prepared, MIN_SCORE), "detector_error", "object_count")
    assert frames == {
        "timeout": ("inference timeout", 0),
        "silent": ("inference failed (success: false, no error given)", 0),
        "blank": ("inference failed (success: false, no error given)", 0),
        "ok": (None, 1),
        "pii": ("failed for <e-mail> on <ip address> doc <number>", 0),
    }
    checked = silver.with_detections_checked(
        _input(spark, rows).select(
            "frame_key", "frame", *[F.lit(None).cast("string").alias(c) for c in ("reason", "detail")]
        )
    )
    assert _by_key(checked, "reason") == {k: (None,) for k in ("timeout", "silent", "blank", "ok", "pii")}


BOXES = [[0.0, 0.0, 1.0, 1.0]] * 2


def test_scores_neither_0_1_nor_percentages_quarantine_the_frame(spark: SparkSession) -> None:
    """A score above 100 or below 0 has no reading: the frame is ``out_of_range`` (until Dec 5 a score of 250 was
    read as 2.5 and failed the objects' range check, which stopped gold); a box without its four numbers has no
    reading either (it made a box of no area), nor a detection with a score and no label. Padding past
    num_detections is not looked at; a frame that already has a reason keeps it."""
    rows = [
        ("above", _frame(predictions=[{"label": "dog", "confidence": 250}, {"label": "cat", "confidence": 90}])),
        (
            "below",
            _frame(
                num_detections=2, detection_classes=[1.0, 3.0], detection_scores=[0.5, -0.25], detection_boxes=BOXES
            ),
        ),
        (
            "padding",
            _frame(
                num_detections=1,
                detection_classes=[1.0, 3.0],
                detection_scores=[0.5, 250.0],
                detection_boxes=[[0.0, 0.0, 1.0, 1.0], [0.1]],
            ),
        ),
        (
            "short_box",
            _frame(
                num_detections=2,
                detection_classes=[1.0, 3.0],
                detection_scores=[0.5, 0.7],
                detection_boxes=[[0.0, 0.0, 1.0, 1.0], [0.1, 0.1]],
            ),
        ),
        (
            "null_in_box",
            _frame(
                num_detections=1,
                detection_classes=[18.0],
                detection_scores=[0.9],
                detection_boxes=[[0.1, None, 0.5, 0.5]],
            ),
        ),
        # a detection with a score and no label made an object without one, which the objects' check refuses:
        # gold stopped at it, run after run
        ("no_label", _frame(predictions=[{"label": "dog", "confidence": 90}, {"confidence": 80, "x_min": 3}])),
        (
            "null_class",
            _frame(num_detections=1, detection_classes=[None], detection_scores=[0.95], detection_boxes=BOXES),
        ),
        # without a score it is no object at any min_score; past num_detections it is not read
        ("no_label_no_score", _frame(predictions=[{"label": "dog", "confidence": 90}, {"x_min": 3}, None])),
        (
            "null_class_padding",
            _frame(num_detections=1, detection_classes=[1.0, None], detection_scores=[0.9, 0.8], detection_boxes=BOXES),
        ),
        ("ok", _frame(predictions=[{"label": "dog", "confidence": 100}])),
    ]
    df = _input(spark, [(key, PATH, raw) for key, raw in rows]).select(
        "frame_key",
        "frame",
        F.when(F.col("frame_key") == "ok", F.lit("missing_field")).alias("reason"),
        F.when(F.col("frame_key") == "ok", F.lit("missing: x")).alias("detail"),
    )
    assert _by_key(silver.with_detections_checked(df), "reason", "detail") == {
        "above": ("out_of_range", "a detection score of 250.0 is above 100"),
        "below": ("out_of_range", "a detection score of -0.25 is below 0"),
        "padding": (None, None),
        "short_box": ("schema_mismatch", "wrong type: detection_boxes (a box of 2 numbers, 4 expected)"),
        "null_in_box": ("schema_mismatch", "wrong type: detection_boxes (a box with a null number)"),
        "no_label": ("missing_field", "missing: predictions.label (a detection with a score and no label)"),
        "null_class": ("missing_field", "missing: detection_classes (a detection with a score and no class)"),
        "no_label_no_score": (None, None),
        "null_class_padding": (None, None),
        "ok": ("missing_field", "missing: x"),
    }


FRAME_COLUMNS = (
    "frame_key",
    "source_path",
    "image_uri",
    "user_id",
    "device_id",
    "site_id",
    "captured_at",
    "local_tz_offset_min",
    "image_format",
    "image_width",
    "image_height",
    "image_size_bytes",
    "image_contrast",
    "image_brightness",
    "detector_name",
    "detector_version",
    "detector_shape",
    "detector_error",
    "inference_ms",
    "object_count",
)


def test_build_frames_valid_images_with_detector_facts(spark: SparkSession) -> None:
    actual_df = silver.build_frames(_prepared(spark, DETECTION_ROWS), MIN_SCORE)
    assert actual_df.columns == [*FRAME_COLUMNS, "ingested_at", "event_date"]
    assert actual_df.schema.simpleString() == silver.FRAMES.simpleString()
    rows = {r["frame_key"]: r for r in actual_df.collect()}
    assert sorted(rows) == ["a", "a_empty", "a_failed", "b", "none"]
    assert tuple(_utc(v) for v in rows["b"]) == (
        "b",
        PATH,
        "s3://collector/u-0042-cam-03/a.jpg",
        "u-0042",
        "cam-03",
        "site-07",
        NAME_TS,
        60,
        "jpeg",
        1920,
        1080,
        412331,
        0.41,
        0.38,
        "ssd_mobilenet_v2_coco",
        "2.4.1",
        "B",
        None,
        41.5,
        3,
        INGESTED,
        D_1130,
    )
    facts = {
        k: (r["detector_shape"], r["detector_error"], r["inference_ms"], r["object_count"]) for k, r in rows.items()
    }
    assert facts == {
        "b": ("B", None, 41.5, 3),
        "a": ("A", None, 38.0, 3),
        "a_failed": ("A", "model not loaded", 2.0, 0),
        "a_empty": ("A", None, None, 0),
        "none": (None, None, None, 0),
    }


def test_build_invalid_images_with_reasons(spark: SparkSession) -> None:
    rows = [
        *DETECTION_ROWS,
        ("gif", PATH, _frame(image={"format": "GIF"}, user_id=DELETE, success=False, error="bad image")),
    ]
    actual_df = silver.build_invalid_images(_prepared(spark, rows), MIN_SCORE)
    assert actual_df.columns == [*FRAME_COLUMNS, "reasons", "ingested_at", "event_date"]
    assert actual_df.schema.simpleString() == silver.INVALID_IMAGES.simpleString()
    actual = _by_key(actual_df, "user_id", "image_format", "image_width", "detector_shape", "object_count", "reasons")
    assert actual == {
        "b_short": ("u-0042", "jpeg", None, "B", 2, ["min_resolution"]),
        "gif": (None, "gif", 1920, "A", 0, ["format", "missing_user_tag"]),
    }
    assert tuple(_utc(v) for v in actual_df.where("frame_key = 'gif'").first()) == Row(
        frame_key="gif",
        source_path=PATH,
        image_uri="s3://collector/u-0042-cam-03/a.jpg",
        user_id=None,
        device_id="cam-03",
        site_id="site-07",
        captured_at=NAME_TS,
        local_tz_offset_min=60,
        image_format="gif",
        image_width=1920,
        image_height=1080,
        image_size_bytes=412331,
        image_contrast=0.41,
        image_brightness=0.38,
        detector_name="ssd_mobilenet_v2_coco",
        detector_version="2.4.1",
        detector_shape="A",
        detector_error="bad image",
        inference_ms=None,
        object_count=0,
        reasons=["format", "missing_user_tag"],
        ingested_at=INGESTED,
        event_date=D_1130,
    )
