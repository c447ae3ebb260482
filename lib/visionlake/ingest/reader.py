"""Reading many small files per Spark task, handed to Spark as Arrow batches.

The driver cuts the listing into chunks of about ``target_task_mb`` of input and broadcasts it; a
one-row-per-task ``spark.range`` drives ``mapInArrow``, and each task reads its chunk with plain
buffered IO (local) or concurrent GETs (S3) and yields (path, size, mtime, sha256, text) rows. Nothing
here assumes one machine: executors open the files themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from visionlake.config import IngestSettings, StorageSettings
from visionlake.ingest.batches import record_batch
from visionlake.ingest.listing import FileEntry, camera_of
from visionlake.lake import storage as st

ROWS_PER_BATCH = 2_000

READ_SCHEMA = T.StructType(
    [
        T.StructField("source_path", T.StringType(), False),
        T.StructField("camera_id", T.StringType(), False),
        T.StructField("size_bytes", T.LongType(), False),
        T.StructField("modified_at", T.TimestampType(), False),
        T.StructField("sha256", T.StringType(), True),
        T.StructField("raw", T.StringType(), True),
        T.StructField("read_error", T.StringType(), True),
    ]
)

# (path, camera_id, size, mtime) per file; a chunk is what one task reads.
Chunk = list[tuple[str, str, int, float]]


def plan_chunks(root: str, files: Sequence[FileEntry], settings: IngestSettings, parallelism: int) -> list[Chunk]:
    """Cut the listing into contiguous chunks of about ``target_task_mb``, at least ``min_tasks`` of them."""
    if not files:
        return []
    total = sum(f.size for f in files)
    tasks = max(settings.min_tasks, parallelism, -(-total // (settings.target_task_mb << 20)))
    tasks = min(tasks, len(files))
    per_task = total / tasks
    chunks: list[Chunk] = [[]]
    filled = 0
    for entry in files:
        if filled >= per_task * len(chunks) and len(chunks) < tasks:
            chunks.append([])
        chunks[-1].append((entry.path, camera_of(root, entry.path), entry.size, entry.mtime))
        filled += entry.size
    return chunks


def _decode(data: bytes) -> tuple[str | None, str | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"invalid_encoding: not UTF-8 at byte {exc.start}"


def _read_local(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _load(item: tuple[str, str, int, float], fetch) -> tuple:
    path, camera, size, mtime = item
    when = datetime.fromtimestamp(mtime, tz=UTC)
    try:
        data = fetch(path)
    except Exception as exc:
        return (path, camera, size, when, None, None, f"unreadable: {type(exc).__name__}: {exc}")
    text, error = _decode(data)
    return (path, camera, len(data), when, hashlib.sha256(data).hexdigest(), text, error)


def _read_chunk(chunk: Chunk, storage: StorageSettings, threads: int) -> Iterator[pa.RecordBatch]:
    """Batches of READ_SCHEMA rows for one chunk: buffered reads locally, ``threads`` concurrent GETs on S3."""
    if not chunk or not st.is_s3(chunk[0][0]):
        for start in range(0, len(chunk), ROWS_PER_BATCH):
            yield record_batch(
                [_load(item, _read_local) for item in chunk[start : start + ROWS_PER_BATCH]], READ_SCHEMA
            )
        return
    client = st.s3_client(storage, max_pool_connections=threads)

    def get(path: str) -> bytes:
        bucket, key = st.split_s3(path)
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for start in range(0, len(chunk), ROWS_PER_BATCH):
            window = chunk[start : start + ROWS_PER_BATCH]
            yield record_batch(list(pool.map(lambda item: _load(item, get), window)), READ_SCHEMA)


def chunk_reader(chunks: object, storage: StorageSettings, threads: int):
    """The function each task runs: read the chunks whose ids arrive, yield READ_SCHEMA batches.

    Args:
        chunks: a broadcast of the list of chunks.
        storage: storage settings, for S3 inputs.
        threads: concurrent GETs per task on S3.
    """

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for chunk_id in batch.column(0).to_pylist():
                yield from _read_chunk(chunks.value[chunk_id], storage, threads)

    return read


def read_files(
    spark: SparkSession, root: str, files: Sequence[FileEntry], storage: StorageSettings, settings: IngestSettings
) -> DataFrame:
    """A DataFrame of READ_SCHEMA rows, one per file, read by Spark tasks.

    ``read_error`` is null for a file that was read and decoded; otherwise it is
    ``<reason>: <detail>`` and ``raw`` is null.
    """
    chunks = plan_chunks(root, files, settings, spark.sparkContext.defaultParallelism)
    if not chunks:
        return spark.createDataFrame([], READ_SCHEMA)
    shared = spark.sparkContext.broadcast(chunks)
    reader = chunk_reader(shared, storage, settings.read_threads)
    return spark.range(len(chunks), numPartitions=len(chunks)).mapInArrow(reader, READ_SCHEMA)
