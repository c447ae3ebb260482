"""Tests of visionlake.sources.alpr.gold on silver-shaped frames written by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.sources.alpr import gold

UTC = UTC
D1 = date(2022, 5, 2)
D2 = date(2022, 5, 3)
TS1 = datetime(2022, 5, 2, 7, 0, tzinfo=UTC)
TS2 = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)


def _field(name: str, kind: T.DataType) -> T.StructField:
    return T.StructField(name, kind)


KEY_FIELDS = [_field("frame_key", T.StringType()), _field("plate_idx", T.IntegerType())]
EVENT_FIELDS = [
    _field("camera_id", T.StringType()),
    _field("event_ts", T.TimestampType()),
    _field("event_date", T.DateType()),
]
RANKED_FIELDS = [
    *KEY_FIELDS,
    _field("rank", T.IntegerType()),
    _field("klass", T.LongType()),
    _field("confidence", T.DoubleType()),
]

# silver table shapes (the columns gold reads, in silver's order and types)
PLATES_SCHEMA = T.StructType(
    [
        *KEY_FIELDS,
        _field("plate_text", T.StringType()),
        _field("ocr_confidence", T.DoubleType()),
        _field("detection_confidence", T.DoubleType()),
        _field("is_masked", T.BooleanType()),
        *EVENT_FIELDS,
    ]
)
CARS_SCHEMA = T.StructType(
    [*KEY_FIELDS, _field("has_plate", T.BooleanType()), _field("car_confidence", T.DoubleType()), *EVENT_FIELDS]
)
NAMED_SCHEMA = T.StructType([*RANKED_FIELDS, _field("name", T.StringType()), *EVENT_FIELDS])
MAKES_SCHEMA = T.StructType(
    [
        *RANKED_FIELDS,
        _field("make", T.StringType()),
        _field("model", T.StringType()),
        _field("year", T.StringType()),
        *EVENT_FIELDS,
    ]
)
COUNTRIES_SCHEMA = T.StructType(
    [
        *RANKED_FIELDS,
        _field("code", T.StringType()),
        _field("name", T.StringType()),
        _field("state", T.StringType()),
        _field("other", T.StringType()),
        *EVENT_FIELDS,
    ]
)
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

# ------------------------------------------------------------------------------------------------
# vehicles

VEHICLES_SCHEMA = T.StructType(
    [
        *KEY_FIELDS,
        *EVENT_FIELDS,
        _field("plate_text", T.StringType()),
        _field("ocr_confidence", T.DoubleType()),
        _field("car_confidence", T.DoubleType()),
        _field("country_code", T.StringType()),
        _field("country_state", T.StringType()),
        _field("color", T.StringType()),
        _field("color_confidence", T.DoubleType()),
        _field("make", T.StringType()),
        _field("model", T.StringType()),
        _field("year", T.StringType()),
        _field("make_confidence", T.DoubleType()),
        _field("body_style", T.StringType()),
        _field("body_style_confidence", T.DoubleType()),
    ]
)


def _vehicles(
    spark: SparkSession,
    plates: Sequence[tuple],
    cars: Sequence[tuple],
    colors: Sequence[tuple] = (),
    makes: Sequence[tuple] = (),
    body_styles: Sequence[tuple] = (),
    countries: Sequence[tuple] = (),
) -> DataFrame:
    return gold.build_vehicles(
        spark.createDataFrame(list(plates), PLATES_SCHEMA),
        spark.createDataFrame(list(cars), CARS_SCHEMA),
        spark.createDataFrame(list(colors), NAMED_SCHEMA),
        spark.createDataFrame(list(makes), MAKES_SCHEMA),
        spark.createDataFrame(list(body_styles), NAMED_SCHEMA),
        spark.createDataFrame(list(countries), COUNTRIES_SCHEMA),
    )


def test_build_vehicles_plate_and_car_element(spark: SparkSession) -> None:
    actual_df = _vehicles(
        spark,
        plates=[("k1", 0, "AB12", 88.5, 99.5, False, "cam1", TS1, D1)],
        cars=[("k1", 0, True, 99.5, "cam1", TS1, D1)],
        colors=[("k1", 0, 1, 0, 93.5, "black", "cam1", TS1, D1)],
        makes=[("k1", 0, 1, 2104, 48.5, "volkswagen", "passat", "0-9", "cam1", TS1, D1)],
        body_styles=[("k1", 0, 1, 9, 81.5, "sedan", "cam1", TS1, D1)],
        countries=[("k1", 0, 1, 84, 97.5, "USA", "United States of America", "Texas", None, "cam1", TS1, D1)],
    )
    expected_df = spark.createDataFrame(
        [
            (
                "k1",
                0,
                "cam1",
                TS1,
                D1,
                "AB12",
                88.5,
                99.5,
                "USA",
                "Texas",
                "black",
                93.5,
                "volkswagen",
                "passat",
                "0-9",
                48.5,
                "sedan",
                81.5,
            ),
        ],
        VEHICLES_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_vehicles_car_only_element_has_null_plate_columns(spark: SparkSession) -> None:
    actual_df = _vehicles(
        spark,
        plates=[],
        cars=[("k1", 1, False, 91.5, "cam1", TS1, D1)],
        colors=[("k1", 1, 1, 11, 60.0, "white", "cam1", TS1, D1)],
    )
    expected_df = spark.createDataFrame(
        [
            ("k1", 1, "cam1", TS1, D1, None, None, 91.5, None, None, "white", 60.0, None, None, None, None, None, None),
        ],
        VEHICLES_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_vehicles_plate_without_car_has_null_car_columns(spark: SparkSession) -> None:
    actual_df = _vehicles(
        spark,
        plates=[("k1", 2, "7XKM2*", 86.0, 98.5, True, "cam1", TS1, D1)],
        cars=[],
    )
    expected_df = spark.createDataFrame(
        [
            (
                "k1",
                2,
                "cam1",
                TS1,
                D1,
                "7XKM2*",
                86.0,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ),
        ],
        VEHICLES_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_vehicles_one_row_per_element_of_several_frames(spark: SparkSession) -> None:
    actual_df = _vehicles(
        spark,
        plates=[
            ("k1", 0, "AB12", 88.5, 99.5, False, "cam1", TS1, D1),
            ("k2", 0, "CD34", 75.0, 97.0, False, "cam2", TS2, D2),
        ],
        cars=[
            ("k1", 0, True, 99.5, "cam1", TS1, D1),
            ("k1", 1, False, 91.5, "cam1", TS1, D1),
            ("k2", 0, True, 98.0, "cam2", TS2, D2),
        ],
    ).select("frame_key", "plate_idx", "camera_id", "event_date", "plate_text", "car_confidence")
    expected_df = spark.createDataFrame(
        [
            ("k1", 0, "cam1", D1, "AB12", 99.5),
            ("k1", 1, "cam1", D1, None, 91.5),
            ("k2", 0, "cam2", D2, "CD34", 98.0),
        ],
        T.StructType(
            [
                *KEY_FIELDS,
                _field("camera_id", T.StringType()),
                _field("event_date", T.DateType()),
                _field("plate_text", T.StringType()),
                _field("car_confidence", T.DoubleType()),
            ]
        ),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_vehicles_uses_only_rank_1(spark: SparkSession) -> None:
    actual_df = _vehicles(
        spark,
        plates=[("k1", 0, "AB12", 88.5, 99.5, False, "cam1", TS1, D1)],
        cars=[("k1", 0, True, 99.5, "cam1", TS1, D1)],
        colors=[
            ("k1", 0, 2, 1, 4.5, "blue", "cam1", TS1, D1),
            ("k1", 0, 1, 0, 93.5, "black", "cam1", TS1, D1),
            ("k1", 0, 3, 4, 1.07e-08, "gray", "cam1", TS1, D1),
        ],
        makes=[
            ("k1", 0, 1, 2104, 48.5, "volkswagen", "passat", "2015", "cam1", TS1, D1),
            ("k1", 0, 2, 2098, 21.0, "volkswagen", "jetta", "2014", "cam1", TS1, D1),
        ],
        body_styles=[
            ("k1", 0, 1, 9, 81.5, "sedan", "cam1", TS1, D1),
            ("k1", 0, 2, 4, 10.5, "hatchback", "cam1", TS1, D1),
        ],
        countries=[
            ("k1", 0, 1, 35, 97.5, "FRA", "France", None, None, "cam1", TS1, D1),
            ("k1", 0, 2, 84, 1.5, "USA", "United States of America", "Florida", None, "cam1", TS1, D1),
        ],
    )
    expected_df = spark.createDataFrame(
        [
            (
                "k1",
                0,
                "cam1",
                TS1,
                D1,
                "AB12",
                88.5,
                99.5,
                "FRA",
                None,
                "black",
                93.5,
                "volkswagen",
                "passat",
                "2015",
                48.5,
                "sedan",
                81.5,
            ),
        ],
        VEHICLES_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------------------------------------
# daily camera stats
#
# cam1 2022-05-02: 5 frames, durations 20, 40, 100, 400 and null (parallel mode); 3 of them with plates.
#   4 plates: ocr 88.5, 70.0, 69.5 (masked), 90.0 -> mean 318 / 4 = 79.5; cars: 2 with plate, 1 without.
#   duration mean = 560 / 4 = 140 (null ignored).
#   p50: sorted [20, 40, 100, 400], n = 4, position 0.5 * 3 = 1.5 -> 40 + 0.5 * (100 - 40) = 70
#   p95: position 0.95 * 3 = 2.85 -> 100 + 0.85 * (400 - 100) = 355
# cam1 2022-05-03: 1 frame of 33 ms, no plates, no cars -> plates 0, ocr mean null; p50 = p95 = 33.
# cam2 2022-05-02: 2 frames, durations 10 and 30, both with a plate; plates ocr 95.0 and 65.0 -> mean 80.
#   p50: position 0.5 * 1 = 0.5 -> 10 + 0.5 * 20 = 20; p95: position 0.95 -> 10 + 0.95 * 20 = 29
# cam2 2022-05-03: 3 frames, durations 50, 60, 70, no plates; 2 cars without plate.
#   p50: position 0.5 * 2 = 1 -> 60; p95: position 0.95 * 2 = 1.9 -> 60 + 0.9 * 10 = 69


def _stats_inputs(spark: SparkSession) -> tuple[DataFrame, DataFrame, DataFrame]:
    frames_df = spark.createDataFrame(
        [
            ("a1", "/cam1/1.json", 1, 20, None, 1, 1, "cam1", TS1, D1),
            ("a2", "/cam1/2.json", 2, 40, None, 0, 0, "cam1", TS1, D1),
            ("a3", "/cam1/3.json", 3, 100, None, 2, 1, "cam1", TS1, D1),
            ("a4", "/cam1/4.json", 4, 400, None, 1, 1, "cam1", TS1, D1),
            ("a5", "/cam1/5.json", 5, None, 0, 0, 0, "cam1", TS1, D1),
            ("b1", "/cam1/6.json", 6, 33, None, 0, 0, "cam1", TS2, D2),
            ("c1", "/cam2/1.json", 1, 10, None, 1, 0, "cam2", TS1, D1),
            ("c2", "/cam2/2.json", 2, 30, None, 1, 0, "cam2", TS1, D1),
            ("d1", "/cam2/3.json", 3, 50, None, 0, 1, "cam2", TS2, D2),
            ("d2", "/cam2/4.json", 4, 60, None, 0, 1, "cam2", TS2, D2),
            ("d3", "/cam2/5.json", 5, 70, None, 0, 0, "cam2", TS2, D2),
        ],
        FRAMES_SCHEMA,
    )
    plates_df = spark.createDataFrame(
        [
            ("a1", 0, "AB12", 88.5, 99.0, False, "cam1", TS1, D1),
            ("a3", 0, "EF56", 70.0, 99.0, False, "cam1", TS1, D1),
            ("a3", 1, "7XKM2*", 69.5, 98.0, True, "cam1", TS1, D1),
            ("a4", 0, "GH78", 90.0, 99.0, False, "cam1", TS1, D1),
            ("c1", 0, "CD34", 95.0, 99.0, False, "cam2", TS1, D1),
            ("c2", 0, "IJ90", 65.0, 97.0, False, "cam2", TS1, D1),
        ],
        PLATES_SCHEMA,
    )
    cars_df = spark.createDataFrame(
        [
            ("a1", 0, True, 99.0, "cam1", TS1, D1),
            ("a3", 0, True, 98.0, "cam1", TS1, D1),
            ("a4", 1, False, 92.0, "cam1", TS1, D1),
            ("d1", 0, False, 95.0, "cam2", TS2, D2),
            ("d2", 0, False, 90.0, "cam2", TS2, D2),
        ],
        CARS_SCHEMA,
    )
    return frames_df, plates_df, cars_df


STATS_SCHEMA = T.StructType(
    [
        _field("camera_id", T.StringType()),
        _field("event_date", T.DateType()),
        _field("frames", T.LongType()),
        _field("frames_with_plates", T.LongType()),
        _field("plates", T.LongType()),
        _field("cars_without_plate", T.LongType()),
        _field("masked_plates", T.LongType()),
        _field("duration_ms_mean", T.DoubleType()),
        _field("duration_ms_p50", T.DoubleType()),
        _field("duration_ms_p95", T.DoubleType()),
        _field("ocr_confidence_mean", T.DoubleType()),
        _field("low_confidence_plates", T.LongType()),
    ]
)


def _stats_subset(names: list[str]) -> T.StructType:
    return T.StructType([f for f in STATS_SCHEMA.fields if f.name in names])


def test_build_daily_camera_stats_one_row_per_camera_and_day(spark: SparkSession) -> None:
    frames_df, plates_df, cars_df = _stats_inputs(spark)
    actual_df = gold.build_daily_camera_stats(frames_df, plates_df, cars_df, low_confidence_threshold=70.0)
    expected_df = spark.createDataFrame(
        [
            ("cam1", D1, 5, 3, 4, 1, 1, 140.0, 70.0, 355.0, 79.5, 1),
            ("cam1", D2, 1, 0, 0, 0, 0, 33.0, 33.0, 33.0, None, 0),
            ("cam2", D1, 2, 2, 2, 0, 0, 20.0, 20.0, 29.0, 80.0, 1),
            ("cam2", D2, 3, 0, 0, 2, 0, 60.0, 60.0, 69.0, None, 0),
        ],
        STATS_SCHEMA,
    )
    assert_approx_df_equality(actual_df, expected_df, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_build_daily_camera_stats_counts(spark: SparkSession) -> None:
    frames_df, plates_df, cars_df = _stats_inputs(spark)
    names = ["camera_id", "event_date", "frames", "frames_with_plates", "plates", "cars_without_plate", "masked_plates"]
    actual_df = gold.build_daily_camera_stats(frames_df, plates_df, cars_df, 70.0).select(*names)
    expected_df = spark.createDataFrame(
        [
            ("cam1", D1, 5, 3, 4, 1, 1),
            ("cam1", D2, 1, 0, 0, 0, 0),
            ("cam2", D1, 2, 2, 2, 0, 0),
            ("cam2", D2, 3, 0, 0, 2, 0),
        ],
        _stats_subset(names),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_daily_camera_stats_duration_percentiles_interpolate(spark: SparkSession) -> None:
    frames_df, plates_df, cars_df = _stats_inputs(spark)
    names = ["camera_id", "event_date", "duration_ms_mean", "duration_ms_p50", "duration_ms_p95"]
    actual_df = gold.build_daily_camera_stats(frames_df, plates_df, cars_df, 70.0).select(*names)
    expected_df = spark.createDataFrame(
        [
            ("cam1", D1, 140.0, 70.0, 355.0),
            ("cam1", D2, 33.0, 33.0, 33.0),
            ("cam2", D1, 20.0, 20.0, 29.0),
            ("cam2", D2, 60.0, 60.0, 69.0),
        ],
        _stats_subset(names),
    )
    assert_approx_df_equality(actual_df, expected_df, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_build_daily_camera_stats_day_without_plates(spark: SparkSession) -> None:
    frames_df, plates_df, cars_df = _stats_inputs(spark)
    names = ["camera_id", "event_date", "plates", "masked_plates", "ocr_confidence_mean", "low_confidence_plates"]
    actual_df = (
        gold.build_daily_camera_stats(frames_df, plates_df, cars_df, 70.0)
        .where(F.col("event_date") == D2)
        .select(*names)
    )
    expected_df = spark.createDataFrame(
        [("cam1", D2, 0, 0, None, 0), ("cam2", D2, 0, 0, None, 0)], _stats_subset(names)
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_daily_camera_stats_ocr_confidence_mean(spark: SparkSession) -> None:
    frames_df, plates_df, cars_df = _stats_inputs(spark)
    names = ["camera_id", "event_date", "ocr_confidence_mean"]
    actual_df = gold.build_daily_camera_stats(frames_df, plates_df, cars_df, 70.0).select(*names)
    expected_df = spark.createDataFrame(
        [("cam1", D1, 79.5), ("cam1", D2, None), ("cam2", D1, 80.0), ("cam2", D2, None)], _stats_subset(names)
    )
    assert_approx_df_equality(actual_df, expected_df, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_build_daily_camera_stats_low_confidence_boundary_is_not_low(spark: SparkSession) -> None:
    frames_df, plates_df, cars_df = _stats_inputs(spark)
    names = ["camera_id", "event_date", "low_confidence_plates"]
    actual_df = gold.build_daily_camera_stats(frames_df, plates_df, cars_df, 70.0).select(*names)
    expected_df = spark.createDataFrame(
        # cam1 D1: 69.5 is low, 70.0 (exactly the threshold) is not; cam2 D1: 65.0 is low
        [("cam1", D1, 1), ("cam1", D2, 0), ("cam2", D1, 1), ("cam2", D2, 0)],
        _stats_subset(names),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_daily_camera_stats_low_confidence_uses_given_threshold(spark: SparkSession) -> None:
    frames_df, plates_df, cars_df = _stats_inputs(spark)
    names = ["camera_id", "event_date", "low_confidence_plates"]
    actual_df = gold.build_daily_camera_stats(frames_df, plates_df, cars_df, 90.0).select(*names)
    expected_df = spark.createDataFrame(
        # cam1 D1: 88.5, 70.0 and 69.5 are below 90, 90.0 is not; cam2 D1: 65.0 is, 95.0 is not
        [("cam1", D1, 3), ("cam1", D2, 0), ("cam2", D1, 1), ("cam2", D2, 0)],
        _stats_subset(names),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------------------------------------
# plate sightings

SIGHTINGS_SCHEMA = T.StructType(
    [
        _field("plate_text", T.StringType()),
        _field("first_seen", T.TimestampType()),
        _field("last_seen", T.TimestampType()),
        _field("sightings", T.LongType()),
        _field("cameras", T.LongType()),
    ]
)
T_0700 = datetime(2022, 5, 2, 7, 0, tzinfo=UTC)
T_0900 = datetime(2022, 5, 2, 9, 0, tzinfo=UTC)
T_NEXT = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)


def test_build_plate_sightings_first_last_and_count(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("k2", 0, "AB12", 88.5, 99.0, False, "cam1", T_0900, D1),
            ("k1", 0, "AB12", 80.0, 99.0, False, "cam1", T_0700, D1),
            ("k3", 0, "AB12", 75.0, 99.0, False, "cam1", T_NEXT, D2),
            ("k3", 1, "CD34", None, None, False, "cam1", T_NEXT, D2),  # no confidences
        ],
        PLATES_SCHEMA,
    )
    actual_df = gold.build_plate_sightings(source_df)
    expected_df = spark.createDataFrame(
        [("AB12", T_0700, T_NEXT, 3, 1), ("CD34", T_NEXT, T_NEXT, 1, 1)], SIGHTINGS_SCHEMA
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_plate_sightings_leaves_masked_texts_out(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("k1", 0, "AB12", 88.5, 99.0, False, "cam1", T_0700, D1),
            ("k2", 0, "IQT9*", 86.0, 98.0, True, "cam1", T_0900, D1),  # a trial SDK's masked text
            ("k3", 0, "IQT9*", 85.0, 97.0, True, "cam1", T_NEXT, D2),
            ("k4", 0, "CD34", 80.0, 96.0, None, "cam1", T_NEXT, D2),  # unknown: kept
        ],
        PLATES_SCHEMA,
    )
    actual_df = gold.build_plate_sightings(source_df)
    expected_df = spark.createDataFrame(
        [("AB12", T_0700, T_0700, 1, 1), ("CD34", T_NEXT, T_NEXT, 1, 1)], SIGHTINGS_SCHEMA
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_build_plate_sightings_cameras_counts_distinct_cameras(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("k1", 0, "AB12", 88.5, 99.0, False, "cam1", T_0700, D1),
            ("k2", 0, "AB12", 88.5, 99.0, False, "cam2", T_0900, D1),
            ("k3", 0, "AB12", 88.5, 99.0, False, "cam1", T_NEXT, D2),
            ("k4", 0, "CD34", 70.0, 99.0, False, "cam2", T_0700, D1),
            ("k5", 0, "CD34", 70.0, 99.0, False, "cam2", T_0900, D1),
        ],
        PLATES_SCHEMA,
    )
    actual_df = gold.build_plate_sightings(source_df).select("plate_text", "sightings", "cameras")
    expected_df = spark.createDataFrame(
        [("AB12", 3, 2), ("CD34", 2, 1)],
        T.StructType([f for f in SIGHTINGS_SCHEMA.fields if f.name in ("plate_text", "sightings", "cameras")]),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------------------------------------
# daily processing

PROCESSING_SCHEMA = T.StructType(
    [
        _field("event_date", T.DateType()),
        _field("frames", T.LongType()),
        _field("recognition_seconds", T.DoubleType()),
        _field("estimated_cost", T.DoubleType()),
    ]
)


def test_build_daily_processing_sums_durations_ignoring_nulls(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("a1", "/cam1/1.json", 1, 1200, None, 1, 1, "cam1", TS1, D1),
            ("a2", "/cam2/1.json", 1, 2400, None, 0, 0, "cam2", TS1, D1),  # other camera, same day
            ("a3", "/cam1/2.json", 2, None, 1, 1, 1, "cam1", TS1, D1),  # parallel mode: no duration
        ],
        FRAMES_SCHEMA,
    )
    actual_df = gold.build_daily_processing(source_df, hourly_price=0.44)
    # (1200 + 2400) / 1000 = 3.6 s; 3.6 / 3600 * 0.44 = 0.00044
    expected_df = spark.createDataFrame([(D1, 3, 3.6, 0.00044)], PROCESSING_SCHEMA)
    assert_approx_df_equality(actual_df, expected_df, 1e-12, ignore_row_order=True, ignore_nullable=True)


def test_build_daily_processing_day_without_durations_costs_nothing(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("b1", "/cam1/1.json", 1, None, 0, 0, 0, "cam1", TS2, D2),
            ("b2", "/cam1/2.json", 2, None, 1, 1, 1, "cam1", TS2, D2),
        ],
        FRAMES_SCHEMA,
    )
    actual_df = gold.build_daily_processing(source_df, hourly_price=0.44)
    expected_df = spark.createDataFrame([(D2, 2, 0.0, 0.0)], PROCESSING_SCHEMA)
    assert_approx_df_equality(actual_df, expected_df, 1e-12, ignore_row_order=True, ignore_nullable=True)


def test_build_daily_processing_estimated_cost_uses_hourly_price(spark: SparkSession) -> None:
    source_df = spark.createDataFrame(
        [
            ("a1", "/cam1/1.json", 1, 3_600_000, None, 1, 1, "cam1", TS1, D1),  # one hour
            ("b1", "/cam1/2.json", 2, 5_400_000, None, 0, 0, "cam1", TS2, D2),  # one hour and a half
            ("b2", "/cam1/3.json", 3, 1_800_000, None, 0, 0, "cam1", TS2, D2),  # half an hour
        ],
        FRAMES_SCHEMA,
    )
    actual_df = gold.build_daily_processing(source_df, hourly_price=2.5)
    # D1: 3600 s = 1 h -> 2.5; D2: 7200 s = 2 h -> 5.0
    expected_df = spark.createDataFrame([(D1, 1, 3600.0, 2.5), (D2, 2, 7200.0, 5.0)], PROCESSING_SCHEMA)
    assert_approx_df_equality(actual_df, expected_df, 1e-9, ignore_row_order=True, ignore_nullable=True)
