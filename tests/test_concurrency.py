"""Two runs of one source on one lake, started at any offset, end with the tables of one run: the second
waits for the first's lease (or takes over from a killed holder) and then finds nothing new. Never a doubled
row. Each pair runs on its own lake; the pairs run side by side."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from importlib import import_module
from pathlib import Path

import boto3
import pytest
from tests.conftest import VENV_BIN, lake_contents, write_files

from visionlake.config import StorageSettings
from visionlake.lake import read
from visionlake.lake.storage import write_many
from visionlake.sources.alpr.generate import iter_results
from visionlake.sources.face_validation.generate import write_exports

pytestmark = [pytest.mark.slow, pytest.mark.faults]
OFFSETS = (0, 5)  # together, and the second while the first is past its listing
SMALL_DRIVER = {"VISIONLAKE__SPARK__CONF": "{spark.driver.memory: 1g}"}
PII_KEY = "c0" * 32


def _start(source: str, feed: str, lake: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [str(VENV_BIN / "visionlake"), "run", source, "--input", feed, "--lake", lake],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "VISIONLAKE_PII_KEY": PII_KEY, **SMALL_DRIVER, **(env or {})},
    )


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=900)
    return process.returncode, stdout, stderr


def _reference(spark, cfg, source: str, feed: str, lake: str, monkeypatch) -> dict:
    """The tables of an uninterrupted run of ``source`` on its own lake: an in-process run (the runs compared
    with it are the command line's processes), with their pseudonymisation key."""
    monkeypatch.setenv("VISIONLAKE_PII_KEY", PII_KEY)
    import_module(f"visionlake.sources.{source}.pipeline").run(spark, cfg, feed, lake)
    return lake_contents(lake)


def _input(source: str, root: Path) -> str:
    if source == "alpr":
        files = ((f.relative_path, f.body, f.mtime) for f in iter_results(600, seed=7))
        write_many(str(root), files, StorageSettings())
        write_files(root, {"cam-x/bad.json": '{"frame_id": '})
    else:
        write_exports(str(root), 200, seed=7, landmarks=False, docs_per_file=50, array_every=2)
    return str(root)


def _pair(source: str, feed: str, lake: str, offset: float, results: dict) -> None:
    first = _start(source, feed, lake)
    time.sleep(offset)
    second = _start(source, feed, lake)
    results[offset] = (_finish(first), _finish(second))


@pytest.mark.parametrize("source", ["alpr", "face_validation"])
def test_two_runs_at_any_offset_end_with_the_tables_of_one_run(source, spark, cfg, tmp_path, monkeypatch):
    feed = _input(source, tmp_path / "in")
    results: dict[float, tuple] = {}
    lakes = {offset: str(tmp_path / f"lake-{offset}") for offset in OFFSETS}
    pairs = [threading.Thread(target=_pair, args=(source, feed, lakes[o], o, results)) for o in OFFSETS]
    for thread in pairs:
        thread.start()
    # an uninterrupted run, on its own lake, while the pairs run
    expected = _reference(spark, cfg, source, feed, str(tmp_path / "reference"), monkeypatch)
    for thread in pairs:
        thread.join()
    for offset in OFFSETS:
        (first, second) = results[offset]
        assert (first[0], second[0]) == (0, 0), (offset, first[2][-2000:], second[2][-2000:])
        # one of the two ingested everything; the other found nothing new (it waited for the lease)
        news = sorted(int(out.split(": ", 1)[1].split(" new of ")[0]) for _, out, _ in (first, second))
        assert news[0] == 0, (offset, first[1], second[1])
        assert lake_contents(lakes[offset]) == expected, offset


def test_a_killed_holder_is_taken_over_and_recorded_as_interrupted(spark, cfg, tmp_path, monkeypatch):
    feed = _input("alpr", tmp_path / "in")
    lake = str(tmp_path / "lake")
    first = _start("alpr", feed, lake, {"VISIONLAKE_KILL_AT": "alpr/frames:staged"})
    time.sleep(2)
    second = _start("alpr", feed, lake)
    killed, survivor = _finish(first), _finish(second)
    assert killed[0] == -9
    assert survivor[0] == 0, survivor[2][-2000:]
    assert "was killed before it finished: recorded as interrupted" in survivor[1]
    assert lake_contents(lake) == _reference(spark, cfg, "alpr", feed, str(tmp_path / "reference"), monkeypatch)
    runs = read(f"{lake}/_runs").to_pylist()
    assert [r["status"] for r in runs if r["stage"] == "run"] == ["interrupted"]


@pytest.mark.s3
def test_on_s3_a_killed_holder_s_lease_expires_and_the_next_run_completes(aws_env, tmp_path):
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for bucket in ("conc-raw", "conc-lake"):
        s3.create_bucket(Bucket=bucket)
    for relative, body, _ in ((f.relative_path, f.body, f.mtime) for f in iter_results(60, seed=3)):
        s3.put_object(Bucket="conc-raw", Key=f"alpr/{relative}", Body=body)
    env = {**aws_env, "VISIONLAKE__LAKE__LEASE_TTL_SECONDS": "3"}
    killed = _finish(
        _start("alpr", "s3a://conc-raw/alpr", "s3a://conc-lake/", {**env, "VISIONLAKE_KILL_AT": "silver:done"})
    )
    assert killed[0] == -9
    started = time.monotonic()
    code, out, err = _finish(_start("alpr", "s3a://conc-raw/alpr", "s3a://conc-lake/", env))
    assert code == 0, err[-2000:]
    assert time.monotonic() - started < 120
    assert ": 0 new of 60 files listed" in out  # bronze was committed by the killed run
    assert "recorded as interrupted" in out
    assert read("s3a://conc-lake/silver/alpr/frames").num_rows == 60
