"""What a record carries that its declared schema does not foresee: fields it does not know (an SDK or API
upgrade), numbers that are not finite, and objects where a string is declared.

Spark's ``from_json`` lets all three through: unknown fields are dropped without a trace, ``NaN``,
``Infinity`` and ``1e999`` become non-finite doubles (which no table and no Delta statistic can hold), and a
string field keeps the JSON text of an object. :class:`FieldScanner` finds them in the read tasks, on every
record, and is cheap in the common case: one regular-expression pass collects the key names of the text
and whether each value opens an object or array (about 700 MB/s), byte searches look for ``NaN``,
``Infinity`` and ``INF``, and one more pass for a huge exponent. A hit is kept only where it stands as a
value (``"Device": "Infinix X6"`` and a hash ``"0e3456"`` are not numbers). Only a record that is still
flagged is parsed in Python and walked against the schema, which names the exact paths
(``plates[].car.vin``, ``plates[].confidences[]``).

For JSON Lines read in blocks, :meth:`FieldScanner.suspects` finds, with numpy over the whole block, the lines
that may be flagged (a superset: every key checked against the known names, every ``NaN``/``Inf``, every long
exponent, every line with a backslash or a single quote); only those are scanned one by one.

The walk reads a record as Spark's parser does (:func:`_loads`): single-quoted strings and 1,000 levels of
nesting too. A record Spark reads and this could not was once left unchecked, and an object in one of its
string fields reached the lake as JSON text.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from pyspark.sql import types as T

# A key: a string followed by a colon, starting with a letter, _, $, @ or a non-ASCII character (a key that
# starts with a digit is data, e.g. a landmark id; one that starts with other punctuation is not looked at).
# The first character is matched positively: starting at every quote would backtrack over long arrays.
# The group after the colon is "{" or "[" when the value is an object or array, else empty.
_KEY = re.compile(rb'"([A-Za-z_$@\x80-\xff][^"\\]*)"\s*:\s*([\[{]?)')
# A key written with escapes ("a\u00f1o") never matches _KEY: a text holding one takes the slow path.
_ESCAPED_KEY = re.compile(rb'"[^"]*\\[^"]*"\s*:')
# An exponent of three digits or more: the number may overflow a double (1e309, 1.8e308, 100e307); whether it
# does, and whether it ends a number that stands as a value, is checked separately.
_BIG_EXPONENT = re.compile(rb"[eE]\+?[0-9]{3,}")
# NaN or an infinity as Spark's parser reads it, bare or quoted; whether it stands as a value is checked apart.
_NON_FINITE_WORD = re.compile(rb"[-+]?(?:NaN|Infinity|INF)")
# Those of them Spark's parser reads as infinities and Python's json module does not, as Python writes them.
_PYTHON_WORD = {b"+INF": b"Infinity", b"-INF": b"-Infinity", b"+Infinity": b"Infinity"}
_VALUE_BEFORE = frozenset(b":,[")  # what precedes a value (after whitespace and an opening quote)
_VALUE_AFTER = frozenset(b",]}")  # what follows one
_SPACE = frozenset(b" \t\r\n")
# Documents up to this size are scanned together (:meth:`FieldScanner.scan_many`); a larger one alone, since the
# block pass holds a few copies of the bytes it looks at and a hostile 2 GB document must not join one.
BLOCK_BYTES = 1 << 20
# What a scan finds in one document: (new fields, problem); see FieldScanner.scan.
Finding = tuple[list[str] | None, str | None]
# What Spark's parser turns into NaN or an infinity in a double field, when sent as a string.
_NON_FINITE_TEXT = frozenset({"NaN", "+NaN", "-NaN", "Infinity", "+Infinity", "-Infinity", "INF", "+INF", "-INF"})
EXTENDED_JSON = ("$oid", "$date", "$numberLong", "$numberInt", "$numberDouble", "$numberDecimal")


def _byte_table(chars: bytes | Iterable[int]) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[list(chars)] = True
    return table


_KEY_START = _byte_table(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$@" + bytes(range(0x80, 0x100)))
_SPACE_BYTE = _byte_table(b" \t\n\r\f\v")  # what the regular expressions' \\s matches
_OPEN_BYTE = _byte_table(b"{[")
_DIGIT = _byte_table(b"0123456789")
_NUMBER_BYTE = _byte_table(b"0123456789.+-")
_PAD = bytes(40)  # read past a block's end without a bounds check
# _LOW[n]: the low n bytes of a little-endian 64-bit word
_LOW = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _words(data: bytes) -> np.ndarray:
    """``w[i]`` = the 8 bytes of ``data`` from ``i`` as a little-endian integer (``data`` ends with :data:`_PAD`)."""
    return np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))


class _Names:
    """Exact membership of key names in a set, vectorised, for names of at most :data:`MAX_NAME` bytes (longer
    ones: unsure). A name is its length and its bytes as little-endian words of 8 (see :func:`_key_words`).
    Names are looked up by their first word, then compared with each name of the set that shares it (names
    sharing a prefix, such as ``contrast`` and ``contrast_range``, are usual)."""

    def __init__(self, names: Iterable[bytes]) -> None:
        kept = sorted({n for n in names if len(n) <= MAX_NAME}, key=_name_words)
        table = np.array([_name_words(n) for n in kept], dtype=np.uint64).reshape(-1, _WORDS + 1)
        self.words = [np.ascontiguousarray(table[:, k]) for k in range(_WORDS)]
        self.length = np.ascontiguousarray(table[:, _WORDS])
        firsts = [_name_words(n)[0] for n in kept]
        self.width = max((firsts.count(f) for f in set(firsts)), default=0)  # names sharing a first word

    def lookup(self, words: list[np.ndarray], length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(surely in the set, surely not) for keys given by :func:`_key_words` and their lengths."""
        size = length.astype(np.uint64)
        found = np.zeros(length.shape, dtype=bool)
        if self.length.size:
            at = np.searchsorted(self.words[0], words[0])
            for k in range(self.width):
                i = np.minimum(at + k, self.length.size - 1)
                same = self.length[i] == size
                for mine, theirs in zip(self.words, words, strict=True):
                    same &= mine[i] == theirs
                found |= same
        return found, ~found & (length <= MAX_NAME)


_WORDS = 4
MAX_NAME = 8 * _WORDS


def _name_words(name: bytes) -> tuple[int, ...]:
    return (*(int.from_bytes(name[8 * k : 8 * k + 8], "little") for k in range(_WORDS)), len(name))


def _key_words(words: np.ndarray, start: np.ndarray, end: np.ndarray) -> list[np.ndarray]:
    """The words of :class:`_Names` of the keys ``data[start:end]``, from ``words = _words(data)`` (``data`` padded
    so that every word of a key's span can be read)."""
    length = end - start
    return [words[start + 8 * k] & _LOW[np.clip(length - 8 * k, 0, 8)] for k in range(_WORDS)]


def _line_of(starts: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The index of the line holding each position (lines start at ``starts``; a position before the first
    start, in a byte-order mark, belongs to the first line)."""
    return np.maximum(np.searchsorted(starts, positions, side="right") - 1, 0)


def _names(kind: T.DataType, strings_only: bool = False) -> set[str]:
    if isinstance(kind, T.StructType):
        own = {f.name for f in kind.fields if not strings_only or isinstance(f.dataType, T.StringType)}
        return own.union(*(_names(f.dataType, strings_only) for f in kind.fields))
    if isinstance(kind, T.ArrayType):
        return _names(kind.elementType, strings_only)
    if isinstance(kind, T.MapType):
        return _names(kind.valueType, strings_only)
    return set()


# An undeclared key is written to the lake (bronze ``new_fields``, ``_quality/schema_drift``, the run summary) as it
# stands only when it looks like a field name. A key that is itself a value (an object keyed by e-mail, client
# GUID, IP address, device or document number where fields are expected) is written as its shape, never as it
# stands; so is any other key that is no field name (spaces, dots, control characters, over 64 characters).
_KEY_SHAPES = (
    ("<e-mail>", re.compile(r"[^@\s]@[^@\s]")),
    ("<uuid>", re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)),
    # dotted, or as cloud host names write them (ip-10-0-0-1, host_10_0_0_1); IPv6 with its colons
    ("<ip address>", re.compile(r"\d{1,3}(?:[-_.]\d{1,3}){3}|[0-9a-f]*:[0-9a-f]*:[0-9a-f]*:", re.IGNORECASE)),
    ("<device id>", re.compile(r"[0-9a-f]{2}(?:[-:_][0-9a-f]{2}){5}", re.IGNORECASE)),  # a MAC address
    ("<hex id>", re.compile(r"(?=[0-9a-f]*\d)[0-9a-f]{12,}", re.IGNORECASE)),  # 12 hex digits or more, one a digit
)
NUMBER_DIGITS = 5  # a key with this many digits, whatever separates them, holds a number (a document, a phone)
_FIELD_NAME = re.compile(r"[^\W\d][\w$-]{0,63}|[$@][^\W\d][\w$-]{0,62}")


def shown_key(name: str) -> str:
    """How an undeclared key is written to the lake: as it stands when it is a field name, else its shape
    (``<e-mail>``, ``<uuid>``, ``<ip address>``, ``<device id>``, ``<hex id>``, ``<number>`` for five digits or
    more, ``<key>`` for anything else). A person's name, a disguised e-mail (``ana_at_example_org``) or an opaque
    token used as a key cannot be told from a field name."""
    for shape, pattern in _KEY_SHAPES:
        if pattern.search(name):
            return shape
    if sum(char.isnumeric() for char in name) >= NUMBER_DIGITS:
        return "<number>"
    return name if _FIELD_NAME.fullmatch(name) else "<key>"


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _stands_as_value(data: bytes, start: int, end: int, quote_ok: bool) -> bool:
    """Whether ``data[start:end]`` is a whole JSON value: after ``:``, ``,`` or ``[`` and before ``,``, ``]``
    or ``}`` (whitespace between; with ``quote_ok``, inside quotes of its own)."""
    before, after = _back(data, start - 1), _ahead(data, end)
    if quote_ok and before >= 0 and after < len(data) and data[before] == data[after] == 0x22:
        before, after = _back(data, before - 1), _ahead(data, after + 1)
    return before >= 0 and data[before] in _VALUE_BEFORE and (after == len(data) or data[after] in _VALUE_AFTER)


def _back(data: bytes, i: int) -> int:
    while i >= 0 and data[i] in _SPACE:
        i -= 1
    return i


def _ahead(data: bytes, i: int) -> int:
    while i < len(data) and data[i] in _SPACE:
        i += 1
    return i


def _non_finite(data: bytes) -> bool:
    if b"NaN" not in data and b"Infinity" not in data and b"INF" not in data:  # the common case
        return False
    return any(_stands_as_value(data, m.start(), m.end(), True) for m in _NON_FINITE_WORD.finditer(data))


def _loads(data: bytes) -> object:
    """The record as Spark's parser reads it, read by Python's ``json``: also the infinities only Spark's parser
    reads (``+INF``, ``-INF``, ``+Infinity``, where they stand as values), strings in single quotes (which it
    reads too) and nesting up to its limit (1,000 levels; see :data:`DEEPEST`). None when it is not JSON to
    either. Whatever Spark reads must be read here: a record this cannot read is not checked, and an object in a
    string field would reach the lake as its JSON text."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        pass
    words = [
        m
        for m in _NON_FINITE_WORD.finditer(data)
        if m.group() in _PYTHON_WORD and _stands_as_value(data, m.start(), m.end(), False)
    ]
    parts, at = [], 0
    for match in words:
        parts += [data[at : match.start()], _PYTHON_WORD[match.group()]]
        at = match.end()
    text = b"".join([*parts, data[at:]])
    if b"'" in text:
        text = _STRING.sub(_double_quoted, text)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


# A string in double quotes (kept as it is) or in single quotes (group 1: its content), escapes included.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"|\'((?:[^\'\\]|\\.)*)\'', re.DOTALL)
_IN_SINGLE_QUOTES = re.compile(rb'\\.|"', re.DOTALL)  # what changes when a single-quoted string is double-quoted
# Deeper than Python's default recursion limit lets ``json`` and :meth:`FieldScanner._walk` go, with room for the
# frames below them: Spark's parser reads 1,000 levels of nesting.
DEEPEST = 1_000


@contextmanager
def _deep_enough() -> Iterator[None]:
    """Python's recursion limit raised for a record nested :data:`DEEPEST` levels (``json`` and the walk
    recurse once per level), then restored."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 3 * DEEPEST))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def _double_quoted(match: re.Match) -> bytes:
    """A string of the text, in double quotes: a single-quoted one with ``\\'`` unescaped and ``"`` escaped."""
    content = match.group(1)
    if content is None:
        return match.group()
    return (
        b'"'
        + _IN_SINGLE_QUOTES.sub(
            lambda m: b"'" if m.group() == b"\\'" else (b'\\"' if m.group() == b'"' else m.group()), content
        )
        + b'"'
    )


def _single_quoted(data: bytes) -> bool:
    """Whether a single quote stands outside the double-quoted strings of ``data``: a string Spark's parser reads
    that the key pass does not see (``{'message': {...}}``)."""
    return b"'" in data and any(m.group(1) is not None for m in _STRING.finditer(data))


def _big_exponent(data: bytes) -> bool:
    if _BIG_EXPONENT.search(data) is None:  # the common case: one pass, no match
        return False
    return any(_big_exponent_at(data, m.start()) for m in _BIG_EXPONENT.finditer(data))


def _long_exponents(arr: np.ndarray, size: int) -> np.ndarray:
    """Positions of every ``e`` or ``E`` after a number byte and before three digits (an optional ``+``
    between): a superset of where :data:`_BIG_EXPONENT` matches as :func:`_big_exponent` looks for it."""
    at = np.flatnonzero((arr[:size] | 0x20) == ord("e"))
    at = at[(at > 0) & _NUMBER_BYTE[arr[at - 1]]]
    digits = at + 1 + (arr[at + 1] == ord("+"))
    return at[_DIGIT[arr[digits]] & _DIGIT[arr[digits + 1]] & _DIGIT[arr[digits + 2]]]


def _big_exponent_at(line: bytes | memoryview, at: int) -> bool:
    """Whether :data:`_BIG_EXPONENT` matches at ``at`` of ``line`` as the exponent of a number that stands as a
    value and overflows a double, as every JSON parser reads it (matches cannot overlap, so testing each position
    is testing each match)."""
    match = _BIG_EXPONENT.match(line, at)
    if match is None:
        return False
    start = at
    while start and line[start - 1] in b"0123456789.+-":
        start -= 1
    end = match.end()
    while end < len(line) and line[end] in b"0123456789":
        end += 1
    if not (start < at and _stands_as_value(line, start, end, False)):
        return False
    try:
        return math.isinf(float(bytes(line[start:end])))
    except ValueError:  # not a number after all ("1.2.3e400"): the parse reports it
        return False


@dataclass
class _Findings:
    new: set
    non_finite: set
    wrong_type: set


class FieldScanner:
    """Scans the JSON text of one record against its declared schema.

    Args:
        schema: the declared schema of a record.
        ignored: paths known and deliberately not kept (``user_data.trazabilidad``; ``*`` matches any key,
            ``[]`` any element); nothing under them is reported.
        known_names: key names that occur under the ignored paths, so that records carrying them take the
            fast path.
        json_text: string fields declared to hold JSON text (MongoDB's ``{"$oid": ...}``): an object there is
            expected, not a wrong type.
    """

    def __init__(
        self,
        schema: T.StructType,
        ignored: Iterable[str] = (),
        known_names: Iterable[str] = (),
        json_text: Iterable[str] = (),
    ) -> None:
        self.schema = schema
        self.ignored = tuple(ignored)
        self.json_text = frozenset(json_text)
        known = _names(schema) | set(known_names) | set(EXTENDED_JSON)
        self.names = frozenset(n.encode() for n in known)
        self._ignored = [re.compile(_pattern(p)) for p in self.ignored]
        strings = _names(schema, strings_only=True) - {p.rsplit(".", 1)[-1] for p in self.json_text}
        self._strings = frozenset(n.encode() for n in strings)
        self._known = _Names(self.names)
        self._string_names = _Names(self._strings)

    def scan(self, data: bytes) -> Finding:
        """(new fields, problem) of one record's text.

        New fields are ``["<path>:<json type>", ...]``, sorted, or None. The problem is ``<reason>: <detail>``
        for a record that cannot be used as it is: ``schema_mismatch: wrong type: <paths>`` (an object or array
        where a string is declared) or ``non_finite_number: NaN or infinite: <paths>``; None otherwise, and
        for text that is not a JSON object (the parse reports that).
        """
        keys = set(_KEY.findall(data))  # (name, "{" / "[" / "") pairs; far fewer than the keys of the text
        unknown = (b"\\" in data and _ESCAPED_KEY.search(data) is not None) or any(k not in self.names for k, _ in keys)
        object_in_string = any(opens and key in self._strings for key, opens in keys)
        if not (unknown or object_in_string or _single_quoted(data) or _non_finite(data) or _big_exponent(data)):
            return None, None
        with _deep_enough():
            record = _loads(data)
            if not isinstance(record, dict):
                return None, None
            found = _Findings(set(), set(), set())
            self._walk(record, self.schema, "", found)
        problem = None
        if found.wrong_type:
            problem = f"schema_mismatch: wrong type: {', '.join(sorted(found.wrong_type))}"
        elif found.non_finite:
            problem = f"non_finite_number: NaN or infinite: {', '.join(sorted(found.non_finite))}"
        return sorted(found.new) or None, problem

    def scan_lines(self, block: bytes, starts: np.ndarray, ends: Sequence[int]) -> dict[int, Finding]:
        """What :meth:`scan` finds in the lines of ``block`` (line ``i`` is ``block[starts[i]:ends[i]]``, the
        ``starts`` sorted and each line ending before the next starts), by line index, for the lines where it
        finds something. Only the lines the vectorised pre-scan (:meth:`suspects`) picks are scanned: a scan
        costs about 30 us per 1 KB line, the pre-scan a third of that."""
        found = {}
        for i in self.suspects(block, starts).tolist():
            finding = self.scan(block[int(starts[i]) : ends[i]])
            if finding != (None, None):
                found[i] = finding
        return found

    def scan_many(self, documents: Sequence[bytes | None]) -> dict[int, Finding]:
        """What :meth:`scan` finds in each of ``documents`` (None: not to be scanned), by index, for those where
        it finds something: the documents of up to :data:`BLOCK_BYTES` one per line of a block
        (:meth:`scan_lines`), larger ones alone."""
        small = [i for i, data in enumerate(documents) if data is not None and len(data) <= BLOCK_BYTES]
        found = {}
        for i, data in enumerate(documents):
            if data is not None and len(data) > BLOCK_BYTES and (finding := self.scan(data)) != (None, None):
                found[i] = finding
        if small:
            sizes = np.array([len(documents[i]) + 1 for i in small], dtype=np.int64)  # each with its newline
            ends = np.cumsum(sizes)
            starts = ends - sizes
            block = b"\n".join(documents[i] for i in small) + b"\n"
            for k, finding in self.scan_lines(block, starts, (ends - 1).tolist()).items():
                found[small[k]] = finding
        return found

    def suspects(self, block: bytes, starts: np.ndarray) -> np.ndarray:
        """Indices (sorted) of the lines of ``block`` that :meth:`scan` may flag, the lines starting at ``starts``
        (sorted byte positions; a line runs to the next start). A superset: every other line of the block
        scans clean. Exact on the lines that matter: :meth:`scan` flags only JSON objects, and in one without a
        backslash the quotes pair up, so a quote followed by a colon ends a key and the quote before it opens
        it, the keys ``_KEY`` would find."""
        data = block + _PAD
        arr = np.frombuffer(data, dtype=np.uint8)
        size = len(block)
        found = [np.flatnonzero(arr[:size] == 0x5C)]  # a backslash: escapes may hide keys and quotes
        found.append(np.flatnonzero(arr[:size] == 0x27))  # a single quote: may open a string the key pass misses
        for first, second, third in ((b"N", b"a", b"N"), (b"I", b"n", b"f"), (b"I", b"N", b"F")):  # NaN, Inf, INF
            at = np.flatnonzero(arr[:size] == first[0])
            found.append(at[(arr[at + 1] == second[0]) & (arr[at + 2] == third[0])])
        found += self._key_suspects(data, arr, size)
        exponents = _long_exponents(arr, size)  # mostly hex digits of ids: told apart here, not by a line scan
        if exponents.size:
            lines = _line_of(starts, exponents)
            bounds = np.append(starts, size)
            view = memoryview(block)  # a line of it without a copy: a long line may hold many hex ids
            found.append(
                np.array(
                    [
                        at
                        for at, i in zip(exponents.tolist(), lines.tolist(), strict=True)
                        if _big_exponent_at(view[bounds[i] : bounds[i + 1]], at - int(bounds[i]))
                    ],
                    dtype=np.int64,
                )
            )
        hits = np.concatenate(found)
        return np.unique(_line_of(starts, hits)) if hits.size else hits

    def _key_suspects(self, data: bytes, arr: np.ndarray, size: int) -> list[np.ndarray]:
        """Positions of unknown keys, of objects or arrays under string keys, and of spacing this does not
        follow (whitespace before a colon, or two bytes of it after one)."""
        quotes = np.flatnonzero(arr[:size] == 0x22)
        after = arr[quotes + 1]
        spaced = _SPACE_BYTE[after] & (_SPACE_BYTE[arr[quotes + 2]] | (arr[quotes + 2] == 0x3A))
        ends = np.flatnonzero(after == 0x3A)
        ends = ends[ends > 0]
        end, start = quotes[ends], quotes[ends - 1] + 1
        keep = _KEY_START[arr[start]]
        end, start = end[keep], start[keep]
        length = end - start
        words = _key_words(_words(data), start, end)
        known, _ = self._known.lookup(words, length)
        _, not_string = self._string_names.lookup(words, length)
        first, second = arr[end + 2], arr[end + 3]  # after the colon
        opens = _OPEN_BYTE[first] | (_SPACE_BYTE[first] & _OPEN_BYTE[second])
        odd = _SPACE_BYTE[first] & _SPACE_BYTE[second]
        return [quotes[spaced], start[~known | (opens & ~not_string) | odd]]

    def new_fields(self, data: bytes) -> list[str] | None:
        """``["<path>:<json type>", ...]`` for the undeclared fields of one record's text, sorted; None when
        there are none or the text is not a JSON object."""
        return self.scan(data)[0]

    def _is_ignored(self, path: str) -> bool:
        return any(p.fullmatch(path) for p in self._ignored)

    def _walk(self, value: object, kind: T.DataType, path: str, found: _Findings) -> None:
        if self._is_ignored(path):
            return
        if isinstance(kind, T.StructType) and isinstance(value, dict):
            declared = {f.name: f.dataType for f in kind.fields}
            for key, child in value.items():
                child_path = f"{path}.{key}" if path else key
                if key in declared:
                    self._walk(child, declared[key], child_path, found)
                elif not self._is_ignored(child_path):
                    shown = f"{path}.{shown_key(key)}" if path else shown_key(key)
                    found.new.add(f"{shown}:{_json_type(child)}")
        elif isinstance(kind, T.ArrayType) and isinstance(value, list):
            for item in value:
                self._walk(item, kind.elementType, f"{path}[]", found)
        elif isinstance(kind, T.MapType) and isinstance(value, dict):
            for item in value.values():  # map keys are data (accessory names), not fields
                self._walk(item, kind.valueType, f"{path}[]", found)
        elif isinstance(kind, T.NumericType):  # NaN, an infinity or 1e999 where an integer is declared too
            if (isinstance(value, float) and not math.isfinite(value)) or (
                isinstance(value, str) and value in _NON_FINITE_TEXT
            ):
                found.non_finite.add(path)
        elif isinstance(kind, T.StringType) and isinstance(value, dict | list) and path not in self.json_text:
            found.wrong_type.add(path)
        # other mismatches (a number where a struct is declared, ...) are reported by the parse


def _pattern(path: str) -> str:
    return "".join("[^.\\[\\]]+" if part == "*" else re.escape(part) for part in re.split(r"(\*)", path))
