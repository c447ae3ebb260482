"""Table IO: where tables live, how they are written and read, and the run log."""

from __future__ import annotations

import re

from visionlake.lake import storage
from visionlake.lake.reader import read

__all__ = ["LAYERS", "read", "read_spark", "table_location"]

LAYERS = ("bronze", "silver", "gold", "quarantine")
NAME = re.compile(r"^[a-z0-9_]+$")  # source and table names: never a path that could leave the lake


def table_location(lake: str, layer: str, source: str, table: str | None = None) -> str:
    """``<lake>/<layer>/<source>/<table>`` (quarantine tables have no table part).

    Raises:
        ValueError: an unknown layer, or a source or table name that is not ``[a-z0-9_]+``.
    """
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer}; expected one of {LAYERS}")
    for name in (source, table):
        if name is not None and not NAME.match(name):
            raise ValueError(f"{name!r} is not a table or source name (lowercase letters, digits and _ only)")
    parts = [layer, source] + ([table] if table else [])
    return storage.join(storage.normalize(lake), *parts)


def read_spark(spark, table: str, lake: str | None = None, version: int | None = None, storage=None):
    """A lake table as a Spark DataFrame (the committed snapshot, latest or ``version``), for Spark users without
    delta-spark: ``read_spark(spark, "silver_alpr_frames", lake="s3a://bucket/lake")``.

    Raises:
        LakeError: there is no such table, or that version cannot be read.
    """
    from visionlake.config import load_config
    from visionlake.errors import LakeError
    from visionlake.lake import delta
    from visionlake.lake.reader import resolve

    storage = storage or load_config("local").storage
    location = resolve(table, lake, storage)
    df = delta.read_table(spark, location, storage, version=version)
    if df is None:
        raise LakeError(f"{location} is not a Delta table")
    return df
