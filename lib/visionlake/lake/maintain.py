"""Table maintenance: compaction, checkpoints and vacuum, with delta-rs (no Spark).

- **Compaction** bin-packs each partition's small files into files of about ``lake.compact_target_mb``. The
  new files are added with ``dataChange = false``, so incremental consumers (silver reading bronze, gold
  reading silver) take nothing from them, exactly as Delta's streaming readers do.
- **Checkpoint**: a Parquet snapshot of the log at the current version, so that readers do not replay
  every commit.
- **Vacuum** deletes the data files that no version of the last ``retain_hours`` needs, and the files that
  no version ever referenced (left behind by runs that were killed between writing and committing), once
  they are older than ``retain_hours``. Below ``lake.min_retain_hours`` it refuses: time travel and readers
  still scanning an older version need those files.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from visionlake import faults
from visionlake.config import StorageSettings
from visionlake.errors import LakeError
from visionlake.lake import delta, reader
from visionlake.lake import storage as st


@dataclass(frozen=True)
class Maintained:
    table: str
    files_before: int
    files_after: int
    files_compacted: int  # small files rewritten into bigger ones
    files_vacuumed: int
    version: int  # after maintenance (the checkpoint's version)
    seconds: float

    def line(self) -> str:
        return (
            f"  {self.table:<40} files {self.files_before} -> {self.files_after} "
            f"(compacted {self.files_compacted}, vacuumed {self.files_vacuumed}), checkpoint at v{self.version}, "
            f"{self.seconds:.1f} s"
        )


MAX_RETAIN_HOURS = 100 * 366 * 24  # a century: past this, delta-rs's vacuum panics (its durations overflow)


def check_retention(retain_hours: float, minimum: float) -> None:
    """Raises LakeError when ``retain_hours`` is not a number of hours from the configured minimum to a century
    (before any table is touched)."""
    if not math.isfinite(retain_hours) or retain_hours > MAX_RETAIN_HOURS:
        raise LakeError(
            f"refusing to vacuum with a retention of {retain_hours:g} hours: give a number of hours from "
            f"lake.min_retain_hours ({minimum:g}) to {MAX_RETAIN_HOURS:,} (a century)"
        )
    if retain_hours < minimum:
        raise LakeError(
            f"refusing to vacuum with a retention of {retain_hours:g} hours: below lake.min_retain_hours "
            f"({minimum:g}); older versions and readers still scanning them need those files"
        )


def maintain_table(
    name: str, location: str, storage: StorageSettings, target_mb: int, retain_hours: float
) -> Maintained:
    """Compact, checkpoint and vacuum one table."""
    started = time.monotonic()
    table = delta.open_table(location, storage)
    if table is None:
        raise LakeError(f"{location} is not a Delta table")
    reader.checked_snapshot(location, storage)  # a checkpoint over an emptied commit would make its loss final
    before = len(table.file_uris())
    faults.point(f"maintain:{name}:compact")
    metrics = table.optimize.compact(target_size=target_mb << 20)
    compacted = int(metrics.get("numFilesRemoved", 0))
    table = delta.open_table(location, storage)
    faults.point(f"maintain:{name}:checkpoint")
    table.create_checkpoint()
    faults.point(f"maintain:{name}:vacuum")
    vacuumed = table.vacuum(
        retention_hours=int(retain_hours), dry_run=False, enforce_retention_duration=False, full=True
    )
    table.cleanup_metadata()
    table = delta.open_table(location, storage)
    return Maintained(
        table=name,
        files_before=before,
        files_after=len(table.file_uris()),
        files_compacted=compacted,
        files_vacuumed=len(vacuumed),
        version=table.version(),
        seconds=round(time.monotonic() - started, 2),
    )


def tables_of(lake: str, storage: StorageSettings, source: str | None) -> dict[str, str]:
    """``{name: location}`` of the tables to maintain: one source's, or every table of the lake."""
    from visionlake.lake.reader import table_locations

    found = table_locations(lake, storage)
    if source is None:
        return found
    return {name: loc for name, loc in found.items() if f"_{source}_" in f"{name}_" and not name.startswith("_")}


def location_label(lake: str, location: str) -> str:
    return st.relative_to(st.normalize(lake), location)
