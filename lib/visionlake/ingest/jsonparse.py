"""Parsing JSON text with a declared schema in the JVM, and naming what is wrong with text that does not fit.

Shared by every source: ``from_json`` in PERMISSIVE mode with a corrupt-record column, a body trimmed of
leading whitespace and byte-order mark, and the column expressions that turn a failed parse into a reason
(``invalid_json``, ``not_an_object``, ``schema_mismatch``) and a detail.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

CORRUPT_COLUMN = "_corrupt_record"
_LEADING = " \\t\\r\\n\\uFEFF"  # whitespace and a byte-order mark may precede the JSON (SQL escapes)
# Any option keeps Spark's JSON optimizer from pruning the parse to the fields a query reads, which
# would hide a wrong-typed field from the corrupt-record column.
PARSE_OPTIONS = {"mode": "PERMISSIVE"}


def body(text_column: str) -> Column:
    """The text without leading whitespace or byte-order mark."""
    return F.expr(f"trim(LEADING '{_LEADING}' FROM `{text_column}`)")


def with_corrupt(schema: T.StructType) -> T.StructType:
    return T.StructType([*schema.fields, T.StructField(CORRUPT_COLUMN, T.StringType())])


def parse(text: Column, schema: T.StructType) -> Column:
    """``from_json`` with ``schema`` plus the corrupt-record column (see :func:`with_corrupt`)."""
    return F.from_json(text, with_corrupt(schema), PARSE_OPTIONS)


def broken(parsed: Column) -> Column:
    return parsed.isNull() | parsed[CORRUPT_COLUMN].isNotNull()


def not_json(text: Column) -> Column:
    return F.get_json_object(text, "$").isNull()


def mismatched_fields(text: Column, schema: T.StructType) -> Column:
    """Comma-separated names of the top-level fields whose JSON value does not fit the declared type."""
    checks = []
    for field in schema.fields:
        probe = T.StructType([field, T.StructField(CORRUPT_COLUMN, T.StringType())])
        bad = F.from_json(text, probe, PARSE_OPTIONS)[CORRUPT_COLUMN].isNotNull()
        checks.append(F.when(bad, F.lit(field.name)))
    return F.concat_ws(", ", *checks)


def json_kind(text: Column) -> Column:
    """What the top level of valid JSON text is, from its first character ("an array", "a string", ...)."""
    first_char = F.substring(text, 1, 1)
    return (
        F.when(first_char == "[", "an array")
        .when(first_char == '"', "a string")
        .when(first_char == "n", "null")
        .when(first_char.isin("t", "f"), "a boolean")
        .otherwise("a number")
    )
