"""The run log ``<lake>/_runs``: one row per run and stage, appended with delta-rs from the driver."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from visionlake import faults
from visionlake.config import StorageSettings
from visionlake.descriptions import described
from visionlake.lake import storage as st

RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), False),
        pa.field("source", pa.string(), False),
        pa.field("stage", pa.string(), False),
        pa.field("status", pa.string(), False),
        pa.field("started_at", pa.timestamp("us", tz="UTC"), False),
        pa.field("seconds", pa.float64()),
        pa.field("files_in", pa.int64()),
        pa.field("rows_in", pa.int64()),
        pa.field("rows_out", pa.map_(pa.string(), pa.int64())),
        pa.field("quarantined", pa.int64()),
        pa.field("message", pa.string()),
    ]
)


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: UTC time plus random suffix, e.g. ``20261122T103005Z-3f9a1c``."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass
class StageRecord:
    stage: str
    started_at: datetime
    status: str = "ok"
    seconds: float | None = None
    files_in: int | None = None
    rows_in: int | None = None
    rows_out: dict[str, int] = field(default_factory=dict)
    quarantined: int | None = None
    message: str | None = None


def runs_location(lake: str) -> str:
    return st.join(st.normalize(lake), "_runs")


def append_runs(lake: str, run_id: str, source: str, records: list[StageRecord], storage: StorageSettings) -> None:
    """Append the stage records of one run to ``<lake>/_runs``."""
    faults.point("runlog:before")
    rows = [
        {
            "run_id": run_id,
            "source": source,
            "stage": r.stage,
            "status": r.status,
            "started_at": r.started_at,
            "seconds": r.seconds,
            "files_in": r.files_in,
            "rows_in": r.rows_in,
            "rows_out": list(r.rows_out.items()) if r.rows_out else None,
            "quarantined": r.quarantined,
            "message": r.message,
        }
        for r in records
    ]
    append_described(runs_location(lake), pa.Table.from_pylist(rows, schema=RUNS_SCHEMA), "_runs", storage)
    faults.point("runlog:after")


def append_described(
    location: str, table: pa.Table, name: str, storage: StorageSettings, merge_schema: bool = False
) -> None:
    """Append ``table`` to the log table at ``location`` (retried as every storage call). The table, when this
    creates it, gets the texts of ``name`` (descriptions.yaml) in its log; an existing table keeps the texts it has:
    delta-rs refuses to append columns whose comment differs from the table's, so a text edited in a later release
    would stop every run. ``merge_schema``: columns ``table`` has and the existing table has not are added."""
    from deltalake import DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError

    uri, options = st.object_store_uri(location), st.delta_storage_options(storage)

    def append() -> None:
        exists = DeltaTable.is_deltatable(uri, options)
        data, description = (table, None) if exists else described(table, name)
        try:
            write_deltalake(
                uri,
                data,
                mode="append",
                description=description,
                storage_options=options,
                schema_mode="merge" if merge_schema and exists else None,
            )
        except CommitFailedError:
            if exists:
                raise
            # Another writer created the table first (two runs, or a run and a check, ending together on a new
            # lake): its first commit is there now, and the rows are appended to it.
            write_deltalake(uri, table, mode="append", storage_options=options)

    st.retrying(append, storage, uri)


def _plausible_time(text: str) -> datetime:
    """``text`` as an aware UTC time when it is one between 2000 and a day from now, else now: a lease file's
    ``since`` may have been damaged or edited, and a time past year 9999 in UTC made ``_runs`` unreadable."""
    now = datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text)
        when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return now
    return when if datetime(2000, 1, 1, tzinfo=UTC) <= when <= now + timedelta(days=1) else now


def record_interrupted(lake: str, run_id: str, source: str, since: str, by: str, storage: StorageSettings) -> None:
    """Record ``run_id``, which held the lease and never released it (it was killed), as ``interrupted``."""
    started = _plausible_time(since)
    message = f"the run ended without releasing its lease (killed or lost); found by run {by}"
    append_runs(lake, run_id, source, [StageRecord("run", started, "interrupted", message=message)], storage)
