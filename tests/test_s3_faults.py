"""S3 faults between the pipeline and moto's server, through the fault-injecting proxy on 127.0.0.1: latency,
connection resets, 503 SlowDown and 500 answers for a share of requests, short and long outages.

Every client of the pipeline (boto3, pyarrow's S3, delta-rs, Spark's S3A) goes through the proxy, because the
runs are configured only with ``AWS_ENDPOINT_URL``. A run either completes with every file ingested once, or
fails with one line that names the endpoint and commits nothing; the next run completes.
"""

from __future__ import annotations

import subprocess
import threading
import time

import boto3
import pytest
from tests.conftest import VENV_BIN, run_command

from visionlake.config import StorageSettings
from visionlake.faultproxy import fault_proxy
from visionlake.lake import read
from visionlake.lake.reader import snapshot

pytestmark = [pytest.mark.s3, pytest.mark.faults, pytest.mark.slow]
FILES = 30  # 29 results and one truncated file
GOOD = '{{"duration": {n}, "frame_id": {n}, "plates": [{{"text": "P{n}", "confidences": [91.0, 99.5]}}]}}'


@pytest.fixture
def credentials(monkeypatch):
    """Test credentials for the clients of this process (the moto server accepts any)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def proxy(s3_server):
    with fault_proxy(s3_server) as running:
        yield running


def _buckets(s3_server: str, raw: str, lake: str) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for bucket in (raw, lake):
        s3.create_bucket(Bucket=bucket)
    for n in range(FILES - 1):
        s3.put_object(Bucket=raw, Key=f"alpr/cam-{n % 3}/2022-05-02/{n}.json", Body=GOOD.format(n=n).encode())
    s3.put_object(Bucket=raw, Key="alpr/cam-0/2022-05-02/bad.json", Body=b'{"frame_id": ')


def _run(raw: str, lake: str, endpoint: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    variables = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        **(env or {}),
    }
    command = [str(VENV_BIN / "visionlake"), "run", "alpr", "--input", f"s3a://{raw}/alpr", "--lake", f"s3a://{lake}/"]
    return run_command(command, env=variables)


def _storage(endpoint: str) -> StorageSettings:
    return StorageSettings(endpoint_url=endpoint, path_style=True, allow_http=True)


def test_a_share_of_resets_slowdowns_and_errors_with_latency_is_retried_to_a_complete_run(
    s3_server, proxy, credentials
):
    _buckets(s3_server, "flaky-raw", "flaky-lake")
    proxy.set(latency_ms=10, reset_share=0.04, slowdown_share=0.04, error_share=0.02, seed=11)
    result = _run("flaky-raw", "flaky-lake", proxy.endpoint)
    stats = proxy.stats()
    assert result.returncode == 0, result.stderr[-3000:]
    assert min(stats["resets"], stats["slowdowns"], stats["errors"]) > 0, stats
    assert f": {FILES} new of {FILES} files listed" in result.stdout
    proxy.reset()
    storage = _storage(s3_server)
    assert read("s3a://flaky-lake/bronze/alpr/results", storage=storage).num_rows == FILES
    assert read("s3a://flaky-lake/silver/alpr/frames", storage=storage).num_rows == FILES - 1
    assert [r["reason"] for r in read("s3a://flaky-lake/quarantine/alpr", storage=storage).to_pylist()] == [
        "invalid_json"
    ]


def test_a_three_second_outage_while_reading_is_waited_out(s3_server, proxy, credentials):
    _buckets(s3_server, "blip-raw", "blip-lake")
    # every GET of an input object fails from the first one on, for 3 seconds; listing and the lake are not affected
    proxy.set(outage=True, methods=["GET"], path_regex=r"^/blip-raw/alpr/.+\.json")
    outcome: dict = {}
    running = threading.Thread(target=lambda: outcome.update(run=_run("blip-raw", "blip-lake", proxy.endpoint)))
    running.start()
    deadline = time.monotonic() + 120
    while proxy.stats()["outage_resets"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(3)
    proxy.set(outage=False)
    running.join()
    result = outcome["run"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert proxy.stats()["outage_resets"] > 0
    assert "pending" not in result.stdout and "unreadable" not in result.stdout
    assert read("s3a://blip-lake/silver/alpr/frames", storage=_storage(s3_server)).num_rows == FILES - 1


def test_an_outage_longer_than_the_retry_budget_fails_in_one_line_naming_the_endpoint_and_commits_nothing(
    s3_server, proxy, credentials
):
    _buckets(s3_server, "down-raw", "down-lake")
    storage = _storage(s3_server)
    proxy.set(outage=True, methods=["GET"], path_regex=r"^/down-raw/alpr/.+\.json")
    failed = _run("down-raw", "down-lake", proxy.endpoint, {"VISIONLAKE__STORAGE__RETRY_SECONDS": "3"})
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, failed.stderr[-3000:]
    assert errors[0].startswith(f"visionlake: error: object storage at {proxy.endpoint} kept failing for 3 s")
    assert "s3a://down-raw/alpr/" in errors[0]
    assert snapshot("s3a://down-lake/bronze/alpr/results", storage) is None  # nothing of bronze was committed
    runs = read("s3a://down-lake/_runs", storage=storage).to_pylist()
    assert [(r["stage"], r["status"]) for r in runs] == [("bronze", "failed")]

    proxy.reset()
    again = _run("down-raw", "down-lake", proxy.endpoint)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f": {FILES} new of {FILES} files listed" in again.stdout
    assert read("s3a://down-lake/silver/alpr/frames", storage=storage).num_rows == FILES - 1


def test_a_full_outage_fails_at_once_in_one_line(s3_server, proxy, credentials):
    _buckets(s3_server, "gone-raw", "gone-lake")
    proxy.set(outage=True)
    failed = _run("gone-raw", "gone-lake", proxy.endpoint, {"VISIONLAKE__STORAGE__RETRY_SECONDS": "2"})
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in failed.stderr
    assert errors[0].startswith(f"visionlake: error: object storage at {proxy.endpoint} kept failing for 2 s")
