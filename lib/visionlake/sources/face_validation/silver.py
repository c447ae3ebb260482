"""Bronze documents -> silver ``api_calls``: which documents are usable, and their 79 staging columns.

Reasons a document is quarantined, in the order they are checked: the bronze ``parse_error`` reasons
(``unreadable``, ``invalid_encoding``, ``invalid_json``, ``not_an_object``, ``schema_mismatch``),
``missing_field`` (``_id``, ``date``, ``summary``, ``summary.code`` or ``summary.status`` absent or null),
``invalid_date`` (``date`` is not a timestamp, or one out of the years 1900-9999: :func:`event_time`), then,
among usable documents, ``duplicate_id`` (the same ``_id`` and the same content as a document ingested before)
and ``conflicting_duplicate_id`` (the same ``_id`` with different content). The first document of an ``_id``, in
ingestion order, is the one kept.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from visionlake.ingest.quarantine import located_rows
from visionlake.sources.face_validation.schema import DOCUMENT, MODULES, PARTITION, STAGING
from visionlake.transforms.scrub import scrubbed_prose
from visionlake.transforms.times import FIRST_SECONDS, PAST_LAST_SECONDS, in_years, local_in_years

REQUIRED = ("_id", "date", "summary", "summary.code", "summary.status")
SUMMARY_STATUSES = ("ok", "error")
KEY = (["_id"], "id", "_id")  # duplicates: the key columns, the reason's suffix, how details name the key


def event_time(date: Column, zone: str | None = None) -> Column:
    """The API's ``date`` as a UTC timestamp (:func:`written_time`); null when it is none, or out of the years
    1900-9999 UTC (:func:`~visionlake.transforms.times.in_years`: until Dec 6 a document of 1899 stopped every
    later run) or, given ``zone`` (the API's, where gold's local dates are taken), in that zone (until Dec 6 20:00
    UTC on 31 Dec 9999 east of UTC stopped them too: gold cannot write a local date of year 10000)."""
    utc = in_years(written_time(date))
    return utc if zone is None else F.when(local_in_years(utc, zone).isNotNull(), utc)


def written_time(date: Column) -> Column:
    """The API's ``date`` as a UTC timestamp: an ISO-8601 string with offset, or Extended JSON
    ``{"$date": "<ISO>"}`` / ``{"$date": {"$numberLong": "<epoch ms>"}}`` (as JSON text). Epoch milliseconds out
    of the years 1900-9999 give the nearest instant just outside them, which :func:`event_time` rejects (until Dec 6
    milliseconds past a long's microseconds, year 292,278, stopped every later run: Spark's multiplication throws).
    """
    text = F.trim(date)
    wrapped = F.get_json_object(text, "$['$date']")
    millis = F.get_json_object(wrapped, "$['$numberLong']")
    bounded = F.least(
        F.greatest(millis.cast("long"), F.lit((FIRST_SECONDS - 1) * 1000)), F.lit(PAST_LAST_SECONDS * 1000)
    )
    return (
        F.when(~text.startswith("{"), F.to_timestamp(text))
        .when(millis.isNotNull(), F.timestamp_millis(bounded))
        .otherwise(F.to_timestamp(wrapped))
    )


def summary_module(code_raw: Column) -> Column:
    """The module that answered, from the first two digits of the four-digit code (null when unknown)."""
    mapping = F.create_map(*[F.lit(x) for pair in MODULES.items() for x in pair])
    return mapping[F.substring(F.lpad(code_raw, 4, "0"), 1, 2)]


def classify(bronze: DataFrame, zone: str | None = None) -> DataFrame:
    """Add ``reason`` and ``detail`` (null when usable) from parse errors, required fields, ``date`` (in the
    years 1900-9999 in UTC and, given ``zone``, in that zone: :func:`event_time`) and the summary (a whole-number
    code of at most nine digits, a status of :data:`SUMMARY_STATUSES`).

    Duplicates (:data:`KEY`) are marked by :func:`visionlake.sources.runner.duplicates_marked`, which needs the
    earlier documents too.
    """
    missing = [F.when(F.col(name).isNull(), F.lit(name)) for name in REQUIRED]
    missing_list = F.concat_ws(", ", *missing)
    parse = F.split(F.col("parse_error"), ": ", 2)
    # silver's summary_code is an int and its status ok or error (until Dec 6 "ABCD" or "OK" failed a check that
    # held back gold on every later run); bronze scrubbed both (bronze.FREE_TEXT), the detail may show them
    code, status = F.col("summary.code"), F.col("summary.status")
    bad_code, bad_status = ~F.trim(code).rlike("^[0-9]{1,9}$"), ~status.isin(*SUMMARY_STATUSES)
    reason = (
        F.when(F.col("parse_error").isNotNull(), parse[0])
        .when(missing_list != "", "missing_field")
        .when(event_time(F.col("date"), zone).isNull(), "invalid_date")
        .when(bad_code | bad_status, "invalid_summary")
    )
    written = written_time(F.col("date"))
    detail = (
        F.when(F.col("parse_error").isNotNull(), parse[1])
        .when(missing_list != "", F.concat(F.lit("missing: "), missing_list))
        .when(
            event_time(F.col("date"), zone).isNull(),
            F.concat(
                F.when(written.isNull(), F.lit("not a timestamp: "))
                .when(in_years(written).isNull(), F.lit("out of the years 1900-9999 UTC: "))
                .otherwise(F.lit(f"out of the years 1900-9999 in {zone}: ")),
                F.substring(scrubbed_prose(F.col("date")), 1, 100),
            ),
        )
        .when(
            bad_code, F.concat(F.lit("summary.code is not a whole number: "), F.substring(scrubbed_prose(code), 1, 100))
        )
        .when(
            bad_status,
            F.concat(F.lit("summary.status is neither ok nor error: "), F.substring(scrubbed_prose(status), 1, 100)),
        )
    )
    return bronze.withColumns({"reason": reason, "detail": detail})


def quarantine_rows(classified: DataFrame) -> DataFrame:
    """source_path, reason, detail (prefixed with the document's byte offset) and raw: the redacted,
    pseudonymised document as JSON when it could be parsed (never the text as read)."""
    return located_rows(classified, DOCUMENT.fieldNames())


def _value(path: str) -> Column:
    head, *rest = path.split(".")
    column = F.col(head)
    for part in rest:
        name, _, index = part.partition("[")
        column = column[name]
        if index:
            column = column[int(index.rstrip("]"))]
    return column


def build_api_calls(accepted: DataFrame) -> DataFrame:
    """The 79 staging columns (under their reference names), then summary_code_raw, summary_module and
    event_date (UTC date of ``date``) for usable documents."""
    columns = []
    for name, path, kind in STAGING:
        if name == "date":
            value = event_time(F.col("date"))
        elif name == "summary_code":
            value = F.col("summary.code").cast("int")
        else:
            value = _value(path).cast(kind)
        columns.append(value.alias(name))
    return accepted.select(
        *columns,
        F.col("summary.code").alias("summary_code_raw"),
        summary_module(F.col("summary.code")).alias("summary_module"),
    ).withColumn(PARTITION, F.to_date("date"))
