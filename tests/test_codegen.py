"""The tests' session evaluates expressions without generating code (conftest's ``cfg``: ``spark.INTERPRETED``), as a
run with under ``ingest.interpret_below_mb`` of new input does; a larger run generates code. Both give the same
tables."""

from __future__ import annotations

from importlib import import_module

from tests.conftest import BUILT_LAKE_PII_KEY, lake_contents

from visionlake.spark import INTERPRETED

GENERATED = {"spark.sql.codegen.wholeStage": "true", "spark.sql.codegen.factoryMode": "FALLBACK"}  # Spark's defaults
SOURCES = ("alpr", "face_validation", "detections", "face_recognition")  # the order the built lake ran them in


def test_generated_code_builds_the_same_tables_as_interpreted_evaluation(spark, cfg, built_lake, tmp_path, monkeypatch):
    assert {key: spark.conf.get(key) for key in INTERPRETED} == INTERPRETED
    monkeypatch.setenv("VISIONLAKE_PII_KEY", BUILT_LAKE_PII_KEY)
    inputs, lake = built_lake.parent / "in", str(tmp_path / "lake")
    for key, value in GENERATED.items():
        spark.conf.set(key, value)
    try:
        assert _plan(spark).startswith("*(1) Project")  # *(1): the operators compiled together as stage 1
        for source in SOURCES:
            import_module(f"visionlake.sources.{source}.pipeline").run(spark, cfg, str(inputs / source), lake)
    finally:
        for key, value in INTERPRETED.items():
            spark.conf.set(key, value)
    assert _plan(spark).startswith("Project")
    generated, interpreted = lake_contents(lake), lake_contents(str(built_lake))
    assert len(generated) == len(interpreted) > 40
    for table in interpreted:
        assert generated[table] == interpreted[table], table


def _plan(spark) -> str:
    return spark.range(3).selectExpr("id + 1 AS next")._jdf.queryExecution().executedPlan().treeString()
