"""The report page: one HTML file with its style inline, its charts as inline SVG and no script at all, so it
opens anywhere without a network (its Content-Security-Policy forbids loading anything). A source's section
appears only when the lake has that source's tables; every value from the lake is HTML-escaped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from visionlake.report import charts, data
from visionlake.report.load import HOURLY_DAYS, LakeRows

FACE_TABLES = {
    "latency": "gold_face_validation_microservice_latency_daily",
    "acceptance": "gold_face_validation_client_acceptance_daily",
    "retries": "gold_face_validation_retry_transitions",
    "codes": "gold_face_validation_response_codes",
}
ALPR_TABLES = {
    "traffic": "gold_alpr_daily_camera_stats",
    "cost": "gold_alpr_daily_processing",
    "plates": "silver_alpr_plates",
}
DETECTIONS_TABLES = {
    "alerts": "gold_detections_alerts",
    "report": "gold_detections_daily_threat_report",
    "users": "gold_detections_threats_by_user",
    "suppressed": "gold_detections_suppressed_matches",
    "health": "gold_detections_device_health",
}
FR_TABLES = {
    "daily": "gold_face_recognition_slo_daily",
    "hourly": "gold_face_recognition_slo_hourly",
    "alerts": "gold_face_recognition_burn_rate_alerts",
    "funnel": "gold_face_recognition_enrollment_funnel",
    "rates": "gold_face_recognition_evaluation_rates",
    "sweep": "gold_face_recognition_threshold_sweep",
    "loadtest": "gold_face_recognition_load_test_summary",
}
CHARTED_SOURCES = ("face_validation", "alpr", "detections", "face_recognition")
FLAGGED_CAMERAS_SHOWN = 12


@dataclass
class Section:
    id: str
    title: str
    intro: str
    lead: str = ""  # the section's key figures, under the intro
    head: list[str] = field(default_factory=list)  # HTML blocks under the lead, above the charts
    parts: list[str] = field(default_factory=list)  # HTML blocks: figures, notes, tables
    charts: list[str] = field(default_factory=list)  # the ids of its figures


@dataclass(frozen=True)
class Page:
    html: str
    sections: list[str]  # section ids, in page order
    charts: list[str]  # chart ids, in page order


def render(rows: LakeRows, lake: str, generated_at: datetime) -> Page | None:
    """The report of what ``rows`` hold; None when the lake has none of the tables the report shows."""
    sections = [
        s for s in (_face(rows), _alpr(rows), _detections(rows), _face_recognition(rows), _runs(rows)) if s is not None
    ]
    if not sections:
        return None
    html = _page(sections, rows, lake, generated_at)
    return Page(html=html, sections=[s.id for s in sections], charts=[c for s in sections for c in s.charts])


def _chart(section: Section, name: str, title: str, value, draw: Callable, reading: str) -> None:
    chart_id = f"chart-{name}"
    svg = draw(value, chart_id, title)
    section.parts.append(
        f'<figure class="chart" id="{chart_id}">\n<h3>{escape(title)}</h3>\n{svg}\n'
        f'<figcaption class="reading">{escape(reading)}</figcaption>\n</figure>'
    )
    section.charts.append(chart_id)


def _note(section: Section, text: str) -> None:
    section.parts.append(f'<p class="note">{escape(text)}</p>')


def _empty(table: str) -> str:
    return f"{table} has no rows yet."


# ------------------------------------------------------------------------------------------------------------


def _face(rows: LakeRows) -> Section | None:
    if not any(t in rows.tables for t in FACE_TABLES.values()):
        return None
    section = Section(
        id="face_validation",
        title="face_validation",
        intro="The liveness API: where the time goes, which clients' users get through, and what they do after a "
        "rejection. Clients appear under their display names (face_validation.client_names), others as "
        "client- and the first 8 characters of their pseudonym.",
    )
    table = FACE_TABLES["latency"]
    if table in rows.tables:
        summary = data.latency_summary(rows.rows.get(table, []))
        if summary:
            _chart(
                section,
                "face-latency",
                "Time per microservice: mean and p95, bottleneck highlighted",
                summary,
                charts.latency_chart,
                summary.reading,
            )
        else:
            _note(section, _empty(table))
    table = FACE_TABLES["acceptance"]
    if table in rows.tables:
        acceptance = data.client_acceptance(rows.rows.get(table, []))
        if acceptance:
            _chart(
                section,
                "face-acceptance",
                "Acceptance per client per day (final and first attempt)",
                acceptance,
                charts.acceptance_chart,
                acceptance.reading,
            )
            _chart(
                section,
                "face-attempts",
                "Attempts per process, per client",
                acceptance,
                charts.attempts_chart,
                acceptance.attempts_reading,
            )
        else:
            _note(section, _empty(table))
    table = FACE_TABLES["retries"]
    if table in rows.tables:
        rejections = data.rejection_outcomes(rows.rows.get(table, []))
        if rejections:
            _chart(
                section,
                "face-rejections",
                "Rejections users recover from and abandon on",
                rejections,
                charts.rejections_chart,
                rejections.reading,
            )
        else:
            _note(section, f"No rejection in {table}.")
    table = FACE_TABLES["codes"]
    if table in rows.tables:
        codes = data.codes_by_quality(rows.rows.get(table, []))
        if codes:
            _chart(
                section, "face-codes", "Response codes by near-image quality", codes, charts.codes_chart, codes.reading
            )
        else:
            _note(section, _empty(table))
    return section


def _alpr(rows: LakeRows) -> Section | None:
    if not any(t in rows.tables for t in ALPR_TABLES.values()):
        return None
    section = Section(
        id="alpr",
        title="alpr",
        intro="ultimateALPR licence-plate recognition: traffic per camera, recognition time against the seed "
        "project's measurements, OCR confidence and the daily cost estimate.",
    )
    table = ALPR_TABLES["traffic"]
    if table in rows.tables:
        stats = rows.rows.get(table, [])
        traffic = data.camera_traffic(stats)
        if traffic:
            _chart(
                section,
                "alpr-traffic",
                "Frames and plates per camera per day",
                traffic,
                charts.traffic_chart,
                traffic.reading,
            )
        else:
            _note(section, _empty(table))
        durations = data.duration_p95(stats)
        if durations:
            _chart(
                section,
                "alpr-duration",
                "Recognition duration p95 per camera against the seed's",
                durations,
                charts.duration_chart,
                durations.reading,
            )
        elif traffic:
            _note(section, "No recognition duration recorded (parallel mode sends none).")
    if ALPR_TABLES["plates"] in rows.tables:
        ocr = data.ocr_distribution(rows.ocr_bins, rows.ocr_plates, rows.ocr_below, rows.ocr_median, rows.ocr_threshold)
        if ocr:
            _chart(section, "alpr-ocr", "OCR confidence of the plates read", ocr, charts.ocr_chart, ocr.reading)
        else:
            _note(section, "No plate has been read yet.")
    table = ALPR_TABLES["cost"]
    if table in rows.tables:
        cost = data.daily_cost(rows.rows.get(table, []))
        if cost:
            _chart(section, "alpr-cost", "Estimated recognition cost per day", cost, charts.cost_chart, cost.reading)
        else:
            _note(section, _empty(table))
    return section


def _detections(rows: LakeRows) -> Section | None:
    if not any(t in rows.tables for t in DETECTIONS_TABLES.values()):
        return None
    section = Section(
        id="detections",
        title="detections",
        intro="Security-camera object detections: the alerts the threat rules raised, the users they concern, the "
        "matches that did not alert and why, and the cameras that need attention (silent too long, or mostly "
        "invalid images). Users and cameras appear under the collector's account and equipment ids.",
    )
    report_rows = rows.rows.get(DETECTIONS_TABLES["report"], [])
    episodes = sum(int(r.get("episodes") or 0) for r in report_rows)
    alerts_total: int | None = None
    table = DETECTIONS_TABLES["alerts"]
    if table in rows.tables:
        alerts = data.alerts_by_severity(rows.rows.get(table, []), report_rows)
        alerts_total = alerts.alerts if alerts else 0
        if alerts:
            _chart(
                section,
                "det-alerts",
                "Alerts per day by severity",
                alerts,
                charts.alerts_chart,
                alerts.reading,
            )
        else:
            episodes_text = f" ({data.plural(episodes, 'threat episode')}, none alerted)" if episodes else ""
            _note(section, f"No alert in {table} yet{episodes_text}.")
    table = DETECTIONS_TABLES["users"]
    if table in rows.tables:
        user_rows = rows.rows.get(table, [])
        threats = data.threats_by_user(user_rows)
        if threats:
            _chart(
                section,
                "det-threats",
                "Threats per user: alerts of each user with one"
                + (f" (the {len(threats.users)} with most)" if threats.users_alerted > len(threats.users) else ""),
                threats,
                charts.threats_chart,
                threats.reading,
            )
        else:
            _note(section, f"No user has had an alert yet ({data.plural(len(user_rows), 'user')} in {table}).")
    table = DETECTIONS_TABLES["suppressed"]
    if table in rows.tables:
        suppressed = data.suppressed_matches(rows.rows.get(table, []), rows.rule_names)
        if suppressed:
            _chart(
                section,
                "det-suppressed",
                "Matches that did not alert, by reason and rule",
                suppressed,
                charts.suppressed_chart,
                suppressed.reading,
            )
        else:
            _note(section, f"No match was suppressed ({table} has no rows).")
    health = None
    table = DETECTIONS_TABLES["health"]
    if table in rows.tables:
        health = data.device_health(
            rows.rows.get(table, []), rows.invalid_reasons, rows.silence_alert_minutes, rows.invalid_alert_share
        )
        if health:
            _chart(
                section,
                "det-health",
                "Camera health: longest silence and invalid images",
                health,
                charts.health_chart,
                health.reading,
            )
            section.parts.append(_cameras_table(health))
        else:
            _note(section, _empty(table))
    section.lead = _detections_lead(rows, health, alerts_total, episodes)
    return section


def _detections_lead(rows: LakeRows, health: data.DeviceHealth | None, alerts: int | None, episodes: int) -> str:
    """Frames, invalid share, quarantined files, alerts, episodes and cameras needing attention, as one line."""
    parts = []
    if health is not None:
        parts.append(
            f"{health.frames:,} frames analysed, {health.invalid_frames:,} of them invalid images "
            f"({data.percent(health.invalid_frames, health.frames)})"
        )
    quarantined = sum(int(q.get("records") or 0) for q in rows.quarantine if q.get("source") == "detections")
    if "quarantine_detections" in rows.tables:
        parts.append(f"{quarantined:,} file{'s' if quarantined != 1 else ''} quarantined")
    if alerts is not None:
        parts.append(
            f"{alerts:,} alert{'s' if alerts != 1 else ''} from {episodes:,} threat episodes (counted per day)"
        )
    if health is not None:
        parts.append(f"{len(health.flagged):,} of {len(health.cameras):,} cameras needed attention")
    return "; ".join(parts) + "." if parts else ""


def _cameras_table(health: data.DeviceHealth) -> str:
    head = "".join(
        f"<th{' class=num' if n else ''}>{h}</th>"
        for h, n in (
            ("camera (user / device)", 0),
            ("site", 0),
            ("why", 0),
            ("days flagged", 1),
            ("frames", 1),
            ("invalid", 1),
            ("longest silence (min)", 1),
            ("invalid images by reason", 0),
        )
    )
    shown = health.flagged[:FLAGGED_CAMERAS_SHOWN]
    lines = []
    for c in shown:
        why = " and ".join(w for w, flag in (("mostly invalid", c.mostly_invalid), ("silent", c.silent)) if flag)
        silence = "" if c.longest_silence_minutes is None else f"{c.longest_silence_minutes:,.0f}"
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in c.reasons.items())
        lines.append(
            "<tr>"
            + f"<td>{escape(c.camera)}</td><td>{escape(c.site_id or '')}</td><td>{escape(why)}</td>"
            + f'<td class="num">{c.days_flagged:,} of {c.days:,}</td><td class="num">{c.frames:,}</td>'
            + f'<td class="num">{c.invalid_share:.0%}</td><td class="num">{silence}</td>'
            + f"<td>{escape(reasons)}</td></tr>"
        )
    if not shown:
        caption = "No camera needed attention."
    else:
        more = len(health.flagged) - len(shown)
        caption = (
            f"Cameras that needed attention ({len(health.flagged)} of {len(health.cameras)}), mostly invalid first, "
            "then the longest silent" + (f"; {more} more not shown" if more else "")
        )
    return (
        f'<table class="data" id="detections-cameras"><caption>{escape(caption)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{chr(10).join(lines)}\n</tbody></table>"
    )


def _face_recognition(rows: LakeRows) -> Section | None:
    if not any(t in rows.tables for t in FR_TABLES.values()):
        return None
    section = Section(
        id="face_recognition",
        title="face_recognition",
        intro="The face recognition and enrolment API: per endpoint, its SLIs against their objectives and the error "
        f"budget left, latency per hour (the last {HOURLY_DAYS} days) and the burn-rate alerts that fired; what "
        "became of the enrolment keys the no-match answers issued; the accuracy of each evaluation run and its DET "
        "curve; the k6 load test per stage. Times are UTC.",
    )
    lead: list[str] = []
    table = FR_TABLES["daily"]
    if table in rows.tables:
        status = data.slo_status(
            rows.rows.get(table, []),
            rows.availability_slo,
            rows.latency_slo,
            rows.latency_target_ms,
            rows.slo_window_days,
        )
        if status:
            lead.append(f"{status.requests:,} requests on {status.day} (the latest day); {status.reading}")
            section.head.append(_slo_table(status))
        else:
            _note(section, _empty(table))
    table = FR_TABLES["hourly"]
    if table in rows.tables:
        latency = data.hourly_latency(rows.rows.get(table, []), rows.latency_target_ms)
        if latency:
            _chart(
                section,
                "fr-latency",
                "Latency p50, p95 and p99 per endpoint and hour",
                latency,
                charts.hourly_latency_chart,
                latency.reading,
            )
        else:
            _note(section, _empty(table))
    table = FR_TABLES["alerts"]
    if table in rows.tables:
        alerts = data.burn_alerts(rows.rows.get(table, []))
        if alerts:
            _chart(
                section,
                "fr-alerts",
                "Burn-rate alerts that fired, per endpoint, SLI and rule",
                alerts,
                charts.burn_alerts_chart,
                alerts.reading,
            )
            severities = ", ".join(f"{n:,} {s}" for s, n in alerts.severities.items())
            lead.append(f"{data.plural(len(alerts.alerts), 'burn-rate alert')} fired ({severities})")
        else:
            lead.append("no burn-rate alert fired")
            _note(section, f"No burn-rate alert fired ({table} has no rows).")
    table = FR_TABLES["funnel"]
    if table in rows.tables:
        funnel = data.enrollment_funnel(rows.rows.get(table, []))
        if funnel:
            _chart(
                section,
                "fr-funnel",
                "Enrolment keys of the no-match answers, per day issued",
                funnel,
                charts.funnel_chart,
                funnel.reading,
            )
            if funnel.conversion is not None:
                lead.append(f"{funnel.conversion:.0%} of the no-match answers led to an enrolment")
        else:
            _note(section, _empty(table))
    table = FR_TABLES["sweep"]
    if table in rows.tables:
        det = data.det_curves(rows.rows.get(table, []))
        if det:
            _chart(
                section,
                "fr-det",
                "DET curves: FNMR against FMR over the threshold grid",
                det,
                charts.det_chart,
                det.reading,
            )
        else:
            _note(section, f"No DET curve: no run of {table} has genuine probes and impostor probes of its model.")
    table = FR_TABLES["rates"]
    if table in rows.tables:
        runs = data.accuracy_runs(rows.rows.get(table, []))
        if runs:
            section.parts.append(_accuracy_table(runs))
        else:
            _note(section, _empty(table))
    table = FR_TABLES["loadtest"]
    if table in rows.tables:
        tests = data.load_tests(rows.rows.get(table, []))
        if tests:
            section.parts.append(_load_test_table(tests))
            newest = tests.runs[0]
            lead.append(f"the latest load test {'passed' if newest.passed else 'failed'} its thresholds")
        else:
            _note(section, _empty(table))
    section.lead = "; ".join(lead) + "." if lead else ""
    return section


def _header(columns: tuple[tuple[str, int], ...]) -> str:
    return "".join(f"<th{' class=num' if n else ''}>{escape(h)}</th>" for h, n in columns)


def _cell(text: str, bad: bool = False) -> str:
    return f'<td class="num{" bad" if bad else ""}">{escape(text)}</td>'


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _objective(value: float | None) -> str:
    return f" (objective {value * 100:g}%)" if value is not None else ""


def _slo_table(status: data.SloStatus) -> str:
    target = f"≤ {status.latency_target_ms:,.0f} ms" if status.latency_target_ms is not None else "under the target"
    head = _header(
        (
            ("endpoint", 0),
            ("day", 0),
            ("requests", 1),
            (f"availability{_objective(status.availability_slo)}", 1),
            ("budget left", 1),
            (f"{target}{_objective(status.latency_slo)}", 1),
            ("budget left", 1),
            ("p50 ms", 1),
            ("p95 ms", 1),
            ("p99 ms", 1),
            ("4xx", 1),
            ("5xx", 1),
            ("peak rps", 1),
        )
    )
    lines = []
    for e in status.endpoints:
        cells = [f'<td>{escape(e.endpoint)}</td><td class="nowrap">{e.day}</td>', _cell(f"{e.requests:,}")]
        for sli, objective, left in (
            (e.availability, status.availability_slo, e.availability_budget_left),
            (e.under_target, status.latency_slo, e.latency_budget_left),
        ):
            cells.append(_cell(data.rate(sli, 2), sli is not None and objective is not None and sli < objective))
            cells.append(_cell("n/a" if left is None else f"{left:,.0%}", left is not None and left < 0))
        cells += [_cell(_ms(e.p50_ms)), _cell(_ms(e.p95_ms)), _cell(_ms(e.p99_ms))]
        cells += [_cell(f"{e.client_4xx:,}"), _cell(f"{e.server_5xx:,}"), _cell(_count(e.peak_rps))]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    window = f"the {status.window_days}-day window" if status.window_days else "the SLO window"
    caption = (
        f"SLIs of each endpoint's latest day against their objectives, and the error budget left over {window} "
        "(negative: overspent)"
    )
    return (
        f'<table class="data" id="fr-slo"><caption>{escape(caption)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{chr(10).join(lines)}\n</tbody></table>"
    )


def _rate_cell(value: data.Rate | None) -> str:
    if value is None:
        return '<td class="num">–</td>'
    text = f"{data.rate(value.value, 2)} [{data.rate(value.low, 2)}, {data.rate(value.high, 2)}]"
    return _cell(f"{text} {value.errors:,}/{value.trials:,}")


def _accuracy_table(runs: list[data.RunAccuracy]) -> str:
    head = _header(
        (
            ("run", 0),
            ("protocol", 0),
            ("model", 0),
            ("gallery", 1),
            ("threshold", 1),
            ("probes", 1),
            ("FTA", 1),
            ("FRR [95% interval] errors/attempts", 1),
            ("FAR [95% interval] errors/attempts", 1),
        )
    )
    lines = []
    for r in runs:
        threshold = "" if r.threshold is None else f"{r.threshold:g}"
        lines.append(
            "<tr>"
            + f"<td>{escape(r.run_id)}</td><td>{escape(r.protocol)}</td><td>{escape(r.model)}</td>"
            + _cell(_count(r.gallery_size))
            + _cell(threshold)
            + _cell(f"{r.probes:,}")
            + _cell(f"{data.rate(r.fta.value, 2)} ({r.fta.errors:,})")
            + _rate_cell(r.frr)
            + _rate_cell(r.far)
            + "</tr>"
        )
    caption = (
        "Accuracy of each evaluation run at its recorded threshold: FRR counts the genuine probes without a face "
        "(FTA) as rejected, FAR = FMR x (1 - FTA); 95% Wilson intervals (with no error, the rule of three: 0 to 3/n)"
    )
    return (
        f'<table class="data" id="fr-accuracy"><caption>{escape(caption)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{chr(10).join(lines)}\n</tbody></table>"
    )


def _load_test_table(tests: data.LoadTests) -> str:
    head = _header(
        (
            ("k6 run", 0),
            ("stage", 0),
            ("VUs", 1),
            ("seconds", 1),
            ("requests", 1),
            ("requests/s", 1),
            ("p95 ms", 1),
            ("failed", 1),
            ("thresholds (observed)", 0),
            ("passed", 0),
        )
    )
    lines = []
    for run in tests.runs:
        for i, s in enumerate(run.stages):
            checks = "; ".join(f"{t.expression}: {t.value}" + ("" if t.passed else " (failed)") for t in s.thresholds)
            rps = "" if s.requests_per_second is None else f"{s.requests_per_second:,.1f}"
            seconds = "" if s.seconds is None else f"{s.seconds:,.0f}"
            lines.append(
                "<tr>"
                + f"<td>{escape(run.test_run_id) if i == 0 else ''}</td><td>{escape(s.label)}</td>"
                + _cell(_count(s.vus))
                + _cell(seconds)
                + _cell(f"{s.requests:,}")
                + _cell(rps)
                + _cell(_ms(s.p95_ms))
                + _cell(data.rate(s.failure_rate))
                + f"<td>{escape(checks)}</td>"
                + f'<td class="{"" if s.passed else "bad"}">{"yes" if s.passed else "no"}</td>'
                + "</tr>"
            )
    more = tests.total_runs - len(tests.runs)
    caption = f"k6 load test per stage of constant VUs: {tests.reading}" + (
        f" ({more} older run{'s' if more != 1 else ''} not shown)" if more else ""
    )
    return (
        f'<table class="data" id="fr-loadtest"><caption>{escape(caption)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{chr(10).join(lines)}\n</tbody></table>"
    )


def _runs(rows: LakeRows) -> Section | None:
    if "_runs" not in rows.tables:
        return None
    section = Section(
        id="runs",
        title="Run history",
        intro="Every run of the pipeline, from _runs: rows in and out of each stage, records quarantined, seconds.",
    )
    history = data.run_history(rows.rows.get("_runs", []))
    if history is None:
        _note(section, _empty("_runs"))
        return section
    _chart(section, "runs-seconds", "Seconds per run and stage", history, charts.runs_chart, history.reading)
    quarantine = data.quarantine_reasons(rows.quarantine)
    if quarantine.reasons:
        _chart(
            section,
            "runs-quarantine",
            "Quarantined records by reason",
            quarantine,
            charts.quarantine_chart,
            quarantine.reading,
        )
    else:
        _note(section, quarantine.reading)
    section.parts.append(_runs_table(history))
    return section


def _runs_table(history: data.RunHistory) -> str:
    head = "".join(
        f"<th{' class=num' if n else ''}>{h}</th>"
        for h, n in (
            ("run", 0),
            ("source", 0),
            ("stage", 0),
            ("status", 0),
            ("started (UTC)", 0),
            ("in", 1),
            ("out", 1),
            ("quarantined", 1),
            ("seconds", 1),
        )
    )
    lines = []
    for run in history.runs:
        for i, s in enumerate(run.stages):
            first = i == 0
            if s.rows_in is None and s.files_in is not None:
                rows_in = f"{s.files_in:,} file{'s' if s.files_in != 1 else ''}"
            else:
                rows_in = _count(s.rows_in)
            status = f'<td class="status-{escape(s.status)}">{escape(s.status)}</td>'
            lines.append(
                "<tr>"
                + f"<td>{escape(run.run_id) if first else ''}</td><td>{escape(run.source) if first else ''}</td>"
                + f"<td>{escape(s.stage)}</td>{status}"
                + f"<td>{f'{run.started_at:%Y-%m-%d %H:%M:%S}' if first and run.started_at else ''}</td>"
                + f'<td class="num">{escape(rows_in)}</td><td class="num">{_count(s.rows_out)}</td>'
                + f'<td class="num">{escape(_count(s.quarantined))}</td><td class="num">{s.seconds:,.1f}</td>'
                + "</tr>"
            )
    more = history.total_runs - len(history.runs)
    caption = f"The {len(history.runs)} latest runs" + (f" ({more} older not shown)" if more else "")
    return (
        f'<table class="runs" id="runs-table"><caption>{escape(caption)}</caption>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{chr(10).join(lines)}\n</tbody></table>"
    )


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


# ------------------------------------------------------------------------------------------------------------

STYLE = """
:root { --ink: #222; --muted: #666; --rule: #e3e3e3; --accent: #d62728; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink);
       background: #f6f6f4; }
header { background: #1f2d3d; color: #fff; padding: 18px 32px 14px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header .meta { margin: 0; color: #c9d3dd; font-size: 13px; }
header code { color: #fff; }
aside.unreadable { margin: 16px 32px 0; padding: 10px 16px; border-left: 4px solid #b3261e; background: #fdecea; }
aside.unreadable p, aside.unreadable ul { margin: 4px 0; font-size: 14px; }
nav { margin-top: 10px; }
nav a { color: #fff; margin-right: 18px; text-decoration: none; border-bottom: 1px solid #7a8ea3; }
main { padding: 8px 32px 32px; max-width: 1600px; }
section { margin-top: 22px; }
section h2 { font-size: 19px; margin: 0 0 4px; padding-bottom: 4px; border-bottom: 2px solid #1f2d3d; }
section .intro { color: var(--muted); margin: 4px 0 12px; max-width: 70em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
figure.chart { margin: 0; background: #fff; border: 1px solid var(--rule); border-radius: 4px; padding: 10px 12px; }
figure.chart h3 { margin: 0 0 6px; font-size: 14px; }
figure.chart svg { display: block; width: 100%; height: auto; }
figcaption.reading { margin-top: 6px; padding-top: 6px; border-top: 1px solid var(--rule); font-size: 13px; }
p.note { color: var(--muted); font-style: italic; }
section .lead { margin: 4px 0 12px; font-weight: 600; max-width: 70em; }
table.runs, table.data { border-collapse: collapse; background: #fff; margin-top: 16px; font-size: 12.5px; }
table.runs caption, table.data caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.runs th, table.runs td, table.data th, table.data td { padding: 3px 10px; border-bottom: 1px solid var(--rule);
  text-align: left; }
table.runs .num, table.data .num { text-align: right; font-variant-numeric: tabular-nums; }
table.runs th, table.data th { background: #eef1f4; }
td.nowrap { white-space: nowrap; }
td.status-failed, td.status-interrupted, td.bad { color: var(--accent); font-weight: 600; }
footer { color: var(--muted); font-size: 12px; padding: 0 32px 24px; }
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _unreadable(tables: dict[str, str]) -> str:
    """A notice naming the tables left out of the report because their log or data cannot be read."""
    if not tables:
        return ""
    items = "".join(f"<li><code>{escape(name)}</code>: {escape(why)}</li>" for name, why in tables.items())
    return (
        f'<aside class="unreadable"><p>Left out of this report: {len(tables)} of the lake\'s tables cannot be read, '
        f"so what they hold is not shown below.</p><ul>{items}</ul></aside>"
    )


def _page(sections: list[Section], rows: LakeRows, lake: str, generated_at: datetime) -> str:
    nav = "".join(f'<a href="#{escape(s.id)}">{escape(s.title)}</a>' for s in sections)
    body = []
    for s in sections:
        figures = [p for p in s.parts if p.startswith("<figure")]
        others = [p for p in s.parts if not p.startswith("<figure")]
        body.append(
            f'<section id="{escape(s.id)}" class="source">\n<h2>{escape(s.title)}</h2>\n'
            f'<p class="intro">{escape(s.intro)}</p>\n'
            + (f'<p class="lead">{escape(s.lead)}</p>\n' if s.lead else "")
            + "".join(f"{h}\n" for h in s.head)
            + '<div class="grid">\n'
            + "\n".join(figures)
            + "\n</div>\n"
            + "\n".join(others)
            + "\n</section>"
        )
    sources = sorted({t.removeprefix("quarantine_") for t in rows.tables if t.startswith("quarantine_")})
    uncharted = [s for s in sources if s not in CHARTED_SOURCES]
    footer = "Charts are pre-rendered SVG (matplotlib); the page loads nothing and runs no script."
    if uncharted:
        footer = f"Sources in the lake this report does not chart yet: {', '.join(uncharted)}. " + footer
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>visionlake report</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>visionlake report</h1>
<p class="meta">lake <code>{escape(lake)}</code> · {len(rows.tables)} tables · generated \
{generated_at:%Y-%m-%d %H:%M} UTC</p>
<nav>{nav}</nav>
</header>
{_unreadable(rows.unreadable)}
<main>
{chr(10).join(body)}
</main>
<footer>{escape(footer)}</footer>
</body>
</html>
"""
