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


def test_a_log_table_another_writer_creates_meanwhile_gets_the_rows_all_the_same(tmp_path, monkeypatch):
    # Two runs (or a run and a check) ending together on a new lake both create _runs: the second commit failed
    # ("Metadata changed since last commit") and its rows were lost, one time in three with four writers.
    import deltalake
    import pyarrow as pa
    from deltalake.exceptions import CommitFailedError

    from visionlake.lake import delta
    from visionlake.lake.runlog import append_described

    location, real, calls = str(tmp_path / "_runs"), deltalake.write_deltalake, []

    def racing(uri, data, **kwargs):
        calls.append(kwargs.get("description"))
        if len(calls) == 1:  # the other writer's first commit lands between this one's look and its commit
            real(uri, pa.table({"x": [1]}), mode="append")
            raise CommitFailedError("Failed to commit transaction: Metadata changed since last commit.")
        return real(uri, data, **kwargs)

    monkeypatch.setattr(deltalake, "write_deltalake", racing)
    append_described(location, pa.table({"x": [2]}), "_runs", StorageSettings())
    assert sorted(delta.read_columns(location, ["x"], StorageSettings()).column("x").to_pylist()) == [1, 2]
    assert calls[0] is not None and calls[1] is None  # created with its texts; then appended to the table there


def test_an_interrupted_run_keeps_a_plausible_start_and_a_damaged_one_is_stamped_now(tmp_path):
    from visionlake.lake.runlog import record_interrupted

    lake = str(tmp_path)
    before = datetime.now(UTC)
    record_interrupted(lake, "run-a", "alpr", "2026-11-30T22:15:00-02:00", "run-z", STORAGE)
    record_interrupted(lake, "run-b", "alpr", "2026-11-30T10:00:00", "run-z", STORAGE)  # no offset: UTC
    for run_id, since in [
        ("run-c", "9999-12-31T23:59:59-23:59"),  # past year 9999 in UTC: _runs could no longer be read
        ("run-d", "0001-01-01T00:00:00+14:00"),
        ("run-e", "2999-01-01T00:00:00+00:00"),
        ("run-f", "yesterday"),
    ]:
        record_interrupted(lake, run_id, "alpr", since, "run-z", STORAGE)
    started = {r["run_id"]: r["started_at"] for r in read(f"{lake}/_runs").to_pylist()}
    assert started["run-a"] == datetime(2026, 12, 1, 0, 15, tzinfo=UTC)
    assert started["run-b"] == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    for run_id in ("run-c", "run-d", "run-e", "run-f"):
        assert before <= started[run_id] <= datetime.now(UTC), run_id
