"""Tests of visionlake.sources.face_recognition.funnel on silver requests written by hand: the outcome of each
enrolment key (used before, exactly at and after its expiry, never used, failed in time, used twice, used the
next day, unknown), the daily counts and the exact percentiles of the time to enrol. Every expected value is
worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime

from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.sources.face_recognition import funnel
from visionlake.sources.face_recognition.schema import REQUESTS_TABLE

PRECISION = 1e-9
D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
MINIMAL = (
    "endpoint string, ts timestamp, http_status int, status string, message string, error_code string, "
    "matched boolean, enrollment_key string, enrollment_expires_at timestamp"
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def requests_df(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """Silver requests (schema.REQUESTS_TABLE) from the MINIMAL columns; the others null, event_date the UTC date
    of ts."""
    minimal = spark.createDataFrame(rows, MINIMAL).withColumn("event_date", F.to_date("ts"))
    return minimal.select(
        *[
            (F.col(f.name) if f.name in minimal.columns else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in REQUESTS_TABLE.fields
        ]
    )


def no_match(ts: str, key: str | None, expires: str | None) -> tuple:
    return ("recognise_user", at(ts), 200, "failure", "no_match", None, False, key, expires and at(expires))


def add_user(ts: str, key: str | None, http_status: int = 200, error_code: str | None = None) -> tuple:
    status, message = ("success", "User added successfully") if http_status == 200 else ("error", "refused")
    return ("add_user", at(ts), http_status, status, message, error_code, None, key, None)


def test_output_columns_and_types_are_the_declared_ones(spark):
    out = funnel.build_enrollment_funnel(requests_df(spark, [no_match("2026-03-02 10:00:00", "k", "2026-03-02 10:10")]))
    assert out.dtypes == [
        ("event_date", "date"),
        ("no_match_answers", "bigint"),
        ("keys_issued", "bigint"),
        ("enrolled", "bigint"),
        ("expired", "bigint"),
        ("failed", "bigint"),
        ("never_used", "bigint"),
        ("unknown_keys", "bigint"),
        ("conversion_rate", "double"),
        ("median_seconds_to_enrol", "double"),
        ("p90_seconds_to_enrol", "double"),
    ]
    declared = [(f.name, f.dataType, f.nullable) for f in funnel.ENROLLMENT_FUNNEL]
    assert [(f.name, f.dataType, f.nullable) for f in out.schema] == declared


def test_key_outcomes_daily_counts_and_time_to_enrol(spark):
    rows = [
        # ---- D1: nine keys issued, each expiring 10 minutes after its answer
        # before expiry: enrolled 180 s after the answer
        no_match("2026-03-02 10:00:00", "k_before", "2026-03-02 10:10:00"),
        add_user("2026-03-02 10:03:00", "k_before"),
        # exactly at the expiry instant: in time, enrolled after 600 s
        no_match("2026-03-02 11:00:00", "k_at", "2026-03-02 11:10:00"),
        add_user("2026-03-02 11:10:00", "k_at"),
        # after expiry, refused with 602: expired
        no_match("2026-03-02 12:00:00", "k_after", "2026-03-02 12:10:00"),
        add_user("2026-03-02 12:10:01", "k_after", 400, "602"),
        # one microsecond after expiry and yet accepted: judged by time, expired
        no_match("2026-03-02 12:30:00", "k_late_ok", "2026-03-02 12:40:00"),
        add_user("2026-03-02 12:40:00.000001", "k_late_ok"),
        # never used
        no_match("2026-03-02 13:00:00", "k_never", "2026-03-02 13:10:00"),
        # used in time but refused for a duplicate e-mail: failed
        no_match("2026-03-02 14:00:00", "k_failed", "2026-03-02 14:10:00"),
        add_user("2026-03-02 14:05:00", "k_failed", 404, "404"),
        # refused with 602 ("expired") one minute BEFORE the expiry: judged by time, an in-time failure: failed
        no_match("2026-03-02 14:30:00", "k_602_early", "2026-03-02 14:40:00"),
        add_user("2026-03-02 14:39:00", "k_602_early", 400, "602"),
        # used twice in time (a 503, then success 240 s after the answer), then once more after expiry: enrolled
        no_match("2026-03-02 15:00:00", "k_twice", "2026-03-02 15:10:00"),
        add_user("2026-03-02 15:02:00", "k_twice", 503, "503"),
        add_user("2026-03-02 15:04:00", "k_twice"),
        add_user("2026-03-02 15:12:00", "k_twice", 400, "602"),
        # issued at 23:55 on D1, used at 00:01 on D2: enrolled after 360 s, counted on D1
        no_match("2026-03-02 23:55:00", "k_next_day", "2026-03-03 00:05:00"),
        add_user("2026-03-03 00:01:00", "k_next_day"),
        # not a no-match answer: a match
        ("recognise_user", at("2026-03-02 09:00:00"), 200, "success", "Match found", None, True, None, None),
        # a no-match answer that issued no key: an answer, no key
        no_match("2026-03-02 09:30:00", None, None),
        # enrolled 60 s after its answer by an add_user answered 201 Created: a success
        no_match("2026-03-02 16:00:00", "k_201", "2026-03-02 16:10:00"),
        ("add_user", at("2026-03-02 16:01:00"), 201, "success", "Created", None, None, "k_201", None),
        # an add_user without a key: an ordinary enrolment, outside the funnel
        add_user("2026-03-02 09:45:00", None),
        # ---- D2: one key enrolled after 30 s; an unknown key used twice (one distinct unknown key)
        no_match("2026-03-03 10:00:00", "k_d2", "2026-03-03 10:10:00"),
        add_user("2026-03-03 10:00:30", "k_d2"),
        add_user("2026-03-03 09:00:00", "k_old"),
        add_user("2026-03-03 09:30:00", "k_old", 400, "602"),
        # ---- D3: only an unknown key: no answer, conversion and times null
        add_user("2026-03-04 08:00:00", "k_older"),
    ]
    out = funnel.build_enrollment_funnel(requests_df(spark, rows))
    # D1 enrolled: k_201 60, k_before 180, k_twice 240, k_next_day 360, k_at 600 (sorted, n = 5)
    #   median: position 0.5 * 4 = 2 -> 240
    #   p90:    position 0.9 * 4 = 3.6 -> 360 + 0.6 * (600 - 360) = 504
    # D1: 11 no-match answers (10 with a key, one without), 10 keys issued; outcomes: enrolled 5 (201, before,
    #   at, twice, next_day), expired 2 (after, late_ok), failed 2 (failed, 602_early), never_used 1;
    #   conversion 5 / 11
    expected = spark.createDataFrame(
        [
            (D1, 11, 10, 5, 2, 2, 1, 0, 5 / 11, 240.0, 504.0),
            (D2, 1, 1, 1, 0, 0, 0, 1, 1.0, 30.0, 30.0),
            (D3, 0, 0, 0, 0, 0, 0, 1, None, None, None),
        ],
        funnel.ENROLLMENT_FUNNEL,
    )
    assert_approx_df_equality(out, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_median_of_an_odd_count_and_a_duplicate_answer(spark):
    rows = [
        # three enrolments 10 s, 20.5 s and 100 s after their answers: the median is the middle one, 20.5;
        # p90 at position 0.9 * 2 = 1.8 -> 20.5 + 0.8 * (100 - 20.5) = 84.1
        no_match("2026-03-02 08:00:00", "a", "2026-03-02 08:10:00"),
        add_user("2026-03-02 08:00:10", "a"),
        no_match("2026-03-02 08:20:00", "b", "2026-03-02 08:30:00"),
        add_user("2026-03-02 08:20:20.5", "b"),
        no_match("2026-03-02 08:40:00", "c", "2026-03-02 08:50:00"),
        add_user("2026-03-02 08:41:40", "c"),
        # the same key answered twice: two answers, one key, issued by the earliest answer (timed from 08:40)
        no_match("2026-03-02 08:40:30", "c", "2026-03-02 08:50:30"),
    ]
    out = funnel.build_enrollment_funnel(requests_df(spark, rows))
    expected = spark.createDataFrame([(D1, 4, 3, 3, 0, 0, 0, 0, 3 / 4, 20.5, 84.1)], funnel.ENROLLMENT_FUNNEL)
    assert_approx_df_equality(out, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_keys_never_issued_uses_before_the_answer_and_unknown_keys_on_two_days(spark):
    rows = [
        # D1: an answer with a key but no expiry issues nothing (an answer, no key); its use is of an unknown key
        no_match("2026-03-02 10:00:00", "k_no_expiry", None),
        add_user("2026-03-02 10:01:00", "k_no_expiry"),
        # D1: a use 30 s before its answer (clock skew) is in time: enrolled, -30 s to enrol
        add_user("2026-03-02 10:59:30", "k_skew"),
        no_match("2026-03-02 11:00:00", "k_skew", "2026-03-02 11:10:00"),
        # an unknown key used twice on D1 and once on D2: one unknown key on each day
        add_user("2026-03-02 12:00:00", "k_old"),
        add_user("2026-03-02 12:05:00", "k_old", 400, "602"),
        add_user("2026-03-03 09:00:00", "k_old"),
        # D2: a key issued on D2 whose answer repeats on D3: two answers on two days, one key, counted on D2
        no_match("2026-03-03 10:00:00", "k_repeat", "2026-03-03 10:10:00"),
        no_match("2026-03-04 10:00:00", "k_repeat", "2026-03-04 10:10:00"),
        # an answer without a time (silver quarantines it): an answer on no day
        ("recognise_user", None, 200, "failure", "no_match", None, False, None, None),
    ]
    out = funnel.build_enrollment_funnel(requests_df(spark, rows))
    # D1: answers k_no_expiry, k_skew = 2; issued k_skew (enrolled, -30 s); unknown k_no_expiry, k_old = 2;
    #   conversion 1 / 2; median and p90 of [-30] = -30
    # D2: answer k_repeat; issued k_repeat, never used (its answer repeated on D3 is no use); unknown k_old
    # D3: the repeated answer only; no day: the answer without a time
    expected = spark.createDataFrame(
        [
            (D1, 2, 1, 1, 0, 0, 0, 2, 0.5, -30.0, -30.0),
            (D2, 1, 1, 0, 0, 0, 1, 1, 0.0, None, None),
            (D3, 1, 0, 0, 0, 0, 0, 0, 0.0, None, None),
            (None, 1, 0, 0, 0, 0, 0, 0, 0.0, None, None),
        ],
        funnel.ENROLLMENT_FUNNEL,
    )
    assert_approx_df_equality(out, expected, PRECISION, ignore_row_order=True, ignore_nullable=True)


def test_empty_requests_give_no_row(spark):
    empty = spark.createDataFrame([], T.StructType(REQUESTS_TABLE.fields))
    assert funnel.build_enrollment_funnel(empty).count() == 0
