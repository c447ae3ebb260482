"""Threat rules over detected objects: rule matches per frame, threat episodes, decisions, alerts.

Pure DataFrame functions, no Python UDF, and no state of their own: the same matches always give the same
episodes, decisions and alert ids, whatever batches the frames arrived in.

Flow: ``find_matches(objects, rules)`` (in silver, batch by batch: silver ``rule_matches``) ->
``with_rule_terms(rule_matches, rules)`` -> ``decide(matches, gap_seconds)`` (gold ``match_decisions``) ->
``build_alerts(decided)`` and ``build_suppressed(decided)``. A later run with new matches need not decide the
whole history again: ``window_starts`` finds, per key, the first episode the new matches can change and the
cooldown carried into it, ``window_matches`` the matches from there on, and ``redecide`` the new content of
the local dates they touch (equal to ``decide`` over everything, restricted to those dates).
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import WindowSpec

from visionlake.sources.detections.schema import UNTAGGED
from visionlake.transforms.times import FIRST_SECONDS, PAST_LAST_SECONDS, days_since_epoch

KEY = ["user_id", "device_id", "rule_id"]  # the episodes of one camera and one rule
ORDER = ["captured_at", "frame_key"]  # time order of matches (frame_key breaks ties)
FRAME_COLUMNS = [
    "frame_key",
    "user_id",
    "device_id",
    "site_id",
    "captured_at",
    "local_tz_offset_min",
    "is_valid_image",
]
RULE_TERMS = ["severity", "min_score", "min_area_fraction", "windows", "cooldown_minutes"]
FOUND = ["labels_matched", "frame_score", "max_area_fraction"]
_S, _T, _D, _I = T.StringType(), T.TimestampType(), T.DoubleType(), T.IntegerType()
_LABELS = T.ArrayType(T.StringType())
_FRAME = [("frame_key", _S), ("user_id", _S), ("device_id", _S), ("site_id", _S)]
_WHEN = [("captured_at", _T), ("local_tz_offset_min", _I), ("is_valid_image", T.BooleanType())]
_FOUND = [("labels_matched", _LABELS), ("frame_score", _D), ("max_area_fraction", _D)]
_RULE = [("rule_id", _I), ("rule_version", _I)]


def _struct(fields: list[tuple[str, T.DataType]]) -> T.StructType:
    return T.StructType([T.StructField(name, kind) for name, kind in fields])


# silver rule_matches: what a frame's objects showed of a rule version (its terms are joined in gold)
RULE_MATCHES = _struct([*_FRAME, *_WHEN, *_RULE, *_FOUND, ("ingested_at", _T), ("event_date", T.DateType())])
MATCH_COLUMNS = [*FRAME_COLUMNS, "rule_id", "rule_version", *RULE_TERMS, *FOUND]
# gold match_decisions (decide's output): the match without its rule terms but severity, its episode, its decision
DECISIONS = _struct(
    [
        *_FRAME,
        *_RULE,
        ("severity", _S),
        *_WHEN,
        *_FOUND,
        ("episode_start_key", _S),
        ("episode_started_at", _T),
        ("episode_passed_at", _T),
        ("decision", _S),
        ("local_date", T.DateType()),
    ]
)
DECIDED_COLUMNS = DECISIONS.fieldNames()
ALERT_COLUMNS = [
    "alert_id",
    "dedup_key",
    "rule_id",
    "rule_version",
    "severity",
    "user_id",
    "device_id",
    "site_id",
    "started_at",
    "last_seen_at",
    "frames",
    "labels_matched",
    "peak_score",
    "median_score",
    "first_frame_key",
    "alerted_at",
    "local_date",
]
SUPPRESSED_COLUMNS = ["user_id", "device_id", "rule_id", "local_date", "reason", "matches", "first_at", "last_at"]
DEDUP_PREFIX = "visionlake/detections/rule-"
ALERT = "alert"
REASONS = ("invalid_image", "area_too_small", "outside_schedule", "below_score", "cooldown")

_MICROS_PER_MINUTE = 60_000_000
_MICROS_PER_DAY = 86_400_000_000
# A median score or an area reaches its rule's threshold when it is at most this below it: floating point
# rounds, so that the median of 0.85 and 0.95 is 0.8999999999999999, not 0.9, and a box of 0.1 by 0.3 - 0.2
# (shape B) is 0.009999999999999998 of the frame. Far below any difference a detector's score or box means.
TOLERANCE = 1e-9


def reaches(value: Column, threshold: Column) -> Column:
    """Whether ``value`` reaches ``threshold``: at least ``threshold - TOLERANCE`` (null when either is null)."""
    return value >= threshold - F.lit(TOLERANCE)


def alert_id_of(user_id: str, device_id: str, rule_id: int, first_frame_key: str) -> str:
    """The alert id gold computes: sha256 hex of user_id, device_id, rule_id and first_frame_key joined by
    NUL characters, first 32 characters."""
    text = "\0".join([user_id, device_id, str(rule_id), first_frame_key])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def find_matches(objects: DataFrame, rules: DataFrame) -> DataFrame:
    """One row per (frame, rule) whose objects satisfy the rule: silver ``rule_matches`` (``RULE_MATCHES``).

    ``objects``: silver objects (frame_key, label, score, area_fraction, the frame columns, ingested_at and
    event_date). ``rules``: one row per rule version (rules.RULES_SCHEMA); broadcast. A null user_id or device_id
    (an untagged, hence invalid, frame) becomes ``(untagged)``. The rule version is the one valid at the frame's
    ingested_at; scope lists, when set, must hold the frame's user, device and site.

    The rule version's min_area_fraction applies to each object: an object whose box does not reach it
    (:func:`reaches`) or is of unknown area does not count for the rule, as a far-away speck. The match is large
    enough when the labels with an object that counts satisfy the quantifier (ALL: every rule label; ANY: one).
    Then labels_matched are those labels (sorted) and frame_score comes from the objects that count: ALL -> the
    lowest of the labels' best scores, ANY -> the highest. Otherwise (gold's ``area_too_small``) labels_matched
    are the rule labels present and frame_score the same over all their objects, to show what was seen.
    max_area_fraction is the area gold checks min_area_fraction on, whatever the rule's threshold: ANY -> the
    largest box of the rule labels present, ALL -> the smallest of their largest boxes (each label needs one box
    that large; null when a label's boxes are all of unknown area). It reaches min_area_fraction exactly when the
    match is large enough.
    """
    rule_labels = F.broadcast(rules.select(F.explode("labels").alias("label")).distinct())
    # an untagged frame (an invalid image) still has its matches explained: under the user / device (untagged)
    tagged = objects.withColumns({c: F.coalesce(c, F.lit(UNTAGGED)) for c in ("user_id", "device_id")})
    # one aggregation, keyed by frame_key alone (the frame's other columns are the same on all its objects)
    frames = (
        tagged.join(rule_labels, "label", "left_semi")
        .groupBy("frame_key")
        .agg(
            *[F.first(c).alias(c) for c in [*FRAME_COLUMNS[1:], "ingested_at", "event_date"]],
            F.collect_list(F.struct("label", "score", "area_fraction")).alias("_objects"),
            F.collect_set(F.when(F.col("score").isNotNull(), F.col("label"))).alias("_present"),
        )
    )
    r = F.broadcast(rules).alias("r")
    f = frames.alias("f")
    in_version = (F.col("r.valid_from") <= F.col("f.ingested_at")) & (
        F.col("r.valid_to").isNull() | (F.col("f.ingested_at") < F.col("r.valid_to"))
    )
    in_scope = (
        (F.col("r.scope_users").isNull() | F.array_contains("r.scope_users", F.col("f.user_id")))
        & (F.col("r.scope_devices").isNull() | F.array_contains("r.scope_devices", F.col("f.device_id")))
        & (F.col("r.scope_sites").isNull() | F.array_contains("r.scope_sites", F.col("f.site_id")))
    )

    min_area = F.col("r.min_area_fraction")

    def counts(o: Column) -> Column:
        """Whether an object counts for the rule: any object when the rule has no min_area_fraction, else one
        whose box reaches it (a box of unknown area does not)."""
        return min_area.isNull() | F.coalesce(reaches(o["area_fraction"], min_area), F.lit(False))

    def found(label: Column) -> Column:
        """What the frame shows of ``label`` (nulls when no object has it): the best score of its objects, the
        best score of those that count for the rule, and its largest box."""
        mine = F.filter("_objects", lambda o: o["label"] == label)
        return F.struct(
            label.alias("label"),
            F.array_max(F.transform(mine, lambda o: o["score"])).alias("best_score"),
            F.array_max(F.transform(F.filter(mine, counts), lambda o: o["score"])).alias("counted_score"),
            F.array_max(F.transform(mine, lambda o: o["area_fraction"])).alias("max_area"),
        )

    is_all = F.upper("r.quantifier") == "ALL"
    # The rule labels the frame shows (an object with a score) satisfy the quantifier: decided in the join from the
    # labels present, without the higher-order functions below, which Spark evaluates row by row without generated
    # code, and only for the pairs that match (pushed into the join, they ran for every pair, and twice).
    needed = F.size(F.array_distinct("r.labels"))
    shown = F.size(F.array_intersect("r.labels", "f._present"))
    satisfied = F.when(is_all, shown == needed).otherwise(shown > 0)
    pairs = f.join(r, in_version & in_scope & satisfied, "inner").select(
        *[F.col(f"f.{c}") for c in [*FRAME_COLUMNS, "ingested_at", "event_date"]],
        "r.rule_id",
        "r.rule_version",
        is_all.alias("_is_all"),
        needed.alias("_needed"),
        F.filter(
            F.transform(F.array_sort(F.array_distinct("r.labels")), found), lambda x: x["best_score"].isNotNull()
        ).alias("_found"),
    )
    # the labels with an object that counts; the match is large enough when they satisfy the quantifier
    counted = F.filter("_found", lambda x: x["counted_score"].isNotNull())
    large = F.when(F.col("_is_all"), F.size(counted) == F.col("_needed")).otherwise(F.size(counted) > 0)
    matched = pairs.withColumn("_large", large)
    # large enough: the labels and scores of the objects that count; else (area_too_small) of all the objects
    used = F.when(F.col("_large"), counted).otherwise(F.col("_found"))
    best = F.transform(used, lambda x: F.when(F.col("_large"), x["counted_score"]).otherwise(x["best_score"]))
    # the area min_area_fraction is checked on: ANY, the largest box; ALL, the smallest of the labels' largest
    # boxes (null when a label's boxes are all of unknown area)
    area = F.transform("_found", lambda x: x["max_area"])
    all_area = F.when(~F.exists(area, lambda a: a.isNull()), F.array_min(area))
    return matched.select(
        *FRAME_COLUMNS,
        F.col("rule_id").cast(T.IntegerType()).alias("rule_id"),
        F.col("rule_version").cast(T.IntegerType()).alias("rule_version"),
        F.transform(used, lambda x: x["label"]).alias("labels_matched"),
        F.when(F.col("_is_all"), F.array_min(best)).otherwise(F.array_max(best)).alias("frame_score"),
        F.when(F.col("_is_all"), all_area).otherwise(F.array_max(area)).alias("max_area_fraction"),
        "ingested_at",
        "event_date",
    )


def with_rule_terms(rule_matches: DataFrame, rules: DataFrame) -> DataFrame:
    """``MATCH_COLUMNS``: silver rule_matches with the terms of their rule version (severity, min_score,
    min_area_fraction, windows, cooldown_minutes), from the rules DataFrame (broadcast)."""
    terms = F.broadcast(rules.select("rule_id", "rule_version", *RULE_TERMS))
    return rule_matches.join(terms, ["rule_id", "rule_version"], "inner").select(*MATCH_COLUMNS)


def _offset_min() -> Column:
    """The match's local_tz_offset_min; 0 when unknown, or when it moves captured_at out of the years 1900-9999
    (silver no longer takes such a time, but a lake stopped by one before Dec 6 still holds it in rule_matches:
    its local date of year 10000 could not be written)."""
    offset = F.coalesce(F.col("local_tz_offset_min"), F.lit(0)).cast(T.LongType())
    local_s = F.unix_seconds("captured_at") + offset * 60
    return F.when((local_s >= FIRST_SECONDS) & (local_s < PAST_LAST_SECONDS), offset).otherwise(F.lit(0).cast("long"))


def _local_micros() -> Column:
    """Microseconds since the epoch of the site-local wall time (captured_at + local_tz_offset_min)."""
    return F.unix_micros("captured_at") + _offset_min() * _MICROS_PER_MINUTE


def site_local_date() -> Column:
    """The site-local date of a match: of captured_at plus local_tz_offset_min (0 when unknown)."""
    return F.date_from_unix_date(_local_day())


def _local_day() -> Column:
    """The site-local day of a match (days since 1970-01-01), counted in whole seconds (:func:`days_since_epoch`)."""
    return days_since_epoch(F.unix_seconds("captured_at") + _offset_min() * 60)


def _pre_reason() -> Column:
    """The reasons decided frame by frame, before episodes: invalid_image, area_too_small, outside_schedule."""
    local = _local_micros()
    weekday = F.pmod(_local_day() + 3, F.lit(7)) + 1  # 1970-01-01 was a Thursday (4); 1 = Monday .. 7 = Sunday
    minute = F.floor(F.pmod(local, F.lit(_MICROS_PER_DAY)) / F.lit(_MICROS_PER_MINUTE))
    # Whether a window holds the match: a fold over the windows (true when one does, null when none does and one
    # could not tell, as exists answers) whose start value carries the weekday and minute. Spark evaluates a
    # lambda window by window without generated code, and it worked both out again for each window of an exists
    # (323,472 matches of up to 14 windows: 3.2 s, folded 1.5 s).
    start = F.struct(weekday.alias("day"), minute.alias("minute"), F.lit(False).alias("in"))

    def step(acc: Column, w: Column) -> Column:
        holds = (w["weekday"] == acc["day"]) & (w["start_min"] <= acc["minute"]) & (acc["minute"] < w["end_min"])
        return F.struct(acc["day"].alias("day"), acc["minute"].alias("minute"), (acc["in"] | holds).alias("in"))

    in_window = F.aggregate("windows", start, step)["in"]
    return (
        F.when(~F.coalesce(F.col("is_valid_image"), F.lit(False)), F.lit("invalid_image"))
        .when(
            F.col("min_area_fraction").isNotNull()
            & ~F.coalesce(reaches(F.col("max_area_fraction"), F.col("min_area_fraction")), F.lit(False)),
            F.lit("area_too_small"),
        )
        .when(
            F.col("windows").isNotNull() & (F.lower("severity") != "critical") & ~in_window,
            F.lit("outside_schedule"),
        )
    )


def _alerted_episodes(episodes: DataFrame, prior: DataFrame | None) -> DataFrame:
    """Per key, fold its episodes in time order: an episode that passed alerts unless it starts less than its
    cooldown after the last_seen_at of the last episode that alerted (suppressed episodes extend nothing).
    ``episodes``: KEY, episode_no (1, 2, ... per key), start_us, last_us, is_passed, cooldown_us. ``prior``: KEY
    and prior_alert_us, the last_seen_at (epoch microseconds) of the key's last alerted episode before these;
    None when there is none.
    Returns KEY and ``_alerted``: array<boolean>, element i for episode_no i."""

    def step(acc: Column, e: Column) -> Column:
        in_cooldown = acc["last_alert_us"].isNotNull() & (e["start_us"] < acc["last_alert_us"] + e["cooldown_us"])
        is_alerted = e["is_passed"] & ~in_cooldown
        return F.struct(
            F.when(is_alerted, e["last_us"]).otherwise(acc["last_alert_us"]).alias("last_alert_us"),
            F.concat(acc["alerted"], F.array(is_alerted)).alias("alerted"),
        )

    ordered = F.array_sort(F.collect_list(F.struct("episode_no", "start_us", "last_us", "is_passed", "cooldown_us")))
    lists = episodes.groupBy(*KEY).agg(ordered.alias("_episodes"))
    if prior is None:
        lists = lists.withColumn("prior_alert_us", F.lit(None).cast(T.LongType()))
    else:
        lists = lists.join(F.broadcast(prior.select(*KEY, "prior_alert_us")), KEY, "left")
    zero = F.struct(
        F.col("prior_alert_us").cast(T.LongType()).alias("last_alert_us"),
        F.array().cast(T.ArrayType(T.BooleanType())).alias("alerted"),
    )
    return lists.select(*KEY, F.aggregate("_episodes", zero, step)["alerted"].alias("_alerted"))


def _passes(score: Column, threshold: Column, so_far: WindowSpec) -> Column:
    """Whether the exact median of ``score`` over the ``so_far`` frame :func:`reaches` ``threshold`` (a column
    that is constant over the frame), from running counts instead of a running percentile (linear in the
    episode): with n scores of which c reach the threshold, the median passes when 2c > n, and when 2c = n it is
    the mean of the largest score that does not reach it and the smallest that does, and passes when that mean
    reaches it (0.85 and 0.95 against 0.9: their mean is 0.8999999999999999 in floating point)."""
    n = F.count(F.lit(1)).over(so_far)
    ok = reaches(score, threshold)
    c = F.sum(F.when(ok, 1).otherwise(0)).over(so_far)
    below = F.max(F.when(~ok, score)).over(so_far)
    above = F.min(F.when(ok, score)).over(so_far)
    return (c * 2 > n) | ((c * 2 == n) & reaches((below + above) / 2, threshold))


def decide(matches: DataFrame, gap_seconds: float, prior: DataFrame | None = None) -> DataFrame:
    """The decision of every match: ``alert`` or the first reason that applies (``REASONS`` order).

    Matches left after invalid_image, area_too_small and outside_schedule form episodes per KEY in time order
    (a gap > gap_seconds starts a new one). An episode passes at its first frame where the exact median of its
    frame scores so far reaches min_score of its first match's rule version (:func:`reaches`: up to TOLERANCE);
    otherwise all its matches are below_score. A passing episode starting less than cooldown_minutes (its first
    match's version) after the last_seen_at of the previous alerted episode of its KEY is cooldown, else alert.
    ``prior`` (KEY, prior_alert_us) gives the last alerted episode's end before ``matches`` when they continue a
    history (:func:`redecide`).
    Returns ``DECISIONS``: the match columns but the rule terms (severity kept), local_date (site-local date of
    captured_at), episode_start_key and episode_started_at (first frame_key and captured_at of the episode; null
    outside episodes), episode_passed_at (captured_at of the frame where the episode passed; null if it never
    did) and decision.
    ``matches`` is evaluated twice (the per-key cooldown fold is joined back): persist it if it is costly.
    """
    # Only eligible matches form episodes (most matches of a busy rule are usually outside its schedule): the
    # others get their reason at once and skip the windows. One shuffle by KEY serves every window and
    # aggregation of the eligible ones (their partitions are finer than KEY).
    local_date = site_local_date().alias("local_date")
    pre = matches.withColumn("_pre", _pre_reason())
    suppressed = pre.where(F.col("_pre").isNotNull()).select(
        *MATCH_COLUMNS,
        local_date,
        F.lit(None).cast(T.StringType()).alias("episode_start_key"),
        F.lit(None).cast(T.TimestampType()).alias("episode_started_at"),
        F.lit(None).cast(T.TimestampType()).alias("episode_passed_at"),
        F.col("_pre").alias("decision"),
    )
    data = pre.where(F.col("_pre").isNull()).repartition(*KEY)
    by_key = Window.partitionBy(*KEY).orderBy(*ORDER)
    previous = F.lag("captured_at").over(by_key)
    gap = (F.unix_micros("captured_at") - F.unix_micros(previous)) / F.lit(1_000_000.0)
    is_new = previous.isNull() | (gap > F.lit(float(gap_seconds)))
    data = data.withColumn("_new", is_new.cast(T.LongType())).withColumn(
        "_episode_no", F.sum("_new").over(by_key.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    )
    in_episode = Window.partitionBy(*KEY, "_episode_no").orderBy(*ORDER)
    so_far = in_episode.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    whole = in_episode.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    data = (
        data.withColumn("episode_start_key", F.first("frame_key").over(so_far))
        .withColumn("episode_started_at", F.first("captured_at").over(so_far))
        .withColumn("_min_score", F.first("min_score").over(so_far))
        .withColumn("_cooldown", F.first("cooldown_minutes").over(so_far))
    )
    passes = _passes(F.col("frame_score"), F.col("_min_score"), so_far)
    data = data.withColumn("_passed_at", F.when(passes, F.col("captured_at"))).withColumn(
        "episode_passed_at", F.min("_passed_at").over(whole)
    )
    episodes = (
        data.groupBy(*KEY, "_episode_no")
        .agg(
            F.min(F.unix_micros("captured_at")).alias("start_us"),
            F.max(F.unix_micros("captured_at")).alias("last_us"),
            F.max(F.col("episode_passed_at").isNotNull()).alias("is_passed"),
            (F.max(F.coalesce(F.col("_cooldown"), F.lit(0))).cast(T.LongType()) * _MICROS_PER_MINUTE).alias(
                "cooldown_us"
            ),
        )
        .withColumnRenamed("_episode_no", "episode_no")
    )
    decision = (
        F.when(F.col("episode_passed_at").isNull(), F.lit("below_score"))
        .when(~F.element_at("_alerted", F.col("_episode_no").cast(T.IntegerType())), F.lit("cooldown"))
        .otherwise(F.lit(ALERT))
    )
    # joined on KEY alone: both sides are already partitioned by KEY (eligible matches have a user and a device:
    # frames without them are invalid images)
    decided = data.join(_alerted_episodes(episodes, prior), KEY, "left").select(
        *MATCH_COLUMNS,
        local_date,
        "episode_start_key",
        "episode_started_at",
        "episode_passed_at",
        decision.alias("decision"),
    )
    return decided.unionByName(suppressed).select(*DECIDED_COLUMNS)


def window_starts(decisions: DataFrame, new: DataFrame, gap_seconds: float) -> DataFrame:
    """Where each key's decisions must be recomputed from when ``new`` matches (``MATCH_COLUMNS``) join the
    stored ``decisions`` (``DECISIONS``): per KEY with a new eligible match, ``window_from``, the start of the
    stored episode the first new eligible match joins (the last stored eligible match at or before it, when at
    most ``gap_seconds`` before it), else that first new match's captured_at; and ``prior_alert_us``, the end
    (epoch microseconds) of the key's last alerted episode that started before window_from (null: none).
    Episodes that start before window_from cannot change: every new match comes more than the gap after them."""
    first_new = new.where(_pre_reason().isNull()).groupBy(*KEY).agg(F.min("captured_at").alias("_first_new"))
    stored = decisions.where(F.col("episode_started_at").isNotNull()).join(F.broadcast(first_new), KEY, "inner")
    last_before = (
        stored.where(F.col("captured_at") <= F.col("_first_new"))
        .groupBy(*KEY)
        .agg(F.max(F.struct("captured_at", "episode_started_at")).alias("_last"))
    )
    joined = (F.unix_micros("_first_new") - F.unix_micros(F.col("_last.captured_at"))) <= F.lit(
        int(gap_seconds * 1_000_000)
    )
    starts = first_new.join(last_before, KEY, "left").select(
        *KEY,
        F.when(joined, F.col("_last.episode_started_at")).otherwise(F.col("_first_new")).alias("window_from"),
    )
    prior = (
        decisions.where(F.col("decision") == ALERT)
        .join(F.broadcast(starts), KEY, "inner")
        .where(F.col("episode_started_at") < F.col("window_from"))
        .groupBy(*KEY)
        .agg(F.max(F.unix_micros("captured_at")).alias("prior_alert_us"))
    )
    return starts.join(prior, KEY, "left")


def window_matches(matches: DataFrame, new: DataFrame, starts: DataFrame) -> DataFrame:
    """What :func:`redecide` decides (``MATCH_COLUMNS``): the eligible ``matches`` (every match, new ones
    included) of each key of ``starts`` (:func:`window_starts`) from its window_from on, and the ``new`` matches
    that form no episode (invalid image, too small, outside the schedule). Read twice: persist it."""
    eligible = _pre_reason().isNull()
    window = (
        matches.join(F.broadcast(starts.select(*KEY, "window_from")), KEY, "inner")
        .where(eligible & (F.col("captured_at") >= F.col("window_from")))
        .select(*MATCH_COLUMNS)
    )
    return window.unionByName(new.where(~eligible).select(*MATCH_COLUMNS))


def redecide(decisions: DataFrame, window: DataFrame, starts: DataFrame, gap_seconds: float) -> DataFrame:
    """The whole new content of the local dates that new matches change: the ``window`` (:func:`window_matches`)
    decided with each key's cooldown carried in (``starts``), and the stored ``decisions`` of those dates outside
    the windows. Equal to :func:`decide` over every match, restricted to those dates."""
    recomputed = decide(window, gap_seconds, starts)
    dates = window.select(site_local_date().alias("local_date")).distinct()
    replaced = F.col("window_from").isNotNull() & (F.col("episode_started_at") >= F.col("window_from"))
    kept = (
        decisions.join(F.broadcast(dates), "local_date", "left_semi")
        .join(F.broadcast(starts.select(*KEY, "window_from")), KEY, "left")
        .where(~F.coalesce(replaced, F.lit(False)))
        .select(*DECIDED_COLUMNS)
    )
    return kept.unionByName(recomputed)


def build_alerts(decided: DataFrame) -> DataFrame:
    """gold alerts: one row per alerted episode (``ALERT_COLUMNS``). rule_version, severity, site_id and
    local_date are those of the episode's first match; median_score is the exact median over the episode."""
    first = F.min(F.struct(*ORDER, "rule_version", "severity", "site_id", "local_date"))
    episodes = (
        decided.where(F.col("decision") == ALERT)
        .groupBy(*KEY, "episode_start_key")
        .agg(
            first.alias("_first"),
            F.min("captured_at").alias("started_at"),
            F.max("captured_at").alias("last_seen_at"),
            F.count("*").alias("frames"),
            F.array_sort(F.array_distinct(F.flatten(F.collect_list("labels_matched")))).alias("labels_matched"),
            F.max("frame_score").alias("peak_score"),
            F.percentile("frame_score", F.lit(0.5)).alias("median_score"),
            F.min("episode_passed_at").alias("alerted_at"),
        )
    )
    alert_id = F.substring(
        F.sha2(
            F.concat_ws("\0", "user_id", "device_id", F.col("rule_id").cast(T.StringType()), "episode_start_key"), 256
        ),
        1,
        32,
    )
    return episodes.withColumn("alert_id", alert_id).select(
        "alert_id",
        F.concat(F.lit(DEDUP_PREFIX), F.col("rule_id").cast(T.StringType()), F.lit("/"), "alert_id").alias("dedup_key"),
        F.col("rule_id").cast(T.IntegerType()).alias("rule_id"),
        F.col("_first.rule_version").cast(T.IntegerType()).alias("rule_version"),
        F.col("_first.severity").alias("severity"),
        "user_id",
        "device_id",
        F.col("_first.site_id").alias("site_id"),
        "started_at",
        "last_seen_at",
        F.col("frames").cast(T.LongType()).alias("frames"),
        "labels_matched",
        F.col("peak_score").cast(T.DoubleType()).alias("peak_score"),
        F.col("median_score").cast(T.DoubleType()).alias("median_score"),
        F.col("episode_start_key").alias("first_frame_key"),
        "alerted_at",
        F.col("_first.local_date").alias("local_date"),
    )


def replace_alerts(stored: DataFrame, changed: DataFrame, starts: DataFrame) -> DataFrame:
    """gold alerts after :func:`redecide`: the ``stored`` alerts (``ALERT_COLUMNS``) less those of the episodes
    decided again (of a key of ``starts``, from its window_from on), and those episodes' alerts, built from
    ``changed`` (redecide's output: it holds each of them whole). Equal to :func:`build_alerts` over every
    decision: an episode that started before its key's window_from ended more than the gap before it."""
    window = F.broadcast(starts.select(*KEY, "window_from"))

    def again(started: str) -> Column:
        return F.coalesce(F.col(started) >= F.col("window_from"), F.lit(False))

    kept = stored.join(window, KEY, "left").where(~again("started_at")).select(*ALERT_COLUMNS)
    redone = build_alerts(changed.join(window, KEY, "inner").where(again("episode_started_at")))
    return kept.unionByName(redone)


def build_suppressed(decided: DataFrame) -> DataFrame:
    """gold suppressed_matches: matches that did not alert, counted per key, site-local day and reason
    (``SUPPRESSED_COLUMNS``)."""
    return (
        decided.where(F.col("decision") != ALERT)
        .groupBy(*KEY, "local_date", F.col("decision").alias("reason"))
        .agg(
            F.count("*").alias("matches"),
            F.min("captured_at").alias("first_at"),
            F.max("captured_at").alias("last_at"),
        )
        .select(
            "user_id",
            "device_id",
            F.col("rule_id").cast(T.IntegerType()).alias("rule_id"),
            "local_date",
            "reason",
            F.col("matches").cast(T.LongType()).alias("matches"),
            "first_at",
            "last_at",
        )
    )
