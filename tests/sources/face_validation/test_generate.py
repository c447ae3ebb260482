"""Tests for visionlake.sources.face_validation.generate: determinism, export files, the document shape
(the seed document's keys and value styles), the serial short-circuit and the shares of the reference
(shared/reference/face-validation-api.md). Bounds are wide enough for a 4,000-call sample."""

from __future__ import annotations

import ipaddress
import json
import random
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from itertools import pairwise

import pytest

from visionlake.sources.face_validation import generate as gen
from visionlake.sources.face_validation.generate import DEFAULT_START, iter_documents, write_exports

SAMPLE_SIZE = 4_000
SEED = 2025
LOCAL = timezone(timedelta(hours=-5))

TOP_KEYS = ["_id", "api_hash", "user_name", "service", "api_gateway_id", "file_token", "with_accessories",
            "with_iqa", "with_icao", "save_azure", "save_mongo", "ts", "date", "summary", "metadata", "user_data",
            "http_code", "total_time_ms", "azure_blob"]  # fmt: skip
IMAGE_KEYS = ["integrity_dims", "accessory_detector", "face_detector", "liqe", "topiq", "classic_metrics",
              "iqa_heuristics", "as_35_selfies", "ibeta2_crops", "ibeta2_full", "ibeta2_clip",
              "as_heuristics"]  # fmt: skip
TRAZABILIDAD_KEYS = ["Resolucion", "City", "PostalCode", "ProcessGuid", "VersionNavegador", "Lenguaje",
                     "Subdivision", "Tiempo", "Camara", "Error", "ResolucionCamera", "Device", "Latitud",
                     "Navegador", "NumDoc", "UserAgent", "Longitud", "Country", "Ip"]  # fmt: skip
IQA = ("liqe", "topiq", "classic_metrics", "iqa_heuristics")
PAD = ("as_35_selfies", "ibeta2_crops", "ibeta2_full", "ibeta2_clip", "as_heuristics")
DESCS = {"1400": "antispoofing OK", "0302": "blur/haze", "1402": "spoof image", "0406": "non-frontal",
         "3002": "geometry fail", "0202": "hand", "0304": "bad lights", "0203": "hat", "0205": "sunglasses",
         "0102": "face not found", "0306": "image not sharp", "0204": "face mask", "0103": "multiple faces",
         "0303": "bad color", "0305": "bad exposure"}  # fmt: skip
ISO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}-05:00")
DATE_OBJECT_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z")


def event_ms(doc: dict) -> datetime:
    """The document's date at millisecond precision, the precision of a BSON date."""
    t = event_time(doc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def event_time(doc: dict) -> datetime:
    """The document's date as an aware datetime (ISO string or {"$date": ...})."""
    date = doc["date"]
    if isinstance(date, dict):
        return datetime.fromisoformat(date["$date"].replace("Z", "+00:00"))
    return datetime.fromisoformat(date)


def strip_landmarks(doc: dict) -> dict:
    for img in ("near_img", "far_img"):
        face = doc["metadata"][img].get("face_detector")
        if face:
            face["results"]["predictions"]["faces"].pop("landmarks")
    return doc


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return list(iter_documents(SAMPLE_SIZE, seed=SEED, landmarks=False))


@pytest.fixture(scope="module")
def docs(texts: list[str]) -> list[dict]:
    return [json.loads(t) for t in texts]


@pytest.fixture(scope="module")
def processes(docs: list[dict]) -> dict[str, list[dict]]:
    by_guid: dict[str, list[dict]] = defaultdict(list)
    for doc in docs:
        by_guid[doc["user_data"]["procesoConvenioGuid"]].append(doc)
    return by_guid


@pytest.fixture(scope="module")
def with_landmarks() -> list[str]:
    return list(iter_documents(6, seed=SEED, landmarks=True))


# --- determinism, arguments --------------------------------------------------------------------------


def test_same_seed_gives_identical_text(with_landmarks: list[str]) -> None:
    assert list(iter_documents(300, seed=7, landmarks=False)) == list(iter_documents(300, seed=7, landmarks=False))
    assert list(iter_documents(6, seed=SEED, landmarks=True)) == with_landmarks


def test_different_seed_gives_different_text() -> None:
    assert list(iter_documents(50, seed=7, landmarks=False)) != list(iter_documents(50, seed=8, landmarks=False))


@pytest.mark.parametrize("count", [0, 1, 7, 123])
def test_count_is_honoured(count: int) -> None:
    assert len(list(iter_documents(count, seed=1, landmarks=False))) == count


def test_rejects_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError):
        list(iter_documents(-1))
    with pytest.raises(ValueError):
        list(iter_documents(3, days=0))
    with pytest.raises(ValueError):
        write_exports(str(tmp_path), 3, docs_per_file=0)


def test_does_not_use_global_random() -> None:
    random.seed(1)
    expected = random.random()
    random.seed(1)
    list(iter_documents(50, seed=3, landmarks=False))
    assert random.random() == expected


def test_landmarks_flag_only_removes_the_landmark_lists(with_landmarks: list[str], texts: list[str]) -> None:
    small = list(iter_documents(6, seed=SEED, landmarks=False))
    assert [strip_landmarks(json.loads(t)) for t in with_landmarks] == [json.loads(t) for t in small]
    for big, lean in zip(with_landmarks, small, strict=True):
        doc = json.loads(big)
        faces = [doc["metadata"][img].get("face_detector") for img in ("near_img", "far_img")]
        lists = sum(len(f["results"]["predictions"]["faces"]["landmarks"]) for f in faces if f)
        added = len(big.encode()) - len(lean.encode())
        assert 25_000 * lists <= added <= 45_000 * lists + 100  # one list of 478 [x, y, z] is ~33 KB
        if lists == 2:
            assert 50_000 <= len(big.encode()) <= 200_000  # ~70 KB
    assert max(len(t) for t in texts) < 12_000 and statistics.mean(len(t) for t in texts) < 8_000


def test_landmarks_shape(with_landmarks: list[str]) -> None:
    for doc in map(json.loads, with_landmarks):
        for img in ("near_img", "far_img"):
            face = doc["metadata"][img].get("face_detector")
            if not face:
                continue
            faces = face["results"]["predictions"]["faces"]
            assert list(faces) == ["bboxes", "landmarks", "bboxes_raw"]
            assert len(faces["landmarks"]) == len(faces["bboxes"]) == len(faces["bboxes_raw"])
            for marks in faces["landmarks"]:
                assert list(marks) == [str(i) for i in range(478)]
                assert all(len(p) == 3 and all(isinstance(v, float) for v in p) for p in marks.values())
                xs = [p[0] for p in marks.values()]
                assert 0 < min(xs) < max(xs) < 1


# --- export files ----------------------------------------------------------------------------------------


def test_write_exports_splits_and_alternates_forms(tmp_path) -> None:
    paths = write_exports(str(tmp_path), 23, seed=5, landmarks=False, docs_per_file=5, array_every=2)
    assert paths == [f"exports/2025-01/liveness-{i:05d}.json" for i in range(1, 6)]
    expected = list(iter_documents(23, seed=5, landmarks=False))
    found = []
    for number, relative in enumerate(paths, 1):
        raw = (tmp_path / relative).read_text(encoding="utf-8")
        if number % 2 == 0:  # --jsonArray on one line, as mongoexport writes it
            assert raw.startswith("[{") and raw.endswith("}]\n") and raw.count("\n") == 1
            elements = json.loads(raw)
            assert isinstance(elements, list)
            part = expected[len(found) : len(found) + len(elements)]
            assert raw == "[" + ",".join(part) + "]\n"
        else:  # JSON Lines
            lines = raw.split("\n")
            assert lines[-1] == ""
            elements = [json.loads(line) for line in lines[:-1]]
            assert lines[:-1] == expected[len(found) : len(found) + len(elements)]
        assert len(elements) == (5 if number < 5 else 3)
        found.extend(elements)
    assert found == [json.loads(t) for t in expected]


def test_write_exports_defaults(tmp_path) -> None:
    paths = write_exports(str(tmp_path), 9, seed=5, landmarks=False, docs_per_file=2)
    assert len(paths) == 5
    for number, relative in enumerate(paths, 1):
        raw = (tmp_path / relative).read_text(encoding="utf-8")
        assert raw.startswith("[") == (number == 4)
    assert write_exports(str(tmp_path / "none"), 0) == []
    single = write_exports(str(tmp_path / "one"), 4, landmarks=False, array_every=0)
    assert single == ["exports/2025-01/liveness-00001.json"]
    assert len((tmp_path / "one" / single[0]).read_text().splitlines()) == 4


# --- text and top level ------------------------------------------------------------------------------------


def test_text_is_one_compact_line_like_mongoexport(texts: list[str]) -> None:
    for text in texts[:500]:
        assert "\n" not in text and text.startswith('{"_id":{"$oid":"')
        assert '": ' not in text and '", "' not in text  # compact separators
        assert not re.search(r"[:,\[]-?\d+(\.\d+)?e[-+]\d", text)  # Go writes 'E' exponents
        assert re.search(r'"ts":\d\.\d+E\+09,', text)  # and ts (>= 1e6) in exponent form
    assert any(re.search(r"\dE-\d\d", t) for t in texts)


def test_top_level_fields(docs: list[dict]) -> None:
    oids = set()
    for doc in docs:
        assert list(doc) == TOP_KEYS
        assert re.fullmatch(r"[0-9a-f]{24}", doc["_id"]["$oid"]) and list(doc["_id"]) == ["$oid"]
        oids.add(doc["_id"]["$oid"])
        assert re.fullmatch(r"[A-Za-z0-9_-]{10}", doc["file_token"])
        assert doc["api_hash"] in ("02bc5e7", "fae781b")
        assert re.fullmatch(r"[0-9a-f]{12}", doc["api_gateway_id"])
        assert doc["service"] == "main" and doc["http_code"] == 200
        assert all(doc[k] is True for k in ("with_accessories", "with_iqa", "with_icao", "save_azure", "save_mongo"))
        assert isinstance(doc["ts"], float) and isinstance(doc["total_time_ms"], int)
        assert abs(doc["ts"] - event_time(doc).timestamp()) < 0.002
        assert list(doc["metadata"])[:2] == ["near_img", "far_img"]
        # the ObjectId's time is the insert time: the call's time plus its duration
        inserted = int(doc["_id"]["$oid"][:8], 16)
        assert 0 <= inserted - int(doc["ts"]) <= doc["total_time_ms"] // 1000 + 1
    assert len(oids) == len(docs)
    assert len({d["file_token"] for d in docs}) == len(docs)
    names = Counter(d["user_name"] for d in docs)
    assert 0.7 <= names["veriFace"] / len(docs) <= 0.9 and len(names) >= 2
    old = sum(d["api_hash"] == "02bc5e7" for d in docs) / len(docs)
    assert 0.05 <= old <= 0.3
    assert all(d["api_hash"] == "02bc5e7" for d in docs[:20]) and docs[-1]["api_hash"] == "fae781b"


def test_azure_blob(docs: list[dict]) -> None:
    for doc in docs:
        token, month = doc["file_token"], f"{event_time(doc).astimezone(LOCAL):%Y-%m}"
        for img, suffix in (("near_img", "near"), ("far_img", "far")):
            blob = doc["azure_blob"][img]
            assert list(blob) == ["account_name", "container_name", "path"]
            assert blob["container_name"] == month
            assert blob["path"] == f"{token}/{token}~{suffix}.png"


# --- dates ---------------------------------------------------------------------------------------------------


def test_date_forms(docs: list[dict]) -> None:
    objects = [d["date"] for d in docs if isinstance(d["date"], dict)]
    assert 0.03 <= len(objects) / len(docs) <= 0.07
    for date in objects:
        assert list(date) == ["$date"] and DATE_OBJECT_RE.fullmatch(date["$date"]), date
    for doc in docs:
        if isinstance(doc["date"], str):
            assert ISO_RE.fullmatch(doc["date"]), doc["date"]


def test_documents_in_date_order_within_the_window(docs: list[dict]) -> None:
    times = [event_time(d) for d in docs]
    assert all(a <= b for a, b in pairwise(map(event_ms, docs)))  # {"$date"} values are cut to the ms
    assert times[0] >= DEFAULT_START
    assert times[-1] < DEFAULT_START + timedelta(days=23, hours=3)
    local_days = Counter(t.astimezone(LOCAL).date() for t in times)
    assert len(local_days) >= 20
    # a peak day well above the median day, more calls by day than by night
    assert max(local_days.values()) >= 2 * statistics.median(local_days.values())
    hours = Counter(t.astimezone(LOCAL).hour for t in times)
    assert sum(hours[h] for h in range(8, 20)) / len(times) >= 0.8


def test_custom_start_and_days() -> None:
    start = datetime(2025, 3, 1, 0, 0)
    docs = [json.loads(t) for t in iter_documents(300, seed=4, landmarks=False, start=start, days=2)]
    for doc in docs:
        t = event_time(doc)
        assert start.replace(tzinfo=LOCAL) <= t < start.replace(tzinfo=LOCAL) + timedelta(days=2, hours=3)
        guid_start = datetime.strptime(doc["user_data"]["procesoConvenioGuid"][11:], "%Y-%m-%d_%H:%M:%S")
        assert start <= guid_start < start + timedelta(days=2)


# --- processes -----------------------------------------------------------------------------------------------


def test_process_ids_and_pii(processes: dict[str, list[dict]]) -> None:
    for guid, calls in processes.items():
        documento, day, clock = guid.split("_")
        started = datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=LOCAL)
        assert re.fullmatch(r"\d{10}", documento)
        first = event_time(calls[0])
        assert started <= first <= started + timedelta(seconds=60)
        for doc in calls:
            user = doc["user_data"]
            assert list(user) == ["trazabilidad", "procesoConvenioGuid", "convenio", "documento"]
            assert user["documento"] == documento and user["convenio"] == calls[0]["user_data"]["convenio"]
            traza = user["trazabilidad"]
            assert list(traza) == TRAZABILIDAD_KEYS
            assert traza["NumDoc"] == documento and traza["ProcessGuid"] == guid
            assert traza["Country"] == "CO" and isinstance(traza["Tiempo"], int)
            assert ipaddress.ip_address(traza["Ip"]).version == 4
            assert re.fullmatch(r"\d+ : \d+", traza["Resolucion"])


def test_coordinates_are_colombian(docs: list[dict]) -> None:
    located = 0
    for doc in docs:
        traza = doc["user_data"]["trazabilidad"]
        assert bool(traza["Latitud"]) == bool(traza["Longitud"])
        if traza["Latitud"]:
            located += 1
            assert -4.3 <= float(traza["Latitud"]) <= 13.5 and -82 <= float(traza["Longitud"]) <= -66.8
    assert located / len(docs) >= 0.8


def test_attempts_per_process(processes: dict[str, list[dict]], docs: list[dict]) -> None:
    sizes = Counter(len(calls) for calls in processes.values())
    assert set(sizes) <= set(range(1, 7))
    assert 3.0 <= len(docs) / len(processes) <= 3.6
    for calls in processes.values():
        times = [event_time(d) for d in calls]
        assert all(a <= b for a, b in pairwise(map(event_ms, calls)))
        assert times[-1] - times[0] < timedelta(hours=2)


def test_some_processes_have_two_calls_at_the_same_date(processes: dict[str, list[dict]]) -> None:
    tied = sum(len({d["ts"] for d in calls}) < len(calls) for calls in processes.values())
    assert 1 <= tied <= 0.015 * len(processes)


def test_final_acceptance_overall_and_per_client(processes: dict[str, list[dict]]) -> None:
    convenios = [c.convenio for c in gen.CLIENTS]
    by_client: dict[int, list[bool]] = defaultdict(list)
    for calls in processes.values():
        by_client[convenios.index(calls[0]["user_data"]["convenio"])].append(calls[-1]["summary"]["code"] == "1400")
    total = sum(len(v) for v in by_client.values())
    accepted = sum(sum(v) for v in by_client.values())
    assert 0.87 <= accepted / total <= 0.95
    share = {c: len(v) / total for c, v in by_client.items()}
    assert 0.52 <= share[0] <= 0.64 and 0.13 <= share[1] <= 0.23 and 0.17 <= share[5] <= 0.27
    assert share.get(2, 0) + share.get(3, 0) + share.get(4, 0) <= 0.04
    rate = {c: sum(v) / len(v) for c, v in by_client.items()}
    assert 0.9 <= rate[0] <= 0.98 and 0.74 <= rate[1] <= 0.92 and 0.82 <= rate[5] <= 0.95
    assert rate.get(2, 0.0) == 0.0
    assert rate[0] > rate[1]
    # GUIDs are written as the clients send them: some upper-, some lowercase
    assert any(c.isupper() for c in convenios[0]) and convenios[1] == convenios[1].lower()


def test_ok_calls_and_process_ends(processes: dict[str, list[dict]]) -> None:
    for calls in processes.values():
        codes = [d["summary"]["code"] for d in calls]
        if codes[-1] != "1400":
            continue  # used up its calls or gave up
        # a process ends at an ok call, having collected at most 4 oks
        assert 1 <= codes.count("1400") <= 4


# --- summary and short-circuit -------------------------------------------------------------------------------


def test_summary_codes_and_shares(docs: list[dict]) -> None:
    codes = Counter()
    for doc in docs:
        summary = doc["summary"]
        assert list(summary) == ["status", "code", "desc"]
        assert summary["status"] == ("ok" if summary["code"] == "1400" else "error")
        assert summary["desc"] == DESCS[summary["code"]]
        codes[summary["code"]] += 1
    share = {code: n / len(docs) for code, n in codes.items()}
    assert 0.62 <= share["1400"] <= 0.71
    assert 0.13 <= share["0302"] <= 0.20
    assert 0.04 <= share["1402"] <= 0.076
    assert 0.03 <= share["0406"] <= 0.066
    assert 0.025 <= share["3002"] <= 0.05
    assert 0.008 <= share["0202"] <= 0.025
    rare = sum(share.get(c, 0) for c in ("0304", "0203", "0205", "0102", "0306", "0204", "0103", "0303", "0305"))
    assert 0.005 <= rare <= 0.03


def _stages(icao_before_iqa: bool) -> list[tuple[str, str | None]]:
    """(entry, image) in call order; ("icao", None) has no entry of its own."""
    stages = [("accessory_detector", "near_img"), ("accessory_detector", "far_img"),
              ("face_detector", "near_img"), ("face_detector", "far_img")]  # fmt: skip
    iqa = [("iqa", "near_img"), ("iqa", "far_img")]
    stages += [("icao", None), *iqa] if icao_before_iqa else [*iqa, ("icao", None)]
    return [*stages, ("geometry_check", None), ("pad", "near_img"), ("pad", "far_img")]


def _entries(doc: dict, stage: str, img: str | None) -> list[dict] | None:
    """The stage's entries in the document, None when absent; raises if only some of a group are there."""
    meta = doc["metadata"]
    keys = {"iqa": IQA, "pad": PAD}.get(stage, (stage,))
    holder = meta[img] if img else meta
    present = [k in holder for k in keys]
    assert all(present) or not any(present), (stage, img, doc["summary"])
    return [holder[k] for k in keys] if all(present) else None


def _failing_entry(stage: str, entries: list[dict]) -> dict:
    return {"iqa": entries[-1], "pad": entries[-1]}.get(stage, entries[0])


def test_short_circuit_matches_the_summary_code(docs: list[dict]) -> None:
    stages = _stages(gen.ICAO_BEFORE_IQA)
    ok_codes = {"accessory_detector": "0200", "face_detector": "0100", "iqa": "0300", "geometry_check": "3000",
                "pad": "1400"}  # fmt: skip
    for doc in docs:
        code = doc["summary"]["code"]
        assert list(doc["metadata"]["near_img"]) == IMAGE_KEYS[: len(doc["metadata"]["near_img"])]
        assert list(doc["metadata"]["far_img"]) == IMAGE_KEYS[: len(doc["metadata"]["far_img"])]
        for img in ("near_img", "far_img"):
            assert doc["metadata"][img]["integrity_dims"]["code"] == "0000"
        seen_failure = None
        for stage, img in stages:
            if stage == "icao":
                if code == "0406":
                    seen_failure = stage
                continue
            entries = _entries(doc, stage, img)
            if seen_failure:
                assert entries is None, (code, stage, img, "present after the failing stage")
                continue
            assert entries is not None, (code, stage, img, "absent before the failing stage")
            answer = _failing_entry(stage, entries)["code"]
            if answer != ok_codes[stage]:
                assert answer == code, (code, stage, img)
                seen_failure = stage
                if stage == "iqa":  # the models answer; the heuristics decide
                    assert [e["code"] for e in entries[:3]] == ["0300"] * 3
            else:
                assert all(e["code"] == ok_codes[stage] for e in entries), (code, stage, img)
        assert (seen_failure is None) == (code == "1400"), code
        expected_stage = {"02": "accessory_detector", "01": "face_detector", "03": "iqa", "04": "icao",
                          "30": "geometry_check", "14": "pad"}.get(code[:2])  # fmt: skip
        assert seen_failure == (None if code == "1400" else expected_stage)


def test_non_null_shares_follow_the_short_circuit(docs: list[dict]) -> None:
    def share(img: str | None, key: str) -> float:
        return sum(key in (d["metadata"][img] if img else d["metadata"]) for d in docs) / len(docs)

    assert 0.98 <= share("far_img", "accessory_detector") <= 1.0
    assert 0.96 <= share("near_img", "face_detector") <= 0.995
    assert 0.9 <= share("near_img", "liqe") <= 0.99
    assert 0.78 <= share("far_img", "liqe") <= 0.9
    assert 0.7 <= share(None, "geometry_check") <= 0.81
    assert 0.66 <= share("near_img", "as_35_selfies") <= 0.77
    assert 0.61 <= share("far_img", "as_35_selfies") <= 0.72


def test_failing_services_carry_their_evidence(docs: list[dict]) -> None:
    accessory = {"0202": "hand", "0203": "hat", "0204": "mask", "0205": "sunglasses"}
    for doc in docs:
        code = doc["summary"]["code"]
        for img in ("near_img", "far_img"):
            image = doc["metadata"][img]
            acc = image.get("accessory_detector")
            if acc:
                found = acc["results"]["predictions"]["accessories"]
                assert next(iter(found)) == "face"
                assert (acc["code"] in accessory) == (len(found) == 2)
                if acc["code"] in accessory:
                    assert list(found)[1] == accessory[acc["code"]]
            face = image.get("face_detector")
            if face:
                n = len(face["results"]["predictions"]["faces"]["bboxes"])
                assert n == {"0102": 0, "0103": 2}.get(face["code"], 1)
            heuristics = image.get("iqa_heuristics")
            if heuristics:
                _check_iqa(image, heuristics["code"])
            if "as_heuristics" in image:
                verdicts = [image[k]["results"]["predictions"]["class"] for k in PAD[:4]]
                spoof = image["as_heuristics"]["code"] == "1402"
                assert spoof == ("SPOOFING" in verdicts)
                if code == "1400":
                    assert not spoof
                for key, threshold in zip(PAD[:4], (0.2, 0.85, 0.85, 0.85), strict=True):
                    pred = image[key]["results"]["predictions"]
                    assert 0 <= pred["prob"] <= 1
                    assert (pred["prob"] >= threshold) == (pred["class"] == "REAL")
                    assert image[key]["code"] == ("1400" if pred["class"] == "REAL" else "1402")
                prob = image["as_heuristics"]["results"]["predictions"]["prob"]
                assert (prob >= 0.82) == (not spoof)
        geometry = doc["metadata"].get("geometry_check")
        if geometry:
            p = geometry["results"]["predictions"]
            passed = p["neural_score"] >= 0.26 and p["handcrafted_score"] >= 0.13 and p["image_difference"] <= 0.05
            assert passed == (geometry["code"] == "3000")


def _check_iqa(image: dict, code: str) -> None:
    liqe = image["liqe"]["results"]["predictions"]["score"]
    topiq = image["topiq"]["results"]["predictions"]["score"]
    m = image["classic_metrics"]["results"]
    assert 1 <= liqe <= 5 and (0 <= topiq <= 1 or topiq == -1)
    assert 0 <= m["sharpness"] <= 1 and 0 <= m["brightness"] <= 1 and 0 <= m["colorfulness"] <= 110
    assert 0 <= m["contrast"] <= 110 and 0 <= m["blur_score"] <= 1 and 0 <= m["svd_score"] <= 1
    assert image["iqa_heuristics"]["results"]["config"]["colofulness_range"] == [6.6, 100]
    if code == "0302":
        assert liqe < 1.3 or 0 <= topiq < 0.41 or m["blur_score"] > 0.61 or m["svd_score"] > 0.81
    elif code == "0303":
        assert m["colorfulness"] < 6.6
    elif code == "0304":
        assert not 0.17 <= m["brightness"] <= 0.87
    elif code == "0305":
        assert not 12 <= m["contrast"] <= 94
    elif code == "0306":
        assert m["sharpness"] > 0.87
    else:
        assert code == "0300"
        assert m["sharpness"] < 0.87 and 0.17 <= m["brightness"] <= 0.87 and m["blur_score"] <= 0.61


# --- times ---------------------------------------------------------------------------------------------------


def _service_ms(doc: dict) -> dict[str, int]:
    spent: dict[str, int] = Counter()
    for img in ("near_img", "far_img"):
        for key, entry in doc["metadata"][img].items():
            if key in ("iqa_heuristics", "as_heuristics"):  # not timed in staging; float ms
                assert isinstance(entry["results"].get("predictions", entry["results"])["time_ms"], float)
                continue
            if key == "integrity_dims":
                continue
            results = entry["results"]
            pred = results.get("predictions", results)
            assert isinstance(pred["time_ms"], int) and pred["time_ms"] >= 0
            if key == "classic_metrics":
                assert "queue_time_ms" not in pred
            else:
                assert isinstance(pred["queue_time_ms"], int) and pred["queue_time_ms"] >= 0
            spent[key] += pred["time_ms"] + pred.get("queue_time_ms", 0)
    geometry = doc["metadata"].get("geometry_check")
    if geometry:
        spent["geometry_check"] += geometry["results"]["predictions"]["time_ms"]
        spent["geometry_check"] += geometry["results"]["predictions"]["queue_time_ms"]
    return spent


def test_times_and_other_overhead(docs: list[dict]) -> None:
    others, per_service = [], defaultdict(list)
    for doc in docs:
        spent = _service_ms(doc)
        others.append(doc["total_time_ms"] - sum(spent.values()))
        assert doc["total_time_ms"] > 0
        if doc["summary"]["code"] == "1400":
            for key, ms in spent.items():
                per_service[key].append(ms)
    assert 290 <= statistics.mean(others) <= 380
    assert 0.01 <= sum(o < 0 for o in others) / len(others) <= 0.045
    assert min(others) >= -300
    reference = {"accessory_detector": 72, "face_detector": 99, "liqe": 182, "topiq": 386, "classic_metrics": 247,
                 "as_35_selfies": 137, "ibeta2_crops": 135, "ibeta2_full": 127, "ibeta2_clip": 35,
                 "geometry_check": 9}  # fmt: skip
    for key, mean in reference.items():
        assert 0.8 * mean <= statistics.mean(per_service[key]) <= 1.25 * mean, key


# --- images --------------------------------------------------------------------------------------------------


def test_image_sizes(docs: list[dict]) -> None:
    sizes = Counter()
    differs = 0
    for doc in docs:
        near = doc["metadata"]["near_img"]["integrity_dims"]["results"]
        far = doc["metadata"]["far_img"]["integrity_dims"]["results"]
        assert list(near) == ["file_ext", "raw_img_size", "resized"]
        assert all(isinstance(v, int) for v in near["raw_img_size"] + far["raw_img_size"])
        sizes[tuple(near["raw_img_size"])] += 1
        differs += near["raw_img_size"] != far["raw_img_size"]
    assert set(sizes) <= set(gen.IMAGE_SIZES)
    assert 0.6 <= sizes[(590, 896)] / len(docs) <= 0.8
    assert {(1080, 1920), (720, 1280), (1920, 1080), (736, 648), (1024, 768)} <= set(sizes)
    assert 0.008 <= differs / len(docs) <= 0.035


def test_boxes(docs: list[dict]) -> None:
    clipped = 0
    for doc in docs[:1000]:
        for img in ("near_img", "far_img"):
            face = doc["metadata"][img].get("face_detector")
            if not face:
                continue
            faces = face["results"]["predictions"]["faces"]
            for box, raw in zip(faces["bboxes"], faces["bboxes_raw"], strict=True):
                assert len(box) == len(raw) == 4 and all(0 <= v <= 1 for v in box)
                assert box[0] <= raw[0] and box[1] <= raw[1]
                clipped += any(isinstance(v, int) for v in box)  # clipped to the int literals 0 / 1
    assert clipped > 0
