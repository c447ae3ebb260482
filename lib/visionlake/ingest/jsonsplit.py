"""Splitting big JSON exports into byte ranges that Spark tasks can read independently.

MongoDB exports come as JSON Lines or as ``mongoexport --jsonArray`` files (``[{...},{...}]``, on one line or
pretty-printed), up to a few GB each. No task may hold a whole file, so:

* JSON Lines: :func:`line_ranges` cuts the file into byte ranges and :func:`read_lines` reads the lines that start
  in one range (Hadoop ``LineRecordReader`` convention), so every line is read exactly once.
* JSON arrays: :func:`array_elements` is a cheap sequential pre-scan (one chunk in memory at a time) that finds the
  byte offsets of every top-level element, :func:`group_ranges` groups them into task-sized ranges, and
  :func:`read_elements` reads one range back as whole elements.

The structural scan is vectorised with numpy per chunk: unescaped quotes (a quote preceded by an odd run of
backslashes is escaped) delimit strings, and a cumulative sum over the structural characters outside strings gives
the nesting depth; commas at the element level separate elements. The state (depth, inside a string, a pending
backslash) carries from chunk to chunk, so results do not depend on the chunk size.

The scan finds element boundaries; it does not validate the elements (``[1 2]`` or ``[{]}`` are one element each),
which is left to the JSON parser that reads them.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import BinaryIO, NamedTuple

import numpy as np

__all__ = [
    "JsonSplitError",
    "TrailingDataError",
    "array_elements",
    "group_ranges",
    "line_blocks",
    "line_ranges",
    "read_elements",
    "read_lines",
    "trailing_text",
]

DEFAULT_CHUNK = 8 << 20
BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n"
_NON_WS = re.compile(rb"[^ \t\r\n]")

# Byte classes of the structural scan; every other byte translates to 0.
_QUOTE, _BSLASH, _OPEN, _CLOSE_OBJ, _CLOSE_ARR, _COMMA = 1, 2, 3, 4, 5, 6
_CLASSES = bytearray(256)
_CLASSES[ord('"')] = _QUOTE
_CLASSES[ord("\\")] = _BSLASH
_CLASSES[ord("{")] = _OPEN
_CLASSES[ord("[")] = _OPEN
_CLASSES[ord("}")] = _CLOSE_OBJ
_CLASSES[ord("]")] = _CLOSE_ARR
_CLASSES[ord(",")] = _COMMA
_TABLE = bytes(_CLASSES)
_DELTA = np.array([0, 0, 0, 1, -1, -1, 0], dtype=np.int8)  # depth change per class


class JsonSplitError(ValueError):
    """The input is not a JSON array (or range of array elements) that can be split; the message gives the byte."""


class TrailingDataError(JsonSplitError):
    """Something other than whitespace follows the array's closing ``]`` (at ``closed_at``), from ``next_at``;
    ``newline_between``: a line break comes between them; ``one_line``: none comes between ``[`` and ``]``."""

    def __init__(self, message: str, closed_at: int, next_at: int, newline_between: bool, one_line: bool) -> None:
        super().__init__(message)
        self.closed_at = closed_at
        self.next_at = next_at
        self.newline_between = newline_between
        self.one_line = one_line


# --------------------------------------------------------------------------------------------------------------------
# Structural scan of one chunk


class _State(NamedTuple):
    """What one chunk passes to the next."""

    depth: int = 0  # nesting depth relative to the element level (0 = between or inside a scalar element)
    in_string: bool = False
    escape: bool = False  # the chunk ended with an odd run of backslashes: the next byte is escaped
    string_at: int = -1  # offset of the quote that opened the current string, when in_string


class _Structure(NamedTuple):
    """Element-level commas of one chunk, and the first bracket that closes below the element level."""

    commas: list[int]  # chunk-relative positions
    close: int  # chunk-relative position of that bracket, -1 if none
    state: _State  # state after the chunk (meaningless after ``close``)


def _escaped_quotes(
    arr: np.ndarray, quotes: np.ndarray, backslashes: np.ndarray, carry: bool, begins: np.ndarray | int = 0
) -> np.ndarray:
    """Which ``quotes`` (positions in ``arr``) follow an odd run of backslashes, counting ``carry`` before byte 0;
    a run counts from ``begins`` on at most (each quote's document start, when ``arr`` holds several)."""
    escaped = (quotes == 0) & carry
    if backslashes.size == 0:
        return escaped
    starts = _run_starts(backslashes)
    prev = quotes - 1
    after_backslash = (prev >= begins) & (arr[np.maximum(prev, 0)] == 0x5C)
    run_start = np.maximum(starts[np.maximum(np.searchsorted(starts, prev, side="right") - 1, 0)], begins)
    length = quotes - run_start + ((run_start == 0) & carry)
    return escaped | (after_backslash & (length % 2 == 1))


def _run_starts(positions: np.ndarray) -> np.ndarray:
    """First position of each run of consecutive integers in the sorted, non-empty ``positions``."""
    first = np.empty(positions.size, dtype=bool)
    first[0] = True
    np.not_equal(np.diff(positions), 1, out=first[1:])
    return positions[first]


def _trailing_escape(arr: np.ndarray, backslashes: np.ndarray, carry: bool) -> bool:
    """Whether ``arr`` ends with an odd run of backslashes (a run from byte 0 continues the ``carry`` one)."""
    if arr.size == 0:
        return carry
    if arr[-1] != 0x5C:
        return False
    start = int(_run_starts(backslashes)[-1])
    return (arr.size - start + (carry if start == 0 else 0)) % 2 == 1


def _outside_strings(
    data: bytes, idx: np.ndarray, cls: np.ndarray, offset: int, state: _State
) -> tuple[np.ndarray, _State]:
    """Which of the special bytes ``idx`` (classes ``cls``) of ``data`` are outside strings; the string state after."""
    if b'"' not in data and not state.in_string:
        escape = b"\\" in data and _trailing_escape(np.frombuffer(data, np.uint8), idx[cls == _BSLASH], state.escape)
        return np.ones(cls.size, dtype=bool), state._replace(escape=escape)
    quote = cls == _QUOTE
    escape = False
    if state.escape or b"\\" in data:  # otherwise no quote is escaped: the fast path
        arr = np.frombuffer(data, dtype=np.uint8)
        backslashes = idx[cls == _BSLASH]
        quote[quote] = ~_escaped_quotes(arr, idx[quote], backslashes, state.escape)
        escape = _trailing_escape(arr, backslashes, state.escape)
    seen = np.cumsum(quote, dtype=np.int64)  # unescaped quotes up to each special byte
    outside = ((seen - quote + state.in_string) & 1) == 0
    quotes = int(seen[-1]) if seen.size else 0
    in_string = (quotes + state.in_string) % 2 == 1
    string_at = offset + int(idx[quote][-1]) if in_string and quotes else state.string_at
    return outside, state._replace(in_string=in_string, escape=escape, string_at=string_at)


def _scan_chunk(data: bytes, offset: int, state: _State) -> _Structure:
    """The structure of ``data`` (at stream ``offset``), starting in ``state``."""
    classes = np.frombuffer(data.translate(_TABLE), dtype=np.uint8)
    idx = np.flatnonzero(classes != 0)  # much faster on bool than on uint8
    cls = classes[idx]
    outside, state = _outside_strings(data, idx, cls, offset, state)
    keep = (cls >= _OPEN) & outside
    pos, sc = idx[keep], cls[keep]
    depth = state.depth + np.cumsum(_DELTA[sc], dtype=np.int64)
    below = np.flatnonzero(depth < 0)
    close = int(pos[below[0]]) if below.size else -1
    if below.size:
        pos, sc, depth = pos[: below[0]], sc[: below[0]], depth[: below[0]]
    commas = pos[(sc == _COMMA) & (depth == 0)].tolist()
    return _Structure(commas, close, state._replace(depth=int(depth[-1]) if depth.size else state.depth))


# --------------------------------------------------------------------------------------------------------------------
# Text after the first value of each document


# Byte classes of the scan of documents; every other byte translates to 0. Commas are not looked at. A single
# quote outside strings leaves the document to Spark's trailing-text test (Spark's parser reads single-quoted
# strings, which the scan does not follow).
_CLOSE, _SINGLE = 4, 5
_DOC_BYTES = {b'"': _QUOTE, b"\\": _BSLASH, b"{": _OPEN, b"[": _OPEN, b"}": _CLOSE, b"]": _CLOSE, b"'": _SINGLE}
_DOC_TABLE = bytes(_DOC_BYTES.get(bytes([b]), 0) for b in range(256))
_DOC_DELTA = np.array([0, 0, 0, 1, -1, 0], dtype=np.int64)
# Spark 3.5 parses with Jackson 2.15, whose default read constraints refuse nesting deeper than this. Spark's
# trailing-text test wraps the text in one more array: a document this deep parses, yet fails that test, whose
# answer (trailing_data) the scan keeps.
MAX_DEPTH = 1000
_JSON_WS = np.zeros(256, dtype=bool)
_JSON_WS[list(_WS)] = True  # the whitespace a JSON parser skips between values


def trailing_text(data: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(trailing, known)`` for the documents ``data[starts[i]:ends[i]]`` (ordered spans that do not overlap):
    whether anything but JSON whitespace (space, tab, CR, LF) follows each document's first value, and whether
    the scan could tell. One vectorised pass over the block, the structural scan of arrays restarted at every
    document: strings are delimited by unescaped quotes, and the first value ends at the bracket where the
    nesting depth first comes back to zero.

    ``trailing[i]`` is exact for a document whose first value is an object or array of valid JSON (what a
    JSON parser accepted); for any other text it means nothing, so ask the parser first. ``known[i]`` is False
    where the scan leaves the answer to Spark's own test (:func:`visionlake.ingest.jsonparse.trailing_data`): no
    bracket closes a first value; a single quote stands outside the strings (Spark's parser accepts single-quoted
    strings, which this scan does not follow); or the nesting reaches :data:`MAX_DEPTH` (where that test's answer
    is "trailing", and kept). Bare words (``NaN``, ``-INF``) stand between brackets and change no answer."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    count = starts.size
    trailing, known = np.zeros(count, dtype=bool), np.zeros(count, dtype=bool)
    if not count:
        return trailing, known
    arr = np.frombuffer(data, dtype=np.uint8)
    classes = np.frombuffer(data.translate(_DOC_TABLE), dtype=np.uint8)
    idx = np.flatnonzero(classes != 0)
    lo, hi = np.searchsorted(idx, starts), np.searchsorted(idx, ends)  # each document's special bytes: idx[lo:hi]
    sizes = hi - lo
    if int(sizes.sum()) != idx.size:  # special bytes between the documents: left out
        idx = np.concatenate([idx[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True)])
        hi = np.cumsum(sizes)
        lo = hi - sizes
    cls = classes[idx]
    quote = cls == _QUOTE
    backslashes = idx[cls == _BSLASH]
    if backslashes.size and quote.any():  # a quote after an odd run of backslashes (in its document) is escaped
        begins = starts[np.repeat(np.arange(count), hi - lo)[quote]]
        quote[quote] = ~_escaped_quotes(arr, idx[quote], backslashes, False, begins)
    seen = np.cumsum(quote, dtype=np.int64)  # unescaped quotes up to each special byte
    base = np.concatenate(([0], seen))[lo]  # ... before each document's first one
    kept = np.flatnonzero(cls >= _OPEN)  # brackets and single quotes: are they outside strings?
    kdoc = np.searchsorted(lo, kept, side="right") - 1
    kept_cls = cls[kept]
    outside = ((seen[kept] - base[kdoc]) & 1) == 0
    odd = np.zeros(count, dtype=bool)
    odd[kdoc[(kept_cls == _SINGLE) & outside]] = True
    structural = (kept_cls != _SINGLE) & outside
    pos, sdoc = idx[kept[structural]], kdoc[structural]
    if not pos.size:  # no bracket outside strings in any document
        return trailing, known
    step = _DOC_DELTA[kept_cls[structural]]
    depth = np.cumsum(step)
    first = np.minimum(np.searchsorted(sdoc, np.arange(count), side="left"), pos.size - 1)
    relative = depth - (depth - step)[first][sdoc]
    odd[sdoc[relative >= MAX_DEPTH]] = True
    back = np.flatnonzero(relative <= 0)  # where the depth first comes back to zero (or below: not a value)
    ahead = sdoc[back]
    closes = back[np.flatnonzero(np.diff(ahead, prepend=-1))]  # the first of each document
    docs = sdoc[closes]
    closed = relative[closes] == 0
    docs, end_of_value = docs[closed], pos[closes[closed]]
    last = ends[docs] - 1  # the last byte that is not whitespace: usually the document's last byte
    for k in np.flatnonzero(_JSON_WS[arr[last]]).tolist():
        begin = int(starts[docs[k]])
        last[k] = begin + len(data[begin : int(last[k]) + 1].rstrip(_WS)) - 1
    trailing[docs] = last != end_of_value
    known[docs] = True
    known &= ~odd
    return trailing & known, known


def trailing_flags(documents: Sequence[bytes | None]) -> list[bool | None]:
    """:func:`trailing_text` of each of ``documents`` (None: not to be looked at), in one pass over them joined:
    True or False, None where the scan cannot tell or the document is None."""
    flags: list[bool | None] = [None] * len(documents)
    told = [i for i, data in enumerate(documents) if data is not None]
    if told:
        sizes = np.array([len(documents[i]) for i in told], dtype=np.int64)
        ends = np.cumsum(sizes)
        trailing, known = trailing_text(b"".join(documents[i] for i in told), ends - sizes, ends)
        for i, flag, sure in zip(told, trailing.tolist(), known.tolist(), strict=True):
            if sure:
                flags[i] = flag
    return flags


# --------------------------------------------------------------------------------------------------------------------
# Element boundaries


def _first_non_ws(data: bytes, lo: int, hi: int) -> int:
    """Position of the first non-whitespace byte of ``data[lo:hi]``, -1 if none."""
    m = _NON_WS.search(data, lo, hi)
    return m.start() if m else -1


def _last_non_ws_end(data: bytes, lo: int, hi: int) -> int:
    """Position just after the last non-whitespace byte of ``data[lo:hi]``, -1 if none (cost ~ trailing space)."""
    width = 64
    while hi > lo:
        a = max(lo, hi - width)
        kept = len(data[a:hi].rstrip(_WS))
        if kept:
            return a + kept
        hi, width = a, width * 2
    return -1


class _Elements:
    """Start and end of the element being scanned, which can span chunks."""

    def __init__(self) -> None:
        self.start = -1  # stream offset of its first non-whitespace byte, -1 until seen
        self.tail = -1  # stream offset just after its last non-whitespace byte seen so far
        self.count = 0

    def see(self, data: bytes, offset: int, lo: int, hi: int) -> None:
        """Note the non-whitespace of ``data[lo:hi]`` (no separator in it)."""
        if self.start < 0:
            first = _first_non_ws(data, lo, hi)
            if first >= 0:
                self.start = offset + first
        end = _last_non_ws_end(data, lo, hi)
        if end >= 0:
            self.tail = offset + end

    def take(self, data: bytes, offset: int, lo: int, sep: int) -> tuple[int, int]:
        """The element ending before the separator at ``data[sep]`` (its bytes after ``lo`` are in ``data``)."""
        self.see(data, offset, lo, sep)
        if self.start < 0:
            raise JsonSplitError(f"empty element before {chr(data[sep])!r} at byte {offset + sep}")
        return self._done()

    def last(self) -> tuple[int, int] | None:
        """The element at the end of the input (None if there is none)."""
        return self._done() if self.start >= 0 else None

    def _done(self) -> tuple[int, int]:
        span = (self.start, self.tail)
        self.start, self.tail, self.count = -1, -1, self.count + 1
        return span


class _Closed(NamedTuple):
    """Where the array closed, and what follows in the same chunk."""

    at: int  # stream offset of the bracket that closed the element level
    rest: bytes  # the bytes of its chunk after it
    rest_offset: int


def _element_spans(
    chunks: Iterable[tuple[int, bytes]], closing: bool
) -> Generator[tuple[int, int], None, _Closed | _State]:
    """(start, end) of the elements separated by element-level commas in ``chunks``.

    With ``closing``, a ``]`` below the element level ends the scan (returned as :class:`_Closed`); otherwise any
    bracket below the element level is an error and the scan runs to the end of ``chunks`` (returns the end state).
    """
    state, elements = _State(), _Elements()
    for offset, data in chunks:
        found = _scan_chunk(data, offset, state)
        lo = 0
        for sep in found.commas:
            yield elements.take(data, offset, lo, sep)
            lo = sep + 1
        if found.close >= 0:
            if not closing or data[found.close] != ord("]"):
                raise JsonSplitError(f"unbalanced {chr(data[found.close])!r} at byte {offset + found.close}")
            elements.see(data, offset, lo, found.close)
            span = elements.last()
            if span is not None:
                yield span
            elif elements.count:
                raise JsonSplitError(f"empty element before ']' at byte {offset + found.close}")
            return _Closed(offset + found.close, data[found.close + 1 :], offset + found.close + 1)
        elements.see(data, offset, lo, len(data))
        state = found.state
    if not closing and state.depth == 0 and not state.in_string:
        span = elements.last()
        if span is not None:
            yield span
        elif elements.count:
            raise JsonSplitError("the range ends with ','")
    return state


# --------------------------------------------------------------------------------------------------------------------
# Streams


def _chunks(stream: BinaryIO, chunk_size: int, offset: int = 0, limit: int = -1) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of consecutive reads of ``stream`` from ``offset``, up to ``limit`` bytes (-1: to the end)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    while limit:
        data = stream.read(chunk_size if limit < 0 else min(chunk_size, limit))
        if not data:
            if limit > 0:
                raise JsonSplitError(f"the stream ends at byte {offset}, {limit} bytes before the end of the range")
            return
        yield offset, data
        offset += len(data)
        limit -= len(data) if limit > 0 else 0


def _open_bracket(chunks: Iterator[tuple[int, bytes]]) -> tuple[int, bytes]:
    """Skip an optional UTF-8 BOM and whitespace up to the opening ``[``; its offset and the rest of its chunk."""
    bom = 0  # BOM bytes matched at the start of the stream
    for offset, data in chunks:
        i = 0
        while i < len(data) and offset + i == bom < len(BOM) and data[i] == BOM[bom]:
            bom, i = bom + 1, i + 1
        if 0 < bom < len(BOM) and i < len(data):
            raise JsonSplitError(f"incomplete UTF-8 byte order mark at byte {offset + i}")
        first = _first_non_ws(data, i, len(data))
        if first < 0:
            continue
        if data[first] != ord("["):
            found = data[first : first + 1]
            raise JsonSplitError(f"not a JSON array: expected '[' at byte {offset + first}, found {found!r}")
        return offset + first, data[first + 1 :]
    raise JsonSplitError("not a JSON array: the stream has no '[' (it is empty or only whitespace)")


def _check_trailing(closed: _Closed, chunks: Iterator[tuple[int, bytes]], one_line: bool) -> None:
    """Raise :class:`TrailingDataError` if anything but whitespace follows the closing ``]`` (``one_line``: the
    array has no line break)."""
    newline = False
    for offset, data in itertools.chain([(closed.rest_offset, closed.rest)], chunks):
        first = _first_non_ws(data, 0, len(data))
        newline = newline or b"\n" in data[: first if first >= 0 else len(data)]
        if first >= 0:
            raise TrailingDataError(
                f"unexpected {data[first : first + 1]!r} at byte {offset + first} after the array closed at byte "
                f"{closed.at}",
                closed_at=closed.at,
                next_at=offset + first,
                newline_between=newline,
                one_line=one_line,
            )


def array_elements(stream: BinaryIO, chunk_size: int = DEFAULT_CHUNK) -> Iterator[tuple[int, int]]:
    """(start, end) byte offsets of each top-level element of the JSON array read from ``stream``.

    ``end`` is exclusive and surrounding whitespace is excluded; elements may be objects, arrays or scalars. Reads
    ``stream`` sequentially in chunks of ``chunk_size``, holding one chunk at a time. Raises :class:`JsonSplitError`
    (with the byte offset) when the stream does not start with ``[`` (after an optional UTF-8 BOM and whitespace),
    ends before the array is closed, or has non-whitespace after the closing ``]``. An empty array yields nothing.
    """
    chunks = _chunks(stream, chunk_size)
    opened, rest = _open_bracket(chunks)
    first = [(opened + 1, rest)] if rest else []
    newlines: list[int] = []  # the offset of the first line break after '['
    result = yield from _element_spans(_first_newline(itertools.chain(first, chunks), newlines), closing=True)
    if isinstance(result, _State):
        raise _unclosed(opened, result, stream_end=_end_of(stream))
    _check_trailing(result, chunks, one_line=not newlines or newlines[0] > result.at)


def _first_newline(chunks: Iterable[tuple[int, bytes]], found: list[int]) -> Iterator[tuple[int, bytes]]:
    """``chunks`` unchanged; the stream offset of the first line break in them is appended to ``found``."""
    for offset, data in chunks:
        if not found and (at := data.find(b"\n")) >= 0:
            found.append(offset + at)
        yield offset, data


def _end_of(stream: BinaryIO) -> int | None:
    """The position of ``stream`` (its end, once read), None if it cannot tell."""
    try:
        return stream.tell()
    except (OSError, ValueError):
        return None


def _unclosed(opened: int, state: _State, stream_end: int | None) -> JsonSplitError:
    """The error for a stream that ends inside the array opened at ``opened``."""
    where = f" at byte {stream_end}" if stream_end is not None else ""
    if state.in_string:
        return JsonSplitError(
            f"truncated: the stream ends{where} inside the string opened at byte {state.string_at} "
            f"(array opened at byte {opened})"
        )
    return JsonSplitError(f"truncated: the stream ends{where} before the array opened at byte {opened} is closed")


def line_ranges(size: int, target_bytes: int) -> list[tuple[int, int]]:
    """Cut ``[0, size)`` into consecutive byte ranges of about ``target_bytes`` (at least one range when size > 0)."""
    if target_bytes < 1:
        raise ValueError(f"target_bytes must be at least 1, not {target_bytes}")
    if size <= 0:
        return []
    n = max(1, round(size / target_bytes))
    cuts = [size * i // n for i in range(n + 1)]
    return list(itertools.pairwise(cuts))


def read_lines(stream: BinaryIO, start: int, end: int, chunk_size: int = DEFAULT_CHUNK) -> Iterator[tuple[int, bytes]]:
    """The lines that start in ``[start, end)`` of a seekable binary stream, as (offset, line bytes).

    The bytes exclude the trailing ``\\n`` or ``\\r\\n``. Hadoop ``LineRecordReader`` convention: a line belongs to
    the range where its first byte is; a range that begins inside a line skips to the next line start; the last
    line may run past ``end`` and is read whole. Empty and whitespace-only lines are skipped, and a UTF-8 BOM at
    the start of the stream is dropped (the first line's offset is then 3). For any cut of ``[0, size)`` into
    ranges, every line is yielded exactly once.
    """
    line_start = _seek_first_line(stream, start, end, chunk_size)
    if line_start < 0:
        return
    for offset, line in _lines(_chunks(stream, chunk_size, line_start)):
        if offset >= end:
            return
        if offset == 0 and line.startswith(BOM):
            offset, line = len(BOM), line[len(BOM) :]
        if line and not line.isspace():
            yield offset, line


def line_blocks(stream: BinaryIO, start: int, end: int, chunk_size: int = DEFAULT_CHUNK) -> Iterator[tuple[int, bytes]]:
    """The lines that start in ``[start, end)`` of a seekable binary stream, as (offset, block) pairs: each block
    holds whole lines with their ``\\n`` (the file's last line may have none), about ``chunk_size`` bytes or one
    line when a line is longer. The same lines as :func:`read_lines`, unsplit: blank lines and a leading BOM are
    left to the caller."""
    offset = _seek_first_line(stream, start, end, chunk_size)
    if offset < 0:
        return
    pending: list[bytes] = []
    while True:
        data = stream.read(chunk_size)
        if not data:
            if pending:
                yield offset, b"".join(pending)
            return
        newline = data.rfind(b"\n")
        if newline < 0:  # inside a line longer than a chunk
            pending.append(data)
            continue
        block = b"".join([*pending, data[: newline + 1]]) if pending else data[: newline + 1]
        pending = [data[newline + 1 :]] if newline + 1 < len(data) else []
        if offset + len(block) > end:  # stop after the last line that starts before ``end``
            cut = block.find(b"\n", end - offset - 1) + 1
            yield offset, block[:cut]
            return
        yield offset, block
        offset += len(block)
        if offset >= end:
            return


def _seek_first_line(stream: BinaryIO, start: int, end: int, chunk_size: int) -> int:
    """Seek to the first line that starts in ``[start, end)`` and return its offset; -1 if there is none."""
    if start >= end:
        return -1
    offset = _next_line_start(stream, start, chunk_size)
    if offset < 0 or offset >= end:
        return -1
    stream.seek(offset)
    return offset


def _next_line_start(stream: BinaryIO, start: int, chunk_size: int) -> int:
    """The first line start at or after ``start`` (0, or just after a ``\\n``); -1 if there is none."""
    if start <= 0:
        return 0
    stream.seek(start - 1)
    for offset, data in _chunks(stream, chunk_size, start - 1):
        newline = data.find(b"\n")
        if newline >= 0:
            return offset + newline + 1
    return -1


def _lines(chunks: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """(offset, line without ``\\n`` / ``\\r\\n``) of the lines in ``chunks``, which start at a line start."""
    pending: list[bytes] = []
    line_start = -1
    for offset, data in chunks:
        if line_start < 0:
            line_start = offset
        i = 0
        while (newline := data.find(b"\n", i)) >= 0:
            pending.append(data[i:newline])
            line = b"".join(pending)
            yield line_start, line[:-1] if line.endswith(b"\r") else line
            pending, i, line_start = [], newline + 1, offset + newline + 1
        if i < len(data):
            pending.append(data[i:])
    if pending:
        yield line_start, b"".join(pending)


def group_ranges(elements: Iterable[tuple[int, int]], target_bytes: int) -> list[tuple[int, int, int]]:
    """Consecutive elements grouped into (start, end, element_count) ranges of about ``target_bytes``, for tasks.

    A group closes as soon as it spans at least ``target_bytes``, so each group is less than ``target_bytes`` plus
    one element (the last group can be smaller); an element larger than the target is a group of its own.
    """
    if target_bytes < 1:
        raise ValueError(f"target_bytes must be at least 1, not {target_bytes}")
    groups: list[tuple[int, int, int]] = []
    first, last, count = -1, -1, 0
    for start, end in elements:
        if start < last or end < start:
            raise ValueError(f"elements must be ordered and not overlap: ({start}, {end}) after end {last}")
        if count == 0:
            first = start
        last, count = end, count + 1
        if last - first >= target_bytes:
            groups.append((first, last, count))
            count = 0
    if count:
        groups.append((first, last, count))
    return groups


def read_elements(
    stream: BinaryIO, start: int, end: int, count: int | None = None, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of each element in a range produced by :func:`group_ranges`, read from a seekable stream.

    ``start`` is the start of the range's first element and ``end`` the end of its last one. Elements are
    separated by the commas at depth 0 of the range outside strings, found with the same scanner as
    :func:`array_elements`, reading ``chunk_size`` bytes at a time and holding only the chunks of the current
    element. Raises :class:`JsonSplitError` when the range does not hold whole elements, or when ``count`` is given
    and differs from the number of elements found.
    """
    stream.seek(start)
    pieces: deque[tuple[int, bytes]] = deque()
    found = 0

    def kept(chunks: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
        for chunk in chunks:
            pieces.append(chunk)
            yield chunk

    spans = _element_spans(kept(_chunks(stream, chunk_size, start, max(end - start, 0))), closing=False)
    while True:
        try:
            first, last = next(spans)
        except StopIteration as stop:
            state = stop.value
            break
        while pieces[0][0] + len(pieces[0][1]) <= first:
            pieces.popleft()
        yield first, _cut(pieces, first, last)
        found += 1
    if state.in_string or state.depth:
        where = f"inside the string opened at byte {state.string_at}" if state.in_string else "inside an element"
        raise JsonSplitError(f"the range [{start}, {end}) ends {where}: it does not hold whole elements")
    if count is not None and found != count:
        raise JsonSplitError(f"the range [{start}, {end}) holds {found} elements, not {count}")


def _cut(pieces: Iterable[tuple[int, bytes]], start: int, end: int) -> bytes:
    """The bytes ``[start, end)`` of the stream from the consecutive chunks ``pieces`` that cover them."""
    parts = [
        data[max(start - offset, 0) : end - offset]
        for offset, data in pieces
        if offset < end and offset + len(data) > start
    ]
    return parts[0] if len(parts) == 1 else b"".join(parts)
