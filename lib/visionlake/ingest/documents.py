"""Reading MongoDB exports (JSON Lines or ``--jsonArray``) of any size as one row per document.

The driver cuts every file into pieces of about ``target_task_mb`` and Spark tasks read the pieces in
parallel, each holding one piece at most:
- a JSON Lines file is cut at byte offsets; a task takes the lines that start in its range
  (:func:`~visionlake.ingest.jsonsplit.read_lines`);
- a ``--jsonArray`` file, which may be one 2 GB line, is first scanned by one task per file that finds
  the byte offsets of its elements (:func:`~visionlake.ingest.jsonsplit.array_elements`, streaming) and
  groups them into ranges of whole elements; tasks then read those ranges.
A file's form is told by its first non-blank byte: ``[`` is an array, anything else is JSON Lines.

Rows carry the file's lineage, the document's byte offset, the sha256 of its bytes and its text;
``read_error`` (``<reason>: <detail>``) is set instead of the text when the file could not be read or the
document is not UTF-8. Nothing here assumes one machine: tasks open the files themselves.
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
from visionlake.ingest import jsonsplit
from visionlake.ingest.batches import record_batch
from visionlake.ingest.listing import FileEntry
from visionlake.lake import storage as st

LINES, ARRAY = "lines", "array"
BATCH_BYTES = 16 << 20  # a task hands Spark an Arrow batch once it holds this much text
PEEK_BYTES = 4096

READ_SCHEMA = T.StructType(
    [
        T.StructField("source_path", T.StringType(), False),
        T.StructField("source_size", T.LongType(), False),
        T.StructField("source_modified_at", T.TimestampType(), False),
        T.StructField("source_offset", T.LongType(), False),
        T.StructField("doc_sha256", T.StringType(), True),
        T.StructField("text", T.StringType(), True),
        T.StructField("read_error", T.StringType(), True),
    ]
)
_RANGES = T.StructType(
    [
        T.StructField("file", T.LongType(), False),
        T.StructField("start", T.LongType(), False),
        T.StructField("end", T.LongType(), False),
        T.StructField("error", T.StringType(), True),
    ]
)

# (path, size, mtime, form, start, end): what one task reads.
Piece = tuple[str, int, float, str, int, int]


def _form(entry: FileEntry, storage: StorageSettings) -> str:
    """``array`` or ``lines``, or ``<reason>: <detail>`` when the file cannot be read or is empty."""
    if entry.size == 0:
        return "empty_file: 0 bytes"
    try:
        with st.open_input(entry.path, storage) as stream:
            head = stream.read(PEEK_BYTES)
    except OSError as exc:
        return f"unreadable: {type(exc).__name__}: {exc}"
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return ARRAY if head.startswith(b"[") else LINES


def _scan_arrays(files: list[tuple[str, int]], storage: StorageSettings, target_bytes: int):
    """mapInArrow function: for each array file id, its element ranges (or one error row)."""

    def scan(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for file_id in batch.column(0).to_pylist():
                path, _ = files[file_id]
                rows: list[tuple[int, int, int, str | None]]
                try:
                    with st.open_input(path, storage) as stream:
                        ranges = jsonsplit.group_ranges(jsonsplit.array_elements(stream), target_bytes)
                    rows = [(file_id, start, end, None) for start, end, _ in ranges]
                    rows = rows or [(file_id, 0, 0, "empty_file: an empty array")]
                except jsonsplit.JsonSplitError as exc:
                    rows = [(file_id, 0, 0, f"invalid_json: {exc}")]
                except OSError as exc:
                    rows = [(file_id, 0, 0, f"unreadable: {type(exc).__name__}: {exc}")]
                yield record_batch(rows, _RANGES)

    return scan


def plan_pieces(
    spark: SparkSession,
    files: Sequence[FileEntry],
    storage: StorageSettings,
    settings: IngestSettings,
    target_bytes: int | None = None,
) -> tuple[list[Piece], list[tuple[str, int, float, str]]]:
    """The pieces to read, and the files that could not be planned as (path, size, mtime, read_error).

    A piece holds about ``target_bytes`` (default: ``target_task_mb``) of input.
    """
    target = target_bytes or settings.target_task_mb << 20
    with ThreadPoolExecutor(max_workers=min(settings.read_threads, max(1, len(files)))) as pool:
        forms = list(pool.map(lambda f: _form(f, storage), files))
    pieces: list[Piece] = []
    failed: list[tuple[str, int, float, str]] = []
    arrays = [f for f, form in zip(files, forms, strict=True) if form == ARRAY]
    for entry, form in zip(files, forms, strict=True):
        if form not in (ARRAY, LINES):
            failed.append((entry.path, entry.size, entry.mtime, form))
        elif form == LINES:
            pieces += [
                (entry.path, entry.size, entry.mtime, LINES, s, e) for s, e in jsonsplit.line_ranges(entry.size, target)
            ]
    if arrays:
        listed = [(f.path, f.size) for f in arrays]
        scan = _scan_arrays(listed, storage, target)
        ranges = spark.range(len(arrays), numPartitions=len(arrays)).mapInArrow(scan, _RANGES).collect()
        for row in sorted(ranges, key=lambda r: (r.file, r.start)):
            entry = arrays[row.file]
            if row.error:
                failed.append((entry.path, entry.size, entry.mtime, row.error))
            elif row.end > row.start:
                pieces.append((entry.path, entry.size, entry.mtime, ARRAY, row.start, row.end))
    return pieces, failed


def _documents(stream, piece: Piece) -> Iterator[tuple[int, bytes]]:
    _, _, _, form, start, end = piece
    if form == LINES:
        return jsonsplit.read_lines(stream, start, end)
    return jsonsplit.read_elements(stream, start, end)


def _row(piece: Piece, offset: int, data: bytes) -> tuple:
    path, size, mtime, *_ = piece
    when = datetime.fromtimestamp(mtime, tz=UTC)
    digest = hashlib.sha256(data).hexdigest()
    try:
        return (path, size, when, offset, digest, data.decode("utf-8"), None)
    except UnicodeDecodeError as exc:
        return (path, size, when, offset, digest, None, f"invalid_encoding: not UTF-8 at byte {exc.start}")


def _read_piece(piece: Piece, storage: StorageSettings) -> Iterator[pa.RecordBatch]:
    rows: list[tuple] = []
    held = 0
    try:
        with st.open_input(piece[0], storage) as stream:
            for offset, data in _documents(stream, piece):
                rows.append(_row(piece, offset, data))
                held += len(data)
                if held >= BATCH_BYTES:
                    yield record_batch(rows, READ_SCHEMA)
                    rows, held = [], 0
    except OSError as exc:
        path, size, mtime, _, start, _ = piece
        when = datetime.fromtimestamp(mtime, tz=UTC)
        rows.append((path, size, when, start, None, None, f"unreadable: {type(exc).__name__}: {exc}"))
    if rows:
        yield record_batch(rows, READ_SCHEMA)


def piece_reader(pieces: object, storage: StorageSettings):
    """The function each task runs: read the pieces whose ids arrive (``pieces`` is a broadcast list)."""

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for piece_id in batch.column(0).to_pylist():
                yield from _read_piece(pieces.value[piece_id], storage)

    return read


def read_documents(
    spark: SparkSession,
    files: Sequence[FileEntry],
    storage: StorageSettings,
    settings: IngestSettings,
    target_bytes: int | None = None,
) -> DataFrame:
    """A DataFrame of READ_SCHEMA rows, one per document of ``files`` (plus one per file that failed)."""
    pieces, failed = plan_pieces(spark, files, storage, settings, target_bytes)
    failed_rows = [
        (path, size, datetime.fromtimestamp(mtime, tz=UTC), 0, None, None, error) for path, size, mtime, error in failed
    ]
    failed_df = spark.createDataFrame(failed_rows, READ_SCHEMA)
    if not pieces:
        return failed_df
    shared = spark.sparkContext.broadcast(pieces)
    read = spark.range(len(pieces), numPartitions=len(pieces)).mapInArrow(piece_reader(shared, storage), READ_SCHEMA)
    return read.unionByName(failed_df) if failed else read
