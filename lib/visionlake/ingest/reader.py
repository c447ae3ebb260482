"""Reading many small files per Spark task, handed to Spark as Arrow batches.

The driver cuts the listing into chunks of about ``target_task_mb`` of input and broadcasts it; a
one-row-per-task ``spark.range`` drives ``mapInArrow``, and each task reads its chunk with plain
buffered IO (local) or concurrent GETs (S3) and yields (path, size, mtime, sha256, text) rows. Nothing
here assumes one machine: executors open the files themselves.

A file that cannot be read now (it vanished or changed after it was listed, or kept failing) is not
"seen": it yields no row, so bronze does not hold it and the next run reads it. Only a file that was read
and is bad, or a directory entry that can never be read (a dangling link), becomes a row with an error.
When the object store itself keeps failing, the task fails and so does the run, with nothing committed.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from visionlake.config import IngestSettings, StorageSettings
from visionlake.ingest import jsonsplit
from visionlake.ingest.batches import record_batch
from visionlake.ingest.drift import BLOCK_BYTES, FieldScanner
from visionlake.ingest.jsonparse import TRAILING
from visionlake.ingest.listing import FileEntry, camera_of
from visionlake.lake import storage as st
from visionlake.transforms.times import bounded_seconds

ROWS_PER_BATCH = 2_000
PENDING = "pending"  # read_error prefix of a file that could not be read now: it is not ingested, the next run reads it

READ_SCHEMA = T.StructType(
    [
        T.StructField("source_path", T.StringType(), False),
        T.StructField("camera_id", T.StringType(), False),
        T.StructField("size_bytes", T.LongType(), False),
        T.StructField("modified_at", T.TimestampType(), False),
        T.StructField("sha256", T.StringType(), True),
        T.StructField("raw", T.StringType(), True),
        T.StructField("read_error", T.StringType(), True),
        T.StructField("new_fields", T.ArrayType(T.StringType()), True),
        T.StructField(TRAILING, T.BooleanType(), True),
    ]
)

# (path, camera_id, size, mtime, error) per file; a chunk is what one task reads.
Chunk = list[tuple[str, str, int, float, str | None]]


class PathSet(AccumulatorParam):
    """Spark accumulator of ``{path: why}``: the files that tasks could not read now."""

    def zero(self, value: dict) -> dict:
        return {}

    def addInPlace(self, first: dict, second: dict) -> dict:
        first.update(second)
        return first


def least_tasks(settings: IngestSettings, parallelism: int) -> int:
    """The fewest read tasks a batch is cut into: ``min_tasks``, raised to the default parallelism (both readers)."""
    return max(settings.min_tasks, parallelism)


def plan_chunks(root: str, files: Sequence[FileEntry], settings: IngestSettings, parallelism: int) -> list[Chunk]:
    """Cut the listing into contiguous chunks of about ``target_task_mb``, at least ``min_tasks`` of them."""
    if not files:
        return []
    total = sum(f.size for f in files)
    tasks = max(least_tasks(settings, parallelism), -(-total // (settings.target_task_mb << 20)))
    tasks = min(tasks, len(files))
    per_task = total / tasks
    chunks: list[Chunk] = [[]]
    filled = 0
    for entry in files:
        if filled >= per_task * len(chunks) and len(chunks) < tasks:
            chunks.append([])
        chunks[-1].append((entry.path, camera_of(root, entry.path), entry.size, entry.mtime, entry.error))
        filled += entry.size
    return chunks


def _decode(data: bytes) -> tuple[str | None, str | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return None, "invalid_encoding: UTF-16 (the file starts with a UTF-16 byte-order mark), not UTF-8"
        return None, f"invalid_encoding: not UTF-8 at byte {exc.start}"


def _read_local(path: str) -> tuple[bytes, float]:
    with open(path, "rb") as handle:
        modified = bounded_seconds(os.fstat(handle.fileno()).st_mtime)  # as listed
        return handle.read(), modified


class _Retries:
    """The retry budget of one task: a file that fails is tried again with backoff while the budget lasts."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def fetch(self, fetch, path: str) -> tuple[bytes, float]:
        delay = 0.05
        while True:
            try:
                return fetch(path)
            except st.EndpointError:
                raise  # the store itself is failing: the run fails, nothing of it is committed
            except Exception:
                if time.monotonic() + delay > self.deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def _load(item: tuple, fetch, retries: _Retries, same_time) -> tuple[tuple, bytes | None]:
    """(the READ_SCHEMA row of one file but ``trailing``, its bytes when they were read as UTF-8, else None)."""
    path, camera, size, mtime, error = item
    when = datetime.fromtimestamp(mtime, tz=UTC)
    if error is not None:
        return (path, camera, size, when, None, None, error, None), None
    try:
        data, modified = retries.fetch(fetch, path)
    except st.EndpointError:
        raise
    except (FileNotFoundError, st.MissingObjectError):
        return (path, camera, size, when, None, None, f"{PENDING}: it vanished after it was listed", None), None
    except Exception as exc:
        return (path, camera, size, when, None, None, f"{PENDING}: {type(exc).__name__}: {exc}", None), None
    if len(data) != size or not same_time(modified, mtime):
        why = f"{PENDING}: it changed while it was read (listed {size} bytes, read {len(data)})"
        return (path, camera, size, when, None, None, why, None), None
    text, error = _decode(data)
    row = (path, camera, len(data), when, hashlib.sha256(data).hexdigest(), text, error, None)
    return row, (data if error is None else None)


def _finished(loaded: list[tuple[tuple, bytes | None]], scanner: FieldScanner | None) -> list[tuple]:
    """The READ_SCHEMA rows of ``loaded`` (:func:`_load`): with what ``scanner`` finds in their bytes
    (``new_fields``, and a problem as ``read_error``), the files of a batch scanned together
    (:meth:`FieldScanner.scan_many`), and ``trailing`` (:func:`~visionlake.ingest.jsonsplit.trailing_flags`; null
    for a file the scan cannot tell, one not read or not UTF-8, or one past
    :data:`~visionlake.ingest.drift.BLOCK_BYTES`: silver's JVM test decides those)."""
    datas = [data for _, data in loaded]
    flags = jsonsplit.trailing_flags(
        [data if data is not None and len(data) <= BLOCK_BYTES else None for data in datas]
    )
    rows = [(*row, flag) for (row, _), flag in zip(loaded, flags, strict=True)]
    if scanner is not None:
        for i, (fields, problem) in scanner.scan_many(datas).items():
            rows[i] = (*rows[i][:6], problem, fields, rows[i][8])
    return rows


def _read_chunk(chunk: Chunk, storage: StorageSettings, settings: IngestSettings) -> Iterator[tuple]:
    """(row, bytes to scan) of :func:`_load` for each file of a chunk: buffered reads locally, ``read_threads``
    concurrent GETs on S3."""
    retries = _Retries(settings.read_retry_seconds)
    if not chunk or not st.is_s3(chunk[0][0]):
        same = lambda a, b: abs(a - b) < 1e-6  # noqa: E731
        for item in chunk:
            yield _load(item, _read_local, retries, same)
        return
    client = st.s3_client(storage, max_pool_connections=settings.read_threads)
    same = lambda a, b: int(a) == int(b)  # noqa: E731  (GET gives whole seconds, listings milliseconds)

    def get(path: str) -> tuple[bytes, float]:
        return st.get_object(client, path, storage)

    with ThreadPoolExecutor(max_workers=settings.read_threads) as pool:
        for start in range(0, len(chunk), ROWS_PER_BATCH):
            window = chunk[start : start + ROWS_PER_BATCH]
            yield from pool.map(lambda item: _load(item, get, retries, same), window)


def chunk_reader(
    chunks: object, storage: StorageSettings, settings: IngestSettings, scanner: FieldScanner | None, pending
):
    """The function each task runs: read the chunks whose ids arrive, yield READ_SCHEMA batches of the files
    read (or unreadable for good); files that could not be read now go to the ``pending`` accumulator.

    Args:
        chunks: a broadcast of the list of chunks.
        storage: storage settings, for S3 inputs.
        settings: ingest settings (GET threads, retry budget).
        scanner: finds undeclared fields (``new_fields``), or None.
        pending: a :class:`PathSet` accumulator.
    """

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for chunk_id in batch.column(0).to_pylist():
                loaded, later = [], {}
                for row, data in _read_chunk(chunks.value[chunk_id], storage, settings):
                    if row[6] is not None and row[6].startswith(PENDING):
                        later[row[0]] = row[6].removeprefix(f"{PENDING}: ")
                    else:
                        loaded.append((row, data))
                    if len(loaded) >= ROWS_PER_BATCH:
                        yield record_batch(_finished(loaded, scanner), READ_SCHEMA)
                        loaded = []
                if loaded:
                    yield record_batch(_finished(loaded, scanner), READ_SCHEMA)
                if later:
                    pending.add(later)

    return read


@dataclass
class Read:
    """Files as read: ``rows`` (READ_SCHEMA, one per file read or unreadable for good) and, once a job over
    ``rows`` has run, ``pending.value``: ``{path: why}`` of the files to read again next run."""

    rows: DataFrame
    pending: object
    planned: dict = field(default_factory=dict)  # {path: why} of the pending files known before the read


def read_files(
    spark: SparkSession,
    root: str,
    files: Sequence[FileEntry],
    storage: StorageSettings,
    settings: IngestSettings,
    scanner: FieldScanner | None = None,
) -> Read:
    """One READ_SCHEMA row per file, read by Spark tasks.

    ``read_error`` is null for a file that was read, decoded and scanned; otherwise it is ``<reason>: <detail>``:
    ``invalid_encoding`` (``raw`` is null), or what the ``scanner`` found (``non_finite_number``,
    ``schema_mismatch``; ``raw`` is kept). A file that cannot be read now (it vanished, changed while read,
    or kept failing for ``ingest.read_retry_seconds``) yields no row: it is reported in ``pending`` and stays
    new for the next run.

    Raises (from the job): EndpointError when object storage keeps failing for ``storage.retry_seconds``.
    """
    pending = spark.sparkContext.accumulator({}, PathSet())
    chunks = plan_chunks(root, files, settings, spark.sparkContext.defaultParallelism)
    if not chunks:
        return Read(spark.createDataFrame([], READ_SCHEMA), pending)
    shared = spark.sparkContext.broadcast(chunks)
    reader = chunk_reader(shared, storage, settings, scanner, pending)
    rows = spark.range(len(chunks), numPartitions=len(chunks)).mapInArrow(reader, READ_SCHEMA)
    return Read(rows, pending)
