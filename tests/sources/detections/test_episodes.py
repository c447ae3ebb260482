"""Tests of visionlake.sources.detections.episodes on hand-written objects, rules and matches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from visionlake.sources.detections import episodes as ep

GAP = 60.0
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday
INGESTED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RULES_FROM = datetime(2026, 11, 1, tzinfo=UTC)
DAY = date(2026, 11, 30)


def _field(name: str, kind: T.DataType) -> T.StructField:
    return T.StructField(name, kind)


STRINGS = T.ArrayType(T.StringType())
WINDOWS = T.ArrayType(
    T.StructType(
        [_field("weekday", T.IntegerType()), _field("start_min", T.IntegerType()), _field("end_min", T.IntegerType())]
    )
)
# rules.RULES_SCHEMA as the spec defines it (not imported: rules.py is written apart)
RULES_SCHEMA = T.StructType(
    [
        _field("rule_id", T.IntegerType()),
        _field("rule_version", T.IntegerType()),
        _field("valid_from", T.TimestampType()),
        _field("valid_to", T.TimestampType()),
        _field("name", T.StringType()),
        _field("labels", STRINGS),
        _field("quantifier", T.StringType()),
        _field("min_score", T.DoubleType()),
        _field("min_area_fraction", T.DoubleType()),
        _field("scope_users", STRINGS),
        _field("scope_devices", STRINGS),
        _field("scope_sites", STRINGS),
        _field("windows", WINDOWS),
        _field("severity", T.StringType()),
        _field("cooldown_minutes", T.IntegerType()),
    ]
)
OBJECTS_SCHEMA = T.StructType(
    [
        _field("frame_key", T.StringType()),
        _field("det_idx", T.IntegerType()),
        _field("label", T.StringType()),
        _field("label_id", T.IntegerType()),
        _field("score", T.DoubleType()),
        *[_field(c, T.DoubleType()) for c in ("x_min", "y_min", "x_max", "y_max", "x", "y", "w", "h")],
        _field("area_fraction", T.DoubleType()),
        _field("track_id", T.StringType()),
        _field("user_id", T.StringType()),
        _field("device_id", T.StringType()),
        _field("site_id", T.StringType()),
        _field("captured_at", T.TimestampType()),
        _field("local_tz_offset_min", T.IntegerType()),
        _field("is_valid_image", T.BooleanType()),
        _field("ingested_at", T.TimestampType()),
        _field("event_date", T.DateType()),
    ]
)
MATCHES_SCHEMA = T.StructType(
    [
        _field("frame_key", T.StringType()),
        _field("user_id", T.StringType()),
        _field("device_id", T.StringType()),
        _field("site_id", T.StringType()),
        _field("captured_at", T.TimestampType()),
        _field("local_tz_offset_min", T.IntegerType()),
        _field("is_valid_image", T.BooleanType()),
        _field("rule_id", T.IntegerType()),
        _field("rule_version", T.IntegerType()),
        _field("severity", T.StringType()),
        _field("min_score", T.DoubleType()),
        _field("min_area_fraction", T.DoubleType()),
        _field("windows", WINDOWS),
        _field("cooldown_minutes", T.IntegerType()),
        _field("labels_matched", STRINGS),
        _field("frame_score", T.DoubleType()),
        _field("max_area_fraction", T.DoubleType()),
    ]
)
ALERTS_SCHEMA = T.StructType(
    [
        _field("alert_id", T.StringType()),
        _field("dedup_key", T.StringType()),
        _field("rule_id", T.IntegerType()),
        _field("rule_version", T.IntegerType()),
        _field("severity", T.StringType()),
        _field("user_id", T.StringType()),
        _field("device_id", T.StringType()),
        _field("site_id", T.StringType()),
        _field("started_at", T.TimestampType()),
        _field("last_seen_at", T.TimestampType()),
        _field("frames", T.LongType()),
        _field("labels_matched", STRINGS),
        _field("peak_score", T.DoubleType()),
        _field("median_score", T.DoubleType()),
        _field("first_frame_key", T.StringType()),
        _field("alerted_at", T.TimestampType()),
        _field("local_date", T.DateType()),
    ]
)
SUPPRESSED_SCHEMA = T.StructType(
    [
        _field("user_id", T.StringType()),
        _field("device_id", T.StringType()),
        _field("rule_id", T.IntegerType()),
        _field("local_date", T.DateType()),
        _field("reason", T.StringType()),
        _field("matches", T.LongType()),
        _field("first_at", T.TimestampType()),
        _field("last_at", T.TimestampType()),
    ]
)


def _s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _rule(
    rule_id: int,
    labels: Sequence[str],
    quantifier: str = "ALL",
    min_score: float = 0.5,
    *,
    version: int = 1,
    valid_from: datetime = RULES_FROM,
    valid_to: datetime | None = None,
    min_area: float | None = None,
    users: list[str] | None = None,
    devices: list[str] | None = None,
    sites: list[str] | None = None,
    windows: list[tuple[int, int, int]] | None = None,
    severity: str = "warning",
    cooldown: int = 0,
) -> tuple:
    return (
        rule_id,
        version,
        valid_from,
        valid_to,
        f"rule {rule_id}",
        sorted(labels),
        quantifier,
        min_score,
        min_area,
        users,
        devices,
        sites,
        windows,
        severity,
        cooldown,
    )


def _obj(
    frame_key: str,
    label: str,
    score: float,
    area: float | None = 0.1,
    *,
    at: datetime = T0,
    user: str = "u-1",
    device: str = "cam-1",
    site: str = "site-1",
    offset: int = 0,
    valid: bool = True,
    ingested: datetime = INGESTED,
) -> tuple:
    boxes = (None,) * 8
    return (frame_key, 0, label, None, score, *boxes, area, None, user, device, site, at, offset, valid, ingested, None)


def _match(
    frame_key: str,
    at: datetime,
    score: float = 0.9,
    *,
    device: str = "cam-1",
    site: str = "site-1",
    offset: int = 0,
    valid: bool = True,
    rule_id: int = 1,
    version: int = 1,
    severity: str = "warning",
    min_score: float = 0.5,
    min_area: float | None = None,
    windows: list[tuple[int, int, int]] | None = None,
    cooldown: int = 0,
    labels: Sequence[str] = ("person",),
    area: float | None = 0.2,
) -> tuple:
    return (
        frame_key,
        "u-1",
        device,
        site,
        at,
        offset,
        valid,
        rule_id,
        version,
        severity,
        min_score,
        min_area,
        windows,
        cooldown,
        list(labels),
        score,
        area,
    )


def _rules(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, RULES_SCHEMA)


def _objects(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, OBJECTS_SCHEMA)


def naive(moment: datetime) -> datetime:
    """A UTC instant as Spark's collect() returns it in a UTC session."""
    return moment.replace(tzinfo=None)


def _match_frames(objects: DataFrame, rules: DataFrame) -> DataFrame:
    """What gold decides on: silver rule_matches (find_matches) with their rule version's terms."""
    return ep.with_rule_terms(ep.find_matches(objects, rules), rules)


def _matches(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, MATCHES_SCHEMA)


def _decisions(decided: DataFrame) -> list[tuple]:
    """(frame_key, device_id, rule_id, episode_start_key, decision), sorted."""
    rows = decided.select("frame_key", "device_id", "rule_id", "episode_start_key", "decision").collect()
    return sorted(tuple(r) for r in rows)


# ------------------------------------------------------------------------------------------------
# match_frames


def test_match_frames_all_any_and_two_rules_on_one_frame(spark: SparkSession):
    rules = _rules(
        spark,
        [
            _rule(1, ["person", "car"], "ALL"),
            _rule(2, ["dog", "person"], "ANY"),
            _rule(3, ["bird", "person"], "ALL"),
        ],
    )
    objects = _objects(
        spark,
        [
            _obj("f1", "person", 0.9, 0.1),
            _obj("f1", "person", 0.6, 0.3),
            _obj("f1", "car", 0.7, 0.05),
            _obj("f1", "cat", 0.99, 0.9),  # no rule names cat: neither score nor area counts
            _obj("f2", "person", 0.8, 0.2),
            _obj("f3", "dog", 0.6, 0.4),
            _obj("f3", "person", 0.7, 0.1),
            _obj("f4", "cat", 0.95, 0.5),
        ],
    )
    actual_df = _match_frames(objects, rules).select(
        "frame_key", "rule_id", "labels_matched", "frame_score", "max_area_fraction"
    )
    schema = T.StructType(
        [
            _field("frame_key", T.StringType()),
            _field("rule_id", T.IntegerType()),
            _field("labels_matched", STRINGS),
            _field("frame_score", T.DoubleType()),
            _field("max_area_fraction", T.DoubleType()),
        ]
    )
    expected_df = spark.createDataFrame(
        [
            # ALL: the lowest best score over the labels; the smallest of the labels' largest boxes
            ("f1", 1, ["car", "person"], 0.7, 0.05),
            ("f1", 2, ["person"], 0.9, 0.3),
            ("f2", 2, ["person"], 0.8, 0.2),
            ("f3", 2, ["dog", "person"], 0.7, 0.4),  # ANY: the highest over the matched labels
        ],
        schema,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_match_frames_area_applies_to_each_object(spark: SparkSession):
    """An object whose box is below the rule's min_area_fraction does not count for the rule (a far-away speck):
    the frame score is the best among the large-enough objects, and a label present only in boxes too small makes
    the match area_too_small (until Dec 5 the best score and the largest box were taken from different objects: a
    person at 0.95 in a speck beside one at 0.55 in a quarter of the frame alerted at 0.95)."""
    rules = _rules(
        spark,
        [
            _rule(70, ["person"], "ANY", 0.7, min_area=0.01),
            _rule(71, ["dog", "person"], "ALL", 0.5, min_area=0.01),
            _rule(72, ["cat", "dog"], "ANY", 0.7, min_area=0.01, devices=["c5"]),
        ],
    )
    objects = _objects(
        spark,
        [
            # a speck at 0.95 and a quarter of the frame at 0.55: the frame scores 0.55 for 70
            _obj("f1", "person", 0.95, 0.0002, device="c1"),
            _obj("f1", "person", 0.55, 0.25, device="c1"),
            # only a speck: area_too_small, the score and box of what was seen kept
            _obj("f2", "person", 0.95, 0.0002, device="c2"),
            # ALL: every label has a large-enough object; the person's is the one at 0.6
            _obj("f3", "dog", 0.9, 0.3, device="c3"),
            _obj("f3", "person", 0.8, 0.005, device="c3"),
            _obj("f3", "person", 0.6, 0.02, device="c3"),
            # ALL: the person only as a speck (until Dec 5 the dog's box stood for both labels: alert)
            _obj("f4", "dog", 0.9, 0.3, device="c4"),
            _obj("f4", "person", 0.8, 0.005, device="c4"),
            # ANY: the cat is a speck, the dog counts alone
            _obj("f5", "cat", 0.95, 0.001, device="c5"),
            _obj("f5", "dog", 0.6, 0.1, device="c5"),
            # ALL: a dog of unknown size cannot show it is large enough
            _obj("f6", "dog", 0.9, None, device="c6"),
            _obj("f6", "person", 0.9, 0.5, device="c6"),
        ],
    )
    matched = _match_frames(objects, rules)
    actual_df = matched.select("frame_key", "rule_id", "labels_matched", "frame_score", "max_area_fraction")
    schema = T.StructType(
        [
            _field("frame_key", T.StringType()),
            _field("rule_id", T.IntegerType()),
            _field("labels_matched", STRINGS),
            _field("frame_score", T.DoubleType()),
            _field("max_area_fraction", T.DoubleType()),
        ]
    )
    # max_area_fraction: ANY the largest box of the rule's labels, ALL the smallest of the labels' largest boxes
    expected_df = spark.createDataFrame(
        [
            ("f1", 70, ["person"], 0.55, 0.25),
            ("f2", 70, ["person"], 0.95, 0.0002),
            ("f3", 70, ["person"], 0.6, 0.02),
            ("f3", 71, ["dog", "person"], 0.6, 0.02),
            ("f4", 70, ["person"], 0.8, 0.005),
            ("f4", 71, ["dog", "person"], 0.8, 0.005),
            ("f5", 72, ["dog"], 0.6, 0.1),
            ("f6", 70, ["person"], 0.9, 0.5),
            ("f6", 71, ["dog", "person"], 0.9, None),
        ],
        schema,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)
    assert _decisions(ep.decide(matched, GAP)) == [
        ("f1", "c1", 70, "f1", "below_score"),
        ("f2", "c2", 70, None, "area_too_small"),
        ("f3", "c3", 70, "f3", "below_score"),
        ("f3", "c3", 71, "f3", "alert"),
        ("f4", "c4", 70, None, "area_too_small"),
        ("f4", "c4", 71, None, "area_too_small"),
        ("f5", "c5", 72, "f5", "below_score"),
        ("f6", "c6", 70, "f6", "alert"),
        ("f6", "c6", 71, None, "area_too_small"),
    ]


def test_match_frames_columns_carry_frame_and_rule(spark: SparkSession):
    rules = _rules(
        spark, [_rule(4, ["racoon"], "ANY", 0.6, min_area=0.01, windows=[(7, 0, 360)], severity="info", cooldown=5)]
    )
    objects = _objects(
        spark, [_obj("f1", "racoon", 0.75, 0.02, site="garden", offset=-300, valid=False, device="cam-2")]
    )
    found = ep.find_matches(objects, rules)
    # silver rule_matches: the frame, the rule version and what was found, with the frame's lineage columns
    assert found.schema.simpleString() == (
        "struct<frame_key:string,user_id:string,device_id:string,site_id:string,captured_at:timestamp,"
        "local_tz_offset_min:int,is_valid_image:boolean,rule_id:int,rule_version:int,labels_matched:array<string>,"
        "frame_score:double,max_area_fraction:double,ingested_at:timestamp,event_date:date>"
    )
    assert [tuple(r) for r in found.collect()] == [
        ("f1", "u-1", "cam-2", "garden", naive(T0), -300, False, 4, 1, ["racoon"], 0.75, 0.02, naive(INGESTED), None)
    ]
    actual_df = ep.with_rule_terms(found, rules)
    expected_df = _matches(
        spark,
        [
            (
                "f1",
                "u-1",
                "cam-2",
                "garden",
                T0,
                -300,
                False,
                4,
                1,
                "info",
                0.6,
                0.01,
                [(7, 0, 360)],
                5,
                ["racoon"],
                0.75,
                0.02,
            )
        ],
    )
    assert actual_df.columns == [
        "frame_key",
        "user_id",
        "device_id",
        "site_id",
        "captured_at",
        "local_tz_offset_min",
        "is_valid_image",
        "rule_id",
        "rule_version",
        "severity",
        "min_score",
        "min_area_fraction",
        "windows",
        "cooldown_minutes",
        "labels_matched",
        "frame_score",
        "max_area_fraction",
    ]
    assert_df_equality(actual_df, expected_df, ignore_nullable=True)


def test_match_frames_rule_version_by_ingested_at(spark: SparkSession):
    switch = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    rules = _rules(
        spark,
        [
            _rule(5, ["person"], min_score=0.5, version=1, valid_to=switch),
            _rule(5, ["car", "person"], min_score=0.8, version=2, valid_from=switch, severity="critical"),
        ],
    )
    before = datetime(2026, 11, 30, 11, 59, 59, tzinfo=UTC)
    objects = _objects(
        spark,
        [
            _obj("g1", "person", 0.9, ingested=before),
            _obj("g1", "car", 0.9, ingested=before),
            _obj("g2", "person", 0.9, ingested=switch),  # valid_from is inclusive, valid_to exclusive
            _obj("g2", "car", 0.6, ingested=switch),
            _obj("g3", "person", 0.9, ingested=datetime(2026, 12, 1, tzinfo=UTC)),  # v2 needs a car too
            _obj("g4", "person", 0.9, ingested=datetime(2026, 10, 31, tzinfo=UTC)),  # before any version
        ],
    )
    actual = sorted(
        tuple(r)
        for r in _match_frames(objects, rules)
        .select("frame_key", "rule_version", "severity", "min_score", "labels_matched", "frame_score")
        .collect()
    )
    assert actual == [
        ("g1", 1, "warning", 0.5, ["person"], 0.9),
        ("g2", 2, "critical", 0.8, ["car", "person"], 0.6),
    ]


def test_match_frames_scope(spark: SparkSession):
    rules = _rules(
        spark,
        [
            _rule(2, ["person"], "ANY", users=["u-1"], sites=["site-1"]),
            _rule(3, ["person"], "ANY", devices=["cam-9"]),
            _rule(4, ["person"], "ANY"),
        ],
    )
    objects = _objects(
        spark,
        [
            _obj("h1", "person", 0.9),
            _obj("h2", "person", 0.9, site="site-2"),
            _obj("h3", "person", 0.9, user="u-2"),
        ],
    )
    actual = sorted(tuple(r) for r in _match_frames(objects, rules).select("frame_key", "rule_id").collect())
    assert actual == [("h1", 2), ("h1", 4), ("h2", 4), ("h3", 4)]


# ------------------------------------------------------------------------------------------------
# decide: episodes


def test_decide_gap_boundaries(spark: SparkSession):
    matches = _matches(
        spark,
        [
            _match("f1", _s(0)),
            _match("f2", _s(60)),  # exactly the gap: same episode
            _match("f3", _s(121)),  # 61 s: a new episode
            _match("f4", _s(181.5)),  # 60.5 s: a new episode
            _match("f5", _s(241.5)),  # 60 s again: joins f4
            _match("c1", _s(30), device="cam-2"),  # another device: its own episodes
            _match("r1", _s(30), rule_id=2),  # another rule on the same device: its own episodes
        ],
    )
    assert _decisions(ep.decide(matches, GAP)) == [
        ("c1", "cam-2", 1, "c1", "alert"),
        ("f1", "cam-1", 1, "f1", "alert"),
        ("f2", "cam-1", 1, "f1", "alert"),
        ("f3", "cam-1", 1, "f3", "alert"),
        ("f4", "cam-1", 1, "f4", "alert"),
        ("f5", "cam-1", 1, "f4", "alert"),
        ("r1", "cam-1", 2, "r1", "alert"),
    ]


def test_decide_median_score(spark: SparkSession):
    matches = _matches(
        spark,
        [
            # medians so far: 0.25, 0.5625, 0.75 (passes at the 3rd frame), 0.8125
            _match("m1", _s(0), 0.25, min_score=0.7),
            _match("m2", _s(10), 0.875, min_score=0.7),
            _match("m3", _s(20), 0.75, min_score=0.7),
            _match("m4", _s(30), 1.0, min_score=0.7),
            # never passes (medians 0.25, 0.375, 0.25)
            _match("n1", _s(0), 0.25, device="cam-2", min_score=0.7),
            _match("n2", _s(10), 0.5, device="cam-2", min_score=0.7),
            _match("n3", _s(20), 0.25, device="cam-2", min_score=0.7),
            # an even count takes the mean of the two middle values: (0.5 + 0.625) / 2 = 0.5625, passes at e2
            _match("e1", _s(0), 0.5, device="cam-3", min_score=0.5625),
            _match("e2", _s(10), 0.625, device="cam-3", min_score=0.5625),
        ],
    )
    decided = ep.decide(matches, GAP)
    assert _decisions(decided) == [
        ("e1", "cam-3", 1, "e1", "alert"),
        ("e2", "cam-3", 1, "e1", "alert"),
        ("m1", "cam-1", 1, "m1", "alert"),
        ("m2", "cam-1", 1, "m1", "alert"),
        ("m3", "cam-1", 1, "m1", "alert"),
        ("m4", "cam-1", 1, "m1", "alert"),
        ("n1", "cam-2", 1, "n1", "below_score"),
        ("n2", "cam-2", 1, "n1", "below_score"),
        ("n3", "cam-2", 1, "n1", "below_score"),
    ]
    id_m, id_e = ep.alert_id_of("u-1", "cam-1", 1, "m1"), ep.alert_id_of("u-1", "cam-3", 1, "e1")
    expected_alerts = spark.createDataFrame(
        [
            (
                id_m,
                f"visionlake/detections/rule-1/{id_m}",
                1,
                1,
                "warning",
                "u-1",
                "cam-1",
                "site-1",
                _s(0),
                _s(30),
                4,
                ["person"],
                1.0,
                0.8125,
                "m1",
                _s(20),
                DAY,
            ),
            (
                id_e,
                f"visionlake/detections/rule-1/{id_e}",
                1,
                1,
                "warning",
                "u-1",
                "cam-3",
                "site-1",
                _s(0),
                _s(10),
                2,
                ["person"],
                0.625,
                0.5625,
                "e1",
                _s(10),
                DAY,
            ),
        ],
        ALERTS_SCHEMA,
    )
    assert_df_equality(ep.build_alerts(decided), expected_alerts, ignore_row_order=True, ignore_nullable=True)
    expected_suppressed = spark.createDataFrame(
        [("u-1", "cam-2", 1, DAY, "below_score", 3, _s(0), _s(20))], SUPPRESSED_SCHEMA
    )
    assert_df_equality(ep.build_suppressed(decided), expected_suppressed, ignore_nullable=True)


def test_decide_median_and_area_at_their_thresholds_exactly(spark: SparkSession):
    """A median or an area that reaches its threshold but for floating-point rounding reaches it: (0.85 + 0.95) / 2
    is 0.8999999999999999 in floating point (until Dec 5 below_score against 0.9), (0.6 + 0.7) / 2 is
    0.6499999999999999; a box of 0.1 by 0.3 - 0.2 (shape B) is 0.009999999999999998. Within 1e-9 of the
    threshold counts as reaching it; a true shortfall (0.85 and 0.94 against 0.9) does not."""
    matches = _matches(
        spark,
        [
            _match("a1", _s(0), 0.85, device="c1", min_score=0.9),
            _match("a2", _s(10), 0.95, device="c1", min_score=0.9),
            _match("b1", _s(0), 0.6, device="c2", min_score=0.65),
            _match("b2", _s(10), 0.7, device="c2", min_score=0.65),
            _match("c1", _s(0), 0.85, device="c3", min_score=0.9),
            _match("c2", _s(10), 0.94, device="c3", min_score=0.9),
            _match("d1", _s(0), area=0.1 * (0.3 - 0.2), device="c4", min_area=0.01),
            _match("e1", _s(0), area=0.0099, device="c5", min_area=0.01),
        ],
    )
    decided = ep.decide(matches, GAP)
    assert _decisions(decided) == [
        ("a1", "c1", 1, "a1", "alert"),
        ("a2", "c1", 1, "a1", "alert"),
        ("b1", "c2", 1, "b1", "alert"),
        ("b2", "c2", 1, "b1", "alert"),
        ("c1", "c3", 1, "c1", "below_score"),
        ("c2", "c3", 1, "c1", "below_score"),
        ("d1", "c4", 1, "d1", "alert"),
        ("e1", "c5", 1, None, "area_too_small"),
    ]
    passed = {r["frame_key"]: r["episode_passed_at"] for r in decided.collect()}
    assert passed["a1"] == passed["a2"] == naive(_s(10))  # the second frame's median reaches 0.9
    # an object at that area counts for the rule in silver rule_matches too
    rules = _rules(spark, [_rule(70, ["person"], "ANY", 0.7, min_area=0.01)])
    objects = _objects(spark, [_obj("f1", "person", 0.8, 0.1 * (0.3 - 0.2)), _obj("f1", "person", 0.9, 0.005)])
    found = [(r["frame_score"], r["max_area_fraction"]) for r in ep.find_matches(objects, rules).collect()]
    assert found == [(0.8, 0.1 * (0.3 - 0.2))]


def test_decide_threshold_of_the_episodes_first_rule_version(spark: SparkSession):
    matches = _matches(
        spark,
        [
            _match("v1", _s(0), 0.6, version=1, min_score=0.95),
            _match("v2", _s(10), 0.9, version=2, min_score=0.5),  # median 0.75 would pass version 2
            _match("w1", _s(0), 0.6, device="cam-2", version=1, min_score=0.5),
            _match("w2", _s(10), 0.9, device="cam-2", version=2, min_score=0.95, severity="critical"),
        ],
    )
    decided = ep.decide(matches, GAP)
    assert _decisions(decided) == [
        ("v1", "cam-1", 1, "v1", "below_score"),
        ("v2", "cam-1", 1, "v1", "below_score"),
        ("w1", "cam-2", 1, "w1", "alert"),
        ("w2", "cam-2", 1, "w1", "alert"),
    ]
    alerts = ep.build_alerts(decided).select("first_frame_key", "rule_version", "severity", "frames").collect()
    assert [tuple(r) for r in alerts] == [("w1", 1, "warning", 2)]


# ------------------------------------------------------------------------------------------------
# decide: per-frame reasons


MON_22_TO_TUE_06 = [(1, 22 * 60, 24 * 60), (2, 0, 6 * 60)]  # "mon 22:00-06:00", split at midnight


def test_decide_schedule_across_midnight_and_time_zones(spark: SparkSession):
    utc = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    tokyo, new_york = {"device": "cam-t", "offset": 540}, {"device": "cam-n", "offset": -300}
    matches = _matches(
        spark,
        [
            _match("t1", utc(2026, 11, 30, 13, 30), windows=MON_22_TO_TUE_06, **tokyo),  # Mon 22:30 local: in
            _match("n1", utc(2026, 11, 30, 13, 30), windows=MON_22_TO_TUE_06, **new_york),  # Mon 08:30: out
            _match("t2", utc(2026, 11, 30, 20, 0), windows=MON_22_TO_TUE_06, **tokyo),  # Tue 05:00: in
            _match("t3", utc(2026, 11, 30, 21, 0), windows=MON_22_TO_TUE_06, **tokyo),  # Tue 06:00: end excluded
            _match("n2", utc(2026, 12, 1, 3, 30), windows=MON_22_TO_TUE_06, **new_york),  # UTC Tue, Mon 22:30: in
            _match("n3", utc(2026, 12, 1, 10, 0), windows=MON_22_TO_TUE_06, **new_york),  # Tue 05:00: in
            _match("a1", utc(2026, 11, 30, 13, 30), device="cam-a", windows=None),  # no schedule: always
            _match("z1", utc(2026, 11, 30, 13, 30), device="cam-z", windows=[]),  # empty schedule: never
        ],
    )
    decided = ep.decide(matches, GAP)
    actual = sorted(tuple(r) for r in decided.select("frame_key", "local_date", "decision").collect())
    assert actual == [
        ("a1", date(2026, 11, 30), "alert"),
        ("n1", date(2026, 11, 30), "outside_schedule"),
        ("n2", date(2026, 11, 30), "alert"),
        ("n3", date(2026, 12, 1), "alert"),
        ("t1", date(2026, 11, 30), "alert"),
        ("t2", date(2026, 12, 1), "alert"),
        ("t3", date(2026, 12, 1), "outside_schedule"),
        ("z1", date(2026, 11, 30), "outside_schedule"),
    ]
    assert decided.where("frame_key = 'n1'").first()["episode_start_key"] is None
    expected_suppressed = spark.createDataFrame(
        [
            (
                "u-1",
                "cam-n",
                1,
                date(2026, 11, 30),
                "outside_schedule",
                1,
                utc(2026, 11, 30, 13, 30),
                utc(2026, 11, 30, 13, 30),
            ),
            (
                "u-1",
                "cam-t",
                1,
                date(2026, 12, 1),
                "outside_schedule",
                1,
                utc(2026, 11, 30, 21, 0),
                utc(2026, 11, 30, 21, 0),
            ),
            (
                "u-1",
                "cam-z",
                1,
                date(2026, 11, 30),
                "outside_schedule",
                1,
                utc(2026, 11, 30, 13, 30),
                utc(2026, 11, 30, 13, 30),
            ),
        ],
        SUPPRESSED_SCHEMA,
    )
    assert_df_equality(ep.build_suppressed(decided), expected_suppressed, ignore_row_order=True, ignore_nullable=True)
    local_dates = sorted(tuple(r) for r in ep.build_alerts(decided).select("first_frame_key", "local_date").collect())
    assert local_dates == [
        ("a1", date(2026, 11, 30)),
        ("n2", date(2026, 11, 30)),
        ("n3", date(2026, 12, 1)),
        ("t1", date(2026, 11, 30)),
        ("t2", date(2026, 12, 1)),
    ]


def test_decide_critical_ignores_the_schedule(spark: SparkSession):
    at = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)  # Mon 08:30 in New York: outside the windows
    matches = _matches(
        spark,
        [
            _match("k1", at, offset=-300, severity="critical", windows=MON_22_TO_TUE_06),
            _match("k2", at, offset=-300, severity="error", windows=MON_22_TO_TUE_06, device="cam-2"),
            _match("k3", at, offset=-300, severity="critical", windows=MON_22_TO_TUE_06, device="cam-3", valid=False),
        ],
    )
    assert _decisions(ep.decide(matches, GAP)) == [
        ("k1", "cam-1", 1, "k1", "alert"),
        ("k2", "cam-2", 1, None, "outside_schedule"),
        ("k3", "cam-3", 1, None, "invalid_image"),
    ]


def test_decide_area_and_invalid_image(spark: SparkSession):
    matches = _matches(
        spark,
        [
            _match("a1", _s(0), area=0.2, min_area=0.1),
            _match("a2", _s(50), area=0.05, min_area=0.1),  # too small: not eligible, does not bridge the gap
            _match("a3", _s(100), area=0.1, min_area=0.1),  # equal is enough; 100 s after a1: a new episode
            _match("a4", _s(130), area=None, min_area=0.1),  # no area known: cannot show it is large enough
            _match("a5", _s(140), area=0.05, min_area=0.1, valid=False),  # invalid image comes first
            _match("a6", _s(150), area=0.3, min_area=0.1),  # 50 s after a3 (the previous eligible match)
            _match("b1", _s(0), area=None, device="cam-2"),  # no min_area_fraction: area not checked
        ],
    )
    assert _decisions(ep.decide(matches, GAP)) == [
        ("a1", "cam-1", 1, "a1", "alert"),
        ("a2", "cam-1", 1, None, "area_too_small"),
        ("a3", "cam-1", 1, "a3", "alert"),
        ("a4", "cam-1", 1, None, "area_too_small"),
        ("a5", "cam-1", 1, None, "invalid_image"),
        ("a6", "cam-1", 1, "a3", "alert"),
        ("b1", "cam-2", 1, "b1", "alert"),
    ]


# ------------------------------------------------------------------------------------------------
# decide: cooldown


def test_decide_cooldown_counts_from_alerts(spark: SparkSession):
    def at(hh_mm_ss: str) -> datetime:
        h, m, s = (int(p) for p in hh_mm_ss.split(":"))
        return datetime(2026, 11, 30, h, m, s, tzinfo=UTC)

    matches = _matches(
        spark,
        [
            _match("b1", at("09:50:00"), 0.25, cooldown=10),  # below_score: starts no cooldown
            _match("e1a", at("10:00:00"), cooldown=10),
            _match("e1b", at("10:01:00"), cooldown=10),  # alerted episode, last seen 10:01
            _match("e2a", at("10:05:00"), cooldown=10),
            _match("e2b", at("10:06:00"), cooldown=10),  # cooldown; must not extend it to 10:16
            _match("e3", at("10:11:00"), cooldown=10),  # exactly 10 min after 10:01: alert
            _match("e4", at("10:15:00"), cooldown=10),  # 4 min after e3: cooldown
            _match("e5", at("10:21:30"), cooldown=10),  # 10.5 min after e3: alert
        ],
    )
    decided = ep.decide(matches, GAP)
    assert _decisions(decided) == [
        ("b1", "cam-1", 1, "b1", "below_score"),
        ("e1a", "cam-1", 1, "e1a", "alert"),
        ("e1b", "cam-1", 1, "e1a", "alert"),
        ("e2a", "cam-1", 1, "e2a", "cooldown"),
        ("e2b", "cam-1", 1, "e2a", "cooldown"),
        ("e3", "cam-1", 1, "e3", "alert"),
        ("e4", "cam-1", 1, "e4", "cooldown"),
        ("e5", "cam-1", 1, "e5", "alert"),
    ]
    alerts = ep.build_alerts(decided).select("first_frame_key", "frames").collect()
    assert sorted(tuple(r) for r in alerts) == [("e1a", 2), ("e3", 1), ("e5", 1)]
    expected_suppressed = spark.createDataFrame(
        [
            ("u-1", "cam-1", 1, DAY, "below_score", 1, at("09:50:00"), at("09:50:00")),
            ("u-1", "cam-1", 1, DAY, "cooldown", 3, at("10:05:00"), at("10:15:00")),
        ],
        SUPPRESSED_SCHEMA,
    )
    assert_df_equality(ep.build_suppressed(decided), expected_suppressed, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------------------------------------
# redecide: new matches against stored decisions


def _at(hh_mm_ss: str, day: int = 30) -> datetime:
    h, m, s = (int(p) for p in hh_mm_ss.split(":"))
    return datetime(2026, 11, day, h, m, s, tzinfo=UTC)


def _stored(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """The decisions of ``rows`` as a table holds them (materialised, not a plan over the matches)."""
    return spark.createDataFrame(ep.decide(_matches(spark, rows), GAP).collect(), ep.DECISIONS)


def test_redecide_bridges_episodes_shifts_cooldowns_and_keeps_other_dates(spark: SparkSession):
    stored_rows = [
        _match("old", _at("23:00:00", day=29), cooldown=10),  # another local date: not rewritten
        _match("e1a", _at("10:00:00"), cooldown=10),
        _match("e1b", _at("10:01:00"), cooldown=10),  # E1 alerted, last seen 10:01
        _match("e2a", _at("10:05:00"), cooldown=10),  # E2 within E1's 10 min: cooldown
        _match("e3", _at("10:11:30"), cooldown=10),  # 10.5 min after 10:01: alert
        _match("e4", _at("10:30:00"), cooldown=10),  # alert
        _match("d1", _at("10:00:00"), device="cam-2", cooldown=10),  # alert
        _match("d2", _at("10:05:00"), device="cam-2", cooldown=10),  # cooldown (5 min after d1)
        _match("c1", _at("10:10:00"), device="cam-3"),  # alert
        _match("g1", _at("09:00:00"), device="cam-4", cooldown=10),  # alert
    ]
    new_rows = [
        # n1..n3 continue E1 (60 s apart) up to 60 s before e2a: E1 and E2 become one episode ending 10:05, so e3
        # (6.5 min later) falls in its cooldown and e4 (18.5 min later) alerts
        _match("n1", _at("10:02:00"), cooldown=10),
        _match("n2", _at("10:03:00"), cooldown=10),
        _match("n3", _at("10:04:00"), cooldown=10),
        _match("inv", _at("10:02:30"), valid=False, cooldown=10),  # an invalid image: no episode, no bridge
        # joins d2's episode: still d1's cooldown, which only the stored alert before the window knows
        _match("d3", _at("10:05:30"), device="cam-2", cooldown=10),
        # 30 s before c1: the episode now starts at c0 (a new first frame, hence a new alert id)
        _match("c0", _at("10:09:30"), device="cam-3"),
        # 61 s after g1: a new episode (g1's is kept, not recomputed), in the cooldown of g1's alert
        _match("g2", _at("09:01:01"), device="cam-4", cooldown=10),
    ]
    stored = _stored(spark, stored_rows)
    new = _matches(spark, new_rows)
    starts = ep.window_starts(stored, new, GAP)
    assert sorted(tuple(r) for r in starts.select("device_id", "window_from", "prior_alert_us").collect()) == [
        # e1b (10:01) is the last stored match before n1: E1's start; "old" the last alert before it
        ("cam-1", naive(_at("10:00:00")), int(_at("23:00:00", day=29).timestamp() * 1_000_000)),
        ("cam-2", naive(_at("10:05:00")), int(_at("10:00:00").timestamp() * 1_000_000)),  # d1 alerted before
        ("cam-3", naive(_at("10:09:30")), None),  # nothing stored before c0
        ("cam-4", naive(_at("09:01:01")), int(_at("09:00:00").timestamp() * 1_000_000)),
    ]
    result = ep.redecide(stored, ep.window_matches(_matches(spark, stored_rows + new_rows), new, starts), starts, GAP)
    assert {r["local_date"] for r in result.collect()} == {DAY}  # 11-29 is left as it is
    assert _decisions(result) == [
        ("c0", "cam-3", 1, "c0", "alert"),
        ("c1", "cam-3", 1, "c0", "alert"),
        ("d1", "cam-2", 1, "d1", "alert"),
        ("d2", "cam-2", 1, "d2", "cooldown"),
        ("d3", "cam-2", 1, "d2", "cooldown"),
        ("e1a", "cam-1", 1, "e1a", "alert"),
        ("e1b", "cam-1", 1, "e1a", "alert"),
        ("e2a", "cam-1", 1, "e1a", "alert"),
        ("e3", "cam-1", 1, "e3", "cooldown"),
        ("e4", "cam-1", 1, "e4", "alert"),
        ("g1", "cam-4", 1, "g1", "alert"),
        ("g2", "cam-4", 1, "g2", "cooldown"),
        ("inv", "cam-1", 1, None, "invalid_image"),
        ("n1", "cam-1", 1, "e1a", "alert"),
        ("n2", "cam-1", 1, "e1a", "alert"),
        ("n3", "cam-1", 1, "e1a", "alert"),
    ]
    # the same as deciding the whole history at once
    whole = ep.decide(_matches(spark, stored_rows + new_rows), GAP).where(f"local_date = '{DAY}'")
    assert_df_equality(result, whole, ignore_row_order=True, ignore_nullable=True)


def test_redecide_new_matches_that_form_no_episode_leave_episodes_alone(spark: SparkSession):
    stored_rows = [_match("a1", _at("10:00:00"), cooldown=10), _match("a2", _at("10:00:40"), cooldown=10)]
    new_rows = [
        _match("late", _at("10:00:20"), valid=False, cooldown=10),  # invalid image inside the episode's time
        _match("small", _at("10:01:00"), min_area=0.5, area=0.1, cooldown=10),  # too small: no bridge either
    ]
    stored = _stored(spark, stored_rows)
    new = _matches(spark, new_rows)
    starts = ep.window_starts(stored, new, GAP)
    assert starts.count() == 0  # no eligible new match: no episode is recomputed
    result = ep.redecide(stored, ep.window_matches(_matches(spark, stored_rows + new_rows), new, starts), starts, GAP)
    assert _decisions(result) == [
        ("a1", "cam-1", 1, "a1", "alert"),
        ("a2", "cam-1", 1, "a1", "alert"),
        ("late", "cam-1", 1, None, "invalid_image"),
        ("small", "cam-1", 1, None, "area_too_small"),
    ]


def test_decide_prior_alert_starts_the_cooldown(spark: SparkSession):
    matches = _matches(spark, [_match("p1", _at("10:05:00"), cooldown=10), _match("p2", _at("10:20:00"), cooldown=10)])
    prior = spark.createDataFrame(
        [("u-1", "cam-1", 1, int(_at("10:00:00").timestamp() * 1_000_000))],
        "user_id string, device_id string, rule_id int, prior_alert_us long",
    )
    assert _decisions(ep.decide(matches, GAP, prior)) == [
        ("p1", "cam-1", 1, "p1", "cooldown"),  # 5 min after the prior alert's end
        ("p2", "cam-1", 1, "p2", "alert"),  # 20 min after it; p1's cooldown episode extends nothing
    ]


# ------------------------------------------------------------------------------------------------
# alerts


def test_alerts_same_for_one_batch_and_two_batches(spark: SparkSession):
    rules = _rules(spark, [_rule(1, ["person"])])
    later = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    first_batch = [_obj("f1", "person", 0.9, 0.1, at=_s(0)), _obj("f2", "person", 0.7, 0.2, at=_s(30))]
    second_batch = [_obj("f3", "person", 0.8, 0.4, at=_s(60), ingested=later)]
    second_in_first = [_obj("f3", "person", 0.8, 0.4, at=_s(60))]

    def alerts(rows: list[tuple]) -> DataFrame:
        return ep.build_alerts(ep.decide(_match_frames(_objects(spark, rows), rules), GAP))

    alert_id = ep.alert_id_of("u-1", "cam-1", 1, "f1")
    expected_df = spark.createDataFrame(
        [
            (
                alert_id,
                f"visionlake/detections/rule-1/{alert_id}",
                1,
                1,
                "warning",
                "u-1",
                "cam-1",
                "site-1",
                _s(0),
                _s(60),
                3,
                ["person"],
                0.9,
                0.8,
                "f1",
                _s(0),
                DAY,
            )
        ],
        ALERTS_SCHEMA,
    )
    after_first = alerts(first_batch).collect()
    assert [(r["alert_id"], r["frames"]) for r in after_first] == [(alert_id, 2)]
    assert_df_equality(alerts(first_batch + second_batch), expected_df, ignore_nullable=True)
    assert_df_equality(alerts(first_batch + second_in_first), expected_df, ignore_nullable=True)


def test_alert_id_of_and_dedup_key(spark: SparkSession):
    frame_key = "u-0042-cam-03/2026-11-30T22-14-05.120000Z"
    assert ep.alert_id_of("u-0042", "cam-03", 7, frame_key) == "23e4b355c5528bb016a0c31c16a5fa2d"
    assert ep.alert_id_of("u-0042", "cam-03", 8, frame_key) == "5346a48520267e037e8387311bea7774"
    matches = spark.createDataFrame(
        [(frame_key, "u-0042", "cam-03", "s", T0, 60, True, 7, 1, "info", 0.5, None, None, 0, ["dog"], 0.9, 0.1)],
        MATCHES_SCHEMA,
    )
    row = ep.build_alerts(ep.decide(matches, GAP)).first()
    assert row["alert_id"] == "23e4b355c5528bb016a0c31c16a5fa2d"
    assert row["dedup_key"] == "visionlake/detections/rule-7/23e4b355c5528bb016a0c31c16a5fa2d"
    assert len(f"visionlake/detections/rule-{2**31 - 1}/{row['alert_id']}") <= 255  # the longest rule id


def test_build_alerts_and_suppressed_columns(spark: SparkSession):
    decided = ep.decide(_matches(spark, [_match("f1", T0), _match("f2", T0, valid=False, device="cam-2")]), GAP)
    assert ep.build_alerts(decided).schema.simpleString() == ALERTS_SCHEMA.simpleString()
    assert ep.build_suppressed(decided).schema.simpleString() == SUPPRESSED_SCHEMA.simpleString()


def test_a_stored_offset_that_moves_a_match_out_of_the_years_is_taken_as_utc(spark: SparkSession) -> None:
    # silver no longer takes such a time; a lake it stopped before Dec 6 holds it in rule_matches, and gold could
    # not write its local date of year 10000
    rows = [
        (datetime(9999, 12, 31, 20, 0, tzinfo=UTC), 840),  # 10:00 on 1 Jan 10000 at +14 h: its UTC date
        (datetime(9999, 12, 31, 9, 59, 59, tzinfo=UTC), 840),  # 23:59:59 on 31 Dec 9999 there
        (datetime(2026, 11, 30, 22, 0, tzinfo=UTC), 840),  # 12:00 on 1 Dec
        (datetime(1900, 1, 1, 5, 0, tzinfo=UTC), -630),  # 18:30 on 31 Dec 1899: its UTC date
    ]
    df = spark.createDataFrame(rows, "captured_at timestamp, local_tz_offset_min int")
    got = [r[0] for r in df.select(ep.site_local_date()).collect()]
    assert got == [date(9999, 12, 31), date(9999, 12, 31), date(2026, 12, 1), date(1900, 1, 1)]
