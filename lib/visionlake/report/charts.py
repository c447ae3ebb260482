"""The report's charts: matplotlib figures rendered to SVG text that the page inlines (no JavaScript, nothing to
fetch). Text stays text (``svg.fonttype: none``), ids are prefixed with the chart's name so that several charts
can share one page, and every data mark (bar, line, reference line) is a group whose id contains ``-mark-``:
the browser test checks that each chart drew some."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from visionlake.report.data import (
    FUNNEL_OUTCOMES,
    OTHER,
    Acceptance,
    AlertsBySeverity,
    BurnAlerts,
    CameraTraffic,
    CodesByQuality,
    DailyCost,
    DetCurves,
    DeviceHealth,
    DurationP95,
    EnrollmentFunnel,
    HourlyLatency,
    LatencySummary,
    OcrDistribution,
    Quarantine,
    Rejections,
    RunHistory,
    SuppressedMatches,
    ThreatsByUser,
)

BLUE, LIGHT_BLUE = "#4c78a8", "#a5c0dd"
RED, LIGHT_RED = "#d62728", "#f1a9a9"
GREY, LIGHT_GREY = "#8c8c8c", "#cfcfcf"
GREEN, ORANGE = "#2ca02c", "#ff7f0e"
INK = "#222222"
SERIES = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#bab0ac")
SEVERITY_COLORS = {"critical": "#b2182b", "error": "#f58518", "warning": "#eeca3b", "info": "#4c78a8"}
STAGE_COLORS = {"bronze": "#b07d48", "silver": "#9aa5b1", "check": "#72b7b2", "gold": "#e3b505"}
WIDTH = 7.0  # inches; the page scales the SVG to its column

RC = {
    "svg.fonttype": "none",  # <text> elements: small, selectable, escaped by matplotlib
    "svg.hashsalt": "visionlake-report",  # stable clip-path ids
    "text.parse_math": False,  # a "$" in a client's name is just a dollar sign
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#999999",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
}

_ID = re.compile(r'\bid="([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_HREF = re.compile(r'href="#([^"]+)"')


@contextmanager
def _figure(height: float, ncols: int = 1, sharey: bool = False) -> Iterator:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(WIDTH, height), layout="constrained")
        axes = fig.subplots(1, ncols, sharey=sharey, squeeze=False)[0]
        yield fig, axes


class _Marks:
    """Names data artists ``mark-<n>`` (their SVG group ids)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *artists) -> None:
        for group in artists:
            for artist in group if isinstance(group, Sequence) else [group]:
                artist.set_gid(f"mark-{self.count}")
                self.count += 1


def to_svg(fig, name: str, title: str) -> str:
    """The figure as an inline ``<svg>`` element: no XML prolog or metadata, fixed pixel size replaced by its
    viewBox (the page sets the width), every id prefixed with ``name``."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', text)
    text = _URL.sub(lambda m: f"url(#{name}-{m.group(1)})", text)
    text = _HREF.sub(lambda m: f'href="#{name}-{m.group(1)}"', text)
    head_end = text.index(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", text[:head_end])
    from html import escape

    head += f' class="chart-svg" role="img" aria-label="{escape(title)}"'
    return head + text[head_end:]


def _label(text: str) -> str:
    """Legend labels starting with ``_`` are hidden by matplotlib: keep them visible."""
    return f" {text}" if text.startswith("_") else text


def _date_axis(ax, days: Sequence) -> None:
    """Ticks on whole days (at most about 8 of them), never on hours: the tables are daily."""
    from matplotlib import dates

    days = [d for d in days if d is not None]
    span = (max(days) - min(days)).days if days else 0
    locator = dates.DayLocator(interval=max(1, -(-(span + 1) // 8)))
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    if span == 0 and days:
        ax.set_xlim(dates.date2num(days[0]) - 1, dates.date2num(days[0]) + 1)


def _percent_axis(ax, axis: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=0))


# ------------------------------------------------------------------------------------------------------------
# face_validation


def latency_chart(summary: LatencySummary, name: str, title: str) -> str:
    services = list(reversed(summary.services))  # barh draws bottom-up: largest share on top
    marks = _Marks()
    with _figure(0.36 * len(services) + 1.0) as (fig, (ax,)):
        ys = range(len(services))
        for y, s in zip(ys, services, strict=True):
            if s.service == summary.bottleneck:
                colors = (RED, LIGHT_RED)
            elif s.service == OTHER:
                colors = (GREY, LIGHT_GREY)
            else:
                colors = (BLUE, LIGHT_BLUE)
            marks(ax.barh(y + 0.2, s.p95_ms, height=0.4, color=colors[1]))
            marks(ax.barh(y - 0.2, s.mean_ms, height=0.4, color=colors[0]))
            ax.text(s.p95_ms, y + 0.2, f" {s.p95_ms:,.0f}", va="center", fontsize=7, color="#555555")
            ax.text(s.mean_ms, y - 0.2, f" {s.mean_ms:,.0f}", va="center", fontsize=7, color="#555555")
        labels = [
            f"{'other (not reported by a service)' if s.service == OTHER else s.service}  {s.share:.0%}"
            for s in services
        ]
        ax.set_yticks(list(ys), labels)
        for tick, s in zip(ax.get_yticklabels(), services, strict=True):
            if s.service == summary.bottleneck:
                tick.set_color(RED)
                tick.set_fontweight("bold")
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("ms per call where the service ran (label: share of all API time)")
        from matplotlib.patches import Patch

        ax.legend(
            handles=[
                Patch(color=BLUE, label="mean"),
                Patch(color=LIGHT_BLUE, label="p95 (daily p95s, call-weighted)"),
                Patch(color=RED, label="bottleneck"),
                Patch(color=GREY, label="other"),
            ],
            loc="lower right",
        )
        ax.margins(x=0.12)
        return to_svg(fig, name, title)


def acceptance_chart(acceptance: Acceptance, name: str, title: str) -> str:
    marks = _Marks()
    with _figure(3.1, ncols=2, sharey=True) as (fig, axes):
        for ax, index, heading in ((axes[0], 1, "final attempt"), (axes[1], 2, "first attempt")):
            for i, client in enumerate(acceptance.clients):
                days = [d[0] for d in client.daily]
                rates = [d[index] for d in client.daily]
                (line,) = ax.plot(
                    days,
                    rates,
                    marker="o",
                    markersize=2.5,
                    linewidth=1.1,
                    color=SERIES[i % len(SERIES)],
                    label=_label(client.name),
                )
                marks(line)
            ax.set_title(heading, loc="left")
            ax.set_ylim(-0.03, 1.03)
            _percent_axis(ax)
            _date_axis(ax, [d[0] for c in acceptance.clients for d in c.daily])
        axes[0].set_ylabel("processes accepted")
        fig.legend(
            *axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=min(len(acceptance.clients), 4)
        )
        return to_svg(fig, name, title)


def attempts_chart(acceptance: Acceptance, name: str, title: str) -> str:
    clients = sorted(acceptance.clients, key=lambda c: (c.attempts_per_process, c.name))
    marks = _Marks()
    with _figure(0.3 * len(clients) + 0.9) as (fig, (ax,)):
        ys = range(len(clients))
        marks(ax.barh(list(ys), [c.attempts_per_process for c in clients], height=0.6, color=BLUE))
        for y, c in zip(ys, clients, strict=True):
            ax.text(
                c.attempts_per_process,
                y,
                f" {c.attempts_per_process:.1f}  ({c.processes:,} processes)",
                va="center",
                fontsize=7.5,
                color="#444444",
            )
        ax.set_yticks(list(ys), [c.name for c in clients])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("attempts per process")
        ax.margins(x=0.3)
        return to_svg(fig, name, title)


def rejections_chart(rejections: Rejections, name: str, title: str) -> str:
    outcomes = list(reversed(rejections.outcomes[:12]))
    marks = _Marks()
    with _figure(0.3 * len(outcomes) + 1.1) as (fig, (ax,)):
        ys = list(range(len(outcomes)))
        left = [0] * len(outcomes)
        for attr, color, label in (
            ("accepted_next", GREEN, "next attempt accepted"),
            ("rejected_again", ORANGE, "rejected again"),
            ("abandoned", RED, "abandoned (last attempt)"),
        ):
            values = [getattr(o, attr) for o in outcomes]
            marks(ax.barh(ys, values, left=left, height=0.6, color=color, label=label))
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(ys, [o.label for o in outcomes])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("rejections, by what the user's next attempt was")
        ax.legend(loc="lower right")
        return to_svg(fig, name, title)


def codes_chart(codes: CodesByQuality, name: str, title: str) -> str:
    from matplotlib import colormaps

    rows = list(reversed(codes.codes[:14]))
    ramp = colormaps["viridis"]
    n = len(codes.qualities)
    marks = _Marks()
    with _figure(0.3 * len(rows) + 1.1) as (fig, (ax,)):
        ys = list(range(len(rows)))
        left = [0] * len(rows)
        for i, quality in enumerate(codes.qualities):
            values = [per.get(quality, 0) for _, per in rows]
            color = LIGHT_GREY if quality == "unknown" else ramp(0.15 + 0.7 * i / max(n - 1, 1))
            marks(ax.barh(ys, values, left=left, height=0.6, color=color, label=quality))
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(ys, [label for label, _ in rows])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("calls, by the near image's quality")
        ax.legend(loc="lower right", title="near image", title_fontsize=8)
        return to_svg(fig, name, title)


# ------------------------------------------------------------------------------------------------------------
# alpr


def traffic_chart(traffic: CameraTraffic, name: str, title: str) -> str:
    marks = _Marks()
    with _figure(3.0, ncols=2) as (fig, axes):
        for ax, index, heading in ((axes[0], 1, "frames"), (axes[1], 2, "plates")):
            for i, camera in enumerate(traffic.cameras):
                points = traffic.series[camera]
                (line,) = ax.plot(
                    [p[0] for p in points],
                    [p[index] for p in points],
                    marker="o",
                    markersize=3,
                    linewidth=1.2,
                    color=SERIES[i % len(SERIES)],
                    label=_label(camera),
                )
                marks(line)
            ax.set_title(heading, loc="left")
            ax.set_ylim(bottom=0)
            _date_axis(ax, [p[0] for points in traffic.series.values() for p in points])
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=min(len(traffic.cameras), 6))
        return to_svg(fig, name, title)


def duration_chart(durations: DurationP95, name: str, title: str) -> str:
    seed = durations.seed
    marks = _Marks()
    with _figure(3.1) as (fig, (ax,)):
        for i, (camera, points) in enumerate(sorted(durations.series.items())):
            (line,) = ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                marker="o",
                markersize=3,
                linewidth=1.2,
                color=SERIES[i % len(SERIES)],
                label=_label(camera),
            )
            marks(line)
        marks(ax.axhline(seed.p95_ms, color=INK, linestyle="--", linewidth=1.2, label=f"seed p95 {seed.p95_ms:.0f} ms"))
        marks(
            ax.axhline(
                seed.p95_with_plate_ms,
                color=INK,
                linestyle=":",
                linewidth=1.2,
                label=f"seed p95 {seed.p95_with_plate_ms:.0f} ms,\nframes with a plate",
            )
        )
        ax.set_ylim(bottom=0)
        ax.set_ylabel("recognition duration p95 (ms)")
        _date_axis(ax, [p[0] for points in durations.series.values() for p in points])
        fig.legend(loc="outside right upper")
        return to_svg(fig, name, title)


def ocr_chart(ocr: OcrDistribution, name: str, title: str) -> str:
    marks = _Marks()
    with _figure(2.8) as (fig, (ax,)):
        below = [(e, n) for e, n in ocr.bins if e + ocr.width <= ocr.threshold]
        above = [(e, n) for e, n in ocr.bins if e + ocr.width > ocr.threshold]
        for bins, color, label in ((below, ORANGE, "below the threshold"), (above, BLUE, "at or above")):
            if bins:
                marks(
                    ax.bar(
                        [e for e, _ in bins],
                        [n for _, n in bins],
                        width=ocr.width * 0.92,
                        align="edge",
                        color=color,
                        label=label,
                    )
                )
        marks(ax.axvline(ocr.threshold, color=INK, linestyle="--", linewidth=1))
        ax.text(
            ocr.threshold,
            1.0,
            f" low-confidence threshold {ocr.threshold:g}",
            transform=ax.get_xaxis_transform(),
            va="top",
            fontsize=7.5,
        )
        ax.set_xlim(0, 100)
        ax.set_xlabel("OCR confidence (0-100)")
        ax.set_ylabel("plates")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper left")
        return to_svg(fig, name, title)


def cost_chart(cost: DailyCost, name: str, title: str) -> str:
    marks = _Marks()
    with _figure(2.6) as (fig, (ax,)):
        xs = list(range(len(cost.days)))
        marks(ax.bar(xs, [d[3] for d in cost.days], width=0.6, color=BLUE))
        for x, d in zip(xs, cost.days, strict=True):
            ax.text(x, d[3], f"{d[1]:,} frames", ha="center", va="bottom", fontsize=7, color="#444444")
        step = max(1, len(xs) // 10)
        ax.set_xticks(xs[::step], [str(d[0]) for d in cost.days][::step])
        ax.grid(axis="x", visible=False)
        ax.set_ylabel("estimated cost")
        ax.margins(y=0.15)
        return to_svg(fig, name, title)


# ------------------------------------------------------------------------------------------------------------
# detections


def alerts_chart(alerts: AlertsBySeverity, name: str, title: str) -> str:
    marks = _Marks()
    with _figure(2.8) as (fig, (ax,)):
        xs = list(range(len(alerts.days)))
        bottom = [0] * len(xs)
        for i, severity in enumerate(alerts.severities):
            values = alerts.counts[severity]
            color = SEVERITY_COLORS.get(severity, SERIES[(i + 4) % len(SERIES)])
            marks(ax.bar(xs, values, bottom=bottom, width=0.6, color=color, label=_label(severity)))
            bottom = [a + b for a, b in zip(bottom, values, strict=True)]
        for x, total in zip(xs, bottom, strict=True):
            ax.text(x, total, f"{total:,}", ha="center", va="bottom", fontsize=7.5, color="#444444")
        step = max(1, len(xs) // 10)
        ax.set_xticks(xs[::step], [_day_label(d) for d in alerts.days][::step])
        ax.set_xlim(-0.6, max(len(xs), 2) - 0.4)
        ax.grid(axis="x", visible=False)
        ax.set_ylabel("alerts (site-local day)")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.margins(y=0.15)
        ax.legend(loc="upper left", title="severity", title_fontsize=8)
        return to_svg(fig, name, title)


def threats_chart(threats: ThreatsByUser, name: str, title: str) -> str:
    users = list(reversed(threats.users))  # most alerts on top
    marks = _Marks()
    with _figure(0.26 * len(users) + 1.0) as (fig, (ax,)):
        ys = list(range(len(users)))
        marks(ax.barh(ys, [u.alerts for u in users], height=0.6, color=RED))
        for y, u in zip(ys, users, strict=True):
            ax.text(
                u.alerts,
                y,
                f" {u.alerts:,}  ({u.threat_share:.0%} of {u.frames:,} frames)",
                va="center",
                fontsize=7.5,
                color="#444444",
            )
        ax.set_yticks(ys, [u.user_id for u in users])
        ax.grid(axis="y", visible=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("alerts (label: share of the user's frames in alerted episodes)")
        ax.margins(x=0.35)
        return to_svg(fig, name, title)


def suppressed_chart(suppressed: SuppressedMatches, name: str, title: str) -> str:
    reasons = list(reversed(suppressed.reasons))
    marks = _Marks()
    with _figure(0.32 * len(reasons) + 1.2) as (fig, (ax,)):
        ys = list(range(len(reasons)))
        left = [0] * len(reasons)
        for i, rule in enumerate(suppressed.rules):
            values = [by_rule.get(rule, 0) for _, _, by_rule in reasons]
            label = _label(suppressed.rule_label(rule))
            marks(ax.barh(ys, values, left=left, height=0.6, color=SERIES[i % len(SERIES)], label=label))
            left = [a + b for a, b in zip(left, values, strict=True)]
        for y, (_, total, _) in zip(ys, reasons, strict=True):
            ax.text(total, y, f" {total:,}", va="center", fontsize=7.5, color="#444444")
        ax.set_yticks(ys, [reason for reason, _, _ in reasons])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("matching frames that did not alert")
        ax.margins(x=0.12)
        fig.legend(loc="outside lower center", ncols=min(len(suppressed.rules), 2))
        return to_svg(fig, name, title)


def health_chart(health: DeviceHealth, name: str, title: str) -> str:
    cameras = health.cameras  # a camera without a silence (one frame in all) sits at 0 minutes
    marks = _Marks()
    with _figure(3.2) as (fig, (ax,)):
        for flagged, color, label in ((False, BLUE, "fine every day"), (True, RED, "needed attention")):
            group = [c for c in cameras if c.needs_attention == flagged]
            if group:
                marks(
                    ax.scatter(
                        [c.longest_silence_minutes or 0.0 for c in group],
                        [c.invalid_share for c in group],
                        s=18,
                        color=color,
                        alpha=0.75,
                        edgecolors="none",
                        label=f"{label} ({len(group)})",
                    )
                )
        if health.silence_alert_minutes is not None:
            marks(ax.axvline(health.silence_alert_minutes, color=INK, linestyle="--", linewidth=1))
            ax.text(
                health.silence_alert_minutes,
                1.0,
                f" silence_alert_minutes {health.silence_alert_minutes:g}",
                transform=ax.get_xaxis_transform(),
                va="top",
                fontsize=7,
            )
        if health.invalid_alert_share is not None:
            marks(ax.axhline(health.invalid_alert_share, color=INK, linestyle=":", linewidth=1))
            ax.text(
                1.0,
                health.invalid_alert_share,
                f"invalid_alert_share {health.invalid_alert_share:g} ",
                transform=ax.get_yaxis_transform(),
                ha="right",
                va="bottom",
                fontsize=7,
            )
        ax.set_ylim(-0.04, 1.06)
        ax.set_xlim(left=0)
        _percent_axis(ax)
        ax.set_xlabel("longest silence, minutes (the worst day)")
        ax.set_ylabel("invalid images (the whole period)")
        fig.legend(loc="outside lower center", ncols=2, title="cameras", title_fontsize=8)
        return to_svg(fig, name, title)


def _day_label(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# ------------------------------------------------------------------------------------------------------------
# face_recognition

PERCENTILE_STYLES = (("p50", 1, LIGHT_BLUE), ("p95", 2, BLUE), ("p99", 3, "#1f3b5c"))
FUNNEL_COLORS = {"enrolled": GREEN, "failed": ORANGE, "expired": RED, "never_used": LIGHT_GREY}
BURN_COLORS = {"page": RED, "ticket": ORANGE}
BURN_BUCKET = timedelta(minutes=5)  # burn_rate_alerts evaluates at the end of each UTC 5-minute bucket


def _hour_axis(ax, hours: Sequence) -> None:
    """Date and hour ticks (UTC); a single hour is shown with an hour either side."""
    from matplotlib import dates

    hours = [h for h in hours if h is not None]
    locator = dates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    if hours and min(hours) == max(hours):
        ax.set_xlim(dates.date2num(hours[0] - timedelta(hours=1)), dates.date2num(hours[0] + timedelta(hours=1)))


def hourly_latency_chart(latency: HourlyLatency, name: str, title: str) -> str:
    marks = _Marks()
    with _figure(3.0, ncols=len(latency.endpoints)) as (fig, axes):
        for ax, endpoint in zip(axes, latency.endpoints, strict=True):
            points = latency.series[endpoint]
            hours = [p[0] for p in points]
            for label, index, color in reversed(PERCENTILE_STYLES):
                (line,) = ax.plot(
                    hours,
                    [p[index] for p in points],
                    marker="o",
                    markersize=2.5,
                    linewidth=1.2,
                    color=color,
                    label=label,
                )
                marks(line)
            if latency.target_ms is not None:
                marks(
                    ax.axhline(
                        latency.target_ms,
                        color=INK,
                        linestyle="--",
                        linewidth=1,
                        label=f"target {latency.target_ms:,.0f} ms",
                    )
                )
            ax.set_title(endpoint, loc="left")
            ax.set_ylim(bottom=0)
            _hour_axis(ax, hours)
        axes[0].set_ylabel("latency per hour (ms)")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4)
        return to_svg(fig, name, title)


def burn_alerts_chart(alerts: BurnAlerts, name: str, title: str) -> str:
    from matplotlib import dates
    from matplotlib.patches import Patch

    lanes = list(reversed(alerts.lanes))  # the first lane on top
    marks = _Marks()
    with _figure(0.28 * len(lanes) + 1.3) as (fig, (ax,)):
        for a in alerts.alerts:
            start = dates.date2num(a.fired_from - BURN_BUCKET)
            width = dates.date2num(a.fired_to) - start
            color = BURN_COLORS.get(a.severity, GREY)
            marks(ax.barh(lanes.index(a.lane), width, left=start, height=0.6, color=color))
        ax.set_yticks(range(len(lanes)), lanes)
        ax.grid(axis="y", visible=False)
        ax.set_ylim(-0.6, len(lanes) - 0.4)
        locator = dates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
        ax.margins(x=0.03)
        handles = [Patch(color=BURN_COLORS.get(s, GREY), label=f"{s} ({n:,})") for s, n in alerts.severities.items()]
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=len(handles),
            title="severity (a bar spans the 5-minute buckets at whose end the rule fired)",
            title_fontsize=8,
        )
        return to_svg(fig, name, title)


def funnel_chart(funnel: EnrollmentFunnel, name: str, title: str) -> str:
    marks = _Marks()
    with _figure(2.9) as (fig, (ax,)):
        xs = list(range(len(funnel.days)))
        bottom = [0] * len(xs)
        for outcome in FUNNEL_OUTCOMES:
            values = [d.outcomes[outcome] for d in funnel.days]
            label = outcome.replace("_", " ")
            marks(ax.bar(xs, values, bottom=bottom, width=0.6, color=FUNNEL_COLORS[outcome], label=label))
            bottom = [a + b for a, b in zip(bottom, values, strict=True)]
        for x, total, d in zip(xs, bottom, funnel.days, strict=True):
            text = f"{d.conversion:.0%}" if d.conversion is not None else ""
            ax.text(x, total, text, ha="center", va="bottom", fontsize=7.5, color="#444444")
        step = max(1, len(xs) // 10)
        ax.set_xticks(xs[::step], [_day_label(d.day) for d in funnel.days][::step])
        ax.set_xlim(-0.6, max(len(xs), 2) - 0.4)
        ax.grid(axis="x", visible=False)
        ax.set_ylabel("keys, by the day issued")
        ax.margins(y=0.15)
        fig.legend(loc="outside right upper", title="key (label: conversion)", title_fontsize=8)
        return to_svg(fig, name, title)


def det_chart(det: DetCurves, name: str, title: str) -> str:
    from matplotlib.ticker import FuncFormatter

    marks = _Marks()
    shown = [[p for p in c.points if p[1] > 0 and p[2] > 0] for c in det.curves]  # log axes: zeros are left out
    values = [v for points in shown for p in points for v in p[1:]] + [det.target_fmr]
    low = min(values) / 1.6
    with _figure(3.4) as (fig, (ax,)):
        ax.set_xscale("log")
        ax.set_yscale("log")
        for i, (curve, points) in enumerate(zip(det.curves, shown, strict=True)):
            color = SERIES[i % len(SERIES)]
            (line,) = ax.plot(
                [p[1] for p in points],
                [p[2] for p in points],
                marker="o",
                markersize=2.5,
                linewidth=1.3,
                color=color,
                label=_label(curve.run_id),
            )
            marks(line)
            at = curve.at_run
            if at is not None and at[1] > 0 and at[2] > 0:
                marks(ax.plot([at[1]], [at[2]], marker="o", markersize=7, color=color, markeredgecolor=INK)[0])
                ax.annotate(f"t={at[0]:g}", (at[1], at[2]), xytext=(6, 4), textcoords="offset points", fontsize=7)
        marks(ax.axvline(det.target_fmr, color=INK, linestyle=":", linewidth=1))
        ax.text(
            det.target_fmr, 1.0, f" FMR {det.target_fmr:.0%}", transform=ax.get_xaxis_transform(), va="top", fontsize=7
        )
        ax.set_xlim(low, 1.05)
        ax.set_ylim(low, 1.05)
        as_percent = FuncFormatter(lambda v, _: f"{v * 100:g}%")
        ax.xaxis.set_major_formatter(as_percent)
        ax.yaxis.set_major_formatter(as_percent)
        ax.set_xlabel("FMR: false match rate (impostor probes)")
        ax.set_ylabel("FNMR: false non-match rate")
        fig.legend(loc="outside lower center", ncols=1, title="run (big dot: its recorded threshold)", title_fontsize=8)
        return to_svg(fig, name, title)


# ------------------------------------------------------------------------------------------------------------
# runs


def runs_chart(history: RunHistory, name: str, title: str) -> str:
    runs = list(reversed(history.runs))  # newest on top
    stages = []
    for run in runs:
        stages += [s.stage for s in run.stages if s.stage not in stages]
    marks = _Marks()
    with _figure(0.3 * len(runs) + 1.1) as (fig, (ax,)):
        ys = list(range(len(runs)))
        left = [0.0] * len(runs)
        for i, stage in enumerate(stages):
            values = [sum(s.seconds for s in run.stages if s.stage == stage) for run in runs]
            color = STAGE_COLORS.get(stage, SERIES[i % len(SERIES)])
            marks(ax.barh(ys, values, left=left, height=0.6, color=color, label=_label(stage)))
            left = [a + b for a, b in zip(left, values, strict=True)]
        labels = [f"{r.source} {f'{r.started_at:%Y-%m-%d %H:%M}' if r.started_at else r.run_id}" for r in runs]
        ax.set_yticks(ys, labels)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("seconds per stage")
        fig.legend(loc="outside right upper", title="stage", title_fontsize=8)
        return to_svg(fig, name, title)


def quarantine_chart(quarantine: Quarantine, name: str, title: str) -> str:
    reasons = list(reversed(quarantine.reasons[:15]))
    marks = _Marks()
    with _figure(0.3 * len(reasons) + 0.9) as (fig, (ax,)):
        ys = list(range(len(reasons)))
        marks(ax.barh(ys, [r[2] for r in reasons], height=0.6, color=ORANGE))
        for y, r in zip(ys, reasons, strict=True):
            ax.text(r[2], y, f" {r[2]:,}", va="center", fontsize=7.5, color="#444444")
        ax.set_yticks(ys, [f"{reason} ({source})" for source, reason, _ in reasons])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("records quarantined")
        ax.margins(x=0.12)
        return to_svg(fig, name, title)
