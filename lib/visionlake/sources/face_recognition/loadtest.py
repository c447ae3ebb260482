"""Gold load-test summary of the face recognition API: one row per k6 run and stage, with k6-style thresholds
(reference face-recognition-api.md §1: ``constant-vus`` stages of 4, 8 and 12 virtual users; thresholds 95 % of
requests under 3,000 ms and a failure rate under 5 %).

Pure DataFrame function of the silver ``load_test_points`` table (:data:`schema.LOAD_TEST_POINTS`: one row per
k6 sample, ``ts`` in UTC). The thresholds are parsed in Python when the plan is built.

Definitions, per run (``test_run_id``):

- **Stages** come from the run's ``vus`` samples ordered by ``ts`` (then ``source_offset``, the line's place in
  the file): a stage is a maximal run of consecutive samples with the same value. Stages of value 0 (before the
  first VU starts, after a ramp-down) are left out, the others are numbered 1, 2, ... in time order. Stage n
  covers [its first vus sample's ts, the next stage's first vus sample's ts), the next stage being a 0 one too;
  the last stage has no end: it takes every point from its start on, the run's last point included. Points
  before the first vus sample, or in a 0 stage, belong to no stage.
- Stage **0** is the whole run: every sample of the run, from its first point to its last (any metric).
- ``vus``: the stage's VUs; for the whole run, the most VUs of the run (null without vus samples).
- ``started_at``: the stage's first vus sample (the whole run: its first point); ``ended_at``: the next stage's
  first vus sample, excluded (the last stage and the whole run: the run's last point, included); ``seconds`` =
  ended_at - started_at, to the microsecond.
- ``requests``: the number of ``http_reqs`` samples (k6 writes one per request, of value 1: the same as the sum
  of their values); ``requests_per_second`` = requests / seconds (null when seconds is 0).
- ``p90_ms``, ``p95_ms``, ``p99_ms``, ``avg_ms``, ``max_ms``: of the ``http_req_duration`` samples, ALL of them
  (whatever their ``expected_response`` tag, as k6's own ``http_req_duration`` trend). The percentiles are EXACT
  (Spark's ``percentile``): over the n values sorted, percentile p is at position p * (n - 1), interpolated
  linearly between the two values around it. That is k6's own TrendSink.P (sorted values, ``pct * (count - 1)``,
  linear interpolation), so the values match k6's end-of-test summary; they differ only with no sample at all,
  where k6 reports 0 and these columns are null. (A k6 build whose trends keep an HDR histogram instead of the
  values would report approximate percentiles.)
- ``failure_rate``: the mean of the ``http_req_failed`` values (k6 counts the non-zero samples over all samples:
  the same for its 0/1 samples).
- ``thresholds``: one struct per threshold, in the order given: ``metric``, ``expression`` (as written),
  ``observed`` (the aggregation over the stage's samples) and ``passed`` (the comparison holds). A metric without
  a sample in the stage observes 0, as k6 does at the end of a test (an empty trend's p(95) is 0, an empty rate
  is 0, an empty counter counts 0). ``passed``: every threshold passed (true without thresholds). k6 only judges
  a whole run; per stage it is this table's reading.

Thresholds (:func:`parse_thresholds`) are k6's syntax, ``{metric: [expression, ...]}`` such as
``{"http_req_duration": ["p(95)<3000"], "http_req_failed": ["rate<0.05"]}``; an expression is
``aggregation operator number`` with optional spaces. Supported: ``http_req_duration`` (a trend) with ``p(N)``
(0 <= N <= 100), ``avg``, ``min``, ``max``, ``med``; ``http_req_failed`` (a rate) with ``rate``; ``http_reqs``
(a counter) with ``count`` (the sum of the values, as k6's counter); operators ``<``, ``<=``, ``>``, ``>=``,
``==``, ``!=``. Only unfiltered thresholds: a metric name with a tag filter (``http_req_duration{expected_response:
true}``) is refused, as is any other metric, aggregation (a counter's ``rate``, a gauge's ``value``), operator
(``===``) or form: :class:`ValueError` naming the metric and the expression.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

DURATION, FAILED, REQS, VUS = "http_req_duration", "http_req_failed", "http_reqs", "vus"
TREND, RATE, COUNTER = "trend", "rate", "counter"
METRIC_KINDS = {DURATION: TREND, FAILED: RATE, REQS: COUNTER}  # the metrics thresholds may name
AGGREGATIONS = {TREND: ("avg", "min", "max", "med", "p(N)"), RATE: ("rate",), COUNTER: ("count",)}
PERCENTILES = (0.9, 0.95, 0.99)  # p90_ms, p95_ms, p99_ms
WHOLE_RUN = 0  # the stage number of the whole run

OPERATORS: dict[str, Callable[[Column, Column], Column]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_EXPRESSION = re.compile(
    rf"^\s*(?P<aggregation>[a-z]+|p\((?P<percent>{_NUMBER})\))\s*(?P<operator><=|>=|==|!=|<|>)\s*"
    rf"(?P<value>{_NUMBER})\s*$"
)

STR, INT, LONG, DBL, BOOL, TS = (
    T.StringType(),
    T.IntegerType(),
    T.LongType(),
    T.DoubleType(),
    T.BooleanType(),
    T.TimestampType(),
)
THRESHOLD = T.StructType(
    [
        T.StructField("metric", STR, False),
        T.StructField("expression", STR, False),
        T.StructField("observed", DBL, False),
        T.StructField("passed", BOOL, False),
    ]
)
# one row per (test_run_id, stage); stage 0 is the whole run
LOAD_TEST_SUMMARY = T.StructType(
    [
        T.StructField("test_run_id", STR, True),
        T.StructField("stage", INT, False),
        T.StructField("vus", LONG, True),
        T.StructField("started_at", TS, True),
        T.StructField("ended_at", TS, True),
        T.StructField("seconds", DBL, True),
        T.StructField("requests", LONG, False),
        T.StructField("requests_per_second", DBL, True),
        T.StructField("p90_ms", DBL, True),
        T.StructField("p95_ms", DBL, True),
        T.StructField("p99_ms", DBL, True),
        T.StructField("avg_ms", DBL, True),
        T.StructField("max_ms", DBL, True),
        T.StructField("failure_rate", DBL, True),
        T.StructField("thresholds", T.ArrayType(THRESHOLD, False), False),
        T.StructField("passed", BOOL, False),
    ]
)


@dataclass(frozen=True)
class Threshold:
    """A parsed k6 threshold: ``aggregation`` is avg, min, max, med, p, rate or count; ``fraction`` the
    percentile of a ``p(N)`` (N / 100)."""

    metric: str
    expression: str
    aggregation: str
    fraction: float | None
    operator: str
    value: float


def parse_thresholds(thresholds: Mapping[str, Sequence[str]] | None) -> tuple[Threshold, ...]:
    """k6 thresholds ``{metric: [expression, ...]}`` parsed, in the order given; :class:`ValueError` naming the
    metric and the expression for anything unsupported (see the module docstring)."""
    parsed: list[Threshold] = []
    for metric, expressions in (thresholds or {}).items():
        if not isinstance(metric, str) or metric not in METRIC_KINDS:
            hint = " (tag-filtered thresholds are not supported)" if "{" in str(metric) else ""
            raise ValueError(
                f"thresholds {expressions!r} on metric {metric!r}: unsupported metric{hint}; supported: "
                f"{', '.join(METRIC_KINDS)}"
            )
        if isinstance(expressions, str | bytes) or not isinstance(expressions, Sequence):
            raise ValueError(f"thresholds of metric {metric!r} must be a list of expressions, not {expressions!r}")
        for expression in expressions:
            parsed.append(_parse(metric, expression))
    return tuple(parsed)


def _parse(metric: str, expression: object) -> Threshold:
    kind = METRIC_KINDS[metric]
    supported = ", ".join(AGGREGATIONS[kind])

    def refuse(reason: str) -> ValueError:
        return ValueError(
            f"threshold {expression!r} on metric {metric!r} ({kind}): {reason}; expected 'aggregation operator "
            f"number' with aggregation one of {supported} and operator one of {' '.join(OPERATORS)}"
        )

    if not isinstance(expression, str):
        raise refuse("not a string")
    found = _EXPRESSION.match(expression)
    if found is None:
        raise refuse("malformed expression")
    aggregation, percent = found["aggregation"], found["percent"]
    fraction = None
    if percent is not None:
        aggregation = "p"
        if not 0 <= float(percent) <= 100:
            raise refuse(f"percentile {percent} outside 0..100")
        fraction = float(percent) / 100
        if kind != TREND:
            raise refuse("p(N) applies to trends only")
    elif aggregation not in AGGREGATIONS[kind]:
        raise refuse(f"unsupported aggregation {aggregation!r}")
    value = float(found["value"])
    if not math.isfinite(value):
        raise refuse("the threshold value is not finite")
    return Threshold(metric, expression, aggregation, fraction, found["operator"], value)


def build_load_test_summary(points: DataFrame, thresholds: Mapping[str, Sequence[str]] | None) -> DataFrame:
    """Per k6 run: one row per stage of constant VUs and one for the whole run (stage 0), with request rate,
    latency percentiles, failure rate and the thresholds judged (see the module docstring). Columns:
    :data:`LOAD_TEST_SUMMARY`. :class:`ValueError` for an unsupported threshold, before any Spark work."""
    checks = parse_thresholds(thresholds)
    run = "test_run_id"
    samples = points.select(run, "metric", "ts", "value", "source_offset")

    bounds = samples.groupBy(run).agg(
        F.min("ts").alias("_first_ts"),
        F.max("ts").alias("_last_ts"),
        F.max(F.when(F.col("metric") == VUS, F.col("value"))).alias("_max_vus"),
    )
    in_order = Window.partitionBy(run).orderBy("ts", "source_offset")
    changes = (
        samples.where((F.col("metric") == VUS) & F.col("value").isNotNull())
        .withColumn("_changed", F.coalesce(F.lag("value").over(in_order) != F.col("value"), F.lit(True)))
        .withColumn(
            "_island",
            F.sum(F.col("_changed").cast("long")).over(in_order.rowsBetween(Window.unboundedPreceding, 0)),
        )
    )
    islands = changes.groupBy(run, "_island").agg(F.min("ts").alias("started_at"), F.max("value").alias("vus"))
    stages = (
        islands.withColumn("_next", F.lead("started_at").over(Window.partitionBy(run).orderBy("_island")))
        .where(F.col("vus") != 0)
        .withColumn("stage", F.row_number().over(Window.partitionBy(run).orderBy("_island")))
    )

    staged = (
        samples.alias("p")
        .join(
            F.broadcast(stages.alias("s")),
            (F.col(f"p.{run}") == F.col(f"s.{run}"))
            & (F.col("p.ts") >= F.col("s.started_at"))
            & (F.col("s._next").isNull() | (F.col("p.ts") < F.col("s._next"))),
        )
        .select(f"p.{run}", "p.metric", "p.ts", "p.value", "s.stage")
    )
    assigned = staged.unionByName(samples.select(run, "metric", "ts", "value", F.lit(WHOLE_RUN).alias("stage")))

    fractions = sorted({*PERCENTILES, *(c.fraction for c in checks if c.fraction is not None)})
    if any(c.aggregation == "med" for c in checks):
        fractions = sorted({*fractions, 0.5})
    duration = F.when(F.col("metric") == DURATION, F.col("value"))
    reqs = F.when(F.col("metric") == REQS, F.col("value"))
    stats = assigned.groupBy(run, "stage").agg(
        F.count(F.when(F.col("metric") == REQS, 1)).alias("requests"),
        F.sum(reqs).alias("_reqs_sum"),
        F.percentile(duration, fractions).alias("_percentiles"),
        F.avg(duration).alias("avg_ms"),
        F.min(duration).alias("_min_ms"),
        F.max(duration).alias("max_ms"),
        F.avg(F.when(F.col("metric") == FAILED, F.col("value"))).alias("failure_rate"),
    )

    periods = stages.join(bounds, run).select(
        run,
        "stage",
        "vus",
        "started_at",
        F.coalesce("_next", "_last_ts").alias("ended_at"),
    )
    periods = periods.unionByName(
        bounds.select(
            run,
            F.lit(WHOLE_RUN).alias("stage"),
            F.col("_max_vus").alias("vus"),
            F.col("_first_ts").alias("started_at"),
            F.col("_last_ts").alias("ended_at"),
        )
    )
    percentile = {fraction: F.col("_percentiles")[i] for i, fraction in enumerate(fractions)}
    summary = (
        periods.join(stats, [run, "stage"], "left")
        .withColumn("requests", F.coalesce(F.col("requests"), F.lit(0)))
        .withColumn("seconds", (F.unix_micros("ended_at") - F.unix_micros("started_at")) / 1_000_000.0)
        .withColumn("requests_per_second", F.when(F.col("seconds") > 0, F.col("requests") / F.col("seconds")))
        .withColumns({f"p{round(q * 100)}_ms": percentile[q] for q in PERCENTILES})
    )
    judged = [_judge(check, percentile) for check in checks]
    passed = reduce(lambda a, b: a & b, [j["passed"] for j in judged], F.lit(True))
    summary = summary.withColumns(
        {
            "thresholds": F.array(*judged) if judged else F.array().cast(T.ArrayType(THRESHOLD, False)),
            "passed": passed,
        }
    )
    return summary.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in LOAD_TEST_SUMMARY.fields])


def _judge(check: Threshold, percentile: Mapping[float, Column]) -> Column:
    """The threshold's struct: its observed value over the row's samples (0 when there is none, as k6 at the
    end of a test) and whether the comparison holds."""
    if check.aggregation == "p":
        observed = percentile[check.fraction]
    elif check.aggregation == "med":
        observed = percentile[0.5]
    else:
        column = {"avg": "avg_ms", "min": "_min_ms", "max": "max_ms", "rate": "failure_rate", "count": "_reqs_sum"}
        observed = F.col(column[check.aggregation])
    value = F.coalesce(observed.cast("double"), F.lit(0.0))
    holds = OPERATORS[check.operator](value, F.lit(check.value))
    return F.struct(
        F.lit(check.metric).alias("metric"),
        F.lit(check.expression).alias("expression"),
        value.alias("observed"),
        holds.alias("passed"),
    )
