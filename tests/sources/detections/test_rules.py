"""Tests of visionlake.sources.detections.rules: validation, normalisation, versions and the rules frame."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from visionlake.errors import ConfigError
from visionlake.sources.detections import rules as R
from visionlake.sources.detections.rules import Rule, Window

REPO = Path(__file__).resolve().parents[3]
SRC = "threats.yaml"
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
T2 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)

SEED = {
    "rule_id": 100,
    "name": "Dog, cat and racoon together",
    "labels": ["Dog", "Cat", "Racoon"],
    "quantifier": "ALL",
    "min_score": "80%",
    "severity": "warning",
    "cooldown_minutes": 10,
}


def _rule(**changes) -> dict:
    entry = dict(SEED)
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return entry


def _refused(entry: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        R.parse_rules({"rules": [entry]}, SRC)
    return str(caught.value)


def _one(entry: dict) -> Rule:
    (rule,) = R.parse_rules({"rules": [entry]}, SRC)
    return rule


# ------------------------------------------------------------------------------------------------
# parsing


def test_parse_rules_seed_rule():
    assert _one(SEED) == Rule(
        rule_id=100,
        name="Dog, cat and racoon together",
        labels=("cat", "dog", "racoon"),
        quantifier="ALL",
        min_score=0.8,
        severity="warning",
        min_area_fraction=None,
        scope_users=None,
        scope_devices=None,
        scope_sites=None,
        windows=None,
        cooldown_minutes=10,
    )


def test_parse_rules_optional_keys_and_defaults():
    rule = _one(
        _rule(
            cooldown_minutes=None,
            quantifier="any",
            severity="Error",
            min_area_fraction=0.01,
            scope={"users": ["u-0002", "u-0001"], "sites": ["site-03"]},
            schedule=[{"days": ["mon"], "start": "08:00", "end": "12:30"}],
        )
    )
    assert (rule.quantifier, rule.severity, rule.cooldown_minutes) == ("ANY", "error", 0)
    assert rule.min_area_fraction == 0.01
    assert (rule.scope_users, rule.scope_devices, rule.scope_sites) == (("u-0001", "u-0002"), None, ("site-03",))
    assert rule.windows == (Window(1, 480, 750),)


def test_parse_rules_label_alias():
    assert _one(_rule(labels=["raccoon", "DOG", "dog"])).labels == ("dog", "racoon")


@pytest.mark.parametrize(("value", "expected"), [(0.8, 0.8), (1, 1.0), ("80%", 0.8), ("72.5 %", 0.725), ("0.6", 0.6)])
def test_parse_rules_min_score_forms(value, expected):
    assert _one(_rule(min_score=value)).min_score == expected


def test_parse_rules_schedule_across_midnight_is_split_with_the_next_day():
    rule = _one(_rule(schedule=[{"days": ["fri", "sun"], "start": "22:00", "end": "06:00"}]))
    assert rule.windows == (Window(1, 0, 360), Window(5, 1320, 1440), Window(6, 0, 360), Window(7, 1320, 1440))


def test_parse_rules_day_shortcuts_and_whole_day():
    rule = _one(_rule(schedule=[{"days": "weekends", "start": "00:00", "end": "24:00"}]))
    assert rule.windows == (Window(6, 0, 1440), Window(7, 0, 1440))
    rule = _one(_rule(schedule=[{"days": ["weekdays"], "start": "23:00", "end": "00:00"}]))
    assert rule.windows == tuple(Window(d, 1380, 1440) for d in range(1, 6))


def test_parse_rules_adjacent_windows_do_not_overlap():
    schedule = [
        {"days": ["mon"], "start": "22:00", "end": "02:00"},
        {"days": ["tue"], "start": "02:00", "end": "04:00"},
    ]
    assert _one(_rule(schedule=schedule)).windows == (Window(1, 1320, 1440), Window(2, 0, 120), Window(2, 120, 240))


def test_parse_rules_empty_list():
    assert R.parse_rules({"rules": []}, SRC) == []


# ------------------------------------------------------------------------------------------------
# refusals (exact messages)

KNOWN_KEYS = (
    "cooldown_minutes, labels, min_area_fraction, min_score, name, quantifier, rule_id, schedule, scope, severity"
)


def test_refuses_unknown_key():
    assert _refused(_rule(threshold=0.8)) == (
        f"threats.yaml: rule 100: key 'threshold': unknown key (known keys: {KNOWN_KEYS})"
    )


def test_refuses_unknown_scope_key():
    assert _refused(_rule(scope={"cameras": ["cam-01"]})) == (
        "threats.yaml: rule 100: key 'scope': unknown key 'cameras' (known keys: devices, sites, users)"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be > 0 and <= 1, not 0"),
        (1.5, 'must be > 0 and <= 1, not 1.5 (for 1.5 percent write "1.5%")'),
        (80, 'must be > 0 and <= 1, not 80 (for 80 percent write "80%")'),
        (-0.2, "must be > 0 and <= 1, not -0.2"),
        ("0%", 'must be > 0% and <= 100%, not "0%"'),
        ("150%", 'must be > 0% and <= 100%, not "150%"'),
        ("high", "must be a number > 0 and <= 1 or a percentage such as \"80%\", not 'high'"),
        (True, 'must be a number > 0 and <= 1 or a percentage such as "80%", not True'),
    ],
)
def test_refuses_bad_threshold(value, message):
    assert _refused(_rule(min_score=value)) == f"threats.yaml: rule 100: key 'min_score': {message}"


def test_refuses_bad_area_fraction():
    assert _refused(_rule(min_area_fraction=2)) == (
        "threats.yaml: rule 100: key 'min_area_fraction': must be > 0 and <= 1, not 2 (for 2 percent write \"2%\")"
    )


def test_refuses_unknown_label():
    assert _refused(_rule(labels=["dog", "horse"])) == (
        "threats.yaml: rule 100: key 'labels': unknown label 'horse' "
        "(known labels: bicycle, bird, car, cat, dog, person, racoon, truck; aliases: raccoon = racoon)"
    )


def test_refuses_overlapping_windows():
    schedule = [
        {"days": ["mon", "tue"], "start": "08:00", "end": "12:00"},
        {"days": ["tue"], "start": "11:00", "end": "13:00"},
    ]
    assert _refused(_rule(schedule=schedule)) == (
        "threats.yaml: rule 100: key 'schedule': windows 1 (mon,tue 08:00-12:00) and 2 (tue 11:00-13:00) overlap "
        "on tue 11:00-12:00"
    )


def test_refuses_overlap_across_midnight():
    schedule = [
        {"days": ["sun"], "start": "22:00", "end": "06:00"},
        {"days": ["mon"], "start": "05:30", "end": "07:00"},
    ]
    assert _refused(_rule(schedule=schedule)) == (
        "threats.yaml: rule 100: key 'schedule': windows 1 (sun 22:00-06:00) and 2 (mon 05:30-07:00) overlap "
        "on mon 05:30-06:00"
    )


def test_refuses_rule_id_out_of_the_int_range():
    assert _refused(_rule(rule_id=3000000000)) == (
        "threats.yaml: rule #1: key 'rule_id': must be an integer from 1 to 2,147,483,647, not 3000000000"
    )
    assert _refused(_rule(rule_id=0)) == (
        "threats.yaml: rule #1: key 'rule_id': must be an integer from 1 to 2,147,483,647, not 0"
    )


def test_refuses_duplicate_rule_id():
    with pytest.raises(ConfigError) as caught:
        R.parse_rules({"rules": [SEED, _rule(rule_id=200), _rule(name="again")]}, SRC)
    assert str(caught.value) == (
        "threats.yaml: rule 100: key 'rule_id': duplicate rule_id 100 (rules #1 and #3 of the file)"
    )


def test_refuses_bad_severity_and_quantifier():
    assert _refused(_rule(severity="high")) == (
        "threats.yaml: rule 100: key 'severity': must be one of critical, error, warning, info, not 'high'"
    )
    assert _refused(_rule(quantifier="SOME")) == (
        "threats.yaml: rule 100: key 'quantifier': must be ALL or ANY, not 'SOME'"
    )


def test_refuses_missing_required_keys():
    required = "rule_id, name, labels, quantifier, min_score, severity"
    assert _refused(_rule(labels=None)) == (
        f"threats.yaml: rule 100: key 'labels': missing required key (required keys: {required})"
    )
    assert _refused(_rule(rule_id=None)) == (
        f"threats.yaml: rule #1: key 'rule_id': missing required key (required keys: {required})"
    )


def test_refuses_bad_schedule_entries():
    def schedule(**window) -> str:
        return _refused(_rule(schedule=[{"days": ["mon"], "start": "08:00", "end": "09:00", **window}]))

    prefix = "threats.yaml: rule 100: key 'schedule': window 1: "
    assert schedule(days=["mo"]) == prefix + (
        "unknown day 'mo' (known days: mon, tue, wed, thu, fri, sat, sun, all, weekdays, weekends)"
    )
    assert schedule(start="25:00") == prefix + "start must be a time \"HH:MM\" from 00:00 to 23:59, not '25:00'"
    assert schedule(end=1320) == prefix + 'end must be a time "HH:MM", not 1320 (write times in quotes, e.g. "22:00")'
    assert schedule(end="08:00") == prefix + "start and end are both 08:00 (for the whole day write 00:00 to 24:00)"
    assert schedule(hours=2) == prefix + "unknown key 'hours' (known keys: days, end, start)"


def test_refuses_bad_cooldown_and_empty_labels():
    assert _refused(_rule(cooldown_minutes=-1)) == (
        "threats.yaml: rule 100: key 'cooldown_minutes': must be an integer from 0 to 527,040 (a year), not -1"
    )
    # refused here, not once bronze is written: 2^31-1 minutes overflowed the date arithmetic of gold (Dec 5)
    assert _refused(_rule(cooldown_minutes=2147483647)) == (
        "threats.yaml: rule 100: key 'cooldown_minutes': must be an integer from 0 to 527,040 (a year), not 2147483647"
    )
    assert R.parse_rules({"rules": [_rule(cooldown_minutes=527040)]}, SRC)[0].cooldown_minutes == 527040
    assert _refused(_rule(labels=[])) == (
        "threats.yaml: rule 100: key 'labels': must be a non-empty list of labels, not []"
    )


def test_refuses_a_file_without_rules():
    with pytest.raises(ConfigError, match=r"^threats.yaml: a rules file must be a mapping with a 'rules' list$"):
        R.parse_rules({"rule": []}, SRC)


# ------------------------------------------------------------------------------------------------
# files


def test_load_rules_shipped_file():
    rules = R.load_rules(REPO / "conf" / "rules" / "threats.yaml")
    assert [r.rule_id for r in rules] == [100, 200, 300, 400]
    seed, night, vehicles, warehouse = rules
    assert (seed.labels, seed.quantifier, seed.min_score, seed.severity, seed.cooldown_minutes) == (
        ("cat", "dog", "racoon"),
        "ALL",
        0.8,
        "warning",
        10,
    )
    assert (night.min_area_fraction, night.severity, night.cooldown_minutes) == (0.01, "error", 15)
    assert Window(5, 1320, 1440) in night.windows and Window(6, 0, 360) in night.windows
    assert len(night.windows) == 14
    assert (vehicles.quantifier, vehicles.labels, vehicles.severity) == ("ANY", ("car", "truck"), "info")
    assert vehicles.scope_devices == ("cam-03", "cam-07", "cam-12")
    assert (warehouse.severity, warehouse.scope_sites) == ("critical", ("site-01", "site-02"))


def test_load_rules_reads_unquoted_times_and_names_the_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n"
        "  - {rule_id: 7, name: n, labels: [cat], quantifier: ANY, min_score: 0.5, severity: info,\n"
        "     schedule: [{days: [sat], start: 22:00, end: 6:00}]}\n"
    )
    assert R.load_rules(path)[0].windows == (Window(6, 1320, 1440), Window(7, 0, 360))
    path.write_text(path.read_text().replace("min_score: 0.5", "min_score: 95"))
    with pytest.raises(ConfigError) as caught:
        R.load_rules(path)
    assert str(caught.value) == (
        f"{path}: rule 7: key 'min_score': must be > 0 and <= 1, not 95 (for 95 percent write \"95%\")"
    )


def test_load_rules_refuses_a_key_given_twice(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  - rule_id: 7\n    min_score: 0.5\n    min_score: 0.9\n")
    with pytest.raises(ConfigError) as caught:
        R.load_rules(path)
    assert str(caught.value) == f"{path}: not valid YAML at line 4, column 5: duplicate key 'min_score'"


# ------------------------------------------------------------------------------------------------
# canonical form


def test_rule_json_is_canonical_and_hashed():
    rule = _one(SEED)
    text = R.rule_json(rule)
    assert text == (
        '{"cooldown_minutes":10,"labels":["cat","dog","racoon"],"min_area_fraction":null,"min_score":0.8,'
        '"name":"Dog, cat and racoon together","quantifier":"ALL","rule_id":100,"scope_devices":null,'
        '"scope_sites":null,"scope_users":null,"severity":"warning","windows":null}'
    )
    assert R.content_hash(rule) == hashlib.sha256(text.encode()).hexdigest()
    same = _one(_rule(labels=["racoon", "dog", "cat"], min_score=0.8, quantifier="all"))
    assert R.content_hash(same) == R.content_hash(rule)
    assert R.rule_from_json(text) == rule


def test_rule_from_json_round_trip_with_windows_and_scope():
    rule = _one(_rule(scope={"devices": ["cam-02"]}, schedule=[{"days": ["fri"], "start": "22:00", "end": "06:00"}]))
    assert R.rule_from_json(R.rule_json(rule)) == rule
    assert json.loads(R.rule_json(rule))["windows"] == [
        {"weekday": 5, "start_min": 1320, "end_min": 1440},
        {"weekday": 6, "start_min": 0, "end_min": 360},
    ]


# ------------------------------------------------------------------------------------------------
# versions

A = _one(SEED)
B = _one(_rule(rule_id=200, name="Person", labels=["person"], quantifier="ANY", min_score=0.7, severity="error"))


def _row(rule: Rule, version: int, valid_from: datetime, valid_to: datetime | None) -> dict:
    text = R.rule_json(rule)
    return {
        "rule_id": rule.rule_id,
        "version": version,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "name": rule.name,
        "severity": rule.severity,
        "rule_json": text,
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
    }


def test_plan_versions_first_load():
    assert R.plan_versions([B, A], None, T0) == [_row(A, 1, T0, None), _row(B, 1, T0, None)]
    assert R.plan_versions([A], [], T0) == [_row(A, 1, T0, None)]


def test_plan_versions_unchanged_is_none():
    existing = [_row(A, 1, T0, None), _row(B, 1, T0, None)]
    assert R.plan_versions([A, B], existing, T1) is None
    assert R.plan_versions([], [], T1) is None


def test_plan_versions_changed_rule():
    existing = [_row(A, 1, T0, None), _row(B, 1, T0, None)]
    changed = _one(_rule(min_score=0.9))
    assert R.plan_versions([changed, B], existing, T1) == [
        _row(A, 1, T0, T1),
        _row(changed, 2, T1, None),
        _row(B, 1, T0, None),
    ]


def test_plan_versions_removed_and_returning_rule():
    existing = [_row(A, 1, T0, None), _row(B, 1, T0, None)]
    removed = R.plan_versions([B], existing, T1)
    assert removed == [_row(A, 1, T0, T1), _row(B, 1, T0, None)]
    assert R.plan_versions([B], removed, T2) is None
    assert R.plan_versions([A, B], removed, T2) == [_row(A, 1, T0, T1), _row(A, 2, T2, None), _row(B, 1, T0, None)]


def test_plan_versions_refuses_time_going_back():
    with pytest.raises(ValueError, match=r"before rule 100 version 1 took effect"):
        R.plan_versions([], [_row(A, 1, T1, None)], T0)


# ------------------------------------------------------------------------------------------------
# the Spark rules frame


def test_rules_frame_from_rows(spark: SparkSession):
    night = _one(
        _rule(
            rule_id=200,
            labels=["person"],
            min_area_fraction="1%",
            scope={"devices": ["cam-02"]},
            schedule=[{"days": ["fri"], "start": "22:00", "end": "06:00"}],
        )
    )
    rows = [_row(A, 1, T0, T1), _row(night, 3, T1, None)]
    actual_df = R.rules_frame(spark, rows)
    assert actual_df.schema == R.RULES_SCHEMA
    got = actual_df.withColumn("valid_from", F.date_format("valid_from", "yyyy-MM-dd HH:mm")).orderBy("rule_id")
    got = got.withColumn("valid_to", F.date_format("valid_to", "yyyy-MM-dd HH:mm")).collect()
    assert [tuple(r) for r in got] == [
        (100, 1, "2026-11-01 08:00", "2026-11-02 09:30", "Dog, cat and racoon together", ["cat", "dog", "racoon"],
         "ALL", 0.8, None, None, None, None, None, "warning", 10),
        (200, 3, "2026-11-02 09:30", None, "Dog, cat and racoon together", ["person"], "ALL", 0.8, 0.01, None,
         ["cam-02"], None, [(5, 1320, 1440), (6, 0, 360)], "warning", 10),
    ]  # fmt: skip


def test_rules_frame_empty(spark: SparkSession):
    assert R.rules_frame(spark, []).schema == R.RULES_SCHEMA
    assert R.rules_frame(spark, []).count() == 0


def test_rules_frame_from_stored_table(spark: SparkSession):
    table_df = spark.createDataFrame(R.plan_versions([B, A], None, T0), R.RULES_TABLE_SCHEMA)
    actual_df = R.rules_frame(spark, table_df.collect())
    got = actual_df.select("rule_id", "rule_version", "labels", "min_score", "valid_to").orderBy("rule_id").collect()
    assert [tuple(r) for r in got] == [(100, 1, ["cat", "dog", "racoon"], 0.8, None), (200, 1, ["person"], 0.7, None)]
