"""Which ALPR results are usable, and the reason for each one that is not.

Reasons, in the order they are checked:
``unreadable`` / ``invalid_encoding`` (the file could not be read or is not UTF-8; set at ingestion),
``empty_file`` (nothing but whitespace), ``invalid_json`` (not parseable, e.g. truncated),
``not_an_object`` (valid JSON whose top level is an array, string, number or null),
``schema_mismatch`` (a field of the wrong type, e.g. ``duration`` as an object; the detail names the
fields), ``missing_field`` (a required field such as ``frame_id`` is absent or null).
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
    body = jsonparse.body(raw_col)
    parsed = F.col("_parsed")
    broken = jsonparse.broken(parsed)
    not_json = jsonparse.not_json(body)
    missing = [F.when(parsed[name].isNull(), F.lit(name)) for name in REQUIRED_FIELDS]
    read_reason = F.split(F.col("read_error"), ": ", 2)
    reason = (
        F.when(F.col("read_error").isNotNull(), read_reason[0])
        .when(F.length(body) == 0, "empty_file")
        .when(broken & not_json, "invalid_json")
        .when(broken & ~body.startswith("{"), "not_an_object")
        .when(broken, "schema_mismatch")
        .when(F.concat_ws("", *missing) != "", "missing_field")
    )
    reason_col = F.col("reason")
    detail = (
        F.when(reason_col.isin("unreadable", "invalid_encoding"), read_reason[1])
        .when(reason_col == "empty_file", F.format_string("%d characters of whitespace", F.length(raw)))
        .when(reason_col == "invalid_json", F.lit("not parseable as JSON (malformed or truncated)"))
        .when(reason_col == "not_an_object", F.concat(F.lit("top level is "), jsonparse.json_kind(body)))
        .when(
            reason_col == "schema_mismatch", F.concat(F.lit("wrong type: "), jsonparse.mismatched_fields(body, RESULT))
        )
        .when(reason_col == "missing_field", F.concat(F.lit("missing: "), F.concat_ws(", ", *missing)))
    )
    return (
        df.withColumn("_parsed", jsonparse.parse(body, RESULT))
        .withColumn("reason", reason)
        .withColumns(
            {"detail": detail, "result": F.when(reason_col.isNull(), parsed.dropFields(jsonparse.CORRUPT_COLUMN))}
        )
        .drop("_parsed")
    )
