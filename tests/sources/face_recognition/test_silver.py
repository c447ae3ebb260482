"""Silver rules of face_recognition that the pipeline tests do not pin down one by one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from tests.conftest import write_files
from tests.sources.face_recognition.test_pipeline import _probe, _request
from tests.sources.face_validation.test_pipeline import lake_text

from visionlake.lake import read
from visionlake.sources.face_recognition.pipeline import run
from visionlake.sources.face_recognition.silver import utc


def test_utc_keeps_the_microsecond_and_drops_the_digits_after_it(spark):
    texts = [
        "2026-11-03T00:00:24.257034Z",
        "2026-11-03T00:00:24.257034123Z",  # k6: nanoseconds
        "2026-11-03T00:00:24.999999999999+01:00",
        " 2026-11-03T00:00:24Z ",
        "2026-11-03T00:00:24.5-02:30",
        "03/11/2026 00:00:24",
        "nope",
    ]
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    got = [r[0] for r in df.select(utc(F.col("t"))).collect()]
    assert got == [  # the session is in UTC
        datetime(2026, 11, 3, 0, 0, 24, 257034),
        datetime(2026, 11, 3, 0, 0, 24, 257034),
        datetime(2026, 11, 2, 23, 0, 24, 999999),
        datetime(2026, 11, 3, 0, 0, 24),
        datetime(2026, 11, 3, 2, 30, 24, 500000),
        None,
        None,
    ]


def test_utc_is_null_outside_the_years_1900_to_9999(spark):
    texts = {
        "+12026-01-01T00:00:00Z": None,  # Spark's cast reads year 12026: Parquet's statistics could not hold it
        "-2026-11-02T01:00:00Z": None,
        "1899-12-31T23:59:59Z": None,
        "1900-01-01T00:00:00Z": datetime(1900, 1, 1),
        "1900-01-01T00:30:00+01:00": None,  # 1899-12-31T23:30 UTC: Spark would not read it back from Parquet
        "1900-01-01T10:00:00+00:00": datetime(1900, 1, 1, 10),
        "1900-01-01T10:00:00-05:00": datetime(1900, 1, 1, 15),
        "1900-01-02T00:30:00+01:00": datetime(1900, 1, 1, 23, 30),
        "9999-12-31T23:59:59Z": datetime(9999, 12, 31, 23, 59, 59),
        "9999-12-31T23:00:00-05:00": None,  # 10000-01-01T04:00 UTC
    }
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    got = [r[0] for r in df.select(utc(F.col("t"))).collect()]
    assert got == list(texts.values())


def test_utc_reads_only_a_full_date_time_with_its_offset(spark):
    texts = {
        "12:00:00": None,  # Spark's cast alone dates it today
        "T08:00:00": None,
        "10:00:01": None,
        "2026": None,  # ... and the first of the year or month
        "2026-11": None,
        "2026-11-03": None,
        "2026-11-03T09:00:00": None,  # no offset: not read as UTC
        "2026-11-03T09:00:00.5": None,
        "2026-11-03T09:00Z": None,  # ISO 8601 allows it; Spark's cast does not read it
        "2026-11-03T09:00:00Z": datetime(2026, 11, 3, 9, 0),
        "2026-11-03 09:00:00+01:00": datetime(2026, 11, 3, 8, 0),
        "2026-11-03T09:00:00-0230": datetime(2026, 11, 3, 11, 30),
        "2026-02-30T09:00:00Z": None,
    }
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    got = [r[0] for r in df.select(utc(F.col("t"))).collect()]
    assert dict(zip(texts, got, strict=True)) == texts


# --------------------------------------------------------------------------------------------------
# hostile lines, one run: each is quarantined with its reason and the run goes on to gold


def _sample(metric: str, time: str, value: object) -> str:
    return json.dumps({"type": "Point", "metric": metric, "data": {"time": time, "value": value, "tags": {}}})


# file -> lines; a request's id and a probe's number say which line a quarantine row is
HOSTILE = {
    "requests/a.jsonl": [
        _request("ok-1", "2026-11-02T10:00:00Z", latency_ms=100),
        _request("future", "+12026-01-01T00:00:00Z", latency_ms=100),
        _request("negative-year", "-2026-11-02T01:00:00Z", latency_ms=100),
        _request("no-date", "12:00:00", latency_ms=100),
        _request("month", "2026-11", latency_ms=100),
        _request("no-offset", "2026-11-03T09:00:00", latency_ms=100),
        *(
            _request(
                f"expiry-{n}",
                "2026-11-02T10:00:00Z",
                message="no_match",
                latency_ms=100,
                enrollment={"req_id": f"req-{n}", "expires_at": expires},
            ).replace('"status": "success"', '"status": "failure"')
            for n, expires in enumerate(("03/11/2026 09:10:00", "in 10 minutes", 1762160400, None))
        ),
        *(
            _request(f"status-{n}", "2026-11-02T10:00:00Z", status=0, latency_ms=100).replace(
                '"http_status": 0', f'"http_status": {status}'
            )
            for n, status in enumerate(("0", "1e10", "200.9", "99", "600"))
        ),
        _request("negative-latency", "2026-11-02T10:00:00Z", latency_ms=-50000),
        _request("negative-stage", "2026-11-02T10:00:00Z", latency_ms=100, stages={"detect_ms": 10, "db_ms": -1}),
        _request("zero-latency", "2026-11-02T10:00:00Z", latency_ms=0, stages={"queue_ms": 0}),  # kept
        # e-mails (ada1-ada8@example.org) and IP addresses (10.7.7.x) in every text a logger writes: kept, and
        # shown in a quarantine detail, only as their shapes (the first two are quarantined for their latency, so
        # that the day's SLOs stay those of ok-1 and zero-latency)
        _request("pii-status", "2026-11-02T10:00:00Z", latency_ms=-1).replace(
            '"status": "success"', '"status": "failed for ada1@example.org from 10.7.7.1"'
        ),
        _request(
            "pii-version", "2026-11-02T10:00:00Z", latency_ms=-1, client={"app_version": "2.0 (ada2@example.org)"}
        ),
        _request("pii-ts", "ada3@example.org 10.7.7.3 doc 1023456789", latency_ms=100),
        # a GUID, a document number and a MAC address in the message: prose (until Dec 7 kept)
        _request(
            "pii-message",
            "2026-11-02T10:00:00Z",
            message="no match for 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b doc 1023456789 on 02:42:ac:11:00:77",
            latency_ms=-1,
        ),
        _request("pii-endpoint", "2026-11-02T10:00:00Z", endpoint="ada4@example.org", latency_ms=100),
        _request(
            "pii-expiry",
            "2026-11-02T10:00:00Z",
            latency_ms=100,
            enrollment={"req_id": "req-pii", "expires_at": "ada5@example.org"},
        ),
        # a key without expiry on an answer that found its match: not the funnel's, so kept but for its latency
        _request(
            "match-with-key", "2026-11-02T10:00:00Z", message="Match found", latency_ms=-2, enrollment={"req_id": "k"}
        ),
        _request("negative-distance", "2026-11-02T10:00:00Z", latency_ms=100, match={"distance": -0.2}),
        _request("negative-threshold", "2026-11-02T10:00:00Z", latency_ms=100, match={"threshold": -1}),
    ],
    "evaluations/e.jsonl": [
        _probe("run", 1, "Probe_A", True, "Probe_A", 0.5),
        _probe("run", 2, "Probe_B", True, "Probe_B", 0.5).replace("2026-11-01T12:00:00Z", "+12026-01-01T00:00:00Z"),
        _probe("run", 3, "Probe_C", False, "Probe_A", -0.5),
        _probe("run", 4, "Probe_D", True, "Probe_D", 0.5).replace('"threshold": 1.1', '"threshold": -1.1'),
        _probe("run", 5, "Probe_E", True, "Probe_E", 0.5).replace('"gallery_size": 10', '"gallery_size": 2.5'),
        _probe("run", 6, "Probe_F", True, "Probe_F", 0.5).replace('"gallery_size": 10', '"gallery_size": -3'),
        _probe("run", 9, "Probe_I", True, "Probe_I", 0.5).replace('"gallery_size": 10', '"gallery_size": 1e19'),
        _probe("run", 7, "Probe_G", True, "Probe_G", 0.0),  # kept: an identical face
        _probe("eval-ada9@example.org", 8, "Probe_H", True, "Probe_H", 0.5)
        .replace('"model": "facenet-vggface2"', '"model": "trained by ada6@example.org"')
        .replace('"protocol": "FRR"', '"protocol": "FRR from 10.7.7.6"'),
    ],
    "loadtests/k6.json": [
        _sample("http_req_duration", "2026-11-02T10:00:01Z", 100),
        _sample("http_req_duration", "+12026-11-02T10:00:02Z", 200),
        *(
            _sample("http_req_duration", "2026-11-02T10:00:03Z", 0).replace('"value": 0', f'"value": {word}')
            for word in ("NaN", "Infinity", "-INF", "1e999", '"NaN"')
        ),
        _sample("vus", "2026-11-02T10:01:00Z", 0).replace('"value": 0', '"value": NaN'),
        _sample("http_req_duration", "10:00:01", 300),
    ],
    "loadtests/k6.jsonl": [  # the same name, another run
        _sample("http_req_duration", "2026-11-02T11:00:00Z", 400).replace(
            '"tags": {}',
            '"tags": {"name": "http://10.7.7.7/add_user?email=ada7%40example.org&e=ada8@example.org&doc=1023456789",'
            ' "10.7.7.8": "a tag named by an address", "method": "POST", "1023456789": "a tag named by a number"}',
        )
    ],
    "loadtests/nightly/k6.v2.json": [_sample("http_req_duration", "2026-11-02T12:00:00Z", 500)],
    # a folder named loadtests inside: its path from the first one (until Dec 6 the last: run k6, merged)
    "loadtests/team-b/loadtests/k6.json": [_sample("http_req_duration", "2026-11-02T13:00:00Z", 600)],
}


@pytest.fixture(scope="module")
def hostile(spark, cfg, tmp_path_factory) -> tuple[Path, list[tuple[str, str | None, str, str]]]:
    """The lake of one run over :data:`HOSTILE`, and its quarantine: (file, request_id, reason, detail without the
    byte offset), sorted."""
    root = tmp_path_factory.mktemp("fr-hostile")
    write_files(root / "in", {path: "\n".join(lines) + "\n" for path, lines in HOSTILE.items()})
    run(spark, cfg, str(root / "in"), str(root / "lake"))
    rows = read(str(root / "lake" / "quarantine" / "face_recognition")).to_pylist()
    quarantine = [
        (
            r["source_path"][len(str(root / "in")) + 1 :],
            json.loads(r["raw"]).get("request_id") if r["raw"] else None,
            r["reason"],
            r["detail"].split(": ", 1)[1],
        )
        for r in rows
    ]
    return root / "lake", sorted(quarantine, key=str)


def _silver(lake: Path, table: str) -> list[dict]:
    return read(str(lake / "silver" / "face_recognition" / table)).to_pylist()


def _of(quarantine: list[tuple[str, str | None, str, str]], path: str, request_id: str | None = None) -> list[tuple]:
    return [(reason, detail) for p, rid, reason, detail in quarantine if p == path and rid == request_id]


def _probes(quarantine: list[tuple[str, str | None, str, str]]) -> list[tuple[str, str]]:
    return [(reason, detail) for p, _, reason, detail in quarantine if p == "evaluations/e.jsonl"]


def test_a_time_past_year_9999_or_before_1900_is_quarantined_and_the_run_goes_on(hostile):
    lake, quarantine = hostile
    assert _of(quarantine, "requests/a.jsonl", "future") == [
        ("invalid_timestamp", "ts is not an ISO 8601 time: +12026-01-01T00:00:00Z")
    ]
    assert _of(quarantine, "requests/a.jsonl", "negative-year") == [
        ("invalid_timestamp", "ts is not an ISO 8601 time: -2026-11-02T01:00:00Z")
    ]
    assert ("invalid_timestamp", "ts is not an ISO 8601 time: +12026-01-01T00:00:00Z") in _probes(quarantine)
    assert ("invalid_timestamp", "data.time is not an ISO 8601 time: +12026-11-02T10:00:02Z") in _of(
        quarantine, "loadtests/k6.json"
    )
    assert sorted(r["request_id"] for r in _silver(lake, "requests")) == ["ok-1", "zero-latency"]
    assert len(_silver(lake, "evaluations")) == 3  # probes 1, 7 and 8
    assert [r["value"] for r in _silver(lake, "load_test_points") if r["test_run_id"] == "k6"] == [100.0]
    assert read(str(lake / "gold" / "face_recognition" / "slo_daily")).num_rows == 1  # gold was published


def test_a_k6_value_that_is_not_finite_is_quarantined_naming_data_value(hostile):
    lake, quarantine = hostile
    non_finite = [detail for reason, detail in _of(quarantine, "loadtests/k6.json") if reason == "non_finite_number"]
    assert non_finite == ["NaN or infinite: data.value"] * 6  # NaN, Infinity, -INF, 1e999, "NaN"; a NaN vus
    points = _silver(lake, "load_test_points")
    assert [(r["metric"], r["value"]) for r in points if r["test_run_id"] == "k6"] == [("http_req_duration", 100.0)]
    summaries = read(str(lake / "gold/face_recognition/load_test_summary")).to_pylist()
    (summary,) = [r for r in summaries if r["stage"] == 0 and r["test_run_id"] == "k6"]
    assert (summary["p95_ms"], summary["max_ms"], summary["vus"]) == (100.0, 100.0, None)  # no NaN, no NaN stage


def test_a_time_without_a_date_or_an_offset_is_quarantined(hostile):
    _, quarantine = hostile
    for request_id, text in (("no-date", "12:00:00"), ("month", "2026-11"), ("no-offset", "2026-11-03T09:00:00")):
        assert _of(quarantine, "requests/a.jsonl", request_id) == [
            ("invalid_timestamp", f"ts is not an ISO 8601 time: {text}")
        ]
    assert ("invalid_timestamp", "data.time is not an ISO 8601 time: 10:00:01") in _of(quarantine, "loadtests/k6.json")


def test_a_no_match_answer_whose_expiry_is_no_time_is_quarantined_not_lost_from_the_funnel(hostile):
    _, quarantine = hostile
    # a number is kept as text, and as prose shown by its shape: ten digits may be a document's number
    for n, text in enumerate(("03/11/2026 09:10:00", "in 10 minutes", "<number>")):
        assert _of(quarantine, "requests/a.jsonl", f"expiry-{n}") == [
            ("invalid_timestamp", f"enrollment.expires_at is not an ISO 8601 time: {text}")
        ]
    # a key without its expiry (an add_user's key has none: test_pipeline's k1 and k2 are kept)
    assert _of(quarantine, "requests/a.jsonl", "expiry-3") == [("missing_field", "missing: enrollment.expires_at")]
    assert _of(quarantine, "requests/a.jsonl", "match-with-key") == [
        ("out_of_range", "latency_ms is not a number from 0 up: -2.0")  # not missing_field, checked before
    ]


def test_an_http_status_that_is_no_whole_number_from_100_to_599_is_quarantined_and_gold_is_published(hostile):
    lake, quarantine = hostile
    for n, shown in enumerate(("0.0", "1.0E10", "200.9", "99.0", "600.0")):  # the JSON number, read as a double
        assert _of(quarantine, "requests/a.jsonl", f"status-{n}") == [
            ("out_of_range", f"http_status is not a whole number from 100 to 599: {shown}")
        ]
    assert {r["http_status"] for r in _silver(lake, "requests")} == {200}
    assert read(str(lake / "gold" / "face_recognition" / "slo_daily")).num_rows == 1


def test_a_negative_latency_or_stage_time_is_quarantined_and_not_counted_in_the_slos(hostile):
    lake, quarantine = hostile
    assert _of(quarantine, "requests/a.jsonl", "negative-latency") == [
        ("out_of_range", "latency_ms is not a number from 0 up: -50000.0")
    ]
    assert _of(quarantine, "requests/a.jsonl", "negative-stage") == [
        ("out_of_range", "stages.db_ms is not a number from 0 up: -1.0")
    ]
    (day,) = read(str(lake / "gold" / "face_recognition" / "slo_daily")).to_pylist()
    assert (day["requests"], day["latency_p50_ms"]) == (2, 50.0)  # ok-1 (100 ms) and zero-latency (0 ms)


def test_a_negative_distance_or_threshold_or_a_gallery_of_no_whole_size_is_quarantined(hostile):
    lake, quarantine = hostile
    assert _of(quarantine, "requests/a.jsonl", "negative-distance") == [
        ("out_of_range", "match.distance is not a number from 0 up: -0.2")
    ]
    assert _of(quarantine, "requests/a.jsonl", "negative-threshold") == [
        ("out_of_range", "match.threshold is not a number from 0 up: -1.0")
    ]
    assert sorted(_probes(quarantine)) == [  # a probe's id is a pseudonym in quarantine too
        ("invalid_timestamp", "ts is not an ISO 8601 time: +12026-01-01T00:00:00Z"),  # probe 2
        ("out_of_range", "distance is not a number from 0 up: -0.5"),
        ("out_of_range", "gallery_size is not a whole number from 0 to 9007199254740992: -3.0"),
        ("out_of_range", "gallery_size is not a whole number from 0 to 9007199254740992: 1.0E19"),
        ("out_of_range", "gallery_size is not a whole number from 0 to 9007199254740992: 2.5"),
        ("out_of_range", "threshold is not a number from 0 up: -1.1"),
    ]
    assert sorted(r["distance"] for r in _silver(lake, "evaluations")) == [0.0, 0.5, 0.5]  # probes 7, 1 and 8


def test_an_e_mail_or_ip_address_in_any_text_reaches_the_lake_only_as_its_shape(hostile):
    lake, quarantine = hostile
    everything = lake_text(lake)
    addresses = [f"ada{n}@example.org" for n in range(1, 10)] + ["ada7%40example.org"]
    found = [address for address in addresses if address in everything]
    assert found + [f"10.7.7.{n}" for n in range(1, 9) if f"10.7.7.{n}" in everything] == []
    assert _of(quarantine, "requests/a.jsonl", "pii-ts") == [
        ("invalid_timestamp", "ts is not an ISO 8601 time: <e-mail> <ip address> doc <number>")
    ]
    assert _of(quarantine, "requests/a.jsonl", "pii-endpoint") == [
        ("unknown_endpoint", "endpoint is neither recognise_user nor add_user: <e-mail>")
    ]
    assert _of(quarantine, "requests/a.jsonl", "pii-expiry") == [
        ("invalid_timestamp", "enrollment.expires_at is not an ISO 8601 time: <e-mail>")
    ]
    bronze = {r["request_id"]: r for r in read(str(lake / "bronze/face_recognition/request_lines")).to_pylist()}
    assert bronze["pii-status"]["status"] == "failed for <e-mail> from <ip address>"
    assert bronze["pii-version"]["client"]["app_version"] == "2.0 (<e-mail>)"
    assert bronze["pii-message"]["message"] == "no match for <uuid> doc <number> on <device id>"
    assert bronze["pii-ts"]["ts"] == "<e-mail> <ip address> doc <number>"
    assert (bronze["ok-1"]["status"], bronze["ok-1"]["ts"]) == ("success", "2026-11-02T10:00:00Z")  # as sent
    (probe,) = [r for r in _silver(lake, "evaluations") if r["model"] != "facenet-vggface2"]
    assert (probe["model"], probe["protocol"]) == ("trained by <e-mail>", "FRR FROM <IP ADDRESS>")  # upper case
    assert probe["run_id"] == "<e-mail>"  # eval-ada9 is its local part
    (point,) = [r for r in _silver(lake, "load_test_points") if r["test_run_id"] == "k6.jsonl"]
    # %40: an @ in a query; the tags named by an address or a number are dropped
    assert point["name"] == "http://<ip address>/add_user?email=<e-mail>&e=<e-mail>&doc=<number>"
    assert sorted(key for key, _ in point["tags"]) == ["method", "name"]
    assert point["method"] == "POST"


def test_two_k6_files_that_differ_only_in_suffix_are_two_test_runs(hostile):
    lake, _ = hostile
    runs = {
        r["test_run_id"]: (r["source_path"].split("/in/", 1)[1], r["points"]) for r in _silver(lake, "load_test_runs")
    }
    assert runs == {
        "k6": ("loadtests/k6.json", 1),  # the id a .json file always had
        "k6.jsonl": ("loadtests/k6.jsonl", 1),
        "nightly/k6.v2.json": ("loadtests/nightly/k6.v2.json", 1),
        "team-b/loadtests/k6": ("loadtests/team-b/loadtests/k6.json", 1),
    }
    points = {(r["test_run_id"], r["value"]) for r in _silver(lake, "load_test_points")}
    assert points == {
        ("k6", 100.0),
        ("k6.jsonl", 400.0),
        ("nightly/k6.v2.json", 500.0),
        ("team-b/loadtests/k6", 600.0),
    }
