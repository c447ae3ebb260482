"""Tests of visionlake.sources.face_recognition.slo on silver requests written by hand: the daily and hourly SLO
tables (exact percentiles, SLIs, peak rps, error budget over the trailing window) and the multiwindow,
multi-burn-rate alerts. Every expected value is counted by hand in the comments."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.sources.face_recognition import slo
from visionlake.sources.face_recognition.schema import REQUESTS_TABLE

OK, C4, S5 = "ok", "client_4xx", "server_5xx"
STATUS = {OK: 200, C4: 400, S5: 503}
PRECISION = 1e-9

# budget rates 0.1 (availability) and 0.2 (latency): hand-countable
SMALL = slo.Objectives(availability=0.9, latency=0.8, min_requests=10)
PAGE_1H = (3600, 300, 14.4, "page")
FAST_PAGE = slo.Objectives(availability=0.99, latency=0.9, min_requests=10, burn_rules=(PAGE_1H,))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def requests_df(spark: SparkSession, rows: Iterable[tuple[str, datetime, str, float | None]]) -> DataFrame:
    """Silver requests (schema.REQUESTS_TABLE) from (endpoint, ts, error_class, latency_ms); the other columns
    null but http_status, and event_date the UTC date of ts."""
    minimal = spark.createDataFrame(
        [(e, ts, STATUS[c], c, lat, ts.date()) for e, ts, c, lat in rows],
        "endpoint string, ts timestamp, http_status int, error_class string, latency_ms double, event_date date",
    )
    return minimal.select(
        *[
            (F.col(f.name) if f.name in minimal.columns else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in REQUESTS_TABLE.fields
        ]
    )


def burst(endpoint: str, start: datetime, n: int, bad: int = 0, latency: float = 100.0) -> list[tuple]:
    """n requests from start, one every 0.1 s (within one 5-minute bucket up to n = 3000), the first ``bad``
    of them 5xx."""
    return [(endpoint, start + timedelta(seconds=i / 10), S5 if i < bad else OK, latency) for i in range(n)]


def expected_df(spark: SparkSession, rows: list[tuple], schema: T.StructType, names: list[str] | None = None):
    fields = [f for f in schema.fields if names is None or f.name in names]
    return spark.createDataFrame(rows, T.StructType(fields))


def assert_rows(actual: DataFrame, expected: DataFrame) -> None:
    assert_approx_df_equality(
        actual.select(*expected.columns), expected, PRECISION, ignore_row_order=True, ignore_nullable=True
    )


# ---- the contract -----------------------------------------------------------------------------------------


def test_output_columns_and_types_are_the_declared_ones(spark):
    requests = requests_df(spark, [("recognise_user", at("2026-03-02 10:00:00"), OK, 100.0)])
    summary = [
        ("requests", "bigint"),
        ("latency_p50_ms", "double"),
        ("latency_p95_ms", "double"),
        ("latency_p99_ms", "double"),
        ("share_under_target", "double"),
        ("availability", "double"),
        ("client_4xx", "bigint"),
        ("server_5xx", "bigint"),
        ("peak_rps", "bigint"),
    ]
    budget = [
        ("window_requests", "bigint"),
        ("availability_budget_consumed", "double"),
        ("availability_budget_remaining", "double"),
        ("latency_budget_consumed", "double"),
        ("latency_budget_remaining", "double"),
    ]
    burn = [("availability_burn_rate", "double"), ("latency_burn_rate", "double")]
    daily = slo.build_slo_daily(requests, SMALL)
    hourly = slo.build_slo_hourly(requests, SMALL)
    alerts = slo.build_burn_rate_alerts(requests, SMALL)
    assert daily.dtypes == [("endpoint", "string"), *summary, *budget, ("event_date", "date")]
    assert hourly.dtypes == [
        ("endpoint", "string"),
        ("hour", "timestamp"),
        *summary,
        *burn,
        *budget,
        ("event_date", "date"),
    ]
    assert alerts.dtypes == [
        ("endpoint", "string"),
        ("sli", "string"),
        ("rule", "string"),
        ("severity", "string"),
        ("factor", "double"),
        ("fired_from", "timestamp"),
        ("fired_to", "timestamp"),
        ("evaluations", "bigint"),
        ("peak_long_burn_rate", "double"),
        ("peak_short_burn_rate", "double"),
        ("requests_in_long_window", "bigint"),
        ("budget_share", "double"),
    ]
    for frame, declared in ((daily, slo.SLO_DAILY), (hourly, slo.SLO_HOURLY), (alerts, slo.BURN_RATE_ALERTS)):
        assert [(f.name, f.dataType) for f in frame.schema] == [(f.name, f.dataType) for f in declared]


def test_objectives_are_checked_and_config_lists_become_tuples():
    built = slo.Objectives(burn_rules=[[3600, 300, 14.4, "page"]])
    assert built.burn_rules == ((3600, 300, 14.4, "page"),)
    assert slo.Objectives().burn_rules == (
        (3600, 300, 14.4, "page"),
        (21600, 1800, 6.0, "page"),
        (259200, 21600, 1.0, "ticket"),
    )
    for bad in (
        {"availability": 1.0},  # no budget at all
        {"latency": 0.0},
        {"window_days": 0},
        {"burn_rules": ((3600, 200, 14.4, "page"),)},  # not whole 5-minute buckets
        {"burn_rules": ((300, 3600, 14.4, "page"),)},  # short longer than long
    ):
        with pytest.raises(ValueError):
            slo.Objectives(**bad)


# ---- daily ------------------------------------------------------------------------------------------------

D1 = date(2026, 3, 2)


def test_daily_percentiles_share_under_target_availability_and_peak_rps(spark):
    rows = [
        ("recognise_user", at("2026-03-02 10:00:00.100"), OK, 100.0),
        ("recognise_user", at("2026-03-02 10:00:00.900"), C4, 200.0),  # a 4xx is not bad for availability
        ("recognise_user", at("2026-03-02 10:00:00.950"), OK, 400.0),  # 3 requests in the second 10:00:00
        ("recognise_user", at("2026-03-02 10:00:01.000"), OK, 1000.0),  # exactly at the target: good
        ("recognise_user", at("2026-03-02 11:00:00"), S5, 3000.0),
        ("recognise_user", at("2026-03-02 12:00:00"), S5, None),  # no latency: not good, not in percentiles
        ("add_user", at("2026-03-02 10:00:00"), OK, 50.0),
    ]
    actual = slo.build_slo_daily(requests_df(spark, rows), SMALL)
    # recognise_user: latencies sorted 100, 200, 400, 1000, 3000 (n = 5, positions p * 4):
    #   p50 at 2 -> 400; p95 at 3.8 -> 1000 + 0.8 * 2000 = 2600; p99 at 3.96 -> 1000 + 0.96 * 2000 = 2920.
    #   under target 100, 200, 400, 1000 -> 4 / 6; not 5xx 4 / 6; 4xx 1, 5xx 2; peak 3 (10:00:00).
    #   budget (window = the day): availability 2 / (0.1 * 6) = 10/3, remaining -7/3;
    #   latency bad 3000 and null = 2 / (0.2 * 6) = 5/3, remaining -2/3.
    expected = expected_df(
        spark,
        [
            ("recognise_user", 6, 400.0, 2600.0, 2920.0, 4 / 6, 4 / 6, 1, 2, 3, 6, 10 / 3, -7 / 3, 5 / 3, -2 / 3, D1),
            ("add_user", 1, 50.0, 50.0, 50.0, 1.0, 1.0, 0, 0, 1, 1, 0.0, 1.0, 0.0, 1.0, D1),
        ],
        slo.SLO_DAILY,
    )
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_daily_budget_at_the_default_objectives(spark):
    # 10,000 requests, one a second from midnight; request 0 is a 5xx; requests 0-49 take 1,500 ms.
    rows = [
        (
            "recognise_user",
            at("2026-03-02 00:00:00") + timedelta(seconds=i),
            S5 if i == 0 else OK,
            1500.0 if i < 50 else 100.0,
        )
        for i in range(10_000)
    ]
    actual = slo.build_slo_daily(requests_df(spark, rows), slo.Objectives())
    # availability 99.99 %: budget 0.0001 * 10,000 = 1 bad request -> consumed 1 / 1 = 1.0, remaining 0.0
    # latency 99 %: budget 0.01 * 10,000 = 100 slow requests; 50 -> consumed 0.5, remaining 0.5
    names = [
        "endpoint",
        "requests",
        "share_under_target",
        "availability",
        "server_5xx",
        "peak_rps",
        "window_requests",
        "availability_budget_consumed",
        "availability_budget_remaining",
        "latency_budget_consumed",
        "latency_budget_remaining",
        "event_date",
    ]
    expected = expected_df(
        spark, [("recognise_user", 10_000, 0.995, 0.9999, 1, 1, 10_000, 1.0, 0.0, 0.5, 0.5, D1)], slo.SLO_DAILY, names
    )
    assert_rows(actual, expected)


def test_daily_budget_window_holds_exactly_30_days(spark):
    jan1, jan30, jan31 = at("2026-01-01 12:00:00"), at("2026-01-30 12:00:00"), at("2026-01-31 12:00:00")
    rows = (
        burst("recognise_user", jan1, 10, bad=5)
        + burst("recognise_user", jan30, 10)
        + burst("recognise_user", jan31, 10)
    )
    actual = slo.build_slo_daily(requests_df(spark, rows), SMALL)
    # Jan 1: 10 requests, 5 bad: 5 / (0.1 * 10) = 5.0, remaining -4.0
    # Jan 30: Jan 1 is the 29th day before it: in the window -> 20 requests, 5 bad: 5 / (0.1 * 20) = 2.5
    # Jan 31: Jan 1 is the 30th day before it: out -> 20 requests, 0 bad: 0.0, remaining 1.0
    names = ["endpoint", "window_requests", "availability_budget_consumed", "availability_budget_remaining"]
    names += ["latency_budget_consumed", "event_date"]
    expected = expected_df(
        spark,
        [
            ("recognise_user", 10, 5.0, -4.0, 0.0, date(2026, 1, 1)),
            ("recognise_user", 20, 2.5, -1.5, 0.0, date(2026, 1, 30)),
            ("recognise_user", 20, 0.0, 1.0, 0.0, date(2026, 1, 31)),
        ],
        slo.SLO_DAILY,
        names,
    )
    assert_rows(actual, expected)


# ---- hourly -----------------------------------------------------------------------------------------------


def test_hourly_rows_burn_rates_and_budget(spark):
    ten = at("2026-03-02 10:00:00")
    hour_10 = [
        ("recognise_user", ten + timedelta(minutes=max(i - 1, 0)), S5 if i == 9 else C4 if i == 8 else OK, lat)
        for i, lat in enumerate([100.0] * 6 + [2000.0] * 4)
    ]  # requests 0 and 1 in the same second
    hour_11 = [
        ("recognise_user", at("2026-03-02 11:00:00"), OK, 100.0),
        ("recognise_user", at("2026-03-02 11:10:00"), OK, 200.0),
        ("recognise_user", at("2026-03-02 11:20:00"), S5, 300.0),
        ("recognise_user", at("2026-03-02 11:59:59.999"), S5, 400.0),
    ]
    actual = slo.build_slo_hourly(requests_df(spark, hour_10 + hour_11), SMALL)
    # 10:00: 10 requests; latencies 100 x 6, 2000 x 4: p50 at 4.5 -> 100, p95 at 8.55 and p99 at 8.91 -> 2000;
    #   under target 6 / 10; 1 5xx -> availability 0.9; 1 4xx; peak 2.
    #   burn: availability 0.1 / 0.1 = 1.0; latency 0.4 / 0.2 = 2.0.
    #   budget: availability 1 / (0.1 * 10) = 1.0 (remaining 0.0); latency 4 / (0.2 * 10) = 2.0 (remaining -1.0)
    # 11:00: 4 requests; 100, 200, 300, 400: p50 at 1.5 -> 250, p95 at 2.85 -> 385, p99 at 2.97 -> 397;
    #   2 5xx -> availability 0.5, burn 0.5 / 0.1 = 5.0; latency burn 0.
    #   budget over both hours: 14 requests; availability 3 / (0.1 * 14) = 15/7; latency 4 / (0.2 * 14) = 10/7
    expected = expected_df(
        spark,
        [
            (
                "recognise_user",
                ten,
                10,
                100.0,
                2000.0,
                2000.0,
                0.6,
                0.9,
                1,
                1,
                2,
                1.0,
                2.0,
                10,
                1.0,
                0.0,
                2.0,
                -1.0,
                D1,
            ),
            (
                "recognise_user",
                at("2026-03-02 11:00:00"),
                4,
                250.0,
                385.0,
                397.0,
                1.0,
                0.5,
                0,
                2,
                1,
                5.0,
                0.0,
                14,
                15 / 7,
                1 - 15 / 7,
                10 / 7,
                1 - 10 / 7,
                D1,
            ),
        ],
        slo.SLO_HOURLY,
    )
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_hourly_budget_window_holds_exactly_24_hours_a_day(spark):
    one_day = slo.Objectives(availability=0.9, latency=0.8, window_days=1)
    h0 = at("2026-03-02 00:00:00")
    h23, h24 = h0 + timedelta(hours=23), h0 + timedelta(hours=24)
    rows = burst("add_user", h0, 10, bad=5) + burst("add_user", h23, 10) + burst("add_user", h24, 10)
    actual = slo.build_slo_hourly(requests_df(spark, rows), one_day)
    # 00:00: 5 / (0.1 * 10) = 5.0; 23:00: the 23rd hour before is in -> 5 / (0.1 * 20) = 2.5;
    # 00:00 next day: 24 hours before is out -> 0 / 2.0 = 0.0
    names = ["endpoint", "hour", "window_requests", "availability_budget_consumed", "event_date"]
    expected = expected_df(
        spark,
        [("add_user", h0, 10, 5.0, D1), ("add_user", h23, 20, 2.5, D1), ("add_user", h24, 20, 0.0, date(2026, 3, 3))],
        slo.SLO_HOURLY,
        names,
    )
    assert_rows(actual, expected)


# ---- burn-rate alerts -------------------------------------------------------------------------------------


def alert_rows(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, slo.BURN_RATE_ALERTS)


@pytest.mark.parametrize(
    ("rule", "label", "bad_at_factor", "budget_share", "fired_to", "evaluations"),
    [
        # availability 99 %: budget 0.01; over 1,000 requests the factor f is f * 10 bad requests.
        # The lake holds no request after the bucket ending 10:05: it is the one point evaluated, for every rule.
        ((3600, 300, 14.4, "page"), "1h/5m", 144, 0.02, "10:05", 1),  # 14.4 * 1 h / 30 d
        ((21600, 1800, 6.0, "page"), "6h/30m", 60, 0.05, "10:05", 1),  # 6 * 6 h / 30 d
        ((259200, 21600, 1.0, "ticket"), "3d/6h", 10, 0.1, "10:05", 1),  # 1 * 3 d / 30 d
    ],
)
def test_burn_rate_exactly_at_the_factor_fires_just_below_does_not(
    spark, rule, label, bad_at_factor, budget_share, fired_to, evaluations
):
    objectives = slo.Objectives(availability=0.99, latency=0.9, min_requests=10, burn_rules=(rule,))
    start = at("2026-03-02 10:00:00")
    rows = burst("at", start, 1000, bad=bad_at_factor) + burst("below", start, 1000, bad=bad_at_factor - 1)
    actual = slo.build_burn_rate_alerts(requests_df(spark, rows), objectives)
    # one bucket [10:00, 10:05): both windows hold the same 1,000 requests at every point they hold any.
    # "at": bad_at_factor / 1000 / 0.01 = the factor (0.144 / 0.01 is 14.3999... in binary floating point);
    # "below": one bad request fewer, e.g. 14.3 for 1h/5m.
    factor, severity = rule[2], rule[3]
    start, end = at("2026-03-02 10:05:00"), at(f"2026-03-02 {fired_to}:00")
    fired = (start, end, evaluations, factor, factor, 1000, budget_share)
    expected = alert_rows(spark, [("at", "availability", label, severity, factor, *fired)])
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_the_short_window_alone_high_does_not_fire(spark):
    rows = burst("recognise_user", at("2026-03-02 10:00:00"), 900) + burst(
        "recognise_user", at("2026-03-02 10:50:00"), 100, bad=100
    )
    # at 10:55: short window (10:50, 10:55] 100 / 100 -> burn 100; long window (09:55, 10:55] 100 / 1000 -> 10
    actual = slo.build_burn_rate_alerts(requests_df(spark, rows), FAST_PAGE)
    assert actual.count() == 0


def test_the_long_window_alone_high_does_not_fire(spark):
    rows = burst("recognise_user", at("2026-03-02 10:00:00"), 200, bad=100) + burst(
        "recognise_user", at("2026-03-02 10:30:00"), 100
    )
    # at 10:05: both windows 100 / 200 -> burn 50: fires. 10:10 to 10:30: the short window is empty, no fire.
    # at 10:35: long window 100 / 300 -> burn 33.3 but short window 0 / 100: does not fire (no second row).
    actual = slo.build_burn_rate_alerts(requests_df(spark, rows), FAST_PAGE)
    end = at("2026-03-02 10:05:00")
    expected = alert_rows(
        spark, [("recognise_user", "availability", "1h/5m", "page", 14.4, end, end, 1, 50.0, 50.0, 200, 0.02)]
    )
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_a_quiet_window_does_not_fire_below_min_requests(spark):
    start = at("2026-03-02 03:00:00")
    rows = burst("quiet", start, 9, bad=9) + burst("busy", start, 10, bad=10)
    # every request a 5xx (burn 100), but "quiet" holds 9 requests < min_requests 10; "busy" exactly 10
    actual = slo.build_burn_rate_alerts(requests_df(spark, rows), FAST_PAGE)
    end = at("2026-03-02 03:05:00")
    expected = alert_rows(spark, [("busy", "availability", "1h/5m", "page", 14.4, end, end, 1, 100.0, 100.0, 10, 0.02)])
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_an_empty_short_window_never_fires_even_without_a_minimum(spark):
    rules = (PAGE_1H, (21600, 1800, 6.0, "page"))  # 6h/30m: the empty buckets up to 30 minutes on are evaluated
    objectives = slo.Objectives(availability=0.99, latency=0.9, min_requests=0, burn_rules=rules)
    rows = burst("recognise_user", at("2026-03-02 10:00:00"), 100, bad=100) + burst(
        "recognise_user", at("2026-03-02 10:10:00"), 100
    )
    # 1h/5m: 10:05: both windows 100 / 100 -> burn 100: fires.
    #   10:10 and 10:20 to 10:40: the short window is empty (0 bad of 0 requests would pass bad * den >=
    #   requests * num) while the long window burns at 100 or 50 and min_requests is 0: no fire.
    #   10:15: short window 0 / 100: no fire. One row of one evaluation.
    # 6h/30m: the short window holds the 100 5xx at 10:05, 10:10 (burn 100) and 10:15 (100 / 200 -> 50): one row
    #   of 3 evaluations; no point after 10:15, the end of the newest bucket with requests.
    actual = slo.build_burn_rate_alerts(requests_df(spark, rows), objectives)
    start = at("2026-03-02 10:05:00")
    expected = alert_rows(
        spark,
        [
            ("recognise_user", "availability", "1h/5m", "page", 14.4, start, start, 1, 100.0, 100.0, 100, 0.02),
            (
                "recognise_user",
                "availability",
                "6h/30m",
                "page",
                6.0,
                start,
                at("2026-03-02 10:15:00"),
                3,
                100.0,
                100.0,
                100,
                0.05,
            ),
        ],
    )
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_consecutive_firing_evaluations_are_one_row(spark):
    def bucket(minute: int, bad: int) -> list[tuple]:
        return burst("recognise_user", at("2026-03-02 10:00:00") + timedelta(minutes=minute), 100, bad=bad)

    rows = bucket(0, 20) + bucket(5, 50) + bucket(10, 15) + bucket(20, 30) + bucket(25, 0) + bucket(30, 100)
    actual = slo.build_burn_rate_alerts(requests_df(spark, rows), FAST_PAGE)
    # (short burn, long burn = bad so far / requests so far / 0.01)
    # 10:05: 20, 20/100 -> 20 fires    10:10: 50, 70/200 -> 35 fires    10:15: 15, 85/300 -> 28.3 fires
    # [10:15, 10:20) holds no request: at 10:20 the short window is empty, no fire: the run ends.
    # 10:25: 30, 115/400 -> 28.75 fires, alone.
    # 10:30: 0: does not fire.   10:35: 100, 215/600 -> 35.83 fires, alone.
    expected = alert_rows(
        spark,
        [
            (
                "recognise_user",
                "availability",
                "1h/5m",
                "page",
                14.4,
                at("2026-03-02 10:05:00"),
                at("2026-03-02 10:15:00"),
                3,
                35.0,
                50.0,
                200,
                0.02,
            ),
            (
                "recognise_user",
                "availability",
                "1h/5m",
                "page",
                14.4,
                at("2026-03-02 10:25:00"),
                at("2026-03-02 10:25:00"),
                1,
                28.75,
                30.0,
                400,
                0.02,
            ),
            (
                "recognise_user",
                "availability",
                "1h/5m",
                "page",
                14.4,
                at("2026-03-02 10:35:00"),
                at("2026-03-02 10:35:00"),
                1,
                215 / 6,
                100.0,
                600,
                0.02,
            ),
        ],
    )
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_no_rule_is_evaluated_past_the_last_instant_the_lake_holds(spark):
    # the end of 9999's last bucket is midnight of year 10000: until Dec 6 an alert firing there could not be
    # written, and every later run failed
    last = at("9999-12-31 23:50:00")
    rows = burst("recognise_user", last, 100, bad=20) + burst(
        "recognise_user", last + timedelta(minutes=5), 100, bad=50
    )
    actual = slo.build_burn_rate_alerts(requests_df(spark, rows), FAST_PAGE)
    # 23:55: 20 / 100 / 0.01 = 20 in both windows, fires; at 24:00 (70 / 200: 35, and 50) it would fire again
    fired = (at("9999-12-31 23:55:00"), at("9999-12-31 23:55:00"), 1, 20.0, 20.0, 100, 0.02)
    expected = alert_rows(spark, [("recognise_user", "availability", "1h/5m", "page", 14.4, *fired)])
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_rules_are_evaluated_at_the_end_of_empty_buckets_too(spark):
    # 2026-11-15, default objectives (availability 99.99 %: budget 0.0001; min_requests 100): 100 requests in
    # each of the buckets [10:00, 10:05), [10:05, 10:10) and [10:15, 10:20), 2 of each a 5xx; [10:10, 10:15) and
    # every bucket after 10:20 are empty. Every window holding requests holds 2 bad of each 100: burn
    # 0.02 / 0.0001 = 200, over every factor; every long window holds >= 100 requests.
    def bucket(minute: int) -> list[tuple]:
        return burst("recognise_user", at("2026-11-15 10:00:00") + timedelta(minutes=minute), 100, bad=2)

    rows = bucket(0) + bucket(5) + bucket(15)
    actual = slo.build_burn_rate_alerts(requests_df(spark, rows), slo.Objectives())
    # 1h/5m: fires at 10:05 and 10:10; at 10:15 the short window (10:10, 10:15] is empty: no fire, the run ends;
    #   fires at 10:20 (long window 6 / 300, short 2 / 100), then the short window is empty again.
    # 6h/30m and 3d/6h: the short window (T - 30 min or 6 h, T] holds requests at every point from 10:05 to 10:20,
    #   10:15 included; 10:20 is the end of the newest bucket with requests, the last point evaluated: one run of
    #   4 evaluations each (their short windows would hold requests until 10:45 and 16:15, of which the lake
    #   knows nothing yet).
    # The long burn rate is 200 at every point: its peak is the first, 10:05, with 100 requests in the long
    # window (300 at 10:20 for the second 1h/5m row).
    day = "2026-11-15 "

    def alert(rule, severity, factor, start, end, evaluations, long_requests, budget_share):
        fired = (at(day + start), at(day + end), evaluations, 200.0, 200.0, long_requests, budget_share)
        return ("recognise_user", "availability", rule, severity, factor, *fired)

    expected = alert_rows(
        spark,
        [
            alert("1h/5m", "page", 14.4, "10:05:00", "10:10:00", 2, 100, 0.02),
            alert("1h/5m", "page", 14.4, "10:20:00", "10:20:00", 1, 300, 0.02),
            alert("6h/30m", "page", 6.0, "10:05:00", "10:20:00", 4, 100, 0.05),
            alert("3d/6h", "ticket", 1.0, "10:05:00", "10:20:00", 4, 100, 0.1),
        ],
    )
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_latency_sli_counts_slow_and_missing_latencies_and_4xx_never_burn_availability(spark):
    objectives = slo.Objectives(availability=0.9, latency=0.9, min_requests=10, burn_rules=((3600, 300, 2.0, "page"),))
    start = at("2026-03-02 10:00:00")
    latencies = [1500.0, 1500.0, None, 1000.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0]
    classes = [OK, OK, OK, OK, C4, C4, C4, C4, OK, OK]
    rows = [
        ("add_user", start + timedelta(seconds=i), c, lat)
        for i, (c, lat) in enumerate(zip(classes, latencies, strict=True))
    ]
    actual = slo.build_burn_rate_alerts(requests_df(spark, rows), objectives)
    # latency: 2 slow + 1 missing = 3 / 10 / 0.1 -> burn 3 >= 2 fires (1000 ms is at the target: good);
    # availability: four 4xx, no 5xx -> burn 0 (as 4xx they would burn 4). budget share 2 * 1 h / 30 d = 1/360
    end = at("2026-03-02 10:05:00")
    expected = alert_rows(spark, [("add_user", "latency", "1h/5m", "page", 2.0, end, end, 1, 3.0, 3.0, 10, 1 / 360)])
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)
