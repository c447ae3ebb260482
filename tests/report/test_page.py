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
            {**ALPR_ROWS, **FACE_ROWS, "_runs": RUNS},
            quarantine=[{"source": "alpr", "reason": "invalid_json", "records": 2}],
        ),
        "/lake",
        NOW,
    )

    assert page.sections == ["face_validation", "alpr", "runs"]
    assert "chart-runs-quarantine" in page.charts
    for chart in page.charts:
        figure = page.html.split(f'<figure class="chart" id="{chart}">', 1)[1].split("</figure>", 1)[0]
        assert re.search(rf'<g id="{chart}-mark-\d+"', figure), chart
        assert re.search(r'<figcaption class="reading">[^<]+</figcaption>', figure), chart
    ids = Counter(re.findall(r'\bid="([^"]+)"', page.html))
    assert [i for i, n in ids.items() if n > 1] == []


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
