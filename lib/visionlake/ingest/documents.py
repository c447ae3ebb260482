"""Reading MongoDB exports (JSON Lines or ``--jsonArray``) of any size as one row per document.

The driver cuts every file into pieces of about ``target_task_mb`` and Spark tasks read the pieces in
parallel, each holding one piece at most:
- a JSON Lines file is cut at byte offsets; a task takes the lines that start in its range
  (:func:`~visionlake.ingest.jsonsplit.read_lines`);
- a ``--jsonArray`` file, which may be one 2 GB line, is first scanned by one task per file that finds
  the byte offsets of its elements (:func:`~visionlake.ingest.jsonsplit.array_elements`, streaming) and
  groups them into ranges of whole elements; tasks then read those ranges.
A file's form is told by its first non-blank byte: ``[`` is an array, anything else is JSON Lines; a file
whose first line is a whole array followed by more lines is JSON Lines (its array line is rejected, its
other lines are read). Text after an array that spans lines (pretty-printed) is ``trailing_data``, its
elements read.

Rows carry the file's lineage, the document's byte offset, the sha256 of its bytes, its text and whether text
follows its first JSON value (:func:`~visionlake.ingest.jsonsplit.trailing_text`, a numpy pass over each batch);
``read_error`` (``<reason>: <detail>``) is set instead of the text when the file could not be read or the
document is not UTF-8. Nothing here assumes one machine: tasks open the files themselves.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import SparkSession
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from visionlake.config import IngestSettings, StorageSettings
from visionlake.ingest import jsonsplit
from visionlake.ingest.batches import record_batch
from visionlake.ingest.drift import FieldScanner
from visionlake.ingest.jsonparse import TRAILING
from visionlake.ingest.listing import FileEntry
from visionlake.ingest.reader import PENDING, PathSet, Read, least_tasks
from visionlake.lake import storage as st
from visionlake.transforms.times import bounded_seconds

LINES, ARRAY = "lines", "array"
READ_BYTES = 16 << 20  # a task reads a JSON Lines piece this much at a time (one GET each on object storage)
# ... and hands Spark an Arrow batch per this much text. The numpy scans of a JSON Lines block make several
# passes over it, and a block that fits the CPU's caches is scanned faster: the drift pre-scan ran at 180 MB/s on
# 4 MB blocks of request logs and at 125 MB/s on 16 MB ones, the trailing-text scan at 530 and 330.
BATCH_BYTES = 4 << 20
MIN_PIECE_BYTES = 1 << 20  # the least piece size aimed at when a small input is cut for more tasks
PEEK_BYTES = 4096
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF16 = "invalid_encoding: UTF-16 (the file starts with a UTF-16 byte-order mark); export it as UTF-8"

READ_SCHEMA = T.StructType(
    [
        T.StructField("source_path", T.StringType(), False),
        T.StructField("source_size", T.LongType(), False),
        T.StructField("source_modified_at", T.TimestampType(), False),
        T.StructField("source_offset", T.LongType(), False),
        T.StructField("doc_sha256", T.StringType(), True),
        T.StructField("text", T.StringType(), True),
        T.StructField("read_error", T.StringType(), True),
        T.StructField("new_fields", T.ArrayType(T.StringType()), True),
        # whether text follows the document's first JSON value; null where the read could not tell (see
        # jsonsplit.trailing_text): the parser's trailing-data test then decides, in the JVM
        T.StructField(TRAILING, T.BooleanType(), True),
    ]
)
ARROW_SCHEMA = to_arrow_schema(READ_SCHEMA)
_BLANK_START = np.zeros(256, dtype=bool)
_BLANK_START[list(b" \t\r\n\x0b\x0c")] = True  # what bytes.isspace() counts
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
# (path, size, mtime, byte offset, "<reason>: <detail>"): a file, or the end of one, that gives no document.
Failed = tuple[str, int, float, int, str]


def _stat(stream, entry: FileEntry) -> tuple[int, float | None]:
    """(size, mtime or None) of an open local file or S3 object."""
    try:
        info = os.fstat(stream.fileno())
        return info.st_size, bounded_seconds(info.st_mtime)  # as listed
    except (AttributeError, OSError, io.UnsupportedOperation):
        return stream.size(), None


def _unchanged(stream, entry: FileEntry) -> bool:
    size, mtime = _stat(stream, entry)
    return size == entry.size and (mtime is None or abs(mtime - entry.mtime) < 1e-6)


def _form(entry: FileEntry, storage: StorageSettings) -> str:
    """``array`` or ``lines``; ``<reason>: <detail>`` for a file that gives no document (``unreadable``,
    ``empty_file``), or ``pending: <why>`` for one to read next run (vanished, changed, failing)."""
    if entry.error is not None:
        return entry.error
    if entry.size == 0:
        return "empty_file: 0 bytes"
    try:
        with st.open_input(entry.path, storage) as stream:
            if not _unchanged(stream, entry):
                return f"{PENDING}: it changed after it was listed"
            head = stream.read(PEEK_BYTES)
            text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
            # blank for the whole peek: read on to the first other byte (until Dec 6 a file of more than 4 KB of
            # whitespace gave no row and was listed as new every run, and an array after it was read as lines)
            while not text and not head.startswith(UTF16_BOMS) and (more := stream.read(READ_BYTES)):
                text = more.lstrip()
    except FileNotFoundError:
        return f"{PENDING}: it vanished after it was listed"
    except OSError as exc:
        if st.is_s3(entry.path) and st.store_failure(exc):
            raise st.endpoint_error(exc, storage, entry.path) from exc
        return f"{PENDING}: {type(exc).__name__}: {exc}"
    if head.startswith(UTF16_BOMS):
        return UTF16
    if not text:
        return "empty_file: only whitespace"
    return ARRAY if text.startswith(b"[") else LINES


def _scan_arrays(files: list[tuple[str, int]], storage: StorageSettings, target_bytes: int):
    """mapInArrow function: for each file that starts with ``[``, its element ranges, plus error rows.

    A file whose first line is a whole array followed by more lines is JSON Lines after all (an error row
    ``lines``): its lines are read one by one, the array line becoming a rejected document. Text after the
    array on the same line, or after an array that spans lines, is ``trailing_data``; the array's elements are
    still read.
    """

    def scan(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for file_id in batch.column(0).to_pylist():
                path, _ = files[file_id]
                found: list[tuple[int, int]] = []
                rows: list[tuple[int, int, int, str | None]] = []
                try:
                    with st.open_input(path, storage) as stream:
                        for element in jsonsplit.array_elements(stream):
                            found.append(element)
                except jsonsplit.TrailingDataError as exc:
                    if exc.newline_between and exc.one_line:
                        rows = [(file_id, 0, 0, LINES)]
                    else:
                        rows = [(file_id, exc.next_at, exc.next_at, f"trailing_data: {exc}")]
                except jsonsplit.JsonSplitError as exc:
                    rows, found = [(file_id, 0, 0, f"invalid_json: {exc}")], []
                except FileNotFoundError:
                    rows, found = [(file_id, 0, 0, f"{PENDING}: it vanished after it was listed")], []
                except OSError as exc:
                    rows, found = [(file_id, 0, 0, f"{PENDING}: {type(exc).__name__}: {exc}")], []
                if rows[:1] == [(file_id, 0, 0, LINES)]:
                    yield record_batch(rows, _RANGES)
                    continue
                ranges = jsonsplit.group_ranges(found, target_bytes)
                rows = [(file_id, start, end, None) for start, end, _ in ranges] + rows
                if not found and not rows:
                    rows = [(file_id, 0, 0, "empty_file: an empty array")]
                yield record_batch(rows, _RANGES)

    return scan


def plan_pieces(
    spark: SparkSession,
    files: Sequence[FileEntry],
    storage: StorageSettings,
    settings: IngestSettings,
    target_bytes: int | None = None,
) -> tuple[list[Piece], list[Failed], dict[str, str]]:
    """The pieces to read, the files (or file ends) that give no document, and ``{path: why}`` of the files
    that cannot be read now (they stay pending for the next run).

    A piece holds about ``target_bytes`` of input. By default ``target_task_mb``, less for an input that would
    give fewer than ``min_tasks`` pieces (raised to the default parallelism), down to :data:`MIN_PIECE_BYTES`
    (a file is cut into the whole number of pieces nearest its size over that: 1.5 MB makes two of 0.75 MB):
    a 10 MB request log was one task on one core (a 10,000-line face_recognition increment's parse: 3.9 s in one
    task, 3.0 s in two).
    """
    target = target_bytes or _default_target(spark, files, settings)
    with ThreadPoolExecutor(max_workers=min(settings.read_threads, max(1, len(files)))) as pool:
        forms = list(pool.map(lambda f: _form(f, storage), files))
    pieces: list[Piece] = []
    failed: list[Failed] = []
    pending: dict[str, str] = {}

    def lines(entry: FileEntry) -> list[Piece]:
        return [
            (entry.path, entry.size, entry.mtime, LINES, s, e) for s, e in jsonsplit.line_ranges(entry.size, target)
        ]

    arrays = [f for f, form in zip(files, forms, strict=True) if form == ARRAY]
    for entry, form in zip(files, forms, strict=True):
        if form.startswith(f"{PENDING}: "):
            pending[entry.path] = form.removeprefix(f"{PENDING}: ")
        elif form == LINES:
            pieces += lines(entry)
        elif form != ARRAY:
            failed.append((entry.path, entry.size, entry.mtime, 0, form))
    if arrays:
        listed = [(f.path, f.size) for f in arrays]
        scan = _scan_arrays(listed, storage, target)
        ranges = spark.range(len(arrays), numPartitions=len(arrays)).mapInArrow(scan, _RANGES).collect()
        for row in sorted(ranges, key=lambda r: (r.file, r.start)):
            entry = arrays[row.file]
            if row.error == LINES:
                pieces += lines(entry)
            elif row.error and row.error.startswith(f"{PENDING}: "):
                pending[entry.path] = row.error.removeprefix(f"{PENDING}: ")
            elif row.error:
                failed.append((entry.path, entry.size, entry.mtime, row.start, row.error))
            elif row.end > row.start:
                pieces.append((entry.path, entry.size, entry.mtime, ARRAY, row.start, row.end))
    return pieces, failed, pending


def _default_target(spark: SparkSession, files: Sequence[FileEntry], settings: IngestSettings) -> int:
    share = -(-sum(f.size for f in files) // least_tasks(settings, spark.sparkContext.defaultParallelism))
    return min(settings.target_task_mb << 20, max(MIN_PIECE_BYTES, share))


def _row(piece: Piece, offset: int, data: bytes) -> tuple:
    """READ_SCHEMA's columns but ``trailing`` for one document, not yet scanned (see :func:`_documents_batch`)."""
    path, size, mtime, *_ = piece
    when = datetime.fromtimestamp(mtime, tz=UTC)
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (path, size, when, offset, digest, None, f"invalid_encoding: not UTF-8 at byte {exc.start}", None)
    return (path, size, when, offset, digest, text, None, None)


def _documents_batch(rows: list[tuple], documents: list[bytes], scanner: FieldScanner | None) -> pa.RecordBatch:
    """A READ_SCHEMA batch of ``rows`` (:func:`_row`) with what ``scanner`` finds in their ``documents``
    (:meth:`FieldScanner.scan_many`) and ``trailing`` (:func:`~visionlake.ingest.jsonsplit.trailing_flags`)."""
    text = READ_SCHEMA.fieldNames().index("text")  # null when the document is not UTF-8: nothing to tell or scan
    readable = [data if row[text] is not None else None for row, data in zip(rows, documents, strict=True)]
    if scanner is not None:
        for i, (fields, problem) in scanner.scan_many(readable).items():
            rows[i] = (*rows[i][:6], problem, fields)
    flags = jsonsplit.trailing_flags(readable)
    return record_batch([(*row, flag) for row, flag in zip(rows, flags, strict=True)], READ_SCHEMA)


def _element_batches(stream, piece: Piece, scanner: FieldScanner | None) -> Iterator[pa.RecordBatch]:
    """The elements of an array piece, a batch per :data:`BATCH_BYTES` of text."""
    rows: list[tuple] = []
    documents: list[bytes] = []
    held = 0
    for offset, data in jsonsplit.read_elements(stream, piece[4], piece[5]):
        rows.append(_row(piece, offset, data))
        documents.append(data)
        held += len(data)
        if held >= BATCH_BYTES:
            yield _documents_batch(rows, documents, scanner)
            rows, documents, held = [], [], 0
    if rows:
        yield _documents_batch(rows, documents, scanner)


def _slices(block: bytes, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the consecutive parts of a block of whole lines: whole lines of about ``size`` bytes each,
    or one line when it is longer."""
    start = 0
    while start < len(block):
        end = block.rfind(b"\n", start, start + size) + 1
        if end <= start:  # the line at start is longer than size (or the block's last, with no newline)
            end = block.find(b"\n", start) + 1 or len(block)
        yield start, end
        start = end


def _line_batches(stream, piece: Piece, scanner: FieldScanner | None) -> Iterator[pa.RecordBatch]:
    """The lines of a JSON Lines piece, read in blocks of :func:`~visionlake.ingest.jsonsplit.line_blocks`, a
    batch per slice of :data:`BATCH_BYTES` of a block, built with numpy and Arrow (the texts are views of the
    slice) rather than line by line: the same rows as :func:`~visionlake.ingest.jsonsplit.read_lines` and
    :func:`_row` give, which still build a slice that is not all UTF-8 (they name the byte)."""
    for offset, read in jsonsplit.line_blocks(stream, piece[4], piece[5], READ_BYTES):
        for start, end in _slices(read, BATCH_BYTES):
            yield from _slice_batches(piece, offset + start, read[start:end], scanner)


def _slice_batches(piece: Piece, base: int, block: bytes, scanner: FieldScanner | None) -> Iterator[pa.RecordBatch]:
    """The batch of the lines of ``block``: whole lines of a JSON Lines piece, from its byte ``base``."""
    data = np.frombuffer(block, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(data == 0x0A) + 1))
    if starts[-1] == len(block):
        starts = starts[:-1]
    if base == 0 and block.startswith(jsonsplit.BOM):
        starts[0] = len(jsonsplit.BOM)
    bounds = np.append(starts, len(block))  # each line with its newline
    ends = bounds[1:] - (data[bounds[1:] - 1] == 0x0A)
    ends -= (ends > starts) & (ends < bounds[1:]) & (data[np.maximum(ends - 1, 0)] == 0x0D)  # \r\n
    lines = list(zip(starts.tolist(), ends.tolist(), strict=True))
    maybe_blank = np.flatnonzero((ends <= starts) | _BLANK_START[data[np.minimum(starts, len(block) - 1)]])
    blank = {i for i in maybe_blank.tolist() if not block[lines[i][0] : lines[i][1]].strip()}
    texts = pa.StringArray.from_buffers(len(lines), pa.py_buffer(bounds.astype(np.int32)), pa.py_buffer(block))
    try:
        texts.validate(full=True)
    except pa.ArrowInvalid:  # not UTF-8 somewhere
        kept = [(s, e) for i, (s, e) in enumerate(lines) if i not in blank]
        rows = [_row(piece, base + s, block[s:e]) for s, e in kept]
        yield _documents_batch(rows, [block[s:e] for s, e in kept], scanner)
        return
    trailing, known = jsonsplit.trailing_text(block, starts, ends)
    texts = _without_newlines(texts, block, lines)
    batch = _lines_batch(piece, base, block, starts, lines, texts, pa.array(trailing, mask=~known), scanner)
    if blank:  # blank and whitespace-only lines are not documents
        batch = batch.filter(pa.array([i not in blank for i in range(len(lines))]))
    yield batch


def _without_newlines(texts: pa.Array, block: bytes, lines: list[tuple[int, int]]) -> pa.Array:
    """``texts`` (each line with its newline) without it: trimmed in Arrow, then the few lines whose trim took
    more than their newline (a line ending in ``\\r\\r\\n``, or in ``\\r`` at the end of the file) are
    taken again from their bytes."""
    trimmed = pc.utf8_rtrim(texts, "\r\n")
    kept = np.asarray(pc.binary_length(trimmed), dtype=np.int64)
    wanted = np.array([e - s for s, e in lines], dtype=np.int64)
    wrong = np.flatnonzero(kept != np.maximum(wanted, 0))
    if not wrong.size:
        return trimmed
    values = trimmed.to_pylist()
    for i in wrong.tolist():
        values[i] = block[lines[i][0] : lines[i][1]].decode("utf-8")
    return pa.array(values, type=pa.string())


def _lines_batch(
    piece: Piece,
    base: int,
    block: bytes,
    starts: np.ndarray,
    lines: list[tuple[int, int]],
    texts: pa.Array,
    trailing: pa.Array,
    scanner: FieldScanner | None,
) -> pa.RecordBatch:
    """READ_SCHEMA's columns for the ``lines`` (start, end) of a UTF-8 ``block`` that starts at byte ``base``."""
    view = memoryview(block)
    digests = [hashlib.sha256(view[s:e]).hexdigest() for s, e in lines]
    problems: list[str | None] = [None] * len(lines)
    fields: list[list[str] | None] = [None] * len(lines)
    if scanner is not None:
        for i, (new, problem) in scanner.scan_lines(block, starts, [e for _, e in lines]).items():
            fields[i], problems[i] = new, problem
    path, size, mtime, *_ = piece
    modified = pa.scalar(datetime.fromtimestamp(mtime, tz=UTC), ARROW_SCHEMA.field("source_modified_at").type)
    columns = [
        pa.repeat(pa.scalar(path, pa.string()), len(lines)),
        pa.repeat(pa.scalar(size, pa.int64()), len(lines)),
        pa.repeat(modified, len(lines)),
        pa.array([base + s for s, _ in lines], type=pa.int64()),
        pa.array(digests, type=pa.string()),
        texts,
        pa.array(problems, type=pa.string()),
        pa.array(fields, type=ARROW_SCHEMA.field("new_fields").type),
        trailing,
    ]
    return pa.RecordBatch.from_arrays(columns, schema=ARROW_SCHEMA)


class _PieceChanged(Exception):
    pass


def _read_piece(piece: Piece, storage: StorageSettings, scanner: FieldScanner | None, pending) -> Iterator:
    entry = FileEntry(piece[0], piece[1], piece[2])
    try:
        with st.open_input(piece[0], storage) as stream:
            if not _unchanged(stream, entry):
                raise _PieceChanged
            batches = _line_batches if piece[3] == LINES else _element_batches
            yield from batches(stream, piece, scanner)
    except _PieceChanged:
        pending.add({piece[0]: "it changed while it was read"})
        return
    except jsonsplit.JsonSplitError as exc:  # the file changed under the planned ranges
        pending.add({piece[0]: f"it changed while it was read ({exc})"})
        return
    except OSError as exc:
        if st.is_s3(piece[0]) and st.store_failure(exc):
            raise st.endpoint_error(exc, storage, piece[0]) from exc
        pending.add({piece[0]: f"{type(exc).__name__}: {exc}"})
        return


def piece_reader(pieces: object, storage: StorageSettings, scanner: FieldScanner | None, pending):
    """The function each task runs: read the pieces whose ids arrive (``pieces`` is a broadcast list); a piece
    that cannot be read now goes to the ``pending`` accumulator."""

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for piece_id in batch.column(0).to_pylist():
                yield from _read_piece(pieces.value[piece_id], storage, scanner, pending)

    return read


def read_documents(
    spark: SparkSession,
    files: Sequence[FileEntry],
    storage: StorageSettings,
    settings: IngestSettings,
    target_bytes: int | None = None,
    scanner: FieldScanner | None = None,
) -> Read:
    """READ_SCHEMA rows, one per document of ``files`` (plus one per file, or file end, that gives none).

    Files that cannot be read now are in ``pending``: those found while planning have no row; a piece that
    fails while read leaves its file incomplete in ``rows``, so a caller must not commit rows of a pending
    file (read it again next run).
    """
    pending = spark.sparkContext.accumulator({}, PathSet())
    pieces, failed, planned_pending = plan_pieces(spark, files, storage, settings, target_bytes)
    if planned_pending:
        pending.add(planned_pending)
    failed_rows = [
        (path, size, datetime.fromtimestamp(mtime, tz=UTC), offset, None, None, error, None, None)
        for path, size, mtime, offset, error in failed
    ]
    failed_df = spark.createDataFrame(failed_rows, READ_SCHEMA)
    if not pieces:
        return Read(failed_df, pending, planned_pending)
    shared = spark.sparkContext.broadcast(pieces)
    read = spark.range(len(pieces), numPartitions=len(pieces)).mapInArrow(
        piece_reader(shared, storage, scanner, pending), READ_SCHEMA
    )
    return Read(read.unionByName(failed_df) if failed else read, pending, planned_pending)
