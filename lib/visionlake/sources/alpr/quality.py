"""Which ALPR results are usable, and the reason for each one that is not.

Reasons, in the order they are checked:
``unreadable`` / ``invalid_encoding`` / ``non_finite_number`` / ``schema_mismatch`` (set at ingestion: the
file could not be read, is not UTF-8, holds NaN or an infinity, or an object where a string is declared; see
:mod:`visionlake.ingest.drift`),
``empty_file`` (nothing but whitespace), ``invalid_json`` (not parseable: :func:`with_diagnosis` then tells
``too_deep`` / ``too_large``, over the JSON parser's nesting, string or number limit with the limit in the
detail, from malformed or truncated JSON, saying where it breaks), ``not_an_object`` (valid JSON whose top
level is an array, string, number or null), ``schema_mismatch`` (a field of the wrong type, e.g. ``duration``
as an object or ``text`` as an array; the detail names the fields), ``non_finite_number`` (NaN or an
infinity in a number field; the detail names the fields), ``trailing_data`` (more text after the first JSON
value: garbage or a second value), and ``missing_field`` (a required field such as ``frame_id`` is absent or
null).
A key that appears twice in one object keeps its last value, as in Python's ``json``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visionlake.ingest import jsonparse
from visionlake.sources.alpr.schema import REQUIRED_FIELDS, RESULT


def with_result(df: DataFrame, raw_col: str = "raw") -> DataFrame:
    """Add ``result`` (the parsed JSON, declared schema), ``reason`` and ``detail`` (null when usable).

    Requires ``raw`` (text) and ``read_error`` (``<reason>: <detail>`` or null).
    """
    raw = F.col(raw_col)
    body = F.col("_body")
    parsed = F.col("_parsed")
    broken = jsonparse.broken(parsed)
    not_json = broken & jsonparse.not_json(body)
    missing = [F.when(parsed[name].isNull(), F.lit(name)) for name in REQUIRED_FIELDS]
    read_reason = F.split(F.col("read_error"), ": ", 2)
    usable = F.col("read_error").isNull() & (F.length(body) > 0)
    top_level = F.col("_mismatched")
    refused = not_json | (top_level == jsonparse.all_fields(RESULT))
    reason = (
        F.when(F.col("read_error").isNotNull(), read_reason[0])
        .when(F.length(body) == 0, "empty_file")
        .when(refused, jsonparse.INVALID)
        .when(broken & ~body.startswith("{"), "not_an_object")
        .when(broken, "schema_mismatch")
        .when(jsonparse.trailing_data(body), "trailing_data")
        .when(F.concat_ws("", *missing) != "", "missing_field")
    )
    reason_col = F.col("reason")
    detail = (
        F.when(F.col("read_error").isNotNull(), read_reason[1])
        .when(reason_col == "empty_file", F.format_string("%d characters of whitespace", F.length(raw)))
        .when(reason_col == jsonparse.INVALID, F.lit(jsonparse.REFUSED_DETAIL))
        .when(reason_col == "not_an_object", F.concat(F.lit("top level is "), jsonparse.json_kind(body)))
        .when(reason_col == "schema_mismatch", F.concat(F.lit("wrong type: "), top_level))
        .when(reason_col == "trailing_data", F.lit("more text after the first JSON value (garbage or a second value)"))
        .when(reason_col == "missing_field", F.concat(F.lit("missing: "), F.concat_ws(", ", *missing)))
    )
    return (
        df.withColumn("_body", jsonparse.body(raw_col))
        .withColumn("_parsed", F.when(usable, jsonparse.parse(body, RESULT)))
        .withColumns(
            {
                "_mismatched": F.when(
                    broken & ~not_json & body.startswith("{"), jsonparse.mismatched_fields("_body", RESULT)
                ),
            }
        )
        .withColumn("reason", reason)
        .withColumns(
            {"detail": detail, "result": F.when(reason_col.isNull(), parsed.dropFields(jsonparse.CORRUPT_COLUMN))}
        )
        .drop("_body", "_parsed", "_mismatched")
    )


def with_diagnosis(classified: DataFrame) -> DataFrame:
    """Rows rejected as ``invalid_json`` by :func:`with_result` get their precise reason and detail."""
    return jsonparse.with_diagnosis(classified, "raw")
