"""The run log and the other log tables: appends keep working when a later release edits a column's text."""

from __future__ import annotations

from datetime import UTC, datetime

from visionlake.catalog.log import read_state
from visionlake.config import StorageSettings
from visionlake.lake import read
from visionlake.lake.runlog import StageRecord, append_runs, runs_location

STORAGE = StorageSettings()


def test_runs_are_appended_after_a_release_changed_the_texts_of_the_run_log(tmp_path, monkeypatch):
    lake = str(tmp_path)
    first = StageRecord("bronze", datetime(2026, 12, 1, tzinfo=UTC), seconds=1.0)
    append_runs(lake, "run-1", "alpr", [first], STORAGE)
    state = read_state(runs_location(lake), STORAGE)
    created = state.column("source")["metadata"]["comment"]
    assert created.startswith("Source of the run")

    from visionlake import descriptions

    edited = descriptions.table_text("_runs")
    edited.columns["source"] = "An edited text for the source column."
    monkeypatch.setattr(descriptions, "table_text", lambda name: edited if name == "_runs" else None)
    second = StageRecord("silver", datetime(2026, 12, 2, tzinfo=UTC), status="failed", message="boom")
    append_runs(lake, "run-2", "alpr", [second], STORAGE)  # delta-rs refused this with the edited text

    rows = read(runs_location(lake)).to_pylist()
    assert sorted((r["run_id"], r["stage"], r["status"]) for r in rows) == [
        ("run-1", "bronze", "ok"),
        ("run-2", "silver", "failed"),
    ]
    assert read_state(runs_location(lake), STORAGE).column("source")["metadata"]["comment"] == created
