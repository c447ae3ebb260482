"""Tests of visionlake.sources.alpr.silver: event time, frame key and the silver table builders."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from chispa import assert_column_equality, assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.sources.alpr import silver
from visionlake.sources.alpr.schema import PLATE, RESULT

UTC = UTC
TS1 = datetime(2022, 5, 2, 7, 15, 49, 999546, tzinfo=UTC)
TS2 = datetime(2022, 5, 3, 8, 0, 0, tzinfo=UTC)
D1 = date(2022, 5, 2)
D2 = date(2022, 5, 3)


def _field(name: str, kind: T.DataType) -> T.StructField:
    return T.StructField(name, kind)


EVENT_FIELDS = [
    _field("camera_id", T.StringType()),
    _field("event_ts", T.TimestampType()),
    _field("event_date", T.DateType()),
]
BOX_FIELDS = [
    _field("box", T.ArrayType(T.DoubleType())),
    _field("box_xmin", T.DoubleType()),
    _field("box_ymin", T.DoubleType()),
    _field("box_xmax", T.DoubleType()),
    _field("box_ymax", T.DoubleType()),
]

# ------------------------------------------------------------------------------------------------
# element JSON written by hand (structure as the SDK emits it, values invented)

PLATE_AND_CAR = (
    '{"car":{"bodyStyle":[{"confidence":81.5,"klass":9,"name":"sedan"},{"confidence":10.5,"klass":4,"name":"hatchback"}],'
    '"color":[{"confidence":93.5,"klass":0,"name":"black"},{"confidence":4.5,"klass":1,"name":"blue"},'
    '{"confidence":1.07e-08,"klass":4,"name":"gray"}],'
    '"confidence":99.5,'
    '"makeModelYear":[{"confidence":48.5,"klass":2104,"make":"volkswagen","model":"passat","year":2015},'
    '{"confidence":21.0,"klass":2098,"make":"volkswagen","model":"jetta","year":"0-9"}],'
    '"warpedBox":[212.5,301.5,998.5,301.5,998.5,842.0,212.5,842.0]},'
    '"confidences":[88.5,99.5,90.0,88.5,91.0,95.0],'
    '"country":[{"code":"USA","confidence":97.5,"klass":84,"name":"United States of America","state":"Texas"},'
    '{"code":"RUS","confidence":1.5,"klass":70,"name":"Russia","other":"Private vehicle"},'
    '{"code":"FRA","confidence":0.5,"klass":35,"name":"France"}],'
    '"text":"AB12","warpedBox":[511.0,702.5,683.5,702.5,683.5,748.0,511.0,748.0]}'
)
CAR_ONLY = '{"car":{"confidence":91.5,"warpedBox":[880.0,240.5,1270.5,240.5,1270.5,590.5,880.0,590.5]}}'
# a trial build masks the last character; only 2 confidences (no OCR pass); the box leaves the image
MASKED_PLATE = (
    '{"confidences":[86.0,98.5],"text":"7XKM2*","warpedBox":[-12.5,700.0,80.0,698.0,82.0,1257.0,-10.0,1259.5]}'
)
PLATE_MINIMAL = '{"text":"*Z9"}'


def _elements(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """Element rows as ``explode_elements`` returns them; ``element`` is given as JSON text."""
    schema = T.StructType(
        [
            _field("frame_key", T.StringType()),
            *EVENT_FIELDS,
            _field("plate_idx", T.IntegerType()),
            _field("element_json", T.StringType()),
        ]
    )
    return spark.createDataFrame(rows, schema).select(
        "frame_key", *silver.EVENT_COLUMNS, "plate_idx", F.from_json("element_json", PLATE).alias("element")
    )


def _frames(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """Frame-level rows (frame_key, source_path, camera_id, event_ts, event_date, result); result given as JSON."""
    schema = T.StructType(
        [
            _field("frame_key", T.StringType()),
            _field("source_path", T.StringType()),
            *EVENT_FIELDS,
            _field("raw", T.StringType()),
        ]
    )
    return spark.createDataFrame(rows, schema).select(
        "frame_key", "source_path", *silver.EVENT_COLUMNS, F.from_json("raw", RESULT).alias("result")
    )


def _mixed_elements(spark: SparkSession) -> DataFrame:
    return _elements(
        spark,
        [
            ("k1", "cam1", TS1, D1, 0, PLATE_AND_CAR),
            ("k1", "cam1", TS1, D1, 1, CAR_ONLY),
            ("k1", "cam1", TS1, D1, 2, MASKED_PLATE),
        ],
    )


# ------------------------------------------------------------------------------------------------
# event time


def test_file_name_time_parses_sdk_file_name(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("s3a://lake/raw/cam1/12_05.02.2022.07.15.49.999546.json", TS1),
            ("/data/cam2/0_12.31.2021.23.59.59.000001.json", datetime(2021, 12, 31, 23, 59, 59, 1, tzinfo=UTC)),
        ],
        T.StructType([_field("path", T.StringType()), _field("expected_ts", T.TimestampType())]),
    )
    actual_df = source_df.withColumn("actual_ts", silver.file_name_time(F.col("path")))
    assert_column_equality(actual_df, "actual_ts", "expected_ts")


def test_file_name_time_null_without_time_in_name(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("/data/cam1/frame.json", None),
            ("/data/cam1/12_13.45.2022.07.15.49.999546.json", None),  # month 13 does not exist
            ("/data/cam1/12_05.02.2022.07.15.49.999546.json.tmp", None),  # not a .json name
            ("/data/cam1/12_12.31.1899.07.15.49.999546.json", None),  # before 1900: Spark would not read it back
            ("/data/cam1/7_02.29.1500.10.00.00.000000.json", None),  # a Julian leap day: Spark's parser threw
            ("/data/cam1/12_02.29.0400.07.15.49.999546.json", None),
            (None, None),
        ],
        T.StructType([_field("path", T.StringType()), _field("expected_ts", T.TimestampType())]),
    )
    actual_df = source_df.withColumn("actual_ts", silver.file_name_time(F.col("path")))
    assert_column_equality(actual_df, "actual_ts", "expected_ts")


def test_iso_time_without_offset_is_utc(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("2022-05-02T07:15:49.999546", TS1),
            ("2022-05-03T08:00:00", TS2),
        ],
        T.StructType([_field("text", T.StringType()), _field("expected_ts", T.TimestampType())]),
    )
    actual_df = source_df.withColumn("actual_ts", silver.iso_time(F.col("text")))
    assert_column_equality(actual_df, "actual_ts", "expected_ts")


def test_iso_time_converts_offset_to_utc(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("2022-05-02T09:15:49.999546+02:00", TS1),
            ("2022-05-03T08:00:00Z", TS2),
            ("2022-05-02T23:30:00-02:00", datetime(2022, 5, 3, 1, 30, tzinfo=UTC)),
            ("1899-12-31T23:30:00-01:00", datetime(1900, 1, 1, 0, 30, tzinfo=UTC)),
            ("9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ],
        T.StructType([_field("text", T.StringType()), _field("expected_ts", T.TimestampType())]),
    )
    actual_df = source_df.withColumn("actual_ts", silver.iso_time(F.col("text")))
    assert_column_equality(actual_df, "actual_ts", "expected_ts")


def test_iso_time_unparseable_is_null(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("not a time", None),
            ("", None),
            ("2022-13-45T00:00:00", None),
            (None, None),
            # out of the years 1900-9999 UTC (until Dec 6 year 10000 stopped every later run)
            ("1899-12-31T23:59:59.999999Z", None),
            ("9999-12-31T23:00:00-05:00", None),
            ("+10000-01-01T00:00:00Z", None),
        ],
        T.StructType([_field("text", T.StringType()), _field("expected_ts", T.TimestampType())]),
    )
    actual_df = source_df.withColumn("actual_ts", silver.iso_time(F.col("text")))
    assert_column_equality(actual_df, "actual_ts", "expected_ts")


EVENT_SOURCE_SCHEMA = T.StructType(
    [
        _field("result", T.StructType([_field("timestamp", T.StringType())])),
        _field("source_path", T.StringType()),
        _field("modified_at", T.TimestampType()),
    ]
)
EVENT_EXPECTED_SCHEMA = T.StructType(
    [*EVENT_SOURCE_SCHEMA.fields, _field("event_ts", T.TimestampType()), _field("event_date", T.DateType())]
)
NAME_WITH_TIME = "/raw/cam1/7_05.03.2022.08.00.00.000000.json"
MTIME = datetime(2022, 6, 1, 12, 0, tzinfo=UTC)


def test_with_event_time_uses_timestamp_without_offset_as_utc(spark: SparkSession) -> None:
    source_df = spark.createDataFrame([(("2022-05-02T07:15:49.999546",), NAME_WITH_TIME, MTIME)], EVENT_SOURCE_SCHEMA)
    actual_df = silver.with_event_time(source_df)
    expected_df = spark.createDataFrame(
        [(("2022-05-02T07:15:49.999546",), NAME_WITH_TIME, MTIME, TS1, D1)], EVENT_EXPECTED_SCHEMA
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_event_time_converts_timestamp_offset(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [(("2022-05-02T09:15:49.999546+02:00",), NAME_WITH_TIME, MTIME)], EVENT_SOURCE_SCHEMA
    )
    actual_df = silver.with_event_time(source_df)
    expected_df = spark.createDataFrame(
        [(("2022-05-02T09:15:49.999546+02:00",), NAME_WITH_TIME, MTIME, TS1, D1)], EVENT_EXPECTED_SCHEMA
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_event_time_falls_back_to_file_name_time(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ((None,), NAME_WITH_TIME, MTIME),
            (None, NAME_WITH_TIME, MTIME),  # no parsed result at all (a rejected file)
        ],
        EVENT_SOURCE_SCHEMA,
    )
    actual_df = silver.with_event_time(source_df)
    expected_df = spark.createDataFrame(
        [
            ((None,), NAME_WITH_TIME, MTIME, TS2, D2),
            (None, NAME_WITH_TIME, MTIME, TS2, D2),
        ],
        EVENT_EXPECTED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_event_time_falls_back_to_modified_at(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ((None,), "/raw/cam1/frame.json", MTIME),
            (None, "/raw/cam1/frame.json", MTIME),
        ],
        EVENT_SOURCE_SCHEMA,
    )
    actual_df = silver.with_event_time(source_df)
    expected_df = spark.createDataFrame(
        [
            ((None,), "/raw/cam1/frame.json", MTIME, MTIME, date(2022, 6, 1)),
            (None, "/raw/cam1/frame.json", MTIME, MTIME, date(2022, 6, 1)),
        ],
        EVENT_EXPECTED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_event_time_bad_timestamp_falls_back(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            (("yesterday",), NAME_WITH_TIME, MTIME),
            (("",), "/raw/cam1/frame.json", MTIME),
        ],
        EVENT_SOURCE_SCHEMA,
    )
    actual_df = silver.with_event_time(source_df)
    expected_df = spark.createDataFrame(
        [
            (("yesterday",), NAME_WITH_TIME, MTIME, TS2, D2),
            (("",), "/raw/cam1/frame.json", MTIME, MTIME, date(2022, 6, 1)),
        ],
        EVENT_EXPECTED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_event_time_event_date_is_utc_date(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            (("2022-05-02T23:30:00-02:00",), NAME_WITH_TIME, MTIME),  # 01:30 UTC on the next day
            (("2022-05-03T00:30:00+02:00",), NAME_WITH_TIME, MTIME),  # 22:30 UTC on the previous day
        ],
        EVENT_SOURCE_SCHEMA,
    )
    actual_df = silver.with_event_time(source_df)
    expected_df = spark.createDataFrame(
        [
            (("2022-05-02T23:30:00-02:00",), NAME_WITH_TIME, MTIME, datetime(2022, 5, 3, 1, 30, tzinfo=UTC), D2),
            (("2022-05-03T00:30:00+02:00",), NAME_WITH_TIME, MTIME, datetime(2022, 5, 2, 22, 30, tzinfo=UTC), D1),
        ],
        EVENT_EXPECTED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------------------------------------
# frame key


def _sha256_key(camera_id: str, name: str, sha256: str) -> str:
    """Independent oracle: first 32 hex chars of sha256("camera\\x00name\\x00sha")."""
    return hashlib.sha256(f"{camera_id}\x00{name}\x00{sha256}".encode()).hexdigest()[:32]


SHA_A = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SHA_B = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
KEY_SOURCE_SCHEMA = T.StructType(
    [
        _field("camera_id", T.StringType()),
        _field("source_path", T.StringType()),
        _field("sha256", T.StringType()),
        _field("expected", T.StringType()),
    ]
)


def test_frame_key_is_sha256_of_camera_name_and_content(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            (
                "cam1",
                "s3a://lake/raw/cam1/12_05.02.2022.07.15.49.999546.json",
                SHA_A,
                _sha256_key("cam1", "12_05.02.2022.07.15.49.999546.json", SHA_A),
            ),
            ("cam-2", "frame.json", SHA_B, _sha256_key("cam-2", "frame.json", SHA_B)),  # a bare name, no folder
        ],
        KEY_SOURCE_SCHEMA,
    )
    actual_df = source_df.withColumn(
        "actual", silver.frame_key(F.col("camera_id"), F.col("source_path"), F.col("sha256"))
    )
    assert_column_equality(actual_df, "actual", "expected")


def test_frame_key_is_32_hex_chars(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("cam1", "/raw/cam1/1.json", SHA_A, True),
            ("cam1", "/raw/cam1/1.json", None, True),  # unreadable file: no content digest
        ],
        T.StructType([*KEY_SOURCE_SCHEMA.fields[:3], _field("expected", T.BooleanType())]),
    )
    actual_df = source_df.withColumn(
        "actual",
        silver.frame_key(F.col("camera_id"), F.col("source_path"), F.col("sha256")).rlike("^[0-9a-f]{32}$"),
    )
    assert_column_equality(actual_df, "actual", "expected")


PAIR_SCHEMA = T.StructType(
    [
        _field("camera_a", T.StringType()),
        _field("path_a", T.StringType()),
        _field("sha_a", T.StringType()),
        _field("camera_b", T.StringType()),
        _field("path_b", T.StringType()),
        _field("sha_b", T.StringType()),
        _field("expected_same", T.BooleanType()),
    ]
)


def _with_same_key(source_df: DataFrame) -> DataFrame:
    key_a = silver.frame_key(F.col("camera_a"), F.col("path_a"), F.col("sha_a"))
    key_b = silver.frame_key(F.col("camera_b"), F.col("path_b"), F.col("sha_b"))
    return source_df.withColumn("actual_same", key_a == key_b)


def test_frame_key_same_for_same_file_under_other_root(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("cam1", "s3a://lake/raw/cam1/1.json", SHA_A, "cam1", "/mnt/backup/2022/cam1/1.json", SHA_A, True),
            ("cam1", "/a/1.json", SHA_A, "cam1", "1.json", SHA_A, True),
        ],
        PAIR_SCHEMA,
    )
    actual_df = _with_same_key(source_df)
    assert_column_equality(actual_df, "actual_same", "expected_same")


def test_frame_key_differs_when_camera_differs(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [("cam1", "/raw/cam1/1.json", SHA_A, "cam2", "/raw/cam1/1.json", SHA_A, False)], PAIR_SCHEMA
    )
    actual_df = _with_same_key(source_df)
    assert_column_equality(actual_df, "actual_same", "expected_same")


def test_frame_key_differs_when_name_differs(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("cam1", "/raw/cam1/1.json", SHA_A, "cam1", "/raw/cam1/2.json", SHA_A, False),
            ("cam1", "/raw/cam1/1.json", SHA_A, "cam1", "/raw/cam1/1.JSON", SHA_A, False),
        ],
        PAIR_SCHEMA,
    )
    actual_df = _with_same_key(source_df)
    assert_column_equality(actual_df, "actual_same", "expected_same")


def test_frame_key_differs_when_content_differs(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [("cam1", "/raw/cam1/1.json", SHA_A, "cam1", "/raw/cam1/1.json", SHA_B, False)], PAIR_SCHEMA
    )
    actual_df = _with_same_key(source_df)
    assert_column_equality(actual_df, "actual_same", "expected_same")


def test_with_frame_key_adds_frame_key(spark: SparkSession) -> None:
    schema = T.StructType(KEY_SOURCE_SCHEMA.fields[:3])
    source_df = spark.createDataFrame(
        [("cam1", "/raw/cam1/1.json", SHA_A), ("cam2", "/raw/cam2/1.json", SHA_A)], schema
    )
    actual_df = silver.with_frame_key(source_df)
    expected_df = spark.createDataFrame(
        [
            ("cam1", "/raw/cam1/1.json", SHA_A, _sha256_key("cam1", "1.json", SHA_A)),
            ("cam2", "/raw/cam2/1.json", SHA_A, _sha256_key("cam2", "1.json", SHA_A)),
        ],
        T.StructType([*schema.fields, _field("frame_key", T.StringType())]),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------------------------------------
# frames

FRAMES_SCHEMA = T.StructType(
    [
        _field("frame_key", T.StringType()),
        _field("source_path", T.StringType()),
        _field("frame_id", T.LongType()),
        _field("duration_ms", T.LongType()),
        _field("latency", T.LongType()),
        _field("plate_count", T.IntegerType()),
        _field("car_count", T.IntegerType()),
        *EVENT_FIELDS,
    ]
)


def test_build_frames_counts_plates_and_cars(spark: SparkSession) -> None:
    source_df = _frames(
        spark,
        [
            (
                "k1",
                "/raw/cam1/7.json",
                "cam1",
                TS1,
                D1,
                f'{{"duration":84,"frame_id":7,"plates":[{PLATE_AND_CAR},{CAR_ONLY},{MASKED_PLATE}]}}',
            ),
            ("k2", "/raw/cam2/412.json", "cam2", TS2, D2, '{"duration":38,"frame_id":412}'),  # no plates key
            ("k3", "/raw/cam2/413.json", "cam2", TS2, D2, '{"duration":33,"frame_id":413,"plates":[]}'),
        ],
    )
    actual_df = silver.build_frames(source_df)
    expected_df = spark.createDataFrame(
        [
            # elements: plate+car, car only, plate only -> 2 with text, 2 with a car
            ("k1", "/raw/cam1/7.json", 7, 84, None, 2, 2, "cam1", TS1, D1),
            ("k2", "/raw/cam2/412.json", 412, 38, None, 0, 0, "cam2", TS2, D2),
            ("k3", "/raw/cam2/413.json", 413, 33, None, 0, 0, "cam2", TS2, D2),
        ],
        FRAMES_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_frames_parallel_mode_has_null_duration_and_latency(spark: SparkSession) -> None:
    source_df = _frames(
        spark,
        [
            ("k1", "/raw/cam1/1203.json", "cam1", TS1, D1, f'{{"frame_id":1203,"lantency":1,"plates":[{CAR_ONLY}]}}'),
            ("k2", "/raw/cam1/99.json", "cam1", TS1, D1, '{"duration":53,"frame_id":99,"latency":0}'),
        ],
    )
    actual_df = silver.build_frames(source_df)
    expected_df = spark.createDataFrame(
        [
            ("k1", "/raw/cam1/1203.json", 1203, None, 1, 0, 1, "cam1", TS1, D1),
            ("k2", "/raw/cam1/99.json", 99, 53, 0, 0, 0, "cam1", TS1, D1),
        ],
        FRAMES_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------------------------------------
# elements and plates


def test_explode_elements_one_row_per_element_with_position(spark: SparkSession) -> None:
    source_df = _frames(
        spark,
        [
            (
                "k1",
                "/raw/cam1/7.json",
                "cam1",
                TS1,
                D1,
                f'{{"duration":84,"frame_id":7,"plates":[{PLATE_AND_CAR},{CAR_ONLY},{MASKED_PLATE}]}}',
            ),
            ("k2", "/raw/cam2/412.json", "cam2", TS2, D2, '{"duration":38,"frame_id":412}'),  # no element
        ],
    )
    actual_df = silver.explode_elements(source_df).select(
        "frame_key",
        *silver.EVENT_COLUMNS,
        "plate_idx",
        F.col("element.text").alias("text"),
        F.col("element.car.confidence").alias("car_confidence"),
    )
    expected_df = spark.createDataFrame(
        [
            ("k1", "cam1", TS1, D1, 0, "AB12", 99.5),
            ("k1", "cam1", TS1, D1, 1, None, 91.5),
            ("k1", "cam1", TS1, D1, 2, "7XKM2*", None),
        ],
        T.StructType(
            [
                _field("frame_key", T.StringType()),
                *EVENT_FIELDS,
                _field("plate_idx", T.IntegerType()),
                _field("text", T.StringType()),
                _field("car_confidence", T.DoubleType()),
            ]
        ),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


PLATES_SCHEMA = T.StructType(
    [
        _field("frame_key", T.StringType()),
        _field("plate_idx", T.IntegerType()),
        _field("plate_text", T.StringType()),
        _field("ocr_confidence", T.DoubleType()),
        _field("detection_confidence", T.DoubleType()),
        _field("char_confidences", T.ArrayType(T.DoubleType())),
        _field("is_masked", T.BooleanType()),
        *BOX_FIELDS,
        *EVENT_FIELDS,
    ]
)


def test_build_plates_one_row_per_element_with_text(spark: SparkSession) -> None:
    source_df = _mixed_elements(spark)
    actual_df = silver.build_plates(source_df)
    plate_box = [511.0, 702.5, 683.5, 702.5, 683.5, 748.0, 511.0, 748.0]
    masked_box = [-12.5, 700.0, 80.0, 698.0, 82.0, 1257.0, -10.0, 1259.5]
    expected_df = spark.createDataFrame(
        [
            (
                "k1",
                0,
                "AB12",
                88.5,
                99.5,
                [90.0, 88.5, 91.0, 95.0],
                False,
                plate_box,
                511.0,
                702.5,
                683.5,
                748.0,
                "cam1",
                TS1,
                D1,
            ),
            # plate_idx 1 is a car without a plate: no row
            ("k1", 2, "7XKM2*", 86.0, 98.5, [], True, masked_box, -12.5, 698.0, 82.0, 1259.5, "cam1", TS1, D1),
        ],
        PLATES_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_plates_splits_confidences(spark: SparkSession) -> None:
    source_df = _elements(
        spark,
        [
            ("k1", "cam1", TS1, D1, 0, '{"confidences":[88.5,99.5,90.0,88.5,91.0,95.0],"text":"AB12"}'),
            ("k1", "cam1", TS1, D1, 1, '{"confidences":[86.0,98.5],"text":"CD34"}'),  # no OCR pass yet
            ("k1", "cam1", TS1, D1, 2, '{"confidences":[70.0,99.0,70.0],"text":"E"}'),
            ("k1", "cam1", TS1, D1, 3, PLATE_MINIMAL),  # no confidences at all
        ],
    )
    actual_df = silver.build_plates(source_df).select(
        "plate_idx", "ocr_confidence", "detection_confidence", "char_confidences"
    )
    expected_df = spark.createDataFrame(
        [
            (0, 88.5, 99.5, [90.0, 88.5, 91.0, 95.0]),
            (1, 86.0, 98.5, []),
            (2, 70.0, 99.0, [70.0]),
            (3, None, None, None),
        ],
        T.StructType(
            [
                _field("plate_idx", T.IntegerType()),
                _field("ocr_confidence", T.DoubleType()),
                _field("detection_confidence", T.DoubleType()),
                _field("char_confidences", T.ArrayType(T.DoubleType())),
            ]
        ),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_plates_masked_when_text_ends_with_star(spark: SparkSession) -> None:
    source_df = _elements(
        spark,
        [
            ("k1", "cam1", TS1, D1, 0, '{"text":"AB12"}'),
            ("k1", "cam1", TS1, D1, 1, '{"text":"7XKM2*"}'),
            ("k1", "cam1", TS1, D1, 2, PLATE_MINIMAL),  # a star that is not the last character
            ("k1", "cam1", TS1, D1, 3, '{"text":"\\uc11c\\uc6b812\\uac00*"}'),  # Korean text, masked
        ],
    )
    actual_df = silver.build_plates(source_df).select("plate_idx", "plate_text", "is_masked")
    expected_df = spark.createDataFrame(
        [(0, "AB12", False), (1, "7XKM2*", True), (2, "*Z9", False), (3, "서울12가*", True)],
        T.StructType(
            [
                _field("plate_idx", T.IntegerType()),
                _field("plate_text", T.StringType()),
                _field("is_masked", T.BooleanType()),
            ]
        ),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_plates_box_bounds(spark: SparkSession) -> None:
    source_df = _elements(
        spark,
        [
            # a box that leaves the image (negative x, y past 1080) and is not axis-aligned
            ("k1", "cam1", TS1, D1, 0, MASKED_PLATE),
            # corners listed counter-clockwise
            ("k1", "cam1", TS1, D1, 1, '{"text":"B","warpedBox":[10.0,50.0,10.0,20.0,40.0,20.0,40.0,50.0]}'),
            ("k1", "cam1", TS1, D1, 2, PLATE_MINIMAL),  # no box
        ],
    )
    actual_df = silver.build_plates(source_df).select("plate_idx", *[f.name for f in BOX_FIELDS])
    expected_df = spark.createDataFrame(
        [
            (0, [-12.5, 700.0, 80.0, 698.0, 82.0, 1257.0, -10.0, 1259.5], -12.5, 698.0, 82.0, 1259.5),
            (1, [10.0, 50.0, 10.0, 20.0, 40.0, 20.0, 40.0, 50.0], 10.0, 20.0, 40.0, 50.0),
            (2, None, None, None, None, None),
        ],
        T.StructType([_field("plate_idx", T.IntegerType()), *BOX_FIELDS]),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------------------------------------
# cars and classifiers

CARS_SCHEMA = T.StructType(
    [
        _field("frame_key", T.StringType()),
        _field("plate_idx", T.IntegerType()),
        _field("has_plate", T.BooleanType()),
        _field("car_confidence", T.DoubleType()),
        *BOX_FIELDS,
        *EVENT_FIELDS,
    ]
)


def test_build_cars_one_row_per_element_with_car(spark: SparkSession) -> None:
    source_df = _mixed_elements(spark)
    actual_df = silver.build_cars(source_df)
    expected_df = spark.createDataFrame(
        [
            (
                "k1",
                0,
                True,
                99.5,
                [212.5, 301.5, 998.5, 301.5, 998.5, 842.0, 212.5, 842.0],
                212.5,
                301.5,
                998.5,
                842.0,
                "cam1",
                TS1,
                D1,
            ),
            (
                "k1",
                1,
                False,
                91.5,
                [880.0, 240.5, 1270.5, 240.5, 1270.5, 590.5, 880.0, 590.5],
                880.0,
                240.5,
                1270.5,
                590.5,
                "cam1",
                TS1,
                D1,
            ),
            # plate_idx 2 is a plate without a car: no row
        ],
        CARS_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_cars_has_plate_false_for_car_only_element(spark: SparkSession) -> None:
    source_df = _elements(
        spark,
        [
            ("k1", "cam1", TS1, D1, 0, '{"car":{"confidence":99.0},"text":"AB12"}'),
            ("k1", "cam1", TS1, D1, 1, '{"car":{"confidence":95.0}}'),
            ("k1", "cam1", TS1, D1, 2, '{"car":{}}'),  # a car object with nothing in it
        ],
    )
    actual_df = silver.build_cars(source_df).select("plate_idx", "has_plate", "car_confidence")
    expected_df = spark.createDataFrame(
        [(0, True, 99.0), (1, False, 95.0), (2, False, None)],
        T.StructType(
            [
                _field("plate_idx", T.IntegerType()),
                _field("has_plate", T.BooleanType()),
                _field("car_confidence", T.DoubleType()),
            ]
        ),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


RANKED_FIELDS = [
    _field("frame_key", T.StringType()),
    _field("plate_idx", T.IntegerType()),
    _field("rank", T.IntegerType()),
    _field("klass", T.LongType()),
    _field("confidence", T.DoubleType()),
]


def test_build_car_colors_ranks_each_color(spark: SparkSession) -> None:
    source_df = _mixed_elements(spark)  # element 1 has a car without colours, element 2 no car
    actual_df = silver.build_car_colors(source_df)
    expected_df = spark.createDataFrame(
        [
            ("k1", 0, 1, 0, 93.5, "black", "cam1", TS1, D1),
            ("k1", 0, 2, 1, 4.5, "blue", "cam1", TS1, D1),
            ("k1", 0, 3, 4, 1.07e-08, "gray", "cam1", TS1, D1),
        ],
        T.StructType([*RANKED_FIELDS, _field("name", T.StringType()), *EVENT_FIELDS]),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_car_body_styles_ranks_each_style(spark: SparkSession) -> None:
    source_df = _mixed_elements(spark)
    actual_df = silver.build_car_body_styles(source_df)
    expected_df = spark.createDataFrame(
        [
            ("k1", 0, 1, 9, 81.5, "sedan", "cam1", TS1, D1),
            ("k1", 0, 2, 4, 10.5, "hatchback", "cam1", TS1, D1),
        ],
        T.StructType([*RANKED_FIELDS, _field("name", T.StringType()), *EVENT_FIELDS]),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_car_makes_ranks_each_make_with_year_as_string(spark: SparkSession) -> None:
    source_df = _mixed_elements(spark)
    actual_df = silver.build_car_makes(source_df)
    expected_df = spark.createDataFrame(
        [
            ("k1", 0, 1, 2104, 48.5, "volkswagen", "passat", "2015", "cam1", TS1, D1),
            ("k1", 0, 2, 2098, 21.0, "volkswagen", "jetta", "0-9", "cam1", TS1, D1),
        ],
        T.StructType(
            [
                *RANKED_FIELDS,
                _field("make", T.StringType()),
                _field("model", T.StringType()),
                _field("year", T.StringType()),
                *EVENT_FIELDS,
            ]
        ),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_plate_countries_ranks_each_country_with_optional_state_and_other(spark: SparkSession) -> None:
    source_df = _mixed_elements(spark)  # only element 0 has countries
    actual_df = silver.build_plate_countries(source_df)
    expected_df = spark.createDataFrame(
        [
            ("k1", 0, 1, 84, 97.5, "USA", "United States of America", "Texas", None, "cam1", TS1, D1),
            ("k1", 0, 2, 70, 1.5, "RUS", "Russia", None, "Private vehicle", "cam1", TS1, D1),
            ("k1", 0, 3, 35, 0.5, "FRA", "France", None, None, "cam1", TS1, D1),
        ],
        T.StructType(
            [
                *RANKED_FIELDS,
                _field("code", T.StringType()),
                _field("name", T.StringType()),
                _field("state", T.StringType()),
                _field("other", T.StringType()),
                *EVENT_FIELDS,
            ]
        ),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_frame_key_of_in_python_is_the_frame_key_column(spark):

    rows = [("cam-1", "/in/cam-1/2022-05-02/0_x.json", "ab" * 32), ("unknown", "s3a://b/loose.json", "cd" * 32)]
    df = spark.createDataFrame(rows, "camera_id string, source_path string, sha256 string")
    columns = [r.frame_key for r in silver.with_frame_key(df).collect()]
    by_hand = [
        hashlib.sha256(b"cam-1\x000_x.json\x00" + b"ab" * 32).hexdigest()[:32],
        hashlib.sha256(b"unknown\x00loose.json\x00" + b"cd" * 32).hexdigest()[:32],
    ]
    assert columns == by_hand
    assert [silver.frame_key_of(*row) for row in rows] == by_hand
