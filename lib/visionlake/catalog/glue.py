"""``visionlake catalog register --glue``: every table of the lake as a Delta table of the AWS Glue Data Catalog.

The table input is the one Athena's own DDL writes for a Delta table (delta-io/delta#1679) and EMR's Spark
reads: provider ``delta``, ``table_type=DELTA``, the location (also as the SerDe's ``path``), no partition
keys (Athena reads partitions from the Delta log). The columns (name, Hive type, comment) are there for
the Glue console, Lake Formation and tools that read Glue only; the engines take the schema from the log.
Registering again updates every table in place (a schema change included); it never duplicates one.
The Glue endpoint comes from the standard AWS variables (``AWS_ENDPOINT_URL_GLUE`` or ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import re

from visionlake.catalog.ddl import CatalogError, catalog_name, check_identifier, lake_tables, s3_uri
from visionlake.catalog.log import TableState, read_state
from visionlake.config import StorageSettings
from visionlake.descriptions import MAX_COLUMN_COMMENT, MAX_TABLE_DESCRIPTION, table_text
from visionlake.lake import storage as st

HIVE_PRIMITIVES = {
    "string": "string",
    "long": "bigint",
    "integer": "int",
    "short": "smallint",
    "byte": "tinyint",
    "float": "float",
    "double": "double",
    "boolean": "boolean",
    "binary": "binary",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
}
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DELTA_PARAMETERS = {"spark.sql.sources.provider": "delta", "table_type": "DELTA", "EXTERNAL": "TRUE"}


def hive_type(kind) -> str:
    """The Hive type string of a Delta schema type (``array<struct<a:bigint>>``), as Glue stores columns."""
    if isinstance(kind, str):
        return HIVE_PRIMITIVES.get(kind, kind)  # decimal(p,s) and anything else keep Delta's spelling
    nested = kind["type"]
    if nested == "array":
        return f"array<{hive_type(kind['elementType'])}>"
    if nested == "map":
        return f"map<{hive_type(kind['keyType'])},{hive_type(kind['valueType'])}>"
    if nested == "struct":
        fields = [
            f"{f['name'] if PLAIN_NAME.match(f['name']) else '`' + f['name'] + '`'}:{hive_type(f['type'])}"
            for f in kind["fields"]
        ]
        return f"struct<{','.join(fields)}>"
    return str(nested)


def table_input(name: str, state: TableState) -> dict:
    """The Glue ``TableInput`` of one lake table: descriptions from ``descriptions.yaml``, else the Delta log."""
    texts = table_text(name)
    description = (texts.description if texts else None) or state.description or f"visionlake table {name}"
    columns = []
    for field in state.fields:
        comment = (texts.columns.get(field["name"]) if texts else None) or (field.get("metadata") or {}).get("comment")
        column = {"Name": field["name"].lower(), "Type": hive_type(field["type"])}
        if comment:
            column["Comment"] = str(comment)[:MAX_COLUMN_COMMENT]
        columns.append(column)
    location = s3_uri(state.location, directory=True)
    return {
        "Name": catalog_name(name),
        "Description": description[:MAX_TABLE_DESCRIPTION],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(DELTA_PARAMETERS),
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Location": location,
            "Columns": columns,
            "SerdeInfo": {"Parameters": {"path": s3_uri(state.location)}},
        },
    }


def _existing_tables(glue, database: str) -> set[str]:
    names: set[str] = set()
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        names.update(t["Name"] for t in page["TableList"])
    return names


def _ensure_database(glue, database: str, lake: str) -> bool:
    """Create the database when it is missing; True when it was created."""
    try:
        glue.get_database(Name=database)
        return False
    except glue.exceptions.EntityNotFoundException:
        pass
    try:
        glue.create_database(DatabaseInput={"Name": database, "Description": f"visionlake tables of {lake}"})
    except glue.exceptions.AlreadyExistsException:  # created meanwhile
        return False
    return True


def register_glue(lake: str, database: str, storage: StorageSettings, glue=None) -> str:
    """Create or update every table of ``lake`` (on S3) in the Glue database ``database`` (created when missing).

    Returns:
        a summary: tables created and updated.

    Raises:
        CatalogError: the lake is not on S3, the database name is not valid, or the lake holds no table.
    """
    import boto3

    check_identifier(database, "database")
    lake = st.normalize(lake)
    if not st.is_s3(lake):
        raise CatalogError(
            f"Glue tables point at S3, and {lake} is a local folder: give the lake as s3a://bucket/prefix"
        )
    tables = sorted(lake_tables(lake, storage).items())
    glue = glue or boto3.client("glue", region_name=storage.region)
    created_database = _ensure_database(glue, database, s3_uri(lake))
    existing = _existing_tables(glue, database)
    created, updated = [], []
    for name, location in tables:
        entry = table_input(name, read_state(location, storage))
        if entry["Name"] in existing:
            glue.update_table(DatabaseName=database, TableInput=entry)
            updated.append(entry["Name"])
            continue
        try:
            glue.create_table(DatabaseName=database, TableInput=entry)
            created.append(entry["Name"])
        except glue.exceptions.AlreadyExistsException:  # registered meanwhile by someone else
            glue.update_table(DatabaseName=database, TableInput=entry)
            updated.append(entry["Name"])
    head = f"Glue database {database}" + (" (created)" if created_database else "")
    return (
        f"{head}: {len(created)} tables created, {len(updated)} updated, for {len(tables)} tables of {s3_uri(lake)}\n"
        + "\n".join(f"  {name:<48} {'created' if name in created else 'updated'}" for name in sorted(created + updated))
    )
