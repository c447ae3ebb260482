"""Tests for visionlake.sources.face_recognition.generate: determinism, layout and line counts, the request-log
contract (shared/reference/face-recognition-api.md §2), the enrolment funnel, the incidents, the LFW evaluation
runs (the seed's benchmark, §1) and the k6 JSON output.

Expected values are written out by hand from the reference and from the rules the module's docstring states.
One 100,000-line run (starting 03:00 UTC, 04:00 local, so it covers the morning rise) is shared by the tests.
"""

from __future__ import annotations

import ipaddress
import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from visionlake.sources.face_recognition.generate import generate, incident_windows, write_jsonl

COUNT = 100_000
SEED = 7
START = datetime(2026, 11, 2, 3, tzinfo=UTC)
K6_SECONDS = 60
THRESHOLD = 1.1
REQUEST_FILES = [f"requests/2026-11-02/api-{h:02d}.jsonl" for h in range(3, 9)]  # 20,000 s from 03:00 UTC
UTC_FILE = "requests/2026-11-02/api-06.jsonl"  # hour offset 3 from the first file
OUTAGE = (datetime(2026, 11, 2, 5, 46, tzinfo=UTC), datetime(2026, 11, 2, 6, 6, tzinfo=UTC))
SLOW_HOUR = (datetime(2026, 11, 2, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC))
TOP_KEYS = ["ts", "request_id", "endpoint", "http_status", "status", "message", "error_code", "latency_ms",
            "stages", "face", "match", "enrollment", "client"]  # fmt: skip
ALL_STAGES = {"detect_ms", "embed_ms", "search_ms", "db_ms", "queue_ms"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
KEY_RE = re.compile(r"^req-[0-9a-f]{10}$")
USER_RE = re.compile(r"^u-\d{6}$")
EMAIL_RE = re.compile(r"^[a-z]+\.[a-z]+\d+@example\.(com|org|net)$")
NAME_RE = re.compile(r"^[A-Z][a-z]+ [A-Z][a-z]+$")
LOCAL_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+01:00$")
UTC_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TEST_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
PROBE_RE = re.compile(r"^lfw(-lowlight)?/(?P<identity>[A-Z][a-z]+_[A-Z][a-z]+)_\d{4}\.jpg$")
K6_TIME_RE = re.compile(r"^2026-11-02T10:\d\d:\d\d(\.\d{1,9})?\+01:00$")


class Line:
    """One request-log line: its file, raw text and parsed document."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.doc = json.loads(text)
        self.time = datetime.fromisoformat(self.doc["ts"]).astimezone(UTC)

    def __getitem__(self, key: str):
        return self.doc[key]

    def get(self, key: str, default=None):
        return self.doc.get(key, default)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("face_recognition")
    return root, generate(root, COUNT, seed=SEED, start=START, load_test_seconds=K6_SECONDS)


@pytest.fixture(scope="module")
def lines(run: tuple[Path, dict[str, int]]) -> list[Line]:
    root, _ = run
    return [Line(name, text) for name in REQUEST_FILES for text in (root / name).read_text().splitlines()]


@pytest.fixture(scope="module")
def unique(lines: list[Line]) -> list[Line]:
    seen: set[str] = set()
    out = []
    for line in lines:
        if line["request_id"] not in seen:
            seen.add(line["request_id"])
            out.append(line)
    return out


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- determinism, layout, counts ---------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        generate(tmp_path / name, 3_000, seed=seed, load_test_seconds=5)
    a, b, c = (files_of(tmp_path / name) for name in "abc")
    assert a == b
    assert a.keys() == c.keys()
    assert all(a[name] != c[name] for name in a)  # every input depends on the seed


def test_layout_and_returned_counts(run: tuple[Path, dict[str, int]]) -> None:
    root, counts = run
    expected = [
        "evaluations/lfw-far.jsonl",
        "evaluations/lfw-frr-lowlight.jsonl",
        "evaluations/lfw-frr.jsonl",
        "loadtests/k6-20261102-staged.json",
        *REQUEST_FILES,
    ]
    assert sorted(files_of(root)) == expected
    k6_lines = len((root / "loadtests/k6-20261102-staged.json").read_text().splitlines())
    total = sum(len(body) for body in files_of(root).values())
    assert counts == {"request_lines": 100_000, "evaluation_lines": 5_437, "k6_lines": k6_lines, "files": 10,
                      "bytes": total}  # fmt: skip


def test_count_lines_are_written_duplicates_included(lines: list[Line], unique: list[Line]) -> None:
    """``count`` lines in all; 0.1 % of them (100) repeat the line before them, text for text."""
    assert len(lines) == 100_000
    assert len(unique) == 99_900
    repeats = [(a, b) for a, b in pairwise(lines) if a["request_id"] == b["request_id"]]
    assert len(repeats) == 100
    assert all(a.text == b.text and a.file == b.file for a, b in repeats)


def test_zero_lines_write_no_request_file(tmp_path: Path) -> None:
    counts = generate(tmp_path, 0, load_test_seconds=2)
    assert counts["request_lines"] == 0 and counts["files"] == 4
    assert not (tmp_path / "requests").exists()


def test_negative_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="count"):
        generate(tmp_path, -1)


def test_write_jsonl_writes_compact_lines(tmp_path: Path) -> None:
    path = tmp_path / "requests" / "2026-11-02" / "api-10.jsonl"
    rows = [{"request_id": "r1", "error_code": None, "stages": {"queue_ms": 2.5}}, {"name": "Zoë"}]
    assert write_jsonl(path, rows) == 2
    assert path.read_text(encoding="utf-8") == (
        '{"request_id":"r1","error_code":null,"stages":{"queue_ms":2.5}}\n{"name":"Zoë"}\n'
    )


# --- the request-log contract ------------------------------------------------------------------------


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_line(line: Line) -> None:
    doc = line.doc
    assert list(doc)[: len(TOP_KEYS)] == TOP_KEYS
    assert set(doc) - set(TOP_KEYS) <= {"user_info", "embedding"}
    assert UUID_RE.match(doc["request_id"])
    assert doc["endpoint"] in ("recognise_user", "add_user")
    assert isinstance(doc["http_status"], int) and 200 <= doc["http_status"] < 600
    assert doc["status"] in ("success", "failure", "error")
    assert isinstance(doc["message"], str) and doc["message"]
    assert doc["error_code"] is None or isinstance(doc["error_code"], int)
    assert is_number(doc["latency_ms"]) and doc["latency_ms"] > 0
    assert set(doc["stages"]) <= ALL_STAGES and "queue_ms" in doc["stages"]
    assert all(is_number(v) and v > 0 for v in doc["stages"].values())
    assert doc["latency_ms"] >= sum(doc["stages"].values())
    face = doc["face"]
    if face is not None:
        assert set(face) == {"detected", "confidence", "box"} and isinstance(face["detected"], bool)
        assert 0 < face["confidence"] < 1
        if face["detected"]:
            assert len(face["box"]) == 4 and all(isinstance(v, int) and v >= 0 for v in face["box"])
        else:
            assert face["box"] is None
    match = doc["match"]
    if match is not None:
        assert set(match) == {"user_id", "distance", "threshold"} and USER_RE.match(match["user_id"])
        assert 0 < match["distance"] <= match["threshold"] == THRESHOLD
    client = doc["client"]
    assert set(client) == {"ip", "user_agent", "app_version"}
    assert any(ipaddress.ip_address(client["ip"]) in net for net in TEST_NETS)
    assert isinstance(client["user_agent"], str) and re.match(r"^\d+\.\d+\.\d+", client["app_version"])
    if "embedding" in doc:
        assert len(doc["embedding"]) == 512 and all(isinstance(v, float) for v in doc["embedding"])


def test_every_request_line_follows_the_contract(lines: list[Line]) -> None:
    for line in lines:
        check_line(line)


def test_statuses_and_error_codes(unique: list[Line]) -> None:
    kinds = Counter((x["endpoint"], x["http_status"], x["status"], x["error_code"]) for x in unique)
    assert set(kinds) == {
        ("recognise_user", 200, "success", None),  # match
        ("recognise_user", 200, "failure", None),  # no match
        ("recognise_user", 400, "error", 601),  # no face
        ("recognise_user", 400, "error", 600),
        ("recognise_user", 413, "error", None),
        ("recognise_user", 422, "error", None),
        ("recognise_user", 500, "error", 500),
        ("recognise_user", 503, "error", 503),
        ("add_user", 200, "success", None),
        ("add_user", 400, "error", 602),  # key expired
        ("add_user", 404, "error", 404),  # e-mail already used
        ("add_user", 409, "error", 409),  # face already registered
        ("add_user", 400, "error", 601),
        ("add_user", 422, "error", None),
        ("add_user", 503, "error", 503),
    }
    messages = {x["message"] for x in unique if x["error_code"] in (601, 602, 404)}
    assert messages == {
        "Face not detected in the image",
        "Enrollment key expired",
        "User already exists with this email",
    }
    failures = [x for x in unique if x["status"] == "failure"]
    assert all(x["message"] == "no_match" and x["http_status"] == 200 for x in failures)


def test_stages_that_did_not_run_are_absent(unique: list[Line]) -> None:
    expected = {  # (endpoint, HTTP status, used a key) -> stages
        ("recognise_user", 200, False): ALL_STAGES,  # match and no match
        ("recognise_user", 400, False): {"detect_ms", "queue_ms"},  # 601 no face: no embedding, no search
        ("recognise_user", 503, False): {"detect_ms", "embed_ms", "queue_ms"},  # the search failed
        ("add_user", 200, True): {"db_ms", "queue_ms"},  # the cached vector is used
        ("add_user", 200, False): ALL_STAGES,
        ("add_user", 400, True): {"db_ms", "queue_ms"},  # 602 key expired
        ("add_user", 503, True): {"queue_ms"},
    }
    seen = Counter()
    for x in unique:
        if x["http_status"] == 400 and x["error_code"] == 600:
            continue  # an invalid image is refused before detection
        kind = (x["endpoint"], x["http_status"], bool(x["enrollment"]) and x["endpoint"] == "add_user")
        if kind in expected:
            assert set(x["stages"]) == expected[kind], x.text[:300]
            seen[kind] += 1
    assert set(seen) == set(expected)


def test_queue_ms_is_a_few_ms_most_of_the_time(unique: list[Line]) -> None:
    queue = [x["stages"]["queue_ms"] for x in unique if not SLOW_HOUR[0] <= x.time < SLOW_HOUR[1]]
    assert 2 <= statistics.median(queue) <= 3.5
    assert sum(q < 10 for q in queue) / len(queue) >= 0.95


def test_timestamps_use_the_local_offset_and_z_in_one_file_of_seven(lines: list[Line]) -> None:
    by_file: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        by_file[line.file].append(line)
    for name, file_lines in by_file.items():
        pattern = UTC_TS_RE if name == UTC_FILE else LOCAL_TS_RE
        hour = int(name[-8:-6])
        for line in file_lines:
            assert pattern.match(line["ts"]), line["ts"]
            assert line.time.hour == hour and line.time.date() == START.date()
        times = [x.time for x in file_lines]
        assert times == sorted(times)
    assert lines[0].time >= START
    assert lines[-1].time < START + timedelta(seconds=20_000)
    assert lines[-1].time > START + timedelta(seconds=19_900)


def test_traffic_shares_and_day_night_rhythm(unique: list[Line]) -> None:
    endpoints = Counter(x["endpoint"] for x in unique)
    assert 0.045 <= endpoints["add_user"] / len(unique) <= 0.055
    hours = Counter(x.time.hour for x in unique)
    assert hours[7] > 4 * hours[3]  # 08:00 local against 04:00 local


# --- enrolment funnel, identities, embeddings ----------------------------------------------------------


def test_no_match_answers_issue_keys_valid_ten_minutes(unique: list[Line]) -> None:
    no_match = [x for x in unique if x["message"] == "no_match"]
    assert 0.09 <= len(no_match) / len(unique) <= 0.13
    for x in no_match:
        assert x["match"] is None and "user_info" not in x.doc
        assert set(x["enrollment"]) == {"req_id", "expires_at"} and KEY_RE.match(x["enrollment"]["req_id"])
        assert datetime.fromisoformat(x["enrollment"]["expires_at"]) - x.time == timedelta(minutes=10)
        assert x["enrollment"]["expires_at"][-6:] == x["ts"][-6:] or x["ts"].endswith("Z")
    assert len({x["enrollment"]["req_id"] for x in no_match}) == len(no_match)
    others = [x for x in unique if x["endpoint"] == "recognise_user" and x["message"] != "no_match"]
    assert all(x["enrollment"] is None for x in others)


def test_add_user_uses_keys_before_and_after_they_expire(unique: list[Line]) -> None:
    issued = {x["enrollment"]["req_id"]: x for x in unique if x["message"] == "no_match"}
    used = Counter()
    outcomes = Counter()
    for x in unique:
        if x["endpoint"] != "add_user" or x["enrollment"] is None:
            continue
        key = x["enrollment"]["req_id"]
        origin = issued[key]  # every key used was issued by an earlier no-match answer
        used[key] += 1
        expires = datetime.fromisoformat(origin["enrollment"]["expires_at"])
        assert origin.time < x.time
        assert x["client"] == origin["client"]  # enrolled from the phone that got the key
        if x["http_status"] == 200:
            assert x.time < expires
            assert set(x["enrollment"]) == {"req_id", "user_id"}
            assert x["enrollment"]["user_id"] == x["user_info"]["id"]
            outcomes["before"] += 1
        else:
            assert x["enrollment"] == {"req_id": key}  # refused: no user
            if x["error_code"] == 602:
                assert x.time >= expires
                outcomes["after"] += 1
    assert max(used.values()) == 1
    before, after = outcomes["before"] / len(issued), outcomes["after"] / len(issued)
    assert 0.2 <= before <= 0.4
    assert 0.01 <= after <= 0.06
    assert 1 - len(used) / len(issued) >= 0.55  # most keys are never used


def test_new_users_get_increasing_ids(unique: list[Line]) -> None:
    added = [x["user_info"]["id"] for x in unique if x["endpoint"] == "add_user" and x["http_status"] == 200]
    numbers = [int(u[2:]) for u in added]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert numbers[0] > 10_000  # after the 10,000 users enrolled at the start


def test_user_info_on_matches_and_every_add_user(unique: list[Line]) -> None:
    for x in unique:
        info = x.get("user_info")
        if x["match"] is not None:
            assert info["id"] == x["match"]["user_id"]
        if x["endpoint"] == "add_user":
            assert set(info) == {"id", "name", "email", "birthdate"}
            assert (info["id"] is not None) == (x["http_status"] == 200)
            assert (info["birthdate"] is None) == (x["http_status"] == 422)  # 422: the birthdate was missing
        elif x["match"] is None:
            assert info is None
        if info is not None:
            assert NAME_RE.match(info["name"]) and EMAIL_RE.match(info["email"])
            if info["birthdate"] is not None:
                assert "1950-01-01" <= info["birthdate"] <= "2005-01-01"


def test_embeddings_on_every_add_user_and_two_percent_of_recognise(unique: list[Line]) -> None:
    add = [x for x in unique if x["endpoint"] == "add_user"]
    recognise = [x for x in unique if x["endpoint"] == "recognise_user"]
    assert all("embedding" in x.doc for x in add)
    share = sum("embedding" in x.doc for x in recognise) / len(recognise)
    assert 0.015 <= share <= 0.025
    assert all("embed_ms" in x["stages"] for x in recognise if "embedding" in x.doc)
    norms = [sum(v * v for v in x["embedding"]) for x in add[:50]]
    assert all(abs(n - 1) < 1e-4 for n in norms)  # L2-normalised, as FaceNet's


# --- incidents -----------------------------------------------------------------------------------------


def test_incident_windows() -> None:
    assert incident_windows(COUNT, START) == {"outage": OUTAGE, "slow_hour": SLOW_HOUR}
    assert incident_windows(3_000_000) == {
        "outage": (datetime(2026, 11, 5, 11, 20, tzinfo=UTC), datetime(2026, 11, 5, 11, 40, tzinfo=UTC)),
        "slow_hour": (datetime(2026, 11, 3, 17, tzinfo=UTC), datetime(2026, 11, 3, 18, tzinfo=UTC)),
    }
    assert incident_windows(30_000) == {"outage": None, "slow_hour": None}  # 6,000 s: too short


def test_twenty_minutes_of_503_and_few_5xx_elsewhere(unique: list[Line]) -> None:
    inside = [x for x in unique if OUTAGE[0] <= x.time < OUTAGE[1]]
    outside = [x for x in unique if not OUTAGE[0] <= x.time < OUTAGE[1]]
    assert sum(x["http_status"] == 503 for x in inside) / len(inside) >= 0.95
    assert sum(x["http_status"] >= 500 for x in outside) / len(outside) < 0.001
    assert min(x.time for x in inside if x["http_status"] == 503) - OUTAGE[0] < timedelta(seconds=5)
    assert OUTAGE[1] - max(x.time for x in inside if x["http_status"] == 503) < timedelta(seconds=5)


def test_one_slow_hour_with_p95_over_one_second(unique: list[Line]) -> None:
    by_hour: dict[int, list[float]] = defaultdict(list)
    for x in unique:
        by_hour[x.time.hour].append(x["latency_ms"])
    p95 = {hour: statistics.quantiles(values, n=20)[-1] for hour, values in by_hour.items()}
    assert p95.pop(SLOW_HOUR[0].hour) > 1_000
    assert all(value < 400 for value in p95.values()), p95


def test_a_few_other_client_errors_per_hour(unique: list[Line]) -> None:
    """Besides no face (601) and the add_user refusals, a few 4xx an hour: bad image, too large, missing field."""
    other = [x for x in unique if 400 <= x["http_status"] < 500 and x["error_code"] not in (601, 602, 404, 409)]
    hours = 20_000 / 3_600
    assert 3 <= len(other) / hours <= 20
    assert {x["http_status"] for x in other} == {400, 413, 422}


# --- evaluation runs -----------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(text) for text in path.read_text().splitlines()]


def check_run(rows: list[dict], protocol: str, gallery: int, in_gallery: bool) -> None:
    keys = ["run_id", "protocol", "model", "threshold", "gallery_size", "probe_id", "probe_identity", "in_gallery",
            "predicted_identity", "distance", "ts"]  # fmt: skip
    assert len({r["run_id"] for r in rows}) == 1
    assert len({r["probe_id"] for r in rows}) == len(rows)
    for r in rows:
        assert list(r) == keys
        assert (r["protocol"], r["model"], r["threshold"], r["gallery_size"], r["in_gallery"]) == (
            protocol, "facenet-vggface2", THRESHOLD, gallery, in_gallery
        )  # fmt: skip
        m = PROBE_RE.match(r["probe_id"])
        assert m and m["identity"] == r["probe_identity"]
        matched = r["distance"] is not None and r["distance"] <= THRESHOLD
        assert (r["predicted_identity"] is not None) == matched
        assert datetime.fromisoformat(r["ts"]).tzinfo is not None


def test_frr_run_reproduces_the_seed_benchmark(run: tuple[Path, dict[str, int]]) -> None:
    rows = read_jsonl(run[0] / "evaluations/lfw-frr.jsonl")
    check_run(rows, "FRR", 5_650, True)
    assert len(rows) == 1_680
    assert all(r["distance"] is not None for r in rows)  # no failure to acquire
    assert sum(r["distance"] > THRESHOLD for r in rows) == 108  # 6.43 %
    assert all(r["predicted_identity"] in (None, r["probe_identity"]) for r in rows)


def test_far_run_reproduces_the_seed_benchmark(run: tuple[Path, dict[str, int]]) -> None:
    rows = read_jsonl(run[0] / "evaluations/lfw-far.jsonl")
    check_run(rows, "FAR", 2_796, False)
    assert len(rows) == 3_557
    accepted = [r for r in rows if r["distance"] <= THRESHOLD]
    assert len(accepted) == 149  # 4.19 %
    probes = {r["probe_identity"] for r in rows}
    assert all(r["predicted_identity"] not in probes for r in accepted)  # the probes' identities are not enrolled


def test_distances_give_a_sensible_det_curve(run: tuple[Path, dict[str, int]]) -> None:
    genuine = [r["distance"] for r in read_jsonl(run[0] / "evaluations/lfw-frr.jsonl")]
    impostor = [r["distance"] for r in read_jsonl(run[0] / "evaluations/lfw-far.jsonl")]
    assert statistics.mean(genuine) + 0.4 < statistics.mean(impostor)
    assert max(genuine) > min(impostor) + 0.3  # the laws overlap around the threshold
    frr = [sum(d > t for d in genuine) / len(genuine) for t in (0.9, 1.0, 1.1, 1.2, 1.3)]
    far = [sum(d <= t for d in impostor) / len(impostor) for t in (0.9, 1.0, 1.1, 1.2, 1.3)]
    assert frr == sorted(frr, reverse=True) and far == sorted(far)
    assert frr[0] > 0.2 and frr[-1] < 0.02
    assert far[0] < 0.01 and far[-1] > 0.2


def test_lowlight_run_has_failures_to_acquire(run: tuple[Path, dict[str, int]]) -> None:
    rows = read_jsonl(run[0] / "evaluations/lfw-frr-lowlight.jsonl")
    check_run(rows, "FRR", 5_650, True)
    assert len(rows) == 200
    assert sum(r["distance"] is None for r in rows) == 6
    assert sum(r["distance"] is not None and r["distance"] > THRESHOLD for r in rows) == 22
    assert all(r["probe_id"].startswith("lfw-lowlight/") for r in rows)


# --- k6 output -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k6(run: tuple[Path, dict[str, int]]) -> list[dict]:
    return [json.loads(text) for text in (run[0] / "loadtests/k6-20261102-staged.json").read_text().splitlines()]


def points(k6: list[dict], metric: str) -> list[dict]:
    return [x["data"] for x in k6 if x["type"] == "Point" and x["metric"] == metric]


def test_k6_lines_are_metric_declarations_then_points(k6: list[dict]) -> None:
    declared: set[str] = set()
    for x in k6:
        assert list(x) == ["type", "data", "metric"]
        if x["type"] == "Metric":
            assert list(x["data"]) == ["name", "type", "contains", "thresholds", "submetrics"]
            assert x["data"]["name"] == x["metric"] and x["metric"] not in declared
            declared.add(x["metric"])
        else:
            assert x["type"] == "Point" and x["metric"] in declared
            assert list(x["data"]) == ["time", "value", "tags"]
            assert K6_TIME_RE.match(x["data"]["time"]) and is_number(x["data"]["value"])
    assert declared == {
        "vus", "vus_max", "http_reqs", "http_req_duration", "http_req_blocked", "http_req_connecting",
        "http_req_tls_handshaking", "http_req_sending", "http_req_waiting", "http_req_receiving",
        "http_req_failed", "checks", "data_sent", "data_received", "iteration_duration", "iterations",
    }  # fmt: skip
    kinds = {x["metric"]: (x["data"]["type"], x["data"]["contains"], x["data"]["thresholds"])
             for x in k6 if x["type"] == "Metric"}  # fmt: skip
    assert kinds["http_req_duration"] == ("trend", "time", ["p(95)<3000"])
    assert kinds["http_req_failed"] == ("rate", "default", ["rate<0.05"])
    assert kinds["vus"] == ("gauge", "default", [])
    assert kinds["data_sent"] == ("counter", "data", [])


def test_k6_vus_step_4_8_12_once_a_second(k6: list[dict]) -> None:
    vus = [int(p["value"]) for p in points(k6, "vus")]
    assert vus == [4] * 60 + [8] * 60 + [12] * 60
    assert {p["value"] for p in points(k6, "vus_max")} == {12}


def test_k6_requests_slow_down_with_vus_and_pass_the_thresholds(k6: list[dict]) -> None:
    durations = points(k6, "http_req_duration")
    failed = points(k6, "http_req_failed")
    assert len(durations) == len(failed) == len(points(k6, "http_reqs"))
    assert all(p["tags"]["name"] == "http://api:8000/api/v1/recognise_user" for p in durations)
    assert all(p["tags"]["method"] == "POST" and p["tags"]["scenario"] == "default" for p in durations)
    rate = sum(p["value"] for p in failed) / len(failed)
    assert 0.005 <= rate <= 0.03
    assert all((p["value"] == 1) == (p["tags"]["status"] != "200") for p in failed)
    assert all(p["tags"]["expected_response"] == ("true" if p["value"] == 0 else "false") for p in failed)
    ok = [p for p in durations if p["tags"]["status"] == "200"]
    by_stage: dict[int, list[float]] = defaultdict(list)
    for p in ok:
        second = datetime.fromisoformat(p["time"][:19]) - datetime(2026, 11, 2, 10)
        by_stage[min(int(second.total_seconds()) // K6_SECONDS, 2)].append(p["value"])
    p95 = [statistics.quantiles(by_stage[k], n=20)[-1] for k in range(3)]
    assert 600 <= p95[0] <= 1_100 and 1_600 <= p95[2] <= 2_600 and p95[0] < p95[1] < p95[2]
    assert statistics.quantiles([p["value"] for p in durations], n=20)[-1] < 3_000


def test_k6_iterations_sleep_a_second(k6: list[dict]) -> None:
    iterations = points(k6, "iteration_duration")
    assert len(iterations) == len(points(k6, "iterations")) == len(points(k6, "data_sent"))
    assert all(p["tags"] == {"group": "", "scenario": "default"} for p in iterations)
    assert min(p["value"] for p in iterations) > 1_000
    assert len(points(k6, "checks")) == len(points(k6, "http_reqs"))
