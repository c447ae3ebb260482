"""``visionlake catalog ddl``: the statements that expose every table of the lake to Athena, Trino or Spark SQL.

The schema of each table comes from its Delta log (no column lists): Athena's ``CREATE EXTERNAL TABLE ...
TBLPROPERTIES ('table_type'='DELTA')``, Trino's ``register_table`` procedure, Spark's ``USING DELTA LOCATION``.
Table names are the lake's; the lake's own tables, whose names start with an underscore (``_runs``), are
named ``lake_runs`` and so on in catalogs (Athena needs backticks around names that start with one).
"""

from __future__ import annotations

import re
from pathlib import Path

from visionlake.config import StorageSettings
from visionlake.errors import VisionlakeError
from visionlake.lake import reader
from visionlake.lake import storage as st

ENGINES = ("athena", "trino", "spark")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class CatalogError(VisionlakeError):
    """The catalog cannot be written as asked (a local lake for an S3-only engine, a bad name, no tables)."""


def catalog_name(name: str) -> str:
    """The table's name in a catalog: the lake's name, ``lake_...`` for the lake's own ``_...`` tables."""
    return f"lake{name}" if name.startswith("_") else name


def s3_uri(location: str, directory: bool = False) -> str:
    """``s3://bucket/key`` of an S3 location (Athena, Trino and Glue want ``s3://``), with a final ``/`` for a
    ``directory`` (the form Athena's documentation gives for a Delta table's LOCATION)."""
    bucket, key = st.split_s3(location)
    uri = f"s3://{bucket}/{key.strip('/')}".rstrip("/")
    return f"{uri}/" if directory else uri


def check_identifier(value: str, what: str) -> str:
    if not IDENTIFIER.match(value):
        raise CatalogError(f"{what} {value!r} must start with a lowercase letter and hold only a-z, 0-9 and _")
    return value


def lake_tables(lake: str, storage: StorageSettings) -> dict[str, str]:
    """``{name: location}`` of the lake's tables.

    Raises:
        CatalogError: the lake holds no Delta table.
    """
    tables = reader.table_locations(lake, storage)
    if not tables:
        raise CatalogError(f"no Delta tables in {lake}: run `visionlake run` first")
    return tables


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ddl_statements(lake: str, engine: str, database: str, catalog: str, storage: StorageSettings) -> list[str]:
    """The statements (each ending with ``;``, comments first) that register every table of ``lake`` in
    ``database`` of the engine (``athena``, ``trino`` or ``spark``); ``catalog`` is Trino's Delta Lake catalog.

    Raises:
        CatalogError: an unknown engine, a bad name, a local lake for Athena or Trino, or no tables.
    """
    if engine not in ENGINES:
        raise CatalogError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    check_identifier(database, "database")
    lake = st.normalize(lake)
    if engine in ("athena", "trino") and not st.is_s3(lake):
        raise CatalogError(
            f"{engine.capitalize()} reads tables from S3 only, and {lake} is a local folder: "
            "give the lake as s3a://bucket/prefix (or use --engine spark)"
        )
    tables = sorted(lake_tables(lake, storage).items())
    if engine == "athena":
        statements = [
            "-- Athena engine version 3 (Delta Lake tables need it): run the statements one by one in the query\n"
            "-- editor. The schema of each table is read from its Delta log.\n"
            f"CREATE DATABASE IF NOT EXISTS {database};"
        ]
        statements += [
            f"CREATE EXTERNAL TABLE {database}.{catalog_name(name)} LOCATION {_literal(s3_uri(location, True))} "
            "TBLPROPERTIES ('table_type'='DELTA');"
            for name, location in tables
        ]
        return statements
    if engine == "trino":
        check_identifier(catalog, "catalog")
        statements = [
            f"-- Trino: the Delta Lake catalog {catalog} (etc/catalog/{catalog}.properties, connector.name=delta_lake)"
            "\n-- needs the register_table procedure and S3 settings (fs.native-s3.enabled=true, s3.region, ...):"
            f"\n--   delta.register-table-procedure.enabled=true\nCREATE SCHEMA IF NOT EXISTS {catalog}.{database};"
        ]
        statements += [
            f"CALL {catalog}.system.register_table(schema_name => {_literal(database)}, "
            f"table_name => {_literal(catalog_name(name))}, table_location => {_literal(s3_uri(location))});"
            for name, location in tables
        ]
        return statements
    statements = [
        "-- Spark SQL with delta-spark (spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension,\n"
        "-- spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog)\n"
        f"CREATE DATABASE IF NOT EXISTS {database};"
    ]
    statements += [
        f"CREATE TABLE IF NOT EXISTS {database}.{catalog_name(name)} USING DELTA "
        f"LOCATION {_literal(_spark_location(location))};"
        for name, location in tables
    ]
    return statements


def _spark_location(location: str) -> str:
    return st.spark_uri(location) if st.is_s3(location) else Path(location).as_uri()
