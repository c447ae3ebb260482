"""Table IO: where tables live, how they are written and read, and the run log."""

from __future__ import annotations

from visionlake.lake import storage

LAYERS = ("bronze", "silver", "gold", "quarantine")


def table_location(lake: str, layer: str, source: str, table: str | None = None) -> str:
    """``<lake>/<layer>/<source>/<table>`` (quarantine tables have no table part)."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer}; expected one of {LAYERS}")
    parts = [layer, source] + ([table] if table else [])
    return storage.join(storage.normalize(lake), *parts)
