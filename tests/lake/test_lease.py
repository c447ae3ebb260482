"""The per-source lease: a local flock that dies with its holder, and an S3 conditional-write lease that expires."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import boto3
import pytest
from tests.conftest import REPO

from visionlake.config import StorageSettings
from visionlake.errors import LeaseTimeoutError
from visionlake.lake.lease import Holder, Lease

LOCAL = StorageSettings()

# Holds the lease on "alpr" in the lake given as argv[1] until it is killed.
HOLD = """
import sys, time
from visionlake.config import StorageSettings
from visionlake.lake.lease import Lease
Lease(sys.argv[1], "alpr", "run-killed", StorageSettings()).acquire()
print("held", flush=True)
time.sleep(120)
"""


def _read(path) -> dict:
    with open(path) as handle:
        return json.load(handle)


# --------------------------------------------------------------------------------------------------
# local


def test_local_lease_writes_held_then_released(tmp_path):
    lock = tmp_path / "_locks" / "alpr.lock"
    lease = Lease(str(tmp_path), "alpr", "run-1", LOCAL).acquire()
    try:
        held = _read(lock)
        assert (held["run_id"], held["pid"], held["state"]) == ("run-1", os.getpid(), "held")
        assert lease.interrupted == []
    finally:
        lease.release()
    released = _read(lock)
    assert (released["run_id"], released["state"]) == ("run-1", "released")


def test_local_lease_as_a_context_manager(tmp_path):
    with Lease(str(tmp_path), "alpr", "run-1", LOCAL) as lease:
        assert _read(tmp_path / "_locks" / "alpr.lock")["state"] == "held"
        assert lease.interrupted == []
    assert _read(tmp_path / "_locks" / "alpr.lock")["state"] == "released"


def test_a_second_local_lease_times_out_naming_the_holder(tmp_path):
    first = Lease(str(tmp_path), "alpr", "run-1", LOCAL).acquire()
    try:
        # flock belongs to an open file description: a second Lease in the same process conflicts too
        second = Lease(str(tmp_path), "alpr", "run-2", LOCAL, wait_seconds=0.5, poll_seconds=0.1)
        started = time.monotonic()
        with pytest.raises(LeaseTimeoutError, match="another run holds the lease on alpr") as caught:
            second.acquire()
        assert 0.5 <= time.monotonic() - started < 3
        assert f"run run-1 (pid {os.getpid()} on " in str(caught.value)
        assert str(tmp_path) in str(caught.value)
        assert _read(tmp_path / "_locks" / "alpr.lock")["run_id"] == "run-1"  # the loser wrote nothing
    finally:
        first.release()
    after = Lease(str(tmp_path), "alpr", "run-2", LOCAL, wait_seconds=0).acquire()
    assert after.interrupted == []
    after.release()


def test_local_leases_on_other_names_do_not_conflict(tmp_path):
    with Lease(str(tmp_path), "alpr", "run-1", LOCAL), Lease(str(tmp_path), "faces", "run-2", LOCAL, wait_seconds=0):
        assert _read(tmp_path / "_locks" / "alpr.lock")["run_id"] == "run-1"
        assert _read(tmp_path / "_locks" / "faces.lock")["run_id"] == "run-2"


def test_a_killed_local_holder_is_taken_over_at_once_and_reported_interrupted(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "lib"), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LeaseTimeoutError, match=f"run run-killed \\(pid {holder.pid} on "):
            Lease(str(tmp_path), "alpr", "run-new", LOCAL, wait_seconds=0.3, poll_seconds=0.1).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert _read(tmp_path / "_locks" / "alpr.lock")["state"] == "held"  # the killed run never released

        lease = Lease(str(tmp_path), "alpr", "run-new", LOCAL, wait_seconds=0).acquire()
        try:
            assert [(h.run_id, h.pid, h.state) for h in lease.interrupted] == [("run-killed", holder.pid, "held")]
            assert lease.waited < 0.5
            assert _read(tmp_path / "_locks" / "alpr.lock")["run_id"] == "run-new"
            assert [h["run_id"] for h in _read(tmp_path / "_locks" / "alpr.lock")["unrecorded"]] == ["run-killed"]
            lease.recorded()  # the new holder wrote run-killed into _runs
            assert _read(tmp_path / "_locks" / "alpr.lock")["unrecorded"] == []
        finally:
            lease.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)
        holder.stdout.close()

    # released cleanly this time: the next holder finds nothing interrupted
    again = Lease(str(tmp_path), "alpr", "run-next", LOCAL, wait_seconds=0).acquire()
    assert again.interrupted == []
    again.release()


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xffnot json at all",
        b'{"state": "held", "pid": "abc", "run_id": "run-x", "unrecorded": 5}',
        b'{"state": "held", "pid": [1], "unrecorded": [{"pid": "?"}, 7]}',
        b"[1, 2, 3]",
        b'{"state": "held", "pid": ' + b"1" * 5000 + b"}",  # past Python's 4,300 digits: a ValueError
        b"[" * 100_000,  # nested past the recursion limit
    ],
    ids=["binary", "wrong types", "odd list", "a list", "huge number", "deep"],
)
def test_a_damaged_local_lease_file_does_not_keep_its_source_from_running(tmp_path, content):
    (tmp_path / "_locks").mkdir()
    (tmp_path / "_locks" / "alpr.lock").write_bytes(content)
    with Lease(str(tmp_path), "alpr", "run-1", LOCAL, wait_seconds=0.5) as lease:
        assert _read(tmp_path / "_locks" / "alpr.lock")["run_id"] == "run-1"
    # what it said of a killed holder is taken as far as it reads: a held record with no number is pid 0
    if content.startswith(b'{"state": "held", "pid": "abc"'):
        assert lease.interrupted == [Holder("run-x", "?", 0, "?", "held")]
    elif content.startswith(b'{"state": "held", "pid": [1]'):
        assert lease.interrupted == [Holder("?", "?", 0, "?", "held"), Holder("?", "?", 0, "?", "held")]
    else:
        assert lease.interrupted == []


# --------------------------------------------------------------------------------------------------
# S3 (moto)


def _s3(aws_env, bucket: str):
    client = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    storage = StorageSettings(endpoint_url=aws_env["AWS_ENDPOINT_URL"], path_style=True, allow_http=True)
    return client, storage


def _object(client, bucket: str, key: str) -> dict:
    return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.mark.s3
def test_s3_lease_is_created_held_and_released(aws_env):
    client, storage = _s3(aws_env, "lease-create")
    lease = Lease("s3a://lease-create/lake", "alpr", "run-1", storage, ttl_seconds=60).acquire()
    try:
        held = _object(client, "lease-create", "lake/_locks/alpr.lease")
        assert (held["run_id"], held["pid"], held["state"]) == ("run-1", os.getpid(), "held")
        assert time.time() + 50 < held["expires_at"] <= time.time() + 60
        assert lease.interrupted == []
    finally:
        lease.release()
    released = _object(client, "lease-create", "lake/_locks/alpr.lease")
    assert (released["run_id"], released["state"]) == ("run-1", "released")


@pytest.mark.s3
def test_a_second_s3_lease_times_out_and_acquires_after_release(aws_env):
    client, storage = _s3(aws_env, "lease-wait")
    first = Lease("s3a://lease-wait/lake", "alpr", "run-1", storage).acquire()
    try:
        started = time.monotonic()
        with pytest.raises(LeaseTimeoutError, match="in s3a://lease-wait/lake: run run-1 \\(pid"):
            Lease("s3a://lease-wait/lake", "alpr", "run-2", storage, wait_seconds=0.5, poll_seconds=0.1).acquire()
        assert 0.5 <= time.monotonic() - started < 5
        assert _object(client, "lease-wait", "lake/_locks/alpr.lease")["run_id"] == "run-1"
    finally:
        first.release()
    second = Lease("s3a://lease-wait/lake", "alpr", "run-2", storage, wait_seconds=0.5).acquire()
    try:
        assert second.interrupted == []
        assert _object(client, "lease-wait", "lake/_locks/alpr.lease")["run_id"] == "run-2"
    finally:
        second.release()


@pytest.mark.s3
def test_an_expired_s3_lease_is_taken_over_and_its_holder_reported_interrupted(aws_env):
    client, storage = _s3(aws_env, "lease-expired")
    stale = {
        "run_id": "run-dead",
        "host": "old-host",
        "pid": 4242,
        "since": "2024-01-01T00:00:00+00:00",
        "state": "held",
        "expires_at": time.time() - 60,
    }
    client.put_object(Bucket="lease-expired", Key="lake/_locks/alpr.lease", Body=json.dumps(stale).encode())
    lease = Lease("s3a://lease-expired/lake", "alpr", "run-new", storage, wait_seconds=0.5).acquire()
    try:
        assert lease.interrupted == [Holder("run-dead", "old-host", 4242, "2024-01-01T00:00:00+00:00", "held")]
        assert lease.waited < 0.5
        assert _object(client, "lease-expired", "lake/_locks/alpr.lease")["run_id"] == "run-new"
    finally:
        lease.release()


@pytest.mark.s3
@pytest.mark.parametrize("expires_at", ["soon", None, "inf", [1]])
def test_an_s3_lease_held_with_an_unreadable_expiry_counts_as_expired(aws_env, expires_at):
    bucket = f"lease-odd-{['soon', None, 'inf', [1]].index(expires_at)}"
    client, storage = _s3(aws_env, bucket)
    odd = {"run_id": "run-odd", "host": "h", "pid": "x", "state": "held", "expires_at": expires_at}
    client.put_object(Bucket=bucket, Key="lake/_locks/alpr.lease", Body=json.dumps(odd).encode())
    lease = Lease(f"s3a://{bucket}/lake", "alpr", "run-new", storage, wait_seconds=0.5).acquire()
    try:
        assert lease.interrupted == [Holder("run-odd", "h", 0, "?", "held")]
        assert _object(client, bucket, "lake/_locks/alpr.lease")["run_id"] == "run-new"
    finally:
        lease.release()


@pytest.mark.s3
def test_a_renewing_s3_holder_keeps_its_lease_past_the_ttl(aws_env):
    client, storage = _s3(aws_env, "lease-renew")
    holder = Lease("s3a://lease-renew/lake", "alpr", "run-1", storage, ttl_seconds=1.5).acquire()
    try:
        first_expiry = _object(client, "lease-renew", "lake/_locks/alpr.lease")["expires_at"]
        with pytest.raises(LeaseTimeoutError):  # waits longer than the ttl: only renewal keeps the lease
            Lease("s3a://lease-renew/lake", "alpr", "run-2", storage, wait_seconds=2.0, poll_seconds=0.1).acquire()
        renewed = _object(client, "lease-renew", "lake/_locks/alpr.lease")
        assert (renewed["run_id"], renewed["state"]) == ("run-1", "held")
        assert renewed["expires_at"] > first_expiry + 1
        assert not holder.lost
    finally:
        holder.release()


@pytest.mark.s3
def test_a_holder_that_lost_its_s3_lease_does_not_overwrite_the_new_holder(aws_env):
    client, storage = _s3(aws_env, "lease-lost")
    holder = Lease("s3a://lease-lost/lake", "alpr", "run-1", storage, ttl_seconds=0.6).acquire()
    try:
        other = {
            "run_id": "run-x",
            "host": "h",
            "pid": 1,
            "since": "s",
            "state": "held",
            "expires_at": time.time() + 600,
        }
        client.put_object(Bucket="lease-lost", Key="lake/_locks/alpr.lease", Body=json.dumps(other).encode())
        deadline = time.monotonic() + 5
        while not holder.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.lost  # its next renewal's If-Match failed
    finally:
        holder.release()
    assert _object(client, "lease-lost", "lake/_locks/alpr.lease")["run_id"] == "run-x"
    assert _object(client, "lease-lost", "lake/_locks/alpr.lease")["state"] == "held"


def test_a_run_killed_before_it_recorded_the_killed_run_it_found_passes_it_on(tmp_path):
    """A killed while holding; B takes over, is killed before recording A; C records both."""
    for holder in ("run-a", "run-b"):
        script = (
            "import sys, time; sys.path.insert(0, 'lib')\n"
            "from visionlake.config import StorageSettings\n"
            "from visionlake.lake.lease import Lease\n"
            f"Lease({str(tmp_path)!r}, 'alpr', {holder!r}, StorageSettings(), wait_seconds=5).acquire()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n"
        )
        process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert process.stdout.readline().strip() == "held"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process.stdout.close()
    lease = Lease(str(tmp_path), "alpr", "run-c", LOCAL, wait_seconds=0).acquire()
    try:
        assert [h.run_id for h in lease.interrupted] == ["run-a", "run-b"]
    finally:
        lease.release()
