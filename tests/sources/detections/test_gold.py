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
        T.StructField("device_id", T.StringType()),
        T.StructField("captured_at", T.TimestampType()),
    ]
)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def decided(spark, rows: list[tuple]):
    """DECIDED rows from (frame_key, user, local date, rule, severity, labels, episode, decision), on camera c1 at
    10:00 plus the frame's number in minutes (f1 at 10:01, f2 at 10:02...)."""
    return spark.createDataFrame(
        [(*r, "c1", ts(f"2026-11-02 10:{int(r[0][1:]):02d}:00")) for r in rows],
        DECIDED,
    )


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
    report = gold.build_daily_threat_report(decided(spark, rows))
    got = sorted(tuple(r) for r in report.collect())
    assert got == [
        ("a", date(2026, 11, 2), 100, "warning", 1, 2, 4, ["dog", "cat", "racoon"]),
        ("b", date(2026, 11, 1), 300, "info", 0, 1, 1, ["truck"]),
    ]


def test_an_episode_counts_under_its_first_severity_when_the_rule_changed_during_it(spark):
    rows = [
        # rule 5 was a warning for f1 and f2, an error (version 2) for f3: one episode, one alert, a warning
        ("f1", "a", date(2026, 11, 2), 5, "warning", ["person"], "f1", "alert"),
        ("f2", "a", date(2026, 11, 2), 5, "warning", ["person"], "f1", "alert"),
        ("f3", "a", date(2026, 11, 2), 5, "error", ["person"], "f1", "alert"),
        # a match in no episode (outside the schedule) keeps its own severity
        ("f9", "a", date(2026, 11, 2), 5, "error", ["person"], None, "outside_schedule"),
    ]
    got = sorted(tuple(r)[:7] for r in gold.build_daily_threat_report(decided(spark, rows)).collect())
    assert got == [
        ("a", date(2026, 11, 2), 5, "error", 0, 0, 1),
        ("a", date(2026, 11, 2), 5, "warning", 1, 1, 3),
    ]


FRAMES = "user_id string, device_id string, site_id string, captured_at timestamp, event_date date"
INVALID = FRAMES + ", reasons array<string>"


def test_threats_by_user_shares(spark):
    # device_health rows: user a 5 + 2 frames (the 2 from a frame without a device tag), b 4, an untagged 1
    health = spark.createDataFrame(
        [
            ("a", "c1", date(2026, 11, 1), 5),
            ("a", gold.UNTAGGED, date(2026, 11, 2), 2),
            ("b", "c2", date(2026, 11, 1), 4),
            (gold.UNTAGGED, "c3", date(2026, 11, 1), 1),
        ],
        "user_id string, device_id string, event_date date, frames long",
    )
    day = date(2026, 11, 1)
    rows = [
        # user a: two alerts of rule 1 (f1 + f2, then f3) and one of rule 2 on f1 again: 3 alerts, 3 frames
        ("f1", "a", day, 1, "warning", ["dog"], "f1", "alert"),
        ("f2", "a", day, 1, "warning", ["dog"], "f1", "alert"),
        ("f3", "a", day, 1, "warning", ["dog"], "f3", "alert"),
        ("f1", "a", day, 2, "warning", ["dog", "cat"], "f1", "alert"),
        ("f4", "a", day, 1, "warning", ["dog"], "f4", "cooldown"),  # no alert
        # user b: one alert of two frames
        ("f5", "b", day, 1, "warning", ["dog"], "f5", "alert"),
        ("f6", "b", day, 1, "warning", ["dog"], "f5", "alert"),
    ]
    got = {r["user_id"]: r.asDict() for r in gold.build_threats_by_user(health, decided(spark, rows)).collect()}
    assert set(got) == {"a", "b"}  # the untagged frame belongs to no user
    assert (got["a"]["frames"], got["a"]["alerts"], got["a"]["alert_frames"]) == (7, 3, 3)
    assert got["a"]["threat_share"] == pytest.approx(3 / 7)
    assert got["a"]["alert_share"] == pytest.approx(3 / 4)
    assert (got["b"]["frames"], got["b"]["alerts"], got["b"]["alert_frames"]) == (4, 1, 2)
    assert got["b"]["threat_share"] == pytest.approx(0.5)


def test_a_frame_two_rules_alerted_on_is_one_threat_frame(spark):
    health = spark.createDataFrame(
        [("u", "c1", date(2026, 11, 1), 1)], "user_id string, device_id string, event_date date, frames long"
    )
    day = date(2026, 11, 1)
    rows = [  # one frame, dog 0.9 and cat 0.7: rule 50 (ANY dog) and rule 51 (ALL dog, cat) both alert
        ("f1", "u", day, 50, "warning", ["dog"], "f1", "alert"),
        ("f1", "u", day, 51, "warning", ["cat", "dog"], "f1", "alert"),
    ]
    (row,) = gold.build_threats_by_user(health, decided(spark, rows)).collect()
    assert (row["frames"], row["alerts"], row["alert_frames"], row["threat_share"]) == (1, 2, 1, 1.0)


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
    # the gaps alone: the untagged camera's 250 min come after its last frame
    assert [c1["longest_gap_minutes"], c2["longest_gap_minutes"], untagged["longest_gap_minutes"]] == [240, 358, 0]
    assert [c1["last_frame_at"], c2["last_frame_at"], untagged["last_frame_at"]] == [
        ts("2026-11-01 14:10:00"),
        ts("2026-11-01 16:10:00"),
        ts("2026-11-01 12:00:00"),
    ]


D1, D2, D3, D4 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)


def test_device_health_of_some_dates_measures_silences_from_the_kept_days_last_frames(spark):
    # c1: 11-01 10:00 12:00 | 11-03 09:00 09:30; c2: 11-01 11:00 | 11-02 08:00 20:00 | 11-03 22:00 (the latest)
    # only 11-03 is computed: its frames, and the stored rows of 11-01 and 11-02 (their last frames)
    frames = spark.createDataFrame(
        [
            ("a", "c1", "s1", ts("2026-11-03 09:00:00"), D3),
            ("a", "c1", "s1", ts("2026-11-03 09:30:00"), D3),
            ("b", "c2", "s2", ts("2026-11-03 22:00:00"), D3),
        ],
        FRAMES,
    )
    invalid = spark.createDataFrame([], INVALID)
    kept = spark.createDataFrame(
        [
            ("a", "c1", ts("2026-11-01 12:00:00"), D1),
            ("b", "c2", ts("2026-11-01 11:00:00"), D1),
            ("b", "c2", ts("2026-11-02 20:00:00"), D2),
        ],
        "user_id string, device_id string, last_frame_at timestamp, event_date date",
    )
    rows = gold.build_device_health(frames, invalid, silence_alert_minutes=1000, invalid_alert_share=0.5, kept=kept)
    got = {
        (r["device_id"], r["event_date"]): (r["frames"], r["longest_silence_minutes"], r["silent"])
        for r in rows.collect()
    }
    # c1: 09:00 is 45 h (2,700 min) after 11-01 12:00; 09:30 is its last frame, 750 min before c2's 22:00
    # c2: 22:00 is 26 h (1,560 min) after 11-02 20:00
    assert got == {("c1", D3): (2, 2700.0, True), ("c2", D3): (1, 1560.0, True)}


def test_health_dates_are_the_changed_dates_and_the_later_ones():
    stored = [D1, D1, D2, D3]
    # a new day: only it
    assert gold.health_dates(stored, [D4]) == [D4]
    # a late frame on 11-02: that day and the days after it (the gap before a camera's next frame shrinks)
    assert gold.health_dates(stored, [D2]) == [D2, D3]
    # nothing new: nothing to compute
    assert gold.health_dates(stored, []) == []


HEALTH = (
    "user_id string, device_id string, invalid_share double, longest_gap_minutes double, "
    "longest_silence_minutes double, silent boolean, mostly_invalid boolean, needs_attention boolean, "
    "last_frame_at timestamp, event_date date"
)


def test_refresh_kept_measures_each_cameras_last_day_to_the_new_latest_frame_and_applies_the_thresholds(spark):
    # stored rows: c1's last day was 11-02, c2's 11-02, c3's 11-01; their flags were set under other thresholds
    kept = spark.createDataFrame(
        [
            ("a", "c1", 0.4, 5.0, 5.0, False, True, True, ts("2026-11-01 20:00:00"), D1),
            ("a", "c1", 0.0, 900.0, 900.0, False, False, False, ts("2026-11-02 22:30:00"), D2),
            ("b", "c2", 0.6, 10.0, 10.0, False, False, False, ts("2026-11-02 23:00:00"), D2),
            ("c", "c3", 0.0, 0.0, 1500.0, True, False, True, ts("2026-11-01 22:00:00"), D1),
        ],
        HEALTH,
    )
    # computed again: c2's 11-03, its last frame at 10:00 is now the latest of any camera
    fresh = spark.createDataFrame(
        [("b", "c2", 0.0, 660.0, 660.0, True, False, True, ts("2026-11-03 10:00:00"), D3)], HEALTH
    )
    refreshed = gold.refresh_kept(kept, fresh, silence_alert_minutes=600, invalid_alert_share=0.5).collect()
    got = {
        (r["device_id"], r["event_date"]): (
            r["longest_silence_minutes"],
            r["silent"],
            r["mostly_invalid"],
            r["needs_attention"],
        )
        for r in refreshed
    }
    assert got == {
        ("c1", D1): (5.0, False, False, False),  # not a last day; 0.4 invalid is no longer "mostly" at 0.5
        ("c1", D2): (900.0, True, False, True),  # last day: 11 h 30 min (690) to 10:00, less than its 900-min gap
        ("c2", D2): (10.0, False, True, True),  # no longer its camera's last day; mostly invalid at 0.5
        ("c3", D1): (2160.0, True, False, True),  # silent since 11-01 22:00: 36 h to 11-03 10:00
    }
