"""Gold SLO tables of the face recognition API: daily and hourly SLIs with their error budget, and the
multiwindow, multi-burn-rate alerts (SRE Workbook, "Alerting on SLOs"; reference face-recognition-api.md §3).

Pure DataFrame functions of the silver ``requests`` table (:data:`schema.REQUESTS_TABLE`: one row per request,
``ts`` in UTC). Every time grain is cut on UTC epoch seconds, whatever the session's time zone.

Definitions, per endpoint:

- Two SLIs. **availability**: a request is good when it is not a 5xx (``error_class != 'server_5xx'``; a 4xx is
  the client's error and counts as good, a null class as good). **latency**: a request is good when
  ``latency_ms <= latency_target_ms`` (exactly at the target is good; a null latency is not good).
  The SLI is good requests / requests.
- The **budget rate** of an SLI is ``1 - objective`` (0.01 % of requests for 99.99 %). The **burn rate** over
  some requests is their error rate (bad / requests) divided by the budget rate: 1 spends the budget exactly
  over the SLO window, 14.4 spends 2 % of a 30-day budget in one hour.
- **Error budget consumed** over the trailing window of ``window_days`` days (the day and the ``window_days - 1``
  days before it; hourly: the hour and the ``24 * window_days - 1`` hours before it) = bad requests in the
  window / (budget rate * requests in the window); **remaining** = 1 - consumed, negative once the budget is
  overspent.
- Latency percentiles (p50, p95, p99) are EXACT (Spark's ``percentile``, not ``percentile_approx``): over the
  n non-null latencies sorted, percentile p is at position p * (n - 1), interpolated linearly between the two
  values around it (p95 of 100, 200, 400, 1000, 3000 is 1000 + 0.8 * 2000 = 2600). Null latencies are left
  out of the percentiles (but count as not good in ``share_under_target``).
- ``peak_rps``: the largest number of requests in one UTC calendar second of the day (hour).

Burn-rate alerts (:func:`build_burn_rate_alerts`): requests are counted in UTC-aligned 5-minute buckets per endpoint
(requests and bad requests of each SLI) and the end T of every bucket, empty or not, is an evaluation point: the
windows at the end of an empty bucket still hold the requests before it. A rule (long window L, short window S,
factor f, severity), L and S whole numbers of buckets, fires at T when the burn rate over the long window is >= f
AND the burn rate over the short window is >= f AND the long window holds at least ``min_requests`` requests (so a
quiet night cannot page). A window of length W at T is the buckets that end in (T - W, T], i.e. the requests with
``ts`` in [T - W, T). The comparison with f is exact (decimal: bad * den >= requests * num with num / den = f * (1 -
objective)), so a burn rate exactly at f fires even where binary floating point puts 0.144 / 0.01 at 14.3999…. A
rule whose short window holds no request does not fire (an empty window has no errors), so only the points whose
longest short window holds requests are computed: from an endpoint's first bucket with requests to the longest short
window after its last, skipping any longer gap (quiet days: none of them could fire), and up to the end of the
newest bucket with requests of any endpoint (no point is evaluated at a time the lake holds no data of). Firing
evaluation points of the same endpoint, SLI and rule in consecutive buckets (5 minutes apart) form one alert row; a
point that does not fire ends it: a sustained burn across a quiet bucket is one alert, and an alert lasts while the
short window still holds the bad requests after the endpoint's traffic stopped (up to 6 hours for 3d/6h), as far as
the lake's data goes. ``budget_share`` = f * L / (window_days * 1 day): the budget share spent when the rule fires
(2 % for 14.4 * 1 h / 30 d, 5 % for 6 * 6 h, 10 % for 1 * 3 d).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.transforms.times import PAST_LAST_SECONDS

AVAILABILITY, LATENCY = "availability", "latency"  # the SLIs
SLIS = (AVAILABILITY, LATENCY)
CLIENT_4XX, SERVER_5XX = "client_4xx", "server_5xx"  # error_class values
BUCKET_SECONDS = 300  # burn-rate alerts count requests in UTC-aligned 5-minute buckets
DAY_SECONDS, HOUR_SECONDS = 86_400, 3_600
PERCENTILES = (0.5, 0.95, 0.99)
EXACT = T.DecimalType(38, 0)  # the burn-rate comparison

# (long window s, short window s, burn-rate factor, severity): the SRE Workbook's three rules
DEFAULT_BURN_RULES: tuple[tuple[int, int, float, str], ...] = (
    (3_600, 300, 14.4, "page"),
    (21_600, 1_800, 6.0, "page"),
    (259_200, 21_600, 1.0, "ticket"),
)


@dataclass(frozen=True)
class Objectives:
    """The SLO parameters. ``availability`` and ``latency`` are objectives (shares of good requests, below 1);
    ``window_days`` is the SLO window; ``min_requests`` the requests a rule's long window must hold to fire;
    ``burn_rules`` are (long window s, short window s, burn-rate factor, severity), both windows whole numbers
    of 5-minute buckets."""

    latency_target_ms: float = 1000.0
    availability: float = 0.9999
    latency: float = 0.99
    window_days: int = 30
    min_requests: int = 100
    burn_rules: tuple[tuple[int, int, float, str], ...] = DEFAULT_BURN_RULES

    def __post_init__(self) -> None:
        rules = tuple(
            (int(long), int(short), float(factor), str(severity)) for long, short, factor, severity in self.burn_rules
        )
        object.__setattr__(self, "burn_rules", rules)  # lists from a config file become tuples
        if not self.latency_target_ms > 0:
            raise ValueError(f"latency_target_ms must be positive, not {self.latency_target_ms}")
        for name in SLIS:
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"the {name} objective must be between 0 and 1 (excluded), not {getattr(self, name)}")
        if self.window_days < 1 or self.min_requests < 0:
            raise ValueError(f"window_days must be >= 1 and min_requests >= 0: {self.window_days}, {self.min_requests}")
        for long, short, factor, _ in rules:
            if short <= 0 or long % BUCKET_SECONDS or short % BUCKET_SECONDS or short > long or factor <= 0:
                raise ValueError(
                    f"burn rule ({long}, {short}, {factor}): windows must be multiples of {BUCKET_SECONDS} s, "
                    "the short one no longer than the long one, and the factor positive"
                )

    def budget_rate(self, sli: str) -> Decimal:
        """1 - the SLI's objective, in decimal (1 - 0.9999 is 0.0001, not 9.999999999998899e-05)."""
        return Decimal(1) - Decimal(repr(getattr(self, sli)))


def _field(name: str, kind: T.DataType) -> T.StructField:
    return T.StructField(name, kind, True)


STR, DBL, LONG, TS, DATE = T.StringType(), T.DoubleType(), T.LongType(), T.TimestampType(), T.DateType()

_SUMMARY_FIELDS = [
    _field("requests", LONG),
    _field("latency_p50_ms", DBL),
    _field("latency_p95_ms", DBL),
    _field("latency_p99_ms", DBL),
    _field("share_under_target", DBL),
    _field("availability", DBL),
    _field("client_4xx", LONG),
    _field("server_5xx", LONG),
    _field("peak_rps", LONG),
]
_BUDGET_FIELDS = [
    _field("window_requests", LONG),
    _field("availability_budget_consumed", DBL),
    _field("availability_budget_remaining", DBL),
    _field("latency_budget_consumed", DBL),
    _field("latency_budget_remaining", DBL),
]
# one row per (endpoint, event_date)
SLO_DAILY = T.StructType([_field("endpoint", STR), *_SUMMARY_FIELDS, *_BUDGET_FIELDS, _field("event_date", DATE)])
# one row per (endpoint, hour): hour is the hour's UTC start, event_date its UTC date
SLO_HOURLY = T.StructType(
    [
        _field("endpoint", STR),
        _field("hour", TS),
        *_SUMMARY_FIELDS,
        _field("availability_burn_rate", DBL),
        _field("latency_burn_rate", DBL),
        *_BUDGET_FIELDS,
        _field("event_date", DATE),
    ]
)
# one row per run of consecutive firing evaluation points of an (endpoint, SLI, rule)
BURN_RATE_ALERTS = T.StructType(
    [
        _field("endpoint", STR),
        _field("sli", STR),
        _field("rule", STR),  # "<long>/<short>", e.g. "1h/5m"
        _field("severity", STR),
        _field("factor", DBL),
        _field("fired_from", TS),  # the first evaluation point (a bucket's end, UTC)
        _field("fired_to", TS),  # the last one
        _field("evaluations", LONG),
        _field("peak_long_burn_rate", DBL),
        _field("peak_short_burn_rate", DBL),
        _field("requests_in_long_window", LONG),  # at the peak of the long burn rate (the first such point)
        _field("budget_share", DBL),
    ]
)


def build_slo_daily(requests: DataFrame, objectives: Objectives) -> DataFrame:
    """Per endpoint and UTC date: the day's SLIs and latency percentiles, and the error budget of each SLI over
    the trailing ``window_days`` days ending with that day. Columns: :data:`SLO_DAILY`."""
    timed = _timed(requests, objectives)
    summary = _summary(timed, ["endpoint", "event_date"])
    day = F.unix_date("event_date").cast("long")
    return _with_budget(summary.withColumn("_unit", day), objectives.window_days, objectives).select(*_typed(SLO_DAILY))


def build_slo_hourly(requests: DataFrame, objectives: Objectives) -> DataFrame:
    """Per endpoint and UTC hour: the hour's SLIs, latency percentiles and burn rate of each SLI, and the error
    budget of each SLI over the trailing ``24 * window_days`` hours ending with that hour. Columns:
    :data:`SLO_HOURLY`."""
    timed = _timed(requests, objectives).withColumn("_hour_s", _floor_to(F.col("_epoch_s"), HOUR_SECONDS))
    summary = _summary(timed, ["endpoint", "_hour_s", "event_date"])
    burn = {
        f"{sli}_burn_rate": (F.col(f"_bad_{sli}") / F.col("requests")) / float(objectives.budget_rate(sli))
        for sli in SLIS
    }
    summary = summary.withColumns(
        {"hour": F.timestamp_seconds("_hour_s"), "_unit": (F.col("_hour_s") / HOUR_SECONDS).cast("long")}
    )
    return _with_budget(summary.withColumns(burn), 24 * objectives.window_days, objectives).select(*_typed(SLO_HOURLY))


def build_burn_rate_alerts(requests: DataFrame, objectives: Objectives) -> DataFrame:
    """The multiwindow, multi-burn-rate rules of ``objectives.burn_rules`` evaluated at the end of every
    5-minute bucket, empty or not, per endpoint and SLI; one row per run of firing evaluation points in
    consecutive buckets (see the module docstring). Columns: :data:`BURN_RATE_ALERTS`."""
    timed = _timed(requests, objectives).withColumn("bucket", _floor_to(F.col("_epoch_s"), BUCKET_SECONDS))
    counted = timed.groupBy("endpoint", "bucket").agg(
        F.count(F.lit(1)).alias("requests"), *[F.sum(f"_bad_{sli}").alias(f"_bad_{sli}") for sli in SLIS]
    )
    buckets = _with_empty_buckets(counted, max(short for _, short, _, _ in objectives.burn_rules))
    per_sli = buckets.select(
        "endpoint",
        "bucket",
        "requests",
        F.explode(
            F.array(*[F.struct(F.lit(sli).alias("sli"), F.col(f"_bad_{sli}").alias("bad")) for sli in SLIS])
        ).alias("s"),
    ).select("endpoint", "bucket", "requests", "s.sli", "s.bad")

    ordered = Window.partitionBy("endpoint", "sli").orderBy("bucket")
    sums: dict[str, Column] = {}
    for seconds in sorted({w for rule in objectives.burn_rules for w in rule[:2]}):
        trailing = ordered.rangeBetween(-(seconds - BUCKET_SECONDS), 0)
        sums[f"_req_{seconds}"] = F.sum("requests").over(trailing)
        sums[f"_bad_{seconds}"] = F.sum("bad").over(trailing)
    points = per_sli.withColumns(sums)

    budget = F.lit(None).cast("double")
    for sli in SLIS:
        budget = F.when(F.col("sli") == sli, F.lit(float(objectives.budget_rate(sli)))).otherwise(budget)
    evaluated = []
    for long, short, factor, severity in objectives.burn_rules:
        # an empty short window has no errors (0 * den >= 0 * num would hold): it never fires
        fires = (F.col(f"_req_{short}") > 0) & (F.col(f"_req_{long}") >= objectives.min_requests)
        for window in (long, short):
            fires = fires & _at_least(F.col(f"_bad_{window}"), F.col(f"_req_{window}"), factor, objectives)
        evaluated.append(
            F.struct(
                F.lit(f"{_duration(long)}/{_duration(short)}").alias("rule"),
                F.lit(severity).alias("severity"),
                F.lit(factor).alias("factor"),
                F.lit(factor * long / (objectives.window_days * DAY_SECONDS)).alias("budget_share"),
                fires.alias("fires"),
                _burn_rate(F.col(f"_bad_{long}"), F.col(f"_req_{long}"), budget).alias("long_burn_rate"),
                _burn_rate(F.col(f"_bad_{short}"), F.col(f"_req_{short}"), budget).alias("short_burn_rate"),
                F.col(f"_req_{long}").alias("long_requests"),
            )
        )
    # a point at midnight of year 10000 (the end of 9999's last bucket) is past the instants the lake holds: until
    # Dec 6 an alert firing there could not be written, and every later run failed
    held = F.col("bucket") + BUCKET_SECONDS < PAST_LAST_SECONDS
    firing = (
        points.select("endpoint", "sli", "bucket", F.explode(F.array(*evaluated)).alias("r"))
        .select("endpoint", "sli", "bucket", "r.*")
        .where(F.col("fires") & held)
    )
    # consecutive buckets keep bucket / 300 - row number constant: one island per run of firing points
    by_rule = Window.partitionBy("endpoint", "sli", "rule").orderBy("bucket")
    islands = firing.withColumn(
        "_island", (F.col("bucket") / BUCKET_SECONDS).cast("long") - F.row_number().over(by_rule)
    )
    peak = F.max(F.struct("long_burn_rate", (-F.col("bucket")).alias("earliest"), "long_requests"))
    alerts = islands.groupBy("endpoint", "sli", "rule", "severity", "factor", "budget_share", "_island").agg(
        F.timestamp_seconds(F.min("bucket") + BUCKET_SECONDS).alias("fired_from"),
        F.timestamp_seconds(F.max("bucket") + BUCKET_SECONDS).alias("fired_to"),
        F.count(F.lit(1)).alias("evaluations"),
        F.max("long_burn_rate").alias("peak_long_burn_rate"),
        F.max("short_burn_rate").alias("peak_short_burn_rate"),
        peak["long_requests"].alias("requests_in_long_window"),
    )
    return alerts.select(*_typed(BURN_RATE_ALERTS))


# ---- helpers ----------------------------------------------------------------------------------------------


def _flag(condition: Column) -> Column:
    """1 when the condition holds, 0 when it does not or is null."""
    return F.coalesce(condition, F.lit(False)).cast("long")


def _timed(requests: DataFrame, objectives: Objectives) -> DataFrame:
    """The columns the SLOs read, the request's UTC epoch second and its bad flags per SLI."""
    return requests.select(
        "endpoint",
        "event_date",
        "latency_ms",
        F.unix_seconds("ts").alias("_epoch_s"),
        _flag(F.col("error_class") == CLIENT_4XX).alias("_is_4xx"),
        _flag(F.col("error_class") == SERVER_5XX).alias(f"_bad_{AVAILABILITY}"),
        (1 - _flag(F.col("latency_ms") <= objectives.latency_target_ms)).alias(f"_bad_{LATENCY}"),
    )


def _floor_to(epoch_s: Column, seconds: int) -> Column:
    return (F.floor(epoch_s / seconds) * seconds).cast("long")


def _summary(timed: DataFrame, keys: list[str]) -> DataFrame:
    """Per ``keys``: requests, exact latency percentiles, SLIs, 4xx and 5xx counts, bad counts and peak_rps."""
    requests = F.count(F.lit(1))
    stats = timed.groupBy(*keys).agg(
        requests.alias("requests"),
        F.percentile("latency_ms", list(PERCENTILES)).alias("_percentiles"),
        F.sum("_is_4xx").alias("client_4xx"),
        *[F.sum(f"_bad_{sli}").alias(f"_bad_{sli}") for sli in SLIS],
    )
    seconds = timed.groupBy(*keys, "_epoch_s").agg(requests.alias("_in_second"))
    peaks = seconds.groupBy(*keys).agg(F.max("_in_second").alias("peak_rps"))
    joined = stats.alias("s").join(
        peaks.alias("p"), [F.col(f"s.{k}").eqNullSafe(F.col(f"p.{k}")) for k in keys]
    )  # null-safe: a null endpoint keeps its row
    return joined.select("s.*", "p.peak_rps").withColumns(
        {
            **{f"latency_p{round(p * 100)}_ms": F.col("_percentiles")[i] for i, p in enumerate(PERCENTILES)},
            "share_under_target": 1 - F.col(f"_bad_{LATENCY}") / F.col("requests"),
            "availability": 1 - F.col(f"_bad_{AVAILABILITY}") / F.col("requests"),
            "server_5xx": F.col(f"_bad_{AVAILABILITY}"),
        }
    )


def _with_budget(summary: DataFrame, units: int, objectives: Objectives) -> DataFrame:
    """The error budget of each SLI over the ``units`` trailing units (``_unit``: a day or hour number) ending
    with the row's."""
    trailing = Window.partitionBy("endpoint").orderBy("_unit").rangeBetween(-(units - 1), 0)
    window_requests = F.sum("requests").over(trailing)
    columns: dict[str, Column] = {"window_requests": window_requests}
    for sli in SLIS:
        consumed = F.sum(f"_bad_{sli}").over(trailing) / (window_requests * float(objectives.budget_rate(sli)))
        columns[f"{sli}_budget_consumed"] = consumed
    summary = summary.withColumns(columns)
    return summary.withColumns({f"{sli}_budget_remaining": 1 - F.col(f"{sli}_budget_consumed") for sli in SLIS})


def _with_empty_buckets(counted: DataFrame, longest_short: int) -> DataFrame:
    """The per-endpoint bucket counts (``endpoint``, ``bucket``, ``requests``, ``_bad_<sli>``) with a row of zero
    counts for every empty bucket a rule could fire at: those whose end is at most ``longest_short`` seconds (the
    longest short window) after the start of a bucket with requests. At any later bucket every rule's short
    window is empty, so none fires there. Each bucket with requests is followed by the empty buckets up to the
    next one with requests, at most ``longest_short / 300 - 1`` of them: never more rows than the buckets the
    requests span plus the longest short window after the last, and none for a quiet day. None after the newest
    bucket with requests of any endpoint: the lake holds no request after it, though later ones may come (an
    alert would claim to fire at times the lake knows nothing of; the next run with them extends it)."""
    following = F.lead("bucket").over(Window.partitionBy("endpoint").orderBy("bucket"))
    counted = counted.crossJoin(F.broadcast(counted.agg(F.max("bucket").alias("_newest"))))
    last = F.least(F.col("bucket") + (longest_short - BUCKET_SECONDS), F.col("_newest"))
    until = F.least(F.col("_following") - BUCKET_SECONDS, last)  # least skips a null: no following bucket
    filled = counted.withColumn("_following", following).select(
        "*", F.posexplode(F.sequence("bucket", until, F.lit(BUCKET_SECONDS).cast("long"))).alias("_pos", "_bucket")
    )
    counts = ["requests", *[f"_bad_{sli}" for sli in SLIS]]
    return filled.select(
        "endpoint",
        F.col("_bucket").alias("bucket"),
        *[F.when(F.col("_pos") == 0, F.col(c)).otherwise(F.lit(0).cast("long")).alias(c) for c in counts],
    )


def _burn_rate(bad: Column, requests: Column, budget: Column) -> Column:
    """bad / requests / budget rate; null over no request (an empty window, which never fires)."""
    return F.when(requests > 0, bad / requests / budget)


def _at_least(bad: Column, requests: Column, factor: float, objectives: Objectives) -> Column:
    """bad / requests / (1 - objective of the row's ``sli``) >= factor, exactly: bad * den >= requests * num with
    num / den = factor * (1 - objective) as a fraction of integers, in decimal(38, 0) (no overflow, no rounding)."""
    exact = F.lit(False)
    for sli in SLIS:
        num, den = (Decimal(repr(factor)) * objectives.budget_rate(sli)).as_integer_ratio()
        holds = bad.cast(EXACT) * F.lit(str(den)).cast(EXACT) >= requests.cast(EXACT) * F.lit(str(num)).cast(EXACT)
        exact = F.when(F.col("sli") == sli, holds).otherwise(exact)
    return exact


def _typed(schema: T.StructType) -> list[Column]:
    return [F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields]


def _duration(seconds: int) -> str:
    """3600 -> "1h", 300 -> "5m", 259200 -> "3d"."""
    for unit, size in (("d", DAY_SECONDS), ("h", HOUR_SECONDS), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
