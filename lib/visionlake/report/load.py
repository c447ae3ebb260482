"""The report's queries: the rows it needs from the lake, through :func:`visionlake.sql.connect` (DuckDB over
each table's committed Delta snapshot). Only the tables the lake has are queried. Tables that grow with the
traffic (detections' alerts, suppressed matches, device health) are aggregated here, in SQL, to what the charts
draw: the rows stored under such a table's name are those aggregates, not its rows. face_recognition's SLO tables
are cut here too: ``slo_daily`` to each endpoint's latest day, ``slo_hourly`` to its last HOURLY_DAYS days."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from visionlake.config import FaceRecognitionSettings, StorageSettings
from visionlake.errors import describe

FACE = "gold_face_validation_"
ALPR_GOLD = "gold_alpr_"
OCR_BIN_WIDTH = 5.0
HOURLY_DAYS = 7  # face_recognition: the hourly latency chart shows the last days of slo_hourly


@dataclass
class LakeRows:
    """What the report reads: table name -> rows (dicts), plus the OCR confidence summary."""

    tables: list[str]  # every readable table of the lake
    unreadable: dict[str, str] = field(default_factory=dict)  # tables whose log or data cannot be read -> why
    rows: dict[str, list[dict]] = field(default_factory=dict)
    ocr_threshold: float = 70.0  # alpr.low_confidence_threshold
    ocr_bins: dict[float, int] = field(default_factory=dict)  # lower bin edge -> plates
    ocr_plates: int = 0
    ocr_below: int = 0
    ocr_median: float | None = None
    quarantine: list[dict] = field(default_factory=list)  # source, reason, records
    invalid_reasons: list[dict] = field(default_factory=list)  # detections: user_id, device_id, reason, frames
    rule_names: dict[int, str] = field(default_factory=dict)  # detections: rule_id -> name (latest version)
    silence_alert_minutes: float | None = None  # detections.silence_alert_minutes
    invalid_alert_share: float | None = None  # detections.invalid_alert_share
    latency_target_ms: float | None = None  # face_recognition.latency_target_ms
    availability_slo: float | None = None  # face_recognition.availability_slo
    latency_slo: float | None = None  # face_recognition.latency_slo
    slo_window_days: int | None = None  # face_recognition.slo_window_days


QUERIES = {
    "gold_face_validation_microservice_latency_daily": "SELECT * FROM {t}",
    "gold_face_validation_client_acceptance_daily": "SELECT * FROM {t}",
    "gold_face_validation_retry_transitions": "SELECT * FROM {t}",
    "gold_face_validation_response_codes": "SELECT * FROM {t}",
    "gold_alpr_daily_camera_stats": "SELECT * FROM {t}",
    "gold_alpr_daily_processing": "SELECT * FROM {t}",
    # detections: alerts per site-local day and severity; the daily threat report per day and severity
    "gold_detections_alerts": "SELECT local_date, severity, count(*) AS alerts FROM {t} GROUP BY ALL",
    "gold_detections_daily_threat_report": "SELECT local_date, severity, sum(alerts)::BIGINT AS alerts, "
    "sum(episodes)::BIGINT AS episodes, sum(frames)::BIGINT AS frames FROM {t} GROUP BY ALL",
    "gold_detections_threats_by_user": "SELECT * FROM {t}",  # one row per user
    "gold_detections_suppressed_matches": "SELECT reason, rule_id, sum(matches)::BIGINT AS matches FROM {t} "
    "GROUP BY ALL",
    # one row per camera (user_id, device_id) over every day of the table
    "gold_detections_device_health": "SELECT user_id, device_id, max(site_id) AS site_id, count(*) AS days, "
    "sum(frames)::BIGINT AS frames, sum(invalid_frames)::BIGINT AS invalid_frames, "
    "max(longest_silence_minutes) AS longest_silence_minutes, coalesce(bool_or(silent), false) AS silent, "
    "coalesce(bool_or(mostly_invalid), false) AS mostly_invalid, "
    "count(*) FILTER (WHERE needs_attention) AS days_flagged, max(event_date) AS last_date "
    "FROM {t} GROUP BY user_id, device_id",
    # face_recognition: each endpoint's latest day; the last HOURLY_DAYS days of hours; the sweep's counts
    "gold_face_recognition_slo_daily": "SELECT * FROM {t} "
    "QUALIFY row_number() OVER (PARTITION BY endpoint ORDER BY event_date DESC) = 1",
    "gold_face_recognition_slo_hourly": "SELECT endpoint, hour, requests, latency_p50_ms, latency_p95_ms, "
    f"latency_p99_ms FROM {{t}} WHERE hour > (SELECT max(hour) FROM {{t}}) - INTERVAL {HOURLY_DAYS} DAY",
    "gold_face_recognition_burn_rate_alerts": "SELECT * FROM {t}",
    "gold_face_recognition_enrollment_funnel": "SELECT * FROM {t}",
    "gold_face_recognition_evaluation_rates": "SELECT * FROM {t}",
    "gold_face_recognition_threshold_sweep": "SELECT run_id, model, threshold, is_run_threshold, "
    "acquired_genuine_probes, false_non_matches, acquired_impostor_probes, false_matches FROM {t}",
    "gold_face_recognition_load_test_summary": "SELECT * FROM {t}",
    "_runs": "SELECT * FROM {t}",
}
INVALID_REASONS = (
    "SELECT user_id, device_id, e.key AS reason, sum(e.value)::BIGINT AS frames FROM (SELECT user_id, device_id, "
    "unnest(map_entries(invalid_by_reason)) AS e FROM gold_detections_device_health) GROUP BY ALL"
)


def load(
    lake: str,
    storage: StorageSettings,
    low_confidence_threshold: float,
    silence_alert_minutes: float | None = None,
    invalid_alert_share: float | None = None,
    face_recognition: FaceRecognitionSettings | None = None,
) -> LakeRows:
    """Query ``lake`` for everything the report shows.

    Raises:
        LakeError: the lake has no tables.
    """
    from visionlake.sql import open_lake, table_names, warned

    opened = warned(open_lake(lake, storage))
    con = opened.con
    try:
        tables = table_names(con)
        data = LakeRows(
            tables=tables,
            unreadable=opened.unreadable,
            ocr_threshold=low_confidence_threshold,
            silence_alert_minutes=silence_alert_minutes,
            invalid_alert_share=invalid_alert_share,
        )
        if face_recognition is not None:
            data.latency_target_ms = face_recognition.latency_target_ms
            data.availability_slo = face_recognition.availability_slo
            data.latency_slo = face_recognition.latency_slo
            data.slo_window_days = face_recognition.slo_window_days
        for table, statement in QUERIES.items():
            if table in tables:
                with _scanning(data, table):
                    data.rows[table] = con.sql(statement.format(t=table)).to_arrow_table().to_pylist()
        if "silver_alpr_plates" in tables:
            with _scanning(data, "silver_alpr_plates"):
                _ocr(con, data, low_confidence_threshold)
        if "gold_detections_device_health" in tables:
            with _scanning(data, "gold_detections_device_health"):
                data.invalid_reasons = con.sql(INVALID_REASONS).to_arrow_table().to_pylist()
        if "silver_detections_rules" in tables:
            with _scanning(data, "silver_detections_rules"):
                names = con.sql("SELECT rule_id, arg_max(name, version) FROM silver_detections_rules GROUP BY 1")
                data.rule_names = {int(rule): str(name) for rule, name in names.fetchall() if rule is not None}
        for table in tables:
            if table.startswith("quarantine_"):
                source = table.removeprefix("quarantine_")
                with _scanning(data, table):
                    counted = con.sql(f"SELECT reason, count(*) FROM {table} GROUP BY reason").fetchall()
                    data.quarantine += [{"source": source, "reason": r, "records": n} for r, n in counted]
        data.tables = [t for t in tables if t not in data.unreadable]  # the page shows none of a table left out
        return data
    finally:
        con.close()


@contextlib.contextmanager
def _scanning(data: LakeRows, table: str) -> Iterator[None]:
    """Run a query of ``table``; when its data cannot be read (a data file gone or damaged), the table joins
    :attr:`LakeRows.unreadable` and the report goes on without it."""
    import duckdb

    from visionlake.sql import warn_left_out

    try:
        yield
    except duckdb.Error as exc:
        data.unreadable.setdefault(table, f"its data cannot be read: {describe(exc, hint=False)}")
        warn_left_out(table, data.unreadable[table])


def _ocr(con, data: LakeRows, threshold: float) -> None:
    width = OCR_BIN_WIDTH
    last = 100.0 / width - 1  # 100 falls in the last bin
    bins = con.execute(
        f"SELECT CAST(least(greatest(floor(ocr_confidence / {width}), 0), {last}) AS INTEGER) AS bin, count(*) "
        "FROM silver_alpr_plates WHERE ocr_confidence IS NOT NULL GROUP BY bin"
    ).fetchall()
    data.ocr_bins = {b * width: n for b, n in bins}
    ((plates, below, middle),) = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE ocr_confidence < ?), quantile_cont(ocr_confidence, 0.5) "
        "FROM silver_alpr_plates WHERE ocr_confidence IS NOT NULL",
        [threshold],
    ).fetchall()
    data.ocr_plates, data.ocr_below, data.ocr_median = int(plates), int(below), middle
