"""`visionlake catalog ddl`: the exact statements per engine, each parsed by sqlglot in that engine's dialect."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp
from tests.catalog.helpers import upload_logs

from visionlake.catalog import CatalogError, ddl_statements
from visionlake.config import StorageSettings, load_config


def _parse(statement: str, dialect: str) -> exp.Expression:
    return sqlglot.parse_one(statement, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)


@pytest.fixture
def s3_lake(s3, small_lake) -> str:
    client, bucket = s3
    upload_logs(client, small_lake, bucket, "warehouse/lake")
    return f"s3a://{bucket}/warehouse/lake"


@pytest.mark.s3
def test_athena_ddl_creates_the_database_and_one_delta_table_per_lake_table(s3_lake):
    bucket = s3_lake.split("/")[2]
    statements = ddl_statements(s3_lake + "/", "athena", "analytics", "delta", load_config("local").storage)
    assert statements[0].splitlines()[-1] == "CREATE DATABASE IF NOT EXISTS analytics;"
    assert statements[1:] == [
        f"CREATE EXTERNAL TABLE analytics.lake_runs LOCATION 's3://{bucket}/warehouse/lake/_runs/' "
        "TBLPROPERTIES ('table_type'='DELTA');",
        f"CREATE EXTERNAL TABLE analytics.quarantine_alpr LOCATION 's3://{bucket}/warehouse/lake/quarantine/alpr/' "
        "TBLPROPERTIES ('table_type'='DELTA');",
        f"CREATE EXTERNAL TABLE analytics.silver_alpr_plates "
        f"LOCATION 's3://{bucket}/warehouse/lake/silver/alpr/plates/' TBLPROPERTIES ('table_type'='DELTA');",
    ]
    database = _parse(statements[0], "athena")
    assert (database.kind, database.this.name, database.args["exists"]) == ("DATABASE", "analytics", True)
    parsed = [_parse(s, "athena") for s in statements[1:]]
    assert [(p.this.db, p.this.name) for p in parsed] == [
        ("analytics", "lake_runs"),
        ("analytics", "quarantine_alpr"),
        ("analytics", "silver_alpr_plates"),
    ]
    for create in parsed:
        assert create.kind == "TABLE" and create.find(exp.ExternalProperty) is not None
        assert create.find(exp.SchemaCommentProperty) is None and not isinstance(create.this, exp.Schema)
        properties = {p.name: p.text("value") for p in create.find_all(exp.Property) if type(p) is exp.Property}
        assert properties == {"table_type": "DELTA"}
    assert parsed[2].find(exp.LocationProperty).this.name == f"s3://{bucket}/warehouse/lake/silver/alpr/plates/"


@pytest.mark.s3
def test_trino_ddl_registers_each_table_with_the_catalog_procedure(s3_lake):
    bucket = s3_lake.split("/")[2]
    statements = ddl_statements(s3_lake, "trino", "visionlake", "lakehouse", load_config("local").storage)
    assert "--   delta.register-table-procedure.enabled=true" in statements[0].splitlines()
    schema = _parse(statements[0], "trino")
    assert (schema.kind, schema.this.catalog, schema.this.db, schema.args["exists"]) == (
        "SCHEMA",
        "lakehouse",
        "visionlake",
        True,
    )
    calls = []
    for statement in statements[1:]:
        # sqlglot has no grammar for CALL (it keeps it as a command): parse the procedure call as an expression
        assert isinstance(_parse(statement, "trino"), exp.Command) and statement.startswith("CALL ")
        call = _parse("SELECT " + statement.removeprefix("CALL ").removesuffix(";"), "trino").selects[0]
        assert call.sql("trino").startswith("lakehouse.system.register_table(")
        calls.append({k.this.name: k.expression.name for k in call.find_all(exp.Kwarg)})
    assert calls == [
        {
            "schema_name": "visionlake",
            "table_name": "lake_runs",
            "table_location": f"s3://{bucket}/warehouse/lake/_runs",
        },
        {
            "schema_name": "visionlake",
            "table_name": "quarantine_alpr",
            "table_location": f"s3://{bucket}/warehouse/lake/quarantine/alpr",
        },
        {
            "schema_name": "visionlake",
            "table_name": "silver_alpr_plates",
            "table_location": f"s3://{bucket}/warehouse/lake/silver/alpr/plates",
        },
    ]


def test_spark_ddl_of_a_local_lake_uses_file_uris(small_lake):
    statements = ddl_statements(str(small_lake), "spark", "visionlake", "delta", StorageSettings())
    assert statements[0].splitlines()[-1] == "CREATE DATABASE IF NOT EXISTS visionlake;"
    assert statements[3] == (
        f"CREATE TABLE IF NOT EXISTS visionlake.silver_alpr_plates USING DELTA LOCATION 'file://{small_lake}/silver/alpr/plates';"
    )
    parsed = [_parse(s, "spark") for s in statements]
    assert parsed[0].kind == "DATABASE"
    for create in parsed[1:]:
        assert create.args["exists"] and create.find(exp.FileFormatProperty).name == "DELTA"
    assert [p.find(exp.LocationProperty).this.name for p in parsed[1:]] == [
        f"file://{small_lake}/_runs",
        f"file://{small_lake}/quarantine/alpr",
        f"file://{small_lake}/silver/alpr/plates",
    ]


@pytest.mark.s3
def test_spark_ddl_keeps_s3a_uris(s3_lake):
    statements = ddl_statements(s3_lake, "spark", "visionlake", "delta", load_config("local").storage)
    assert statements[1].endswith(f"USING DELTA LOCATION '{s3_lake}/_runs';")
    assert _parse(statements[1], "spark").find(exp.LocationProperty).this.name == f"{s3_lake}/_runs"


@pytest.mark.parametrize(("engine", "name"), [("athena", "Athena"), ("trino", "Trino")])
def test_athena_and_trino_refuse_a_local_lake_in_one_line(small_lake, engine, name):
    with pytest.raises(CatalogError) as caught:
        ddl_statements(str(small_lake), engine, "visionlake", "delta", StorageSettings())
    assert str(caught.value) == (
        f"{name} reads tables from S3 only, and {small_lake} is a local folder: "
        "give the lake as s3a://bucket/prefix (or use --engine spark)"
    )


def test_a_database_name_that_is_not_an_identifier_is_refused(small_lake):
    with pytest.raises(CatalogError, match="database 'my-db' must start with a lowercase letter"):
        ddl_statements(str(small_lake), "spark", "my-db", "delta", StorageSettings())


def test_a_lake_without_tables_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match=f"no Delta tables in {tmp_path}: run `visionlake run` first"):
        ddl_statements(str(tmp_path), "spark", "visionlake", "delta", StorageSettings())
