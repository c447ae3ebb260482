"""A table's protocol and metadata, read straight from its Delta log (the newest checkpoint, then the commits).

The log is read here rather than through delta-rs so that a table using a feature delta-rs does not know
(or refuses) can still be described: what an engine will meet is exactly what the log says.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from visionlake.config import StorageSettings
from visionlake.errors import LakeError
from visionlake.lake import storage as st

COMMIT = re.compile(r"(\d{20})\.json")
# classic n.checkpoint.parquet, multi-part n.checkpoint.<part>.<parts>.parquet, V2 n.checkpoint.<uuid>.json|parquet
CHECKPOINT = re.compile(r"(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10})|\.([0-9A-Za-z-]+))?\.(parquet|json)")


@dataclass(frozen=True)
class TableState:
    """What the latest version of a table's log declares."""

    location: str
    version: int
    min_reader_version: int
    min_writer_version: int
    reader_features: tuple[str, ...]
    writer_features: tuple[str, ...]
    configuration: dict[str, str]
    partition_columns: tuple[str, ...]
    fields: tuple[dict, ...]  # the top-level fields of the Delta schema (name, type, nullable, metadata)
    description: str | None = None
    name: str | None = None
    features: tuple[str, ...] = ()  # reader and writer features, sorted, once each

    def column(self, name: str) -> dict | None:
        return next((f for f in self.fields if f["name"] == name), None)


def _configuration(value) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {str(k): str(v) for k, v in value}  # a Parquet map read back as (key, value) pairs


def _apply(action: dict, found: dict) -> None:
    if action.get("protocol"):
        found["protocol"] = action["protocol"]
    if action.get("metaData"):
        found["metaData"] = action["metaData"]


def _read_checkpoint(filesystem, paths: list[str], found: dict) -> None:
    import pyarrow.parquet as pq

    for path in paths:
        if path.endswith(".json"):
            with filesystem.open_input_stream(path) as stream:
                for line in stream.read().decode("utf-8").splitlines():
                    if line.strip():
                        _apply(json.loads(line), found)
            continue
        with filesystem.open_input_file(path) as handle:
            parquet = pq.ParquetFile(handle)
            columns = [c for c in ("protocol", "metaData") if c in parquet.schema_arrow.names]
            for row in parquet.read(columns=columns).to_pylist():
                _apply(row, found)


def read_state(location: str, storage: StorageSettings) -> TableState:
    """The protocol and metadata of the latest version of the table at ``location``.

    Raises:
        LakeError: there is no log, or the commits after the newest checkpoint are not all there.
    """
    from pyarrow import fs

    filesystem, root = st.filesystem_path(location, storage)
    log = f"{root.rstrip('/')}/_delta_log"
    infos = st.retrying(lambda: filesystem.get_file_info(fs.FileSelector(log, allow_not_found=True)), storage, location)
    commits: dict[int, str] = {}
    checkpoints: dict[int, dict[str, list[str]]] = {}
    for info in infos:
        if info.type != fs.FileType.File:
            continue
        if match := COMMIT.fullmatch(info.base_name):
            commits[int(match.group(1))] = info.path
        elif match := CHECKPOINT.fullmatch(info.base_name):
            version, _part, parts, uuid, _kind = match.groups()
            key = f"{parts}" if parts else (uuid or "single")
            checkpoints.setdefault(int(version), {}).setdefault(key, []).append(info.path)
    if not commits and not checkpoints:
        raise LakeError(f"{location}: no Delta log (no commit in _delta_log)")
    latest = max([*commits, *checkpoints])
    start, found = -1, {}
    for version in sorted((v for v in checkpoints if v <= latest), reverse=True):
        complete = [
            sorted(paths) for key, paths in checkpoints[version].items() if not key.isdigit() or len(paths) == int(key)
        ]
        if complete:
            _read_checkpoint(filesystem, complete[0], found)
            start = version
            break
    for version in range(start + 1, latest + 1):
        path = commits.get(version)
        if path is None:
            raise LakeError(f"{location}: the Delta log has no commit {version} (and no checkpoint after it)")
        with filesystem.open_input_stream(path) as stream:
            for line in stream.read().decode("utf-8").splitlines():
                if line.strip():
                    _apply(json.loads(line), found)
    protocol, metadata = found.get("protocol"), found.get("metaData")
    if protocol is None or metadata is None:
        raise LakeError(f"{location}: the Delta log has no protocol or metaData action")
    schema = json.loads(metadata.get("schemaString") or '{"fields": []}')
    readers = tuple(protocol.get("readerFeatures") or ())
    writers = tuple(protocol.get("writerFeatures") or ())
    return TableState(
        location=location,
        version=latest,
        min_reader_version=int(protocol.get("minReaderVersion") or 1),
        min_writer_version=int(protocol.get("minWriterVersion") or 2),
        reader_features=readers,
        writer_features=writers,
        configuration=_configuration(metadata.get("configuration")),
        partition_columns=tuple(metadata.get("partitionColumns") or ()),
        fields=tuple(schema.get("fields") or ()),
        description=metadata.get("description"),
        name=metadata.get("name"),
        features=tuple(sorted({*readers, *writers})),
    )


def type_name(kind) -> str:
    """A Delta schema type as one word: ``string``, ``decimal(10,2)``, ``struct``, ``array``, ``map``."""
    return kind if isinstance(kind, str) else str(kind.get("type"))


def leaf_types(kind) -> list[str]:
    """Every primitive type inside a Delta schema type (the type itself for a primitive)."""
    if isinstance(kind, str):
        return [kind]
    nested = kind.get("type")
    if nested == "struct":
        return [t for f in kind.get("fields") or () for t in leaf_types(f["type"])]
    if nested == "array":
        return leaf_types(kind["elementType"])
    if nested == "map":
        return leaf_types(kind["keyType"]) + leaf_types(kind["valueType"])
    return [str(nested)]
