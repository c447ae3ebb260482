"""What a record carries that its declared schema does not foresee: fields it does not know (an SDK or API
upgrade), numbers that are not finite, and objects where a string is declared.

Spark's ``from_json`` lets all three through: unknown fields are dropped without a trace, ``NaN``,
``Infinity`` and ``1e999`` become non-finite doubles (which no table and no Delta statistic can hold), and a
string field keeps the JSON text of an object. :class:`FieldScanner` finds them in the read tasks, on every
record, and is cheap in the common case: a regular-expression pass collects the key names of the text
(about 500 MB/s) and a few byte searches look for ``NaN``/``Inf``, a huge exponent or ``"<string field>": {``.
Only a record that a pass flags is parsed in Python and walked against the schema, which names the exact
paths (``plates[].car.vin``, ``plates[].confidences[]``).
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
_KEY = re.compile(rb'"([A-Za-z_$@\x80-\xff][^"\\]*)"\s*:')
# A key written with escapes ("a\u00f1o") never matches _KEY: a text holding one takes the slow path.
_ESCAPED_KEY = re.compile(rb'"[^"]*\\[^"]*"\s*:')
# An exponent that overflows a double (1e309 and up); the character before it is checked separately.
_BIG_EXPONENT = re.compile(rb"[eE]\+?(?:3(?:0[89]|[1-9][0-9])|[4-9][0-9]{2}|[0-9]{4,})")
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


def _big_exponent(data: bytes) -> bool:
    if _BIG_EXPONENT.search(data) is None:  # the common case: one pass, no match
        return False
    return any(m.start() and data[m.start() - 1] in b"0123456789." for m in _BIG_EXPONENT.finditer(data))


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
        strings = sorted(_names(schema, strings_only=True) - {p.rsplit(".", 1)[-1] for p in self.json_text})
        self._object_in_string = (
            re.compile(rb'"(?:' + b"|".join(re.escape(n.encode()) for n in strings) + rb')"\s*:\s*[\[{]')
            if strings
            else None
        )

    def _suspect_values(self, data: bytes) -> bool:
        return (
            b"NaN" in data
            or b"Inf" in data
            or _big_exponent(data)
            or (self._object_in_string is not None and self._object_in_string.search(data) is not None)
        )

    def scan(self, data: bytes) -> tuple[list[str] | None, str | None]:
        """(new fields, problem) of one record's text.

        New fields are ``["<path>:<json type>", ...]``, sorted, or None. The problem is ``<reason>: <detail>``
        for a record that cannot be used as it is: ``schema_mismatch: wrong type: <paths>`` (an object or array
        where a string is declared) or ``non_finite_number: NaN or infinite: <paths>``; None otherwise, and
        for text that is not a JSON object (the parse reports that).
        """
        escaped = b"\\" in data and _ESCAPED_KEY.search(data) is not None
        unknown = escaped or bool(set(_KEY.findall(data)) - self.names)
        if not unknown and not self._suspect_values(data):
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
