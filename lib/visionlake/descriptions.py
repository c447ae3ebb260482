"""The descriptions of the lake's tables and columns (``descriptions.yaml``, shipped with the package).

Writers take them from here (:func:`table_text`, :func:`described`) to put them into the Delta log; the
catalog puts them into AWS Glue. This module reads only its YAML file, like :mod:`visionlake.config`, so any
layer may ask it for a table's texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import pyarrow as pa
import yaml

from visionlake.errors import ConfigError

RESOURCE = "descriptions.yaml"
MAX_COLUMN_COMMENT = 255  # AWS Glue's limit for Column.Comment
MAX_TABLE_DESCRIPTION = 2048  # and for TableInput.Description


@dataclass(frozen=True)
class TableText:
    """A table's description and its columns' descriptions (in table order)."""

    description: str
    columns: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def descriptions() -> dict[str, TableText]:
    """``{table name: TableText}`` of every table the file describes.

    Raises:
        ConfigError: the file is not valid YAML, or an entry is not a description and a mapping of columns.
    """
    text = resources.files("visionlake").joinpath(RESOURCE).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"visionlake/{RESOURCE} is not valid YAML: {exc}") from exc
    found: dict[str, TableText] = {}
    for name, entry in (data.get("tables") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("description"), str):
            raise ConfigError(f"visionlake/{RESOURCE}: table {name} needs a description")
        columns = entry.get("columns") or {}
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise ConfigError(f"visionlake/{RESOURCE}: the columns of {name} must map names to texts")
        found[str(name)] = TableText(entry["description"].strip(), {str(k): v.strip() for k, v in columns.items()})
    return found


def table_text(name: str) -> TableText | None:
    """The texts of the table ``name`` (``silver_alpr_plates``, ``_runs``), or None when it has none."""
    return descriptions().get(name)


def described(table: pa.Table, name: str) -> tuple[pa.Table, str | None]:
    """``table`` with its columns' texts as field metadata (``comment``, which delta-rs writes into the Delta
    schema when it creates the table), and the table's description; unchanged and None when ``name`` has none."""
    texts = table_text(name)
    if texts is None:
        return table, None
    fields = [
        f.with_metadata({**(f.metadata or {}), b"comment": texts.columns[f.name].encode()})
        if f.name in texts.columns
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata)), texts.description
