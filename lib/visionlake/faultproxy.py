"""A fault-injecting HTTP reverse proxy for S3 endpoints on 127.0.0.1 (moto's server, MinIO, ...).

Tests and benchmarks put it between a client (boto3, pyarrow, Spark's S3A) and the S3 endpoint to simulate
latency, throttling, server errors, connection resets and outages; there is no ``tc netem`` on this machine.

It runs as its own process, so that its CPU and GIL are not shared with the client under test::

    python -m visionlake.faultproxy --upstream http://127.0.0.1:5000 [--port 0] [--control-port 0]

listens on 127.0.0.1 only, prints one line ``data=http://127.0.0.1:P control=http://127.0.0.1:C`` once
listening, and serves until terminated. From Python::

    with fault_proxy("http://127.0.0.1:5000") as proxy:
        s3 = boto3.client("s3", endpoint_url=proxy.endpoint, ...)
        proxy.set(latency_ms=20, slowdown_share=0.1, seed=1)
        ...
        proxy.stats()  # {"requests": ..., "forwarded": ..., "faults": {...}, ...}

Data port: every request is forwarded to the upstream unchanged (method, path and query, headers including
the client's ``Host``, which S3 signatures cover, and body); the upstream's response comes back unchanged.
Bodies are streamed in pieces of :data:`CHUNK` bytes, never held whole. Request bodies framed by
``Content-Length`` or by ``Transfer-Encoding: chunked`` are both forwarded with the same framing.
``Expect: 100-continue`` is answered by the proxy itself: it sends ``100 Continue`` once it has decided to
forward the request, then streams the body on; the header is forwarded too (some signers cover it) and the
upstream's own interim ``100`` is skipped. A fault answer to such a request is sent without ``100`` and with
``Connection: close``, as the client will not send the body. Client connections are kept alive (HTTP/1.1),
each is served by its own thread, and upstream connections are kept alive in a pool shared by those threads.

Control port (JSON)::

    POST /faults   {"latency_ms": 20, "slowdown_share": 0.1, "seed": 1}   merge into the settings; returns them
    GET  /faults   the current settings
    GET  /stats    {"requests", "forwarded", "resets", "slowdowns", "errors", "outage_resets",
                    "upstream_errors", "outage_active", "faults": {...}}
    POST /reset    zero the counters and turn every fault off; returns the stats

Fault settings (all off by default; see :class:`Faults`): ``latency_ms``, ``reset_share``,
``slowdown_share``, ``error_share``, ``outage``, ``outage_seconds``, ``methods``, ``path_regex``, ``seed``.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import math
import os
import random
import re
import select
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHUNK = 256 * 1024
"""Bytes moved per read/write when streaming a body."""

HOP_BY_HOP = frozenset(["connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade"])
"""Headers that describe one connection, not the message: never forwarded as they are."""

SLOWDOWN = (503, "Service Unavailable", "SlowDown", "Please reduce your request rate.")
INTERNAL_ERROR = (500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again.")
BAD_GATEWAY = (502, "Bad Gateway", "BadGateway", "The fault proxy could not reach its upstream.")

COUNTERS = ("requests", "forwarded", "resets", "slowdowns", "errors", "outage_resets", "upstream_errors")

# What happens to one request, decided by FaultState.decide.
FORWARD, RESET, OUTAGE_RESET, SLOW_DOWN, ERROR = "forward", "reset", "outage_reset", "slowdown", "error"
OUTCOME_COUNTERS = {
    FORWARD: "forwarded",
    RESET: "resets",
    OUTAGE_RESET: "outage_resets",
    SLOW_DOWN: "slowdowns",
    ERROR: "errors",
}


@dataclasses.dataclass
class Faults:
    """The fault settings; all off by default.

    ``latency_ms``: delay before each matching request is handled (a sleep in its own thread, so concurrent
    requests are delayed concurrently). ``reset_share``, ``slowdown_share``, ``error_share`` (0..1, summing to
    at most 1): the share of matching requests whose connection is reset without an answer (RST), answered
    ``503 SlowDown``, answered ``500 InternalError``. ``outage``: every matching request has its connection
    reset until it is turned off; ``outage_seconds`` > 0 starts such an outage now, which ends by itself after
    that many seconds. ``methods`` and ``path_regex`` (searched in the path and query): when given, faults
    (latency and outages included) apply only to requests that match both; others pass untouched. ``seed``:
    re-seeds the random draw; the n-th matching request then always gets the same outcome (while a share is
    above 0, each matching request outside an outage draws ``u = Random(seed).random()``, in arrival order:
    reset if ``u < reset_share``, else 503 if ``u < reset_share + slowdown_share``, else 500 if ``u`` is
    below the sum of all three shares). Settings sent later are merged into these; ``null`` clears
    ``methods``, ``path_regex`` and ``seed``.
    """

    latency_ms: float = 0.0
    reset_share: float = 0.0
    slowdown_share: float = 0.0
    error_share: float = 0.0
    outage: bool = False
    outage_seconds: float = 0.0
    methods: list[str] | None = None
    path_regex: str | None = None
    seed: int | None = None

    def merged(self, changes: dict[str, Any]) -> Faults:
        """A copy with ``changes`` applied, validated; raises ValueError on an unknown key or a bad value."""
        if not isinstance(changes, dict):
            raise ValueError("the fault settings must be a JSON object")
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        new = dataclasses.replace(self, **changes)
        for name in ("latency_ms", "reset_share", "slowdown_share", "error_share", "outage_seconds"):
            value = getattr(new, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a number >= 0")
            setattr(new, name, float(value))
        shares = new.reset_share + new.slowdown_share + new.error_share
        if max(new.reset_share, new.slowdown_share, new.error_share) > 1 or shares > 1 + 1e-9:
            raise ValueError("reset_share, slowdown_share and error_share must lie in 0..1 and sum to at most 1")
        if not isinstance(new.outage, bool):
            raise ValueError("outage must be true or false")
        if new.methods is not None:
            if not isinstance(new.methods, list) or not all(isinstance(m, str) for m in new.methods):
                raise ValueError("methods must be a list of HTTP methods or null")
            new.methods = [m.upper() for m in new.methods]
        if new.path_regex is not None:
            if not isinstance(new.path_regex, str):
                raise ValueError("path_regex must be a string or null")
            try:
                re.compile(new.path_regex)
            except re.error as exc:
                raise ValueError(f"path_regex does not compile: {exc}") from None
        if new.seed is not None and (isinstance(new.seed, bool) or not isinstance(new.seed, int)):
            raise ValueError("seed must be an integer or null")
        return new


class FaultState:
    """The fault settings, the random draw and the counters, shared by all handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.faults = Faults()
        self._rng = random.Random()
        self._outage_until = 0.0
        self._path_regex: re.Pattern[str] | None = None
        self.counts = dict.fromkeys(COUNTERS, 0)

    def update(self, changes: dict[str, Any]) -> Faults:
        """Merge ``changes`` into the settings (ValueError leaves them as they were)."""
        with self._lock:
            new = self.faults.merged(changes)
            if "seed" in changes:
                self._rng = random.Random(new.seed)
            if changes.get("outage_seconds"):
                self._outage_until = time.monotonic() + new.outage_seconds
            if changes.get("outage") is False:
                self._outage_until = 0.0
            self._path_regex = re.compile(new.path_regex) if new.path_regex is not None else None
            self.faults = new
            return new

    def reset(self) -> None:
        """Zero the counters and turn every fault off."""
        with self._lock:
            self.faults = Faults()
            self._rng = random.Random()
            self._outage_until = 0.0
            self._path_regex = None
            self.counts = dict.fromkeys(COUNTERS, 0)

    def count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def _outage_active(self) -> bool:
        return self.faults.outage or time.monotonic() < self._outage_until

    def decide(self, method: str, target: str) -> tuple[float, str]:
        """Count one data request and decide its fate: (seconds to delay it, one of the outcomes)."""
        with self._lock:
            self.counts["requests"] += 1
            faults = self.faults
            matches = (faults.methods is None or method.upper() in faults.methods) and (
                self._path_regex is None or self._path_regex.search(target) is not None
            )
            delay = faults.latency_ms / 1000 if matches else 0.0
            outcome = FORWARD
            if matches and self._outage_active():
                outcome = OUTAGE_RESET
            elif matches and faults.reset_share + faults.slowdown_share + faults.error_share > 0:
                draw = self._rng.random()
                if draw < faults.reset_share:
                    outcome = RESET
                elif draw < faults.reset_share + faults.slowdown_share:
                    outcome = SLOW_DOWN
                elif draw < faults.reset_share + faults.slowdown_share + faults.error_share:
                    outcome = ERROR
            self.counts[OUTCOME_COUNTERS[outcome]] += 1
            return delay, outcome

    def snapshot(self) -> dict[str, Any]:
        """The counters, whether an outage is on now, and the settings, as JSON-ready data."""
        with self._lock:
            return {**self.counts, "outage_active": self._outage_active(), "faults": dataclasses.asdict(self.faults)}


class UpstreamPool:
    """Keep-alive connections to the upstream, shared by the handler threads (one connection per request)."""

    def __init__(self, url: str, timeout: float = 300.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"upstream must be http(s)://host[:port], not {url!r}")
        self.netloc = parts.netloc
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host, self._port, self._timeout = parts.hostname, parts.port, timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def acquire(self) -> http.client.HTTPConnection:
        """An idle connection (checked not to be closed by the upstream meanwhile) or a new, unopened one."""
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            return self._connection_class(self._host, self._port, timeout=self._timeout)
        if connection.sock is not None and select.select([connection.sock], [], [], 0)[0]:
            connection.close()  # readable while idle: the upstream closed it; it reconnects when next used
        return connection

    def release(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.append(connection)


class _ClientGone(Exception):
    """The client closed its connection or sent a malformed body."""


class _Server(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 with a deep accept queue that reports only unexpected errors."""

    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], state: FaultState, pool: UpstreamPool) -> None:
        self.state = state
        self.pool = pool
        super().__init__(("127.0.0.1", port), handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's own looks the host name up
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | http.client.HTTPException):
            traceback.print_exc(file=sys.stderr)


class DataHandler(BaseHTTPRequestHandler):
    """Forwards each request on a client connection to the upstream, or answers it with a fault."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: stdout carries only the first line, stderr only real bugs."""

    def handle_expect_100(self) -> bool:
        """Send no ``100 Continue`` yet: :meth:`proxy` sends it once it forwards the request."""
        return True

    def proxy(self) -> None:
        """Handle one request: delay it, then reset, answer with an error, or forward it."""
        encoding = self.headers.get("Transfer-Encoding", "").lower()
        chunked = "chunked" in encoding
        try:
            length = 0 if chunked else int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or (encoding and not chunked):
            self.close_connection = True
            self._reply_error(400, "Bad Request", "BadRequest", "Unsupported request body framing.")
            return
        delay, outcome = self.server.state.decide(self.command, self.path)
        if delay:
            time.sleep(delay)
        has_body = chunked or length > 0
        expect_continue = (
            has_body and self.request_version != "HTTP/1.0" and self.headers.get("Expect", "").lower() == "100-continue"
        )
        if outcome in (RESET, OUTAGE_RESET):
            self._reset_connection()
        elif outcome == FORWARD:
            self._forward(length, chunked, expect_continue)
        else:
            if has_body and expect_continue:
                self.close_connection = True  # no 100 Continue: the client will not send the body
            elif has_body:
                try:
                    self._copy_body(length, chunked, lambda data: None)
                except _ClientGone:
                    self.close_connection = True
                    return
            self._reply_error(*(SLOWDOWN if outcome == SLOW_DOWN else INTERNAL_ERROR))

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = proxy

    def _reset_connection(self) -> None:
        """Close the client connection with SO_LINGER 0: the kernel sends RST and the client sees ECONNRESET."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket closes for real once its file objects are closed too
        self.connection.close()

    def _send_head(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers)]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _reply_error(self, status: int, reason: str, code: str, message: str) -> None:
        """An S3 XML error response (no body to HEAD requests); keeps the connection unless it must close."""
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
        ).encode()
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        try:
            self._send_head(status, reason, [*headers, ("x-amz-request-id", "faultproxy")])
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _read_client(self, size: int) -> bytes:
        try:
            data = self.rfile.read1(size)
        except OSError as exc:
            raise _ClientGone from exc
        if not data:
            raise _ClientGone
        return data

    def _readline_client(self) -> bytes:
        try:
            line = self.rfile.readline(65537)
        except OSError as exc:
            raise _ClientGone from exc
        if not line.endswith(b"\n"):
            raise _ClientGone
        return line

    def _copy_body(self, length: int, chunked: bool, sink: Callable[[bytes], Any]) -> None:
        """Stream the request body to ``sink``: ``length`` bytes, or the chunked body with its framing as sent."""
        if not chunked:
            while length > 0:
                data = self._read_client(min(CHUNK, length))
                length -= len(data)
                sink(data)
            return
        while True:
            line = self._readline_client()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _ClientGone from None
            sink(line)
            if size == 0:
                while True:  # trailer fields, up to the empty line
                    line = self._readline_client()
                    sink(line)
                    if line in (b"\r\n", b"\n"):
                        return
            self._copy_body(size, False, sink)
            if self._readline_client().strip():
                raise _ClientGone
            sink(b"\r\n")

    def _send_request(self, upstream: http.client.HTTPConnection, length: int, chunked: bool, expect: bool) -> None:
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        listed = {token.strip().lower() for token in self.headers.get("Connection", "").split(",")}
        if chunked:
            listed.add("content-length")  # chunked framing wins over a Content-Length (RFC 9112, 6.3)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() not in listed:
                upstream.putheader(name, value)
        if "Host" not in self.headers:
            upstream.putheader("Host", self.server.pool.netloc)
        if chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        upstream.endheaders()
        if expect:
            try:
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError as exc:
                raise _ClientGone from exc
        if chunked or length:
            self._copy_body(length, chunked, upstream.send)

    def _forward(self, length: int, chunked: bool, expect: bool) -> None:
        pool = self.server.pool
        for attempt in (1, 2):
            upstream = pool.acquire()
            reused = upstream.sock is not None
            try:
                self._send_request(upstream, length, chunked, expect)
                response = upstream.getresponse()
                break
            except _ClientGone:
                upstream.close()
                self.close_connection = True
                return
            except (OSError, http.client.HTTPException):
                upstream.close()
                if attempt == 1 and reused and not (chunked or length):
                    continue  # a kept-alive connection the upstream had just closed: once more on a new one
                self.server.state.count("upstream_errors")
                self.close_connection = True  # the request body may be partly unread
                self._reply_error(*BAD_GATEWAY)
                return
        try:
            self._relay(response)
        except (OSError, http.client.HTTPException):
            upstream.close()  # the client or the upstream went away mid-response
            self.close_connection = True
            return
        pool.release(upstream)

    def _relay(self, response: http.client.HTTPResponse) -> None:
        """Send the upstream's response back: its status, headers and body, re-framed for this connection."""
        status = response.status
        dropped = HOP_BY_HOP | {"trailer"}  # http.client reads a chunked response's trailer fields and drops them
        headers = [(name, value) for name, value in response.getheaders() if name.lower() not in dropped]
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        if not no_body and response.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        elif not no_body and response.length is None:
            self.close_connection = True  # the body ends when the connection closes
        self._send_head(status, response.reason, headers)
        if no_body:
            response.read()
            return
        while data := response.read1(CHUNK):
            if response.chunked:
                self.wfile.write(b"%X\r\n" % len(data))
                self.wfile.write(data)
                self.wfile.write(b"\r\n")
            else:
                self.wfile.write(data)
        if response.chunked:
            self.wfile.write(b"0\r\n\r\n")
        response.read()  # b"": marks the response done (read1 does not), so the connection can send again


class ControlHandler(BaseHTTPRequestHandler):
    """``POST /faults``, ``GET /faults``, ``GET /stats``, ``POST /reset``; JSON in and out."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/stats":
            self._reply(200, state.snapshot())
        elif self.path == "/faults":
            self._reply(200, state.snapshot()["faults"])
        else:
            self._reply(404, {"error": f"no such resource {self.path}"})

    def do_POST(self) -> None:
        state = self.server.state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/reset":
            state.reset()
            self._reply(200, state.snapshot())
        elif self.path == "/faults":
            try:
                faults = state.update(json.loads(body or b"{}"))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError too
                self._reply(400, {"error": str(exc)})
                return
            self._reply(200, dataclasses.asdict(faults))
        else:
            self._reply(404, {"error": f"no such resource {self.path}"})


def start_servers(upstream: str, port: int = 0, control_port: int = 0) -> tuple[_Server, _Server]:
    """Bind the data and control servers on 127.0.0.1 (0: any free port); the caller runs ``serve_forever``."""
    state, pool = FaultState(), UpstreamPool(upstream)
    data = _Server(port, DataHandler, state, pool)
    try:
        control = _Server(control_port, ControlHandler, state, pool)
    except OSError:
        data.server_close()
        raise
    return data, control


def main(argv: list[str] | None = None) -> int:
    """The command line: serve until terminated."""
    parser = argparse.ArgumentParser(prog="python -m visionlake.faultproxy", description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="the S3 endpoint, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0, help="data port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--control-port", type=int, default=0, help="control port on 127.0.0.1 (0: any free one)")
    args = parser.parse_args(argv)
    try:
        data, control = start_servers(args.upstream, args.port, args.control_port)
    except (ValueError, OSError) as exc:  # a malformed upstream URL, a port in use
        parser.error(str(exc))
    print(f"data=http://127.0.0.1:{data.server_port} control=http://127.0.0.1:{control.server_port}", flush=True)
    threading.Thread(target=control.serve_forever, name="faultproxy-control", daemon=True).start()
    with suppress(KeyboardInterrupt):
        data.serve_forever()
    return 0


@dataclasses.dataclass
class FaultProxy:
    """A running proxy process: ``endpoint`` is the URL for S3 clients, ``control`` the control URL."""

    endpoint: str
    control: str
    process: subprocess.Popen[bytes]

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        parts = urlsplit(self.control)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            body = json.dumps(payload).encode() if payload is not None else b""
            connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            result = json.loads(response.read())
        finally:
            connection.close()
        if response.status == 400:
            raise ValueError(result["error"])
        if response.status != 200:
            raise RuntimeError(f"fault proxy {method} {path}: {response.status} {result}")
        return result

    def set(self, **faults: Any) -> dict[str, Any]:
        """Merge these settings into the proxy's (see :class:`Faults`); returns all settings now in force."""
        return self._call("POST", "/faults", faults)

    def stats(self) -> dict[str, Any]:
        """The counters, ``outage_active`` and the settings (``faults``)."""
        return self._call("GET", "/stats")

    def reset(self) -> dict[str, Any]:
        """Zero the counters and turn every fault off."""
        return self._call("POST", "/reset")


def _read_addresses(process: subprocess.Popen[bytes], timeout: float) -> dict[str, str]:
    """Wait for the proxy's ``data=... control=...`` line (unbuffered reads, so nothing waits in a buffer)."""
    assert process.stdout is not None
    deadline, received = time.monotonic() + timeout, b""
    while True:
        for line in received.split(b"\n")[:-1]:
            if line.startswith(b"data="):
                return dict(field.split("=", 1) for field in line.decode().split())
        if not select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise RuntimeError(f"the fault proxy did not start within {timeout} s")
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            raise RuntimeError(f"the fault proxy exited with status {process.wait()}")
        received += chunk


@contextmanager
def fault_proxy(upstream: str, port: int = 0, control_port: int = 0, timeout: float = 30.0) -> Iterator[FaultProxy]:
    """Run ``python -m visionlake.faultproxy`` in front of ``upstream``; yields a :class:`FaultProxy` and
    terminates the process on exit."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[1])  # works also where the package is not installed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "visionlake.faultproxy", "--upstream", upstream]
    command += ["--port", str(port), "--control-port", str(control_port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    try:
        fields = _read_addresses(process, timeout)
        yield FaultProxy(endpoint=fields["data"], control=fields["control"], process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
