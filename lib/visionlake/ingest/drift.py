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
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import types as T

# A key: a string followed by a colon, starting with a letter, _, $, @ or a non-ASCII character (a key that
# starts with a digit is data, e.g. a landmark id; one that starts with other punctuation is not looked at).
# The first character is matched positively: starting at every quote would backtrack over long arrays.
# The group after the colon is "{" or "[" when the value is an object or array, else empty.
_KEY = re.compile(rb'"([A-Za-z_$@\x80-\xff][^"\\]*)"\s*:\s*([\[{]?)')
# A key written with escapes ("a\u00f1o") never matches _KEY: a text holding one takes the slow path.
_ESCAPED_KEY = re.compile(rb'"[^"]*\\[^"]*"\s*:')
# An exponent that overflows a double (1e309 and up); whether it ends a number is checked separately.
_BIG_EXPONENT = re.compile(rb"[eE]\+?(?:3(?:0[89]|[1-9][0-9])|[4-9][0-9]{2}|[0-9]{4,})")
# NaN or an infinity as Spark's parser reads it, bare or quoted; whether it stands as a value is checked apart.
_NON_FINITE_WORD = re.compile(rb"[-+]?(?:NaN|Infinity|INF)")
_VALUE_BEFORE = frozenset(b":,[")  # what precedes a value (after whitespace and an opening quote)
_VALUE_AFTER = frozenset(b",]}")  # what follows one
_SPACE = frozenset(b" \t\r\n")
# What Spark's parser turns into NaN or an infinity in a double field, when sent as a string.
_NON_FINITE_TEXT = frozenset({"NaN", "+NaN", "-NaN", "Infinity", "+Infinity", "-Infinity", "INF", "+INF", "-INF"})
EXTENDED_JSON = ("$oid", "$date", "$numberLong", "$numberInt", "$numberDouble", "$numberDecimal")


def _names(kind: T.DataType, strings_only: bool = False) -> set[str]:
    if isinstance(kind, T.StructType):
        own = {f.name for f in kind.fields if not strings_only or isinstance(f.dataType, T.StringType)}
        return own.union(*(_names(f.dataType, strings_only) for f in kind.fields))
    if isinstance(kind, T.ArrayType):
        return _names(kind.elementType, strings_only)
    if isinstance(kind, T.MapType):
        return _names(kind.valueType, strings_only)
    return set()


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


def _big_exponent(data: bytes) -> bool:
    if _BIG_EXPONENT.search(data) is None:  # the common case: one pass, no match
        return False
    for m in _BIG_EXPONENT.finditer(data):
        start = m.start()
        while start and data[start - 1] in b"0123456789.+-":
            start -= 1
        end = m.end()
        while end < len(data) and data[end] in b"0123456789":
            end += 1
        if start < m.start() and _stands_as_value(data, start, end, False):
            return True
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

    def scan(self, data: bytes) -> tuple[list[str] | None, str | None]:
        """(new fields, problem) of one record's text.

        New fields are ``["<path>:<json type>", ...]``, sorted, or None. The problem is ``<reason>: <detail>``
        for a record that cannot be used as it is: ``schema_mismatch: wrong type: <paths>`` (an object or array
        where a string is declared) or ``non_finite_number: NaN or infinite: <paths>``; None otherwise, and
        for text that is not a JSON object (the parse reports that).
        """
        keys = set(_KEY.findall(data))  # (name, "{" / "[" / "") pairs; far fewer than the keys of the text
        unknown = (b"\\" in data and _ESCAPED_KEY.search(data) is not None) or any(k not in self.names for k, _ in keys)
        object_in_string = any(opens and key in self._strings for key, opens in keys)
        if not (unknown or object_in_string or _non_finite(data) or _big_exponent(data)):
            return None, None
        try:
            record = json.loads(data)
        except (ValueError, RecursionError):
            return None, None
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
                    found.new.add(f"{child_path}:{_json_type(child)}")
        elif isinstance(kind, T.ArrayType) and isinstance(value, list):
            for item in value:
                self._walk(item, kind.elementType, f"{path}[]", found)
        elif isinstance(kind, T.MapType) and isinstance(value, dict):
            for item in value.values():  # map keys are data (accessory names), not fields
                self._walk(item, kind.valueType, f"{path}[]", found)
        elif isinstance(kind, T.DoubleType | T.FloatType):
            if (isinstance(value, float) and not math.isfinite(value)) or (
                isinstance(value, str) and value in _NON_FINITE_TEXT
            ):
                found.non_finite.add(path)
        elif isinstance(kind, T.StringType) and isinstance(value, dict | list) and path not in self.json_text:
            found.wrong_type.add(path)
        # other mismatches (a number where a struct is declared, ...) are reported by the parse


def _pattern(path: str) -> str:
    return "".join("[^.\\[\\]]+" if part == "*" else re.escape(part) for part in re.split(r"(\*)", path))
