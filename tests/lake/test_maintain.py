"""Maintenance (compaction, checkpoints, vacuum) between incremental runs changes no row; a maintain killed
midway neither; vacuum refuses short retentions and removes files that killed runs left behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable
from tests.conftest import VENV_BIN, lake_contents, run_command, write_files

from visionlake.config import StorageSettings
from visionlake.errors import LakeError
from visionlake.lake.lease import Lease
from visionlake.lake.maintain import check_retention, maintain_table, tables_of
from visionlake.sources.alpr import pipeline as alpr

_LOCAL = StorageSettings()


def _batch(root: Path, number: int) -> None:
    files = {}
    for k in range(4):
        day = 1 + k % 2  # the capture time is in the SDK's file name
        files[f"cam-{k % 2}/2022-05-0{day}/{k}_05.0{day}.2022.07.15.{number:02d}.000000.json"] = (
            f'{{"duration": {10 * number + k}, "frame_id": {k}, "plates": [{{"text": "P{number}{k}", '
            f'"confidences": [90.0, 99.0], "car": {{"confidence": 88.0, "color": [{{"confidence": 70.0, '
            f'"klass": 1, "name": "red"}}]}}}}]}}'
        )
    files[f"cam-0/2022-05-01/9_05.01.2022.07.15.{number:02d}.000000.json"] = "[1]"
    write_files(root, files)


def _maintain(lake: str, retain_hours: float = 0) -> list:
    return [
        maintain_table(n, loc, _LOCAL, 128, retain_hours) for n, loc in sorted(tables_of(lake, _LOCAL, None).items())
    ]


def test_maintain_between_incremental_runs_changes_no_row(spark, cfg, tmp_path):
    maintained, plain = str(tmp_path / "maintained"), str(tmp_path / "plain")
    for number in range(3):
        _batch(tmp_path / "in", number)
        alpr.run(spark, cfg, str(tmp_path / "in"), maintained)
        alpr.run(spark, cfg, str(tmp_path / "in"), plain)
        done = _maintain(maintained)
    assert lake_contents(maintained) == lake_contents(plain)
    by_name = {m.table: m for m in done}
    # three runs left three small files per table and partition; one is left after compaction and vacuum
    assert (by_name["bronze_alpr_results"].files_before, by_name["bronze_alpr_results"].files_after) == (2, 1)
    frames = Path(maintained, "silver", "alpr", "frames")
    assert sorted(p.parent.name for p in frames.glob("event_date=*/*.parquet")) == [
        "event_date=2022-05-01",
        "event_date=2022-05-02",
    ]
    assert list((frames / "_delta_log").glob("*.checkpoint.parquet"))
    # compaction added nothing new for the consumers: a fourth run ingests only its own batch
    _batch(tmp_path / "in", 3)
    summary = alpr.run(spark, cfg, str(tmp_path / "in"), maintained)
    alpr.run(spark, cfg, str(tmp_path / "in"), plain)
    assert (summary.files_new, summary.rows_out["silver/frames"]) == (5, 4)
    assert lake_contents(maintained) == lake_contents(plain)


def test_vacuum_refuses_a_retention_below_the_configured_minimum():
    check_retention(168, 168)
    with pytest.raises(Exception, match=r"refusing to vacuum with a retention of 1 hours: below lake.min_retain_hours"):
        check_retention(1, 168)


@pytest.mark.parametrize("hours", [float("nan"), float("inf"), 1e17, 878_401])
def test_vacuum_refuses_a_retention_that_is_no_number_of_hours_before_touching_a_table(hours):
    # 1e17 hours made delta-rs's vacuum panic (a traceback) after the first table was compacted; nan passed the check
    check_retention(878_400, 168)
    with pytest.raises(LakeError, match=r"give a number of hours from lake.min_retain_hours \(168\) to 878,400"):
        check_retention(hours, 168)


def test_vacuum_removes_files_no_version_references_once_older_than_the_retention(spark, cfg, tmp_path):
    lake = str(tmp_path / "lake")
    _batch(tmp_path / "in", 0)
    alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    table = Path(lake, "silver", "alpr", "frames", "event_date=2022-05-01")
    old, young = table / "part-left-by-a-killed-run.snappy.parquet", table / "part-being-written.snappy.parquet"
    for orphan in (old, young):
        orphan.write_bytes(b"PAR1 never committed")
    ten_days_ago = time.time() - 10 * 24 * 3600
    os.utime(old, (ten_days_ago, ten_days_ago))
    before = lake_contents(lake)
    maintain_table("silver_alpr_frames", str(Path(lake, "silver", "alpr", "frames")), _LOCAL, 128, 168)
    assert (old.exists(), young.exists()) == (False, True)
    assert lake_contents(lake) == before


def test_maintain_from_the_command_line_and_killed_midway(spark, cfg, tmp_path):
    lake, plain = str(tmp_path / "lake"), str(tmp_path / "plain")
    for number in range(2):
        _batch(tmp_path / "in", number)
        alpr.run(spark, cfg, str(tmp_path / "in"), lake)
        alpr.run(spark, cfg, str(tmp_path / "in"), plain)
    env = {"VISIONLAKE__LAKE__MIN_RETAIN_HOURS": "0"}
    refused = run_command([str(VENV_BIN / "visionlake"), "maintain", "--lake", lake, "--retain-hours", "1"])
    assert (refused.returncode, refused.stderr.strip()) == (
        1,
        "visionlake: error: refusing to vacuum with a retention of 1 hours: below lake.min_retain_hours (168); "
        "older versions and readers still scanning them need those files",
    )
    command = [str(VENV_BIN / "visionlake"), "maintain", "--lake", lake, "--source", "alpr", "--retain-hours", "0"]
    killed = run_command(command, env={**env, "VISIONLAKE_KILL_AT": "maintain:silver_alpr_frames:vacuum"})
    assert killed.returncode == -9
    assert lake_contents(lake) == lake_contents(plain)
    done = run_command(command, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"maintained 13 tables of {lake} (retention 0 h):"
    assert "silver_alpr_frames" in done.stdout and "checkpoint at v" in done.stdout
    assert lake_contents(lake) == lake_contents(plain)
    _batch(tmp_path / "in", 2)
    alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    alpr.run(spark, cfg, str(tmp_path / "in"), plain)
    assert lake_contents(lake) == lake_contents(plain)
    assert DeltaTable(str(Path(lake, "bronze", "alpr", "results"))).history(1)[0]["operation"] == "WRITE"
    # the tables of no source (_runs) are maintained under a lease of their own: until Dec 7 two maintains at once
    # could each compact the same files of _runs, and every row of it was then there twice
    other = Lease(lake, "shared-tables", "maintain-other", StorageSettings(), wait_seconds=0)
    other.acquire()
    try:
        waited = run_command(
            [str(VENV_BIN / "visionlake"), "maintain", "--lake", lake],
            env={"VISIONLAKE__LAKE__LEASE_WAIT_SECONDS": "1"},
        )
    finally:
        other.release()
    assert waited.returncode == 1
    assert f"visionlake: error: another run holds the lease on shared-tables in {lake}" in waited.stderr


def test_a_table_with_an_emptied_commit_is_not_checkpointed_over_its_missing_rows(tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    location = str(tmp_path / "t")
    write_deltalake(location, pa.table({"n": [1, 2]}))
    write_deltalake(location, pa.table({"n": [3]}), mode="append")
    (tmp_path / "t" / "_delta_log" / f"{1:020d}.json").write_bytes(b"")  # delta-rs would now read 2 rows
    with pytest.raises(LakeError, match=r"/t: commit 1 of its Delta log holds no action .* rows would be missing"):
        maintain_table("t", location, _LOCAL, 128, 168)
    assert sorted(p.name for p in (tmp_path / "t" / "_delta_log").iterdir()) == [f"{0:020d}.json", f"{1:020d}.json"]
