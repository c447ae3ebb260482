"""Bronze lines -> silver ``requests``, ``evaluations``, ``load_test_points`` and ``load_test_runs`` (+ quarantine).

Reasons a line is quarantined, in the order they are checked: the bronze ``parse_error`` reasons (``unreadable``,
``invalid_encoding``, ``empty_file``, ``invalid_json``, ``too_deep``, ``too_large``, ``not_an_object``,
``schema_mismatch``, ``trailing_data``, ``non_finite_number``), ``missing_field`` (the kind's :data:`REQUIRED`
fields; for a k6 sample its time and value; for a no-match answer with an enrolment key, its expiry),
``invalid_timestamp`` (a time of :data:`TIMES` that is not a full ISO 8601 date-time with its offset, or out of the
years 1900-9999: :func:`utc`), ``unknown_endpoint`` (a request of neither endpoint), ``out_of_range`` (a number of
:data:`RANGES` out of its range: an HTTP status that is not a whole number from 100 to 599, a negative latency,
stage time, distance or threshold, a gallery size that is not a whole number from 0; a k6 sample's value out of
:data:`K6_RANGES`: an ``http_req_failed`` other than 0 to 1, a duration, count or VUs below 0 or past 10^15), then
among usable lines ``duplicate_request_id`` / ``conflicting_duplicate_request_id`` (a request logged before, with the
same or other content), ``duplicate_probe`` / ``conflicting_duplicate_probe`` (a run's probe recorded before) and
``duplicate_sample`` (a k6 sample of the same test run and content read before: a copy of the file). The first line
of a key in ingestion order is kept.

A k6 line that is not a sample of a metric of :data:`~.schema.K6_METRICS` (a ``Metric`` declaration, a sample of
``iterations`` or ``data_sent``, a type k6 may add later) is not an error: it is skipped and counted in
``load_test_runs.skipped_lines``, so that ``bronze = silver + skipped + quarantine`` holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from visionlake.ingest.quarantine import located_rows
from visionlake.sources.face_recognition.schema import (
    ENDPOINTS,
    EVALUATIONS,
    ISO_TIME,
    K6_METRICS,
    LOAD_TEST_POINTS,
    LOADTESTS,
    PARTITION,
    REQUESTS,
    REQUESTS_TABLE,
    STAGES,
    TIMES,
    bronze_fields,
)
from visionlake.transforms.scrub import scrubbed_prose

REQUIRED = {
    REQUESTS: ("request_id", "ts", "endpoint", "http_status"),
    EVALUATIONS: ("evaluation_run_id", "probe_id", "in_gallery", "threshold", "ts"),
    LOADTESTS: ("type",),
}
# the numbers of a line that have a range: path -> (lowest, highest or None, whole number). A line with one out
# of it is quarantined out_of_range: an HTTP status of 0 or 1e10 would fail the error-level range check of
# silver.requests and stop all gold, a negative latency would count as a fast good request in the SLOs, a negative
# distance as the surest of matches in the accuracy tables (a distance, and the threshold it is compared with, is
# never below 0), a gallery of -3 or 2.5 faces is no gallery.
RANGES = {
    REQUESTS: {
        "http_status": (100, 599, True),
        "latency_ms": (0, None, False),
        **{f"stages.{name}": (0, None, False) for name in STAGES},
        "match.distance": (0, None, False),
        "match.threshold": (0, None, False),
    },
    # a gallery size past 2^53 is no whole number a double holds exactly (nor a face count)
    EVALUATIONS: {"threshold": (0, None, False), "gallery_size": (0, 2**53, True), "distance": (0, None, False)},
}
# a k6 sample's value, per metric (until Dec 6 unchecked: an http_req_failed of 2 failed gold's failure_rate check,
# which held back every gold table on every later run; two durations of 1.7e308 ms gave an infinite average). 10^15
# ms is 31,700 years.
K6_MAX = 10**15
K6_RANGES = {
    "http_req_failed": (0, 1, False),
    "http_req_duration": (0, K6_MAX, False),
    "http_reqs": (0, K6_MAX, False),
    "vus": (0, K6_MAX, True),
}
KEYS = {
    REQUESTS: (["request_id"], "request_id", "request_id"),
    EVALUATIONS: (["evaluation_run_id", "probe_id"], "probe", "run_id and probe_id"),
    LOADTESTS: (["test_run_id", "sample_sha256"], "sample", "test run"),
}


def _value(path: str) -> Column:
    head, *rest = path.split(".")
    column = F.col(head)
    for part in rest:
        column = column[part]
    return column


def utc(text: Column) -> Column:
    """An ISO-8601 date-time with an offset (or ``Z``) as a UTC timestamp; digits past the microsecond (k6 writes
    nanoseconds) are dropped, and blanks around the text ignored: Spark's cast does both (a regular expression
    that cut the digits first cost 0.5 s per 3,000,000 lines, for nothing). Null when the text is not such a
    time (:data:`ISO_TIME`: no date, no offset, a year or month alone, a year before 1900 or after 9999). The one
    reading of a time for every kind of line: requests, evaluations and k6 samples."""
    return F.when(text.rlike(ISO_TIME), F.to_timestamp(text))


def skipped(kind: str) -> Column:
    """A parsed k6 line that is not a sample of a metric visionlake uses."""
    if kind != LOADTESTS:
        return F.lit(False)
    metric = F.col("metric")
    return (F.col("type") != "Point") | (metric.isNotNull() & ~metric.isin(*K6_METRICS))


def classify(bronze: DataFrame, kind: str) -> DataFrame:
    """Add ``reason`` and ``detail`` (null when usable or skipped) and ``skipped`` (see the module docstring).

    Duplicates (:data:`KEYS`) are marked by :func:`visionlake.sources.runner.duplicates_marked`, which needs the
    earlier lines too."""
    parsed = F.col("parse_error").isNull()
    sample = parsed & F.col("type").isNotNull() & ~skipped(kind) if kind == LOADTESTS else parsed
    missing = [F.when(_value(p).isNull(), F.lit(p)) for p in REQUIRED[kind]]
    if kind == LOADTESTS:  # a sample needs its metric, time and value; other k6 lines are skipped
        missing += [F.when(sample & _value(p).isNull(), F.lit(p)) for p in ("metric", "data.time", "data.value")]
    if kind == REQUESTS:  # a no-match answer that issues a key needs its expiry, or the funnel could not judge it
        no_match = (F.col("endpoint") == "recognise_user") & (F.col("message") == "no_match")
        issues = no_match & _value("enrollment.req_id").isNotNull()
        missing.append(F.when(issues & _value("enrollment.expires_at").isNull(), F.lit("enrollment.expires_at")))
    missing_list = F.concat_ws(", ", *missing)
    bad_time = F.coalesce(
        *[
            F.when(
                _value(p).isNotNull() & utc(_value(p)).isNull(),
                F.concat(F.lit(f"{p} is not an ISO 8601 time: "), F.substring(scrubbed_prose(_value(p)), 1, 100)),
            )
            for p in TIMES[kind]
        ]
    )
    ranges = [_out_of_range(p, *bounds) for p, bounds in RANGES.get(kind, {}).items()]
    if kind == LOADTESTS:  # a k6 sample's value, by its metric
        ranges += [F.when(F.col("metric") == m, _out_of_range("data.value", *b, label=m)) for m, b in K6_RANGES.items()]
    out_of_range = F.coalesce(F.lit(None).cast("string"), *ranges)
    parse = F.split(F.col("parse_error"), ": ", 2)
    # each problem is computed once, in a projection of its own, then read by the reason and the detail: inlined in
    # both, the times were parsed several times per line (silver of 3,000,000 request lines took 35 s more)
    problems = {"_bad_time": bad_time, "_out_of_range": out_of_range}
    bad_time, out_of_range = F.col("_bad_time"), F.col("_out_of_range")
    rules = [
        (~parsed, parse[0], parse[1]),
        (missing_list != "", F.lit("missing_field"), F.concat(F.lit("missing: "), missing_list)),
        (sample & bad_time.isNotNull(), F.lit("invalid_timestamp"), bad_time),
    ]
    if kind == REQUESTS:
        endpoint = F.col("endpoint")
        rules.append(
            (
                ~endpoint.isin(*ENDPOINTS),
                F.lit("unknown_endpoint"),
                F.concat(
                    F.lit("endpoint is neither recognise_user nor add_user: "),
                    F.substring(scrubbed_prose(endpoint), 1, 100),
                ),
            )
        )
    rules.append((sample & out_of_range.isNotNull(), F.lit("out_of_range"), out_of_range))
    reason, detail = F, F
    for condition, why, what in rules:
        reason, detail = reason.when(condition, why), detail.when(condition, what)
    return (
        bronze.withColumns(problems)
        .withColumns({"reason": reason, "detail": detail})
        .withColumn("skipped", F.coalesce(parsed & skipped(kind), F.lit(False)) & F.col("reason").isNull())
        .transform(lambda df: _with_sample_key(df) if kind == LOADTESTS else df)
        .drop(*problems)
    )


def _out_of_range(path: str, lowest: int, highest: int | None, whole: bool, label: str | None = None) -> Column:
    """``<path> is not <what it must be>: <value>`` when the number at ``path`` is out of its range; else null
    (``label``: what the detail names instead of the path)."""
    value = _value(path)
    bad = value < lowest
    if highest is not None:
        bad = bad | (value > highest)
    if whole:
        bad = bad | (value != F.floor(value))
    what = f"{'a whole number' if whole else 'a number'} from {lowest}" + (f" to {highest}" if highest else " up")
    return F.when(bad, F.concat(F.lit(f"{label or path} is not {what}: "), value.cast("string")))


def table_columns(classified: DataFrame, kind: str, also: Sequence[str] = ()) -> DataFrame:
    """The columns of classified lines that the silver tables and the quarantine are built from: the line's fields,
    where it was read, and why it was rejected or skipped (not the hashes and run columns), then those of ``also``
    that are not among them."""
    fields = [f.name for f in bronze_fields(kind)]
    kept = [*fields, "source_path", "source_offset", "parse_error", "reason", "detail", "skipped"]
    return classified.select(*kept, *[c for c in dict.fromkeys(also) if c not in kept])


def quarantine_rows(classified: DataFrame, kind: str) -> DataFrame:
    """source_path, reason, detail (prefixed with the line's byte offset) and raw: the allowlisted, pseudonymised
    line as JSON when it could be parsed (never the text as read)."""
    return located_rows(classified, [f.name for f in bronze_fields(kind)])


def error_class(status: Column) -> Column:
    return F.when(status >= 500, "server_5xx").when(status >= 400, "client_4xx").otherwise("ok")


def build_requests(accepted: DataFrame) -> DataFrame:
    """One row per usable request line (:data:`~.schema.REQUESTS_TABLE`)."""
    status = F.col("http_status").cast("int")
    recognise = F.col("endpoint") == "recognise_user"
    columns = {
        "request_id": F.col("request_id"),
        "ts": utc(F.col("ts")),
        "endpoint": F.col("endpoint"),
        "http_status": status,
        "status": F.col("status"),
        "message": F.col("message"),
        "error_code": F.col("error_code"),
        "error_class": error_class(status),
        "latency_ms": F.col("latency_ms"),
        **{name: F.col("stages")[name] for name in STAGES},
        "face_detected": F.col("face.detected"),
        "face_confidence": F.col("face.confidence"),
        "matched": F.when(recognise, F.col("match.user_id").isNotNull()),
        "match_distance": F.col("match.distance"),
        "threshold": F.col("match.threshold"),
        "user_id": F.coalesce(F.col("match.user_id"), F.col("enrollment.user_id"), F.col("user_info.id")),
        "enrollment_key": F.col("enrollment.req_id"),
        "enrollment_expires_at": utc(F.col("enrollment.expires_at")),
        "client_ip": F.col("client.ip"),
        "app_version": F.col("client.app_version"),
        "source_path": F.col("source_path"),
    }
    out = accepted.select(*[value.alias(name) for name, value in columns.items()])
    out = out.withColumn(PARTITION, F.to_date("ts"))
    return out.select(*[F.col(f.name).cast(f.dataType) for f in REQUESTS_TABLE.fields])


def build_evaluations(accepted: DataFrame) -> DataFrame:
    """One row per usable probe line (:data:`~.schema.EVALUATIONS_TABLE`)."""
    return accepted.select(
        F.col("evaluation_run_id").alias("run_id"),
        F.upper("protocol").alias("protocol"),
        "model",
        "threshold",
        F.col("gallery_size").cast("long").alias("gallery_size"),
        "probe_id",
        "probe_identity",
        "in_gallery",
        "predicted_identity",
        "distance",
        utc(F.col("ts")).alias("ts"),
        "source_path",
    ).withColumn(PARTITION, F.to_date("ts"))


def _with_sample_key(classified: DataFrame) -> DataFrame:
    """k6 lines plus what :data:`KEYS` finds a sample read before by: its test run and content (null for a line
    that is no sample). k6 times samples to the nanosecond: two equal lines of one run are one line read twice, a
    copy of the file (until Dec 6 a copy under another input root doubled the run's counts)."""
    usable = F.col("reason").isNull() & ~F.col("skipped")
    return classified.withColumns(
        {"test_run_id": run_id_of(F.col("source_path")), "sample_sha256": F.when(usable, F.col("content_sha256"))}
    )


def run_id_of(source_path: Column) -> Column:
    """The id of a k6 file's test run: its path under ``loadtests/``, less a final ``.json`` when the name left has
    no other suffix (``k6-20261102.json`` -> ``k6-20261102``, the id it always had). Any other file keeps its whole
    path (``k6.jsonl``, ``k6.v2.json``): two files that differ only in suffix are two runs. No two files get the
    same id, since a kept path always ends in a suffix and a shortened one never does. (Until Dec 5 every
    suffix was dropped, and ``k6.json`` and ``k6.jsonl`` were merged into one run.)"""
    # from the first loadtests/ folder (until Dec 6 the last: loadtests/team-b/loadtests/k6.json was run k6 too)
    path = F.regexp_extract(source_path, r"^.*?/loadtests/(.+)$", 1)
    return F.when(path.rlike(r"^(.*/)?[^./]+\.json$"), F.regexp_replace(path, r"\.json$", "")).otherwise(path)


def build_load_test_points(accepted: DataFrame) -> DataFrame:
    """One row per k6 sample of a metric visionlake uses (:data:`~.schema.LOAD_TEST_POINTS`)."""
    tags = F.col("data.tags")
    out = (
        accepted.where(~F.col("skipped"))
        .select(
            run_id_of(F.col("source_path")).alias("test_run_id"),
            "metric",
            utc(F.col("data.time")).alias("ts"),
            F.col("data.value").alias("value"),
            tags["name"].alias("name"),
            tags["method"].alias("method"),
            tags["status"].alias("status"),
            tags["scenario"].alias("scenario"),
            F.when(tags["expected_response"].isNotNull(), tags["expected_response"] == "true").alias(
                "expected_response"
            ),
            F.coalesce(tags, F.create_map().cast("map<string,string>")).alias("tags"),
            "source_path",
            "source_offset",
        )
        .withColumn(PARTITION, F.to_date("ts"))
    )
    return out.select(*[F.col(f.name).cast(f.dataType) for f in LOAD_TEST_POINTS.fields])


def build_load_test_runs(classified: DataFrame) -> DataFrame:
    """One row per k6 file: its lines, the samples kept, the lines skipped and quarantined, the metrics it
    declared and the time its samples span."""
    kept = F.col("reason").isNull() & ~F.col("skipped")
    return (
        classified.groupBy("source_path")
        .agg(
            F.count(F.lit(1)).alias("lines"),
            F.count(F.when(kept, 1)).alias("points"),
            F.count(F.when(F.col("skipped"), 1)).alias("skipped_lines"),
            F.count(F.when(F.col("reason").isNotNull(), 1)).alias("quarantined_lines"),
            F.sort_array(F.collect_set(F.when(F.col("type") == "Metric", F.col("metric")))).alias("declared_metrics"),
            F.min(F.when(kept, utc(F.col("data.time")))).alias("started_at"),
            F.max(F.when(kept, utc(F.col("data.time")))).alias("ended_at"),
        )
        .select(run_id_of(F.col("source_path")).alias("test_run_id"), "*")
    )
