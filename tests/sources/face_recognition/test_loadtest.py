"""Tests of visionlake.sources.face_recognition.loadtest on k6 samples written by hand: stages found from the vus
series (4, 4, 4, 8, 8, 12, 12), their boundaries, request rate, exact percentiles, failure rate, the whole-run
row, k6 thresholds that pass and fail, zero-VU stages, empty metrics, and the refused threshold expressions.
Every expected value is worked out by hand in the comments."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from visionlake.sources.face_recognition import loadtest
from visionlake.sources.face_recognition.schema import LOAD_TEST_POINTS

PRECISION = 1e-6
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DAY = date(2026, 3, 2)
SCALARS = [f.name for f in loadtest.LOAD_TEST_SUMMARY.fields if f.name not in ("thresholds", "passed")]
FLAT = "test_run_id string, stage int, position int, metric string, expression string, observed double, passed boolean"


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def request(seconds: float, duration_ms: float, failed: float) -> list[tuple[float, str, float]]:
    """The three samples k6 writes for one request, at the same time."""
    return [
        (seconds, "http_reqs", 1.0),
        (seconds, "http_req_duration", duration_ms),
        (seconds, "http_req_failed", failed),
    ]


def points_df(spark: SparkSession, runs: dict[str, list[tuple[float, str, float]]]) -> DataFrame:
    """Silver load_test_points (schema.LOAD_TEST_POINTS) from {run: [(seconds from T0, metric, value)]}; the
    source_offset is the sample's place in the run's list."""
    rows = []
    for run, samples in runs.items():
        for offset, (seconds, metric, value) in enumerate(samples):
            tags = {} if metric == "vus" else {"name": "http://api/v1/recognise_user", "method": "POST"}
            name, method = tags.get("name"), tags.get("method")
            source = f"loadtests/{run}.json"
            rows.append(
                (run, metric, t(seconds), value, name, method, None, "default", None, tags, source, offset, DAY)
            )
    return spark.createDataFrame(rows, LOAD_TEST_POINTS)


# run r1: vus sampled every 10 s: 4 at 0, 10, 20; 8 at 30, 40; 12 at 50, 60 -> stages [0, 30), [30, 50), [50, 75]
R1 = [
    *[(s, "vus", 4.0) for s in (0, 10, 20)],
    *[(s, "vus", 8.0) for s in (30, 40)],
    *[(s, "vus", 12.0) for s in (50, 60)],
    # stage 1: durations 100, 200, 300, 400 ms, the last one failed
    *request(5, 100.0, 0.0),
    *request(12, 200.0, 0.0),
    *request(18, 300.0, 0.0),
    *request(25, 400.0, 1.0),
    # stage 2: 1000, 3000, 2000 ms, none failed
    *request(31, 1000.0, 0.0),
    *request(35, 3000.0, 0.0),
    *request(45, 2000.0, 0.0),
    # stage 3: at 50 s exactly (the stage's first vus sample: stage 3, not 2), then 55, 62 and 75 s (the run's
    # last point): 5000, 4000, 3500, 4500 ms; the first and the third failed
    *request(50, 5000.0, 1.0),
    *request(55, 4000.0, 0.0),
    *request(62, 3500.0, 1.0),
    *request(75, 4500.0, 0.0),
]
K6_DEFAULTS = {"http_req_duration": ["p(95)<3000"], "http_req_failed": ["rate<0.3"]}


def scalars(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    schema = loadtest.LOAD_TEST_SUMMARY
    return spark.createDataFrame(rows, schema.__class__([schema[name] for name in SCALARS]))


def flat_thresholds(summary: DataFrame) -> DataFrame:
    """One row per (run, stage, threshold): the thresholds array flattened, for an approximate comparison."""
    return summary.select("test_run_id", "stage", F.posexplode("thresholds").alias("position", "t")).select(
        "test_run_id",
        "stage",
        F.col("position").cast("int").alias("position"),
        "t.metric",
        "t.expression",
        "t.observed",
        "t.passed",
    )


def assert_approx(actual: DataFrame, expected: DataFrame) -> None:
    assert_approx_df_equality(
        actual.select(*expected.columns), expected, PRECISION, ignore_row_order=True, ignore_nullable=True
    )


def test_output_columns_and_types_are_the_declared_ones_and_no_threshold_passes(spark):
    out = loadtest.build_load_test_summary(points_df(spark, {"r1": R1}), {})
    threshold = "struct<metric:string,expression:string,observed:double,passed:boolean>"
    assert out.dtypes == [
        ("test_run_id", "string"),
        ("stage", "int"),
        ("vus", "bigint"),
        ("started_at", "timestamp"),
        ("ended_at", "timestamp"),
        ("seconds", "double"),
        ("requests", "bigint"),
        ("requests_per_second", "double"),
        ("p90_ms", "double"),
        ("p95_ms", "double"),
        ("p99_ms", "double"),
        ("avg_ms", "double"),
        ("max_ms", "double"),
        ("failure_rate", "double"),
        ("thresholds", f"array<{threshold}>"),
        ("passed", "boolean"),
    ]
    assert [(f.name, f.dataType) for f in out.schema] == [(f.name, f.dataType) for f in loadtest.LOAD_TEST_SUMMARY]
    # no threshold: every row passes, with an empty list
    assert sorted((r["stage"], r["thresholds"], r["passed"]) for r in out.collect()) == [
        (0, [], True),
        (1, [], True),
        (2, [], True),
        (3, [], True),
    ]
    with_thresholds = loadtest.build_load_test_summary(points_df(spark, {"r1": R1}), K6_DEFAULTS)
    assert [(f.name, f.dataType) for f in with_thresholds.schema] == [
        (f.name, f.dataType) for f in loadtest.LOAD_TEST_SUMMARY
    ]


def test_stages_rates_percentiles_failure_rate_and_whole_run(spark):
    out = loadtest.build_load_test_summary(points_df(spark, {"r1": R1}), K6_DEFAULTS)
    # percentiles at position p * (n - 1), linear between the two values around it:
    # stage 1, [100, 200, 300, 400]: p90 2.7 -> 370, p95 2.85 -> 385, p99 2.97 -> 397; avg 250; 1 of 4 failed
    # stage 2, [1000, 2000, 3000]: p90 1.8 -> 2800, p95 1.9 -> 2900, p99 1.98 -> 2980; avg 2000
    # stage 3, [3500, 4000, 4500, 5000]: p90 -> 4850, p95 -> 4925, p99 -> 4985; avg 4250; 2 of 4 failed
    # whole run, 11 values [100 200 300 400 1000 2000 3000 3500 4000 4500 5000]: p90 at 9 -> 4500,
    #   p95 at 9.5 -> 4750, p99 at 9.9 -> 4950; avg 24000 / 11; 3 of 11 failed; 11 requests over 0..75 s
    expected = scalars(
        spark,
        [
            ("r1", 1, 4, t(0), t(30), 30.0, 4, 4 / 30, 370.0, 385.0, 397.0, 250.0, 400.0, 0.25),
            ("r1", 2, 8, t(30), t(50), 20.0, 3, 0.15, 2800.0, 2900.0, 2980.0, 2000.0, 3000.0, 0.0),
            ("r1", 3, 12, t(50), t(75), 25.0, 4, 0.16, 4850.0, 4925.0, 4985.0, 4250.0, 5000.0, 0.5),
            ("r1", 0, 12, t(0), t(75), 75.0, 11, 11 / 75, 4500.0, 4750.0, 4950.0, 24000 / 11, 5000.0, 3 / 11),
        ],
    )
    assert_approx(out, expected)
    # p(95) < 3000 passes in stages 1 and 2 only; rate < 0.3 fails in stage 3 only (0.5; whole run 3/11 = 0.27)
    expected_thresholds = [
        ("r1", 1, 0, "http_req_duration", "p(95)<3000", 385.0, True),
        ("r1", 1, 1, "http_req_failed", "rate<0.3", 0.25, True),
        ("r1", 2, 0, "http_req_duration", "p(95)<3000", 2900.0, True),
        ("r1", 2, 1, "http_req_failed", "rate<0.3", 0.0, True),
        ("r1", 3, 0, "http_req_duration", "p(95)<3000", 4925.0, False),
        ("r1", 3, 1, "http_req_failed", "rate<0.3", 0.5, False),
        ("r1", 0, 0, "http_req_duration", "p(95)<3000", 4750.0, False),
        ("r1", 0, 1, "http_req_failed", "rate<0.3", 3 / 11, True),
    ]
    assert_approx(flat_thresholds(out), spark.createDataFrame(expected_thresholds, FLAT))
    assert sorted((r["stage"], r["passed"]) for r in out.collect()) == [(0, False), (1, True), (2, True), (3, False)]


def test_other_aggregations_and_operators(spark):
    thresholds = {
        "http_reqs": ["count>=4"],
        "http_req_duration": ["med <= 2000", "min>100", "max==5000", "avg!=250", " p(99.9) > 4990 "],
    }
    out = loadtest.build_load_test_summary(points_df(spark, {"r1": R1}), thresholds).where("stage in (0, 2)")
    exprs = ["count>=4", "med <= 2000", "min>100", "max==5000", "avg!=250", " p(99.9) > 4990 "]
    metrics = ["http_reqs", *["http_req_duration"] * 5]
    # stage 2, [1000, 2000, 3000], 3 requests: count 3 (fails), med 2000 (passes, equal), min 1000 (passes),
    #   max 3000 (fails), avg 2000 (passes), p(99.9) at 0.999 * 2 = 1.998 -> 2998 (fails)
    # whole run, 11 values: count 11, med at 5 -> 2000, min 100 (fails), max 5000, avg 24000 / 11,
    #   p(99.9) at 0.999 * 10 = 9.99 -> 4500 + 0.99 * 500 = 4995 (passes)
    observed = {
        2: [(3.0, False), (2000.0, True), (1000.0, True), (3000.0, False), (2000.0, True), (2998.0, False)],
        0: [(11.0, True), (2000.0, True), (100.0, False), (5000.0, True), (24000 / 11, True), (4995.0, True)],
    }
    expected = [
        ("r1", stage, i, metrics[i], exprs[i], value, passed)
        for stage, values in observed.items()
        for i, (value, passed) in enumerate(values)
    ]
    assert_approx(flat_thresholds(out), spark.createDataFrame(expected, FLAT))
    assert [r["passed"] for r in out.collect()] == [False, False]


def test_zero_vu_stages_runs_without_vus_and_empty_metrics(spark):
    runs = {
        # vus 0, 4, 4, 0, 8: stage 1 = the 4s, [1, 3) (it ends where the 0 stage starts); stage 2 = the 8, [4, 5]
        "r2": [
            (0, "vus", 0.0),
            (1, "vus", 4.0),
            (2, "vus", 4.0),
            (3, "vus", 0.0),
            (4, "vus", 8.0),
            (0.5, "http_reqs", 1.0),  # before the first VU: the whole run only
            (1.5, "http_reqs", 1.0),  # stage 1
            (3.5, "http_reqs", 1.0),  # in the 0 stage: the whole run only
            (4.5, "http_reqs", 1.0),  # stage 2
            (5, "http_reqs", 1.0),  # stage 2, the run's last point
        ],
        # no vus sample: the whole-run row only, vus null
        "r3": [(0, "http_reqs", 1.0), (2, "http_reqs", 1.0)],
    }
    thresholds = {"http_req_duration": ["p(95)<3000"], "http_req_failed": ["rate>0"]}
    out = loadtest.build_load_test_summary(points_df(spark, runs), thresholds)
    expected = scalars(
        spark,
        [
            ("r2", 1, 4, t(1), t(3), 2.0, 1, 0.5, None, None, None, None, None, None),
            ("r2", 2, 8, t(4), t(5), 1.0, 2, 2.0, None, None, None, None, None, None),
            ("r2", 0, 8, t(0), t(5), 5.0, 5, 1.0, None, None, None, None, None, None),
            ("r3", 0, None, t(0), t(2), 2.0, 2, 1.0, None, None, None, None, None, None),
        ],
    )
    assert_approx(out, expected)
    # no duration or failed sample: both observe 0, as k6 at the end of a test: p(95) < 3000 passes, rate > 0 fails
    expected_thresholds = [
        (run, stage, i, metric, expression, 0.0, passed)
        for run, stage in (("r2", 1), ("r2", 2), ("r2", 0), ("r3", 0))
        for i, (metric, expression, passed) in enumerate(
            [("http_req_duration", "p(95)<3000", True), ("http_req_failed", "rate>0", False)]
        )
    ]
    assert_approx(flat_thresholds(out), spark.createDataFrame(expected_thresholds, FLAT))


def test_thresholds_are_parsed_in_python():
    parsed = loadtest.parse_thresholds(
        {"http_req_duration": ["p(99.9) <= 3000", "med==1.5"], "http_req_failed": ["rate<.05"]}
    )
    assert [(p.metric, p.aggregation, p.operator, p.value) for p in parsed] == [
        ("http_req_duration", "p", "<=", 3000.0),
        ("http_req_duration", "med", "==", 1.5),
        ("http_req_failed", "rate", "<", 0.05),
    ]
    assert parsed[0].fraction == pytest.approx(0.999)
    assert loadtest.parse_thresholds(None) == ()


@pytest.mark.parametrize(
    ("metric", "expression"),
    [
        ("http_req_duration", "p95<3000"),  # no parentheses
        ("http_req_duration", "p( 95 )<3000"),  # k6 refuses spaces inside p(...)
        ("http_req_duration", "p(101)<3000"),  # not a percentile
        ("http_req_duration", "p(95)===3000"),  # k6's strict equality: not supported
        ("http_req_duration", "p(95)<"),  # no number
        ("http_req_duration", "p(95)<3s"),
        ("http_req_duration", "rate<0.05"),  # a rate's aggregation on a trend
        ("http_req_duration", "count>1"),
        ("http_req_failed", "p(95)<0.05"),  # a trend's aggregation on a rate
        ("http_reqs", "rate>10"),  # a counter's per-second rate: not supported
        ("http_req_duration{expected_response:true}", "p(95)<3000"),  # tag-filtered
        ("vus", "value<20"),  # a gauge
        ("iterations", "count>1"),  # a metric visionlake does not keep
    ],
)
def test_unsupported_threshold_raises_value_error_naming_metric(spark, metric, expression):
    points = spark.createDataFrame([], LOAD_TEST_POINTS)
    with pytest.raises(ValueError, match=re.escape(repr(metric))) as raised:
        loadtest.build_load_test_summary(points, {metric: [expression]})
    assert repr(expression) in str(raised.value)


def test_thresholds_of_a_metric_must_be_a_list():
    with pytest.raises(ValueError, match="http_req_duration"):
        loadtest.parse_thresholds({"http_req_duration": "p(95)<3000"})
