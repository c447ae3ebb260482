"""Parsing JSON text with a declared schema in the JVM, and naming what is wrong with text that does not fit.

Shared by every source: ``from_json`` in PERMISSIVE mode with a corrupt-record column, a body trimmed of
leading whitespace and byte-order mark, and the column expressions that turn a failed parse into a reason
(``invalid_json``, ``not_an_object``, ``schema_mismatch``) and a detail.
"""

from __future__ import annotations

import re

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.ingest.jsonsplit import MAX_DEPTH

CORRUPT_COLUMN = "_corrupt_record"
TRAILING = "trailing"  # the readers' column: whether text follows the first JSON value (null: not known)
_LEADING = " \\t\\r\\n\\uFEFF"  # whitespace and a byte-order mark may precede the JSON (SQL escapes)
# Any option keeps Spark's JSON optimizer from pruning the parse to the fields a query reads, which
# would hide a wrong-typed field from the corrupt-record column.
PARSE_OPTIONS = {"mode": "PERMISSIVE"}


def body(text_column: str) -> Column:
    """The text without leading whitespace or byte-order mark."""
    return F.expr(f"trim(LEADING '{_LEADING}' FROM `{text_column}`)")


def blank(text: Column) -> Column:
    """True for empty text: its byte length, which Spark keeps (``length`` counts the characters, a pass over
    every byte of every row)."""
    return F.octet_length(text) == 0


def with_corrupt(schema: T.StructType) -> T.StructType:
    return T.StructType([*schema.fields, T.StructField(CORRUPT_COLUMN, T.StringType())])


def parse(text: Column, schema: T.StructType) -> Column:
    """``from_json`` with ``schema`` plus the corrupt-record column (see :func:`with_corrupt`)."""
    return F.from_json(text, with_corrupt(schema), PARSE_OPTIONS)


def broken(parsed: Column) -> Column:
    return parsed.isNull() | parsed[CORRUPT_COLUMN].isNotNull()


def not_json(text: Column) -> Column:
    return F.get_json_object(text, "$").isNull()


def _ddl(kind: T.DataType) -> str:
    """The type in SQL's DDL form, every field name quoted."""
    if isinstance(kind, T.StructType):
        return "struct<" + ", ".join(f"{_quote(f.name)}: {_ddl(f.dataType)}" for f in kind.fields) + ">"
    if isinstance(kind, T.ArrayType):
        return f"array<{_ddl(kind.elementType)}>"
    if isinstance(kind, T.MapType):
        return f"map<{_ddl(kind.keyType)}, {_ddl(kind.valueType)}>"
    return kind.simpleString()


def all_fields(schema: T.StructType) -> str:
    """What :func:`mismatched_fields` gives when the text as a whole cannot be parsed (every probe fails)."""
    return ", ".join(schema.fieldNames())


def mismatched_fields(text: str, schema: T.StructType) -> Column:
    """Comma-separated names of the top-level fields of the JSON in column ``text`` whose value does not fit
    the declared type (one probe parse per field; evaluate it only for texts known not to parse). When every
    probe fails, the text itself is refused (e.g. a raw control character that ``get_json_object`` lets
    through): compare with :func:`all_fields`."""
    cases = []
    for field in schema.fields:
        probe = _ddl(T.StructType([field, T.StructField(CORRUPT_COLUMN, T.StringType())]))
        parsed = f"from_json({_quote(text)}, '{probe}', map('mode', 'PERMISSIVE'))"
        cases.append(f"CASE WHEN {parsed}.{CORRUPT_COLUMN} IS NOT NULL THEN '{field.name}' END")
    return F.expr(f"concat_ws(', ', {', '.join(cases)})")


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


# ------------------------------------------------------------------------------------------------
# what from_json lets through: text after the first value (non-finite numbers and objects in string fields
# are found while reading: visionlake.ingest.drift)

# Spark 3.5 parses with Jackson 2.15, whose default StreamReadConstraints refuse deeper nesting (MAX_DEPTH,
# from jsonsplit), longer strings and longer numbers than these; such a document fails to parse like malformed JSON.
MAX_STRING_CHARS = 20_000_000
MAX_NUMBER_CHARS = 1000


def trailing_data(text: Column, known: Column | None = None) -> Column:
    """True when text whose first JSON value parsed holds more than that value (garbage, or a second value).

    ``known``, when given, is the readers' answer (:func:`visionlake.ingest.jsonsplit.trailing_text`, null where
    it could not tell); the JVM tests only the texts it left open. That test parses the text twice with Spark's
    parser and its options (``NaN``, ``Infinity`` and single quotes read as ``from_json`` reads them), as an
    array of strings: ``[`` + text + ``]`` must be a one-element JSON array and ``[`` + text + ``,0]`` a
    two-element one. One wrapping alone is fooled by a ``]`` in the text, which closes the array early and hides
    what follows (``{"a":1}] , [{"b":2}`` is one element); the second wrapping then closes at that same ``]``,
    with the same count. The wrapping adds a level: a text nested exactly :data:`MAX_DEPTH` deep fails it.
    (``json_array_length``, used until Dec 5, reads no ``NaN`` nor ``Infinity``: every text holding one failed
    it. Parsing ``[`` + text + ``]`` with the record's schema would save a pass, but a field of the wrong type
    inside an array element is nulled without a trace, so it cannot replace the parse.)"""

    def elements(suffix: str) -> Column:
        wrapped = F.concat(F.lit("["), text, F.lit(suffix))
        return F.size(F.from_json(wrapped, T.ArrayType(T.StringType()), PARSE_OPTIONS))

    one_value = F.coalesce(elements("]") == 1, F.lit(False)) & F.coalesce(elements(",0]") == 2, F.lit(False))
    return ~one_value if known is None else F.coalesce(known, ~one_value)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _sql_string(text: str) -> str:
    """``text`` for the inside of a SQL string literal (Spark unescapes backslashes there)."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _named(violations: list[tuple[str, str]]) -> str:
    """SQL for the comma-separated paths whose condition holds ("" when none)."""
    cases = ", ".join(f"CASE WHEN {condition} THEN '{path}' END" for path, condition in violations)
    return f"concat_ws(', ', {cases})" if violations else "''"


# ------------------------------------------------------------------------------------------------
# why the parser refused a text: the limit it hit, or where the JSON is malformed

# A JSON string: runs of plain characters between escapes ("unrolled": the pattern "(?:[^"\\]|\\.)*" matches the same
# strings one character at a time, and took 11 s to diagnose a 50 MB file, this one 0.6 s).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _max_depth(structure: str) -> int:
    """The deepest nesting of ``[``/``{`` in text whose strings were removed."""
    import numpy as np

    data = np.frombuffer(structure.encode("ascii", "replace"), dtype=np.uint8)
    steps = np.zeros(len(data), dtype=np.int32)
    steps[(data == ord("[")) | (data == ord("{"))] = 1
    steps[(data == ord("]")) | (data == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def diagnose(text: str) -> str:
    """``<reason>: <detail>`` for JSON text that Spark's parser refused: ``too_deep`` or ``too_large`` when it
    is over one of the parser's limits (the detail gives the limit), else ``invalid_json`` with where the text
    stops being JSON."""
    import json

    structure = _STRING.sub('""', text)
    depth = _max_depth(structure)
    if depth > MAX_DEPTH:
        return f"too_deep: nesting depth {depth:,} is over the JSON parser's limit of {MAX_DEPTH:,}"
    try:
        json.loads(text)
    except RecursionError:
        return f"too_deep: nesting depth {depth:,} is over what the JSON parser allows (limit {MAX_DEPTH:,})"
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno} (character {exc.pos})"
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            return f"invalid_json: truncated: the text ends at {where} before the JSON value is complete"
        return f"invalid_json: not parseable as JSON: {exc.msg.removesuffix(' at')} at {where}"
    except ValueError:  # JSON, but an integer longer than Python converts (sys.get_int_max_str_digits): see below
        pass
    longest = max((len(m) - 2 for m in _STRING.findall(text)), default=0)
    if longest > MAX_STRING_CHARS:
        return f"too_large: a string of {longest:,} characters is over the JSON parser's limit of {MAX_STRING_CHARS:,}"
    digits = max((len(m) for m in _NUMBER.findall(structure)), default=0)
    if digits > MAX_NUMBER_CHARS:
        return f"too_large: a number of {digits:,} characters is over the JSON parser's limit of {MAX_NUMBER_CHARS:,}"
    return _REFUSED


_REFUSED = "invalid_json: refused by the JSON parser"  # also a refused document's parse_error until it is diagnosed


def _diagnose_or_none(text: str | None) -> str | None:
    return None if text is None else diagnose(text)


INVALID = "invalid_json"
REFUSED_DETAIL = "not parseable as JSON"
# The text of a document the parser refused (null on every other row), kept by parsed_documents for
# diagnose_refused, which replaces the document's parse_error by its diagnosis and drops the text.
REFUSED_TEXT = "_refused_text"


def diagnose_refused(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` without :data:`REFUSED_TEXT`, the ``parse_error`` of each row that has one replaced by
    :func:`diagnose` of it. Run where the rows are in Python anyway (the task that writes them to the lake:
    :class:`visionlake.lake.delta.Finish`), so that only the few refused texts are diagnosed."""
    texts = batch.column(REFUSED_TEXT)
    kept = [name for name in batch.schema.names if name != REFUSED_TEXT]
    if texts.null_count < len(texts):
        errors = batch.column("parse_error").to_pylist()
        for i, text in enumerate(texts.to_pylist()):
            if text is not None:
                errors[i] = diagnose(text)
        batch = batch.set_column(
            batch.schema.get_field_index("parse_error"), "parse_error", pa.array(errors, pa.string())
        )
    return batch.select(kept)


def with_diagnosis(df: DataFrame, text: str) -> DataFrame:
    """Rows with ``reason`` ``invalid_json`` get the reason and detail of :func:`diagnose` (``too_deep``,
    ``too_large``, or where the JSON breaks), from column ``text``; other rows are left as they are.

    Kept apart from the classification because it runs Python: apply it only when a batch has such rows.
    """
    invalid = F.col("reason") == INVALID
    found = F.split(diagnosed(F.when(invalid, F.col(text))), ": ", 2)
    return df.withColumns(
        {
            "reason": F.when(invalid, found[0]).otherwise(F.col("reason")),
            "detail": F.when(invalid, found[1]).otherwise(F.col("detail")),
        }
    )


def diagnosed(text: Column) -> Column:
    """:func:`diagnose` of ``text``, a Python UDF: give it null for the rows that need no diagnosis. Every row
    still crosses to Python (a null for most) and back: use it on few rows (:func:`with_diagnosis` runs only on
    batches that hold refused texts). A plain (pickled) UDF, so the worker imports no pandas."""
    return F.udf(_diagnose_or_none, "string")(text)


def classify(
    df: DataFrame, schema: T.StructType, required: tuple[str, ...], raw_col: str = "raw", out: str = "result"
) -> DataFrame:
    """Add ``out`` (the text parsed with ``schema``), ``reason`` and ``detail`` (null when usable): the reasons of
    a source whose records are one JSON object each (see the ALPR source's quality module for their meaning).

    Requires ``raw_col`` (text), ``read_error`` (``<reason>: <detail>`` or null) and ``trailing`` (the reader's
    answer on text after the first value, null where it could not tell: :func:`trailing_data`); ``required``
    names the top-level fields a usable record must have.
    """
    raw = F.col(raw_col)
    text = F.col("_body")
    parsed = F.col("_parsed")
    is_broken = broken(parsed)
    is_not_json = is_broken & not_json(text)
    missing = [F.when(parsed[name].isNull(), F.lit(name)) for name in required]
    read_reason = F.split(F.col("read_error"), ": ", 2)
    usable = F.col("read_error").isNull() & ~blank(text)
    top_level = F.col("_mismatched")
    refused = is_not_json | (top_level == all_fields(schema))
    reason = (
        F.when(F.col("read_error").isNotNull(), read_reason[0])
        .when(blank(text), "empty_file")
        .when(refused, INVALID)
        .when(is_broken & ~text.startswith("{"), "not_an_object")
        .when(is_broken, "schema_mismatch")
        .when(trailing_data(text, F.col(TRAILING)), "trailing_data")
        .when(F.concat_ws("", *missing) != "", "missing_field")
    )
    reason_col = F.col("reason")
    detail = (
        F.when(F.col("read_error").isNotNull(), read_reason[1])
        .when(reason_col == "empty_file", F.format_string("%d characters of whitespace", F.length(raw)))
        .when(reason_col == INVALID, F.lit(REFUSED_DETAIL))
        .when(reason_col == "not_an_object", F.concat(F.lit("top level is "), json_kind(text)))
        .when(reason_col == "schema_mismatch", F.concat(F.lit("wrong type: "), top_level))
        .when(reason_col == "trailing_data", F.lit("more text after the first JSON value (garbage or a second value)"))
        .when(reason_col == "missing_field", F.concat(F.lit("missing: "), F.concat_ws(", ", *missing)))
    )
    return (
        df.withColumn("_body", body(raw_col))
        .withColumn("_parsed", F.when(usable, parse(text, schema)))
        .withColumns(
            {
                "_mismatched": F.when(
                    is_broken & ~is_not_json & text.startswith("{"), mismatched_fields("_body", schema)
                ),
            }
        )
        .withColumn("reason", reason)
        .withColumns({"detail": detail, out: F.when(reason_col.isNull(), parsed.dropFields(CORRUPT_COLUMN))})
        .drop("_body", "_parsed", "_mismatched")
    )


def parsed_documents(read: DataFrame, schema: T.StructType, fields: dict[str, Column] | None = None) -> DataFrame:
    """Rows with the fields of ``schema`` (``fields`` may replace some, as expressions of the parsed struct
    ``_parsed``), the read's lineage and ``parse_error`` = ``<reason>: <detail>`` from rows with ``text``,
    ``read_error`` and ``trailing`` (:mod:`visionlake.ingest.documents`). A document
    that cannot be used keeps only its lineage (its fields are null). Reasons: the read's own, ``empty_file``,
    ``invalid_json`` / ``too_deep`` / ``too_large``, ``not_an_object``, ``schema_mismatch`` (the detail names
    the fields) and ``trailing_data``.

    A text the parser refused is kept in :data:`REFUSED_TEXT` (null on every other row) and its ``parse_error``
    is ``invalid_json: refused by the JSON parser`` until :func:`diagnose_refused` (in Python) says why: the
    limit it hit (``too_deep``, ``too_large``) or where it stops being JSON. Diagnose before the rows are
    written, or drop the column: it holds the raw text."""
    text, parsed, broken_text = F.col("_body"), F.col("_parsed"), F.col("_broken")
    readable = F.col("read_error").isNull() & ~blank(text)
    # decided for every row, in the JVM: what needs no second look at a text that did not parse
    found = (
        F.when(F.col("read_error").isNotNull(), F.col("read_error"))
        .when(blank(text), F.lit("empty_file: a blank document"))
        .when(broken(parsed), F.lit(None))  # decided below, from the text kept for it
        .when(
            trailing_data(text, F.col(TRAILING)),
            F.lit("trailing_data: more text after the first JSON value (garbage or a second value)"),
        )
    )
    # decided for the texts that did not parse only: why (the probes of each field and Python's diagnosis)
    is_not_json = not_json(broken_text)
    top_level = F.when(~is_not_json & broken_text.startswith("{"), mismatched_fields("_broken", schema))
    refused = is_not_json | (top_level == all_fields(schema))
    why = (
        F.when(refused, F.lit(_REFUSED))
        .when(~broken_text.startswith("{"), F.concat(F.lit("not_an_object: top level is "), json_kind(broken_text)))
        .otherwise(F.concat(F.lit("schema_mismatch: wrong type: "), top_level))
    )
    usable = F.col("_found").isNull() & broken_text.isNull()
    values = {name: parsed[name] for name in schema.fieldNames()} | (fields or {})
    document = [F.when(usable, value).alias(name) for name, value in values.items()]
    lineage = [c for c in read.columns if c not in ("text", "read_error", TRAILING)]
    return (
        read.withColumn("_body", body("text"))
        .withColumn("_parsed", F.when(readable, parse(text, schema)))
        .withColumns({"_found": found, "_broken": F.when(readable & broken(parsed), text)})
        # The texts are dropped here but for those that did not parse: what follows is the parsed fields.
        .select(*document, *lineage, "_found", "_broken")
        .withColumns(
            {
                "parse_error": F.coalesce("_found", F.when(broken_text.isNotNull(), why)),
                REFUSED_TEXT: F.when(refused, broken_text),
            }
        )
        .drop("_found", "_broken")
    )
