"""Rules of the face_validation gold tables on hand-written api_calls rows (reference §2).

Every expected value is written by hand from the rule it checks.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from visionlake.sources.face_validation import gold
from visionlake.sources.face_validation.schema import API_CALLS

TZ = "America/Bogota"


def calls(spark, *rows: dict):
    """api_calls rows: every column null unless given."""
    names = API_CALLS.fieldNames()
    return spark.createDataFrame([tuple(row.get(n) for n in names) for row in rows], API_CALLS)


def sized(near: tuple[int | None, int | None], far: tuple[int | None, int | None] | None = None) -> dict:
    far = far or near
    return {
        "img_size_near_img_width": near[0],
        "img_size_near_img_height": near[1],
        "img_size_far_img_width": far[0],
        "img_size_far_img_height": far[1],
    }


def derived(spark, *rows: dict, names: dict[str, str] | None = None):
    return gold.with_transaction_columns(calls(spark, *rows), TZ, names)


@pytest.mark.parametrize(
    ("width", "height", "quality"),
    [
        (7680, 4320, "8K"),
        (4096, 2160, "4K"),
        (4095, 2160, "ULTRAHD"),  # 8,845,200 >= 3840 x 2160
        (3840, 2160, "ULTRAHD"),
        (3839, 2160, "FULLHD"),
        (1920, 1080, "FULLHD"),
        (1080, 1920, "FULLHD"),
        (1919, 1080, "HD"),
        (1280, 720, "HD"),
        (720, 1280, "HD"),
        (1279, 720, "XGA"),
        (1024, 768, "XGA"),
        (1023, 768, "SD"),
        (640, 480, "SD"),
        (590, 896, "SD"),
        (639, 480, "QVGA"),
        (320, 240, "QVGA"),
        (319, 240, "LOWERSCALES"),
        (None, 240, None),
    ],
)
def test_image_quality_boundaries(spark, width, height, quality):
    row = derived(spark, sized((width, height))).select("image_quality_near_img", "image_quality_far_img").first()
    assert tuple(row) == (quality, quality)


def test_aspect_ratio_and_same_flags(spark):
    rows = [
        sized((500, 500)),
        sized((896, 590)),
        sized((590, 896)),
        sized((590, 896), (1920, 1080)),  # the far image has another size
    ]
    actual = derived(spark, *rows).select(
        "aspect_ratio_near_img",
        "aspect_ratio_far_img",
        "same_aspect_ratio",
        "image_quality_near_img",
        "image_quality_far_img",
        "same_image_quality",
    )
    expected = spark.createDataFrame(
        [
            ("SQUARE", "SQUARE", True, "QVGA", "QVGA", True),  # 250,000 px >= 320 x 240
            ("LANDSCAPE", "LANDSCAPE", True, "SD", "SD", True),
            ("PORTRAIT", "PORTRAIT", True, "SD", "SD", True),
            ("PORTRAIT", "LANDSCAPE", False, "SD", "FULLHD", False),
        ],
        actual.schema,
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_far_quality_uses_the_far_height(spark):
    # The workshop used far width x near height: 1280 x 200 = 256,000 px would have been QVGA.
    row = derived(spark, sized((300, 200), (1280, 720))).first()
    assert (row.image_quality_near_img, row.image_quality_far_img) == ("LOWERSCALES", "HD")


def test_date_parts_are_local_time_and_midnight_belongs_to_the_new_day(spark):
    rows = [
        {"date": datetime(2025, 1, 9, 5, 0, 0)},  # 00:00:00 in Bogota (UTC-5)
        {"date": datetime(2025, 1, 9, 4, 59, 59, 999999)},  # 23:59:59.999999 the day before
        {"date": datetime(2025, 2, 1, 3, 10, 0)},  # still January 31st locally
    ]
    actual = derived(spark, *rows).select("local_date", *gold.DATE_PARTS)
    expected = spark.createDataFrame(
        [
            (date(2025, 1, 9), 2025, "January", 9, "Thursday", 0, 0),
            (date(2025, 1, 8), 2025, "January", 8, "Wednesday", 23, 59),
            (date(2025, 1, 31), 2025, "January", 31, "Friday", 22, 10),
        ],
        actual.schema,
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_a_local_time_out_of_the_years_has_no_local_date_nor_parts(spark):
    """A date silver took in another zone (until Dec 6 a local date of year 10000 stopped every later run)."""
    rows = [
        {"date": datetime(9999, 12, 31, 14, 59, 59, 999999)},  # 23:59:59.999999 on 31 Dec 9999 in Tokyo (UTC+9)
        {"date": datetime(9999, 12, 31, 15, 0, 0)},  # midnight of 1 Jan 10000 there
    ]
    actual = gold.with_transaction_columns(calls(spark, *rows), "Asia/Tokyo").select("local_date", *gold.DATE_PARTS)
    assert [tuple(r) for r in actual.collect()] == [
        (date(9999, 12, 31), 9999, "December", 31, "Friday", 23, 59),
        (None, None, None, None, None, None, None),
    ]


def test_missing_values_are_filled_and_totals_sum_near_far_and_queues(spark):
    row = derived(
        spark,
        {
            "total_time_ms": 1000,
            "time_ms_liqe_near_img": 100.0,
            "time_ms_liqe_far_img": 120.0,
            "queue_time_ms_liqe_near_img": 5.0,
            "queue_time_ms_liqe_far_img": None,  # missing -> 0
            "time_ms_classic_metrics_near_img": 300.0,
            "time_ms_classic_metrics_far_img": 250.0,
            "time_ms_geometry_check": 9.0,
            "queue_time_ms_geometry_check": 1.0,
            "time_ms_accessory_detector_near_img": 30.0,
            "queue_time_ms_accessory_detector_far_img": 300.0,
            "score_liqe_near_img": 2.5,
            "prob_ibeta2_clip_near_img": 0.75,
        },
    ).first()
    assert row.total_time_ms_liqe == 225.0
    assert row.total_time_ms_classic_metrics == 550.0
    assert row.total_time_ms_geometry_check == 10.0
    assert row.total_time_ms_accessory_detector == 330.0
    assert row.total_time_ms_topiq == 0.0
    assert row.total_time_ms_all_microservices == 1115.0
    assert row.total_time_ms_other_microservices == -115.0  # negative: kept as it is
    assert (row.score_liqe_near_img, row.score_liqe_far_img, row.score_svd_score_classic_metrics_far_img) == (
        2.5,
        -2.0,
        -2.0,
    )
    assert (row.prob_ibeta2_clip_near_img, row.prob_ibeta2_clip_far_img) == (0.75, -1.0)
    assert (row.time_ms_topiq_near_img, row.queue_time_ms_liqe_far_img) == (0.0, 0.0)


def test_transactions_has_the_67_columns_in_order(spark):
    columns = gold.build_transactions(derived(spark, sized((590, 896)))).columns
    assert len(columns) == 67
    assert columns[:11] == [
        "api_hash",
        "user_name",
        "file_token",
        "service",
        "summary_code",
        "summary_status",
        "summary_desc",
        "http_code",
        "procesoConvenioGuid",
        "convenio",
        "documento",
    ]
    assert columns[47:54] == [
        "date",
        "date_year",
        "date_month",
        "date_day",
        "date_day_of_week",
        "date_hour",
        "date_minute",
    ]
    assert columns[-3:] == ["total_time_ms_all_microservices", "total_time_ms_other_microservices", "total_time_ms"]


def attempt(process, convenio, when, status, code, desc, token, **extra):
    return {
        "procesoConvenioGuid": process,
        "convenio": convenio,
        "date": when,
        "summary_status": status,
        "summary_code": code,
        "summary_desc": desc,
        "summary_module": extra.pop("module", None),
        "file_token": token,
        "total_time_ms": extra.pop("total", 1000),
        **extra,
    }


T0 = datetime(2025, 1, 8, 15, 0, 0)  # 10:00 in Bogota
T1 = datetime(2025, 1, 8, 15, 1, 0)
T2 = datetime(2025, 1, 8, 15, 2, 0)
PROCESSES = [
    # p1: blur, then accepted (2 attempts)
    attempt("p1", "c1", T0, "error", 302, "blur/haze", "t1"),
    attempt("p1", "c1", T1, "ok", 1400, "antispoofing OK", "t2"),
    # p2: accepted at once
    attempt("p2", "c1", T0, "ok", 1400, "antispoofing OK", "t3"),
    # p3: two attempts at the same instant (error and ok), then nothing: the ok one is the last
    attempt("p3", "c2", T1, "ok", 1400, "antispoofing OK", "t4"),
    attempt("p3", "c2", T1, "error", 3002, "geometry fail", "t5"),
    # p4: blur, blur, spoof: abandoned
    attempt("p4", "c2", T0, "error", 302, "blur/haze", "t6"),
    attempt("p4", "c2", T1, "error", 302, "blur/haze", "t7"),
    attempt("p4", "c2", T2, "error", 1402, "spoof image", "t8"),
]


def test_transactions_final_keeps_the_last_attempt_and_breaks_ties_with_ok(spark):
    final = gold.build_transactions_final(derived(spark, *PROCESSES))
    assert sorted((r.procesoConvenioGuid, r.file_token) for r in final.collect()) == [
        ("p1", "t2"),
        ("p2", "t3"),
        ("p3", "t4"),
        ("p4", "t8"),
    ]


def test_client_acceptance_daily(spark):
    actual = gold.build_client_acceptance_daily(derived(spark, *PROCESSES)).orderBy("convenio")
    expected = spark.createDataFrame(
        [
            ("c1", "client-c1", date(2025, 1, 8), 2, 2, 1.0, 0.5, 3, 1.5),
            ("c2", "client-c2", date(2025, 1, 8), 2, 1, 0.5, 0.0, 5, 2.5),
        ],
        actual.schema,
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_client_acceptance_daily_shows_configured_names_and_short_pseudonyms(spark):
    long_pseudonym = "0123456789abcdef" * 4
    rows = [
        attempt("p1", "c1", T0, "ok", 1400, "antispoofing OK", "t1"),
        attempt("p2", long_pseudonym, T0, "ok", 1400, "antispoofing OK", "t2"),
    ]
    actual = gold.build_client_acceptance_daily(derived(spark, *rows, names={"c1": "Banco Andino"}))
    assert sorted((r.convenio, r.client_name) for r in actual.collect()) == [
        (long_pseudonym, "client-01234567"),
        ("c1", "Banco Andino"),
    ]


def test_retry_transitions(spark):
    actual = gold.build_retry_transitions(derived(spark, *PROCESSES))
    rows = {
        (r.from_summary_desc, r.to_summary_desc): (r.from_summary_code, r.to_summary_code, r.transitions)
        for r in actual.collect()
    }
    assert rows == {
        ("blur/haze", "antispoofing OK"): (302, 1400, 1),
        ("antispoofing OK", None): (1400, None, 3),
        ("geometry fail", "antispoofing OK"): (3002, 1400, 1),
        ("blur/haze", "blur/haze"): (302, 302, 1),
        ("blur/haze", "spoof image"): (302, 1402, 1),
        ("spoof image", None): (1402, None, 1),
    }


def test_documents_without_a_process_id_are_in_no_process(spark):
    # as the reference's groupby drops null keys; until Dec 6 they made one process across clients
    rows = [
        *PROCESSES[:2],
        attempt(None, "c1", T0, "error", 302, "blur/haze", "t9"),
        attempt(None, "c2", T1, "ok", 1400, "antispoofing OK", "t10"),
        attempt(None, "c3", T2, "error", 1402, "spoof image", "t11"),
    ]
    frame = derived(spark, *rows)
    assert [r.file_token for r in gold.build_transactions_final(frame).collect()] == ["t2"]
    assert [r.convenio for r in gold.build_client_acceptance_daily(frame).collect()] == ["c1"]
    transitions = {
        (r.from_summary_code, r.to_summary_code): r.transitions for r in gold.build_retry_transitions(frame).collect()
    }
    assert transitions == {(302, 1400): 1, (1400, None): 1}


def test_response_codes(spark):
    rows = [
        {**attempt("p1", "c1", T0, "ok", 1400, "antispoofing OK", "t1", module="antispoofing"), **sized((590, 896))},
        {**attempt("p2", "c1", T0, "ok", 1400, "antispoofing OK", "t2", module="antispoofing"), **sized((590, 896))},
        {**attempt("p3", "c1", T0, "ok", 1400, "antispoofing OK", "t3", module="antispoofing"), **sized((1920, 1080))},
        {**attempt("p4", "c1", T0, "error", 302, "blur/haze", "t4", module="quality"), **sized((590, 896))},
    ]
    actual = gold.build_response_codes(derived(spark, *rows)).orderBy("summary_code", "image_quality_near_img")
    expected = spark.createDataFrame(
        [
            (302, "blur/haze", "quality", "SD", "PORTRAIT", 1),
            (1400, "antispoofing OK", "antispoofing", "FULLHD", "LANDSCAPE", 1),
            (1400, "antispoofing OK", "antispoofing", "SD", "PORTRAIT", 2),
        ],
        actual.schema,
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_microservice_latency_daily(spark):
    base = {"date": T0, "summary_status": "ok"}
    rows = [
        # call 1: liqe 100 (near only), topiq 300 + 100 queue; total 1000 -> other 500
        {**base, "total_time_ms": 1000, "time_ms_liqe_near_img": 100.0, "time_ms_topiq_near_img": 300.0,
         "queue_time_ms_topiq_far_img": 100.0},
        # call 2: liqe 200, topiq did not run; total 500 -> other 300
        {**base, "total_time_ms": 500, "time_ms_liqe_near_img": 200.0},
    ]  # fmt: skip
    latency = gold.build_microservice_latency_daily(derived(spark, *rows))
    by_service = {r.service: r for r in latency.collect()}
    assert set(by_service) == {*gold.SERVICES, "other"} - {
        "accessory_detector",
        "face_detector",
        "classic_metrics",
        "as_35_selfies",
        "ibeta2_crops",
        "ibeta2_full",
        "ibeta2_clip",
        "geometry_check",
    }
    liqe, topiq, other = by_service["liqe"], by_service["topiq"], by_service["other"]
    assert (liqe.calls, liqe.mean_ms, liqe.p50_ms) == (2, 150.0, 150.0)
    assert (topiq.calls, topiq.mean_ms, topiq.p99_ms) == (1, 400.0, 400.0)
    assert (other.calls, other.mean_ms) == (2, 400.0)
    # shares of the day's 1,500 ms: other 800, topiq 400, liqe 300
    assert (other.share_of_total_time, topiq.share_of_total_time, liqe.share_of_total_time) == pytest.approx(
        (800 / 1500, 400 / 1500, 300 / 1500)
    )
    # other takes the largest share but is no microservice: the ten are ranked, other has a null rank
    assert (other.rank, topiq.rank, liqe.rank) == (None, 1, 2)
    assert latency.where(F.col("local_date") != date(2025, 1, 8)).count() == 0
