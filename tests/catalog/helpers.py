"""Delta logs written by hand (the catalog reads only logs), and S3 copies of them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

SILVER_PLATES_FIELDS = [("frame_key", "string"), ("plate_text", "string"), ("event_date", "date")]


def field(name: str, kind, comment: str | None = None) -> dict:
    return {"name": name, "type": kind, "nullable": True, "metadata": {"comment": comment} if comment else {}}


def protocol(reader: int = 1, writer: int = 2, features: tuple[str, ...] = ()) -> dict:
    """A protocol action; ``features`` are listed as reader and writer features (reader 3 / writer 7)."""
    action = {"minReaderVersion": reader, "minWriterVersion": writer}
    if features:
        action.update(readerFeatures=list(features), writerFeatures=list(features))
    return {"protocol": action}


def metadata(fields: list, partition: tuple[str, ...] = (), configuration: dict | None = None, **extra) -> dict:
    schema = {"type": "struct", "fields": [f if isinstance(f, dict) else field(*f) for f in fields]}
    return {
        "metaData": {
            "id": str(uuid.uuid4()),
            "format": {"provider": "parquet", "options": {}},
            "schemaString": json.dumps(schema),
            "partitionColumns": list(partition),
            "configuration": configuration or {},
            "createdTime": 1767225600000,
            **extra,
        }
    }


def write_log(table: Path, *commits: list[dict]) -> Path:
    """A Delta table folder whose log holds ``commits`` (each a list of actions), from version 0."""
    log = table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    for version, actions in enumerate(commits):
        (log / f"{version:020d}.json").write_text("".join(json.dumps(a) + "\n" for a in actions))
    return table


def upload_logs(client, local_root: Path, bucket: str, prefix: str) -> None:
    """Copy every ``_delta_log`` file under ``local_root`` to ``s3://bucket/prefix/...`` (no data files: the
    catalog reads only logs)."""
    for path in sorted(local_root.rglob("_delta_log/*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(local_root).as_posix()}"
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
