"""The quality tables of a lake: ``<lake>/_quality/results`` (one row per check per run) and
``<lake>/_quality/schema_drift`` (fields the declared schemas do not know), appended with delta-rs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from visionlake.config import StorageSettings
from visionlake.lake import reader
from visionlake.lake import storage as st
from visionlake.lake.runlog import append_described
from visionlake.quality.checks import CheckResult

RESULTS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), False),
        pa.field("source", pa.string(), False),
        pa.field("table", pa.string(), False),
        pa.field("check", pa.string(), False),
        pa.field("kind", pa.string(), False),
        pa.field("level", pa.string(), False),
        pa.field("passed", pa.bool_(), False),
        pa.field("failing_rows", pa.int64(), False),
        pa.field("checked_rows", pa.int64(), False),
        pa.field("sample", pa.list_(pa.string())),
        pa.field("detail", pa.string()),
        pa.field("scope", pa.string(), False),
        pa.field("checked_at", pa.timestamp("us", tz="UTC"), False),
    ]
)
DRIFT_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), False),
        pa.field("field_path", pa.string(), False),
        pa.field("json_type", pa.string(), False),
        pa.field("records", pa.int64(), False),  # records of this run that carry it
        pa.field("first_file", pa.string(), False),  # of this run
        pa.field("first_run_id", pa.string(), False),  # the run that saw it first
        pa.field("run_id", pa.string(), False),
        pa.field("detected_at", pa.timestamp("us", tz="UTC"), False),
    ]
)


def results_location(lake: str) -> str:
    return st.join(st.normalize(lake), "_quality", "results")


def drift_location(lake: str) -> str:
    return st.join(st.normalize(lake), "_quality", "schema_drift")


def _append(location: str, table: pa.Table, storage: StorageSettings, name: str) -> None:
    """Append rows; a table created here gets the texts of ``name`` (descriptions.yaml) in its log."""
    if table.num_rows:
        append_described(location, table, name, storage)


def append_results(
    lake: str, run_id: str, source: str, results: list[CheckResult], at: datetime, storage: StorageSettings
) -> None:
    rows = [
        {
            "run_id": run_id,
            "source": source,
            "table": r.check.table,
            "check": r.check.name,
            "kind": r.check.kind,
            "level": r.check.level,
            "passed": r.passed,
            "failing_rows": r.failing_rows,
            "checked_rows": r.checked_rows,
            "sample": r.sample,
            "detail": r.detail,
            "scope": r.scope,
            "checked_at": at,
        }
        for r in results
    ]
    _append(results_location(lake), pa.Table.from_pylist(rows, schema=RESULTS_SCHEMA), storage, "_quality_results")


@dataclass(frozen=True)
class Drift:
    field_path: str
    json_type: str
    records: int
    first_file: str
    new: bool  # never seen in this lake before this run

    def line(self) -> str:
        return f"{self.field_path} ({self.json_type}) in {self.records} records, first in {self.first_file}"


def record_drift(
    lake: str, run_id: str, source: str, carried: pa.Table, at: datetime, storage: StorageSettings
) -> list[Drift]:
    """Append this run's undeclared fields to ``_quality/schema_drift``; returns them, sorted.

    Args:
        carried: ``source_path`` and ``new_fields`` (list of ``"<path>:<json type>"``) of the records this
            run ingested.
    """
    counts: Counter = Counter()
    first: dict[tuple[str, str], str] = {}
    for path, fields in zip(
        carried.column("source_path").to_pylist(), carried.column("new_fields").to_pylist(), strict=True
    ):
        for entry in fields or ():
            name, _, kind = entry.rpartition(":")
            counts[(name, kind)] += 1
            if (name, kind) not in first or path < first[(name, kind)]:
                first[(name, kind)] = path
    if not counts:
        return []
    seen: dict[tuple[str, str], str] = {}
    previous = reader.read_table(
        drift_location(lake), storage, columns=["source", "field_path", "json_type", "first_run_id"]
    )
    if previous is not None:
        for row in previous.to_pylist():
            if row["source"] == source:
                seen.setdefault((row["field_path"], row["json_type"]), row["first_run_id"])
    drifts = [
        Drift(name, kind, counts[(name, kind)], first[(name, kind)], (name, kind) not in seen)
        for name, kind in sorted(counts)
    ]
    rows = [
        {
            "source": source,
            "field_path": d.field_path,
            "json_type": d.json_type,
            "records": d.records,
            "first_file": d.first_file,
            "first_run_id": seen.get((d.field_path, d.json_type), run_id),
            "run_id": run_id,
            "detected_at": at,
        }
        for d in drifts
    ]
    _append(drift_location(lake), pa.Table.from_pylist(rows, schema=DRIFT_SCHEMA), storage, "_quality_schema_drift")
    return drifts
