"""End-to-end detections runs on a dozen hand-written frames: validation, both detector shapes, two rules,
episodes, cooldown, schedules, suppressions, the reports, reruns and an episode that continues in a later run.

Every expected row below is worked out by hand from the frames and rules written here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.conftest import lake_contents, write_files

from visionlake.errors import ConfigError
from visionlake.lake import delta, read
from visionlake.sources.detections.episodes import alert_id_of
from visionlake.sources.detections.pipeline import run

RULES = """
rules:
  - rule_id: 100
    name: dog, cat and racoon together
    labels: [dog, cat, racoon]
    quantifier: ALL
    min_score: "80%"
    severity: warning
    cooldown_minutes: 10
  - rule_id: 200
    name: person at night
    labels: [person]
    quantifier: ANY
    min_score: 0.6
    min_area_fraction: 0.01
    schedule: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "22:00", end: "06:00"}]
    severity: error
"""
U1, C1, S1 = "u-0001", "cam-01", "site-01"  # a +01:00 site
U2, C2, S2 = "u-0002", "cam-02", "site-02"  # a -05:00 site


def shape_a(local: str, predictions: list, *, fmt: str = "jpeg", user=U1, device=C1, site=S1) -> str:
    return json.dumps(
        {
            "user_id": user,
            "device_id": device,
            "site_id": site,
            "captured_at": local,
            "image": {
                "uri": f"s3://collector/{user}-{device}/{local}.jpg",
                "format": fmt,
                "width": 1000,
                "height": 500,
                "size_bytes": 200000,
                "contrast": 0.4,
                "brightness": 0.5,
            },
            "detector": {"name": "deepstack", "version": "2022.01.1"},
            "success": True,
            "inferenceMs": 40,
            "predictions": predictions,
        }
    )


def pred(label: str, score: float, box=(0, 0, 500, 250)) -> dict:
    """A detection; the default box is a quarter of the 1000x500 image."""
    x_min, y_min, x_max, y_max = box
    return {"label": label, "confidence": score, "x_min": x_min, "y_min": y_min, "x_max": x_max, "y_max": y_max}


def three(dog: float, cat: float, racoon: float) -> list:
    return [pred("dog", dog), pred("cat", cat), pred("racoon", racoon)]


def path(user: str, device: str, utc: str) -> str:
    return f"{user}-{device}/{utc}Z.json"


# local times at the +01:00 site; the file name holds the UTC time
F1 = path(U1, C1, "2026-11-30T21-00-00.000000")
F2 = path(U1, C1, "2026-11-30T21-00-30.000000")
F3 = path(U1, C1, "2026-11-30T21-01-00.000000")
F4 = path(U1, C1, "2026-11-30T21-03-00.000000")
F5 = path(U1, C1, "2026-11-30T21-20-00.000000")
F6 = path(U1, C1, "2026-12-01T11-00-00.000000")
F7 = path(U1, C1, "2026-12-01T22-00-00.000000")
F8 = path(U1, C1, "2026-12-01T22-30-00.000000")
F9 = path(U1, C1, "2026-12-02T01-00-00.000000")
F10 = path(U2, C2, "2026-12-01T01-00-00.000000")
F11 = path(U2, C2, "2026-12-01T02-00-00.000000")
F12 = path(U2, C2, "2026-12-01T03-00-00.000000")
F13 = path(U1, C1, "2026-11-30T21-01-40.000000")  # the later run's frame
SHAPE_B = json.dumps(
    {
        "user_id": U2,
        "device_id": C2,
        "site_id": S2,
        "captured_at": "2026-11-30T20:00:00-05:00",
        "image": {
            "uri": "s3://collector/x.jpg",
            "format": "png",
            "width": 640,
            "height": 480,
            "size_bytes": 90000,
            "contrast": 0.3,
            "brightness": 0.2,
        },
        "detector": {"name": "ssd_mobilenet_v2_coco", "version": "2.4.1"},
        "num_detections": 3,
        "detection_classes": [18.0, 17.0, 91.0, 1.0, 0.0],
        "detection_scores": [90.0, 85.0, 88.0, 99.0, 0.0],  # percentages; the 4th entry is padding
        "detection_boxes": [
            [0.0, 0.0, 0.5, 0.5],
            [0.5, 0.5, 1.0, 1.0],
            [0.0, 0.5, 0.5, 1.0],
            [0, 0, 1, 1],
            [0, 0, 0, 0],
        ],
    }
)
FILES = {
    # rule 100, episode E1: frame scores (weakest label) 0.7, 0.92, 0.9: the median reaches 0.81 >= 0.8 at F2
    F1: shape_a("2026-11-30T22:00:00+01:00", three(0.9, 0.7, 0.9)),
    F2: shape_a("2026-11-30T22:00:30+01:00", three(0.95, 0.92, 0.93)),
    F3: shape_a("2026-11-30T22:01:00+01:00", three(0.9, 0.9, 0.9)),
    # 120 s later: a new episode E2 inside E1's 10-minute cooldown
    F4: shape_a("2026-11-30T22:03:00+01:00", three(0.95, 0.95, 0.95)),
    # rule 200: a person at 22:20 local, in the schedule: an alert (a dog alone does not match rule 100)
    F5: shape_a("2026-11-30T22:20:00+01:00", [pred("person", 0.9), pred("dog", 0.9)]),
    # rule 200 at noon local: outside the schedule
    F6: shape_a("2026-12-01T12:00:00+01:00", [pred("person", 0.9)]),
    # rule 200 at 23:00 local with a box of 0.4% of the image: too small
    F7: shape_a("2026-12-01T23:00:00+01:00", [pred("person", 0.95, (0, 0, 40, 50))]),
    # a BMP image: invalid, its person match suppressed as invalid_image
    F8: shape_a("2026-12-01T23:30:00+01:00", [pred("person", 0.9)], fmt="bmp"),
    # rule 200 at 02:00 local with 0.55: an object (>= 0.5) but its episode's median stays below 0.6
    F9: shape_a("2026-12-02T02:00:00+01:00", [pred("person", 0.55)]),
    # shape B at the -05:00 site, 20:00 local on 11-30: dog 0.9, cat 0.85, racoon 0.88 -> an alert of rule 100
    F10: SHAPE_B,
    # not JSON: quarantined
    F11: '{"user_id": "u-0002", "device_id": ',
    # nothing detected
    F12: shape_a("2026-11-30T22:00:00-05:00", [], user=U2, device=C2, site=S2),
}


@pytest.fixture
def det_cfg(cfg, tmp_path):
    rules = tmp_path / "threats.yaml"
    rules.write_text(RULES)
    return dataclasses.replace(cfg, detections=dataclasses.replace(cfg.detections, rules_file=str(rules)))


def rows(lake: Path, name: str) -> list[dict]:
    return read(name, lake=str(lake)).to_pylist()


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def assert_same_tables(lake: Path, reference: Path) -> None:
    """Every table of ``lake`` holds the rows of the same table of ``reference``."""
    got, expected = lake_contents(str(lake)), lake_contents(str(reference))
    assert got.keys() == expected.keys()
    for table in expected:
        assert got[table] == expected[table], table


def test_end_to_end_alerts_suppressions_reports_rerun_and_continued_episode(spark, det_cfg, tmp_path):
    root, lake = tmp_path / "in", tmp_path / "lake"
    write_files(root, FILES)
    summary = run(spark, det_cfg, str(root), str(lake))
    assert summary.quarantined == {"invalid_json": 1}
    assert summary.check == "bronze.frames_raw 12 = silver.frames 10 + silver.invalid_images 1 + quarantine 1"

    frames = {Path(r["source_path"]).name: r for r in rows(lake, "silver_detections_frames")}
    invalid = rows(lake, "silver_detections_invalid_images")
    assert len(frames) == 10 and [Path(r["source_path"]).name for r in invalid] == [Path(F8).name]
    assert invalid[0]["reasons"] == ["format"]
    keys = {name: r["frame_key"] for name, r in frames.items()}
    keys[Path(F8).name] = invalid[0]["frame_key"]
    f10 = frames[Path(F10).name]
    assert (f10["detector_shape"], f10["local_tz_offset_min"], f10["object_count"]) == ("B", -300, 3)
    objects_b = sorted(
        (r["label"], r["score"])
        for r in rows(lake, "silver_detections_objects")
        if r["frame_key"] == keys[Path(F10).name]
    )
    assert objects_b == [("cat", 0.85), ("dog", 0.9), ("racoon", 0.88)]
    # silver rule_matches: rule 100 needs a dog, a cat and a racoon (the weakest one's score), rule 200 a person
    name_of = {key: name for name, key in keys.items()}
    matches = sorted(
        (name_of[r["frame_key"]], r["rule_id"], r["rule_version"], r["frame_score"], r["is_valid_image"])
        for r in rows(lake, "silver_detections_rule_matches")
    )
    assert matches == sorted(
        [
            (Path(F1).name, 100, 1, 0.7, True),
            (Path(F2).name, 100, 1, 0.92, True),
            (Path(F3).name, 100, 1, 0.9, True),
            (Path(F4).name, 100, 1, 0.95, True),
            (Path(F10).name, 100, 1, 0.85, True),
            (Path(F5).name, 200, 1, 0.9, True),
            (Path(F6).name, 200, 1, 0.9, True),
            (Path(F7).name, 200, 1, 0.95, True),
            (Path(F8).name, 200, 1, 0.9, False),
            (Path(F9).name, 200, 1, 0.55, True),
        ]
    )

    alerts = sorted(rows(lake, "gold_detections_alerts"), key=lambda r: (r["started_at"], r["rule_id"]))
    got = [
        (
            r["rule_id"],
            r["rule_version"],
            r["severity"],
            r["user_id"],
            r["device_id"],
            r["site_id"],
            r["started_at"],
            r["last_seen_at"],
            r["frames"],
            r["labels_matched"],
            r["peak_score"],
            r["median_score"],
            r["alerted_at"],
        )
        for r in alerts
    ]
    assert got == [
        (
            100,
            1,
            "warning",
            U1,
            C1,
            S1,
            utc("2026-11-30 21:00:00"),
            utc("2026-11-30 21:01:00"),
            3,
            ["cat", "dog", "racoon"],
            0.92,
            0.9,
            utc("2026-11-30 21:00:30"),
        ),
        (
            200,
            1,
            "error",
            U1,
            C1,
            S1,
            utc("2026-11-30 21:20:00"),
            utc("2026-11-30 21:20:00"),
            1,
            ["person"],
            0.9,
            0.9,
            utc("2026-11-30 21:20:00"),
        ),
        (
            100,
            1,
            "warning",
            U2,
            C2,
            S2,
            utc("2026-12-01 01:00:00"),
            utc("2026-12-01 01:00:00"),
            1,
            ["cat", "dog", "racoon"],
            0.85,
            0.85,
            utc("2026-12-01 01:00:00"),
        ),
    ]
    first = alerts[0]
    assert first["first_frame_key"] == keys[Path(F1).name]
    assert first["alert_id"] == alert_id_of(U1, C1, 100, keys[Path(F1).name])
    assert first["dedup_key"] == f"visionlake/detections/rule-100/{first['alert_id']}"

    suppressed = sorted(
        (r["user_id"], r["device_id"], r["rule_id"], r["local_date"], r["reason"], r["matches"])
        for r in rows(lake, "gold_detections_suppressed_matches")
    )
    assert suppressed == [
        (U1, C1, 100, dt.date(2026, 11, 30), "cooldown", 1),
        (U1, C1, 200, dt.date(2026, 12, 1), "area_too_small", 1),
        (U1, C1, 200, dt.date(2026, 12, 1), "invalid_image", 1),
        (U1, C1, 200, dt.date(2026, 12, 1), "outside_schedule", 1),
        (U1, C1, 200, dt.date(2026, 12, 2), "below_score", 1),
    ]

    report = sorted(
        (
            r["user_id"],
            r["local_date"],
            r["rule_id"],
            r["severity"],
            r["alerts"],
            r["episodes"],
            r["frames"],
            r["top_labels"],
        )
        for r in rows(lake, "gold_detections_daily_threat_report")
    )
    assert report == [
        (U1, dt.date(2026, 11, 30), 100, "warning", 1, 2, 4, ["cat", "dog", "racoon"]),
        (U1, dt.date(2026, 11, 30), 200, "error", 1, 1, 1, ["person"]),
        (U1, dt.date(2026, 12, 1), 200, "error", 0, 0, 3, ["person"]),
        (U1, dt.date(2026, 12, 2), 200, "error", 0, 1, 1, ["person"]),
        (U2, dt.date(2026, 11, 30), 100, "warning", 1, 1, 1, ["cat", "dog", "racoon"]),
    ]
    by_user = {
        r["user_id"]: (r["frames"], r["alerts"], r["alert_frames"])
        for r in rows(lake, "gold_detections_threats_by_user")
    }
    assert by_user == {U1: (9, 2, 4), U2: (2, 1, 1)}
    health = {
        (r["device_id"], r["event_date"]): (r["frames"], r["invalid_frames"])
        for r in rows(lake, "gold_detections_device_health")
    }
    assert health == {
        (C1, dt.date(2026, 11, 30)): (5, 0),
        (C1, dt.date(2026, 12, 1)): (3, 1),
        (C1, dt.date(2026, 12, 2)): (1, 0),
        (C2, dt.date(2026, 12, 1)): (2, 0),
    }
    rules = rows(lake, "silver_detections_rules")
    assert sorted((r["rule_id"], r["version"], r["valid_to"]) for r in rules) == [(100, 1, None), (200, 1, None)]

    # a second run on the same input adds nothing
    again = run(spark, det_cfg, str(root), str(lake))
    assert again.files_new == 0 and not any(v for k, v in again.rows_out.items())
    assert len(rows(lake, "gold_detections_alerts")) == 3

    # a later run brings a frame 40 s after F3: E1 grows to 4 frames under the same alert id; E2 (80 s after it)
    # stays a separate episode in cooldown
    write_files(root, {F13: shape_a("2026-11-30T22:01:40+01:00", three(0.9, 0.9, 0.9))})
    run(spark, det_cfg, str(root), str(lake))
    later = {r["alert_id"]: r for r in rows(lake, "gold_detections_alerts")}
    assert len(later) == 3
    grown = later[first["alert_id"]]
    assert (grown["frames"], grown["last_seen_at"], grown["started_at"]) == (
        4,
        utc("2026-11-30 21:01:40"),
        utc("2026-11-30 21:00:00"),
    )
    assert len(rows(lake, "silver_detections_rules")) == 2  # an unchanged rules file makes no new version

    # a batch of nothing but an invalid image (a covered lens) adds no frame, yet gold sees it: the camera's day
    # gets one more invalid frame, and the person on it one more invalid_image suppression
    covered = shape_a("2026-12-02T02:30:00+01:00", [pred("person", 0.9)])
    write_files(
        root, {path(U1, C1, "2026-12-02T01-30-00.000000"): covered.replace('"contrast": 0.4', '"contrast": 0.0')}
    )
    run(spark, det_cfg, str(root), str(lake))
    health = {
        (r["device_id"], r["event_date"]): (r["frames"], r["invalid_frames"])
        for r in rows(lake, "gold_detections_device_health")
    }
    assert health[C1, dt.date(2026, 12, 2)] == (2, 1)
    suppressed = {
        (r["rule_id"], r["local_date"], r["reason"]): r["matches"]
        for r in rows(lake, "gold_detections_suppressed_matches")
    }
    assert suppressed[200, dt.date(2026, 12, 2), "invalid_image"] == 1


# run 1: F3 and F4 (two episodes of rule 100, 2 min apart) and others; run 2: F1 (60 s before F3: it becomes E1's
# first frame, so E1's alert id changes), F2 and F13 (inside E1), F5-F8
OUT_OF_ORDER = [[F3, F4, F9, F10, F11, F12], [F1, F2, F13, F5, F6, F7, F8]]
# day by day, then a late frame: run 2 adds camera 1's 12-01 evening and 12-02 (gold computes 12-01 and 12-02
# again, and keeps 11-30's stored rows: 12-01's first silence starts at 11-30's last frame); run 3 brings a frame
# inside 11-30's E1
DAY_BY_DAY = [[F1, F2, F3, F4, F5, F6, F10, F11, F12], [F7, F8, F9], [F13]]


@pytest.mark.parametrize("runs", [OUT_OF_ORDER, DAY_BY_DAY], ids=["out_of_order", "day_by_day"])
def test_frames_arriving_in_several_runs_give_the_tables_of_one_run(spark, det_cfg, tmp_path, runs):
    # every later run redecides only what its matches touch, as on a big lake, and gold recomputes only the
    # episodes and dates they change
    det_cfg = dataclasses.replace(det_cfg, detections=dataclasses.replace(det_cfg.detections, redecide_from_rows=0))
    files = {**FILES, F13: shape_a("2026-11-30T22:01:40+01:00", three(0.9, 0.9, 0.9))}
    feed, split, whole = tmp_path / "in", tmp_path / "split", tmp_path / "whole"
    for names in runs:
        write_files(feed, {name: files[name] for name in names})
        run(spark, det_cfg, str(feed), str(split / "lake"))
    run(spark, det_cfg, str(feed), str(whole / "lake"))
    assert_same_tables(split / "lake", whole / "lake")
    if runs is DAY_BY_DAY:
        # camera 1's 12-01: F6 at 11:00 UTC is 13 h 40 min (820 min) after F5 at 21:20 on 11-30
        health = {
            r["event_date"]: r["longest_silence_minutes"]
            for r in rows(split / "lake", "gold_detections_device_health")
            if r["device_id"] == C1
        }
        assert health[dt.date(2026, 12, 1)] == 820.0
    # E1 = F1, F2, F3, F13 (one alert, first frame F1); E2 = F4 (cooldown)
    key_of = {Path(r["source_path"]).name: r["frame_key"] for r in rows(split / "lake", "silver_detections_frames")}
    decided = {
        (r["frame_key"], r["rule_id"]): (r["episode_start_key"], r["decision"])
        for r in rows(split / "lake", "gold_detections_match_decisions")
    }
    e1 = [key_of[Path(name).name] for name in (F1, F2, F3, F13)]
    assert [decided[key, 100] for key in e1] == [(e1[0], "alert")] * 4
    assert decided[key_of[Path(F4).name], 100] == (key_of[Path(F4).name], "cooldown")


def test_an_episode_older_than_the_history_read_is_redecided_with_the_cooldown_before_it(spark, det_cfg, tmp_path):
    # gaps of up to an hour, a 3-hour cooldown: episode A (one frame) alerts; B starts 2 hours later (in A's
    # cooldown) and lasts 3 days; a later run brings a frame 30 min after B's last. A run reads only the recent
    # stored decisions, unless a window starts before them: here B's does, and A's cooldown still applies
    Path(det_cfg.detections.rules_file).write_text(RULES.replace("cooldown_minutes: 10", "cooldown_minutes: 180"))
    settings = dataclasses.replace(det_cfg.detections, redecide_from_rows=0, episode_gap_seconds=3600)
    det_cfg = dataclasses.replace(det_cfg, detections=settings)

    def frame(at: dt.datetime) -> tuple[str, str]:
        local = (at + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")
        return path(U1, C1, at.strftime("%Y-%m-%dT%H-%M-%S.000000")), shape_a(local, three(0.9, 0.9, 0.9))

    a = dt.datetime(2026, 11, 1, 10, 0)
    b = [a + dt.timedelta(hours=2, minutes=50 * k) for k in range(87)]  # every 50 min for 71 h 40 min
    late = b[-1] + dt.timedelta(minutes=30)
    feed, split, whole = tmp_path / "in", tmp_path / "split", tmp_path / "whole"
    write_files(feed, dict(frame(t) for t in [a, *b]))
    run(spark, det_cfg, str(feed), str(split / "lake"))
    write_files(feed, dict([frame(late)]))
    run(spark, det_cfg, str(feed), str(split / "lake"))
    run(spark, det_cfg, str(feed), str(whole / "lake"))
    assert_same_tables(split / "lake", whole / "lake")
    decisions = Counter(r["decision"] for r in rows(split / "lake", "gold_detections_match_decisions"))
    assert decisions == {"alert": 1, "cooldown": 88}
    assert len(rows(split / "lake", "gold_detections_alerts")) == 1


def test_a_driver_east_of_utc_redecides_an_episode_that_began_before_utc_midnight(
    spark, det_cfg, tmp_path, monkeypatch
):
    # the driver's clock is in Paris (a collected timestamp is in its local time): E begins 23:30 UTC on 11-30,
    # 00:30 on 12-01 in Paris; a later run's frame joins it, and the window must still start on the UTC 11-30
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    det_cfg = dataclasses.replace(det_cfg, detections=dataclasses.replace(det_cfg.detections, redecide_from_rows=0))
    first = path(U1, C1, "2026-11-30T23-30-00.000000")
    later = path(U1, C1, "2026-11-30T23-30-40.000000")
    files = {
        first: shape_a("2026-12-01T00:30:00+01:00", three(0.9, 0.9, 0.9)),
        later: shape_a("2026-12-01T00:30:40+01:00", three(0.9, 0.9, 0.9)),
    }
    feed, split, whole = tmp_path / "in", tmp_path / "split", tmp_path / "whole"
    try:
        write_files(feed, {first: files[first]})
        run(spark, det_cfg, str(feed), str(split / "lake"))
        write_files(feed, {later: files[later]})
        run(spark, det_cfg, str(feed), str(split / "lake"))
        run(spark, det_cfg, str(feed), str(whole / "lake"))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert_same_tables(split / "lake", whole / "lake")
    (alert,) = rows(split / "lake", "gold_detections_alerts")
    assert (alert["frames"], alert["started_at"]) == (2, utc("2026-11-30 23:30:00"))


def test_a_run_that_died_between_gold_commits_is_completed_by_the_next(spark, det_cfg, tmp_path, monkeypatch):
    # run 2 commits match_decisions but dies before alerts: the next run cannot add to the stale alerts, and
    # aggregates them again from every decision
    det_cfg = dataclasses.replace(det_cfg, detections=dataclasses.replace(det_cfg.detections, redecide_from_rows=0))
    files = {**FILES, F13: shape_a("2026-11-30T22:01:40+01:00", three(0.9, 0.9, 0.9))}
    feed, split, whole = tmp_path / "in", tmp_path / "split", tmp_path / "whole"
    write_files(feed, {name: files[name] for name in OUT_OF_ORDER[0]})
    run(spark, det_cfg, str(feed), str(split / "lake"))
    write_files(feed, {name: files[name] for name in OUT_OF_ORDER[1]})
    commit, decided = delta.commit, threading.Event()

    def dies_at_alerts(staged, storage):
        # gold's commits run side by side, and a failure stops those not yet made: alerts dies only once
        # match_decisions is committed, so that the run dies between the two
        if staged.location.endswith("/gold/detections/alerts"):
            decided.wait(timeout=120)
            raise OSError("killed")
        done = commit(staged, storage)
        if staged.location.endswith("/gold/detections/match_decisions"):
            decided.set()
        return done

    monkeypatch.setattr(delta, "commit", dies_at_alerts)
    with pytest.raises(OSError, match="killed"):
        run(spark, det_cfg, str(feed), str(split / "lake"))
    monkeypatch.setattr(delta, "commit", commit)
    assert read("gold_detections_match_decisions", lake=str(split / "lake")).num_rows == 11  # committed
    assert len(rows(split / "lake", "gold_detections_alerts")) == 2  # not: F1 to F8 brought the third
    run(spark, det_cfg, str(feed), str(split / "lake"))
    run(spark, det_cfg, str(feed), str(whole / "lake"))
    assert_same_tables(split / "lake", whole / "lake")
    assert len(rows(split / "lake", "gold_detections_alerts")) == 3


def test_a_bad_rules_file_stops_the_run_before_any_table_is_written(spark, det_cfg, tmp_path):
    Path(det_cfg.detections.rules_file).write_text(RULES.replace("labels: [person]", "labels: [persn]"))
    root, lake = tmp_path / "in", tmp_path / "lake"
    write_files(root, {F12: FILES[F12]})
    with pytest.raises(ConfigError, match=r"threats\.yaml: rule 200: key 'labels': .*persn"):
        run(spark, det_cfg, str(root), str(lake))
    assert not (lake / "bronze").exists()
