"""The quality gate in a run: checks from conf/quality decide whether gold is published; their results go to
_quality/results; fields the declared schema does not know go to _quality/schema_drift."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.conftest import REPO, write_files

from visionlake.config import CONF_DIR_ENV
from visionlake.errors import QualityError
from visionlake.lake import read
from visionlake.lake.reader import snapshot
from visionlake.sources.alpr import pipeline as alpr

DAY = "cam-q/2022-05-02"
FILES = {
    f"{DAY}/0_05.02.2022.07.00.00.000000.json": '{"duration": 40, "frame_id": 0}',
    f"{DAY}/1_05.02.2022.07.00.01.000000.json": '{"duration": 900, "frame_id": 1}',
    f"{DAY}/2_05.02.2022.07.00.02.000000.json": '{"duration": -5, "frame_id": 2}',  # implausible: warn
}


def _conf_with(tmp_path: Path, extra_check: str) -> Path:
    """A copy of conf/ whose alpr checks have one more."""
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf", conf)
    with open(conf / "quality" / "alpr.yaml", "a") as handle:
        handle.write(f"  - {extra_check}\n")
    return conf


def test_a_failed_error_check_keeps_gold_unpublished_until_the_rows_are_fixed(spark, cfg, tmp_path, monkeypatch):
    write_files(tmp_path / "in", FILES)
    lake = str(tmp_path / "lake")
    strict = "{table: silver.frames, range: duration_ms, max: 500, level: error}"
    monkeypatch.setenv(CONF_DIR_ENV, str(_conf_with(tmp_path / "strict", strict)))
    with pytest.raises(
        QualityError, match=r"quality check silver.frames range\(duration_ms, \.\.500\) failed on 1 rows"
    ):
        alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    # silver holds the rows; gold was never published
    assert read(f"{lake}/silver/alpr/frames").num_rows == 3
    assert snapshot(f"{lake}/gold/alpr/vehicles") is None
    results = {r["check"]: r for r in read(f"{lake}/_quality/results").to_pylist()}
    failed = results["range(duration_ms, ..500)"]
    assert (failed["passed"], failed["level"], failed["failing_rows"], failed["checked_rows"]) == (False, "error", 1, 3)
    assert failed["sample"] == [f"frame_key={_frame_key(lake, 1)}"]
    assert results["range(duration_ms, 0..)"]["passed"] is False  # the warn check reports -5 too
    runs = read(f"{lake}/_runs").to_pylist()
    assert [(r["stage"], r["status"]) for r in sorted(runs, key=lambda r: r["started_at"])] == [
        ("bronze", "ok"),
        ("silver", "ok"),
        ("check", "failed"),
    ]
    # a rerun finds the same rows unconsumed by gold: still blocked
    with pytest.raises(QualityError):
        alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    # the check lowered to warn: gold is published, the failure is reported
    warn = "{table: silver.frames, range: duration_ms, max: 500, level: warn}"
    monkeypatch.setenv(CONF_DIR_ENV, str(_conf_with(tmp_path / "lenient", warn)))
    summary = alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    assert read(f"{lake}/gold/alpr/daily_processing").column("frames").to_pylist() == [3]
    assert sorted(r.check.name for r in summary.checks if not r.passed) == [
        "range(duration_ms, ..500)",
        "range(duration_ms, 0..)",
    ]
    # the next run has nothing gold has not consumed: the row checks look at no row
    again = alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    assert [r.check.name for r in again.checks if not r.passed] == []


def _frame_key(lake: str, frame_id: int) -> str:
    return next(r["frame_key"] for r in read(f"{lake}/silver/alpr/frames").to_pylist() if r["frame_id"] == frame_id)


def test_a_failed_gold_check_commits_no_gold_table(spark, cfg, tmp_path, monkeypatch):
    write_files(tmp_path / "in", FILES)
    lake = str(tmp_path / "lake")
    impossible = "{table: gold.daily_processing, range: frames, max: 2, level: error}"
    monkeypatch.setenv(CONF_DIR_ENV, str(_conf_with(tmp_path / "conf", impossible)))
    with pytest.raises(QualityError, match=r"gold.daily_processing range\(frames, \.\.2\) failed on 1 rows"):
        alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    for table in ("vehicles", "daily_camera_stats", "daily_processing", "plate_sightings"):
        assert snapshot(f"{lake}/gold/alpr/{table}") is None, table
    # and its staged files were removed
    assert not list(Path(lake, "gold").rglob("*.parquet"))


def test_new_fields_are_recorded_as_schema_drift_and_named_in_the_summary(spark, cfg, tmp_path):
    first = f"{DAY}/5_05.02.2022.08.00.00.000000.json"
    second = f"{DAY}/6_05.02.2022.08.00.01.000000.json"
    write_files(
        tmp_path / "in",
        {
            first: '{"frame_id": 5, "vin": "WVW123", "plates": [{"text": "A1", "speed_kmh": 42}]}',
            second: '{"frame_id": 6, "vin": "WVW456"}',
        },
    )
    lake = str(tmp_path / "lake")
    summary = alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    assert [(d.field_path, d.json_type, d.records, d.new) for d in summary.drift] == [
        ("plates[].speed_kmh", "number", 1, True),
        ("vin", "string", 2, True),
    ]
    drift = sorted(read(f"{lake}/_quality/schema_drift").to_pylist(), key=lambda r: r["field_path"])
    base = str(tmp_path / "in")
    assert [(r["source"], r["field_path"], r["json_type"], r["records"], r["first_file"]) for r in drift] == [
        ("alpr", "plates[].speed_kmh", "number", 1, f"{base}/{first}"),
        ("alpr", "vin", "string", 2, f"{base}/{first}"),
    ]
    assert {r["first_run_id"] for r in drift} == {summary.run_id}
    # the frames are accepted: new fields are not errors
    assert read(f"{lake}/silver/alpr/frames").num_rows == 2
    bronze = next(s for s in summary.stages if s.stage == "bronze")
    assert bronze.message.endswith("; new fields: plates[].speed_kmh, vin")
    write_files(tmp_path / "in", {f"{DAY}/7_05.02.2022.08.00.02.000000.json": '{"frame_id": 7, "vin": "X"}'})
    later = alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    assert [(d.field_path, d.records, d.new) for d in later.drift] == [("vin", 1, False)]
    rows = read(f"{lake}/_quality/schema_drift").to_pylist()
    assert {r["first_run_id"] for r in rows if r["field_path"] == "vin"} == {summary.run_id}
