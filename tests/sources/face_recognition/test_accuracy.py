"""Tests of visionlake.sources.face_recognition.accuracy on silver ``evaluations`` rows written by hand.

Every expected value is counted by hand; the Wilson bounds are published values (Newcombe 1998) or were worked out
by hand with the formula (p + z²/2n ± z·sqrt(p(1 - p)/n + z²/4n²)) / (1 + z²/n), z = 1.959963984540054, and are
written to 10 decimals.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.sources.face_recognition import accuracy
from visionlake.sources.face_recognition.schema import EVALUATIONS_TABLE

TS = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DAY = date(2026, 3, 2)
MODEL = "facenet-vggface2"
PRECISION = 1e-9


def _evaluations(
    spark: SparkSession, run_id: str, protocol: str, threshold: float, gallery_size: int, probes: list[tuple]
) -> DataFrame:
    """Silver rows of one run; each probe is (probe_id, probe_identity, in_gallery, predicted_identity, distance)."""
    rows = [
        (run_id, protocol, MODEL, threshold, gallery_size, *probe, TS, f"evaluations/{run_id}.jsonl", DAY)
        for probe in probes
    ]
    return spark.createDataFrame(rows, EVALUATIONS_TABLE)


def _rows(schema: T.StructType, rows: list[dict]) -> list[tuple]:
    """Rows written as {column: value} (every column named), in the schema's order."""
    for row in rows:
        assert set(row) == set(schema.fieldNames()), set(row) ^ set(schema.fieldNames())
    return [tuple(row[name] for name in schema.fieldNames()) for row in rows]


def _interval(spark: SparkSession, pairs: list[tuple[int, int]]) -> DataFrame:
    pairs_df = spark.createDataFrame(pairs, "errors long, n long")
    low, high = accuracy.wilson_interval(F.col("errors"), F.col("n"))
    return pairs_df.select("errors", "n", low.alias("low"), high.alias("high"))


INTERVAL = "errors long, n long, low double, high double"

# ------------------------------------------------------------------------------------------------
# output schemas


def test_output_columns_are_declared_in_a_fixed_order() -> None:
    assert accuracy.EVALUATION_RATES.fieldNames() == [
        "run_id", "protocol", "model", "gallery_size", "threshold",
        "probes", "genuine_probes", "impostor_probes",
        "fta_count", "fta", "fta_low", "fta_high",
        "genuine_fta_count", "genuine_fta", "genuine_fta_low", "genuine_fta_high",
        "impostor_fta_count", "impostor_fta", "impostor_fta_low", "impostor_fta_high",
        "acquired_genuine_probes", "false_non_matches", "fnmr", "fnmr_low", "fnmr_high",
        "acquired_impostor_probes", "false_matches", "fmr", "fmr_low", "fmr_high",
        "frr_errors", "frr", "frr_low", "frr_high",
        "far_errors", "far", "far_low", "far_high",
    ]  # fmt: skip
    assert accuracy.THRESHOLD_SWEEP.fieldNames() == [
        "run_id", "protocol", "model", "gallery_size", "threshold", "is_run_threshold",
        "acquired_genuine_probes", "false_non_matches", "fnmr", "fnmr_low", "fnmr_high",
        "acquired_impostor_probes", "false_matches", "fmr", "fmr_low", "fmr_high",
    ]  # fmt: skip
    kinds = {f.name: f.dataType for f in accuracy.EVALUATION_RATES.fields}
    assert kinds["gallery_size"] == kinds["probes"] == kinds["far_errors"] == T.LongType()
    assert kinds["threshold"] == kinds["fnmr"] == kinds["far_high"] == T.DoubleType()
    assert dict((f.name, f.dataType) for f in accuracy.THRESHOLD_SWEEP.fields)["is_run_threshold"] == T.BooleanType()


# ------------------------------------------------------------------------------------------------
# Wilson score interval


def test_wilson_interval_matches_published_values(spark: SparkSession) -> None:
    # Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (Wilson score, no continuity correction)
    expected = spark.createDataFrame([(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605)], INTERVAL)
    assert_approx_df_equality(_interval(spark, [(81, 263), (15, 148)]), expected, 5e-5, ignore_row_order=True)


def test_wilson_interval_of_the_benchmark_counts(spark: SparkSession) -> None:
    # 108/1680: p = 0.0642857143, z²/n = 0.0022865826, centre = 0.0652797381, half width = 0.0117566678
    # 149/3557: p = 0.0418892325, z²/n = 0.0010799716, centre = 0.0423834454, half width = 0.0065986083
    expected = spark.createDataFrame(
        [(108, 1680, 0.0535230703, 0.0770364059), (149, 3557, 0.0357848371, 0.0489820537)], INTERVAL
    )
    assert_approx_df_equality(_interval(spark, [(108, 1680), (149, 3557)]), expected, PRECISION, ignore_row_order=True)


def test_wilson_interval_rule_of_three_for_zero_errors_and_null_for_no_trials(spark: SparkSession) -> None:
    # 0/20: Wilson would give 0-0.1611 (Newcombe 1998); visionlake gives the rule of three, 3/20; 3/n is capped at 1;
    # n/n reaches 1 exactly; no trials: no interval
    expected = spark.createDataFrame(
        [
            (0, 20, 0.0, 0.15),
            (0, 300, 0.0, 0.01),
            (0, 2, 0.0, 1.0),
            (2, 2, 0.3423802275, 1.0),
            (0, 0, None, None),
        ],
        INTERVAL,
    )
    actual = _interval(spark, [(0, 20), (0, 300), (0, 2), (2, 2), (0, 0)])
    assert_approx_df_equality(actual, expected, PRECISION, ignore_row_order=True)


# ------------------------------------------------------------------------------------------------
# rates at the run's threshold

# run r1, threshold 0.6, 12 probes (one without in_gallery, left out):
#   genuine  g1-g3 right identity, g4 no match (FNM), g5 wrong identity (FNM), g6 no face (FTA)
#   impostor i1, i2, i5 rejected, i3 matched (FM), i4 no face (FTA)
HAND_COUNTED = [
    ("g1", "A", True, "A", 0.30),
    ("g2", "B", True, "B", 0.45),
    ("g3", "C", True, "C", 0.55),
    ("g4", "D", True, None, 0.80),
    ("g5", "E", True, "F", 0.50),
    ("g6", "G", True, None, None),
    ("i1", "X", False, None, 0.90),
    ("i2", "Y", False, None, 0.75),
    ("i3", "Z", False, "A", 0.58),
    ("i4", "W", False, None, None),
    ("i5", "V", False, None, 1.10),
    ("u1", "U", None, "U", 0.20),
]


def test_evaluation_rates_of_a_hand_counted_run(spark: SparkSession) -> None:
    actual = accuracy.build_evaluation_rates(_evaluations(spark, "r1", "FRR", 0.6, 5650, HAND_COUNTED))
    # FTA 2/11; FTA_G 1/6; FTA_I 1/5; FNMR 2/5; FMR 1/4
    # FRR = 1/6 + 2/5 * (1 - 1/6) = 1/6 + 2/6 = 3/6; FAR = 1/4 * (1 - 1/5) = 1/5
    expected = {
        "run_id": "r1", "protocol": "FRR", "model": MODEL, "gallery_size": 5650, "threshold": 0.6,
        "probes": 11, "genuine_probes": 6, "impostor_probes": 5,
        "fta_count": 2, "fta": 2 / 11, "fta_low": 0.0513676897, "fta_high": 0.4769805620,
        "genuine_fta_count": 1, "genuine_fta": 1 / 6, "genuine_fta_low": 0.0300533697, "genuine_fta_high": 0.5635028222,
        "impostor_fta_count": 1, "impostor_fta": 1 / 5,
        "impostor_fta_low": 0.0362241086, "impostor_fta_high": 0.6244653702,
        "acquired_genuine_probes": 5, "false_non_matches": 2,
        "fnmr": 2 / 5, "fnmr_low": 0.1176207742, "fnmr_high": 0.7692757187,
        "acquired_impostor_probes": 4, "false_matches": 1,
        "fmr": 1 / 4, "fmr_low": 0.0455872608, "fmr_high": 0.6993581574,
        "frr_errors": 3, "frr": 3 / 6, "frr_low": 0.1876163065, "frr_high": 0.8123836935,
        "far_errors": 1, "far": 1 / 5, "far_low": 0.0362241086, "far_high": 0.6244653702,
    }  # fmt: skip
    expected_df = spark.createDataFrame(_rows(accuracy.EVALUATION_RATES, [expected]), accuracy.EVALUATION_RATES)
    assert_approx_df_equality(actual, expected_df, PRECISION)


def _benchmark(spark: SparkSession) -> DataFrame:
    """The seed's LFW benchmark as two runs: FRR, 1,680 genuine probes against 5,650 enrolled faces, the first 108
    not matched; FAR, 3,557 impostor probes against 2,796 enrolled faces, the first 149 matched to someone."""
    identity = F.concat(F.lit("person-"), F.col("id").cast("string"))
    common = [F.lit(MODEL).alias("model"), F.lit(0.6).alias("threshold")]
    genuine = spark.range(1680).select(
        F.lit("lfw-frr").alias("run_id"),
        F.lit("FRR").alias("protocol"),
        *common,
        F.lit(5650).cast("long").alias("gallery_size"),
        F.concat(F.lit("g-"), F.col("id").cast("string")).alias("probe_id"),
        identity.alias("probe_identity"),
        F.lit(True).alias("in_gallery"),
        F.when(F.col("id") >= 108, identity).alias("predicted_identity"),
        F.when(F.col("id") < 108, F.lit(0.9)).otherwise(F.lit(0.3)).alias("distance"),
    )
    impostor = spark.range(3557).select(
        F.lit("lfw-far").alias("run_id"),
        F.lit("FAR").alias("protocol"),
        *common,
        F.lit(2796).cast("long").alias("gallery_size"),
        F.concat(F.lit("i-"), F.col("id").cast("string")).alias("probe_id"),
        identity.alias("probe_identity"),
        F.lit(False).alias("in_gallery"),
        F.when(F.col("id") < 149, F.lit("someone-enrolled")).alias("predicted_identity"),
        F.when(F.col("id") < 149, F.lit(0.4)).otherwise(F.lit(0.8)).alias("distance"),
    )
    extra = [F.lit(TS).alias("ts"), F.lit("evaluations/lfw.jsonl").alias("source_path"), F.lit(DAY).alias("event_date")]
    probes = genuine.select("*", *extra).unionByName(impostor.select("*", *extra)).to(EVALUATIONS_TABLE)
    # a union with an empty silver frame makes every column nullable, as in silver (literals are not nullable)
    return spark.createDataFrame([], EVALUATIONS_TABLE).unionByName(probes)


def test_evaluation_rates_reproduce_the_seed_benchmark(spark: SparkSession) -> None:
    rates = accuracy.build_evaluation_rates(_benchmark(spark))
    percent = rates.select(
        "run_id",
        "frr_errors",
        "genuine_probes",
        F.round(F.col("frr") * 100, 2).alias("frr_percent"),
        "far_errors",
        "impostor_probes",
        F.round(F.col("far") * 100, 2).alias("far_percent"),
    )
    expected_percent = spark.createDataFrame(
        [("lfw-frr", 108, 1680, 6.43, 0, 0, None), ("lfw-far", 0, 0, None, 149, 3557, 4.19)],
        "run_id string, frr_errors long, genuine_probes long, frr_percent double, far_errors long, "
        "impostor_probes long, far_percent double",
    )
    assert_df_equality(percent, expected_percent, ignore_row_order=True, ignore_nullable=True)

    frr_run = {
        "run_id": "lfw-frr", "protocol": "FRR", "model": MODEL, "gallery_size": 5650, "threshold": 0.6,
        "probes": 1680, "genuine_probes": 1680, "impostor_probes": 0,
        "fta_count": 0, "fta": 0.0, "fta_low": 0.0, "fta_high": 3 / 1680,
        "genuine_fta_count": 0, "genuine_fta": 0.0, "genuine_fta_low": 0.0, "genuine_fta_high": 3 / 1680,
        "impostor_fta_count": 0, "impostor_fta": None, "impostor_fta_low": None, "impostor_fta_high": None,
        "acquired_genuine_probes": 1680, "false_non_matches": 108,
        "fnmr": 108 / 1680, "fnmr_low": 0.0535230703, "fnmr_high": 0.0770364059,
        "acquired_impostor_probes": 0, "false_matches": 0, "fmr": None, "fmr_low": None, "fmr_high": None,
        "frr_errors": 108, "frr": 108 / 1680, "frr_low": 0.0535230703, "frr_high": 0.0770364059,
        "far_errors": 0, "far": None, "far_low": None, "far_high": None,
    }  # fmt: skip
    far_run = {
        "run_id": "lfw-far", "protocol": "FAR", "model": MODEL, "gallery_size": 2796, "threshold": 0.6,
        "probes": 3557, "genuine_probes": 0, "impostor_probes": 3557,
        "fta_count": 0, "fta": 0.0, "fta_low": 0.0, "fta_high": 3 / 3557,
        "genuine_fta_count": 0, "genuine_fta": None, "genuine_fta_low": None, "genuine_fta_high": None,
        "impostor_fta_count": 0, "impostor_fta": 0.0, "impostor_fta_low": 0.0, "impostor_fta_high": 3 / 3557,
        "acquired_genuine_probes": 0, "false_non_matches": 0, "fnmr": None, "fnmr_low": None, "fnmr_high": None,
        "acquired_impostor_probes": 3557, "false_matches": 149,
        "fmr": 149 / 3557, "fmr_low": 0.0357848371, "fmr_high": 0.0489820537,
        "frr_errors": 0, "frr": None, "frr_low": None, "frr_high": None,
        "far_errors": 149, "far": 149 / 3557, "far_low": 0.0357848371, "far_high": 0.0489820537,
    }  # fmt: skip
    expected = spark.createDataFrame(_rows(accuracy.EVALUATION_RATES, [frr_run, far_run]), accuracy.EVALUATION_RATES)
    assert_approx_df_equality(rates, expected, PRECISION, ignore_row_order=True)


def test_evaluation_rates_of_a_population_without_acquired_probes(spark: SparkSession) -> None:
    # two genuine probes, no face in either, no impostor probe: FNMR has no denominator but FRR = FTA_G = 2/2;
    # every impostor rate is null
    probes = [("g1", "A", True, None, None), ("g2", "B", True, None, None)]
    actual = accuracy.build_evaluation_rates(_evaluations(spark, "e1", "FRR", 0.6, 10, probes))
    expected = {
        "run_id": "e1", "protocol": "FRR", "model": MODEL, "gallery_size": 10, "threshold": 0.6,
        "probes": 2, "genuine_probes": 2, "impostor_probes": 0,
        "fta_count": 2, "fta": 1.0, "fta_low": 0.3423802275, "fta_high": 1.0,
        "genuine_fta_count": 2, "genuine_fta": 1.0, "genuine_fta_low": 0.3423802275, "genuine_fta_high": 1.0,
        "impostor_fta_count": 0, "impostor_fta": None, "impostor_fta_low": None, "impostor_fta_high": None,
        "acquired_genuine_probes": 0, "false_non_matches": 0, "fnmr": None, "fnmr_low": None, "fnmr_high": None,
        "acquired_impostor_probes": 0, "false_matches": 0, "fmr": None, "fmr_low": None, "fmr_high": None,
        "frr_errors": 2, "frr": 1.0, "frr_low": 0.3423802275, "frr_high": 1.0,
        "far_errors": 0, "far": None, "far_low": None, "far_high": None,
    }  # fmt: skip
    expected_df = spark.createDataFrame(_rows(accuracy.EVALUATION_RATES, [expected]), accuracy.EVALUATION_RATES)
    assert_approx_df_equality(actual, expected_df, PRECISION)


def test_evaluation_rates_of_no_evaluations_is_empty(spark: SparkSession) -> None:
    empty = spark.createDataFrame([], EVALUATIONS_TABLE)
    expected = spark.createDataFrame([], accuracy.EVALUATION_RATES)
    assert_df_equality(accuracy.build_evaluation_rates(empty), expected)


# ------------------------------------------------------------------------------------------------
# threshold sweep

# run s1, recorded threshold 0.5, swept at 0.4, 0.5 and 0.6 (distance == t is a match):
#   genuine distances 0.2, 0.4 (== 0.4), 0.5 (== 0.5), 0.7, no face -> 4 acquired
#     above 0.4: 0.5, 0.7 -> 2;  above 0.5: 0.7 -> 1;  above 0.6: 0.7 -> 1
#   impostor distances 0.45, 0.6 (== 0.6), 0.9, 1.2 -> 4 acquired
#     at most 0.4: none -> 0;  at most 0.5: 0.45 -> 1;  at most 0.6: 0.45, 0.6 -> 2
# run s2, recorded threshold 0.6, genuine only (0.3, 0.55): every FMR is null
#     above 0.4: 0.55 -> 1;  above 0.5: 0.55 -> 1;  above 0.6: none -> 0 (rule of three 3/2, capped at 1)
SWEEP_S1 = [
    ("g1", "A", True, "A", 0.2),
    ("g2", "B", True, "B", 0.4),
    ("g3", "C", True, "C", 0.5),
    ("g4", "D", True, None, 0.7),
    ("g5", "E", True, None, None),
    ("i1", "X", False, "A", 0.45),
    ("i2", "Y", False, None, 0.6),
    ("i3", "Z", False, None, 0.9),
    ("i4", "W", False, None, 1.2),
]
SWEEP_S2 = [("g1", "A", True, "A", 0.3), ("g2", "B", True, "B", 0.55)]


def _point(run_id: str, threshold: float, flag: bool, genuine: tuple, impostor: tuple) -> dict:
    """A sweep row of s1 or s2: genuine and impostor are (acquired probes, errors, rate, low, high)."""
    acquired_genuine, false_non_matches, fnmr, fnmr_low, fnmr_high = genuine
    acquired_impostor, false_matches, fmr, fmr_low, fmr_high = impostor
    return {
        "run_id": run_id, "protocol": "FRR", "model": MODEL, "gallery_size": 40, "threshold": threshold,
        "is_run_threshold": flag,
        "acquired_genuine_probes": acquired_genuine, "false_non_matches": false_non_matches,
        "fnmr": fnmr, "fnmr_low": fnmr_low, "fnmr_high": fnmr_high,
        "acquired_impostor_probes": acquired_impostor, "false_matches": false_matches,
        "fmr": fmr, "fmr_low": fmr_low, "fmr_high": fmr_high,
    }  # fmt: skip


def test_threshold_sweep_counts_distances_at_each_grid_threshold(spark: SparkSession) -> None:
    evaluations = _evaluations(spark, "s1", "FRR", 0.5, 40, SWEEP_S1).unionByName(
        _evaluations(spark, "s2", "FRR", 0.6, 40, SWEEP_S2)
    )
    actual = accuracy.build_threshold_sweep(evaluations, [0.6, 0.4, 0.5, 0.4])  # unsorted, 0.4 twice
    no_impostor = (0, 0, None, None, None)
    expected = [
        _point("s1", 0.4, False, (4, 2, 2 / 4, 0.1500389892, 0.8499610108), (4, 0, 0.0, 0.0, 3 / 4)),
        _point("s1", 0.5, True, (4, 1, 1 / 4, 0.0455872608, 0.6993581574), (4, 1, 1 / 4, 0.0455872608, 0.6993581574)),
        _point("s1", 0.6, False, (4, 1, 1 / 4, 0.0455872608, 0.6993581574), (4, 2, 2 / 4, 0.1500389892, 0.8499610108)),
        _point("s2", 0.4, False, (2, 1, 1 / 2, 0.0945312057, 0.9054687943), no_impostor),
        _point("s2", 0.5, False, (2, 1, 1 / 2, 0.0945312057, 0.9054687943), no_impostor),
        _point("s2", 0.6, True, (2, 0, 0.0, 0.0, 1.0), no_impostor),
    ]
    expected_df = spark.createDataFrame(_rows(accuracy.THRESHOLD_SWEEP, expected), accuracy.THRESHOLD_SWEEP)
    assert_approx_df_equality(actual, expected_df, PRECISION, ignore_row_order=True)


def test_threshold_sweep_counts_a_wrong_identity_as_a_match_by_distance(spark: SparkSession) -> None:
    # g5 of the hand-counted run: matched to F at 0.50 while it is E. The recorded decision makes it a false
    # non-match (FNMR 2/5 at 0.6), the distance does not: above 0.6 only g4 (0.80) -> 1/5
    actual = accuracy.build_threshold_sweep(_evaluations(spark, "r1", "FRR", 0.6, 5650, HAND_COUNTED), [0.6])
    got = actual.select("run_id", "threshold", "is_run_threshold", "false_non_matches", "acquired_genuine_probes")
    expected = spark.createDataFrame(
        [("r1", 0.6, True, 1, 5)],
        "run_id string, threshold double, is_run_threshold boolean, false_non_matches long, "
        "acquired_genuine_probes long",
    )
    assert_df_equality(got, expected, ignore_nullable=True)


def test_threshold_sweep_of_the_benchmark_at_the_run_threshold(spark: SparkSession) -> None:
    got = accuracy.build_threshold_sweep(_benchmark(spark), [0.35, 0.6]).select(
        "run_id", "threshold", "is_run_threshold", "false_non_matches", "fnmr", "false_matches", "fmr"
    )
    # genuine distances: 108 at 0.9, 1,572 at 0.3; impostor: 149 at 0.4, 3,408 at 0.8
    expected = spark.createDataFrame(
        [
            ("lfw-frr", 0.35, False, 108, 108 / 1680, 0, None),
            ("lfw-frr", 0.6, True, 108, 108 / 1680, 0, None),
            ("lfw-far", 0.35, False, 0, None, 0, 0.0),
            ("lfw-far", 0.6, True, 0, None, 149, 149 / 3557),
        ],
        "run_id string, threshold double, is_run_threshold boolean, false_non_matches long, fnmr double, "
        "false_matches long, fmr double",
    )
    assert_approx_df_equality(got, expected, PRECISION, ignore_nullable=True, ignore_row_order=True)


def test_threshold_sweep_of_an_empty_grid_is_empty(spark: SparkSession) -> None:
    actual = accuracy.build_threshold_sweep(_evaluations(spark, "s2", "FRR", 0.6, 40, SWEEP_S2), [])
    assert_df_equality(actual, spark.createDataFrame([], accuracy.THRESHOLD_SWEEP))
