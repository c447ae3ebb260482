"""One run at a time per source and lake: a lease that a killed holder cannot keep.

- Local lakes: an exclusive ``flock`` on ``<lake>/_locks/<name>.lock``. The kernel drops it when the
  holder's process ends, however it ends (SIGKILL included), so the next run takes over at once.
- S3 lakes: the object ``<lake>/_locks/<name>.lease`` holds the holder and an expiry time; it is created
  with ``If-None-Match: *`` and renewed or taken over with ``If-Match: <etag>`` (S3 conditional writes), so
  two runs can never both hold it. A heartbeat thread renews it every third of its time to live; a holder
  that was killed stops renewing and the lease expires.

The lease file says ``held`` while a run holds it and ``released`` after. A run that finds ``held`` when it
takes over knows the previous holder was killed, and records that run as ``interrupted`` in ``_runs``; the
lease file carries such runs until they are recorded, so a run killed while recording them passes them on.
The lease is only the first guard: every commit also fails when data changed under it
(:func:`visionlake.lake.delta.commit`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from visionlake.config import Config, StorageSettings
from visionlake.errors import LeaseTimeoutError
from visionlake.lake import storage as st


@dataclass(frozen=True)
class Holder:
    run_id: str
    host: str
    pid: int
    since: str
    state: str = "held"


class Lease:
    """Exclusive hold of ``name`` (a source) in ``lake`` for one run; a context manager.

    Args:
        lake: the lake root.
        name: what is held, e.g. ``alpr``.
        run_id: the holder's run id (written into the lease).
        storage: storage settings, for S3 lakes.
        wait_seconds: how long to wait for another holder before giving up.
        ttl_seconds: S3 only: how long a holder that stopped renewing keeps the lease.
    """

    def __init__(
        self,
        lake: str,
        name: str,
        run_id: str,
        storage: StorageSettings,
        wait_seconds: float = 900.0,
        ttl_seconds: float = 120.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self.lake = st.normalize(lake)
        self.name = name
        self.run_id = run_id
        self.storage = storage
        self.wait_seconds = wait_seconds
        self.ttl_seconds = ttl_seconds
        self.poll_seconds = poll_seconds
        # runs that were killed while holding the lease and are not recorded in _runs yet (a run killed while
        # recording them passes them on): the holder records them, then calls recorded()
        self.interrupted: list[Holder] = []
        self.waited = 0.0
        self._fd: int | None = None
        self._etag: str | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self.lost = False

    @classmethod
    def configured(cls, cfg: Config, lake: str, name: str, run_id: str) -> Lease:
        """The lease on ``name`` in ``lake`` with the storage, wait and time to live that ``cfg`` sets."""
        return cls(lake, name, run_id, cfg.storage, cfg.lake.lease_wait_seconds, cfg.lake.lease_ttl_seconds)

    # ---------------------------------------------------------------------------------------------

    def _holder(self, state: str = "held") -> bytes:
        now = time.time()
        record = {
            "run_id": self.run_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            "state": state,
            "expires_at": now + self.ttl_seconds,
            "unrecorded": [dataclasses.asdict(h) for h in self.interrupted],
        }
        return json.dumps(record).encode()

    def _take_over(self, previous: dict) -> None:
        """Note the runs the previous holder left unrecorded, and the previous holder if it was killed."""
        unrecorded = previous.get("unrecorded")
        self.interrupted = (
            [_holder_of(h) for h in unrecorded if isinstance(h, dict)] if isinstance(unrecorded, list) else []
        )
        if previous.get("state") == "held":
            self.interrupted.append(_holder_of(previous))

    @staticmethod
    def _parse(data: bytes) -> dict:
        try:
            record = json.loads(data.decode() or "{}")
        except (ValueError, RecursionError):  # not UTF-8, not JSON, a number of 4,300 digits, nested too deep
            return {}
        return record if isinstance(record, dict) else {}

    def _describe(self, record: dict) -> str:
        return (
            f"run {record.get('run_id', '?')} (pid {record.get('pid', '?')} on {record.get('host', '?')}, "
            f"since {record.get('since', '?')})"
        )

    def _timeout(self, record: dict) -> LeaseTimeoutError:
        return LeaseTimeoutError(
            f"another run holds the lease on {self.name} in {self.lake}: {self._describe(record)}; "
            f"waited {self.wait_seconds:g} s (lake.lease_wait_seconds)"
        )

    # ---------------------------------------------------------------------------------------------
    # local: flock

    def _acquire_local(self) -> None:
        import fcntl

        folder = os.path.join(self.lake, "_locks")
        os.makedirs(folder, exist_ok=True)
        fd = os.open(os.path.join(folder, f"{self.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_seconds
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    record = self._parse(os.pread(fd, max(os.fstat(fd).st_size, 1), 0))
                    os.close(fd)
                    raise self._timeout(record) from None
                time.sleep(self.poll_seconds)
        self.waited = time.monotonic() - started
        self._take_over(self._parse(os.pread(fd, max(os.fstat(fd).st_size, 1), 0)))
        self._write_local(fd, self._holder())
        self._fd = fd

    @staticmethod
    def _write_local(fd: int, data: bytes) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)

    def _release_local(self) -> None:
        import fcntl

        if self._fd is None:
            return
        try:
            self._write_local(self._fd, self._holder("released"))
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    # ---------------------------------------------------------------------------------------------
    # S3: conditional writes

    def _key(self) -> tuple[str, str]:
        return st.split_s3(st.join(self.lake, "_locks", f"{self.name}.lease"))

    def _acquire_s3(self) -> None:
        from botocore.exceptions import ClientError

        client = st.s3_client(self.storage)
        bucket, key = self._key()
        where = st.join(self.lake, "_locks", f"{self.name}.lease")

        def put(**condition) -> str:  # the ETag; store failures are retried (storage.retry_seconds)
            body = self._holder()
            answer = st.retrying(
                lambda: client.put_object(Bucket=bucket, Key=key, Body=body, **condition), self.storage, where
            )
            return answer["ETag"]

        def refused(exc: ClientError) -> bool:
            return exc.response["Error"].get("Code") in ("PreconditionFailed", "ConditionalRequestConflict")

        deadline = time.monotonic() + self.wait_seconds
        started = time.monotonic()
        record: dict = {}
        while True:
            try:
                self._etag = put(IfNoneMatch="*")
                break
            except ClientError as exc:
                if not refused(exc):
                    raise
            try:
                current = st.retrying(lambda: client.get_object(Bucket=bucket, Key=key), self.storage, where)
            except FileNotFoundError:
                continue  # released and deleted meanwhile: try to create it again
            record = self._parse(current["Body"].read())
            free = record.get("state") != "held" or _number(record.get("expires_at")) < time.time()
            if free:
                self._take_over(record)
                try:
                    self._etag = put(IfMatch=current["ETag"])
                    break
                except ClientError as exc:
                    self.interrupted = []
                    if not refused(exc):
                        raise
                    continue  # another run took it first
            if time.monotonic() >= deadline:
                raise self._timeout(record)
            time.sleep(self.poll_seconds)
        self.waited = time.monotonic() - started
        self._heartbeat = threading.Thread(target=self._renew, args=(client,), daemon=True)
        self._heartbeat.start()

    def _renew(self, client) -> None:
        bucket, key = self._key()
        while not self._stop.wait(self.ttl_seconds / 3):
            try:
                self._etag = client.put_object(Bucket=bucket, Key=key, Body=self._holder(), IfMatch=self._etag)["ETag"]
            except Exception:
                # Taken over (we were presumed dead) or the store is unreachable: commits still check for
                # concurrent changes, so keep going and let them decide.
                self.lost = True

    def _release_s3(self) -> None:
        if self._heartbeat is None:
            return
        self._stop.set()
        self._heartbeat.join()
        self._heartbeat = None
        bucket, key = self._key()
        # lost meanwhile, or the store is down: then the lease expires by itself
        with contextlib.suppress(Exception):
            st.s3_client(self.storage).put_object(
                Bucket=bucket, Key=key, Body=self._holder("released"), IfMatch=self._etag
            )

    # ---------------------------------------------------------------------------------------------

    def recorded(self) -> None:
        """The interrupted runs are in _runs now: stop passing them on."""
        if not self.interrupted:
            return
        self.interrupted = []
        if self._fd is not None:
            self._write_local(self._fd, self._holder())
        elif self._etag is not None:
            bucket, key = self._key()
            with contextlib.suppress(Exception):  # the next holder would record them again: harmless
                self._etag = st.s3_client(self.storage).put_object(
                    Bucket=bucket, Key=key, Body=self._holder(), IfMatch=self._etag
                )["ETag"]

    def acquire(self) -> Lease:
        """Take the lease, waiting up to ``wait_seconds`` for another holder.

        Raises:
            LeaseTimeoutError: another run still holds it after the wait.
        """
        if st.is_s3(self.lake):
            self._acquire_s3()
        else:
            self._acquire_local()
        return self

    def release(self) -> None:
        if st.is_s3(self.lake):
            self._release_s3()
        else:
            self._release_local()

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _number(value: object) -> float:
    """A number of a lease file (its expiry, a pid), 0 when it is not one: a hand-edited or damaged lease file
    must not make its source unrunnable (an unreadable expiry counts as expired)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _holder_of(record: dict) -> Holder:
    return Holder(
        run_id=str(record.get("run_id", "?"))[:200],
        host=str(record.get("host", "?"))[:200],
        pid=int(_number(record.get("pid"))),
        since=str(record.get("since", "?"))[:100],
        state=str(record.get("state", "held")),
    )
