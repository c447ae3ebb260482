"""`visionlake catalog check`: the pipeline's lake passes; tables with features Athena or Trino cannot read fail,
naming the table, the engine and the feature."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable, TableFeatures, write_deltalake
from tests.catalog.helpers import field, metadata, protocol, write_log
from tests.conftest import VENV_BIN, run_command

from visionlake.catalog import check_lake
from visionlake.catalog.check import check_tables
from visionlake.config import StorageSettings

STORAGE = StorageSettings()
ATHENA_DV = "reader feature deletionVectors (deletion vectors) is not supported"


def _problems(lake) -> dict[str, dict[str, list[str]]]:
    return {c.name: c.problems for c in check_tables(str(lake), STORAGE)}


def test_every_table_of_the_pipelines_lake_is_readable_by_athena_and_trino(built_lake):
    report, problems = check_lake(str(built_lake), STORAGE)
    lines = report.splitlines()
    assert problems == ""
    assert lines[0] == f"catalog check of {built_lake}: 53 tables, for Athena engine 3 and Trino"
    assert lines[-1] == "all 53 tables can be read by Athena engine 3 and Trino"
    table_lines = lines[1:-1]
    assert len(table_lines) == 53
    verdicts = ["reader", "1", "writer", "2", "athena", "OK", "trino", "OK"]
    assert all(line.split()[1:] == verdicts for line in table_lines)
    assert [line.split()[0] for line in table_lines][:3] == ["_quality_results", "_runs", "bronze_alpr_results"]


def test_deletion_vectors_fail_athena_only(tmp_path):
    lake = tmp_path / "lake"
    write_deltalake(str(lake / "silver/alpr/plates"), pa.table({"plate_text": ["GK4"]}))
    write_deltalake(str(lake / "silver/alpr/frames"), pa.table({"frame_id": [1]}))
    DeltaTable(str(lake / "silver/alpr/plates")).alter.add_feature(
        TableFeatures.DeletionVectors, allow_protocol_versions_increase=True
    )
    assert _problems(lake) == {
        "silver_alpr_frames": {"athena": [], "trino": []},
        "silver_alpr_plates": {"athena": [ATHENA_DV], "trino": []},
    }
    report, problems = check_lake(str(lake), STORAGE)
    assert problems == (
        "1 of 2 tables cannot be read by Athena engine 3 or Trino: silver_alpr_plates: Athena engine 3: " + ATHENA_DV
    )
    assert report.splitlines()[2:] == [
        "  silver_alpr_plates  reader 3 writer 7   athena FAIL  trino OK    features: deletionVectors",
        f"      athena: {ATHENA_DV}",
    ]


def test_the_protocol_is_read_from_the_checkpoint_when_older_commits_are_gone(tmp_path):
    table = tmp_path / "lake/gold/alpr/vehicles"
    write_deltalake(str(table), pa.table({"plate_text": ["GK4"]}))
    delta = DeltaTable(str(table))
    delta.alter.add_feature(TableFeatures.DeletionVectors, allow_protocol_versions_increase=True)
    delta.create_checkpoint()
    (table / "_delta_log/00000000000000000000.json").unlink()  # log clean-up: the checkpoint at 1 replaces it
    write_deltalake(str(table), pa.table({"plate_text": ["AB1"]}), mode="append")  # commit 2, after the checkpoint
    assert _problems(tmp_path / "lake") == {"gold_alpr_vehicles": {"athena": [ATHENA_DV], "trino": []}}


def test_a_timestamp_ntz_column_is_readable_by_both_but_not_as_an_athena_partition(tmp_path):
    lake = tmp_path / "lake"
    stamps = pa.array([0], pa.timestamp("us"))  # no time zone: Delta's timestamp_ntz, reader feature timestampNtz
    write_deltalake(str(lake / "silver/cams/frames"), pa.table({"seen_at": stamps, "n": [1]}))
    write_deltalake(str(lake / "silver/cams/hours"), pa.table({"hour": stamps, "n": [1]}), partition_by=["hour"])
    assert _problems(lake) == {
        "silver_cams_frames": {"athena": [], "trino": []},
        "silver_cams_hours": {
            "athena": ["partition column hour has type timestamp_ntz, which cannot be a partition column"],
            "trino": [],
        },
    }


def test_nested_and_binary_partition_columns_fail_both_engines(tmp_path):
    # Delta writers refuse these; a log written by hand shows what another writer could leave behind
    point = {"type": "struct", "fields": [field("x", "double"), field("y", "double")]}
    write_log(
        tmp_path / "lake/gold/cams/tiles",
        [protocol(), metadata([field("tile", point), ("digest", "binary"), ("n", "long")], ("tile", "digest"))],
    )
    expected = [
        "partition column tile has type struct, which cannot be a partition column",
        "partition column digest has type binary, which cannot be a partition column",
    ]
    assert _problems(tmp_path / "lake") == {"gold_cams_tiles": {"athena": expected, "trino": expected}}


def test_column_mapping_v2_checkpoints_variant_and_case_clashes(tmp_path):
    lake = tmp_path / "lake"
    mapping = [protocol(3, 7, ("columnMapping",)), metadata([("a", "long")], (), {"delta.columnMapping.mode": "name"})]
    write_log(lake / "silver/x/mapped", mapping)
    write_log(lake / "silver/x/v2", [protocol(3, 7, ("v2Checkpoint",)), metadata([("a", "long")])])
    write_log(lake / "silver/x/variant", [protocol(3, 7, ("variantType",)), metadata([("payload", "variant")])])
    write_log(lake / "silver/x/cased", [protocol(), metadata([("Plate", "string"), ("plate", "string")])])
    clash = "columns Plate and plate differ only in case (names are case-insensitive)"
    assert _problems(lake) == {
        "silver_x_cased": {"athena": [clash], "trino": [clash]},
        "silver_x_mapped": {"athena": [], "trino": []},
        "silver_x_v2": {"athena": ["reader feature v2Checkpoint (V2 checkpoints) is not supported"], "trino": []},
        "silver_x_variant": {
            "athena": [
                "reader feature variantType (the variant type) is not supported",
                "column payload has type variant, which is not supported",
            ],
            "trino": [],
        },
    }


def test_a_table_whose_log_lost_its_first_commit_is_reported_unreadable(tmp_path):
    table = write_log(tmp_path / "lake/silver/x/gap", [protocol(), metadata([("a", "long")])], [])
    (table / "_delta_log/00000000000000000000.json").unlink()
    reason = f"cannot read the Delta log: {table}: the Delta log has no commit 0 (and no checkpoint after it)"
    assert _problems(tmp_path / "lake") == {"silver_x_gap": {"athena": [reason], "trino": [reason]}}


@pytest.mark.slow
def test_the_command_prints_the_report_and_fails_in_one_line(tmp_path):
    lake = tmp_path / "lake"
    write_deltalake(str(lake / "silver/alpr/plates"), pa.table({"plate_text": ["GK4"]}))
    command = [str(VENV_BIN / "visionlake"), "catalog", "check", "--lake", str(lake)]
    passed = run_command(command)
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.splitlines()[-1] == "all 1 tables can be read by Athena engine 3 and Trino"
    DeltaTable(str(lake / "silver/alpr/plates")).alter.add_feature(
        TableFeatures.DeletionVectors, allow_protocol_versions_increase=True
    )
    failed = run_command(command)
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[-1] == f"      athena: {ATHENA_DV}"
    assert failed.stderr == (
        "visionlake: error: 1 of 1 tables cannot be read by Athena engine 3 or Trino: "
        f"silver_alpr_plates: Athena engine 3: {ATHENA_DV}\n"
    )
