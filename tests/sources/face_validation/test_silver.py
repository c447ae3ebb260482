"""Parsing, redaction and classification of face_validation documents, on hand-written rows."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from pyspark import StorageLevel
from pyspark.sql import Row
from pyspark.sql import functions as F

from visionlake.ingest.documents import READ_SCHEMA
from visionlake.ingest.jsonsplit import trailing_text
from visionlake.lake import delta
from visionlake.sources import runner
from visionlake.sources.face_validation import silver
from visionlake.sources.face_validation.bronze import parse_documents
from visionlake.sources.face_validation.pipeline import FaceValidationRun

KEY = b"unit-test-key"
WHEN = datetime(2025, 1, 10, tzinfo=UTC)


def read_rows(spark, *texts: str | None, errors: tuple[str | None, ...] = ()):
    """READ_SCHEMA rows for document texts (offsets 0, 100, 200, ...), scanned as the reader scans them."""
    errors = errors or (None,) * len(texts)
    scanner = FaceValidationRun.scanner()
    rows = []
    for i, (text, error) in enumerate(zip(texts, errors, strict=True)):
        fields, problem = scanner.scan(text.encode()) if text is not None else (None, None)
        trailing, known = trailing_text(text.encode(), [0], [len(text.encode())]) if text is not None else ([0], [0])
        flag = bool(trailing[0]) if known[0] else None
        rows.append(("/in/export.json", 1000, WHEN, 100 * i, "sha", text, error or problem, fields, flag))
    return spark.createDataFrame(rows, READ_SCHEMA)


def parsed(spark, *texts: str | None, errors: tuple[str | None, ...] = ()):
    """Bronze-like rows: parsed documents, refused texts diagnosed as the task that writes bronze does, plus the
    time they were ingested."""
    documents = parse_documents(read_rows(spark, *texts, errors=errors), KEY)
    return delta.finished(documents, runner.DIAGNOSIS).withColumn("ingested_at", F.lit(WHEN))


GOOD = {
    "_id": {"$oid": "66e2dad2021c2bc8368b3261"},
    "user_name": "veriFace",
    "file_token": "-4hX-fjK8Q",
    "date": "2025-01-10T10:00:00-05:00",
    "summary": {"status": "ok", "code": "1400", "desc": "antispoofing OK"},
    "user_data": {
        "procesoConvenioGuid": "9000000001_2025-01-10_10:00:00",
        "convenio": "00000000-0000-4000-8000-000000000001",
        "documento": "9000000001",
        "trazabilidad": {"NumDoc": "9000000001", "Ip": "10.1.2.3"},
    },
    "azure_blob": {"near_img": {"account_name": "storageaccount"}},
}


def test_parse_redacts_and_pseudonymises(spark):
    row = parsed(spark, json.dumps(GOOD)).first()
    expected = {v: hmac.new(KEY, v.encode(), hashlib.sha256).hexdigest() for v in ("veriFace", "9000000001")}
    assert row["_id"] == "66e2dad2021c2bc8368b3261"
    assert row["user_name"] == expected["veriFace"]
    assert row["user_data"]["documento"] == expected["9000000001"]
    assert "trazabilidad" not in row["user_data"].asDict()
    assert "azure_blob" not in row.asDict()
    assert row["parse_error"] is None
    assert row["content_sha256"] is not None
    assert row["date"] == "2025-01-10T10:00:00-05:00"


def test_parse_scrubs_addresses_in_every_text_of_the_document(spark):
    """Until Dec 7 only the summary, service, gateway and date were scrubbed: a service's message, a detector's
    class and an accessory's name reached bronze as written; no MAC address, document number or GUID was."""
    image = {
        "liqe": {"msg": "slow for ana@example.org from 10.1.2.3 (doc 1023456789)", "code": "200", "results": None},
        "as_35_selfies": {
            "msg": "ok",
            "code": "7 bob@example.org 02:42:ac:11:00:77 1023456789",
            "results": {"predictions": {"class": "2001:db8::1"}},
        },
        "accessory_detector": {
            "msg": "ok",
            "code": "200",
            "results": {
                "predictions": {
                    "accessories": {"hat": {"confidence": 0.5}, "ana@example.org": {"confidence": 1}, "1023456789": {}}
                }
            },
        },
        "face_detector": None,
    }
    document = {**GOOD, "api_version": "v2 (ana@example.org)", "metadata": {"near_img": image}}
    row = parsed(spark, json.dumps(document)).first()
    near = row["metadata"]["near_img"]
    assert row["api_version"] == "v2 (<e-mail>)"
    # a message is prose: a document number goes too; a code is no prose, but a MAC address in it goes
    assert near["liqe"]["msg"] == "slow for <e-mail> from <ip address> (doc <number>)"
    assert near["liqe"]["code"] == "200"
    assert near["as_35_selfies"]["code"] == "7 <e-mail> <device id> 1023456789"
    assert near["as_35_selfies"]["results"]["predictions"]["class"] == "<ip address>"
    assert near["accessory_detector"]["results"]["predictions"]["accessories"] == {"hat": Row(confidence=0.5)}
    # what held no text, or nothing, is as it was
    assert (near["liqe"]["results"], near["face_detector"], row["metadata"]["far_img"]) == (None, None, None)
    assert row["summary"]["desc"] == "antispoofing OK"
    assert row["user_name"] == _pseudonym("veriFace")


def _pseudonym(text: str) -> str:
    return hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ({"$oid": "66e2dad2021c2bc8368b3261"}, "66e2dad2021c2bc8368b3261"),
        ("66E2DAD2021C2BC8368B3261", "66E2DAD2021C2BC8368B3261"),
        # what MongoDB does not write is never stored: as the parser gives its text, pseudonymised
        ("maria.gomez@example.com", _pseudonym("maria.gomez@example.com")),
        ({"documento": "1098765432", "convenio": "c"}, _pseudonym('{"documento":"1098765432","convenio":"c"}')),
        (
            {"$oid": "66e2dad2021c2bc8368b3261", "ip": "203.0.113.99"},
            _pseudonym('{"$oid":"66e2dad2021c2bc8368b3261","ip":"203.0.113.99"}'),
        ),
    ],
)
def test_an_id_that_is_no_object_id_is_stored_as_a_pseudonym(spark, given, stored):
    row = parsed(spark, json.dumps({**GOOD, "_id": given})).first()
    assert (row["parse_error"], row["_id"]) == (None, stored)


@pytest.mark.parametrize(
    ("given", "stored", "reason"),
    [
        ("2025-01-10T10:00:00-05:00", "2025-01-10T10:00:00-05:00", None),
        ({"$date": "2025-01-10T17:46:22.988Z"}, '{"$date":"2025-01-10T17:46:22.988Z"}', None),
        ({"$date": {"$numberLong": "1736392236542"}}, '{"$date":{"$numberLong":"1736392236542"}}', None),
        # any other key of the object never reaches the lake
        ({"$date": "2025-01-10T17:46:22.988Z", "device": "IMEI 35693803564"}, '{"$date":"2025-01-10T17:46:22.988Z"}',
         None),
        ({"$date": {"$numberLong": "1736392236542", "ip": "203.0.113.9"}}, '{"$date":{"$numberLong":"1736392236542"}}',
         None),
        ({"device": "IMEI 356938035643809"}, "{}", "invalid_date"),
        ({"$date": {"ip": "203.0.113.9"}}, "{}", "invalid_date"),
    ],
)  # fmt: skip
def test_a_date_object_keeps_its_date_alone(spark, given, stored, reason):
    rows = parsed(spark, json.dumps({**GOOD, "date": given}))
    row = silver.classify(rows).first()
    assert (row["parse_error"], row["date"], row["reason"]) == (None, stored, reason)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            '{"_id": {"$oid": "ab"}, "summary": {"status": "ok"',
            "invalid_json: truncated: the text ends at line 1 column 51 (character 50) before the JSON value is "
            "complete",
        ),
        (
            '{"_id": "x", date: 1}',
            "invalid_json: not parseable as JSON: Expecting property name enclosed in double "
            "quotes at line 1 column 14 (character 13)",
        ),
        ("[" * 1200 + "]" * 1200, "too_deep: nesting depth 1,200 is over the JSON parser's limit of 1,000"),
        ("[1, 2]", "not_an_object: top level is an array"),
        ('"text"', "not_an_object: top level is a string"),
        (
            '{"_id": "x", "total_time_ms": {"ms": 3}, "http_code": "two hundred"}',
            "schema_mismatch: wrong type: http_code, total_time_ms",
        ),
        # a string field that got an object (the code is "1400" as text); _id and date hold Extended JSON
        ('{"_id": {"$oid": "ab"}, "summary": {"code": {"x": 1}}}', "schema_mismatch: wrong type: summary.code"),
        (
            '{"_id": "x", "summary": {"status": "ok"}} {"_id": "y"}',
            "trailing_data: more text after the first JSON value (garbage or a second value)",
        ),
        ('{"_id": "x", "ts": NaN, "total_time_ms": Infinity}', "non_finite_number: NaN or infinite: total_time_ms, ts"),
    ],
)
def test_parse_errors_name_the_reason(spark, text, error):
    row = parsed(spark, text).first()
    assert row["parse_error"] == error
    assert row["content_sha256"] is None
    # nothing of a document that cannot be used reaches bronze (no NaN or infinity either)
    assert (row["_id"], row["ts"], row["total_time_ms"], row["summary"]) == (None, None, None, None)


def test_a_refused_document_keeps_its_text_for_the_writing_task_and_a_plain_reason_until_then(spark):
    text = '{"_id": "x", date: 1}'
    row = parse_documents(read_rows(spark, text, json.dumps(GOOD)), KEY).orderBy("source_offset").collect()
    assert (row[0]["parse_error"], row[0]["_refused_text"]) == ("invalid_json: refused by the JSON parser", text)
    assert (row[1]["parse_error"], row[1]["_refused_text"]) == (None, None)


def test_a_duplicate_key_keeps_its_last_value(spark):
    row = parsed(spark, '{"_id": "x", "http_code": 500, "http_code": 200}').first()
    assert (row["parse_error"], row["http_code"]) == (None, 200.0)


def test_read_errors_pass_through(spark):
    row = parsed(spark, None, errors=("invalid_encoding: not UTF-8 at byte 7",)).first()
    assert row["parse_error"] == "invalid_encoding: not UTF-8 at byte 7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-08T22:10:36.542487-05:00", datetime(2025, 1, 9, 3, 10, 36, 542487)),
        ("2025-01-08 22:10:36.542487-05:00", datetime(2025, 1, 9, 3, 10, 36, 542487)),
        ('{"$date":"2025-01-09T03:10:36.542Z"}', datetime(2025, 1, 9, 3, 10, 36, 542000)),
        ('{"$date":{"$numberLong":"1736392236542"}}', datetime(2025, 1, 9, 3, 10, 36, 542000)),
        ("yesterday", None),
    ],
)
def test_event_time_forms(spark, text, expected):
    row = spark.createDataFrame([(text,)], "d string").select(silver.event_time(F.col("d")).alias("t")).first()
    assert row.t == expected  # the session time zone is UTC: naive datetimes are UTC


@pytest.mark.parametrize(
    ("code", "module"),
    [("0000", "integrity"), ("0102", "face_detector"), ("0202", "accessory_detector"), ("0302", "quality"),
     ("0406", "icao"), ("1402", "antispoofing"), ("2001", "database"), ("3002", "geometry"), ("302", "quality"),
     ("9999", None)],
)  # fmt: skip
def test_summary_module_from_the_code_prefix(spark, code, module):
    row = spark.createDataFrame([(code,)], "c string").select(silver.summary_module(F.col("c")).alias("m")).first()
    assert row.m == module


def test_classify_required_fields_and_dates(spark):
    no_date = {k: v for k, v in GOOD.items() if k != "date"}
    no_code = {**GOOD, "summary": {"status": "error", "desc": "blur/haze"}}
    bad_date = {**GOOD, "date": "10/01/2025"}
    old_date = {**GOOD, "date": "1899-12-31T23:00:00-05:00"}  # 1900-01-01T04:00 UTC: a time the lake holds
    older = {**GOOD, "date": {"$date": "1899-12-31T23:00:00+01:00"}}
    late = {**GOOD, "date": "9999-12-31T23:00:00-05:00"}
    texts = [json.dumps(d) for d in (GOOD, no_date, no_code, bad_date, old_date, older, late)]
    result = [(r.reason, r.detail) for r in silver.classify(parsed(spark, *texts)).orderBy("source_offset").collect()]
    assert result == [
        (None, None),
        ("missing_field", "missing: date"),
        ("missing_field", "missing: summary.code"),
        ("invalid_date", "not a timestamp: 10/01/2025"),
        (None, None),
        ("invalid_date", 'out of the years 1900-9999 UTC: {"$date":"1899-12-31T23:00:00+01:00"}'),
        ("invalid_date", "out of the years 1900-9999 UTC: 9999-12-31T23:00:00-05:00"),
    ]


def test_classify_in_the_api_s_zone_refuses_a_date_out_of_the_years_there(spark):
    # gold takes local dates in the API's zone: until Dec 6 one of year 10000 stopped every later run
    dates = ["9999-12-31T14:59:59.999Z", "9999-12-31T15:00:00Z", "1900-01-01T05:00:00Z", "1900-01-01T04:00:00Z"]
    texts = [json.dumps({**GOOD, "date": d}) for d in dates]

    def classified(zone):
        return [
            (r.reason, r.detail)
            for r in silver.classify(parsed(spark, *texts), zone).orderBy("source_offset").collect()
        ]

    # Tokyo is 9 h ahead; Bogota 4 h 56 min 16 s behind in 1900 (its local mean time, until 1914)
    assert classified("Asia/Tokyo") == [
        (None, None),
        ("invalid_date", "out of the years 1900-9999 in Asia/Tokyo: 9999-12-31T15:00:00Z"),
        (None, None),
        (None, None),
    ]
    assert classified("America/Bogota") == [
        (None, None),
        (None, None),
        (None, None),
        ("invalid_date", "out of the years 1900-9999 in America/Bogota: 1900-01-01T04:00:00Z"),
    ]


@pytest.mark.parametrize("broadcast_rows", [runner.BROADCAST_ROWS, 0], ids=["broadcast", "shuffled"])
def test_duplicates_in_the_batch_and_against_earlier_documents(spark, monkeypatch, broadcast_rows):
    # The duplicates found are joined back broadcast when few (computed), by a shuffle when many: same marks.
    monkeypatch.setattr(runner, "BROADCAST_ROWS", broadcast_rows)

    def marked(batch, earlier):
        classified = None if earlier is None else silver.classify(earlier)
        rows = runner.duplicates_marked(silver.classify(batch), classified, *silver.KEY, level=StorageLevel.DISK_ONLY)
        # joined by a shuffle: kept, so that it is joined once however often it is read
        assert rows.is_cached == (broadcast_rows == 0)
        try:
            return [(r.reason, r.detail) for r in rows.orderBy("source_offset").collect()]
        finally:
            rows.unpersist()

    other = {**GOOD, "_id": {"$oid": "0" * 24}}
    third = {**GOOD, "_id": {"$oid": "1" * 24}}
    changed = {**GOOD, "summary": {"status": "error", "code": "0302", "desc": "blur/haze"}}
    undated = {**GOOD, "_id": {"$oid": "2" * 24}, "date": "yesterday"}  # twice: neither usable, so no duplicate
    texts = [json.dumps(d) for d in (GOOD, GOOD, changed, other, third, undated, undated)]
    batch = parsed(spark, *texts)
    no_date = ("invalid_date", "not a timestamp: yesterday")
    assert marked(batch, None) == [
        (None, None),
        ("duplicate_id", "same _id and content as /in/export.json at byte 0"),
        ("conflicting_duplicate_id", "same _id as /in/export.json at byte 0, different content"),
        (None, None),
        (None, None),
        no_date,
        no_date,
    ]
    # The same batch after GOOD and other were consumed from another file: each of their copies is a duplicate. The
    # third's earlier copy had no usable date: it was never accepted, so the third is no duplicate.
    earlier = (
        parsed(spark, json.dumps(GOOD), json.dumps(other), json.dumps({**third, "date": "later"}))
        .withColumn("source_path", F.lit("/in/older.json"))
        .withColumn("ingested_at", F.lit(datetime(2025, 1, 1)))
    )
    batch = batch.withColumn("ingested_at", F.lit(datetime(2025, 2, 1)))
    again = [reason for reason, _ in marked(batch, earlier)]
    assert again == [
        "duplicate_id",
        "duplicate_id",
        "conflicting_duplicate_id",
        "duplicate_id",
        None,
        "invalid_date",
        "invalid_date",
    ]
