"""The command line as users and external checks call it: exit status, one-line errors, S3 through AWS variables."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import boto3
import pytest
from deltalake import DeltaTable
from tests.conftest import REPO, VENV_BIN, run_command, write_files
from tests.sources.alpr.test_pipeline import BAD, F1, GOOD

from visionlake import cli
from visionlake.config import StorageSettings
from visionlake.lake import read
from visionlake.lake.lease import Lease
from visionlake.lake.reader import snapshot
from visionlake.sources.alpr.pipeline import run

pytestmark = pytest.mark.slow


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_command([str(VENV_BIN / "visionlake"), *args], env=env)


def test_run_missing_input_exits_1_with_one_line_error(tmp_path):
    result = _cli("run", "alpr", "--input", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake"))
    assert result.returncode == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("visionlake:")]
    assert errors == [f"visionlake: error: input folder {tmp_path / 'nope'} does not exist"]
    assert "Traceback" not in result.stderr


def test_a_run_that_fails_before_its_stages_is_recorded_with_its_message(tmp_path, monkeypatch, capsys):
    """Four ways: another run holds the lease; no input folder (the listing fails before it knows a file); the listing
    fails after it told the new files, while the JVM starts (its session is stopped); the JVM does not start (until
    Dec 7: no record)."""
    from visionlake import spark as vspark
    from visionlake.sources.alpr import pipeline

    lake = tmp_path / "lake"
    argv = ["run", "alpr", "--lake", str(lake), "--input"]
    monkeypatch.setenv("VISIONLAKE__LAKE__LEASE_WAIT_SECONDS", "0.5")
    held = Lease(str(lake), "alpr", "run-held", StorageSettings(), wait_seconds=0)
    held.acquire()
    try:
        assert cli.main([*argv, str(tmp_path)]) == 1
    finally:
        held.release()
    assert cli.main([*argv, str(tmp_path / "none")]) == 1

    class Session:
        stopped = 0

        def stop(self) -> None:
            Session.stopped += 1

    def told_then_failed(cfg, input, lake, full_refresh, on_new=None):
        on_new([])
        raise OSError("the share went away while the ingested files were checked")

    monkeypatch.setattr(pipeline.RUN, "pending_input", told_then_failed)
    monkeypatch.setattr(vspark, "build_session", lambda *args, **kwargs: Session())
    assert cli.main([*argv, str(tmp_path)]) == 1
    assert Session.stopped == 1

    def no_java(*args, **kwargs):
        raise RuntimeError("Java gateway process exited before sending its port number")

    monkeypatch.setattr(pipeline.RUN, "pending_input", lambda cfg, input, lake, full_refresh, on_new: on_new([]))
    monkeypatch.setattr(vspark, "build_session", no_java)
    assert cli.main([*argv, str(tmp_path)]) == 1

    runs = sorted(read(str(lake / "_runs")).to_pylist(), key=lambda r: r["started_at"])
    assert runs[0]["message"].startswith(f"another run holds the lease on alpr in {lake}: run run-held (pid ")
    assert [(r["stage"], r["status"], r["message"]) for r in runs[1:]] == [
        ("start", "failed", f"input folder {tmp_path / 'none'} does not exist"),
        ("start", "failed", "the share went away while the ingested files were checked"),
        ("start", "failed", "RuntimeError: Java gateway process exited before sending its port number"),
    ]
    assert capsys.readouterr().err.splitlines()[1:] == [
        f"visionlake: error: input folder {tmp_path / 'none'} does not exist",
        "visionlake: error: the share went away while the ingested files were checked",
        "visionlake: error: RuntimeError: Java gateway process exited before sending its port number (rerun with "
        "--debug for details)",
    ]


def test_a_run_starts_spark_with_the_s3a_jars_only_when_its_input_or_lake_is_on_s3(tmp_path, monkeypatch):
    from visionlake import spark as vspark
    from visionlake.sources.alpr import pipeline

    asked = []

    def build_session(*args, s3: bool = True, **kwargs):
        asked.append(s3)
        raise RuntimeError("enough")

    monkeypatch.setattr(pipeline.RUN, "pending_input", lambda cfg, input, lake, full_refresh, on_new: on_new([]))
    monkeypatch.setattr(vspark, "build_session", build_session)
    for source in (str(tmp_path), "s3a://raw/alpr"):
        assert cli.main(["run", "alpr", "--input", source, "--lake", str(tmp_path / "lake")]) == 1
    assert asked == [False, True]


def test_ctrl_c_while_the_input_is_listed_ends_the_run_at_once_and_frees_its_lease(
    tmp_path, monkeypatch, capsys, ctrl_c
):
    """Until Dec 7 Ctrl-C took effect only once the listing had ended (on S3, up to its 120 s of retries), and a
    second Ctrl-C meanwhile left the lease held."""
    from visionlake.sources.alpr import pipeline

    listed, release, ended = threading.Event(), threading.Event(), threading.Event()

    def slow_listing(cfg, input, lake, full_refresh, on_new):
        listed.set()
        release.wait(20)  # a listing of millions of objects
        ended.set()
        raise OSError("the listing is not wanted any more")

    def press() -> None:
        listed.wait(60)
        time.sleep(0.2)
        ctrl_c()

    monkeypatch.setattr(pipeline.RUN, "pending_input", slow_listing)
    threading.Thread(target=press, daemon=True).start()
    lake = str(tmp_path / "lake")
    try:
        assert cli.main(["run", "alpr", "--input", str(tmp_path), "--lake", lake]) == 130
        assert capsys.readouterr().err == "visionlake: error: interrupted (Ctrl-C)\n"
        assert not ended.is_set()  # the run did not wait for the listing
        free = Lease(lake, "alpr", "next-run", StorageSettings(), wait_seconds=0)
        free.acquire()  # the lease is free at once
        free.release()
    finally:
        release.set()


@pytest.mark.parametrize("name", ["lake%41", "lake[1]"])
def test_a_lake_path_the_delta_library_would_misread_is_refused_in_one_line(tmp_path, name):
    write_files(tmp_path / "in", {"cam/a.json": json.dumps(GOOD)})
    result = _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", str(tmp_path / name))
    assert (result.returncode, result.stderr.count("\n")) == (1, 1), result.stderr
    assert "a lake's path may not hold %, [ or ]" in result.stderr
    assert not (tmp_path / name).exists() and not (tmp_path / "lakeA").exists()


def test_run_unknown_env_exits_1(tmp_path):
    result = _cli("run", "alpr", "--input", str(tmp_path), "--lake", str(tmp_path / "lake"), "--env", "mars")
    assert result.returncode == 1
    assert "visionlake: error: unknown environment 'mars'" in result.stderr


def test_bad_arguments_exit_2():
    result = _cli("run", "nosuchsource", "--input", "x", "--lake", "y")
    assert result.returncode == 2
    assert "invalid choice: 'nosuchsource'" in result.stderr


def test_debug_is_taken_before_or_after_the_command():
    # until Dec 6 `visionlake run ... --debug`, as the README writes it, exited 2 (unrecognized arguments)
    run = ["run", "alpr", "--input", "in", "--lake", "lake"]
    parse = cli._parser().parse_args
    assert [parse(a).debug for a in (run, [*run, "--debug"], ["--debug", *run])] == [False, True, True]
    assert parse(["catalog", "check", "--lake", "lake", "--debug"]).debug is True
    assert parse(["sql", "--lake", "lake", "SELECT 1", "--debug"]).debug is True


def test_generate_then_run_twice_locally_exit_0(tmp_path):
    generated = _cli("generate", "alpr", "--out", str(tmp_path / "in"), "--count", "40", "--seed", "3")
    assert (generated.returncode, generated.stdout.strip()) == (0, f"wrote 40 alpr files under {tmp_path / 'in'}")
    for expected_new in (40, 0):
        result = _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", str(tmp_path / "lake"))
        assert result.returncode == 0, result.stderr
        assert f": {expected_new} new of 40 files listed (0 skipped)" in result.stdout
        assert "check: bronze.results 40 = silver.frames 40 + quarantine 0;" in result.stdout


@pytest.mark.s3
def test_run_against_s3_configured_only_by_standard_aws_variables(aws_env, tmp_path):
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for bucket in ("raw", "lake"):
        s3.create_bucket(Bucket=bucket)
    for relative, content in {**GOOD, **BAD}.items():
        s3.put_object(
            Bucket="raw", Key=f"alpr/{relative}", Body=content.encode() if isinstance(content, str) else content
        )

    first = _cli("run", "alpr", "--input", "s3a://raw/alpr", "--lake", "s3a://lake/", env=aws_env)
    assert first.returncode == 0, first.stderr
    assert ": 13 new of 13 files listed" in first.stdout
    assert "check: bronze.results 13 = silver.frames 6 + quarantine 7;" in first.stdout

    frames = read("s3a://lake/silver/alpr/frames").to_pylist()
    assert sorted((r["frame_id"], r["camera_id"], r["plate_count"], r["car_count"]) for r in frames) == [
        (0, "cam-a", 0, 0),
        (1, "cam-a", 1, 1),
        (3, "cam-b", 1, 0),
        (7, "cam-a", 1, 2),
        (9, "cam-b", 0, 1),
        (12, "unknown", 0, 0),
    ]
    assert all(r["source_path"].startswith("s3a://raw/alpr/") for r in frames)
    quarantine = read("s3a://lake/quarantine/alpr").to_pylist()
    assert sorted(r["reason"] for r in quarantine) == [
        "empty_file",
        "invalid_encoding",
        "invalid_json",
        "missing_field",
        "not_an_object",
        "not_an_object",
        "schema_mismatch",
    ]
    vehicles = read("s3a://lake/gold/alpr/vehicles")
    assert vehicles.num_rows == 5

    again = _cli("run", "alpr", "--input", "s3a://raw/alpr", "--lake", "s3a://lake/", env=aws_env)
    assert again.returncode == 0, again.stderr
    assert ": 0 new of 13 files listed" in again.stdout
    assert read("s3a://lake/silver/alpr/frames").num_rows == 6


@pytest.mark.s3
def test_generate_to_s3(aws_env):
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    s3.create_bucket(Bucket="gen")
    result = _cli("generate", "alpr", "--out", "s3a://gen/alpr", "--count", "25", env=aws_env)
    assert result.returncode == 0, result.stderr
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="gen")["Contents"]]
    assert len(keys) == 25
    assert all(k.startswith("alpr/cam-") and k.endswith(".json") for k in keys)


def test_spark_submit_job_takes_the_same_arguments(tmp_path):
    write_files(tmp_path / "in", {k: v for k, v in GOOD.items()})
    env = {"PYSPARK_PYTHON": str(VENV_BIN / "python"), "PYSPARK_DRIVER_PYTHON": str(VENV_BIN / "python")}
    result = run_command(
        [
            str(VENV_BIN / "spark-submit"),
            "--master",
            "local[2]",
            str(REPO / "jobs" / "run.py"),
            "alpr",
            "--input",
            str(tmp_path / "in"),
            "--lake",
            str(tmp_path / "lake"),
        ],
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "check: bronze.results 6 = silver.frames 6 + quarantine 0;" in result.stdout


def test_face_validation_generate_then_run_twice_locally(tmp_path):
    generated = _cli("generate", "face_validation", "--out", str(tmp_path / "in"), "--count", "30", "--seed", "5")
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.startswith(f"wrote 30 face_validation documents in 1 export files under {tmp_path / 'in'}")
    for expected_new in (1, 0):
        result = _cli("run", "face_validation", "--input", str(tmp_path / "in"), "--lake", str(tmp_path / "lake"))
        assert result.returncode == 0, result.stderr
        assert f": {expected_new} new of 1 files listed (0 skipped)" in result.stdout
        assert "check: bronze.documents 30 = silver.api_calls 30 + quarantine 0" in result.stdout
    assert "VISIONLAKE_PII_KEY is not set: using the public development key" in result.stderr


def test_face_validation_refuses_to_run_outside_local_without_a_key(tmp_path):
    env = {"VISIONLAKE_PII_KEY": ""}
    result = _cli(
        "run", "face_validation", "--input", str(tmp_path), "--lake", str(tmp_path / "l"), "--env", "minio", env=env
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "visionlake: error: VISIONLAKE_PII_KEY is not set; environment 'minio' refuses to pseudonymise without a key"
    )
    assert not (tmp_path / "l").exists()


def test_face_validation_against_s3(aws_env, tmp_path):
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for bucket in ("fv-raw", "fv-lake"):
        s3.create_bucket(Bucket=bucket)
    env = {**aws_env, "VISIONLAKE_PII_KEY": "c1" * 32}
    generated = _cli("generate", "face_validation", "--out", "s3a://fv-raw/exports", "--count", "25", env=env)
    assert generated.returncode == 0, generated.stderr
    result = _cli("run", "face_validation", "--input", "s3a://fv-raw/exports", "--lake", "s3a://fv-lake/", env=env)
    assert result.returncode == 0, result.stderr
    assert "check: bronze.documents 25 = silver.api_calls 25 + quarantine 0" in result.stdout
    final = read("s3a://fv-lake/gold/face_validation/transactions_final")
    assert 0 < final.num_rows <= 25


def test_check_on_demand_and_a_delete_behind_the_pipeline_s_back(spark, cfg, tmp_path):
    write_files(tmp_path / "in", {**GOOD, **BAD})
    lake = str(tmp_path / "lake")
    run(spark, cfg, str(tmp_path / "in"), lake)  # in-process: the lake is what is checked (command-line runs: above)
    checked = _cli("check", "--lake", lake)
    assert checked.returncode == 0, checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[0].startswith(f"checks of {lake} (check-") and lines[1] == "  alpr: 50 of 50 checks passed"
    other = _cli("check", "--lake", lake, "--source", "face_recognition")  # a source with no table: as maintain
    assert (other.returncode, other.stderr) == (
        1,
        f"visionlake: error: no tables of face_recognition in {lake}: nothing to check\n",
    )

    # someone deletes plates and a bronze row with another Delta writer
    DeltaTable(f"{lake}/silver/alpr/plates").delete("plate_text = 'GK4'")
    checked = _cli("check", "--lake", lake, "--source", "alpr")
    assert checked.returncode == 1
    assert "FAILED (1 rows)" in checked.stdout
    assert "reconcile(silver.frames.sum(plate_count) = silver.plates)" in checked.stdout
    assert checked.stderr.strip() == (
        "visionlake: error: 1 error checks failed, e.g. silver.frames "
        "reconcile(silver.frames.sum(plate_count) = silver.plates) on 1 rows"
    )
    DeltaTable(f"{lake}/bronze/alpr/results").delete(f"source_path = '{tmp_path / 'in' / F1}'")
    version = DeltaTable(f"{lake}/bronze/alpr/results").version()
    refused = _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", lake)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"visionlake: error: {lake}/bronze/alpr/results: version {version} removed data (DELETE) after version 0, "
        "which this run's consumers have read; run with --full-refresh"
    )
    rebuilt = _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", lake, "--full-refresh")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "check: bronze.results 13 = silver.frames 6 + quarantine 7;" in rebuilt.stdout
    assert _cli("check", "--lake", lake).returncode == 0
    # a full refresh from an input that holds no file of the source (a mistyped S3 prefix lists nothing, as this
    # folder of one .txt file does) would empty every table: until Dec 7 it did, and exited 0
    write_files(tmp_path / "typo", {"notes.txt": "not a frame"})
    versions = {t: DeltaTable(f"{lake}/{t}").version() for t in ("bronze/alpr/results", "silver/alpr/frames")}
    emptied = _cli("run", "alpr", "--input", str(tmp_path / "typo"), "--lake", lake, "--full-refresh")
    assert emptied.returncode == 1
    assert emptied.stderr.strip() == (
        f"visionlake: error: --full-refresh found no alpr input file under {tmp_path / 'typo'} (1 other files "
        "skipped): it would empty every alpr table; nothing was written"
    )
    assert {t: DeltaTable(f"{lake}/{t}").version() for t in versions} == versions
    assert not Path(lake, "_locks", "alpr.refresh.json").exists()  # so the next run is no full refresh
    assert read(f"{lake}/silver/alpr/frames").num_rows == 6
    # a check reads a source under its lease: during a run of it (bronze committed, silver not yet), it once failed
    # reconciliations that hold, and recorded those failures
    running = Lease(lake, "alpr", "run-in-progress", StorageSettings(), wait_seconds=0)
    running.acquire()
    try:
        waited = _cli("check", "--lake", lake, env={"VISIONLAKE__LAKE__LEASE_WAIT_SECONDS": "1"})
    finally:
        running.release()
    assert waited.returncode == 1
    assert "visionlake: error: another run holds the lease on alpr in" in waited.stderr
    assert "waited 1 s (lake.lease_wait_seconds)" in waited.stderr


def test_check_and_maintain_go_on_past_a_table_whose_log_cannot_be_read(spark, cfg, tmp_path):
    write_files(tmp_path / "in", {**GOOD, **BAD})
    lake = str(tmp_path / "lake")
    run(spark, cfg, str(tmp_path / "in"), lake)
    Path(lake, "gold", "alpr", "vehicles", "_delta_log", f"{0:020d}.json").write_bytes(b"")  # an emptied commit
    checked = _cli("check", "--lake", lake)
    assert checked.returncode == 1
    # the six checks of gold.vehicles are not run (conf/quality/alpr.yaml: not_null of four columns, unique,
    # references); the other 44 of the 50 are
    assert checked.stdout.splitlines()[1:3] == [
        "  alpr: 44 of 44 checks passed",
        "    cannot read alpr gold.vehicles: cannot open its latest version: Kernel error: No table metadata or "
        "protocol found in delta log.",
    ]
    assert checked.stderr.startswith(
        "visionlake: error: 1 of the checked tables or checks cannot be read, e.g. alpr gold.v"
    )
    maintained = _cli("maintain", "--lake", lake, "--retain-hours", "168")
    assert maintained.returncode == 1
    lines = maintained.stdout.splitlines()
    # 15 tables: alpr's 13 (bronze 1, silver 7, gold 4, quarantine 1), _runs and _quality_results
    assert len(lines) == 16 and sum("checkpoint at v" in line for line in lines) == 14
    broken = "  gold_alpr_vehicles                       not maintained: cannot open its latest version: Kernel error"
    assert sum(line.startswith(broken) for line in lines) == 1
    assert maintained.stderr.startswith("visionlake: error: 1 of 15 tables could not be maintained, e.g. gold_alpr_v")
    for entry in Path(lake, "silver", "alpr", "frames", "_delta_log").iterdir():
        entry.unlink()  # a log emptied: the table is named, and no reconciliation with it fails for want of rows
    checked = _cli("check", "--lake", lake, "--source", "alpr")
    assert "    cannot read alpr silver.frames: its _delta_log holds no commit that can be read" in checked.stdout
    assert "FAILED" not in checked.stdout and checked.returncode == 1
    (tmp_path / "empty").mkdir()
    nothing = _cli("check", "--lake", str(tmp_path / "empty"))
    assert (nothing.returncode, nothing.stdout) == (1, "")
    assert nothing.stderr.startswith(f"visionlake: error: no tables in {tmp_path / 'empty'}: nothing to check")
    nothing = _cli("maintain", "--lake", str(tmp_path / "empty"))  # a mistyped --lake of a scheduled job
    assert (nothing.returncode, nothing.stdout) == (1, "")
    assert nothing.stderr.startswith(f"visionlake: error: no tables in {tmp_path / 'empty'}: nothing to maintain")


def test_check_goes_on_past_a_lost_data_file_and_past_its_own_results_table(spark, cfg, tmp_path):
    write_files(tmp_path / "in", {**GOOD, **BAD})
    lake = str(tmp_path / "lake")
    run(spark, cfg, str(tmp_path / "in"), lake)
    plates = snapshot(f"{lake}/silver/alpr/plates")
    kept = Path(plates.files[0]).read_bytes()
    Path(plates.files[0]).unlink()  # deleted outside Delta
    checked = _cli("check", "--lake", lake)
    assert checked.returncode == 1
    lines = checked.stdout.splitlines()
    # the five checks that scan silver.plates cannot run (unique, references, three ranges); the other 45 run.
    # (the reconciliations with silver.plates count its rows from the Delta log and still hold)
    assert lines[1] == "  alpr: 45 of 45 checks passed"
    assert [line.split(":")[0] for line in lines[2:]] == [
        "    cannot run alpr silver.plates unique(frame_key, plate_idx)",
        "    cannot run alpr silver.plates references(silver.frames on frame_key)",
        "    cannot run alpr silver.plates range(ocr_confidence, 0..100)",
        "    cannot run alpr silver.plates range(detection_confidence, 0..100)",
        "    cannot run alpr silver.plates range(char_confidences, 0..100)",
    ]
    assert all("No such file or directory" in line for line in lines[2:])
    assert checked.stderr.startswith("visionlake: error: 5 of the checked tables or checks cannot be read, e.g. alpr")
    # the table check records its results in is damaged: the checks still run and are reported
    results_log = Path(lake, "_quality", "results", "_delta_log")
    last = max(results_log.glob("*.json"))
    last.write_text("garbage")
    checked = _cli("check", "--lake", lake, "--source", "alpr")
    assert checked.returncode == 1
    assert checked.stdout.splitlines()[1] == "  alpr: 45 of 45 checks passed"
    assert checked.stdout.splitlines()[-1].startswith("  results not recorded in _quality/results: alpr: ")
    assert "the results could not be recorded in _quality/results (alpr: " in checked.stderr
    # a run does its work all the same, then says its record is what could not be written
    Path(plates.files[0]).write_bytes(kept)
    write_files(tmp_path / "in", {"cam-z/2022-05-02/5_05.02.2022.07.00.00.000000.json": '{"frame_id": 5}'})
    versions = DeltaTable(f"{lake}/bronze/alpr/results").version()
    ran = _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", lake)
    assert ran.returncode == 1
    assert ran.stderr.startswith(
        "visionlake: error: the run committed its tables, but its record could not be written to _runs and "
        "_quality/results: "
    )
    assert DeltaTable(f"{lake}/bronze/alpr/results").version() == versions + 1


def test_a_broken_table_fails_in_one_line_without_a_java_stack(spark, cfg, tmp_path):
    write_files(tmp_path / "in", GOOD)
    lake = tmp_path / "lake"
    run(spark, cfg, str(tmp_path / "in"), str(lake))
    write_files(tmp_path / "in", {"cam-z/2022-05-02/5_05.02.2022.07.00.00.000000.json": '{"frame_id": 5}'})
    for data in (lake / "bronze" / "alpr" / "results").rglob("*.parquet"):
        data.write_bytes(b"not parquet at all")  # the data behind the log is damaged
    broken = _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", str(lake))
    assert broken.returncode == 1
    assert len(broken.stderr.strip().splitlines()) == 1, broken.stderr
    assert broken.stderr.startswith("visionlake: error: ")
    assert "\tat " not in broken.stderr and "\x1b[" not in broken.stderr and "Traceback" not in broken.stderr
    runs = read(str(lake / "_runs")).to_pylist()
    assert any(r["status"] == "failed" for r in runs)  # the failed run recorded itself


def test_detections_generate_run_notify_and_a_bad_rules_file(tmp_path):
    from visionlake.devtools import webhook_server

    generated = _cli("generate", "detections", "--out", str(tmp_path / "in"), "--count", "600", "--seed", "5")
    assert (generated.returncode, generated.stdout.strip()) == (
        0,
        f"wrote 600 detections files under {tmp_path / 'in'}",
    )
    lake = str(tmp_path / "lake")
    result = _cli("run", "detections", "--input", str(tmp_path / "in"), "--lake", lake)
    assert result.returncode == 0, result.stderr
    assert ": 600 new of 600 files listed (0 skipped)" in result.stdout
    alerts = read("gold_detections_alerts", lake=lake).num_rows
    assert alerts > 0
    with webhook_server() as server:
        first = _cli("notify", "detections", "--lake", lake, "--webhook", server.url, "--format", "json")
        second = _cli("notify", "detections", "--lake", lake, "--webhook", server.url, "--format", "json")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    # every alert once, by its dedup key; the second call finds nothing to send
    assert sorted(r["body"]["dedup_key"] for r in server.received) == sorted(
        read("gold_detections_alerts", lake=lake).column("dedup_key").to_pylist()
    )
    assert len(server.received) == alerts
    assert ": 0 delivered, 0 rejected, 0 failed, 0 not tried; 0 POSTs" in second.stdout
    # a bad rules file is refused before Spark starts, naming the file, the rule and the key
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {rule_id: 7, name: x, labels: [dog], quantifier: ALL, min_score: 80, severity: info}\n")
    refused = _cli(
        "run", "detections", "--input", str(tmp_path / "in"), "--lake", lake,
        env={"VISIONLAKE__DETECTIONS__RULES_FILE": str(bad)},
    )  # fmt: skip
    assert refused.returncode == 1
    assert f"visionlake: error: {bad}: rule 7: key 'min_score'" in refused.stderr
    assert "Traceback" not in refused.stderr and "WARN" not in refused.stderr


def test_face_recognition_generate_and_bad_settings_refused_before_spark(tmp_path):
    generated = _cli("generate", "face_recognition", "--out", str(tmp_path / "in"), "--count", "3000", "--seed", "5")
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.startswith(f"wrote face_recognition input under {tmp_path / 'in'}: 3000 request lines, ")
    assert sorted(p.parent.name for p in (tmp_path / "in").glob("*/*.json*")) == ["evaluations"] * 3 + ["loadtests"]
    # settings gold cannot use are refused before Spark starts (the run of this input: tests/test_faults.py), in
    # one line, and the lake is not touched
    lake = tmp_path / "lake"
    refused = _cli(
        "run", "face_recognition", "--input", str(tmp_path / "in"), "--lake", str(lake),
        env={"VISIONLAKE__FACE_RECOGNITION__K6_THRESHOLDS": '{"http_req_duration": ["p(95)<<3000"]}'},
    )  # fmt: skip
    assert refused.returncode == 1
    (error,) = [line for line in refused.stderr.splitlines() if line.startswith("visionlake: error: ")]
    assert error.startswith(
        "visionlake: error: face_recognition.k6_thresholds: threshold 'p(95)<<3000' on metric 'http_req_duration'"
    )
    assert "Traceback" not in refused.stderr and "Exception" not in refused.stderr
    assert not lake.exists()


def test_ctrl_c_stops_a_run_with_one_line_and_the_next_run_completes_it(tmp_path):
    """Until Dec 7 Ctrl-C during a Spark call printed four py4j tracebacks (PySpark's handler called into the JVM
    from within a call) and recorded the run as failed with a Py4JError."""
    write_files(tmp_path / "in", {**GOOD, **BAD})
    lake, points = tmp_path / "lake", tmp_path / "points.log"
    command = [str(VENV_BIN / "visionlake"), "run", "alpr", "--input", str(tmp_path / "in"), "--lake", str(lake)]
    env = {**os.environ, "VISIONLAKE_POINTS_LOG": str(points)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    deadline = time.monotonic() + 300
    while not (points.exists() and "bronze:listed" in points.read_text()):  # then bronze reads and writes
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert (process.returncode, out, err) == (130, "", "visionlake: error: interrupted (Ctrl-C)\n")
    runs = read(str(lake / "_runs")).to_pylist()
    assert [(r["stage"], r["status"], r["message"]) for r in runs if r["status"] != "ok"] == [
        ("bronze", "interrupted", "stopped by Ctrl-C (SIGINT)")
    ]
    done = _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    assert "check: bronze.results 13 = silver.frames 6 + quarantine 7" in done.stdout


def test_a_full_refresh_killed_midway_is_completed_by_the_next_run_from_its_input(tmp_path):
    """Until Dec 7 every later run failed ("version 2 removed data (WRITE)") until someone ran --full-refresh."""
    write_files(tmp_path / "in", {**GOOD, **BAD})
    write_files(tmp_path / "other", {"cam-9/x.json": "{}"})
    lake = str(tmp_path / "lake")
    assert _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", lake).returncode == 0
    refresh = [str(VENV_BIN / "visionlake"), "run", "alpr", "--input", str(tmp_path / "in"), "--lake", lake]
    killed = run_command([*refresh, "--full-refresh"], env={"VISIONLAKE_KILL_AT": "alpr/results:committed"})
    assert killed.returncode == -9  # bronze was overwritten, silver and gold were not
    # another input root would rebuild the lake from that folder alone: refused, nothing written
    other = _cli("run", "alpr", "--input", str(tmp_path / "other"), "--lake", lake)
    assert other.returncode == 1
    assert other.stderr.startswith(f"visionlake: error: a --full-refresh of alpr from {tmp_path / 'in'} (run ")
    assert other.stderr.strip().endswith(
        f"did not end, and this run reads {tmp_path / 'other'}: finish it with --input {tmp_path / 'in'} --full-refresh"
    )
    done = _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", lake)
    assert done.returncode == 0, done.stderr
    assert "13 new of 13 files listed" in done.stdout  # a full refresh: every file again
    assert re.search(
        r"\n  a full refresh: it completed that of run [0-9TZ]+-[0-9a-f]+, which did not end\n", done.stdout
    )
    assert "check: bronze.results 13 = silver.frames 6 + quarantine 7;" in done.stdout
    assert not Path(lake, "_locks", "alpr.refresh.json").exists()
    again = _cli("run", "alpr", "--input", str(tmp_path / "in"), "--lake", lake)
    assert again.returncode == 0, again.stderr
    assert "0 new of 13 files listed" in again.stdout
    assert read(f"{lake}/silver/alpr/frames").num_rows == 6
