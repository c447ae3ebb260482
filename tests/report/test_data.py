"""The report's data functions on small hand-made rows; every expected value is worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from visionlake.report import data

D1, D2, D3 = date(2022, 5, 2), date(2022, 5, 3), date(2022, 5, 4)


def _latency(day, service, calls, mean_ms, p95_ms, rank):
    return {
        "local_date": day,
        "service": service,
        "calls": calls,
        "mean_ms": mean_ms,
        "p95_ms": p95_ms,
        "share_of_total_time": None,
        "rank": rank,
    }


def test_latency_summary_weights_days_by_calls_and_names_the_bottleneck():
    rows = [
        _latency(D1, "svc_a", 3, 100.0, 150.0, 1),
        _latency(D1, "svc_b", 3, 50.0, 60.0, 2),
        _latency(D1, "other", 3, 200.0, 300.0, None),
        _latency(D2, "svc_a", 1, 40.0, 40.0, 2),
        _latency(D2, "svc_b", 1, 80.0, 80.0, 1),
        _latency(D2, "other", 1, 10.0, 10.0, None),
        _latency(D3, "svc_a", 1, 90.0, 90.0, 1),
        _latency(D3, "svc_b", 1, 30.0, 30.0, 2),
        _latency(D3, "other", 1, 0.0, 0.0, None),
    ]
    # svc_a: 300 + 40 + 90 = 430 ms over 5 calls (mean 86), p95 (450 + 40 + 90) / 5 = 116; svc_b: 260 ms;
    # other: 610 ms; all: 1300 ms. svc_a is ranked first on D1 and D3.
    summary = data.latency_summary(rows)

    assert [s.service for s in summary.services] == ["other", "svc_a", "svc_b"]
    a = summary.services[1]
    assert (a.calls, a.mean_ms, a.p95_ms, a.bottleneck_days) == (5, 86.0, 116.0, 2)
    assert a.share == pytest.approx(430 / 1300)
    assert summary.bottleneck == "svc_a"
    assert summary.reading == (
        "svc_a is the bottleneck on 2 of 3 days: 33% of all API time, mean 86 ms, p95 116 ms; "
        "time no service reported (other) is 47%."
    )


def test_latency_summary_never_names_other_even_when_a_lake_ranked_it_first():
    rows = [
        _latency(D1, "other", 2, 500.0, 600.0, 1),  # lakes written before `other` lost its rank
        _latency(D1, "svc_a", 2, 100.0, 120.0, 3),
        _latency(D1, "svc_b", 2, 200.0, 220.0, 2),
    ]
    summary = data.latency_summary(rows)

    assert summary.bottleneck == "svc_b"
    assert summary.reading.startswith("svc_b is the bottleneck on 1 of 1 days")


def test_latency_summary_of_no_rows_is_none():
    assert data.latency_summary([]) is None


def test_client_label_prefers_the_display_name_then_8_characters_of_the_pseudonym():
    pseudonym = "ab12cd34" + "f" * 56
    assert data.client_label({"convenio": pseudonym, "client_name": "Banco Andino"}) == "Banco Andino"
    assert data.client_label({"convenio": pseudonym, "client_name": None}) == "client-ab12cd34"
    assert data.client_label({"convenio": pseudonym}) == "client-ab12cd34"  # a table without client_name
    assert data.client_label({"convenio": None}) == "unknown client"


def _acceptance(convenio, day, processes, accepted, first_rate, attempts, name=None):
    row = {
        "convenio": convenio,
        "local_date": day,
        "processes": processes,
        "accepted": accepted,
        "acceptance_rate": accepted / processes,
        "first_attempt_acceptance_rate": first_rate,
        "attempts": attempts,
        "attempts_per_process": attempts / processes,
    }
    if name:
        row["client_name"] = name
    return row


def test_client_acceptance_sums_days_per_client():
    other = "abcdef01" + "0" * 56
    rows = [
        _acceptance("1" * 64, D1, 4, 3, 0.5, 7, name="Banco"),
        _acceptance("1" * 64, D2, 2, 2, 1.0, 2, name="Banco"),
        _acceptance(other, D1, 4, 1, 0.25, 10),
    ]
    # 10 processes, 6 accepted, first attempt 2 + 2 + 1 = 5; attempts 19: Banco 9/6, client-abcdef01 10/4
    acceptance = data.client_acceptance(rows)

    assert [c.name for c in acceptance.clients] == ["Banco", "client-abcdef01"]
    banco = acceptance.clients[0]
    assert (banco.processes, banco.accepted, banco.first_accepted, banco.attempts) == (6, 5, 4, 9)
    assert banco.daily == [(D1, 0.75, 0.5, 4), (D2, 1.0, 1.0, 2)]
    assert acceptance.reading == (
        "60% of 10 processes were accepted in the end, 50% at the first attempt; "
        "lowest final acceptance: client-abcdef01 (25% of 4)."
    )
    assert acceptance.attempts_reading == (
        "A process took 1.9 attempts on average; most: client-abcdef01 (2.5), fewest: Banco (1.5)."
    )


def _transition(from_code, from_desc, to_code, to_desc, n):
    return {
        "from_summary_code": from_code,
        "from_summary_desc": from_desc,
        "to_summary_code": to_code,
        "to_summary_desc": to_desc,
        "transitions": n,
    }


def test_rejection_outcomes_split_recovered_rejected_again_and_abandoned():
    rows = [
        _transition(302, "blur/haze", 1400, "antispoofing OK", 6),
        _transition(302, "blur/haze", 302, "blur/haze", 3),
        _transition(302, "blur/haze", None, None, 1),
        _transition(1402, "spoof image", None, None, 3),
        _transition(1402, "spoof image", 1400, "antispoofing OK", 1),
        _transition(1400, "antispoofing OK", None, None, 10),  # accepted, not a rejection
        _transition(1400, "antispoofing OK", 302, "blur/haze", 4),
    ]
    rejections = data.rejection_outcomes(rows)

    assert rejections.outcomes == [
        data.RejectionOutcome(302, "blur/haze", accepted_next=6, rejected_again=3, abandoned=1),
        data.RejectionOutcome(1402, "spoof image", accepted_next=1, rejected_again=0, abandoned=3),
    ]
    assert rejections.reading == (
        "blur/haze (302) is the commonest rejection (10): the next attempt was accepted after 60% of them and the "
        "user gave up after 10%; most abandoned processes end on spoof image (1402) (3 of 4)."
    )


def test_rejection_outcomes_of_only_accepted_calls_is_none():
    assert data.rejection_outcomes([_transition(1400, "antispoofing OK", None, None, 5)]) is None


def _codes(code, desc, quality, calls):
    return {
        "summary_code": code,
        "summary_desc": desc,
        "summary_module": "m",
        "image_quality_near_img": quality,
        "aspect_ratio_near_img": "PORTRAIT",
        "calls": calls,
    }


def test_codes_by_quality_orders_qualities_and_compares_acceptance():
    rows = [
        _codes(1400, "antispoofing OK", "SD", 30),
        _codes(1400, "antispoofing OK", "FULLHD", 9),
        _codes(302, "blur/haze", "SD", 20),
        _codes(302, "blur/haze", "FULLHD", 1),
        _codes(302, "blur/haze", None, 5),
    ]
    codes = data.codes_by_quality(rows)

    assert codes.qualities == ["FULLHD", "SD", "unknown"]
    assert codes.codes == [
        ("antispoofing OK (1400)", {"SD": 30, "FULLHD": 9}),
        ("blur/haze (302)", {"SD": 20, "FULLHD": 1, "unknown": 5}),
    ]
    # FULLHD 9 of 10 accepted, SD 30 of 50; the unknown size is left out of the comparison
    assert codes.reading == "FULLHD near images are accepted most often (90% of 10 calls), SD least (60% of 50)."


def test_codes_by_quality_with_one_known_quality():
    codes = data.codes_by_quality([_codes(1400, "antispoofing OK", "SD", 3), _codes(302, "blur/haze", "SD", 1)])
    assert codes.reading == "Every near image of known size is SD; 75% of its 4 calls were accepted."


def _camera(camera, day, frames, plates, with_plates, p95):
    return {
        "camera_id": camera,
        "event_date": day,
        "frames": frames,
        "frames_with_plates": with_plates,
        "plates": plates,
        "duration_ms_p95": p95,
    }


CAMERA_ROWS = [
    _camera("cam-a", D2, 5, 4, 4, 80.0),
    _camera("cam-a", D1, 10, 12, 8, 120.0),
    _camera("cam-b", D1, 20, 10, 8, None),  # parallel mode: no duration
    _camera("cam-b", D2, 1, 0, 0, 90.4),
]


def test_camera_traffic_totals_and_the_busiest_camera():
    traffic = data.camera_traffic(CAMERA_ROWS)

    assert traffic.cameras == ["cam-a", "cam-b"]
    assert traffic.series["cam-a"] == [(D1, 10, 12), (D2, 5, 4)]
    # 36 frames, 26 plates, 20 frames with a plate; cam-b has 21 frames, cam-a 15
    assert traffic.reading == (
        "36 frames and 26 plates from 2 cameras over 2 days; 56% of frames show a plate; "
        "busiest: cam-b (21 frames, 10 plates)."
    )


def test_duration_p95_against_the_seed():
    durations = data.duration_p95(CAMERA_ROWS)

    assert durations.series == {"cam-a": [(D1, 120.0), (D2, 80.0)], "cam-b": [(D2, 90.4)]}
    assert durations.reading == (
        "Recognition p95 is above the seed's 86 ms on 2 of 3 camera-days (highest 120 ms: cam-a, 2022-05-02). "
        "Seed: 239 results of Iaddiop/ultimateALPR_data_extraction sample/ @e4d8c29, p95 86 ms, 104 ms for the 62 "
        "with a plate."
    )


def test_seed_durations_are_those_of_the_seed_samples():
    """The constants the chart draws, against the seed's own files (numpy's default interpolation is gold's)."""
    import numpy as np
    from tests.conftest import SEED_ALPR

    results = [json.loads(p.read_text()) for p in sorted(SEED_ALPR.glob("*.json"))]
    durations = [r["duration"] for r in results]
    with_plate = [r["duration"] for r in results if r.get("plates")]
    seed = data.SEED_DURATIONS

    assert (len(durations), len(with_plate)) == (seed.results, seed.with_plate)
    assert np.percentile(durations, 50) == pytest.approx(seed.p50_ms)
    assert np.percentile(durations, 95) == pytest.approx(seed.p95_ms)
    assert np.percentile(with_plate, 95) == pytest.approx(seed.p95_with_plate_ms)


def test_ocr_distribution_fills_every_bin_and_reads_the_threshold():
    ocr = data.ocr_distribution(
        {30.0: 2, 65.0: 3, 70.0: 4, 95.0: 1}, plates=10, below=5, median_confidence=70.0, threshold=70.0
    )

    assert len(ocr.bins) == 20
    assert ocr.bins[0] == (0.0, 0) and ocr.bins[6] == (30.0, 2) and ocr.bins[13] == (65.0, 3)
    assert ocr.bins[19] == (95.0, 1)
    assert ocr.reading == (
        "50% of 10 plates (5) read below the low-confidence threshold of 70 (alpr.low_confidence_threshold); "
        "median OCR confidence 70."
    )


def test_ocr_distribution_without_plates_is_none():
    assert data.ocr_distribution({}, plates=0, below=0, median_confidence=None, threshold=70.0) is None


def test_daily_cost_totals_and_reads_the_price_back():
    rows = [
        {"event_date": D2, "frames": 50, "recognition_seconds": 7.2, "estimated_cost": 0.00088},
        {"event_date": D1, "frames": 100, "recognition_seconds": 36.0, "estimated_cost": 0.0044},
    ]
    cost = data.daily_cost(rows)

    assert [d[0] for d in cost.days] == [D1, D2]
    # 0.00528 over 43.2 s: 0.44 per hour
    assert cost.reading == (
        "Estimated recognition cost 0.0053 over 2 days (43 s of recognition at 0.44 per hour); "
        "highest on 2022-05-02: 0.0044 for 100 frames."
    )


@pytest.mark.parametrize(
    ("value", "text"), [(0.0, "0"), (0.0123, "0.012"), (0.5, "0.5"), (1234.5, "1,234.50"), (2.0, "2.00")]
)
def test_money(value, text):
    assert data.money(value) == text


def _run(run_id, source, stage, status, started, seconds, files_in=None, rows_in=None, rows_out=None, q=None):
    return {
        "run_id": run_id,
        "source": source,
        "stage": stage,
        "status": status,
        "started_at": started,
        "seconds": seconds,
        "files_in": files_in,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "quarantined": q,
        "message": None,
    }


def test_run_history_newest_first_with_rows_out_per_stage():
    t1 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    t2 = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    rows = [
        _run("r1", "alpr", "gold", "ok", t1, 1.0, rows_out={"gold/daily": 4}),
        _run("r1", "alpr", "bronze", "ok", t1, 2.0, files_in=3, rows_out={"bronze/results": 3}),
        _run("r1", "alpr", "check", "ok", t1, 0.5),
        _run(
            "r1",
            "alpr",
            "silver",
            "ok",
            t1,
            3.5,
            rows_in=3,
            q=1,
            rows_out=[("quarantine/alpr", 1), ("silver/frames", 2), ("silver/plates", 5)],
        ),
        _run("r2", "face_validation", "bronze", "ok", t2, 4.0, files_in=1, rows_out={"bronze/documents": 2}),
        _run("r2", "face_validation", "silver", "failed", t2, 1.0, rows_in=2),
    ]
    history = data.run_history(rows)

    assert [r.run_id for r in history.runs] == ["r2", "r1"]
    r1 = history.runs[1]
    assert [s.stage for s in r1.stages] == ["bronze", "silver", "check", "gold"]
    assert [s.rows_out for s in r1.stages] == [3, 7, None, 4]  # quarantine is not an output
    assert (r1.seconds, r1.status, history.runs[0].status) == (7.0, "ok", "failed")
    assert history.reading == (
        "2 runs of alpr, face_validation from 2026-01-01 to 2026-01-02; the latest (face_validation) took 5 s, "
        "bronze the longest (4 s); 1 did not complete (failed); 1 record quarantined in all."
    )


def test_run_history_keeps_the_newest_runs():
    rows = [_run(f"r{i}", "alpr", "bronze", "ok", datetime(2026, 1, i, tzinfo=UTC), 1.0) for i in range(1, 6)]
    history = data.run_history(rows, limit=2)

    assert [r.run_id for r in history.runs] == ["r5", "r4"]
    assert history.total_runs == 5


def test_quarantine_reasons_most_first():
    rows = [
        {"source": "alpr", "reason": "invalid_json", "records": 3},
        {"source": "alpr", "reason": "empty_file", "records": 1},
        {"source": "face_validation", "reason": "duplicate_id", "records": 5},
        {"source": "alpr", "reason": "too_deep", "records": 0},
    ]
    quarantine = data.quarantine_reasons(rows)

    assert quarantine.reasons == [
        ("face_validation", "duplicate_id", 5),
        ("alpr", "invalid_json", 3),
        ("alpr", "empty_file", 1),
    ]
    assert quarantine.reading == "9 records quarantined; the commonest reason: duplicate_id (face_validation, 5)."
    assert data.quarantine_reasons([]).reading == "No record has been quarantined."


# ------------------------------------------------------------------------------------------------------------
# detections


def test_alerts_by_severity_per_day_most_urgent_first_with_the_reports_episodes():
    alerts = [
        {"local_date": D2, "severity": "info", "alerts": 1},
        {"local_date": D1, "severity": "critical", "alerts": 2},
        {"local_date": D2, "severity": "critical", "alerts": 3},
        {"local_date": D2, "severity": "warning", "alerts": 1},
    ]
    report = [
        {"local_date": D1, "severity": "critical", "episodes": 3},
        {"local_date": D2, "severity": "critical", "episodes": 4},
        {"local_date": D3, "severity": "error", "episodes": 2},  # a day with episodes and no alert
    ]
    result = data.alerts_by_severity(alerts, report)

    assert result.days == [D1, D2, D3]
    assert result.severities == ["critical", "warning", "info"]
    assert result.counts == {"critical": [2, 3, 0], "warning": [0, 1, 0], "info": [0, 1, 0]}
    assert (result.alerts, result.episodes) == (7, 9)
    assert result.reading == (
        "7 alerts (5 critical, 1 warning, 1 info) from 9 threat episodes (counted per day) over 3 site-local days; "
        "most on 2022-05-03 (5)."
    )


def test_alerts_by_severity_without_an_alert_is_none():
    assert data.alerts_by_severity([], [{"local_date": D1, "severity": "error", "episodes": 2}]) is None


def _user(user, frames, alerts, alert_frames):
    return {"user_id": user, "frames": frames, "alerts": alerts, "alert_frames": alert_frames}


def test_threats_by_user_most_alerts_first_top_n_kept():
    rows = [_user("u-1", 100, 1, 10), _user("u-2", 50, 3, 20), _user("u-3", 80, 0, 0), _user("u-4", 40, 1, 30)]

    result = data.threats_by_user(rows, top=2)

    # u-2 3 alerts; u-4 and u-1 one each, u-4 first (more alert frames); u-3 has none
    assert [(u.user_id, u.alerts) for u in result.users] == [("u-2", 3), ("u-4", 1)]
    assert (result.total_users, result.users_alerted, result.alerts) == (4, 3, 5)
    assert result.users[0].threat_share == pytest.approx(0.4)
    assert result.reading == (
        "3 of 4 users had an alert (5 alerts in all); most: u-2 with 3 (60% of all alerts), 40% of its 50 frames in "
        "alerted episodes; the 2 users with most alerts are shown."
    )


def test_threats_by_user_without_an_alert_is_none():
    assert data.threats_by_user([_user("u-1", 100, 0, 0)]) is None


def test_suppressed_matches_by_reason_and_rule():
    rows = [
        {"reason": "outside_schedule", "rule_id": 200, "matches": 30},
        {"reason": "outside_schedule", "rule_id": 300, "matches": 10},
        {"reason": "cooldown", "rule_id": 200, "matches": 5},
        {"reason": "below_score", "rule_id": 100, "matches": 5},
        {"reason": "invalid_image", "rule_id": 200, "matches": 0},
    ]
    result = data.suppressed_matches(rows, {200: "Person at night"})

    # ties on matches follow the order the reasons are decided in: below_score before cooldown
    assert [(r, n) for r, n, _ in result.reasons] == [("outside_schedule", 40), ("below_score", 5), ("cooldown", 5)]
    assert result.rules == [100, 200, 300]
    assert result.matches == 50
    assert [result.rule_label(r) for r in result.rules] == ["rule 100", "rule 200: Person at night", "rule 300"]
    assert result.reading == (
        "50 matching frames did not alert; the commonest reason: outside_schedule (40, 80%), 30 of them from "
        "rule 200: Person at night."
    )


def test_suppressed_matches_of_nothing_is_none():
    assert data.suppressed_matches([{"reason": "cooldown", "rule_id": 1, "matches": 0}]) is None


def _camera_health(user, device, frames, invalid, silence, silent, mostly, flagged, days=1):
    return {
        "user_id": user,
        "device_id": device,
        "site_id": "site-1",
        "days": days,
        "frames": frames,
        "invalid_frames": invalid,
        "longest_silence_minutes": silence,
        "silent": silent,
        "mostly_invalid": mostly,
        "days_flagged": flagged,
    }


def test_device_health_flags_mostly_invalid_cameras_first_then_the_silent():
    rows = [
        _camera_health("u-1", "cam-01", 40, 0, 30.0, False, False, 0),
        _camera_health("u-1", "cam-02", 30, 3, 200.0, True, False, 1),
        _camera_health("(untagged)", "cam-05", 10, 10, 50.0, False, True, 2, days=2),
        _camera_health("u-2", "cam-01", 20, 0, 400.5, True, False, 1),
    ]
    reasons = [
        {"user_id": "(untagged)", "device_id": "cam-05", "reason": "missing_user_tag", "frames": 10},
        {"user_id": "(untagged)", "device_id": "cam-05", "reason": "format", "frames": 2},
        {"user_id": "u-1", "device_id": "cam-02", "reason": "min_contrast", "frames": 3},
    ]
    health = data.device_health(rows, reasons, silence_alert_minutes=120, invalid_alert_share=0.5)

    assert [c.camera for c in health.cameras] == ["(untagged) / cam-05", "u-1 / cam-01", "u-1 / cam-02", "u-2 / cam-01"]
    assert [c.camera for c in health.flagged] == ["(untagged) / cam-05", "u-2 / cam-01", "u-1 / cam-02"]
    assert health.flagged[0].reasons == {"missing_user_tag": 10, "format": 2}
    assert health.flagged[2].invalid_share == pytest.approx(0.1)
    assert (health.frames, health.invalid_frames) == (100, 13)
    assert health.reading == (
        "100 frames from 4 cameras, 13 of them invalid images (13%); 3 cameras needed attention (2 silent for over "
        "120 minutes, 1 with mostly invalid images); longest silence: u-2 / cam-01 (400 minutes)."
    )


def test_device_health_of_healthy_cameras_and_of_no_camera():
    health = data.device_health([_camera_health("u-1", "cam-01", 1, 0, 5.0, False, False, 0)])

    assert health.flagged == []
    assert health.reading == "1 frame from 1 camera, 0 of them invalid images (0%); no camera needed attention."
    assert data.device_health([]) is None


# ------------------------------------------------------------------------------------------------------------
# face_recognition


def _slo(endpoint, day, requests, availability, under, availability_left, latency_left, p95=100.0, server_5xx=0):
    return {
        "endpoint": endpoint,
        "event_date": day,
        "requests": requests,
        "latency_p50_ms": 50.0,
        "latency_p95_ms": p95,
        "latency_p99_ms": 2 * p95,
        "share_under_target": under,
        "availability": availability,
        "client_4xx": 1,
        "server_5xx": server_5xx,
        "peak_rps": 4,
        "window_requests": requests,
        "availability_budget_consumed": 1 - availability_left,
        "availability_budget_remaining": availability_left,
        "latency_budget_consumed": 1 - latency_left,
        "latency_budget_remaining": latency_left,
    }


def test_slo_status_takes_each_endpoints_latest_day_and_the_most_overspent_budget():
    rows = [
        _slo("recognise_user", D1, 100, 0.99, 0.995, 0.5, 0.8),  # an earlier day: not shown
        _slo("add_user", D2, 20, 1.0, 1.0, 1.0, 0.9),
        _slo("recognise_user", D2, 200, 0.9995, 0.98, -0.25, -1.5, p95=900.0, server_5xx=1),
    ]
    status = data.slo_status(rows, availability_slo=0.9999, latency_slo=0.99, latency_target_ms=1000, window_days=30)

    assert [(e.endpoint, e.day) for e in status.endpoints] == [("recognise_user", D2), ("add_user", D2)]
    recognise = status.endpoints[0]
    assert (recognise.requests, recognise.availability, recognise.under_target) == (200, 0.9995, 0.98)
    assert (recognise.p95_ms, recognise.p99_ms, recognise.server_5xx) == (900.0, 1800.0, 1)
    assert (status.day, status.requests, status.overspent) == (D2, 220, 2)
    assert status.budgets == [
        ("recognise_user", "latency", -1.5),
        ("recognise_user", "availability", -0.25),
        ("add_user", "latency", 0.9),
        ("add_user", "availability", 1.0),
    ]
    assert status.reading == (
        "2 of 4 error budgets overspent over the 30-day window (the most: recognise_user latency, -150% left)"
    )


def test_slo_status_without_an_overspent_budget_names_the_lowest_and_no_rows_is_none():
    status = data.slo_status([_slo("add_user", D1, 20, 1.0, 1.0, 1.0, 0.9), _slo("recognise_user", D1, 5, 1, 1, 1, 1)])

    assert status.overspent == 0
    assert status.reading == "no error budget overspent over the SLO window (the lowest left: add_user latency, 90%)"
    assert data.slo_status([]) is None


H1 = datetime(2026, 11, 2, 1, tzinfo=UTC)
H2 = datetime(2026, 11, 2, 2, tzinfo=UTC)


def _hour(endpoint, hour, p50, p95, p99):
    return {"endpoint": endpoint, "hour": hour, "requests": 10, "latency_p50_ms": p50, "latency_p95_ms": p95,
            "latency_p99_ms": p99}  # fmt: skip


HOURLY_ROWS = [
    _hour("recognise_user", datetime(2026, 11, 2, 3, tzinfo=timezone(timedelta(hours=1))), 120.0, 1500.4, 2600.0),
    _hour("recognise_user", H1, 110.0, 300.0, 900.0),
    _hour("add_user", H1, 90.0, 1200.0, 1300.0),
    _hour("add_user", H2, 80.0, None, None),  # no latency that hour: not counted
]


def test_hourly_latency_per_endpoint_in_utc_against_the_target():
    latency = data.hourly_latency(HOURLY_ROWS, target_ms=1000)

    assert latency.endpoints == ["recognise_user", "add_user"]
    assert latency.series["recognise_user"] == [(H1, 110.0, 300.0, 900.0), (H2, 120.0, 1500.4, 2600.0)]
    assert latency.series["recognise_user"][1][0].tzinfo == UTC  # 03:00+01:00 is 02:00 UTC
    # p95 over 1,000 ms: recognise_user at 02:00 (1,500.4) and add_user at 01:00 (1,200), of 3 endpoint-hours
    assert latency.reading == (
        "p95 above the 1,000 ms target in 2 of 3 endpoint-hours; the worst: recognise_user at 2026-11-02 02:00 UTC "
        "(p95 1,500 ms, p99 2,600 ms)."
    )


def test_hourly_latency_under_the_target_names_the_highest_p99():
    latency = data.hourly_latency(HOURLY_ROWS, target_ms=2000)

    assert latency.reading == (
        "p95 at or under the 2,000 ms target in all 3 endpoint-hours; the highest p99: recognise_user at "
        "2026-11-02 02:00 UTC (2,600 ms)."
    )
    assert data.hourly_latency([]) is None


def _burn(endpoint, sli, rule, severity, factor, start, end, peak):
    return {"endpoint": endpoint, "sli": sli, "rule": rule, "severity": severity, "factor": factor,
            "fired_from": start, "fired_to": end, "evaluations": 1, "peak_long_burn_rate": peak,
            "peak_short_burn_rate": peak, "requests_in_long_window": 500, "budget_share": 0.02}  # fmt: skip


def test_burn_alerts_lanes_fastest_rule_first_and_the_highest_burn():
    at = datetime(2026, 11, 2, tzinfo=UTC)
    rows = [
        _burn("recognise_user", "availability", "3d/6h", "ticket", 1.0, at.replace(hour=5, minute=35),
              datetime(2026, 11, 3, 1, 0, tzinfo=UTC), 50.0),
        _burn("add_user", "latency", "6h/30m", "page", 6.0, at.replace(hour=2, minute=30),
              at.replace(hour=2, minute=30), 7.2),
        _burn("recognise_user", "availability", "1h/5m", "page", 14.4, at.replace(hour=5, minute=35),
              at.replace(hour=5, minute=55), 300.4),
        _burn("recognise_user", "latency", "1h/5m", "page", 14.4, at.replace(hour=2, minute=25),
              at.replace(hour=3), 39.0),
    ]  # fmt: skip
    alerts = data.burn_alerts(rows)

    assert alerts.lanes == [
        "recognise_user availability 1h/5m",
        "recognise_user availability 3d/6h",
        "recognise_user latency 1h/5m",
        "add_user latency 6h/30m",
    ]
    assert [a.lane for a in alerts.alerts] == [
        "recognise_user latency 1h/5m",  # 02:25
        "add_user latency 6h/30m",  # 02:30
        "recognise_user availability 1h/5m",  # 05:35, the faster rule first
        "recognise_user availability 3d/6h",
    ]
    assert alerts.severities == {"page": 3, "ticket": 1}
    assert alerts.reading == (
        "4 burn-rate alerts fired (3 page, 1 ticket) from 2026-11-02 02:25 to 2026-11-03 01:00 UTC; the highest "
        "burn: recognise_user availability 1h/5m (page at 14.4x), 300x the budget rate over 1h."
    )


def test_burn_alerts_of_one_evaluation_and_of_none():
    at = datetime(2026, 11, 2, 9, 45, tzinfo=UTC)
    alerts = data.burn_alerts([_burn("add_user", "availability", "3d/6h", "ticket", 1.0, at, at, 2.5)])

    assert alerts.reading == (
        "1 burn-rate alert fired (1 ticket) at 2026-11-02 09:45 UTC; the highest burn: add_user availability 3d/6h "
        "(ticket at 1x), 2x the budget rate over 3d."
    )
    assert data.burn_alerts([]) is None


def _funnel(day, answers, keys, enrolled, expired, failed, never, unknown, median):
    return {"event_date": day, "no_match_answers": answers, "keys_issued": keys, "enrolled": enrolled,
            "expired": expired, "failed": failed, "never_used": never, "unknown_keys": unknown,
            "conversion_rate": enrolled / answers if answers else None, "median_seconds_to_enrol": median,
            "p90_seconds_to_enrol": None}  # fmt: skip


def test_enrollment_funnel_per_day_with_the_conversion_over_all_days():
    rows = [_funnel(D2, 20, 20, 4, 2, 0, 14, 2, 200.0), _funnel(D1, 10, 9, 3, 1, 1, 4, 0, 120.0)]
    funnel = data.enrollment_funnel(rows)

    assert [d.day for d in funnel.days] == [D1, D2]
    assert funnel.days[0].outcomes == {"enrolled": 3, "failed": 1, "expired": 1, "never_used": 4}
    assert funnel.outcomes == {"enrolled": 7, "failed": 1, "expired": 3, "never_used": 18}
    assert (funnel.no_match_answers, funnel.keys_issued, funnel.unknown_keys) == (30, 29, 2)
    assert funnel.conversion == pytest.approx(7 / 30)
    assert funnel.reading == (
        "30 no-match answers issued 29 enrolment keys over 2 days: 7 enrolled (23% of the answers), 3 expired, "
        "1 failed, 18 never used; daily median time to enrol 120-200 s; lowest conversion on 2022-05-03 (20%); "
        "2 keys used that no answer in the data issued."
    )


def test_enrollment_funnel_of_one_day_and_of_nothing():
    funnel = data.enrollment_funnel([_funnel(D1, 4, 4, 1, 0, 0, 3, 0, 95.4)])

    assert funnel.reading == (
        "4 no-match answers issued 4 enrolment keys over 1 day: 1 enrolled (25% of the answers), 0 expired, "
        "0 failed, 3 never used; median time to enrol 95 s."
    )
    assert data.enrollment_funnel([_funnel(D1, 0, 0, 0, 0, 0, 0, 0, None)]) is None


def _rates(run_id, protocol, genuine, impostor, fta_count, frr_errors, far_errors):
    probes = genuine + impostor
    return {
        "run_id": run_id, "protocol": protocol, "model": "facenet", "gallery_size": 5650, "threshold": 1.1,
        "probes": probes, "genuine_probes": genuine, "impostor_probes": impostor,
        "fta_count": fta_count, "fta": fta_count / probes, "fta_low": 0.01, "fta_high": 0.06,
        "frr_errors": frr_errors, "frr": frr_errors / genuine if genuine else None,
        "frr_low": 0.1 if genuine else None, "frr_high": 0.2 if genuine else None,
        "far_errors": far_errors, "far": far_errors / impostor if impostor else None,
        "far_low": 0.03 if impostor else None, "far_high": 0.05 if impostor else None,
    }  # fmt: skip


def test_accuracy_runs_frr_runs_first_with_their_intervals():
    rows = [_rates("far-1", "FAR", 0, 3557, 0, 0, 149), _rates("frr-low", "FRR", 200, 0, 6, 28, 0)]
    runs = data.accuracy_runs(rows)

    assert [r.run_id for r in runs] == ["frr-low", "far-1"]
    low, far = runs
    assert low.frr == data.Rate(0.14, 0.1, 0.2, 28, 200)
    assert low.fta == data.Rate(0.03, 0.01, 0.06, 6, 200)
    assert low.far is None  # no impostor probe
    assert far.far == data.Rate(149 / 3557, 0.03, 0.05, 149, 3557)
    assert far.frr is None
    assert data.accuracy_runs([]) == []


def _sweep(run_id, model, threshold, genuine, non_matches, impostors, matches, own=False):
    return {"run_id": run_id, "model": model, "threshold": threshold, "is_run_threshold": own,
            "acquired_genuine_probes": genuine, "false_non_matches": non_matches,
            "acquired_impostor_probes": impostors, "false_matches": matches}  # fmt: skip


def test_det_curves_pool_the_models_impostor_runs_and_read_fnmr_at_one_percent_fmr():
    rows = [
        _sweep("frr-1", "m", 0.8, 100, 50, 0, 0),
        _sweep("frr-1", "m", 1.0, 100, 20, 0, 0, own=True),
        _sweep("frr-1", "m", 1.2, 100, 5, 0, 0),
        _sweep("far-a", "m", 0.8, 0, 0, 100, 0),
        _sweep("far-a", "m", 1.0, 0, 0, 100, 1),
        _sweep("far-a", "m", 1.2, 0, 0, 100, 10),
        _sweep("far-b", "m", 0.8, 0, 0, 100, 1),
        _sweep("far-b", "m", 1.0, 0, 0, 100, 1),
        _sweep("far-b", "m", 1.2, 0, 0, 100, 6),
        _sweep("both", "n", 0.5, 10, 4, 20, 1),  # genuine and impostor probes in one run
        _sweep("both", "n", 1.0, 10, 1, 20, 5),
        _sweep("lonely", "z", 1.0, 10, 1, 0, 0),  # no impostor run of its model: no curve
    ]
    det = data.det_curves(rows)

    assert [c.run_id for c in det.curves] == ["frr-1", "both"]
    frr, both = det.curves
    assert frr.impostor_runs == ["far-a", "far-b"]
    # pooled FMR: 1 / 200, 2 / 200, 16 / 200
    assert frr.points == [(0.8, 0.005, 0.5), (1.0, 0.01, 0.2), (1.2, 0.08, 0.05)]
    assert (frr.run_threshold, frr.at_run, frr.at_target) == (1.0, (1.0, 0.01, 0.2), (1.0, 0.01, 0.2))
    assert both.impostor_runs == ["both"]
    assert both.points == [(0.5, 0.05, 0.4), (1.0, 0.25, 0.1)]
    assert (both.at_run, both.at_target) == (None, None)
    assert det.reading == (
        "frr-1: FNMR 20.0% at FMR 1.0% (its threshold 1), 20.0% at FMR ≤ 1% (threshold 1); "
        "both: no threshold of the grid reaches FMR ≤ 1%."
    )


def test_det_curves_without_genuine_probes_is_none():
    assert data.det_curves([_sweep("far-a", "m", 1.0, 0, 0, 100, 1)]) is None


def _stage(run_id, stage, vus, started, p95, failure, passed_p95=True):
    return {
        "test_run_id": run_id, "stage": stage, "vus": vus, "started_at": started, "ended_at": None,
        "seconds": 20.0, "requests": 100, "requests_per_second": 5.0, "p90_ms": None, "p95_ms": p95, "p99_ms": None,
        "avg_ms": None, "max_ms": None, "failure_rate": failure,
        "thresholds": [
            {"metric": "http_req_duration", "expression": "p(95)<3000", "observed": p95, "passed": passed_p95},
            {"metric": "http_req_failed", "expression": "rate<0.05", "observed": failure, "passed": True},
        ],
        "passed": passed_p95,
    }  # fmt: skip


def test_load_tests_newest_first_stages_in_order_and_the_failed_thresholds():
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    old = datetime(2026, 11, 1, 9, tzinfo=UTC)
    rows = [
        _stage("k6-a", 0, 8, t0, 3100.0, 0.02, passed_p95=False),
        _stage("k6-a", 2, 8, t0.replace(second=20), 3200.0, 0.03, passed_p95=False),
        _stage("k6-a", 1, 4, t0, 800.0, 0.01),
        _stage("k6-old", 1, 4, old, 700.0, 0.0),
        _stage("k6-old", 0, 4, old, 700.0, 0.0),
    ]
    tests = data.load_tests(rows, limit=1)

    assert (tests.total_runs, [r.test_run_id for r in tests.runs]) == (2, ["k6-a"])
    newest = tests.runs[0]
    assert [s.stage for s in newest.stages] == [1, 2, 0]
    assert [s.label for s in newest.stages] == ["stage 1", "stage 2", "whole run"]
    assert not newest.passed
    assert [t.value for t in newest.stages[1].thresholds] == ["3,200 ms", "3.0%"]
    assert tests.reading == (
        "k6-a (4 and 8 VUs) failed p(95)<3000 at stage 2 (8 VUs: 3,200 ms), p(95)<3000 over the whole run "
        "(3,100 ms); p95 up to 3,200 ms (stage 2)."
    )


def test_load_tests_that_passed_and_of_no_rows():
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    rows = [_stage("k6-b", s, v, t0, p, 0.01) for s, v, p in ((1, 4, 800.0), (2, 8, 1400.0), (3, 12, 1900.0))]
    tests = data.load_tests(rows)

    assert tests.runs[0].passed
    assert tests.reading == (
        "k6-b (4, 8 and 12 VUs) passed every threshold at every stage and over the whole run; p95 up to 1,900 ms "
        "(stage 3)."
    )
    assert data.load_tests([]) is None
