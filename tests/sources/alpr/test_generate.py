"""Tests for visionlake.sources.alpr.generate: determinism, file layout and the shapes of the JSON bodies.

Expected shares come from the reference (shared/reference/ultimatealpr-json.md) and the generator's brief;
the bounds are wide enough for a 10,000-file sample and narrow enough to catch a wrong probability.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from visionlake.sources.alpr.generate import GeneratedFile, iter_results

SAMPLE_SIZE = 10_000
PATH_RE = re.compile(
    r"^(?P<camera>cam-\d{2})/(?P<folder>\d{4}-\d{2}-\d{2})/"
    r"(?P<frame>\d+)_(?P<mo>\d{2})\.(?P<d>\d{2})\.(?P<y>\d{4})\."
    r"(?P<h>\d{2})\.(?P<mi>\d{2})\.(?P<s>\d{2})\.(?P<us>\d{6})\.json$"
)
COLORS = ["black", "blue", "brown", "gold", "gray", "green", "orange", "purple", "red", "silver", "tan",
          "white", "yellow"]  # fmt: skip
BODY_STYLES = ["bus", "campervan", "convertible", "coupe", "hatchback", "heavytruck", "motorcycle", "mpv",
               "pickup", "sedan", "suv", "van"]  # fmt: skip


def capture_time(relative_path: str) -> datetime:
    """Capture time written in the file name (UTC)."""
    m = PATH_RE.match(relative_path)
    assert m, relative_path
    return datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]),
                    int(m["us"]), tzinfo=UTC)  # fmt: skip


@pytest.fixture(scope="module")
def sample() -> list[GeneratedFile]:
    return list(iter_results(SAMPLE_SIZE, seed=2024))


@pytest.fixture(scope="module")
def docs(sample: list[GeneratedFile]) -> list[dict]:
    return [json.loads(f.body) for f in sample]


@pytest.fixture(scope="module")
def elements(docs: list[dict]) -> list[dict]:
    return [e for d in docs for e in d.get("plates", [])]


@pytest.fixture(scope="module")
def plates(elements: list[dict]) -> list[dict]:
    """Elements that hold a plate (not car-only)."""
    return [e for e in elements if "text" in e]


@pytest.fixture(scope="module")
def cars(elements: list[dict]) -> list[dict]:
    return [e["car"] for e in elements if "car" in e]


# --- determinism and count ---------------------------------------------------------------------------


def test_same_seed_gives_identical_files() -> None:
    assert list(iter_results(300, seed=7)) == list(iter_results(300, seed=7))


def test_different_seed_gives_different_files() -> None:
    a = list(iter_results(300, seed=7))
    b = list(iter_results(300, seed=8))
    assert [f.relative_path for f in a] != [f.relative_path for f in b]
    assert [f.body for f in a] != [f.body for f in b]


@pytest.mark.parametrize("count", [0, 1, 5, 123])
def test_count_is_honoured(count: int) -> None:
    assert len(list(iter_results(count, seed=1))) == count


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        list(iter_results(-1))
    with pytest.raises(ValueError):
        list(iter_results(3, cameras=0))


def test_does_not_use_global_random() -> None:
    import random

    random.seed(1)
    expected = random.random()
    random.seed(1)
    list(iter_results(50, seed=3))
    assert random.random() == expected


# --- paths, times, frame ids ------------------------------------------------------------------------


def test_relative_path_layout(sample: list[GeneratedFile], docs: list[dict]) -> None:
    for f, doc in zip(sample, docs, strict=True):
        m = PATH_RE.match(f.relative_path)
        assert m, f.relative_path
        assert m["folder"] == f"{m['y']}-{m['mo']}-{m['d']}"
        assert int(m["frame"]) == doc["frame_id"]


def test_relative_paths_are_unique(sample: list[GeneratedFile]) -> None:
    assert len({f.relative_path for f in sample}) == len(sample)


def test_cameras_and_days_spread(sample: list[GeneratedFile]) -> None:
    cameras = {f.relative_path.split("/")[0] for f in sample}
    assert cameras == {f"cam-{i:02d}" for i in range(1, 9)}
    folders = {f.relative_path.split("/")[1] for f in sample}
    assert folders == {"2022-05-02", "2022-05-03", "2022-05-04"}
    times = [capture_time(f.relative_path) for f in sample]
    assert min(times) >= datetime(2022, 5, 2, tzinfo=UTC)
    assert max(times) < datetime(2022, 5, 5, tzinfo=UTC)


def test_mtime_is_capture_time_plus_small_delay(sample: list[GeneratedFile]) -> None:
    for f in sample:
        delay = f.mtime - capture_time(f.relative_path).timestamp()
        assert 0.05 - 1e-6 <= delay <= 2.0 + 1e-6


def test_timestamp_equals_capture_time(sample: list[GeneratedFile], docs: list[dict]) -> None:
    for f, doc in zip(sample, docs, strict=True):
        if "timestamp" in doc:
            stamp = datetime.fromisoformat(doc["timestamp"].replace("Z", "+00:00"))
            assert stamp.replace(tzinfo=UTC) == capture_time(f.relative_path)


def test_custom_start_and_cameras() -> None:
    files = list(iter_results(200, seed=5, cameras=12, days=1, start=datetime(2023, 1, 31, 12, 0)))
    assert {f.relative_path[:6] for f in files} <= {f"cam-{i:02d}" for i in range(1, 13)}
    assert {f.relative_path.split("/")[1] for f in files} == {"2023-01-31", "2023-02-01"}
    for f in files:
        t = capture_time(f.relative_path)
        assert datetime(2023, 1, 31, 12, tzinfo=UTC) <= t < datetime(2023, 2, 1, 12, tzinfo=UTC)


def test_frame_id_counts_per_camera_and_sometimes_restarts(sample: list[GeneratedFile]) -> None:
    by_camera: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for f in sample:
        m = PATH_RE.match(f.relative_path)
        assert m
        by_camera[m["camera"]].append((capture_time(f.relative_path), int(m["frame"])))
    restarts = 0
    for frames in by_camera.values():
        ids = [frame_id for _, frame_id in sorted(frames)]
        assert ids[0] == 0
        for previous, current in pairwise(ids):
            assert current in (previous + 1, 0)
            restarts += current == 0
    # ~1 restart per 500 frames: about 20 in 10,000 files.
    assert 5 <= restarts <= 45


# --- serialisation ----------------------------------------------------------------------------------


def test_bodies_are_what_json_dumps_writes(sample: list[GeneratedFile], docs: list[dict]) -> None:
    python_style = 0
    escaped = raw_utf8 = 0
    for f, doc in zip(sample, docs, strict=True):
        assert isinstance(doc, dict)
        python = b'": ' in f.body
        python_style += python
        separators = (", ", ": ") if python else (",", ":")
        variants = {
            json.dumps(doc, sort_keys=True, separators=separators, ensure_ascii=ascii_only).encode()
            for ascii_only in (True, False)
        }
        assert f.body in variants
        escaped += b"\\u" in f.body
        raw_utf8 += not f.body.isascii()
    assert 0.55 <= python_style / len(sample) <= 0.65
    assert escaped > 0 and raw_utf8 > 0


def test_tiny_confidences_use_exponent_form(sample: list[GeneratedFile]) -> None:
    assert any(re.search(rb"\d\.?\d*e-\d\d", f.body) for f in sample)


# --- top level --------------------------------------------------------------------------------------


def test_plates_key_absent_about_20_percent_and_never_empty(docs: list[dict]) -> None:
    without = sum("plates" not in d for d in docs)
    assert 0.17 <= without / len(docs) <= 0.23
    assert all(1 <= len(d["plates"]) <= 4 for d in docs if "plates" in d)


def test_mean_elements_per_frame(docs: list[dict]) -> None:
    mean = sum(len(d.get("plates", [])) for d in docs) / len(docs)
    assert 1.0 <= mean <= 1.12


def test_sequential_and_parallel_modes(docs: list[dict]) -> None:
    parallel = [d for d in docs if "duration" not in d]
    assert 0.07 <= len(parallel) / len(docs) <= 0.13
    for d in parallel:
        assert ("latency" in d) != ("lantency" in d)
        assert d.get("latency", d.get("lantency")) in (0, 1)
        assert set(d) <= {"frame_id", "latency", "lantency", "job_idx", "plates", "timestamp"}
    misspelt = sum("lantency" in d for d in parallel)
    assert 0.1 <= misspelt / len(parallel) <= 0.3
    assert any("job_idx" in d for d in parallel)
    for d in docs:
        if "duration" in d:
            assert isinstance(d["duration"], int)
            assert not {"latency", "lantency", "job_idx"} & set(d)


def test_duration_is_realistic(docs: list[dict]) -> None:
    later = [d for d in docs if "duration" in d and d["frame_id"] > 1]
    empty = [d["duration"] for d in later if "plates" not in d]
    one_plate = [d["duration"] for d in later if len(d.get("plates", [])) == 1]
    assert 28 <= statistics.median(empty) <= 40
    assert 65 <= statistics.median(one_plate) <= 90
    assert min(empty) >= 25
    first = [d["duration"] for d in docs if "duration" in d and d["frame_id"] == 0]
    assert first and min(first) >= 400


def test_timestamp_present_on_about_70_percent(docs: list[dict]) -> None:
    stamps = [d["timestamp"] for d in docs if "timestamp" in d]
    assert 0.65 <= len(stamps) / len(docs) <= 0.75
    with_offset = [s for s in stamps if s.endswith(("Z", "+00:00"))]
    assert 0 < len(with_offset) / len(stamps) <= 0.1
    for s in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|\+00:00)?", s), s


# --- plate elements ---------------------------------------------------------------------------------


def test_car_only_elements(elements: list[dict]) -> None:
    car_only = [e for e in elements if "text" not in e]
    assert 0.02 <= len(car_only) / len(elements) <= 0.06
    assert all(set(e) == {"car"} for e in car_only)


def test_plate_texts(plates: list[dict]) -> None:
    texts = [p["text"] for p in plates]
    assert all(1 <= len(t) <= 8 for t in texts)
    lengths = [len(t) for t in texts]
    assert sum(n in (6, 7) for n in lengths) / len(lengths) > 0.6
    masked = [t for t in texts if t.endswith("*")]
    assert 0.03 <= len(masked) / len(texts) <= 0.07
    assert any(re.fullmatch(r"\d{2,3}[가-힣]\d{4}", t) for t in texts)  # Korean
    assert any(re.fullmatch(r"[\u4e00-\u9fff][A-Z][A-Z0-9]{5}", t) for t in texts)  # Chinese province
    non_ascii = sum(not t.isascii() for t in texts)
    assert 0.03 <= non_ascii / len(texts) <= 0.07


def test_confidences(plates: list[dict]) -> None:
    short = 0
    for p in plates:
        c = p["confidences"]
        assert all(isinstance(v, float) and 0 <= v <= 100 for v in c)
        assert 37 <= c[1] <= 99.99998
        if len(c) == 2:
            short += 1
        else:
            assert len(c) == 2 + len(p["text"])
            assert c[0] == min(c[2:])
    assert 0.01 <= short / len(plates) <= 0.05


def _is_axis_aligned(box: list[float]) -> bool:
    x0, y0, x1, y1b, x1b, y1, x0b, y1c = box
    return y0 == y1b and x1 == x1b and y1 == y1c and x0 == x0b and x0 < x1 and y0 < y1


def _inside_image(box: list[float]) -> bool:
    return min(box) >= 0 and max(box[0::2]) <= 1920 and max(box[1::2]) <= 1080


def test_plate_boxes(plates: list[dict]) -> None:
    outside = 0
    for p in plates:
        box = p["warpedBox"]
        assert len(box) == 8 and all(isinstance(v, float) for v in box)
        assert _is_axis_aligned(box)
        outside += not _inside_image(box)
    assert 0 < outside / len(plates) <= 0.04


def test_car_box_encloses_plate(plates: list[dict], cars: list[dict]) -> None:
    for p in plates:
        if "car" in p:
            car, plate = p["car"]["warpedBox"], p["warpedBox"]
            assert _is_axis_aligned(car)
            assert car[0] <= plate[0] and car[1] <= plate[1] and car[4] >= plate[4] and car[5] >= plate[5]
            if _inside_image(plate):
                assert _inside_image(car)
    assert all(89 <= c["confidence"] <= 100 for c in cars)


def test_car_and_country_shares(plates: list[dict]) -> None:
    assert 0.86 <= sum("car" in p for p in plates) / len(plates) <= 0.94
    assert 0.81 <= sum("country" in p for p in plates) / len(plates) <= 0.89


# --- classifier arrays ------------------------------------------------------------------------------


def _check_top5(array: list[dict]) -> None:
    confidences = [entry["confidence"] for entry in array]
    assert 1 <= len(array) <= 5
    assert all(isinstance(c, float) for c in confidences)
    assert confidences == sorted(confidences, reverse=True)
    assert 99.5 <= sum(confidences) <= 100.01


def test_classifier_arrays(cars: list[dict]) -> None:
    for kind, names in (("color", COLORS), ("bodyStyle", BODY_STYLES)):
        arrays = [c[kind] for c in cars if kind in c]
        assert 0.8 <= len(arrays) / len(cars) <= 0.9
        for array in arrays:
            _check_top5(array)
            assert len({e["name"] for e in array}) == len(array)
            assert all(e["klass"] == names.index(e["name"]) for e in array)
    for array in (c["makeModelYear"] for c in cars if "makeModelYear" in c):
        _check_top5(array)
        assert all(set(e) == {"confidence", "klass", "make", "model", "year"} for e in array)


def test_make_model_year_types(cars: list[dict]) -> None:
    years = [e["year"] for c in cars for e in c.get("makeModelYear", [])]
    interval = sum(y == "0-9" for y in years) / len(years)
    as_int = sum(isinstance(y, int) for y in years) / len(years)
    as_str_year = sum(isinstance(y, str) and y.isdigit() for y in years) / len(years)
    assert 0.5 <= interval <= 0.7
    assert 0.2 <= as_int <= 0.4
    assert 0.05 <= as_str_year <= 0.15
    assert all(1990 <= int(y) <= 2030 for y in years if y != "0-9")


def test_country_arrays(plates: list[dict]) -> None:
    entries = []
    for p in plates:
        if "country" in p:
            _check_top5(p["country"])
            entries.extend(p["country"])
    for e in entries:
        assert re.fullmatch(r"[A-Z]{3}", e["code"])
        assert isinstance(e["klass"], int) and isinstance(e["name"], str)
        if "state" in e:
            assert e["code"] in ("USA", "CAN", "ARE")
        if "other" in e:
            assert e["code"] == "RUS" and e["other"] == "Private vehicle"
    states = {e["state"] for e in entries if "state" in e}
    assert {"Texas", "Quebec", "Dubai"} <= states
    assert any("other" in e for e in entries)
