"""`visionlake catalog register --glue` against moto's Glue: the Delta table inputs Athena and EMR read, created
once, updated in place on every later registration (a schema change included)."""

from __future__ import annotations

import json

import boto3
import pytest
from tests.catalog.helpers import metadata, protocol, upload_logs, write_log
from tests.conftest import VENV_BIN, run_command

from visionlake.catalog import CatalogError, register_glue
from visionlake.catalog.glue import hive_type
from visionlake.config import StorageSettings, load_config

pytestmark = pytest.mark.s3

DAILY_PROCESSING_COLUMNS = [
    {"Name": "event_date", "Type": "date", "Comment": "UTC day; the partition column."},
    {"Name": "frames", "Type": "bigint", "Comment": "Frames of the day, all cameras."},
    {"Name": "recognition_seconds", "Type": "double", "Comment": "Sum of the frames' recognition times, seconds."},
    {
        "Name": "estimated_cost",
        "Type": "double",
        "Comment": "recognition_seconds priced at alpr.hourly_price per hour of recognition.",
    },
]


def _tables(glue, database: str) -> dict[str, dict]:
    pages = glue.get_paginator("get_tables").paginate(DatabaseName=database)
    return {t["Name"]: t for page in pages for t in page["TableList"]}


def test_hive_types_of_delta_types():
    struct = {
        "type": "struct",
        "fields": [
            {"name": "x", "type": "double"},
            {"name": "class", "type": {"type": "array", "elementType": "long", "containsNull": True}},
            {"name": "my field", "type": "timestamp_ntz"},
        ],
    }
    kinds = {"type": "map", "keyType": "string", "valueType": struct, "valueContainsNull": True}
    assert hive_type(kinds) == "map<string,struct<x:double,class:array<bigint>,`my field`:timestamp>>"
    assert [hive_type(k) for k in ("integer", "short", "byte", "decimal(10,2)", "binary")] == [
        "int",
        "smallint",
        "tinyint",
        "decimal(10,2)",
        "binary",
    ]


def test_register_creates_then_updates_every_table_of_the_lake(built_lake, s3, aws_env):
    client, bucket = s3
    upload_logs(client, built_lake, bucket, "lake")
    storage = load_config("local").storage
    glue = boto3.client("glue", region_name="us-east-1")

    first = register_glue(f"s3a://{bucket}/lake", "vision", storage)
    assert first.splitlines()[0] == (
        f"Glue database vision (created): 53 tables created, 0 updated, for 53 tables of s3://{bucket}/lake"
    )
    assert glue.get_database(Name="vision")["Database"]["Description"] == f"visionlake tables of s3://{bucket}/lake"
    tables = _tables(glue, "vision")
    assert len(tables) == 53
    assert {"lake_runs", "lake_quality_results", "silver_alpr_plates"} <= tables.keys()
    assert not any(name.startswith("_") for name in tables)

    daily = tables["gold_alpr_daily_processing"]
    location = f"s3://{bucket}/lake/gold/alpr/daily_processing"
    assert daily["Description"] == (
        "ALPR gold: per UTC day, frames, recognition seconds and their estimated cost. Partitioned by event_date."
    )
    assert daily["TableType"] == "EXTERNAL_TABLE"
    assert daily["Parameters"] == {"spark.sql.sources.provider": "delta", "table_type": "DELTA", "EXTERNAL": "TRUE"}
    assert daily["PartitionKeys"] == []
    assert daily["StorageDescriptor"]["Location"] == location + "/"
    assert daily["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"path": location}
    assert daily["StorageDescriptor"]["Columns"] == DAILY_PROCESSING_COLUMNS

    runs = tables["lake_runs"]["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in runs][4:9] == [
        ("started_at", "timestamp"),
        ("seconds", "double"),
        ("files_in", "bigint"),
        ("rows_in", "bigint"),
        ("rows_out", "map<string,bigint>"),
    ]
    api_calls = tables["silver_face_validation_api_calls"]["StorageDescriptor"]["Columns"]
    assert len(api_calls) == 82 and all(c.get("Comment") for c in api_calls)
    assert api_calls[10] == {
        "Name": "procesoconvenioguid",  # Glue and Athena names are lower case
        "Type": "string",
        "Comment": "Pseudonym of the client's process id: the attempts (retries) of one validation share it.",
    }

    # again: every table updated in place, nothing duplicated
    second = register_glue(f"s3a://{bucket}/lake", "vision", storage)
    assert second.splitlines()[0] == (
        f"Glue database vision: 0 tables created, 53 updated, for 53 tables of s3://{bucket}/lake"
    )
    again = _tables(glue, "vision")
    assert again.keys() == tables.keys()
    assert again["gold_alpr_daily_processing"]["StorageDescriptor"]["Columns"] == DAILY_PROCESSING_COLUMNS

    # a schema change (a commit adding a column) reaches Glue on the next registration
    columns = [("event_date", "date"), ("frames", "long"), ("recognition_seconds", "double")]
    new_schema = metadata([*columns, ("estimated_cost", "double"), ("currency", "string")], ("event_date",))
    log = "lake/gold/alpr/daily_processing/_delta_log"
    versions = [k["Key"] for k in client.list_objects_v2(Bucket=bucket, Prefix=log)["Contents"]]
    latest = max(int(key.rsplit("/", 1)[1].split(".")[0]) for key in versions if key.endswith(".json"))
    client.put_object(Bucket=bucket, Key=f"{log}/{latest + 1:020d}.json", Body=json.dumps(new_schema) + "\n")
    register_glue(f"s3a://{bucket}/lake", "vision", storage)
    changed = _tables(glue, "vision")["gold_alpr_daily_processing"]["StorageDescriptor"]["Columns"]
    assert changed == [*DAILY_PROCESSING_COLUMNS, {"Name": "currency", "Type": "string"}]  # not described yet
    assert len(_tables(glue, "vision")) == 53


def test_register_refuses_a_local_lake(small_lake):
    with pytest.raises(CatalogError) as caught:
        register_glue(str(small_lake), "vision", StorageSettings())
    assert str(caught.value) == (
        f"Glue tables point at S3, and {small_lake} is a local folder: give the lake as s3a://bucket/prefix"
    )


@pytest.mark.slow
def test_the_command_registers_through_the_standard_aws_variables(tmp_path, s3, aws_env):
    client, bucket = s3
    lake = tmp_path / "lake"
    write_log(lake / "_runs", [protocol(), metadata([("run_id", "string")])])
    upload_logs(client, lake, bucket, "lake")
    command = [str(VENV_BIN / "visionlake"), "catalog", "register", "--glue", "--database", "ops"]
    done = run_command([*command, "--lake", f"s3a://{bucket}/lake"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Glue database ops (created): 1 tables created, 0 updated, for 1 tables of s3://{bucket}/lake",
        f"  {'lake_runs':<48} created",
    ]
    table = boto3.client("glue", region_name="us-east-1").get_table(DatabaseName="ops", Name="lake_runs")["Table"]
    assert table["StorageDescriptor"]["Columns"] == [
        {
            "Name": "run_id",
            "Type": "string",
            "Comment": "Id of the run: UTC time and a random suffix (e.g. 20261122T103005Z-3f9a1c).",
        }
    ]
