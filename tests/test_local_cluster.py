"""The pipeline makes no single-machine assumption: two executor JVMs produce exactly the tables of local[2]."""

from __future__ import annotations

import pytest
from tests.conftest import VENV_BIN, run_command, write_files
from tests.sources.alpr.test_pipeline import BAD, GOOD

from visionlake.lake import read
from visionlake.sources.alpr.pipeline import run

pytestmark = pytest.mark.slow
TABLES = [
    "bronze/alpr/results",
    "quarantine/alpr",
    "silver/alpr/frames",
    "silver/alpr/plates",
    "silver/alpr/cars",
    "silver/alpr/car_colors",
    "silver/alpr/car_body_styles",
    "silver/alpr/car_makes",
    "silver/alpr/plate_countries",
    "gold/alpr/vehicles",
    "gold/alpr/daily_camera_stats",
    "gold/alpr/plate_sightings",
    "gold/alpr/daily_processing",
]
RUN_SPECIFIC = {"run_id", "ingested_at", "ingest_date"}


def _contents(lake: str, table: str) -> list[tuple]:
    data = read(f"{lake}/{table}")
    columns = [c for c in data.column_names if c not in RUN_SPECIFIC]
    return sorted(tuple(repr(r[c]) for c in columns) for r in data.to_pylist())


def test_local_cluster_master_gets_the_same_tables_as_local(spark, cfg, tmp_path):
    write_files(tmp_path / "input", {**GOOD, **BAD})
    run(spark, cfg, str(tmp_path / "input"), str(tmp_path / "local"))
    env = {
        "VISIONLAKE__SPARK__MASTER": "local-cluster[2,1,1024]",
        "VISIONLAKE__SPARK__CONF": "{spark.executor.memory: 768m, spark.ui.enabled: 'false'}",
    }
    command = [str(VENV_BIN / "visionlake"), "run", "alpr", "--input", str(tmp_path / "input"), "--lake"]
    result = run_command([*command, str(tmp_path / "cluster")], env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "check: bronze.results 13 = silver.frames 6 + quarantine 7;" in result.stdout
    for table in TABLES:
        assert _contents(str(tmp_path / "cluster"), table) == _contents(str(tmp_path / "local"), table), table
