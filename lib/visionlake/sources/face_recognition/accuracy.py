"""Gold biometric-accuracy tables of the face_recognition source (ISO/IEC 19795-1), from the silver ``evaluations``
table (one row per run and probe): the rates at each run's own threshold and the threshold sweep (DET curve).

Definitions:

- A genuine attempt is a probe with ``in_gallery`` true (its identity is enrolled), an impostor attempt a probe with
  ``in_gallery`` false. A probe with ``in_gallery`` null cannot be scored and is left out of every count. A probe
  whose ``distance`` is null had no face found: a failure to acquire (FTA); the other probes are *acquired*.
- At the run's own threshold (:func:`build_evaluation_rates`) the recorded decision is used: an acquired genuine
  probe is a false non-match when ``predicted_identity`` is null or differs from ``probe_identity``; an acquired
  impostor probe is a false match when ``predicted_identity`` is not null.
- FNMR = false non-matches / acquired genuine probes; FMR = false matches / acquired impostor probes.
- FTA = failures to acquire / probes; FTA_G and FTA_I are the same over the genuine and over the impostor probes.
- FRR = FTA_G + FNMR * (1 - FTA_G) = (genuine FTAs + false non-matches) / genuine probes;
  FAR = FMR * (1 - FTA_I) = false matches / impostor probes. Both are computed from those counts, so a population
  where no probe was acquired has an FRR of 1 and a FAR of 0 while its FNMR and FMR are null.
- Threshold sweep (:func:`build_threshold_sweep`, the DET curve's points), from the recorded distances: at a
  threshold t a distance <= t is a match; FNMR(t) = acquired genuine probes with distance > t / acquired genuine
  probes; FMR(t) = acquired impostor probes with distance <= t / acquired impostor probes. The recorded distance is
  to the nearest gallery face whatever its identity, so a genuine probe matched to a wrong identity counts as a
  match here: FNMR(t) at the run's threshold can be lower than the FNMR of the recorded decisions.
- Every rate comes with its error count, its denominator and a 95 % Wilson score interval
  (:func:`wilson_interval`, z = 1.959963984540054); with no errors the interval is the "rule of three", 0 to 3/n
  (at most 1). A rate whose denominator is 0 is null, and so is its interval.

Rates are doubles in 0..1, not percent. Pure DataFrame functions (``pyspark.sql.functions`` only); each returns
its declared schema (:data:`EVALUATION_RATES`, :data:`THRESHOLD_SWEEP`): those columns in that order and of those
types; counts are never null. (A column declared nullable comes out nullable from silver's schema, where every
column is; Spark keeps an input column's stricter nullability.)
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

Z_95 = 1.959963984540054  # the standard normal's 97.5 % quantile: a two-sided 95 % interval
RULE_OF_THREE = 3.0

STR, DBL, LONG, BOOL = T.StringType(), T.DoubleType(), T.LongType(), T.BooleanType()


def _fields(*specs: tuple[str, T.DataType, bool]) -> list[T.StructField]:
    return [T.StructField(name, kind, nullable) for name, kind, nullable in specs]


def _count_fields(name: str) -> list[T.StructField]:
    return _fields((name, LONG, False))


def _rate_fields(name: str) -> list[T.StructField]:
    return _fields((name, DBL, True), (f"{name}_low", DBL, True), (f"{name}_high", DBL, True))


_RUN = _fields(("run_id", STR, True), ("protocol", STR, True), ("model", STR, True), ("gallery_size", LONG, True))

# one row per (run_id, threshold); counts are never null, rates (and their bounds) are null when their denominator
# is 0. Denominators: fta -> probes, genuine_fta and frr -> genuine_probes, impostor_fta and far -> impostor_probes,
# fnmr -> acquired_genuine_probes, fmr -> acquired_impostor_probes.
EVALUATION_RATES = T.StructType(
    [
        *_RUN,
        *_fields(("threshold", DBL, True)),
        *_count_fields("probes"),
        *_count_fields("genuine_probes"),
        *_count_fields("impostor_probes"),
        *_count_fields("fta_count"),
        *_rate_fields("fta"),
        *_count_fields("genuine_fta_count"),
        *_rate_fields("genuine_fta"),
        *_count_fields("impostor_fta_count"),
        *_rate_fields("impostor_fta"),
        *_count_fields("acquired_genuine_probes"),
        *_count_fields("false_non_matches"),
        *_rate_fields("fnmr"),
        *_count_fields("acquired_impostor_probes"),
        *_count_fields("false_matches"),
        *_rate_fields("fmr"),
        *_count_fields("frr_errors"),
        *_rate_fields("frr"),
        *_count_fields("far_errors"),
        *_rate_fields("far"),
    ]
)

# one row per run and grid threshold (the DET curve's points)
THRESHOLD_SWEEP = T.StructType(
    [
        *_RUN,
        *_fields(("threshold", DBL, False), ("is_run_threshold", BOOL, False)),
        *_count_fields("acquired_genuine_probes"),
        *_count_fields("false_non_matches"),
        *_rate_fields("fnmr"),
        *_count_fields("acquired_impostor_probes"),
        *_count_fields("false_matches"),
        *_rate_fields("fmr"),
    ]
)


def wilson_interval(errors: Column, n: Column) -> tuple[Column, Column]:
    """The 95 % Wilson score interval (low, high) of the proportion ``errors`` / ``n``:
    (p + z²/2n ± z·sqrt(p(1 - p)/n + z²/4n²)) / (1 + z²/n) with p = errors / n, clamped to 0..1. With no errors it
    is the rule of three, 0 to min(1, 3/n); with n 0 (or null) both bounds are null."""
    x, total = errors.cast("double"), n.cast("double")
    z2 = Z_95 * Z_95
    p = x / total
    scale = 1.0 + z2 / total
    centre = (p + z2 / (2.0 * total)) / scale
    half_width = Z_95 * F.sqrt(p * (1.0 - p) / total + z2 / (4.0 * total * total)) / scale
    zero, one = F.lit(0.0), F.lit(1.0)
    low = F.when(total > 0, F.when(x == 0, zero).otherwise(F.greatest(zero, centre - half_width)))
    high = F.when(
        total > 0,
        F.when(x == 0, F.least(one, RULE_OF_THREE / total)).otherwise(F.least(one, centre + half_width)),
    )
    return low, high


def _rate(name: str, errors: str, n: str) -> list[Column]:
    low, high = wilson_interval(F.col(errors), F.col(n))
    rate = F.when(F.col(n) > 0, F.col(errors).cast("double") / F.col(n))
    return [rate.alias(name), low.alias(f"{name}_low"), high.alias(f"{name}_high")]


def _count(condition: Column) -> Column:
    return F.count(F.when(condition, F.lit(1)))


def _scored(evaluations: DataFrame) -> DataFrame:
    return evaluations.where(F.col("in_gallery").isNotNull())


def _populations() -> tuple[Column, Column, Column]:
    """(genuine, impostor, acquired) conditions of a probe."""
    return F.col("in_gallery"), ~F.col("in_gallery"), F.col("distance").isNotNull()


def build_evaluation_rates(evaluations: DataFrame) -> DataFrame:
    """Per run and recorded threshold: probes, FTA (over every probe, the genuine ones and the impostor ones), FNMR
    and FMR of the recorded decisions, FRR and FAR, each with its count, denominator and Wilson interval
    (:data:`EVALUATION_RATES`). Protocol, model and gallery size are the run's (the greatest if they vary)."""
    genuine, impostor, acquired = _populations()
    predicted, claimed = F.col("predicted_identity"), F.col("probe_identity")
    false_non_match = genuine & acquired & (predicted.isNull() | ~predicted.eqNullSafe(claimed))
    false_match = impostor & acquired & predicted.isNotNull()
    counts = (
        _scored(evaluations)
        .groupBy("run_id", "threshold")
        .agg(
            F.max("protocol").alias("protocol"),
            F.max("model").alias("model"),
            F.max("gallery_size").alias("gallery_size"),
            F.count(F.lit(1)).alias("probes"),
            _count(genuine).alias("genuine_probes"),
            _count(impostor).alias("impostor_probes"),
            _count(~acquired).alias("fta_count"),
            _count(genuine & ~acquired).alias("genuine_fta_count"),
            _count(impostor & ~acquired).alias("impostor_fta_count"),
            _count(genuine & acquired).alias("acquired_genuine_probes"),
            _count(false_non_match).alias("false_non_matches"),
            _count(impostor & acquired).alias("acquired_impostor_probes"),
            _count(false_match).alias("false_matches"),
        )
        .withColumns(
            {
                "frr_errors": F.col("genuine_fta_count") + F.col("false_non_matches"),
                "far_errors": F.col("false_matches"),
            }
        )
    )
    return counts.select(
        "run_id",
        "protocol",
        "model",
        "gallery_size",
        "threshold",
        "probes",
        "genuine_probes",
        "impostor_probes",
        "fta_count",
        *_rate("fta", "fta_count", "probes"),
        "genuine_fta_count",
        *_rate("genuine_fta", "genuine_fta_count", "genuine_probes"),
        "impostor_fta_count",
        *_rate("impostor_fta", "impostor_fta_count", "impostor_probes"),
        "acquired_genuine_probes",
        "false_non_matches",
        *_rate("fnmr", "false_non_matches", "acquired_genuine_probes"),
        "acquired_impostor_probes",
        "false_matches",
        *_rate("fmr", "false_matches", "acquired_impostor_probes"),
        "frr_errors",
        *_rate("frr", "frr_errors", "genuine_probes"),
        "far_errors",
        *_rate("far", "far_errors", "impostor_probes"),
    ).to(EVALUATION_RATES)


def build_threshold_sweep(evaluations: DataFrame, grid: list[float]) -> DataFrame:
    """Per run and threshold t of ``grid`` (duplicates count once): FNMR(t) and FMR(t) from the recorded distances,
    each with its count, denominator and Wilson interval, and ``is_run_threshold`` (t is a threshold the run
    recorded) (:data:`THRESHOLD_SWEEP`). A run is read once: each acquired probe falls in the bin of the smallest
    grid threshold at or above its distance (past the last one: a bin of its own), bins are counted per run, and
    the matches at t are the cumulative count of the bins up to t's."""
    if any(math.isnan(t) for t in grid):
        raise ValueError(f"the grid has a NaN threshold: {grid}")
    points = sorted({float(t) for t in grid})
    genuine, impostor, acquired = _populations()
    grid_df = evaluations.sparkSession.createDataFrame(
        list(enumerate(points)),
        T.StructType(_fields(("grid_bin", T.IntegerType(), False), ("grid_threshold", DBL, False))),
    )
    thresholds = F.array(*[F.lit(t) for t in points]) if points else F.array().cast("array<double>")
    # the number of grid thresholds below the distance: the index of the first one >= distance (null: no face)
    bin_of = F.when(acquired, F.size(F.filter(thresholds, lambda t: t < F.col("distance"))))
    histogram = (
        _scored(evaluations)
        .withColumn("bin", bin_of)
        .groupBy("run_id", "bin")
        .agg(
            F.max("protocol").alias("protocol"),
            F.max("model").alias("model"),
            F.max("gallery_size").alias("gallery_size"),
            F.collect_set("threshold").alias("thresholds"),
            _count(genuine & acquired).alias("genuine"),
            _count(impostor & acquired).alias("impostor"),
        )
    )
    runs = histogram.groupBy("run_id").agg(
        F.max("protocol").alias("protocol"),
        F.max("model").alias("model"),
        F.max("gallery_size").alias("gallery_size"),
        F.array_distinct(F.flatten(F.collect_list("thresholds"))).alias("thresholds"),
        _total(F.sum("genuine")).alias("acquired_genuine_probes"),
        _total(F.sum("impostor")).alias("acquired_impostor_probes"),
        F.collect_list(F.struct("bin", "genuine", "impostor")).alias("histogram"),
    )

    def up_to_point(field: str) -> Column:  # acquired probes of the population with a distance <= the grid point's
        bins = F.filter("histogram", lambda h: h["bin"] <= F.col("grid_bin"))
        return _total(F.aggregate(bins, F.lit(0).cast("long"), lambda total, h: total + h[field]))

    return (
        runs.crossJoin(F.broadcast(grid_df))
        .select(
            "run_id",
            "protocol",
            "model",
            "gallery_size",
            F.col("grid_threshold").alias("threshold"),
            F.coalesce(F.array_contains("thresholds", F.col("grid_threshold")), F.lit(False)).alias("is_run_threshold"),
            "acquired_genuine_probes",
            (F.col("acquired_genuine_probes") - up_to_point("genuine")).alias("false_non_matches"),
            "acquired_impostor_probes",
            up_to_point("impostor").alias("false_matches"),
        )
        .select(
            "run_id",
            "protocol",
            "model",
            "gallery_size",
            "threshold",
            "is_run_threshold",
            "acquired_genuine_probes",
            "false_non_matches",
            *_rate("fnmr", "false_non_matches", "acquired_genuine_probes"),
            "acquired_impostor_probes",
            "false_matches",
            *_rate("fmr", "false_matches", "acquired_impostor_probes"),
        )
        .to(THRESHOLD_SWEEP)
    )


def _total(count: Column) -> Column:
    return F.coalesce(count, F.lit(0).cast("long"))
