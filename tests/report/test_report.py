"""The report of the shared built lake: its sections and readings against the tables (queried here with plain
SQL), its privacy, and how it looks in headless Chromium with the network blocked."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from tests.conftest import REPO

from visionlake import cli
from visionlake.lake.reader import snapshot
from visionlake.report import write_report
from visionlake.sql import query

ARTIFACTS = REPO / "test-artifacts"
CHARTS = [
    "chart-face-latency",
    "chart-face-acceptance",
    "chart-face-attempts",
    "chart-face-rejections",
    "chart-face-codes",
    "chart-alpr-traffic",
    "chart-alpr-duration",
    "chart-alpr-ocr",
    "chart-alpr-cost",
    "chart-det-alerts",
    "chart-det-threats",
    "chart-det-suppressed",
    "chart-det-health",
    "chart-fr-latency",  # the built lake's 10 minutes of traffic fire no burn-rate alert: no chart-fr-alerts
    "chart-fr-funnel",
    "chart-fr-det",
    "chart-runs-seconds",
    "chart-runs-quarantine",  # face_recognition's duplicated request lines
]


@pytest.fixture(scope="module")
def report(built_lake, cfg, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    message = write_report(str(built_lake), str(out), cfg)
    assert message.startswith(
        f"report written to {out} (face_validation, alpr, detections, face_recognition, runs: 18 charts, "
    )
    return out


def _one(lake: Path, statement: str) -> tuple:
    return tuple(query(str(lake), statement).to_pylist()[0].values())


def test_report_has_a_section_per_source_and_the_runs(report):
    html = report.read_text(encoding="utf-8")

    sections = ["face_validation", "alpr", "detections", "face_recognition", "runs"]
    assert re.findall(r'<section id="([^"]+)"', html) == sections
    assert re.findall(r'<figure class="chart" id="([^"]+)"', html) == CHARTS
    # the built lake quarantined only the generator's 3 duplicated face_recognition request lines (1 per 1,000)
    assert "3 records quarantined; the commonest reason: duplicate_request_id (face_recognition, 3)." in html
    assert "Sources in the lake this report does not chart yet" not in html  # every source is charted


def test_report_readings_agree_with_the_tables(report, built_lake):
    html = report.read_text(encoding="utf-8")
    latency = "gold_face_validation_microservice_latency_daily"
    service, days_first = _one(
        built_lake,
        f"""WITH firsts AS (
              SELECT local_date, arg_min(service, rank) AS service FROM {latency}
              WHERE service <> 'other' GROUP BY local_date)
            SELECT service, count(*) AS n FROM firsts GROUP BY service ORDER BY n DESC LIMIT 1""",
    )
    (days,) = _one(built_lake, f"SELECT count(DISTINCT local_date) FROM {latency}")
    assert f"{service} is the bottleneck on {days_first} of {days} days: " in html

    (plates,) = _one(built_lake, "SELECT sum(plates) FROM gold_alpr_daily_camera_stats")
    assert f"120 frames and {plates:,} plates from 3 cameras over 3 days" in html  # the fixture's 120 files

    total, below = _one(
        built_lake, "SELECT count(*), count(*) FILTER (WHERE ocr_confidence < 70) FROM silver_alpr_plates"
    )
    assert f" of {total:,} plates ({below:,}) read below the low-confidence threshold of 70 " in html

    (processes,) = _one(built_lake, "SELECT sum(processes) FROM gold_face_validation_client_acceptance_daily")
    assert f" of {processes:,} processes were accepted in the end, " in html
    assert "4 runs of alpr, detections, face_recognition, face_validation on " in html


def test_report_detections_readings_agree_with_the_tables(report, built_lake):
    html = report.read_text(encoding="utf-8")
    frames, invalid = _one(
        built_lake,
        "SELECT (SELECT count(*) FROM silver_detections_frames) + "
        "(SELECT count(*) FROM silver_detections_invalid_images), "
        "(SELECT count(*) FROM silver_detections_invalid_images)",
    )
    assert frames == 3000  # the fixture's 3,000 frame files, none quarantined
    (alerts,) = _one(built_lake, "SELECT count(*) FROM gold_detections_alerts")
    (episodes,) = _one(built_lake, "SELECT sum(episodes) FROM gold_detections_daily_threat_report")
    cameras, flagged = _one(
        built_lake,
        "SELECT count(*), count(*) FILTER (WHERE flagged) FROM (SELECT user_id, device_id, "
        "bool_or(needs_attention) AS flagged FROM gold_detections_device_health GROUP BY ALL)",
    )
    assert alerts and flagged  # the generated day has both
    lead = (
        f"{frames:,} frames analysed, {invalid:,} of them invalid images ({invalid / frames:.0%}); "
        f"0 files quarantined; {alerts:,} alerts from {episodes:,} threat episodes (counted per day); "
        f"{flagged:,} of {cameras:,} cameras needed attention."
    )
    assert f'<p class="lead">{lead}</p>' in html

    severity, most = _one(
        built_lake,
        "SELECT severity, count(*) AS n FROM gold_detections_alerts GROUP BY severity ORDER BY n DESC LIMIT 1",
    )
    assert f"{alerts:,} alerts (" in html and f"{most:,} {severity}" in html
    users, alerted = _one(
        built_lake, "SELECT count(*), count(*) FILTER (WHERE alerts > 0) FROM gold_detections_threats_by_user"
    )
    user, user_alerts = _one(
        built_lake,
        "SELECT user_id, alerts FROM gold_detections_threats_by_user ORDER BY alerts DESC, alert_frames DESC, user_id "
        "LIMIT 1",
    )
    users_reading = f"{alerted:,} of {users:,} users had an alert ({alerts:,} alerts in all); most: {user} with "
    assert f"{users_reading}{user_alerts:,} (" in html
    reason, matches, total = _one(
        built_lake,
        "SELECT reason, sum(matches) AS n, sum(sum(matches)) OVER () FROM gold_detections_suppressed_matches "
        "GROUP BY reason ORDER BY n DESC LIMIT 1",
    )
    assert f"{int(total):,} matching frames did not alert; the commonest reason: {reason} ({int(matches):,}, " in html
    (silent,) = _one(
        built_lake,
        "SELECT count(*) FROM (SELECT user_id, device_id FROM gold_detections_device_health GROUP BY ALL "
        "HAVING bool_or(needs_attention) AND bool_or(silent))",
    )
    assert f"{flagged:,} cameras needed attention ({silent:,} silent for over 120 minutes, " in html
    table = html.split('<table class="data" id="detections-cameras">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + min(flagged, 12)  # the header and the flagged cameras shown


def test_report_face_recognition_readings_agree_with_the_tables(report, built_lake):
    html = report.read_text(encoding="utf-8")
    day, requests, overspent = _one(
        built_lake,
        "SELECT max(event_date), sum(requests), count(*) FILTER (WHERE availability_budget_remaining < 0) + "
        "count(*) FILTER (WHERE latency_budget_remaining < 0) FROM gold_face_recognition_slo_daily "
        "WHERE event_date = (SELECT max(event_date) FROM gold_face_recognition_slo_daily)",
    )
    assert overspent == 0  # 10 minutes without an incident
    assert f'<p class="lead">{requests:,} requests on {day} (the latest day); no error budget overspent ' in html
    table = html.split('<table class="data" id="fr-slo">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 3  # the header, recognise_user and add_user

    (hours,) = _one(built_lake, "SELECT count(*) FROM gold_face_recognition_slo_hourly WHERE latency_p95_ms <= 1000")
    assert f"p95 at or under the 1,000 ms target in all {hours:,} endpoint-hours; " in html
    assert "No burn-rate alert fired (gold_face_recognition_burn_rate_alerts has no rows)." in html

    answers, keys, enrolled = _one(
        built_lake,
        "SELECT sum(no_match_answers), sum(keys_issued), sum(enrolled) FROM gold_face_recognition_enrollment_funnel",
    )
    assert f"{answers:,} no-match answers issued {keys:,} enrolment keys over 1 day: {enrolled:,} enrolled (" in html

    # the seed's LFW benchmark: 108 of 1,680 genuine probes rejected, 149 of 3,557 impostors accepted at 1.1
    table = html.split('<table class="data" id="fr-accuracy">', 1)[1].split("</table>", 1)[0]
    assert "6.43% [" in table and "] 108/1,680</td>" in table
    assert "4.19% [" in table and "] 149/3,557</td>" in table
    run, threshold, fnmr, fmr = _one(
        built_lake,
        "SELECT g.run_id, g.threshold, g.fnmr, i.fmr FROM gold_face_recognition_threshold_sweep g "
        "JOIN gold_face_recognition_threshold_sweep i ON i.threshold = g.threshold AND i.protocol = 'FAR' "
        "WHERE g.protocol = 'FRR' AND g.is_run_threshold ORDER BY g.run_id LIMIT 1",
    )
    assert f"{run}: FNMR {fnmr:.1%} at FMR {fmr:.1%} (its threshold {threshold:g}), " in html

    (stages,) = _one(built_lake, "SELECT count(*) FROM gold_face_recognition_load_test_summary")
    table = html.split('<table class="data" id="fr-loadtest">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + stages == 5  # three stages of 4, 8 and 12 VUs and the whole run
    assert " (4, 8 and 12 VUs) passed every threshold at every stage and over the whole run; " in table


def test_report_names_clients_and_holds_no_personal_data(report, built_lake):
    html = report.read_text(encoding="utf-8")
    acceptance = "gold_face_validation_client_acceptance_daily"
    columns = {r["column_name"] for r in query(str(built_lake), f"DESCRIBE {acceptance}").to_pylist()}
    label = "client_name" if "client_name" in columns else "'client-' || left(convenio, 8)"
    names = query(str(built_lake), f"SELECT DISTINCT {label} AS name FROM {acceptance}").column("name").to_pylist()
    assert names and all(f">{name}<" in html for name in names)

    assert not re.search(r"[0-9a-f]{64}", html)  # no pseudonym in full
    texts = query(str(built_lake), "SELECT DISTINCT plate_text FROM silver_alpr_plates WHERE length(plate_text) >= 4")
    visible = re.sub(r"<[^>]+>", " ", html)  # the page's text: labels, readings, table cells
    assert texts.num_rows and not [t for t in texts.column("plate_text").to_pylist() if t in visible]


def test_report_command_prints_the_written_path(built_lake, tmp_path, capsys):
    out = tmp_path / "nested" / "report.html"

    status = cli.main(["report", "--lake", str(built_lake), "--out", str(out)])

    printed = capsys.readouterr().out.strip()
    assert status == 0
    assert printed.startswith(f"report written to {out} (") and printed.count("\n") == 0
    assert out.stat().st_size > 50_000


def test_a_table_that_cannot_be_read_is_named_on_the_page_and_the_rest_is_reported(report, built_lake, cfg, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(built_lake, lake)
    (lake / "gold" / "detections" / "alerts" / "_delta_log" / f"{0:020d}.json").write_bytes(b"")  # emptied
    Path(snapshot(str(lake / "gold" / "alpr" / "daily_processing")).files[0]).unlink()  # deleted outside Delta
    html_path = tmp_path / "report.html"
    write_report(str(lake), str(html_path), cfg)
    html = html_path.read_text(encoding="utf-8")
    notice = re.findall(r'<aside class="unreadable">(.*?)</aside>', html, re.S)
    assert len(notice) == 1
    assert "Left out of this report: 2 of the lake's tables cannot be read" in notice[0]
    assert re.findall(r"<li><code>([^<]+)</code>: cannot open its latest version: ", notice[0]) == [
        "gold_detections_alerts"
    ]
    assert re.findall(r"<li><code>([^<]+)</code>: its data cannot be read: .*No such file", notice[0]) == [
        "gold_alpr_daily_processing"
    ]
    assert re.findall(r'<section id="([^"]+)"', html) == [
        "face_validation",
        "alpr",
        "detections",
        "face_recognition",
        "runs",
    ]
    assert "chart-det-alerts" not in html and "chart-alpr-cost" not in html and "chart-alpr-traffic" in html
    assert '<aside class="unreadable">' not in report.read_text(encoding="utf-8")  # the lake it was copied from


def _chromium() -> str:
    path = os.environ.get("VISIONLAKE_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("Debian's chromium is not installed: run `make setup` (it installs it with apt-get)")
    return path


CHECK_CHARTS = """() => [...document.querySelectorAll('figure.chart')].map(figure => {
    const svg = figure.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const marks = svg ? [...svg.querySelectorAll('g[id*="-mark-"]')] : [];
    const drawn = marks.filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; });
    const reading = figure.querySelector('figcaption.reading');
    return {id: figure.id, width: box.width, height: box.height, marks: marks.length, drawn: drawn.length,
            reading: reading ? reading.textContent.trim() : ''};
})"""


def test_report_renders_offline_in_headless_chromium(report):
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run `make setup`")
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    blocked: list[str] = []
    page_url = report.as_uri()

    def route(r):
        url = r.request.url
        if url == page_url or url.startswith("data:"):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(page_url, wait_until="load")
            charts = page.evaluate(CHECK_CHARTS)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()

    assert problems == [] and blocked == []
    assert [c["id"] for c in charts] == CHARTS
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 100, chart
        assert chart["drawn"] > 0, chart  # bars, lines or reference lines with a size on the page
        assert chart["reading"], chart
    assert (ARTIFACTS / "report.png").stat().st_size > 20_000


def test_a_lake_whose_every_table_cannot_be_read_says_so(tmp_path, cfg):
    from tests.test_sql import build

    from visionlake.report import ReportError

    lake = build(tmp_path / "lake")
    for log in Path(lake).rglob("_delta_log"):
        (log / f"{0:020d}.json").write_bytes(b"")
    with pytest.raises(
        ReportError, match=r"^nothing to report in .*lake: 3 of its tables cannot be read, e.g. gold_alpr"
    ):
        write_report(lake, str(tmp_path / "report.html"), cfg)
