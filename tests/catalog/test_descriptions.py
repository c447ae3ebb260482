"""descriptions.yaml: every table and column of a lake built from every source is described, the descriptions
are in the Delta logs the runs wrote, and README.md's column tables list the same columns."""

from __future__ import annotations

import re

from tests.conftest import REPO

from visionlake.catalog.log import read_state
from visionlake.config import StorageSettings
from visionlake.descriptions import MAX_COLUMN_COMMENT, MAX_TABLE_DESCRIPTION, descriptions
from visionlake.lake.reader import log_entries, table_locations
from visionlake.quality.results import DRIFT_SCHEMA
from visionlake.sources.detections.notify import DELIVERIES_SCHEMA

STORAGE = StorageSettings()
# the tables README.md lists column by column; the wide face_validation tables (documents, api_calls,
# transactions) are described there in prose, and here column by column
README_TABLES = {
    "bronze_alpr_results",
    "quarantine_alpr",
    "silver_alpr_frames",
    "silver_alpr_plates",
    "silver_alpr_cars",
    "silver_alpr_car_colors",
    "silver_alpr_car_body_styles",
    "silver_alpr_car_makes",
    "silver_alpr_plate_countries",
    "gold_alpr_vehicles",
    "gold_alpr_daily_camera_stats",
    "gold_alpr_plate_sightings",
    "gold_alpr_daily_processing",
    "quarantine_face_validation",
    "gold_face_validation_client_acceptance_daily",
    "gold_face_validation_microservice_latency_daily",
    "gold_face_validation_retry_transitions",
    "gold_face_validation_response_codes",
    "bronze_detections_frames_raw",
    "quarantine_detections",
    "silver_detections_frames",
    "silver_detections_invalid_images",
    "silver_detections_objects",
    "silver_detections_rule_matches",
    "silver_detections_rules",
    "gold_detections_match_decisions",
    "gold_detections_alerts",
    "gold_detections_suppressed_matches",
    "gold_detections_daily_threat_report",
    "gold_detections_threats_by_user",
    "gold_detections_detections_daily",
    "gold_detections_device_health",
    "gold_detections_alert_deliveries",
    "bronze_face_recognition_request_lines",
    "bronze_face_recognition_evaluation_lines",
    "bronze_face_recognition_k6_lines",
    "quarantine_face_recognition",
    "silver_face_recognition_requests",
    "silver_face_recognition_evaluations",
    "silver_face_recognition_load_test_points",
    "silver_face_recognition_load_test_runs",
    "gold_face_recognition_slo_daily",
    "gold_face_recognition_slo_hourly",
    "gold_face_recognition_burn_rate_alerts",
    "gold_face_recognition_enrollment_funnel",
    "gold_face_recognition_evaluation_rates",
    "gold_face_recognition_threshold_sweep",
    "gold_face_recognition_load_test_summary",
}
SILVER_EVENT_COLUMNS = ["camera_id", "event_ts", "event_date"]  # "Every silver table also has ..." (README, alpr)


def test_every_table_and_column_of_the_built_lake_is_described(built_lake):
    texts = descriptions()
    lake = table_locations(str(built_lake), STORAGE)
    assert len(lake) == 53  # alpr 13, face_validation 9, detections 14, face_recognition 15, _runs, _quality_results
    # no drift in generated input; alert deliveries are written by `visionlake notify` only
    assert set(texts) - set(lake) == {"_quality_schema_drift", "gold_detections_alert_deliveries"}
    for name, location in lake.items():
        columns = [f["name"] for f in read_state(location, STORAGE).fields]
        assert list(texts[name].columns) == columns, name
    assert list(texts["_quality_schema_drift"].columns) == DRIFT_SCHEMA.names
    assert list(texts["gold_detections_alert_deliveries"].columns) == DELIVERIES_SCHEMA.names
    for name, text in texts.items():
        assert 0 < len(text.description) <= MAX_TABLE_DESCRIPTION, name
        assert all(0 < len(t) <= MAX_COLUMN_COMMENT for t in text.columns.values()), name


def test_the_runs_put_the_descriptions_into_the_delta_logs(built_lake):
    texts = descriptions()
    for name, location in table_locations(str(built_lake), STORAGE).items():
        state = read_state(location, STORAGE)
        assert state.description == texts[name].description, name
        comments = {f["name"]: (f.get("metadata") or {}).get("comment") for f in state.fields}
        assert comments == texts[name].columns, name
    runs = read_state(table_locations(str(built_lake), STORAGE)["_runs"], STORAGE)
    assert runs.column("status")["metadata"] == {"comment": "ok, skipped, failed or interrupted."}


def _readme_tables() -> dict[str, list[str]]:
    """``{table: columns}`` of every row of the column tables in README.md's "## The lake" section."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## The lake\n", 1)[1].split("\n## ", 1)[0].split("\n### Bad input", 1)[0]
    alpr, _, rest = section.partition("\n### face_validation tables\n")
    face_validation, _, rest = rest.partition("\n### detections tables\n")
    detections, _, face_recognition = rest.partition("\n### face_recognition tables\n")
    parts = (
        ("alpr", alpr),
        ("face_validation", face_validation),
        ("detections", detections),
        ("face_recognition", face_recognition),
    )
    found: dict[str, list[str]] = {}
    for source, part in parts:
        for line in part.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
            if len(cells) != 2 or cells[0] in ("table", "---"):
                continue
            layer = cells[0].split()[0] if not cells[0].startswith("`") else ""
            names = re.findall(r"`([^`]+)`", cells[0])
            plain = re.sub(r"\([^)]*\)", "", cells[1])  # notes in parentheses may hold commas
            if ":" in plain.split(",")[0]:  # "one row per element: frame_key, ..."
                plain = plain.split(":", 1)[1]
            columns = [re.match(r"\w+", item.strip().strip("`")).group(0) for item in plain.split(",")]
            if layer == "silver" and source == "alpr":
                columns += SILVER_EVENT_COLUMNS
            for name in names:
                key = name.replace("/", "_") if name.startswith("quarantine/") else f"{layer}_{source}_{name}"
                found[key] = columns
    return found


def test_readme_column_tables_agree_with_the_descriptions():
    texts = descriptions()
    readme = _readme_tables()
    assert set(readme) == README_TABLES
    for name, columns in readme.items():
        assert columns == list(texts[name].columns), name


def _commit(spark, location: str, rows: list[tuple], texts: tuple | None, mode: str = "append") -> None:
    from visionlake.lake import delta

    frame = spark.createDataFrame(rows, "plate_text string, sightings long")
    staged = delta.stage(frame, location, storage=STORAGE, mode=mode)
    if texts is not None:
        staged.description, staged.column_comments = texts
    delta.commit(staged, STORAGE)


def _log_texts(location: str) -> tuple[int, str | None, dict]:
    state = read_state(location, STORAGE)
    return state.version, state.description, {f["name"]: f["metadata"].get("comment") for f in state.fields}


def test_a_commit_describes_a_table_written_before_descriptions_and_overwrites_keep_them(spark, tmp_path):
    location = str(tmp_path / "gold/alpr/plate_sightings")
    _commit(spark, location, [("GK4", 1)], None)
    assert _log_texts(location) == (0, None, {"plate_text": None, "sightings": None})

    texts = ("Per plate text.", {"plate_text": "The plate's text.", "sightings": "Times it was seen."})
    _commit(spark, location, [("AB1", 2)], texts)
    # one commit sets the description, one each column's comment, then the data commit
    assert _log_texts(location) == (4, "Per plate text.", texts[1])
    commits = [log_entries(location, STORAGE, version) for version in (1, 4)]
    operations = [a["commitInfo"]["operation"] for actions in commits for a in actions if "commitInfo" in a]
    assert operations == ["UPDATE TABLE METADATA", "WRITE"]

    _commit(spark, location, [("XY9", 3)], texts, mode="overwrite")  # rewrites the schema: the comments stay
    _commit(spark, location, [("ZZ1", 4)], texts)  # nothing to change: only the data commit
    assert _log_texts(location) == (6, "Per plate text.", texts[1])
