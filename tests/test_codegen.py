"""The tests' session evaluates expressions without generating code (conftest's ``cfg``: ``spark.INTERPRETED``), as a
run with under ``ingest.interpret_below_mb`` of new input does; a larger run generates code. Both give the same
tables."""

from __future__ import annotations

from tests.conftest import lake_contents, run_sources

from visionlake.spark import INTERPRETED

GENERATED = {"spark.sql.codegen.wholeStage": "true", "spark.sql.codegen.factoryMode": "FALLBACK"}  # Spark's defaults


def test_generated_code_builds_the_same_tables_as_interpreted_evaluation(spark, cfg, built_lake, tmp_path):
    assert {key: spark.conf.get(key) for key in INTERPRETED} == INTERPRETED
    lake = tmp_path / "lake"
    for key, value in GENERATED.items():
        spark.conf.set(key, value)
    try:
        assert _plan(spark).startswith("*(1) Project")  # *(1): the operators compiled together as stage 1
        run_sources(spark, cfg, built_lake.parent / "in", lake)
    finally:
        for key, value in INTERPRETED.items():
            spark.conf.set(key, value)
    assert _plan(spark).startswith("Project")
    generated, interpreted = lake_contents(str(lake)), lake_contents(str(built_lake))
    assert len(generated) == len(interpreted) > 40
    for table in interpreted:
        assert generated[table] == interpreted[table], table


def _plan(spark) -> str:
    return spark.range(3).selectExpr("id + 1 AS next")._jdf.queryExecution().executedPlan().treeString()
