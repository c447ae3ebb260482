"""Gold detections reports on hand-written rows: the daily threat report, threats by user, detections per day
and device health (alerts and suppressed matches are tested with the episodes)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.sql import types as T

from visionlake.sources.detections import gold

DECIDED = T.StructType(
    [
        T.StructField("frame_key", T.StringType()),
        T.StructField("user_id", T.StringType()),
        T.StructField("local_date", T.DateType()),
        T.StructField("rule_id", T.IntegerType()),
        T.StructField("severity", T.StringType()),
        T.StructField("labels_matched", T.ArrayType(T.StringType())),
        T.StructField("episode_start_key", T.StringType()),
        T.StructField("decision", T.StringType()),
    ]
)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_daily_threat_report_counts_alerts_episodes_frames_and_top_labels_by_local_date(spark):
    rows = [
        # user a, a +01:00 site: 23:30 UTC on the 1st is 00:30 local on the 2nd (decide gives local_date)
        ("f1", "a", date(2026, 11, 2), 100, "warning", ["cat", "dog"], "f1", "alert"),
        ("f2", "a", date(2026, 11, 2), 100, "warning", ["cat", "dog", "racoon"], "f1", "alert"),
        ("f3", "a", date(2026, 11, 2), 100, "warning", ["dog"], "f3", "below_score"),
        ("f4", "a", date(2026, 11, 2), 100, "warning", ["dog"], None, "outside_schedule"),
        # user b, a -05:00 site: 03:00 UTC on the 2nd is 22:00 local on the 1st
        ("f5", "b", date(2026, 11, 1), 300, "info", ["truck"], "f5", "cooldown"),
    ]
    report = gold.build_daily_threat_report(spark.createDataFrame(rows, DECIDED))
    got = sorted(tuple(r) for r in report.collect())
    assert got == [
        ("a", date(2026, 11, 2), 100, "warning", 1, 2, 4, ["dog", "cat", "racoon"]),
        ("b", date(2026, 11, 1), 300, "info", 0, 1, 1, ["truck"]),
    ]


FRAMES = "user_id string, device_id string, site_id string, captured_at timestamp, event_date date"
INVALID = FRAMES + ", reasons array<string>"
ALERTS = "user_id string, frames long"


def test_threats_by_user_shares(spark):
    frames = spark.createDataFrame(
        [("a", "c1", "s1", ts("2026-11-01 10:00:00"), date(2026, 11, 1))] * 6
        + [("b", "c2", "s2", ts("2026-11-01 10:00:00"), date(2026, 11, 1))] * 3,
        FRAMES,
    )
    invalid = spark.createDataFrame(
        [
            ("a", "c1", "s1", ts("2026-11-01 11:00:00"), date(2026, 11, 1), ["format"]),
            ("b", "c2", "s2", ts("2026-11-01 11:00:00"), date(2026, 11, 1), ["min_contrast"]),
            (None, "c3", None, ts("2026-11-01 11:00:00"), date(2026, 11, 1), ["missing_user_tag"]),
        ],
        INVALID,
    )
    alerts = spark.createDataFrame([("a", 2), ("a", 1), ("b", 2)], ALERTS)
    got = {r["user_id"]: r.asDict() for r in gold.build_threats_by_user(frames, invalid, alerts).collect()}
    assert set(got) == {"a", "b"}  # the untagged frame belongs to no user
    assert (got["a"]["frames"], got["a"]["alerts"], got["a"]["alert_frames"]) == (7, 2, 3)
    assert got["a"]["threat_share"] == pytest.approx(3 / 7)
    assert got["a"]["alert_share"] == pytest.approx(2 / 3)
    assert (got["b"]["frames"], got["b"]["alerts"], got["b"]["alert_frames"]) == (4, 1, 2)
    assert got["b"]["threat_share"] == pytest.approx(0.5)


def test_detections_daily_counts_valid_images_only(spark):
    objects = spark.createDataFrame(
        [
            ("a", "c1", "dog", 0.9, True, date(2026, 11, 1)),
            ("a", "c1", "dog", 0.7, True, date(2026, 11, 1)),
            ("a", "c1", "dog", 0.99, False, date(2026, 11, 1)),
            ("a", "c1", "cat", 0.6, True, date(2026, 11, 2)),
        ],
        "user_id string, device_id string, label string, score double, is_valid_image boolean, event_date date",
    )
    got = sorted(tuple(r) for r in gold.build_detections_daily(objects).collect())
    assert got == [
        ("a", "c1", "cat", 1, pytest.approx(0.6), 0.6, date(2026, 11, 2)),
        ("a", "c1", "dog", 2, pytest.approx(0.8), 0.9, date(2026, 11, 1)),
    ]


def test_device_health_silence_invalid_share_and_flags(spark):
    frames = spark.createDataFrame(
        [
            ("a", "c1", "s1", ts("2026-11-01 10:00:00"), date(2026, 11, 1)),
            ("a", "c1", "s1", ts("2026-11-01 10:10:00"), date(2026, 11, 1)),
            ("a", "c1", "s1", ts("2026-11-01 14:10:00"), date(2026, 11, 1)),  # 240 min after the previous
            ("b", "c2", "s2", ts("2026-11-01 10:00:00"), date(2026, 11, 1)),
            ("b", "c2", "s2", ts("2026-11-01 16:10:00"), date(2026, 11, 1)),  # the latest frame of any device
        ],
        FRAMES,
    )
    invalid = spark.createDataFrame(
        [
            ("b", "c2", "s2", ts("2026-11-01 10:01:00"), date(2026, 11, 1), ["min_contrast"]),
            ("b", "c2", "s2", ts("2026-11-01 10:02:00"), date(2026, 11, 1), ["min_contrast", "format"]),
            ("b", "c2", "s2", ts("2026-11-01 16:00:00"), date(2026, 11, 1), ["min_contrast"]),
            (
                None,
                None,
                None,
                ts("2026-11-01 12:00:00"),
                date(2026, 11, 1),
                ["missing_user_tag", "missing_device_tag"],
            ),
        ],
        INVALID,
    )
    rows = gold.build_device_health(frames, invalid, silence_alert_minutes=200, invalid_alert_share=0.5).collect()
    got = {(r["user_id"], r["device_id"]): r.asDict() for r in rows}
    c1, c2, untagged = got["a", "c1"], got["b", "c2"], got[gold.UNTAGGED, gold.UNTAGGED]
    # c1: gaps 10 and 240 min; after its last frame (14:10) the latest frame of any device (16:10) is 120 min on
    assert (c1["frames"], c1["invalid_frames"], c1["longest_silence_minutes"]) == (3, 0, 240.0)
    assert (c1["silent"], c1["mostly_invalid"], c1["needs_attention"]) == (True, False, True)
    assert c1["invalid_by_reason"] == {}
    # c2: 10:00 10:01 10:02 16:00 16:10 -> longest gap 358 min; 3 of 5 invalid
    assert (c2["frames"], c2["invalid_frames"], c2["longest_silence_minutes"]) == (5, 3, 358.0)
    assert c2["invalid_share"] == pytest.approx(0.6)
    assert c2["invalid_by_reason"] == {"format": 1, "min_contrast": 3}
    assert (c2["silent"], c2["mostly_invalid"], c2["needs_attention"]) == (True, True, True)
    # the untagged frame: alone, 250 min before the latest frame
    assert (untagged["frames"], untagged["invalid_frames"], untagged["longest_silence_minutes"]) == (1, 1, 250.0)
