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
            {**ALPR_ROWS, **FACE_ROWS, **DETECTIONS_ROWS, "_runs": RUNS},
            quarantine=[{"source": "alpr", "reason": "invalid_json", "records": 2}],
        ),
        "/lake",
        NOW,
    )

    assert page.sections == ["face_validation", "alpr", "detections", "runs"]
    assert "chart-runs-quarantine" in page.charts
    assert all(chart in page.charts for chart in DETECTIONS_CHARTS)
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
