"""Table IO: where tables live, how they are written and read, and the run log."""

from __future__ import annotations

import re

from visionlake.lake import storage
from visionlake.lake.reader import read

__all__ = ["LAYERS", "read", "table_location"]

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
