"""The report's queries: the rows it needs from the lake, through :func:`visionlake.sql.connect` (DuckDB over
each table's committed Delta snapshot). Only the tables the lake has are queried."""

from __future__ import annotations

from dataclasses import dataclass, field

from visionlake.config import StorageSettings

FACE = "gold_face_validation_"
ALPR_GOLD = "gold_alpr_"
OCR_BIN_WIDTH = 5.0


@dataclass
class LakeRows:
    """What the report reads: table name -> rows (dicts), plus the OCR confidence summary."""

    tables: list[str]  # every table of the lake
    rows: dict[str, list[dict]] = field(default_factory=dict)
    ocr_threshold: float = 70.0  # alpr.low_confidence_threshold
    ocr_bins: dict[float, int] = field(default_factory=dict)  # lower bin edge -> plates
    ocr_plates: int = 0
    ocr_below: int = 0
    ocr_median: float | None = None
    quarantine: list[dict] = field(default_factory=list)  # source, reason, records


QUERIES = {
    "gold_face_validation_microservice_latency_daily": "SELECT * FROM {t}",
    "gold_face_validation_client_acceptance_daily": "SELECT * FROM {t}",
    "gold_face_validation_retry_transitions": "SELECT * FROM {t}",
    "gold_face_validation_response_codes": "SELECT * FROM {t}",
    "gold_alpr_daily_camera_stats": "SELECT * FROM {t}",
    "gold_alpr_daily_processing": "SELECT * FROM {t}",
    "_runs": "SELECT * FROM {t}",
}


def load(lake: str, storage: StorageSettings, low_confidence_threshold: float) -> LakeRows:
    """Query ``lake`` for everything the report shows.

    Raises:
        LakeError: the lake has no tables.
    """
    from visionlake.sql import connect, table_names

    con = connect(lake, storage)
    try:
        tables = table_names(con)
        data = LakeRows(tables=tables, ocr_threshold=low_confidence_threshold)
        for table, statement in QUERIES.items():
            if table in tables:
                data.rows[table] = con.sql(statement.format(t=table)).to_arrow_table().to_pylist()
        if "silver_alpr_plates" in tables:
            _ocr(con, data, low_confidence_threshold)
        for table in tables:
            if table.startswith("quarantine_"):
                source = table.removeprefix("quarantine_")
                for reason, records in con.sql(f"SELECT reason, count(*) FROM {table} GROUP BY reason").fetchall():
                    data.quarantine.append({"source": source, "reason": reason, "records": records})
        return data
    finally:
        con.close()


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
