"""Shared fixtures: one Spark session for the whole run, a moto S3 server on 127.0.0.1, file helpers."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_TESTING", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VISIONLAKE_SHARED") or REPO.parent / "shared")
SEED_ALPR = SHARED / "data" / "ultimatealpr-seed-samples"
VENV_BIN = Path(sys.executable).parent


# The files that take minutes, longest first (the kill harness of test_faults.py: 7.4 minutes in a full run of 23 on
# Dec 6, after small runs stopped generating code; from the durations of full runs)
LONGEST_FILES = (
    "tests/test_faults.py",
    "tests/test_cli.py",
    "tests/sources/detections/test_pipeline.py",
    "tests/test_concurrency.py",
    "tests/test_sql.py",
    "tests/test_security.py",
    "tests/lake/test_maintain.py",
    "tests/deploy/test_emr.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest test files first, longest first: with ``--dist loadfile --no-loadscope-reorder`` (``make
    test``) a worker takes the next file in this order when it is free, so the run ends on short files instead of
    on a long one that started late while the other worker idles. The order of the tests within a file is kept.
    (xdist's default orders the files by their number of tests: the kill harness, few tests, came late.)"""
    rank = {path: i for i, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def cfg():
    from visionlake.config import SparkSettings, load_config
    from visionlake.spark import INTERPRETED

    base = load_config("local", environ={})
    conf = dict(base.spark.conf)
    conf.update(
        {
            "spark.sql.shuffle.partitions": "2",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            # The hostile matrices hold 21-50 MB records, each copied into buffers that double as they grow, in a
            # session that has run many test files before: 4g (conf/local.yaml) once ran out in a full run.
            "spark.driver.memory": "6g",
            # The tests' data are a few files, as a run below ingest.interpret_below_mb, and are evaluated as it is
            # (spark.for_input): three detections pipeline tests took 92.6 s instead of 125.3 s.
            **INTERPRETED,
        }
    )
    return dataclasses.replace(base, spark=SparkSettings(master="local[2]", conf=conf))


@pytest.fixture(scope="session")
def spark(cfg):
    from visionlake.spark import build_session

    session = build_session("visionlake-tests", cfg)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 and a free port; yields its endpoint URL."""
    from visionlake.devtools import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def ctrl_c() -> Iterator[Callable[[], None]]:
    """Press Ctrl-C: SIGINT to this process, which raises KeyboardInterrupt in the main thread as in a terminal. A
    process a shell started in the background (``make test &``) inherits SIGINT ignored, and Python keeps it so:
    the handler is installed for the test and restored after."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield lambda: os.kill(os.getpid(), signal.SIGINT)
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def aws_env(s3_server, monkeypatch) -> dict[str, str]:
    """The standard AWS variables pointing at the moto server (test credentials, not real ones)."""
    env = {
        "AWS_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


RUN_SPECIFIC = {"run_id", "ingested_at", "ingest_date", "valid_from"}  # valid_from: when a run loaded the rules


def lake_contents(lake: str) -> dict[str, list[tuple]]:
    """Every table of the lake but the logs, as sorted rows without the run-specific columns: what two lakes
    built from the same input must share, whatever runs, kills, retries or maintenance came between."""
    from visionlake.lake import read
    from visionlake.lake.reader import table_locations

    tables = {}
    for name, location in table_locations(lake).items():
        if name.startswith("_"):
            continue
        data = read(location)
        columns = [c for c in data.column_names if c not in RUN_SPECIFIC]
        tables[name] = sorted(tuple(repr(r[c]) for c in columns) for r in data.to_pylist())
    return tables


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """Write {relative path: content} under root."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def run_command(
    command: list[str], env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run a command from the repo root with the current environment plus ``env``; capture its output."""
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO
    )


BUILT_LAKE_PII_KEY = "b1" * 32  # 64 hex characters, as VISIONLAKE_PII_KEY must be


@pytest.fixture(scope="session")
def built_lake(spark, cfg, tmp_path_factory) -> Path:
    """One lake built once per test run from every source's generator (ALPR 120 files over 3 cameras and
    3 days; face_validation 300 documents; detections 3,000 frames of one day; face_recognition 3,000 request
    lines over 10 minutes, 3 duplicated, the three LFW evaluation runs and a k6 test of three 20-second
    stages), for the consumers: SQL, catalog, notebooks, report. Read-only for the tests that use it."""
    return build_once(tmp_path_factory, "built_lake", lambda root: _build_lake(spark, cfg, root)) / "lake"


def build_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """``build(folder)`` once per test run: with pytest-xdist the first worker that needs it builds it, holding a
    lock in the run's shared temporary folder, and the others wait for it and use the same folder."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent / name  # the same folder for every worker of the run
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / ".complete").exists():
            build(shared)
            (shared / ".complete").write_text("")
    return shared


def _build_lake(spark, cfg, root: Path) -> Path:
    from visionlake.lake import storage as st
    from visionlake.sources.alpr.generate import iter_results
    from visionlake.sources.detections.generate import iter_frames
    from visionlake.sources.face_recognition.generate import generate as generate_face_recognition
    from visionlake.sources.face_validation.generate import write_exports

    alpr_in, face_in, lake = root / "in" / "alpr", root / "in" / "face_validation", root / "lake"
    files = ((f.relative_path, f.body, f.mtime) for f in iter_results(120, seed=7, cameras=3, days=3))
    st.write_many(str(alpr_in), files, cfg.storage, 4)
    write_exports(str(face_in), 300, seed=7, docs_per_file=100)
    detections_in = root / "in" / "detections"
    frames = ((f.relative_path, f.body, f.mtime) for f in iter_frames(3000, seed=7, days=1))
    st.write_many(str(detections_in), frames, cfg.storage, 4)
    face_recognition_in = root / "in" / "face_recognition"
    generate_face_recognition(face_recognition_in, 3000, seed=7, load_test_seconds=20)
    run_sources(spark, cfg, root / "in", lake)
    return lake


def run_sources(spark, cfg, inputs: Path, lake: Path) -> None:
    """Run the four sources, in the built lake's order and with its key, from ``inputs/<source>`` into ``lake``."""
    previous = os.environ.get("VISIONLAKE_PII_KEY")
    os.environ["VISIONLAKE_PII_KEY"] = BUILT_LAKE_PII_KEY
    try:
        for source in ("alpr", "face_validation", "detections", "face_recognition"):
            import_module(f"visionlake.sources.{source}.pipeline").run(spark, cfg, str(inputs / source), str(lake))
    finally:
        if previous is None:
            os.environ.pop("VISIONLAKE_PII_KEY", None)
        else:
            os.environ["VISIONLAKE_PII_KEY"] = previous
