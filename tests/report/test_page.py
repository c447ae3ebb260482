"""The page built from hand-made rows: which sections appear, escaping, one id per element, marks in every chart."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from visionlake.errors import LakeError
from visionlake.report import write_report
from visionlake.report.load import LakeRows
from visionlake.report.page import render

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
D1, D2 = date(2022, 5, 2), date(2022, 5, 3)

ALPR_ROWS = {
    "gold_alpr_daily_camera_stats": [
        {
            "camera_id": "cam-01",
            "event_date": D1,
            "frames": 10,
            "frames_with_plates": 6,
            "plates": 7,
            "duration_ms_p95": 95.0,
        },
        {
            "camera_id": "cam-01",
            "event_date": D2,
            "frames": 8,
            "frames_with_plates": 5,
            "plates": 5,
            "duration_ms_p95": 70.0,
        },
    ],
    "gold_alpr_daily_processing": [
        {"event_date": D1, "frames": 10, "recognition_seconds": 1.2, "estimated_cost": 0.0001},
    ],
}
RUNS = [
    {
        "run_id": "r1",
        "source": "alpr",
        "stage": "bronze",
        "status": "ok",
        "started_at": NOW,
        "seconds": 2.0,
        "files_in": 18,
        "rows_in": None,
        "rows_out": {"bronze/results": 18},
        "quarantined": None,
    },
    {
        "run_id": "r1",
        "source": "alpr",
        "stage": "silver",
        "status": "ok",
        "started_at": NOW,
        "seconds": 3.0,
        "files_in": None,
        "rows_in": 18,
        "rows_out": {"silver/frames": 16, "quarantine/alpr": 2},
        "quarantined": 2,
    },
]
FACE_ROWS = {
    "gold_face_validation_client_acceptance_daily": [
        {
            "convenio": "a" * 64,
            "client_name": "<b>Banco & Co</b>",
            "local_date": D1,
            "processes": 2,
            "accepted": 1,
            "first_attempt_acceptance_rate": 0.5,
            "attempts": 3,
        },
        {
            "convenio": "b" * 64,
            "client_name": None,
            "local_date": D1,
            "processes": 1,
            "accepted": 1,
            "first_attempt_acceptance_rate": 1.0,
            "attempts": 1,
        },
    ],
}

DETECTIONS_ROWS = {
    "gold_detections_alerts": [
        {"local_date": D1, "severity": "critical", "alerts": 2},
        {"local_date": D2, "severity": "info", "alerts": 1},
    ],
    "gold_detections_daily_threat_report": [
        {"local_date": D1, "severity": "critical", "alerts": 2, "episodes": 3, "frames": 9},
        {"local_date": D2, "severity": "info", "alerts": 1, "episodes": 1, "frames": 2},
    ],
    "gold_detections_threats_by_user": [
        {"user_id": "u-<1>", "frames": 40, "alerts": 2, "alert_frames": 8},
        {"user_id": "u-2", "frames": 10, "alerts": 1, "alert_frames": 3},
    ],
    "gold_detections_suppressed_matches": [
        {"reason": "outside_schedule", "rule_id": 200, "matches": 7},
        {"reason": "cooldown", "rule_id": 100, "matches": 2},
    ],
    "gold_detections_device_health": [
        {"user_id": "u-<1>", "device_id": "cam-01", "site_id": "site-1", "days": 2, "frames": 40,
         "invalid_frames": 30, "longest_silence_minutes": 10.0, "silent": False, "mostly_invalid": True,
         "days_flagged": 1},
        {"user_id": "u-2", "device_id": "cam-01", "site_id": None, "days": 2, "frames": 10, "invalid_frames": 0,
         "longest_silence_minutes": 30.0, "silent": False, "mostly_invalid": False, "days_flagged": 0},
    ],
}  # fmt: skip
DETECTIONS_CHARTS = ["chart-det-alerts", "chart-det-threats", "chart-det-suppressed", "chart-det-health"]

T = datetime(2022, 5, 3, tzinfo=UTC)


def _slo_day(endpoint, day, requests, availability, under, availability_left, latency_left, p50, p95, p99, c4, c5):
    return {"endpoint": endpoint, "event_date": day, "requests": requests, "latency_p50_ms": p50,
            "latency_p95_ms": p95, "latency_p99_ms": p99, "share_under_target": under, "availability": availability,
            "client_4xx": c4, "server_5xx": c5, "peak_rps": 9, "window_requests": requests,
            "availability_budget_remaining": availability_left, "latency_budget_remaining": latency_left}  # fmt: skip


def _k6(stage, vus, p95, failure):
    return {"test_run_id": "k6-x", "stage": stage, "vus": vus, "started_at": T.replace(hour=9, second=20 * stage),
            "seconds": 20.0, "requests": 80, "requests_per_second": 4.0, "p95_ms": p95, "failure_rate": failure,
            "thresholds": [
                {"metric": "http_req_duration", "expression": "p(95)<3000", "observed": p95, "passed": p95 < 3000},
                {"metric": "http_req_failed", "expression": "rate<0.05", "observed": failure, "passed": failure < 0.05},
            ],
            "passed": p95 < 3000 and failure < 0.05}  # fmt: skip


FR_ROWS = {
    "gold_face_recognition_slo_daily": [
        _slo_day("recognise_user", D2, 1000, 0.998, 0.995, -19.0, 0.5, 100.0, 400.0, 1200.0, 12, 2),
        _slo_day("add_user", D2, 50, 1.0, 1.0, 1.0, 1.0, 80.0, 120.0, 150.0, 1, 0),
        _slo_day("recognise_user", D1, 10, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0, 0),  # an older day: not shown
    ],
    "gold_face_recognition_slo_hourly": [
        {"endpoint": "recognise_user", "hour": T.replace(hour=1), "latency_p50_ms": 100.0, "latency_p95_ms": 400.0,
         "latency_p99_ms": 1200.0},
        {"endpoint": "recognise_user", "hour": T.replace(hour=2), "latency_p50_ms": 100.0, "latency_p95_ms": 300.0,
         "latency_p99_ms": 800.0},
        {"endpoint": "add_user", "hour": T.replace(hour=1), "latency_p50_ms": 80.0, "latency_p95_ms": 120.0,
         "latency_p99_ms": 150.0},
    ],
    "gold_face_recognition_burn_rate_alerts": [
        {"endpoint": "recognise_user", "sli": "availability", "rule": "1h/5m", "severity": "page", "factor": 14.4,
         "fired_from": T.replace(hour=5, minute=35), "fired_to": T.replace(hour=5, minute=55), "evaluations": 5,
         "peak_long_burn_rate": 200.0, "budget_share": 0.02},
        {"endpoint": "recognise_user", "sli": "availability", "rule": "3d/6h", "severity": "ticket", "factor": 1.0,
         "fired_from": T.replace(hour=5, minute=35), "fired_to": T.replace(hour=7), "evaluations": 18,
         "peak_long_burn_rate": 19.0, "budget_share": 0.1},
    ],
    "gold_face_recognition_enrollment_funnel": [
        {"event_date": D2, "no_match_answers": 8, "keys_issued": 8, "enrolled": 2, "expired": 1, "failed": 1,
         "never_used": 4, "unknown_keys": 0, "conversion_rate": 0.25, "median_seconds_to_enrol": 90.0},
    ],
    "gold_face_recognition_evaluation_rates": [
        {"run_id": "far-1", "protocol": "FAR", "model": "facenet", "gallery_size": 2796, "threshold": 1.1,
         "probes": 3557, "genuine_probes": 0, "impostor_probes": 3557, "fta_count": 0, "fta": 0.0,
         "far_errors": 149, "far": 0.0419, "far_low": 0.0358, "far_high": 0.049},
        {"run_id": "frr-<1>", "protocol": "FRR", "model": "facenet", "gallery_size": 5650, "threshold": 1.1,
         "probes": 1680, "genuine_probes": 1680, "impostor_probes": 0, "fta_count": 0, "fta": 0.0,
         "frr_errors": 108, "frr": 0.0643, "frr_low": 0.0535, "frr_high": 0.077},
    ],
    "gold_face_recognition_threshold_sweep": [
        {"run_id": run, "model": "facenet", "threshold": t, "is_run_threshold": t == 1.1,
         "acquired_genuine_probes": 100 if run == "frr-<1>" else 0, "false_non_matches": fnm,
         "acquired_impostor_probes": 100 if run == "far-1" else 0, "false_matches": fm}
        for run, t, fnm, fm in (("frr-<1>", 0.9, 30, 0), ("frr-<1>", 1.0, 15, 0), ("frr-<1>", 1.1, 6, 0),
                                ("far-1", 0.9, 0, 1), ("far-1", 1.0, 0, 2), ("far-1", 1.1, 0, 4))
    ],
    "gold_face_recognition_load_test_summary": [
        _k6(1, 4, 900.0, 0.01), _k6(2, 8, 3100.0, 0.02), _k6(0, 8, 2900.0, 0.06)
    ],
}  # fmt: skip
FR_SETTINGS = {"availability_slo": 0.9999, "latency_slo": 0.99, "latency_target_ms": 1000.0, "slo_window_days": 30}
FR_CHARTS = ["chart-fr-latency", "chart-fr-alerts", "chart-fr-funnel", "chart-fr-det"]


def _rows(tables: dict, **extra) -> LakeRows:
    names = sorted(set(tables) | set(extra.pop("also", [])))
    return LakeRows(tables=names, rows=dict(tables), **extra)


def test_only_the_sources_the_lake_has_get_a_section():
    page = render(_rows(ALPR_ROWS, also=["silver_alpr_plates"]), "/lake", NOW)

    assert page.sections == ["alpr"]
    assert page.charts == ["chart-alpr-traffic", "chart-alpr-duration", "chart-alpr-cost"]
    assert 'id="face_validation"' not in page.html and 'id="runs"' not in page.html
    assert "No plate has been read yet." in page.html  # the plates table exists but has no confidence


def test_a_lake_without_any_charted_table_renders_nothing():
    assert render(_rows({}, also=["silver_detections_frames"]), "/lake", NOW) is None


def test_values_are_escaped_and_hashes_shortened():
    page = render(_rows(FACE_ROWS), "/lake/<x>", NOW)

    assert "<b>" not in page.html
    assert "&lt;b&gt;Banco &amp; Co&lt;/b&gt;" in page.html  # in the chart's legend and in the reading
    assert "client-bbbbbbbb" in page.html
    assert "b" * 64 not in page.html and "a" * 64 not in page.html
    assert "/lake/&lt;x&gt;" in page.html


def test_every_chart_has_marks_and_ids_are_unique():
    page = render(
        _rows(
            {**ALPR_ROWS, **FACE_ROWS, **DETECTIONS_ROWS, **FR_ROWS, "_runs": RUNS},
            quarantine=[{"source": "alpr", "reason": "invalid_json", "records": 2}],
            **FR_SETTINGS,
        ),
        "/lake",
        NOW,
    )

    assert page.sections == ["face_validation", "alpr", "detections", "face_recognition", "runs"]
    assert "chart-runs-quarantine" in page.charts
    assert all(chart in page.charts for chart in DETECTIONS_CHARTS + FR_CHARTS)
    for chart in page.charts:
        figure = page.html.split(f'<figure class="chart" id="{chart}">', 1)[1].split("</figure>", 1)[0]
        assert re.search(rf'<g id="{chart}-mark-\d+"', figure), chart
        assert re.search(r'<figcaption class="reading">[^<]+</figcaption>', figure), chart
    ids = Counter(re.findall(r'\bid="([^"]+)"', page.html))
    assert [i for i, n in ids.items() if n > 1] == []


def test_the_detections_section_leads_with_its_figures_and_lists_the_cameras_to_look_at():
    rows = _rows(
        DETECTIONS_ROWS,
        also=["quarantine_detections"],
        quarantine=[{"source": "detections", "reason": "invalid_json", "records": 1}],
        rule_names={200: "Person at <night>"},
        silence_alert_minutes=120.0,
        invalid_alert_share=0.5,
    )
    page = render(rows, "/lake", NOW)

    assert page.sections == ["detections"]
    assert page.charts == DETECTIONS_CHARTS
    assert (
        '<p class="lead">50 frames analysed, 30 of them invalid images (60%); 1 file quarantined; 3 alerts from '
        "4 threat episodes (counted per day); 1 of 2 cameras needed attention.</p>"
    ) in page.html
    assert "rule 200: Person at &lt;night&gt;" in page.html and "<night>" not in page.html
    table = page.html.split('<table class="data" id="detections-cameras">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 2  # the header and u-<1>'s camera
    assert "<td>u-&lt;1&gt; / cam-01</td><td>site-1</td><td>mostly invalid</td>" in table
    assert "Sources in the lake this report does not chart yet" not in page.html


def test_a_detections_lake_without_alerts_says_so_instead_of_charting_nothing():
    quiet = {
        **DETECTIONS_ROWS,
        "gold_detections_alerts": [],
        "gold_detections_daily_threat_report": [
            {"local_date": D1, "severity": "error", "alerts": 0, "episodes": 2, "frames": 5}
        ],
        "gold_detections_threats_by_user": [{"user_id": "u-2", "frames": 10, "alerts": 0, "alert_frames": 0}],
        "gold_detections_suppressed_matches": [],
    }
    page = render(_rows(quiet), "/lake", NOW)

    assert page.charts == ["chart-det-health"]
    assert "No alert in gold_detections_alerts yet (2 threat episodes, none alerted)." in page.html
    assert "No user has had an alert yet (1 user in gold_detections_threats_by_user)." in page.html
    assert "No match was suppressed (gold_detections_suppressed_matches has no rows)." in page.html
    assert "; 0 alerts from 2 threat episodes (counted per day); " in page.html


def test_the_face_recognition_section_shows_slos_alerts_funnel_accuracy_and_the_load_test():
    rows = _rows(FR_ROWS, also=["quarantine_face_recognition"], **FR_SETTINGS)
    page = render(rows, "/lake", NOW)

    assert page.sections == ["face_recognition"]
    assert page.charts == FR_CHARTS
    assert (
        '<p class="lead">1,050 requests on 2022-05-03 (the latest day); 1 of 4 error budgets overspent over the 30-day '
        "window (the most: recognise_user availability, -1,900% left); 2 burn-rate alerts fired (1 page, 1 ticket); "
        "25% of the no-match answers led to an enrolment; the latest load test failed its thresholds.</p>"
    ) in page.html
    section = page.html.split('<section id="face_recognition"', 1)[1].split("</section>", 1)[0]
    # the SLO table sits above the charts: each endpoint's latest day, SLIs below objective and overspent in red
    assert section.index('id="fr-slo"') < section.index('<div class="grid">')
    slo = section.split('<table class="data" id="fr-slo">', 1)[1].split("</table>", 1)[0]
    assert slo.count("<tr>") == 3  # the header and the two endpoints
    assert "<th class=num>availability (objective 99.99%)</th>" in slo
    assert "<th class=num>≤ 1,000 ms (objective 99%)</th>" in slo
    assert (
        '<tr><td>recognise_user</td><td class="nowrap">2022-05-03</td><td class="num">1,000</td>'
        '<td class="num bad">99.80%</td><td class="num bad">-1,900%</td><td class="num">99.50%</td>'
        '<td class="num">50%</td><td class="num">100</td><td class="num">400</td><td class="num">1,200</td>'
        '<td class="num">12</td><td class="num">2</td><td class="num">9</td></tr>'
    ) in slo
    accuracy = section.split('<table class="data" id="fr-accuracy">', 1)[1].split("</table>", 1)[0]
    assert accuracy.index("frr-&lt;1&gt;") < accuracy.index("far-1")  # FRR runs first; names escaped
    assert '<td class="num">6.43% [5.35%, 7.70%] 108/1,680</td><td class="num">–</td>' in accuracy
    assert '<td class="num">–</td><td class="num">4.19% [3.58%, 4.90%] 149/3,557</td>' in accuracy
    load = section.split('<table class="data" id="fr-loadtest">', 1)[1].split("</table>", 1)[0]
    assert load.count("<tr>") == 4 and load.count('<td class="bad">no</td>') == 2
    assert "p(95)&lt;3000: 3,100 ms (failed); rate&lt;0.05: 2.0%" in load
    assert (
        "k6-x (4 and 8 VUs) failed p(95)&lt;3000 at stage 2 (8 VUs: 3,100 ms), rate&lt;0.05 over the whole run "
        "(6.0%); p95 up to 3,100 ms (stage 2)."
    ) in load
    # FMR of far-1 at 0.9, 1.0, 1.1: 1%, 2%, 4%; FNMR of frr-<1>: 30%, 15%, 6%
    assert "frr-&lt;1&gt;: FNMR 6.0% at FMR 4.0% (its threshold 1.1), 30.0% at FMR ≤ 1% (threshold 0.9)." in section
    assert "Sources in the lake this report does not chart yet" not in page.html


def test_a_face_recognition_lake_without_alerts_or_evaluations_says_so():
    quiet = {
        "gold_face_recognition_slo_daily": FR_ROWS["gold_face_recognition_slo_daily"][1:2],
        "gold_face_recognition_burn_rate_alerts": [],
        "gold_face_recognition_threshold_sweep": [],
        "gold_face_recognition_evaluation_rates": [],
    }
    page = render(_rows(quiet), "/lake", NOW)

    assert (page.sections, page.charts) == (["face_recognition"], [])
    assert "No burn-rate alert fired (gold_face_recognition_burn_rate_alerts has no rows)." in page.html
    assert "No DET curve: no run of gold_face_recognition_threshold_sweep has genuine probes and impostor " in page.html
    assert "gold_face_recognition_evaluation_rates has no rows yet." in page.html
    assert (
        '<p class="lead">50 requests on 2022-05-03 (the latest day); no error budget overspent over the SLO window '
        "(the lowest left: add_user availability, 100%); no burn-rate alert fired.</p>"
    ) in page.html
    assert "<th class=num>availability</th>" in page.html  # no objective known: none shown


def test_a_lake_without_any_table_the_report_shows_is_a_one_line_error(tmp_path, cfg, monkeypatch):
    from visionlake.report import ReportError, load

    monkeypatch.setattr(load, "load", lambda *args: LakeRows(tables=["silver_face_recognition_requests"]))
    with pytest.raises(ReportError, match=r"no face_validation, alpr, detections or face_recognition gold tables"):
        write_report(str(tmp_path), str(tmp_path / "report.html"), cfg)


def test_the_page_loads_nothing_and_runs_no_script():
    page = render(_rows({**ALPR_ROWS, "_runs": RUNS}), "/lake", NOW)

    assert "<script" not in page.html
    assert not re.search(r'\b(src|href)="(?!#)', page.html)  # only links inside the page
    assert "@import" not in page.html and "url(http" not in page.html
    assert "default-src 'none'" in page.html  # the browser refuses anything that would load


def test_the_runs_table_shows_rows_in_and_out():
    page = render(_rows({"_runs": RUNS}), "/lake", NOW)

    table = page.html.split('<table class="runs"', 1)[1]
    assert '<td class="num">18 files</td><td class="num">18</td>' in table
    assert '<td class="num">18</td><td class="num">16</td><td class="num">2</td>' in table


def test_an_empty_lake_is_a_one_line_error(tmp_path, cfg):
    with pytest.raises(LakeError, match=r"^no tables in .*: run `visionlake run SOURCE"):
        write_report(str(tmp_path), str(tmp_path / "report.html"), cfg)
    assert not (tmp_path / "report.html").exists()
