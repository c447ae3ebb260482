"""Declared schemas of the face recognition backend's three inputs and of the face_recognition lake tables.

The inputs (reference: face-recognition-api.md §2), told apart by the first folder under the input root:
- ``requests/``: request logs, JSON Lines, one line per request of ``recognise_user`` or ``add_user``;
- ``evaluations/``: evaluation runs, JSON Lines, one line per probe;
- ``loadtests/``: k6 ``--out json`` files, one JSON object per line (``Metric`` declarations, ``Point`` samples).

Each input schema is an allowlist: parsing with it is what drops the face ``embedding`` (biometric data), the
user's name, e-mail and birthdate, the user agent and the face box, so none of them reaches the lake, bronze
included. Numbers a logger may write as text or as numbers (``error_code``) are strings (Spark keeps a
number's JSON text for a string field).
"""

from __future__ import annotations

from pyspark.sql import types as T

STR, DBL, BOOL, LONG, INT = T.StringType(), T.DoubleType(), T.BooleanType(), T.LongType(), T.IntegerType()
TS, DATE = T.TimestampType(), T.DateType()
PARTITION = "event_date"

REQUESTS, EVALUATIONS, LOADTESTS = "requests", "evaluations", "loadtests"  # the input folders
KINDS = (REQUESTS, EVALUATIONS, LOADTESTS)
ENDPOINTS = ("recognise_user", "add_user")
STAGES = ("detect_ms", "embed_ms", "search_ms", "db_ms", "queue_ms")
K6_METRICS = ("http_req_duration", "http_req_failed", "http_reqs", "vus")  # the k6 metrics visionlake uses


def _struct(**fields: T.DataType) -> T.StructType:
    return T.StructType([T.StructField(name, kind) for name, kind in fields.items()])


# ---- inputs (allowlists) ---------------------------------------------------------------------------------

REQUEST_LINE = _struct(
    ts=STR,
    request_id=STR,
    endpoint=STR,
    http_status=DBL,
    status=STR,
    message=STR,
    error_code=STR,
    latency_ms=DBL,
    stages=_struct(**{name: DBL for name in STAGES}),
    face=_struct(detected=BOOL, confidence=DBL),  # the box is left out
    match=_struct(user_id=STR, distance=DBL, threshold=DBL),
    enrollment=_struct(req_id=STR, expires_at=STR, user_id=STR),
    client=_struct(ip=STR, app_version=STR),  # the user agent is left out
    user_info=_struct(id=STR),  # name, email and birthdate are left out
    # embedding is left out: biometric data
)
EVALUATION_LINE = _struct(
    run_id=STR,
    protocol=STR,
    model=STR,
    threshold=DBL,
    gallery_size=DBL,
    probe_id=STR,
    probe_identity=STR,
    in_gallery=BOOL,
    predicted_identity=STR,
    distance=DBL,
    ts=STR,
)
K6_LINE = _struct(
    type=STR,
    metric=STR,
    data=_struct(time=STR, value=DBL, tags=T.MapType(STR, STR)),  # a Metric line's data (its declaration) is not kept
)
LINES = {REQUESTS: REQUEST_LINE, EVALUATIONS: EVALUATION_LINE, LOADTESTS: K6_LINE}

# The identifying values replaced by keyed pseudonyms at ingestion (column paths in bronze). The client's IP
# is pseudonymised whole (not truncated to its network): the lake needs to tell clients apart, not locate them.
PSEUDONYMISED = {
    REQUESTS: ("match.user_id", "enrollment.req_id", "enrollment.user_id", "client.ip", "user_info.id"),
    EVALUATIONS: ("probe_id", "probe_identity", "predicted_identity"),
    LOADTESTS: (),
}

# the times of a line: each, when present, must be a time (:func:`.silver.utc`). A no-match answer's expiry is one:
# without it the enrolment funnel could not judge the key, and the answer would leave the funnel unseen.
TIMES = {REQUESTS: ("ts", "enrollment.expires_at"), EVALUATIONS: ("ts",), LOADTESTS: ("data.time",)}

# A full ISO 8601 date-time with its offset, as RFC 3339 writes it: date, time to the second (a fraction may
# follow), Z or +hh:mm (or +hhmm); a space may stand for the T. Spark's cast reads no time without its seconds.
# Spark's cast alone also reads "12:00:00" (today), "2026-11" (the first of the month) and a time without an
# offset (as UTC): none of them says when something happened. The year is 1900 to 9999, the last day of 9999
# takes no offset west of UTC (its instant would be in year 10000): Spark's cast reads +12026-01-01T00:00:00Z,
# which Parquet's statistics cannot hold nor Python read back, and the first day of 1900 none east of it (its
# instant could be in 1899, which Spark refuses to read back from Parquet: READ_ANCIENT_DATETIME stopped every
# later run); no request of this API is older than 1900 (visionlake.transforms.times).
# Checked on the text, so that the time is parsed once (a check of the parsed instant parsed it three times).
ISO_TIME = (
    r"^\s*(?!9999-12-31[T ][0-9:.]+-)(?!1900-01-01[T ][0-9:.]+\+(?!00:?00\s*$))"
    r"(?:19[0-9]{2}|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})\s*$"
)

# Paths the allowlists leave out on purpose and the names found under them: drift detection reports fields
# outside these and the allowlist.
# A k6 Metric line's data is its declaration (name, type, contains, thresholds, submetrics): those are ignored,
# not the whole of data, whose time, value and tags a Point line carries and the scan must check (a NaN value).
K6_DECLARATION = ("name", "type", "contains", "thresholds", "submetrics")
IGNORED = {
    REQUESTS: ("embedding", "face.box", "client.user_agent", "user_info"),
    EVALUATIONS: (),
    LOADTESTS: tuple(f"data.{name}" for name in K6_DECLARATION),
}
IGNORED_NAMES = {
    REQUESTS: ("embedding", "box", "user_agent", "name", "email", "birthdate"),
    EVALUATIONS: (),
    LOADTESTS: K6_DECLARATION,
}

# ---- lake tables (names and columns are a contract) ---------------------------------------------------------

BRONZE_TABLES = {REQUESTS: "request_lines", EVALUATIONS: "evaluation_lines", LOADTESTS: "k6_lines"}
LINEAGE = [
    T.StructField("source_path", STR, False),
    T.StructField("source_offset", LONG, False),  # byte offset of the line in its file
    T.StructField("source_size", LONG, False),
    T.StructField("source_modified_at", TS, False),
    T.StructField("doc_sha256", STR, True),  # of the line's bytes as read
    T.StructField("content_sha256", STR, True),  # of the line as kept (allowlisted, pseudonymised)
    T.StructField("parse_error", STR, True),  # "<reason>: <detail>" when the line could not be parsed
    T.StructField("new_fields", T.ArrayType(STR), True),  # "<path>:<json type>" of fields the allowlist does not name
    T.StructField("run_id", STR, False),
    T.StructField("ingested_at", TS, False),
    T.StructField("ingest_date", DATE, False),
]
# bronze names of input fields that clash with the run's columns
RENAMED = {EVALUATIONS: {"run_id": "evaluation_run_id"}}


def bronze_fields(kind: str) -> list[T.StructField]:
    """The fields of a kind's line as bronze names them (:data:`RENAMED`)."""
    names = RENAMED.get(kind, {})
    return [T.StructField(names.get(f.name, f.name), f.dataType, f.nullable) for f in LINES[kind].fields]


BRONZE = {kind: T.StructType([*bronze_fields(kind), *LINEAGE]) for kind in LINES}

# silver requests: one row per request_id. Identifiers are pseudonyms (64 hex characters).
REQUESTS_TABLE = _struct(
    request_id=STR,
    ts=TS,  # UTC
    endpoint=STR,
    http_status=INT,
    status=STR,
    message=STR,
    error_code=STR,  # the application's code (e.g. 601), next to the HTTP status
    error_class=STR,  # ok | client_4xx | server_5xx
    latency_ms=DBL,
    **{name: DBL for name in STAGES},  # null: the stage did not run
    face_detected=BOOL,
    face_confidence=DBL,
    matched=BOOL,  # recognise_user: a match was found; null on add_user
    match_distance=DBL,
    threshold=DBL,
    user_id=STR,  # the matched user (recognise_user) or the user added (add_user)
    enrollment_key=STR,  # the key a no-match answer issued, or the key an add_user used
    enrollment_expires_at=TS,  # on a no-match answer
    client_ip=STR,
    app_version=STR,
    source_path=STR,
    event_date=DATE,  # UTC date of ts
)
# silver evaluations: one row per (run_id, probe_id). distance null: no face was found in the probe (failure to
# acquire); predicted_identity null: no gallery face within the run's threshold.
EVALUATIONS_TABLE = _struct(
    run_id=STR,
    protocol=STR,  # FRR (genuine probes) | FAR (impostor probes)
    model=STR,
    threshold=DBL,
    gallery_size=LONG,
    probe_id=STR,
    probe_identity=STR,
    in_gallery=BOOL,
    predicted_identity=STR,
    distance=DBL,
    ts=TS,
    source_path=STR,
    event_date=DATE,
)
# silver load_test_points: one row per k6 Point sample of a metric of K6_METRICS.
LOAD_TEST_POINTS = _struct(
    test_run_id=STR,  # the k6 file's path under loadtests/ (silver.run_id_of)
    metric=STR,
    ts=TS,  # UTC, to the microsecond
    value=DBL,
    name=STR,  # the request's name tag (its URL by default)
    method=STR,
    status=STR,
    scenario=STR,
    expected_response=BOOL,
    tags=T.MapType(STR, STR),  # every tag of the sample
    source_path=STR,
    source_offset=LONG,
    event_date=DATE,
)
SILVER = {REQUESTS: ("requests", REQUESTS_TABLE), EVALUATIONS: ("evaluations", EVALUATIONS_TABLE)}
SILVER[LOADTESTS] = ("load_test_points", LOAD_TEST_POINTS)
