"""Helpers for tests, benchmarks and setup: a moto S3 server on 127.0.0.1, peak memory of a process tree,
the driver JVM's class archive."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[str]:
    """Run moto's standalone S3 server on 127.0.0.1 and a free port; yields its endpoint URL."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").glob("*"))
    except OSError:  # the process ended meanwhile
        return found
    for task in tasks:
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
        stack.extend(_children(current))
    return total


class PeakMemory:
    """Samples the resident memory of a process tree every ``interval`` seconds; ``peak`` is the maximum."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(command: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> dict:
    """Run a command; returns its exit status, wall seconds, peak tree RSS and output."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, cwd=cwd
    )
    with PeakMemory(process.pid) as memory:
        stdout, stderr = process.communicate()
    return {
        "status": process.returncode,
        "seconds": time.monotonic() - started,
        "peak_rss_bytes": memory.peak,
        "stdout": stdout,
        "stderr": stderr,
    }


def write_class_archive() -> Path:
    """Run both pipelines on tiny generated samples in one driver JVM that writes the classes it loaded to
    the class archive when it exits (see :mod:`visionlake.spark`); returns the archive's path."""
    from visionlake.config import load_config
    from visionlake.lake.storage import write_many
    from visionlake.sources.alpr import pipeline as alpr
    from visionlake.sources.alpr.generate import iter_results
    from visionlake.sources.face_validation import pipeline as face_validation
    from visionlake.sources.face_validation.generate import write_exports
    from visionlake.spark import ARCHIVE_DUMP_ENV, CLASS_ARCHIVE, build_session, jars_dir

    target = jars_dir() / CLASS_ARCHIVE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    os.environ[ARCHIVE_DUMP_ENV] = str(target)
    cfg = load_config("local")
    with tempfile.TemporaryDirectory(prefix="visionlake-classes-") as tmp:
        root = Path(tmp)
        files = ((f.relative_path, f.body, f.mtime) for f in iter_results(300, seed=1))
        write_many(str(root / "alpr"), files, cfg.storage)
        write_exports(str(root / "face_validation"), 40, seed=1, landmarks=False, array_every=1)
        spark = build_session("visionlake-class-archive", cfg)
        spark.sparkContext.setLogLevel("ERROR")
        alpr.run(spark, cfg, str(root / "alpr"), str(root / "lake"))
        face_validation.run(spark, cfg, str(root / "face_validation"), str(root / "lake"))
        jvm = spark.sparkContext._gateway.proc  # the driver JVM pyspark started; it exits at end of its stdin
        spark.stop()
    jvm.stdin.close()
    jvm.wait(timeout=300)  # the archive is written as the JVM exits
    return target


class WebhookServer:
    """A webhook receiver for tests (see :func:`webhook_server`): records every request, fails the next
    ``fail_next(n, status)`` ones, answers after ``delay`` seconds (the next ``n`` after ``delay_next(n, s)``; with
    ``trickle``, its status line at once and then one header line every 0.1 s until then), else answers 202 as
    PagerDuty does.

    ``received`` holds one dict per request: ``path``, ``headers`` (a dict), ``body`` (the parsed JSON, or None
    when it is not JSON), ``status`` (the answer given)."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500, delay_seconds: float = 0.0) -> None:
        self.received: list[dict] = []
        self.delay = delay_seconds
        self.url = ""
        self._failing = fail_first
        self._fail_status = fail_status
        self._slow = 0
        self._slow_seconds = 0.0
        self._trickle = False
        self._lock = threading.Lock()

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next ``n`` requests with ``status``."""
        with self._lock:
            self._failing, self._fail_status = n, status

    def delay_next(self, n: int, seconds: float, trickle: bool = False) -> None:
        """Answer the next ``n`` requests after ``seconds`` (instead of ``delay``); with ``trickle``, begin at once
        and send one header line every 0.1 s meanwhile (a receiver that never stops answering)."""
        with self._lock:
            self._slow, self._slow_seconds, self._trickle = n, seconds, trickle

    def _record(self, path: str, headers: dict[str, str], data: bytes) -> tuple[int, float, bool]:
        """Record a request; returns the status to answer, the seconds to wait before, and whether to trickle."""
        import json

        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        with self._lock:
            status, delay, trickle = 202, self.delay, False
            if self._failing > 0:
                self._failing -= 1
                status = self._fail_status
            if self._slow > 0:
                self._slow -= 1
                delay, trickle = self._slow_seconds, self._trickle
            self.received.append({"path": path, "headers": headers, "body": body, "status": status})
        return status, delay, trickle


@contextmanager
def webhook_server(fail_first: int = 0, fail_status: int = 500, delay_seconds: float = 0.0) -> Iterator[WebhookServer]:
    """Run a :class:`WebhookServer` on 127.0.0.1 and a free port in a thread; yields it (``.url`` set)."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hook = WebhookServer(fail_first, fail_status, delay_seconds)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, delay, trickle = hook._record(self.path, dict(self.headers.items()), data)
            if delay > 0 and not trickle:
                time.sleep(delay)
            answer = {"status": "success", "message": "Event processed"} if status < 300 else {"status": "error"}
            payload = json.dumps(answer).encode()
            try:
                self.send_response(status)
                if trickle:
                    self.flush_headers()
                    for _ in range(round(delay / 0.1)):
                        self.wfile.write(b"X-Still-Answering: yes\r\n")
                        self.wfile.flush()
                        time.sleep(0.1)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up waiting (a timeout test)
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
