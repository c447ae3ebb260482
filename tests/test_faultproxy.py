"""The fault-injecting proxy (visionlake.faultproxy) in front of the moto S3 server: passthrough, body framings,
latency, throttling and error answers, connection resets, outages, filters, counters."""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.config import Config

from visionlake.devtools import free_port
from visionlake.faultproxy import FaultProxy, fault_proxy

pytestmark = pytest.mark.s3

NO_RETRIES = {"total_max_attempts": 1, "mode": "standard"}  # max_attempts counts retries only
SLOWDOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
)
DEFAULT_FAULTS = {
    "latency_ms": 0.0,
    "reset_share": 0.0,
    "slowdown_share": 0.0,
    "error_share": 0.0,
    "outage": False,
    "outage_seconds": 0.0,
    "methods": None,
    "path_regex": None,
    "seed": None,
}


def counts(proxy: FaultProxy) -> dict[str, int]:
    """The proxy's counters without the settings."""
    return {k: v for k, v in proxy.stats().items() if k not in ("faults", "outage_active")}


def zero(**changes: int) -> dict[str, int]:
    base = dict.fromkeys(
        ("requests", "forwarded", "resets", "slowdowns", "errors", "outage_resets", "upstream_errors"), 0
    )
    return {**base, **changes}


def s3_client(endpoint: str, retries: dict | None = None) -> BaseClient:
    """A boto3 S3 client with test credentials and path-style addressing (boto3's default retries if None)."""
    config = Config(s3={"addressing_style": "path"}, retries=retries)
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=config,
    )


def connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def open_socket(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """One GET on a new connection; raises what the connection raises."""
    connection = connect(url)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def running_proxy(s3_server) -> Iterator[FaultProxy]:
    with fault_proxy(s3_server) as proxy:
        yield proxy


@pytest.fixture
def proxy(running_proxy) -> Iterator[FaultProxy]:
    """The module's proxy with counters at zero and no faults, before and after each test."""
    running_proxy.reset()
    yield running_proxy
    running_proxy.reset()


@pytest.fixture(scope="module")
def bucket(running_proxy, s3_server) -> str:
    """A bucket that unsigned requests may use too, with objects ``small`` (b"hello") and ``one-mb`` (1 MiB of
    seeded random bytes)."""
    s3 = s3_client(s3_server)
    s3.create_bucket(Bucket="fp-data")
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::fp-data*"]}
    s3.put_bucket_policy(Bucket="fp-data", Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    s3.put_object(Bucket="fp-data", Key="small", Body=b"hello")
    s3.put_object(Bucket="fp-data", Key="one-mb", Body=random.Random(1).randbytes(1 << 20))
    return "fp-data"


def test_command_line_prints_one_line_then_nothing_survives_client_and_upstream_errors(s3_server, bucket):
    process = subprocess.Popen(
        [sys.executable, "-m", "visionlake.faultproxy", "--upstream", s3_server],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = process.stdout.readline().decode()
        match = re.fullmatch(r"data=(http://127\.0\.0\.1:\d+) control=(http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        data, control = match.groups()
        assert raw_get(data, f"/{bucket}/small") == (200, b"hello")
        # a client that goes away mid-response (1 MiB asked, 1 byte read)
        with open_socket(data) as sock:
            sock.sendall(f"GET /{bucket}/one-mb HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert sock.recv(1)
        # a client that sends half a body and goes away
        with open_socket(data) as sock:
            sock.sendall(f"PUT /{bucket}/half HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc".encode())
        status, body = raw_get(data, f"/{bucket}/small")
        assert (status, body) == (200, b"hello")
        deadline = time.monotonic() + 5  # the proxy counts each request as it reads it: wait for the last two
        while json.loads(raw_get(control, "/stats")[1])["requests"] < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert json.loads(raw_get(control, "/stats")[1])["requests"] == 4
        assert process.poll() is None
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    assert (stdout, stderr) == (b"", b"")


def test_context_manager_terminates_the_process_and_an_unreachable_upstream_answers_502():
    with fault_proxy(f"http://127.0.0.1:{free_port()}") as proxy:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", proxy.endpoint)
        status, body = raw_get(proxy.endpoint, "/anything")
        assert status == 502 and b"<Code>BadGateway</Code>" in body
        assert counts(proxy) == zero(requests=1, forwarded=1, upstream_errors=1)
        assert proxy.process.poll() is None
    assert proxy.process.poll() is not None
    with pytest.raises(RuntimeError, match="exited with status 2"), fault_proxy("ftp://127.0.0.1:1"):
        pass  # a bad upstream URL: the command line refuses it


def test_passthrough_objects_multipart_listing_head_delete(proxy, tmp_path):
    s3 = s3_client(proxy.endpoint)
    s3.create_bucket(Bucket="fp-pass")
    s3.put_object(Bucket="fp-pass", Key="small.txt", Body=b"small object")
    assert s3.get_object(Bucket="fp-pass", Key="small.txt")["Body"].read() == b"small object"

    big = random.Random(20).randbytes(20 * 1024 * 1024)
    s3.put_object(Bucket="fp-pass", Key="big.bin", Body=big)
    got = s3.get_object(Bucket="fp-pass", Key="big.bin")["Body"].read()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(big).hexdigest()

    source = tmp_path / "multi.bin"
    source.write_bytes(big[: 12 * 1024 * 1024])  # 3 parts of 5 + 5 + 2 MiB, each sent with Expect: 100-continue
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(source), "fp-pass", "multi.bin", Config=config)
    head = s3.head_object(Bucket="fp-pass", Key="multi.bin")
    assert head["ContentLength"] == 12 * 1024 * 1024
    assert head["ETag"].endswith('-3"')
    got = s3.get_object(Bucket="fp-pass", Key="multi.bin")["Body"].read()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()

    listed = s3.list_objects_v2(Bucket="fp-pass")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [
        ("big.bin", 20 * 1024 * 1024),
        ("multi.bin", 12 * 1024 * 1024),
        ("small.txt", 12),
    ]
    for key in ("big.bin", "multi.bin", "small.txt"):
        s3.delete_object(Bucket="fp-pass", Key=key)
    assert s3.list_objects_v2(Bucket="fp-pass")["KeyCount"] == 0
    # create bucket, 2 PUTs, 2 GETs, multipart (create, 3 parts, complete), HEAD, GET, 2 lists, 3 deletes
    assert counts(proxy) == zero(requests=17, forwarded=17)


def test_multipart_upload_with_expect_100_continue_survives_resets_and_slowdowns(proxy, bucket, s3_server, tmp_path):
    # Random(3) draws 0.238, 0.544, 0.370, 0.604, 0.626: with reset_share 0.25 and slowdown_share 0.25 on PUTs
    # the three UploadPart requests (each with Expect: 100-continue) take 5 attempts: reset, ok, 503, ok, ok.
    draws = random.Random(3)
    assert [round(draws.random(), 3) for _ in range(5)] == [0.238, 0.544, 0.370, 0.604, 0.626]
    source = tmp_path / "parts.bin"
    source.write_bytes(random.Random(12).randbytes(12 * 1024 * 1024))
    proxy.set(reset_share=0.25, slowdown_share=0.25, methods=["PUT"], seed=3)
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, use_threads=False)
    s3_client(proxy.endpoint).upload_file(str(source), bucket, "parts.bin", Config=config)
    got = s3_client(s3_server).get_object(Bucket=bucket, Key="parts.bin")["Body"].read()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()
    # 2 POSTs (create, complete) pass untouched; 5 PUT attempts
    assert counts(proxy) == zero(requests=7, forwarded=5, resets=1, slowdowns=1)


def test_chunked_request_bodies_reach_moto(proxy, bucket, s3_server):
    pieces = [b"a" * 10, b"b" * 300_000, b"c" * 7]  # the middle one is larger than the proxy's copy buffer
    connection = connect(proxy.endpoint)
    for key in ("chunked-1", "chunked-2"):  # two on one kept-alive connection
        connection.request("PUT", f"/{bucket}/{key}", body=iter(pieces), encode_chunked=True)
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"")
    connection.close()
    s3 = s3_client(s3_server)  # read back straight from moto
    for key in ("chunked-1", "chunked-2"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"".join(pieces)
    assert counts(proxy) == zero(requests=2, forwarded=2)


class ScriptedUpstream:
    """A raw HTTP/1.1 server on 127.0.0.1 that plays a script: for each step it records the request's bytes up
    to ``end``, sends ``answer`` and, if ``close``, closes the connection and accepts the next one."""

    def __init__(self, script: list[tuple[bytes, bytes, bool]]) -> None:
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._run, args=(iter(script),), daemon=True)
        self.thread.start()

    def _run(self, steps: Iterator[tuple[bytes, bytes, bool]]) -> None:
        with self.listener:
            while True:
                connection, _ = self.listener.accept()
                connection.settimeout(10)
                with connection:
                    for end, answer, close in steps:
                        data = b""
                        while not data.endswith(end) and (received := connection.recv(65536)):
                            data += received
                        self.requests.append(data)
                        connection.sendall(answer)
                        if close:
                            break
                    else:
                        return


def test_framing_is_kept_both_ways_hop_by_hop_headers_dropped_host_kept():
    chunked_answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: 1\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    upstream = ScriptedUpstream(
        [
            (b"X-Checksum: none\r\n\r\n", chunked_answer, False),
            (b"\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", False),
            (b"\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\nuntil the end", True),  # no length: ends at the close
            (b"body", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", False),
        ]
    )
    with fault_proxy(upstream.url) as proxy:
        with open_socket(proxy.endpoint) as sock:
            sock.sendall(
                b"PUT /b/k?x=1 HTTP/1.1\r\nHost: s3.example:9000\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
                b"X-Amz-Date: 1\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: none\r\n\r\n"
            )
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert (response.status, response.getheader("X-Up"), response.read()) == (200, "1", b"hello world")
            assert response.getheader("Transfer-Encoding") == "chunked"
            sock.sendall(b"GET /b/k HTTP/1.1\r\nHost: s3.example:9000\r\n\r\n")
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert (response.status, response.getheader("Content-Length"), response.read()) == (200, "3", b"abc")
            sock.sendall(b"GET /b/k2 HTTP/1.1\r\nHost: s3.example:9000\r\n\r\n")
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert (response.status, response.getheader("Connection"), response.read()) == (
                200,
                "close",
                b"until the end",
            )
            assert sock.recv(1) == b""  # the proxy closed this connection too
        with open_socket(proxy.endpoint) as sock:
            sock.sendall(
                b"PUT /b/e HTTP/1.1\r\nHost: s3.example:9000\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
            )
            assert read_head(sock) == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(b"body")
            response = http.client.HTTPResponse(sock)  # the upstream's own 100 Continue is not passed on
            response.begin()
            assert (response.status, response.read()) == (201, b"")
    assert upstream.requests == [
        b"PUT /b/k?x=1 HTTP/1.1\r\nHost: s3.example:9000\r\nX-Amz-Date: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: none\r\n\r\n",
        b"GET /b/k HTTP/1.1\r\nHost: s3.example:9000\r\n\r\n",
        b"GET /b/k2 HTTP/1.1\r\nHost: s3.example:9000\r\n\r\n",
        b"PUT /b/e HTTP/1.1\r\nHost: s3.example:9000\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nbody",
    ]


def read_head(sock: socket.socket) -> bytes:
    """Bytes up to and including the first empty line."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, data
        data += byte
    return data


def test_expect_100_continue_is_answered_before_the_body_and_refused_with_a_fault(proxy, bucket, s3_server):
    body = random.Random(3).randbytes(200_000)
    head = f"PUT /{bucket}/expect HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    with open_socket(proxy.endpoint) as sock:
        sock.sendall(head.encode())
        assert read_head(sock) == b"HTTP/1.1 100 Continue\r\n\r\n"  # sent before any body byte
        sock.sendall(body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert (response.status, response.read()) == (200, b"")
    assert s3_client(s3_server).get_object(Bucket=bucket, Key="expect")["Body"].read() == body

    proxy.set(slowdown_share=1)
    with open_socket(proxy.endpoint) as sock:
        sock.sendall(head.replace("/expect", "/refused").encode())
        answer = read_head(sock)  # a final answer instead of 100, then the connection closes: no body is read
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"\r\nConnection: close\r\n" in answer
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        assert rest == SLOWDOWN_BODY
    assert counts(proxy) == zero(requests=2, forwarded=1, slowdowns=1)


def test_head_has_no_body_and_the_connection_is_kept_alive(proxy, bucket):
    connection = connect(proxy.endpoint)
    connection.request("HEAD", f"/{bucket}/one-mb")
    response = connection.getresponse()
    assert (response.status, response.getheader("Content-Length"), response.read()) == (200, str(1 << 20), b"")
    sock = connection.sock
    connection.request("GET", f"/{bucket}/small")
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"hello")
    assert connection.sock is sock  # the same TCP connection for both: the HEAD answer carried no body
    connection.close()


def test_latency_delays_each_request_and_concurrent_requests_together(proxy, bucket):
    s3 = s3_client(proxy.endpoint)
    s3.head_object(Bucket=bucket, Key="small")  # open a connection before timing
    proxy.set(latency_ms=200)
    started = time.monotonic()
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == b"hello"
    assert time.monotonic() - started >= 0.2

    with ThreadPoolExecutor(8) as pool:
        started = time.monotonic()
        bodies = list(pool.map(lambda _: s3.get_object(Bucket=bucket, Key="small")["Body"].read(), range(8)))
        elapsed = time.monotonic() - started
    assert bodies == [b"hello"] * 8
    assert 0.2 <= elapsed < 0.8  # serialised, 8 x 0.2 s would take 1.6 s
    assert counts(proxy) == zero(requests=10, forwarded=10)


def test_128_concurrent_keep_alive_connections(proxy, bucket):
    proxy.set(latency_ms=200)
    barrier = threading.Barrier(128)
    expected = random.Random(1).randbytes(1 << 20)

    def client(_: int) -> tuple[list[int], bool, bool]:
        connection = connect(proxy.endpoint)
        try:
            connection.connect()
            sock = connection.sock
            barrier.wait()
            statuses, same = [], True
            for key in ("small", "one-mb"):
                connection.request("GET", f"/{bucket}/{key}")
                response = connection.getresponse()
                statuses.append(response.status)
                body = response.read()
                same = same and connection.sock is sock
            return statuses, body == expected, same
        finally:
            connection.close()

    with ThreadPoolExecutor(128) as pool:
        started = time.monotonic()
        results = list(pool.map(client, range(128)))
        elapsed = time.monotonic() - started
    assert results == [([200, 200], True, True)] * 128
    assert elapsed < 5  # 256 requests delayed 0.2 s each, one after the other, would take 51 s
    assert counts(proxy) == zero(requests=256, forwarded=256)


def test_slowdown_and_internal_error_answers(proxy, bucket):
    s3 = s3_client(proxy.endpoint, retries=NO_RETRIES)
    proxy.set(slowdown_share=1)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="small")
    assert raised.value.response["Error"]["Code"] == "SlowDown"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

    # the answer on the wire, twice on one kept-alive connection
    connection = connect(proxy.endpoint)
    connection.connect()
    sock = connection.sock
    for _ in range(2):
        connection.request("GET", f"/{bucket}/small")
        response = connection.getresponse()
        assert (response.status, response.getheader("Content-Type")) == (503, "application/xml")
        assert response.getheader("Content-Length") == str(len(SLOWDOWN_BODY))
        assert response.read() == SLOWDOWN_BODY
    proxy.set(slowdown_share=0, error_share=1)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="small")
    assert raised.value.response["Error"]["Code"] == "InternalError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    proxy.set(error_share=0)
    connection.request("GET", f"/{bucket}/small")
    response = connection.getresponse()
    assert (response.status, response.read(), connection.sock is sock) == (200, b"hello", True)
    connection.close()
    assert counts(proxy) == zero(requests=5, forwarded=1, slowdowns=3, errors=1)


def test_slowdowns_are_retried_by_boto3_with_its_default_retry_config(proxy, bucket):
    # Random(36) draws 0.329, 0.983, 0.959, 0.918, 0.790, 0.875, 0.000, 0.627: with slowdown_share 0.5 the
    # 1st and 7th requests are answered 503, so 6 GETs take 8 requests (one retry each for GETs 1 and 6).
    draws = random.Random(36)
    assert [round(draws.random(), 3) for _ in range(8)] == [0.329, 0.983, 0.959, 0.918, 0.790, 0.875, 0.000, 0.627]
    s3 = s3_client(proxy.endpoint)
    proxy.set(slowdown_share=0.5, seed=36)
    assert [s3.get_object(Bucket=bucket, Key="small")["Body"].read() for _ in range(6)] == [b"hello"] * 6
    assert counts(proxy) == zero(requests=8, forwarded=6, slowdowns=2)


def test_reset_share_resets_connections(proxy, bucket):
    proxy.set(reset_share=1)
    with pytest.raises(ConnectionResetError) as raised:
        raw_get(proxy.endpoint, f"/{bucket}/small")
    assert raised.value.errno == errno.ECONNRESET  # an RST, not a clean close
    s3 = s3_client(proxy.endpoint, retries=NO_RETRIES)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        s3.get_object(Bucket=bucket, Key="small")
    assert counts(proxy) == zero(requests=2, resets=2)


def test_outage_ends_by_itself_and_can_be_switched(proxy, bucket):
    s3 = s3_client(proxy.endpoint, retries=NO_RETRIES)
    started = time.monotonic()
    proxy.set(outage_seconds=1.5)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        s3.get_object(Bucket=bucket, Key="small")
    with pytest.raises(ConnectionResetError):
        raw_get(proxy.endpoint, f"/{bucket}/small")
    assert proxy.stats()["outage_active"] is True
    time.sleep(max(0.0, started + 1.6 - time.monotonic()))
    assert proxy.stats()["outage_active"] is False
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == b"hello"

    proxy.set(outage=True)
    with pytest.raises(ConnectionResetError):
        raw_get(proxy.endpoint, f"/{bucket}/small")
    proxy.set(outage=False)
    assert raw_get(proxy.endpoint, f"/{bucket}/small") == (200, b"hello")
    assert counts(proxy) == zero(requests=5, forwarded=2, outage_resets=3)


def test_faults_apply_only_to_matching_methods_and_paths(proxy, bucket):
    s3 = s3_client(proxy.endpoint, retries=NO_RETRIES)
    proxy.set(error_share=1, methods=["get"])
    s3.put_object(Bucket=bucket, Key="bad-1", Body=b"one")  # PUT and HEAD pass
    assert s3.head_object(Bucket=bucket, Key="bad-1")["ContentLength"] == 3
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="small")
    assert raised.value.response["Error"]["Code"] == "InternalError"
    assert counts(proxy) == zero(requests=3, forwarded=2, errors=1)

    proxy.set(methods=None, path_regex=f"^/{bucket}/bad-")
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == b"hello"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_object(Bucket=bucket, Key="bad-1")
    assert counts(proxy) == zero(requests=5, forwarded=3, errors=2)


def test_stats_count_every_outcome_seed_reproduces_and_reset_clears(proxy, bucket):
    # Random(5) draws 0.623, 0.742, 0.795, 0.942, 0.740, 0.922, 0.029, 0.466: with shares reset 0.2,
    # slowdown 0.3 and error 0.2 (limits 0.2, 0.5, 0.7) that is error, 5 forwarded, reset, slowdown.
    draws = random.Random(5)
    assert [round(draws.random(), 3) for _ in range(8)] == [0.623, 0.742, 0.795, 0.942, 0.740, 0.922, 0.029, 0.466]
    settings = proxy.set(reset_share=0.2, slowdown_share=0.3, error_share=0.2, seed=5)
    assert settings == {**DEFAULT_FAULTS, "reset_share": 0.2, "slowdown_share": 0.3, "error_share": 0.2, "seed": 5}

    def outcomes() -> list[int | str]:
        seen: list[int | str] = []
        for _ in range(8):
            try:
                seen.append(raw_get(proxy.endpoint, f"/{bucket}/small")[0])
            except ConnectionResetError:
                seen.append("reset")
        return seen

    assert outcomes() == [500, 200, 200, 200, 200, 200, "reset", 503]
    stats = proxy.stats()
    assert stats["faults"] == settings and stats["outage_active"] is False
    assert counts(proxy) == zero(requests=8, forwarded=5, resets=1, slowdowns=1, errors=1)
    proxy.set(seed=5)  # the same seed again: the same outcomes
    assert outcomes() == [500, 200, 200, 200, 200, 200, "reset", 503]
    assert counts(proxy) == zero(requests=16, forwarded=10, resets=2, slowdowns=2, errors=2)

    with pytest.raises(ValueError, match="unknown fault settings: latency"):
        proxy.set(latency=5)
    with pytest.raises(ValueError, match="sum to at most 1"):
        proxy.set(error_share=0.9)
    assert proxy.stats()["faults"] == settings  # refused changes leave the settings as they were

    after = proxy.reset()
    assert after["faults"] == DEFAULT_FAULTS
    assert counts(proxy) == zero()
    assert [raw_get(proxy.endpoint, f"/{bucket}/small")[0] for _ in range(8)] == [200] * 8
    assert counts(proxy) == zero(requests=8, forwarded=8)
