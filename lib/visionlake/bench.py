"""``visionlake bench SOURCE``: timed pipeline runs on generated data, results under bench/results.

``visionlake bench face_recognition --requests N``: N generated request log lines (about a week at 5 requests/s,
embeddings logged on add_user and 2 % of recognise_user calls), the seed's evaluation runs and a k6 file; cold runs
through the three bronze tables, silver and every gold table.

``visionlake bench face_validation --docs N``: N generated documents with landmarks (about 180 KB each, JSON
Lines and --jsonArray exports), cold runs through bronze, silver and every gold table; wall time, stage
seconds and peak memory, medians of ``--repeat`` runs.

``visionlake bench alpr``: the pipeline against the naive Spark job, on the same generated files.

What one invocation does (every run is a separate ``visionlake run`` process, so JVM start-up counts):
1. generates the data set once into a cache outside the repo (``~/.cache/visionlake/bench``);
2. runs the pipeline cold (empty lake) ``--repeat`` times, and records wall time, the seconds of each
   stage (from ``_runs``) and the peak resident memory of the whole process tree;
3. adds a daily increment of new files to the input and times the run that ingests it (on a copy of the
   lake that already holds the cold run's data), ``--repeat`` times;
4. runs the naive job (``spark.read.schema(s).json(folder)`` + explode + write Parquet) on the same files;
5. with ``--s3``: uploads the files to a moto server on 127.0.0.1 and compares the pipeline's ingestion
   against a plain sequential boto3 GET loop over the same keys.
It prints a table and writes the JSON under ``bench/results/``. Medians are reported.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from visionlake.config import IngestSettings, StorageSettings
from visionlake.devtools import moto_server, run_measured
from visionlake.lake.storage import write_many

CACHE = Path(os.environ.get("VISIONLAKE_BENCH_CACHE", Path.home() / ".cache" / "visionlake" / "bench"))
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
SEED = 42
START = datetime(2022, 5, 2, tzinfo=UTC)
COMPLETE = ".complete"  # hidden from the pipeline's listing


def _cli() -> str:
    return str(Path(sys.executable).parent / "visionlake")


def dataset(files: int, seed: int = SEED, days: int = 3, start: datetime = START) -> Path:
    """The generated input tree of ``files`` files, made once and kept in the cache."""
    from visionlake.sources.alpr.generate import iter_results

    folder = CACHE / f"alpr-{files}-seed{seed}-{start:%Y%m%d}"
    if not (folder / COMPLETE).exists():
        shutil.rmtree(folder, ignore_errors=True)
        generated = iter_results(files, seed=seed, days=days, start=start)
        write_many(str(folder), ((f.relative_path, f.body, f.mtime) for f in generated), StorageSettings())
        (folder / COMPLETE).write_text(str(files))
    return folder


def detections_dataset(frames: int, seed: int = SEED, start: datetime = START) -> Path:
    """Generated security-camera frame files (one JSON per frame), made once and kept in the cache."""
    from visionlake.sources.detections.generate import iter_frames

    folder = CACHE / f"detections-{frames}-seed{seed}-{start:%Y%m%d}"
    if not (folder / COMPLETE).exists():
        shutil.rmtree(folder, ignore_errors=True)
        generated = iter_frames(frames, seed=seed, start=start)
        write_many(str(folder), ((f.relative_path, f.body, f.mtime) for f in generated), StorageSettings())
        (folder / COMPLETE).write_text(str(frames))
    return folder


def _tree_bytes(folder: Path) -> int:
    return sum(entry.stat().st_size for entry in folder.rglob("*.json"))


def face_dataset(docs: int, seed: int = SEED) -> Path:
    """Generated liveness exports with landmarks (JSON Lines, every 4th file --jsonArray), made once."""
    from visionlake.sources.face_validation.generate import write_exports

    folder = CACHE / f"face_validation-{docs}-seed{seed}"
    if not (folder / COMPLETE).exists():
        shutil.rmtree(folder, ignore_errors=True)
        write_exports(str(folder), docs, seed=seed, landmarks=True)
        (folder / COMPLETE).write_text(str(docs))
    return folder


def bench_face_validation(docs: int, repeat: int) -> dict:
    """Cold runs of the face_validation pipeline (bronze, silver and every gold table) on ``docs`` documents."""
    base = face_dataset(docs)
    result: dict = {"docs": docs, "files": sum(1 for _ in base.rglob("*.json")), "mb": round(_tree_bytes(base) / 2**20)}
    result["cold"] = _cold_runs(base, "face_validation", repeat, result["mb"])
    result["cold"]["docs_per_second"] = round(docs / result["cold"]["wall_seconds"])
    return result


def _cold_runs(base: Path, source: str, repeat: int, mb: float, keep: Path | None = None) -> dict:
    """``repeat`` runs of ``source`` on ``base``, each on an empty lake: the runs and their medians. The last run's
    lake is moved to ``keep`` when given."""
    with tempfile.TemporaryDirectory(prefix="visionlake-bench-") as tmp:
        runs = []
        for attempt in range(repeat):
            lake = Path(tmp) / f"lake{attempt}"
            runs.append(_run_pipeline(str(base), lake, source=source))
            if keep is not None and attempt == repeat - 1:
                shutil.move(lake, keep)
            else:
                shutil.rmtree(lake)
    wall = _median(runs, "wall_seconds")
    return {
        "runs": runs,
        "wall_seconds": wall,
        "peak_rss_mb": _median(runs, "peak_rss_mb"),
        "stages": _median_stages(runs),
        "mb_per_second": round(mb / wall, 1),
    }


def _increment_runs(root: Path, lake: Path, source: str, repeat: int) -> dict:
    """``repeat`` runs of ``source`` that ingest the new files of ``root`` into a fresh copy of ``lake`` (the lake of
    a cold run, kept as it was): the runs and their medians."""
    pristine = lake.with_name(f"{lake.name}-before-increment")
    shutil.copytree(lake, pristine)
    runs = []
    for _ in range(repeat):
        shutil.rmtree(lake)
        shutil.copytree(pristine, lake)
        runs.append(_run_pipeline(str(root), lake, source=source))
    return {"runs": runs, "wall_seconds": _median(runs, "wall_seconds"), "stages": _median_stages(runs)}


def face_recognition_dataset(requests: int, seed: int = SEED, days_later: int = 0) -> Path:
    """Generated request logs (with the embeddings a debug logger leaves), evaluation runs and a k6 file, made once;
    ``days_later``: beginning that many days after the generator's default start."""
    from visionlake.sources.face_recognition.generate import DEFAULT_START, generate

    folder = CACHE / (f"face_recognition-{requests}-seed{seed}" + (f"-{days_later}d" if days_later else ""))
    if not (folder / COMPLETE).exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate(folder, requests, seed=seed, start=DEFAULT_START + timedelta(days=days_later))
        (folder / COMPLETE).write_text(str(requests))
    return folder


def bench_face_recognition(requests: int, repeat: int, increment: int = 0) -> dict:
    """Cold runs of the face_recognition pipeline (three bronze tables, silver and every gold table); then, given
    ``increment``, runs that ingest a month later's request log of that many lines into (a copy of) the lake of the
    last cold run."""
    base = face_recognition_dataset(requests)
    size = sum(p.stat().st_size for p in base.rglob("*") if p.is_file() and p.name != COMPLETE)
    result: dict = {"requests": requests, "files": sum(1 for p in base.rglob("*.json*")), "mb": round(size / 2**20)}
    with tempfile.TemporaryDirectory(prefix="visionlake-bench-") as tmp:
        work = Path(tmp)
        root, full = work / "input", work / "lake"
        root.mkdir()
        _link_tree(base, root)
        result["cold"] = _cold_runs(root, "face_recognition", repeat, result["mb"], keep=full if increment else None)
        result["cold"]["requests_per_second"] = round(requests / result["cold"]["wall_seconds"])
        if increment:
            # the request logs of a later month, in a folder of their own (no new evaluation run nor k6 file)
            later = root / "requests" / "increment"
            later.mkdir()
            _link_tree(face_recognition_dataset(increment, seed=SEED + 1, days_later=30) / "requests", later)
            runs = _increment_runs(root, full, "face_recognition", repeat)
            result["increment"] = {"requests": increment, "lake_requests": requests, **runs}
    return result


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link every file of ``source`` into ``target`` (same layout, no copy of the data)."""
    subprocess.run(["cp", "-al", f"{source}/.", str(target)], check=True)


def _stage_seconds(lake: Path) -> dict[str, float]:
    from visionlake.lake import read

    rows = read("_runs", lake=str(lake)).to_pylist()
    last = max(r["run_id"] for r in rows)
    return {r["stage"]: r["seconds"] for r in rows if r["run_id"] == last}


def _run_pipeline(input_root: str, lake: Path, env: dict[str, str] | None = None, source: str = "alpr") -> dict:
    measured = run_measured([_cli(), "run", source, "--input", input_root, "--lake", str(lake)], env=env)
    if measured["status"] != 0:
        raise RuntimeError(f"pipeline run failed: {measured['stderr'][-2000:]}")
    return {
        "wall_seconds": round(measured["seconds"], 2),
        "peak_rss_mb": round(measured["peak_rss_bytes"] / 2**20),
        "stages": _stage_seconds(lake),
    }


BASELINE = """
import sys, time
from pyspark.sql import SparkSession, functions as F
from visionlake.sources.alpr.schema import RESULT
spark = (SparkSession.builder.master("local[2]").config("spark.ui.showConsoleProgress", "false")
         .config("spark.driver.memory", "4g").config("spark.sql.session.timeZone", "UTC").getOrCreate())
df = spark.read.schema(RESULT).option("recursiveFileLookup", "true").json(sys.argv[1])
plates = df.select("frame_id", F.explode("plates").alias("plate"), F.to_timestamp("timestamp").alias("createDateTime"))
plates.select("frame_id", "createDateTime", F.col("plate.text").alias("plateText"),
              F.col("plate.confidences")[0].alias("globalConfidencev1"),
              F.col("plate.car.color")[0]["name"].alias("color")).write.mode("overwrite").parquet(sys.argv[2])
spark.stop()
"""


def _run_baseline(input_root: Path, work: Path) -> dict:
    env = {"PYSPARK_PYTHON": sys.executable}
    measured = run_measured([sys.executable, "-c", BASELINE, str(input_root), str(work / "naive")], env=env)
    if measured["status"] != 0:
        raise RuntimeError(f"baseline failed: {measured['stderr'][-2000:]}")
    shutil.rmtree(work / "naive", ignore_errors=True)
    return {"wall_seconds": round(measured["seconds"], 2), "peak_rss_mb": round(measured["peak_rss_bytes"] / 2**20)}


def _median(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


def _median_stages(runs: list[dict]) -> dict[str, float]:
    return {s: round(statistics.median(r["stages"].get(s, 0.0) for r in runs), 2) for s in runs[0]["stages"]}


def bench_local(files: int, repeat: int, increment: int, baseline: bool, source: str = "alpr") -> dict:
    """Cold runs of ``source`` (alpr or detections: one file per record) on ``files`` generated files, then
    runs that ingest an increment of ``increment`` new files into the lake of the last cold run."""
    later = START + timedelta(days=30)
    if source == "detections":
        base = detections_dataset(files)
        extra = detections_dataset(increment, seed=SEED + 1, start=later) if increment else None
    else:
        base = dataset(files)
        extra = dataset(increment, seed=SEED + 1, days=1, start=later) if increment else None
    megabytes = _tree_bytes(base) / 2**20
    result: dict = {"files": files, "mb": round(megabytes, 1)}
    with tempfile.TemporaryDirectory(prefix="visionlake-bench-") as tmp:
        work = Path(tmp)
        root, full = work / "input", work / "lake"
        root.mkdir()
        _link_tree(base, root)
        result["cold"] = _cold_runs(root, source, repeat, megabytes, keep=full if extra is not None else None)
        result["cold"]["files_per_second"] = round(files / result["cold"]["wall_seconds"])
        result["cold"]["seconds_per_1000_files"] = round(1000 * result["cold"]["wall_seconds"] / files, 3)
        if extra is not None:
            _link_tree(extra, root)
            result["increment"] = {
                "files": increment,
                "lake_files": files,
                **_increment_runs(root, full, source, repeat),
            }
        if baseline and source == "alpr":
            result["baseline"] = _run_baseline(base, work)
            result["ratio_baseline_to_pipeline"] = round(
                result["baseline"]["wall_seconds"] / result["cold"]["wall_seconds"], 1
            )
    return result


def bench_s3(files: int, repeat: int, latency_ms: float = 20.0) -> dict:
    """The pipeline reading ``files`` from S3 against a sequential boto3 GET loop over the same keys, both
    through the fault proxy adding ``latency_ms`` to every request (a network that is not loopback): moto's
    server on this machine answers in about 1.5 ms, which no real endpoint does."""
    import boto3

    from visionlake.faultproxy import fault_proxy

    base = dataset(files)
    result: dict = {"files": files, "mb": round(_tree_bytes(base) / 2**20, 1), "latency_ms": latency_ms}
    with moto_server() as endpoint, tempfile.TemporaryDirectory(prefix="visionlake-bench-") as tmp:
        credentials = {
            "AWS_ACCESS_KEY_ID": "moto-bench-id",
            "AWS_SECRET_ACCESS_KEY": "moto-bench-secret",
            "AWS_REGION": "us-east-1",
        }
        os.environ.update(credentials)
        direct = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        direct.create_bucket(Bucket="raw")
        paths = sorted(p for p in base.rglob("*.json"))
        storage = StorageSettings(endpoint_url=endpoint, path_style=True, allow_http=True)
        write_many("s3a://raw/alpr", ((str(p.relative_to(base)), p.read_bytes(), None) for p in paths), storage)
        keys = [f"alpr/{p.relative_to(base)}" for p in paths]
        with fault_proxy(endpoint) as proxy:
            proxy.set(latency_ms=latency_ms)
            env = {**credentials, "AWS_ENDPOINT_URL": proxy.endpoint}
            client = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1")
            started = time.monotonic()
            for key in keys:
                client.get_object(Bucket="raw", Key=key)["Body"].read()
            result["sequential_get_loop_seconds"] = round(time.monotonic() - started, 2)
            result["concurrent_get_seconds"] = _concurrent_gets(proxy.endpoint, keys, READ_THREADS)
            runs = [_run_pipeline("s3a://raw/alpr", Path(tmp) / f"lake{n}", env=env) for n in range(repeat)]
        result["server_ceiling_seconds"] = _server_ceiling(direct, endpoint, keys)
        result["pipeline"] = {
            "runs": runs,
            "wall_seconds": _median(runs, "wall_seconds"),
            "stages": _median_stages(runs),
        }
        bronze = result["pipeline"]["stages"]["bronze"]
        result["ratio_get_loop_to_bronze_stage"] = round(result["sequential_get_loop_seconds"] / bronze, 1)
        result["ratio_get_loop_to_whole_run"] = round(
            result["sequential_get_loop_seconds"] / result["pipeline"]["wall_seconds"], 1
        )
    return result


READ_THREADS = IngestSettings().read_threads  # the pipeline's concurrent GETs per task


def _concurrent_gets(endpoint: str, keys: list[str], threads: int) -> float:
    """Seconds for one boto3 client with ``threads`` concurrent GETs, doing nothing else, to fetch every key:
    what the endpoint allows a signed client on this machine, the pipeline's read job without Spark."""
    import boto3
    from botocore.config import Config as BotoConfig

    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=BotoConfig(max_pool_connections=threads)
    )
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(lambda key: client.get_object(Bucket="raw", Key=key)["Body"].read(), keys):
            pass
    return round(time.monotonic() - started, 2)


def _server_ceiling(client, endpoint: str, keys: list[str]) -> float:
    """Seconds for the cheapest possible client to GET every key once: the server's own ceiling.

    The objects are made public and fetched without signing over one keep-alive connection, so nearly all
    the time is the server's; no client, however concurrent, can beat the server's per-request cost.
    """
    import http.client
    from urllib.parse import urlparse

    for key in keys:
        client.put_object_acl(Bucket="raw", Key=key, ACL="public-read")
    address = urlparse(endpoint)
    connection = http.client.HTTPConnection(address.hostname, address.port)
    started = time.monotonic()
    for key in keys:
        connection.request("GET", f"/raw/{key}")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"unsigned GET of {key}: HTTP {response.status}")
    seconds = time.monotonic() - started
    connection.close()
    return round(seconds, 2)


def _increment_line(inc: dict, new: str, lake: int) -> str:
    stages = ", ".join(f"{k} {v:.1f}" for k, v in inc["stages"].items())
    return f"  increment of {new} on a lake of {lake:,}: {inc['wall_seconds']:.1f} s wall (stages: {stages})"


def _table(result: dict) -> str:
    lines = []
    if "docs" in result:
        cold = result["cold"]
        lines.append(f"documents {result['docs']:,} in {result['files']} export files, JSON {result['mb']:,} MB")
        lines.append(
            f"  cold run (median of {len(cold['runs'])}): {cold['wall_seconds']:.1f} s wall, "
            f"{cold['docs_per_second']:,} docs/s, {cold['mb_per_second']} MB/s, peak RSS {cold['peak_rss_mb']:,} MB"
        )
        lines.append("    stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in cold["stages"].items()))
        return "\n".join(lines)
    if "requests" in result:
        cold = result["cold"]
        lines.append(f"request log lines {result['requests']:,} in {result['files']} files, {result['mb']:,} MB")
        lines.append(
            f"  cold run (median of {len(cold['runs'])}): {cold['wall_seconds']:.1f} s wall, "
            f"{cold['requests_per_second']:,} lines/s, {cold['mb_per_second']} MB/s, "
            f"peak RSS {cold['peak_rss_mb']:,} MB"
        )
        lines.append("    stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in cold["stages"].items()))
        if "increment" in result:
            inc = result["increment"]
            lines.append(_increment_line(inc, f"{inc['requests']:,} lines", inc["lake_requests"]))
        return "\n".join(lines)
    if "cold" in result:
        cold = result["cold"]
        stages = ", ".join(f"{k} {v:.1f}" for k, v in cold["stages"].items())
        lines.append(f"files {result['files']:,}  JSON {result['mb']:,.0f} MB")
        lines.append(
            f"  cold run (median of {len(cold['runs'])}): {cold['wall_seconds']:.1f} s wall, "
            f"{cold['files_per_second']:,} files/s, {cold['seconds_per_1000_files']:.3f} s per 1,000 files, "
            f"peak RSS {cold['peak_rss_mb']:,} MB"
        )
        lines.append(f"    stages (s): {stages}")
    if "increment" in result:
        inc = result["increment"]
        lines.append(_increment_line(inc, f"{inc['files']:,} files", inc["lake_files"]))
    if "baseline" in result:
        lines.append(
            f"  naive Spark job: {result['baseline']['wall_seconds']:.1f} s wall, peak RSS "
            f"{result['baseline']['peak_rss_mb']:,} MB -> pipeline is {result['ratio_baseline_to_pipeline']}x faster"
        )
    if "sequential_get_loop_seconds" in result:
        lines.append(
            f"files {result['files']:,} on S3 (moto on 127.0.0.1 behind the fault proxy: "
            f"{result['latency_ms']:g} ms added to every request)"
        )
        lines.append(
            f"  sequential boto3 GET loop: {result['sequential_get_loop_seconds']:.1f} s; pipeline: "
            f"{result['pipeline']['wall_seconds']:.1f} s wall, bronze stage "
            f"{result['pipeline']['stages']['bronze']:.1f} s -> ingestion "
            f"{result['ratio_get_loop_to_bronze_stage']}x faster than the loop "
            f"({result['ratio_get_loop_to_whole_run']}x for the whole run)"
        )
        if "concurrent_get_seconds" in result:
            best = result["concurrent_get_seconds"]
            lines.append(
                f"  {READ_THREADS} concurrent boto3 GETs doing nothing else, same proxy: {best:.1f} s "
                f"(at most {result['sequential_get_loop_seconds'] / best:.1f}x the loop on this machine)"
            )
        ceiling = result["server_ceiling_seconds"]
        lines.append(
            f"  moto's own ceiling (unsigned keep-alive GETs without the proxy, nearly no client work): "
            f"{ceiling:.1f} s for the same keys"
        )
    return "\n".join(lines)


def run_bench(
    files: int,
    s3: bool,
    repeat: int,
    increment: int,
    baseline: bool,
    source: str = "alpr",
    docs: int = 0,
    latency_ms: float = 20.0,
) -> str:
    """Run the benchmark of ``source``, write its JSON under bench/results/, return the printed table."""
    started = datetime.now(UTC)
    if source == "face_validation":
        result, benchmark, files = bench_face_validation(docs, repeat), "face_validation", docs
    elif source == "face_recognition":
        result, benchmark = bench_face_recognition(files, repeat, increment), "face_recognition"
    elif source == "detections":
        result, benchmark = bench_local(files, repeat, increment, False, source), "detections"
    elif s3:
        result, benchmark = bench_s3(files, repeat, latency_ms), "alpr-s3"
    else:
        result, benchmark = bench_local(files, repeat, increment, baseline), "alpr"
    result.update(
        {
            "benchmark": benchmark,
            "started_at": started.isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        }
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"{result['benchmark']}-{files}-{started:%Y%m%dT%H%M%SZ}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return _table(result) + f"\n  written to bench/results/{name}"
