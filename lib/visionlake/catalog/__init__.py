"""Exposing the lake to query engines: DDL for Athena, Trino and Spark SQL, AWS Glue registration, and the
check that Athena engine 3 and Trino can read every table. The table and column descriptions live in
``descriptions.yaml`` (:mod:`visionlake.descriptions`)."""

from __future__ import annotations

from visionlake.catalog.check import check_lake
from visionlake.catalog.ddl import CatalogError, catalog_name, ddl_statements
from visionlake.catalog.glue import register_glue

__all__ = ["CatalogError", "catalog_name", "check_lake", "ddl_statements", "register_glue"]
