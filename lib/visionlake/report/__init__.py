"""``visionlake report``: one self-contained HTML file of the lake, a section per source that has tables and
the run history, each chart with a one-line reading computed from the data.

    from visionlake.config import load_config
    from visionlake.report import write_report
    print(write_report("lake", "report.html", load_config("local")))

The page inlines its style and its charts (SVG drawn by matplotlib) and has no script: it opens offline.
It reads the lake only through :mod:`visionlake.sql` (the committed snapshot of each table).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from visionlake.config import Config
from visionlake.errors import VisionlakeError

__all__ = ["ReportError", "write_report"]


class ReportError(VisionlakeError):
    """The report cannot be written: nothing to report, or an output that is not a local file."""


def write_report(lake: str, out: str, cfg: Config) -> str:
    """Write the report of ``lake`` to the local file ``out``; returns a one-line message naming it.

    Raises:
        ReportError: ``out`` is not a local path, or the lake has none of the tables the report shows.
        LakeError: the lake has no tables at all.
    """
    from visionlake.lake import storage as st
    from visionlake.report.load import load
    from visionlake.report.page import render

    if "://" in out:
        raise ReportError(f"--out {out}: the report is written to a local file (e.g. report.html)")
    rows = load(
        lake,
        cfg.storage,
        cfg.alpr.low_confidence_threshold,
        cfg.detections.silence_alert_minutes,
        cfg.detections.invalid_alert_share,
        cfg.face_recognition,
    )
    page = render(rows, st.normalize(lake), datetime.now(UTC))
    if page is None and rows.unreadable:
        first = next(iter(rows.unreadable))
        raise ReportError(
            f"nothing to report in {st.normalize(lake)}: {len(rows.unreadable)} of its tables cannot be read, "
            f"e.g. {first}: {rows.unreadable[first]}"
        )
    if page is None:
        raise ReportError(
            f"nothing to report in {st.normalize(lake)}: it has no face_validation, alpr, detections or "
            "face_recognition gold tables and no _runs"
        )
    path = Path(out).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page.html, encoding="utf-8")
    size = path.stat().st_size
    return f"report written to {path} ({', '.join(page.sections)}: {len(page.charts)} charts, {size / 1024:,.0f} KB)"
