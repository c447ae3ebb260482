"""Which ALPR results are usable, and the reason for each one that is not.

Reasons, in the order they are checked:
``unreadable`` / ``invalid_encoding`` / ``non_finite_number`` / ``schema_mismatch`` (set at ingestion: the
file could not be read, is not UTF-8, holds NaN or an infinity, or an object where a string is declared; see
:mod:`visionlake.ingest.drift`),
``empty_file`` (nothing but whitespace), ``invalid_json`` (not parseable: ``jsonparse.with_diagnosis`` then tells
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

from visionlake.ingest import jsonparse
from visionlake.sources.alpr.schema import REQUIRED_FIELDS, RESULT


def with_result(df: DataFrame, raw_col: str = "raw") -> DataFrame:
    """Add ``result`` (the parsed JSON, declared schema), ``reason`` and ``detail`` (null when usable).

    Requires ``raw`` (text) and ``read_error`` (``<reason>: <detail>`` or null).
    """
    return jsonparse.classify(df, RESULT, REQUIRED_FIELDS, raw_col, "result")
