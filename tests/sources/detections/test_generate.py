"""Tests for visionlake.sources.detections.generate: determinism, the fixed world, both detector shapes, every
quirk of the contract (shared/reference/security-cam-detections.md), invalid images, silence and tracks.

The validation thresholds below are conf/base.yaml's ``detections.validation``, written out by hand.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from visionlake.sources.detections.generate import (
    COVERED_WINDOW_H,
    DEFAULT_START,
    DEVICE_BY_ROLE,
    DEVICES,
    DRIFT_WINDOW_H,
    SILENT_WINDOW_H,
    GeneratedFile,
    iter_frames,
)
from visionlake.sources.detections.schema import FRAME, LABEL_MAP

SAMPLE_SIZE = 20_000
PATH_RE = re.compile(r"^(?P<folder>u-\d{4}-cam-\d{2})/(?P<time>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{6})Z\.json$")
OFFSET_RE = re.compile(r"[+-]\d{2}:\d{2}$")
FORMATS = ("jpeg", "png")
MIN_WIDTH, MIN_HEIGHT, MAX_SIZE, MIN_CONTRAST, MAX_SKEW_S = 320, 240, 5_000_000, 0.05, 300
BY_FOLDER = {d.folder: d for d in DEVICES}


def file_time(relative_path: str) -> datetime:
    m = PATH_RE.match(relative_path)
    assert m, relative_path
    return datetime.strptime(m["time"], "%Y-%m-%dT%H-%M-%S.%f").replace(tzinfo=UTC)


class Frame:
    """One generated file, parsed."""

    def __init__(self, f: GeneratedFile) -> None:
        self.path = f.relative_path
        self.mtime = f.mtime
        self.folder = f.relative_path.split("/")[0]
        self.device = BY_FOLDER[self.folder]
        self.time = file_time(f.relative_path)
        self.doc = json.loads(f.body)

    def captured_utc(self) -> datetime | None:
        """Envelope time as a UTC instant; a time without offset is read in the site's zone (test knowledge)."""
        text = self.doc.get("captured_at")
        if not text:
            return None
        t = datetime.fromisoformat(text)
        if t.tzinfo is None:
            return t.replace(tzinfo=UTC) - timedelta(minutes=self.device.utc_offset_min)
        return t.astimezone(UTC)

    def reasons(self) -> list[str]:
        """Why the image is invalid, by the contract's rules."""
        image, doc, out = self.doc["image"], self.doc, []
        if image["format"].lower() not in FORMATS:
            out.append("format")
        if image["width"] < MIN_WIDTH or image["height"] < MIN_HEIGHT:
            out.append("min_resolution")
        if image["size_bytes"] > MAX_SIZE:
            out.append("max_size")
        if image["contrast"] < MIN_CONTRAST:
            out.append("min_contrast")
        if "user_id" not in doc:
            out.append("missing_user_tag")
        if "device_id" not in doc:
            out.append("missing_device_tag")
        captured = self.captured_utc()
        if captured is None:
            out.append("missing_time")
        elif abs((captured - self.time).total_seconds()) > MAX_SKEW_S:
            out.append("time_mismatch")
        return out

    def objects(self) -> list[tuple[str, float, str | None]]:
        """(label, score 0-1, track id) of the detections that count, labels normalised as silver does."""
        doc, out = self.doc, []
        if "predictions" in doc:
            for p in doc["predictions"]:
                label = p["label"].lower()
                score = p["confidence"] / 100 if p["confidence"] > 1 else p["confidence"]
                out.append(("racoon" if label == "raccoon" else label, score, p.get("track_id")))
        elif "num_detections" in doc:
            n = min(int(doc["num_detections"]), len(doc["detection_classes"]))
            tracks = doc.get("detection_track_ids") or []
            for i in range(n):
                label = LABEL_MAP.get(int(doc["detection_classes"][i]), f"class-{int(doc['detection_classes'][i])}")
                track = str(tracks[i]) if i < len(tracks) and tracks[i] is not None else None
                out.append((label, doc["detection_scores"][i], track))
        return out


@pytest.fixture(scope="module")
def sample() -> list[GeneratedFile]:
    return list(iter_frames(SAMPLE_SIZE, seed=2024))


@pytest.fixture(scope="module")
def frames(sample: list[GeneratedFile]) -> list[Frame]:
    return [Frame(f) for f in sample]


@pytest.fixture(scope="module")
def by_device(frames: list[Frame]) -> dict[str, list[Frame]]:
    out: dict[str, list[Frame]] = defaultdict(list)
    for f in frames:
        out[f.folder].append(f)
    return out


# --- determinism, count, arguments ------------------------------------------------------------------


def test_same_seed_gives_identical_files() -> None:
    assert list(iter_frames(400, seed=7)) == list(iter_frames(400, seed=7))


def test_different_seed_gives_different_files() -> None:
    a, b = list(iter_frames(400, seed=7)), list(iter_frames(400, seed=8))
    assert [f.relative_path for f in a] != [f.relative_path for f in b]
    assert [f.body for f in a] != [f.body for f in b]


@pytest.mark.parametrize("count", [0, 1, 7, 250])
def test_count_is_honoured(count: int) -> None:
    assert len(list(iter_frames(count, seed=1))) == count


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        list(iter_frames(-1))
    with pytest.raises(ValueError):
        list(iter_frames(5, days=0))


def test_does_not_use_global_random() -> None:
    random.seed(1)
    expected = random.random()
    random.seed(1)
    list(iter_frames(50, seed=3))
    assert random.random() == expected


def test_custom_start_and_days() -> None:
    start = datetime(2027, 3, 1, 12, 0)  # naive: UTC
    files = list(iter_frames(500, seed=5, start=start, days=1))
    for f in files:
        assert datetime(2027, 3, 1, 12, tzinfo=UTC) <= file_time(f.relative_path)
        assert file_time(f.relative_path) < datetime(2027, 3, 2, 12, 5, tzinfo=UTC)


# --- paths, times, the world ------------------------------------------------------------------------


def test_paths_follow_the_contract_and_are_unique(sample: list[GeneratedFile], frames: list[Frame]) -> None:
    assert all(PATH_RE.match(f.relative_path) for f in sample)
    assert len({f.relative_path for f in sample}) == len(sample)
    assert {f.folder for f in frames} <= set(BY_FOLDER)


def test_files_come_in_capture_time_order(frames: list[Frame]) -> None:
    times = [f.time for f in frames]
    assert times == sorted(times)


def test_frames_spread_over_three_days(frames: list[Frame]) -> None:
    assert min(f.time for f in frames) >= DEFAULT_START
    assert max(f.time for f in frames) < DEFAULT_START + timedelta(days=3, minutes=5)
    days = Counter(f.time.date() for f in frames)
    assert len(days) >= 3
    assert all(days[DEFAULT_START.date() + timedelta(days=i)] > 0.2 * SAMPLE_SIZE for i in range(3))


def test_mtime_is_capture_time_plus_small_delay(frames: list[Frame]) -> None:
    for f in frames:
        assert 0.2 - 1e-6 <= f.mtime - f.time.timestamp() <= 3.0 + 1e-6


def test_world_has_users_devices_sites_and_time_zones(frames: list[Frame]) -> None:
    users = {f.doc["user_id"] for f in frames if "user_id" in f.doc}
    sites = {f.doc["site_id"] for f in frames if "site_id" in f.doc}
    devices = {(f.device.user_id, f.doc["device_id"]) for f in frames if "device_id" in f.doc}
    offsets = {m[0] for f in frames if (m := OFFSET_RE.search(f.doc.get("captured_at", "")))}
    assert len(users) == 20
    assert len(devices) == 60
    assert len(sites) == 25
    assert {"+01:00", "-05:00", "+09:00", "+00:00", "-08:00", "+05:30"} <= offsets
    assert all(re.fullmatch(r"u-\d{4}", u) for u in users)
    assert all(re.fullmatch(r"cam-\d{2}", d) for _, d in devices)
    assert len({d for _, d in devices}) < 60  # device ids repeat across users: (user, device) is the key


def test_captured_at_is_local_time_of_the_site(frames: list[Frame]) -> None:
    for f in frames:
        m = OFFSET_RE.search(f.doc.get("captured_at") or "")
        if m:
            sign = -1 if m[0][0] == "-" else 1
            assert sign * (int(m[0][1:3]) * 60 + int(m[0][4:6])) == f.device.utc_offset_min


def test_file_name_time_matches_captured_at_except_the_drifting_clock(frames: list[Frame]) -> None:
    drift = DEVICE_BY_ROLE["drift"].folder
    lo, hi = (DEFAULT_START + timedelta(hours=h) for h in DRIFT_WINDOW_H)
    mismatched = 0
    for f in frames:
        captured = f.captured_utc()
        if captured is None:
            continue
        skew = abs((captured - f.time).total_seconds())
        if f.folder != drift:
            assert skew == 0, f.path
        elif lo <= f.time < hi:
            assert skew > MAX_SKEW_S, f.path
            mismatched += 1
        else:
            assert 0 < skew <= 3, f.path
    assert mismatched >= 5


def test_more_activity_by_day_than_by_night(frames: list[Frame]) -> None:
    local_hours = Counter()
    for f in frames:
        local_hours[(f.time + timedelta(minutes=f.device.utc_offset_min)).hour] += 1
    day = sum(local_hours[h] for h in range(9, 18)) / 9
    night = sum(local_hours[h] for h in range(0, 5)) / 5
    assert day > 2.5 * night


# --- shapes ------------------------------------------------------------------------------------------


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_envelope(doc: dict) -> None:
    for key in ("user_id", "device_id", "site_id", "captured_at"):
        assert key not in doc or isinstance(doc[key], str)
    image = doc["image"]
    assert set(image) == {"uri", "format", "width", "height", "size_bytes", "contrast", "brightness"}
    assert isinstance(image["uri"], str) and image["uri"].startswith("s3://collector/")
    assert isinstance(image["format"], str)
    assert all(isinstance(image[k], int) and image[k] > 0 for k in ("width", "height", "size_bytes"))
    assert 0 <= image["contrast"] <= 1 and 0 <= image["brightness"] <= 1
    assert set(doc["detector"]) == {"name", "version"} and all(isinstance(v, str) for v in doc["detector"].values())


def check_shape_a(doc: dict) -> None:
    assert isinstance(doc["success"], bool)
    if not doc["success"]:
        assert isinstance(doc["error"], str) and "predictions" not in doc
        return
    assert is_number(doc["inferenceMs"]) and isinstance(doc["predictions"], list)
    for p in doc["predictions"]:
        assert set(p) - {"track_id"} == {"label", "confidence", "x_min", "y_min", "x_max", "y_max"}
        assert isinstance(p["label"], str) and 0 < p["confidence"] < 100
        assert all(isinstance(p[k], int) for k in ("x_min", "y_min", "x_max", "y_max"))
        assert p["x_min"] < p["x_max"] and p["y_min"] < p["y_max"]
        assert isinstance(p.get("track_id", ""), str)


def check_shape_b(doc: dict) -> None:
    assert isinstance(doc["num_detections"], float) and doc["num_detections"].is_integer()
    classes, scores, boxes = doc["detection_classes"], doc["detection_scores"], doc["detection_boxes"]
    assert len(classes) == len(scores) == len(boxes)
    assert all(isinstance(c, float) and c.is_integer() for c in classes)
    assert all(isinstance(s, float) and 0 <= s < 1 for s in scores)
    assert all(len(b) == 4 and all(isinstance(v, float) for v in b) for b in boxes)
    n = min(int(doc["num_detections"]), len(classes))
    assert scores[:n] == sorted(scores[:n], reverse=True)
    assert all(b[0] < b[2] and b[1] < b[3] for b in boxes[:n])
    assert all(s == 0.0 for s in scores[n:]) and all(b == [0.0] * 4 for b in boxes[n:])
    assert is_number(doc["inference_ms"])
    if "detection_track_ids" in doc:
        assert len(doc["detection_track_ids"]) == n
        assert all(t is None or isinstance(t, int) for t in doc["detection_track_ids"])


def test_both_shapes_valid_and_one_shape_per_device(frames: list[Frame]) -> None:
    shapes: dict[str, set[str]] = defaultdict(set)
    for f in frames:
        check_envelope(f.doc)
        if "success" in f.doc:
            check_shape_a(f.doc)
            shapes[f.folder].add("A")
        else:
            check_shape_b(f.doc)
            shapes[f.folder].add("B")
    assert all(len(s) == 1 for s in shapes.values())
    per_shape = Counter(next(iter(s)) for s in shapes.values())
    assert per_shape["A"] >= 20 and per_shape["B"] >= 20


def test_every_field_is_declared_in_the_parse_schema(frames: list[Frame]) -> None:
    """Generated files carry no field that schema.FRAME lacks (bronze would report them as new fields)."""
    declared = {f.name: f.dataType for f in FRAME.fields}
    nested = {name: set(kind.fieldNames()) for name, kind in declared.items() if hasattr(kind, "fieldNames")}
    prediction_fields = set(declared["predictions"].elementType.fieldNames())
    for f in frames:
        assert set(f.doc) <= set(declared)
        for name, fields in nested.items():
            assert set(f.doc.get(name, {})) <= fields
        assert all(set(p) <= prediction_fields for p in f.doc.get("predictions", []))


def test_shape_b_arrays_padded_to_100_20_and_10(frames: list[Frame]) -> None:
    lengths = Counter(len(f.doc["detection_classes"]) for f in frames if "num_detections" in f.doc)
    assert {100, 20, 10} <= set(lengths)


def test_labels_cover_the_label_map(frames: list[Frame]) -> None:
    labels = Counter(label for f in frames for label, score, _ in f.objects() if score >= 0.5)
    assert set(LABEL_MAP.values()) <= set(labels)
    assert labels["person"] == max(labels.values())


def test_scores_per_device_are_either_fractions_or_percent(frames: list[Frame]) -> None:
    percent_devices, fraction_devices = set(), set()
    for f in frames:
        for p in f.doc.get("predictions", []):
            (percent_devices if p["confidence"] > 1 else fraction_devices).add(f.folder)
    assert percent_devices and fraction_devices
    assert not percent_devices & fraction_devices


# --- quirks ------------------------------------------------------------------------------------------


def test_every_quirk_is_present(frames: list[Frame]) -> None:
    docs = [f.doc for f in frames]
    shape_a = [d for d in docs if "success" in d]
    shape_b = [d for d in docs if "num_detections" in d]
    labels_a = Counter(p["label"] for d in shape_a for p in d.get("predictions", []))
    found = {
        "missing user_id": sum("user_id" not in d for d in docs),
        "missing device_id": sum("device_id" not in d for d in docs),
        "missing site_id": sum("site_id" not in d for d in docs),
        "missing captured_at": sum("captured_at" not in d for d in docs),
        "captured_at without offset": sum("captured_at" in d and not OFFSET_RE.search(d["captured_at"]) for d in docs),
        "empty predictions": sum(d.get("predictions") == [] for d in shape_a),
        "success false": sum(d["success"] is False and bool(d["error"]) for d in shape_a),
        "percent scores": sum(any(p["confidence"] > 1 for p in d.get("predictions", [])) for d in shape_a),
        "raccoon spelling": labels_a["raccoon"] + labels_a["Raccoon"],
        "capitalised labels": labels_a["Person"],
        "pixel box past the image": sum(
            any(p["x_min"] < 0 or p["x_max"] > d["image"]["width"] for p in d.get("predictions", [])) for d in shape_a
        ),
        "boxes outside 0-1": sum(
            any(v < 0 or v > 1 for b in d["detection_boxes"][: int(d["num_detections"])] for v in b) for d in shape_b
        ),
        "num_detections > arrays": sum(d["num_detections"] > len(d["detection_classes"]) for d in shape_b),
        "no detections in shape B": sum(d["num_detections"] == 0 for d in shape_b),
        "unknown class id": sum(
            any(int(c) not in LABEL_MAP for c in d["detection_classes"][: int(d["num_detections"])]) for d in shape_b
        ),
        "track_id shape A": sum(any("track_id" in p for p in d.get("predictions", [])) for d in shape_a),
        "track ids shape B": sum(bool(d.get("detection_track_ids")) for d in shape_b),
        "upper-case format": sum(d["image"]["format"] == "JPEG" for d in docs),
    }
    assert all(count > 0 for count in found.values()), {k: v for k, v in found.items() if not v}


def test_untagged_camera_lacks_user_and_sometimes_device(by_device: dict[str, list[Frame]]) -> None:
    frames = by_device[DEVICE_BY_ROLE["untagged"].folder]
    assert all("user_id" not in f.doc for f in frames)
    without_device = sum("device_id" not in f.doc for f in frames) / len(frames)
    assert 0.15 <= without_device <= 0.35
    others = [f for folder, fs in by_device.items() if folder != DEVICE_BY_ROLE["untagged"].folder for f in fs]
    assert all("user_id" in f.doc and "device_id" in f.doc for f in others)


# --- invalid images ----------------------------------------------------------------------------------


def test_invalid_images_are_2_to_4_percent_on_few_devices(frames: list[Frame]) -> None:
    invalid = [f for f in frames if f.reasons()]
    assert 0.02 <= len(invalid) / len(frames) <= 0.04
    per_device = Counter(f.folder for f in invalid)
    top5 = sum(n for _, n in per_device.most_common(5))
    assert top5 >= 0.85 * len(invalid)
    reasons = Counter(r for f in invalid for r in f.reasons())
    expected = {"format", "min_resolution", "max_size", "min_contrast", "missing_user_tag", "missing_device_tag",
                "missing_time", "time_mismatch"}  # fmt: skip
    assert set(reasons) == expected


def test_failing_devices_fail_the_way_their_role_says(by_device: dict[str, list[Frame]]) -> None:
    cheap = by_device[DEVICE_BY_ROLE["cheap"].folder]
    formats = Counter(f.doc["image"]["format"] for f in cheap)
    assert formats["bmp"] > 0 and formats["gif"] > 0
    assert any(f.doc["image"]["width"] == 160 for f in cheap)
    huge = by_device[DEVICE_BY_ROLE["huge"].folder]
    too_large = sum(f.doc["image"]["size_bytes"] > MAX_SIZE for f in huge) / len(huge)
    assert 0.15 <= too_large <= 0.45
    lo, hi = (DEFAULT_START + timedelta(hours=h) for h in COVERED_WINDOW_H)
    covered = [f for f in by_device[DEVICE_BY_ROLE["covered"].folder] if lo <= f.time < hi]
    assert len(covered) >= 5
    assert all(f.doc["image"]["contrast"] < 0.03 and f.objects() == [] for f in covered)  # a covered lens


def test_no_site_camera_is_otherwise_valid(by_device: dict[str, list[Frame]]) -> None:
    frames = by_device[DEVICE_BY_ROLE["no_site"].folder]
    assert all("site_id" not in f.doc for f in frames)
    assert sum(bool(f.reasons()) for f in frames) <= 0.02 * len(frames)


# --- silence -----------------------------------------------------------------------------------------


def test_one_device_goes_silent_for_hours(by_device: dict[str, list[Frame]]) -> None:
    silent = DEVICE_BY_ROLE["silent"].folder
    lo, hi = (DEFAULT_START + timedelta(hours=h) for h in SILENT_WINDOW_H)
    times = [f.time for f in by_device[silent]]
    assert not [t for t in times if lo <= t < hi]
    assert min(times) < lo and max(times) >= hi
    gaps = {folder: max(b.time - a.time for a, b in pairwise(fs)) for folder, fs in by_device.items()}
    assert gaps[silent] >= timedelta(hours=8.5)
    assert all(gap < timedelta(hours=3) for folder, gap in gaps.items() if folder != silent)


# --- tracks and scenes -------------------------------------------------------------------------------


def tracks_of(frames: list[Frame]) -> dict[str, list[tuple[int, Frame, str, float]]]:
    """track id -> [(index of the frame in the device's list, frame, label, score)]."""
    out: dict[str, list] = defaultdict(list)
    for i, f in enumerate(frames):
        for label, score, track in f.objects():
            if track is not None:
                out[track].append((i, f, label, score))
    return out


def test_tracks_span_consecutive_frames_of_one_device(by_device: dict[str, list[Frame]]) -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    coverage = []  # frames with the track / frames from its first to its last appearance
    for folder, frames in by_device.items():
        for track, seen in tracks_of(frames).items():
            owners[track].add(folder)
            assert len({label for _, _, label, _ in seen}) == 1
            if len(seen) >= 5:
                coverage.append(len({i for i, *_ in seen}) / (seen[-1][0] - seen[0][0] + 1))
    assert all(len(o) == 1 for o in owners.values())
    assert len(coverage) >= 50
    assert min(coverage) >= 0.5  # a tracker loses an object for a frame now and then (~4%)
    assert sum(coverage) / len(coverage) >= 0.93


def test_a_parked_car_stays_all_night(by_device: dict[str, list[Frame]]) -> None:
    nights = []
    for frames in by_device.values():
        for seen in tracks_of(frames).values():
            if seen[0][2] == "car":
                span = seen[-1][1].time - seen[0][1].time
                if span >= timedelta(hours=8):
                    nights.append((len(seen), len(seen) / (seen[-1][0] - seen[0][0] + 1)))
    assert len(nights) >= 4  # two tracking cameras, three nights
    assert all(coverage >= 0.8 for _, coverage in nights)  # in (nearly) every frame of the night
    assert max(frames for frames, _ in nights) >= 20


def test_a_dog_crosses_a_garden_in_about_15_frames(by_device: dict[str, list[Frame]]) -> None:
    crossings = 0
    for frames in by_device.values():
        for seen in tracks_of(frames).values():
            if seen[0][2] == "dog" and 10 <= len(seen) <= 18:
                seconds = (seen[-1][1].time - seen[0][1].time).total_seconds()
                crossings += seconds <= 30
    assert crossings >= 3


def test_a_person_lingers(by_device: dict[str, list[Frame]]) -> None:
    lingering = [
        seen
        for frames in by_device.values()
        for seen in tracks_of(frames).values()
        if seen[0][2] == "person" and len(seen) >= 30
    ]
    assert lingering


def test_dog_cat_and_racoon_together_sometimes_all_above_80_percent(frames: list[Frame]) -> None:
    strong = weak = 0
    for f in frames:
        best: dict[str, float] = {}
        for label, score, _ in f.objects():
            best[label] = max(best.get(label, 0.0), score)
        trio = [best.get(label, 0.0) for label in ("dog", "cat", "racoon")]
        if min(trio) >= 0.8:
            strong += 1
        elif min(trio) >= 0.5:
            weak += 1
    assert strong >= 5 and weak >= 5
    assert strong < 0.02 * len(frames)
