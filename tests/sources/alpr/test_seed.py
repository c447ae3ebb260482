"""A run over the 239 real ultimateALPR result files of the seed project, checked against the files themselves."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from deltalake import DeltaTable
from tests.conftest import SEED_ALPR

from visionlake.sources.alpr.pipeline import run

SAMPLES = [
    "146_05.02.2022.07.15.49.999546.json",
    "0_05.02.2022.07.15.49.999546.json",
    "99_05.02.2022.07.15.49.999546.json",
    "238_05.02.2022.07.15.49.999546.json",
]


@pytest.fixture(scope="module")
def seed_lake(spark, cfg, tmp_path_factory):
    lake = tmp_path_factory.mktemp("seed") / "lake"
    summary = run(spark, cfg, str(SEED_ALPR), str(lake))
    return lake, summary


def _table(lake, name):
    return DeltaTable(str(lake / name)).to_pyarrow_table().to_pylist()


def test_seed_counts(seed_lake):
    lake, summary = seed_lake
    # 239 files: 177 without plates, 62 with one fully classified plate (top-5 of each classifier).
    assert (summary.files_listed, summary.files_new, sum(summary.quarantined.values())) == (239, 239, 0)
    counts = {
        name: len(_table(lake, f"silver/alpr/{name}"))
        for name in ["frames", "plates", "cars", "car_colors", "car_makes", "car_body_styles", "plate_countries"]
    }
    assert counts == {
        "frames": 239,
        "plates": 62,
        "cars": 62,
        "car_colors": 310,
        "car_makes": 310,
        "car_body_styles": 310,
        "plate_countries": 310,
    }
    assert len(_table(lake, "gold/alpr/vehicles")) == 62
    assert sum(1 for r in _table(lake, "silver/alpr/plate_countries") if r["state"] is not None) == 89


def test_seed_frame_ids_and_times_match_the_files(seed_lake):
    lake, _ = seed_lake
    for row in _table(lake, "silver/alpr/frames"):
        name = os.path.basename(row["source_path"])
        assert row["frame_id"] == int(name.split("_")[0])
        # every sample carries the batch timestamp 2022-05-02T07:15:49.999546 (no offset: UTC)
        assert row["event_ts"] == dt.datetime(2022, 5, 2, 7, 15, 49, 999546, tzinfo=dt.UTC)
        assert row["camera_id"] == "unknown"


def test_seed_sample_values_match_the_files(seed_lake):
    lake, _ = seed_lake
    frames = {os.path.basename(r["source_path"]): r for r in _table(lake, "silver/alpr/frames")}
    plates = {r["frame_key"]: r for r in _table(lake, "silver/alpr/plates")}
    colors = {(r["frame_key"], r["rank"]): r for r in _table(lake, "silver/alpr/car_colors")}
    makes = {(r["frame_key"], r["rank"]): r for r in _table(lake, "silver/alpr/car_makes")}
    for name in SAMPLES:
        document = json.loads((SEED_ALPR / name).read_text())
        frame = frames[name]
        assert frame["duration_ms"] == document["duration"]
        assert frame["plate_count"] == len(document.get("plates", []))
        if not document.get("plates"):
            assert frame["frame_key"] not in plates
            continue
        element = document["plates"][0]
        plate = plates[frame["frame_key"]]
        assert plate["plate_text"] == element["text"]
        assert plate["ocr_confidence"] == element["confidences"][0]
        assert plate["detection_confidence"] == element["confidences"][1]
        assert plate["char_confidences"] == element["confidences"][2:]
        assert plate["box"] == element["warpedBox"]
        for rank, color in enumerate(element["car"]["color"], start=1):
            assert (colors[(frame["frame_key"], rank)]["name"], colors[(frame["frame_key"], rank)]["confidence"]) == (
                color["name"],
                color["confidence"],
            )
        top_make = element["car"]["makeModelYear"][0]
        assert makes[(frame["frame_key"], 1)]["make"] == top_make["make"]
        assert makes[(frame["frame_key"], 1)]["year"] == top_make["year"] == "0-9"


def test_seed_gold_daily_figures(seed_lake):
    lake, _ = seed_lake
    processing = _table(lake, "gold/alpr/daily_processing")
    # the 239 durations add up to 13,829 ms
    assert [(r["event_date"], r["frames"]) for r in processing] == [(dt.date(2022, 5, 2), 239)]
    assert processing[0]["recognition_seconds"] == pytest.approx(13.829)
    stats = _table(lake, "gold/alpr/daily_camera_stats")
    assert [(r["frames"], r["frames_with_plates"], r["plates"], r["low_confidence_plates"]) for r in stats] == [
        (239, 62, 62, 21)
    ]
    sightings = _table(lake, "gold/alpr/plate_sightings")
    assert sum(r["sightings"] for r in sightings) == 62
