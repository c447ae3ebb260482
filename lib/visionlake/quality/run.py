"""``visionlake check``: the declared checks of each source over whole tables, on demand."""

from __future__ import annotations

from datetime import UTC, datetime

from deltalake.exceptions import DeltaError

from visionlake.config import Config
from visionlake.errors import LakeError, describe
from visionlake.lake import reader, table_location
from visionlake.lake.lease import Lease
from visionlake.lake.runlog import new_run_id
from visionlake.quality import checks as qc
from visionlake.quality.results import append_results

SOURCES = ("alpr", "face_validation", "detections", "face_recognition")


def _location(lake: str, source: str, table: str) -> str:
    if table == "quarantine":
        return table_location(lake, "quarantine", source)
    layer, _, name = table.partition(".")
    return table_location(lake, layer, source, name)


def whole_tables(lake: str, cfg: Config, source: str, suite: qc.Suite) -> tuple[dict[str, qc.Scope], dict[str, str]]:
    """Every table the suite names, whole (missing tables are left out), and those whose log cannot be read,
    with why."""
    scopes: dict[str, qc.Scope] = {}
    unreadable: dict[str, str] = {}
    for check in suite.checks:
        for table in check.tables:
            if table in scopes or table in unreadable:
                continue
            location = _location(lake, source, table)
            try:
                snap = reader.checked_snapshot(location, cfg.storage)
            except LakeError as exc:
                unreadable[table] = reader.why(exc, location)
                continue
            if snap is not None:
                whole = reader.dataset(snap, cfg.storage)
                scopes[table] = qc.Scope(whole, whole, snap.num_records)
    return scopes, unreadable


def _evaluated(
    suite: qc.Suite, checks: list[qc.Check], scopes: dict[str, qc.Scope], now: datetime, cfg: Config
) -> tuple[list[qc.CheckResult], dict[str, str]]:
    """The results of ``checks``, and the checks that could not run, with why: a data file that is gone or
    damaged fails the scan of its table. Then each check runs alone, so that only those reading it fail."""
    import duckdb

    try:
        return qc.evaluate(suite, checks, scopes, now, "table", cfg.storage) if checks else [], {}
    except (duckdb.Error, LakeError, OSError) as exc:
        if len(checks) == 1:
            return [], {f"{checks[0].table} {checks[0].name}": describe(exc, hint=False)}
    results: list[qc.CheckResult] = []
    failed: dict[str, str] = {}
    for check in checks:
        done, broken = _evaluated(suite, [check], scopes, now, cfg)
        results += done
        failed |= broken
    return results, failed


def check_lake(lake: str, cfg: Config, source: str | None = None) -> tuple[str, str]:
    """Run the checks of ``source`` (or of every source with tables in the lake) on whole tables, each source
    under its lease (waiting for a run of it to end), and record them in ``_quality/results``. Returns the report
    and, when an ``error`` check failed, a one-line summary (else "").

    Raises:
        LakeError: the lake has no tables (of ``source``, given one).
        LeaseTimeoutError: a run of a source held its lease for longer than ``lake.lease_wait_seconds``.
    """
    names = reader.table_locations(lake, cfg.storage)
    if not names:  # a mistyped --lake must not pass as a lake whose checks all hold
        raise LakeError(f"no tables in {lake}: nothing to check (run `visionlake run SOURCE --input ... --lake ...`)")
    sources = [source] if source else [s for s in SOURCES if any(f"_{s}_" in f"{n}_" for n in names)]
    if source and not any(f"_{source}_" in f"{n}_" for n in names):  # as maintain (until Dec 7 it passed)
        raise LakeError(f"no tables of {source} in {lake}: nothing to check")
    now = datetime.now(UTC)
    run_id = f"check-{new_run_id(now)}"
    lines = [f"checks of {lake} ({run_id}):"]
    errors: list[qc.CheckResult] = []
    broken: list[str] = []
    unrecorded: list[str] = []
    for name in sources:
        suite = qc.load_suite(name)
        # under the source's lease, as its runs and `maintain`: a check that read bronze after a running run's
        # commit and silver before it failed reconciliations that hold, and recorded the failures
        with Lease.configured(cfg, lake, name, run_id):
            scopes, unreadable = whole_tables(lake, cfg, name, suite)
            if not scopes and not unreadable:
                lines.append(f"  {name}: no tables")
                continue
            # a check that reads an unreadable table is not run: the table is reported instead
            checks = [c for c in suite.checks if not c.tables & set(unreadable)]
            checks = [c for c in checks if c.tables <= set(scopes) or c.table in scopes]
            results, failed = _evaluated(suite, checks, scopes, now, cfg)
            if results:
                try:
                    append_results(lake, run_id, name, results, now, cfg.storage)
                except (LakeError, DeltaError) as exc:  # the checks ran: report them all the same
                    unrecorded.append(f"{name}: {describe(exc, hint=False)}")
        passed = sum(r.passed for r in results)
        lines.append(f"  {name}: {passed} of {len(results)} checks passed")
        lines += [f"    cannot read {name} {table}: {why}" for table, why in unreadable.items()]
        lines += [f"    cannot run {name} {check}: {why}" for check, why in failed.items()]
        broken += [f"{name} {check}: {why}" for check, why in failed.items()]
        lines += [f"    {r.line()}" for r in results if not r.passed]
        errors += [r for r in results if not r.passed and r.check.level == "error"]
        broken += [f"{name} {table}: {why}" for table, why in unreadable.items()]
    problems = [f"{len(broken)} of the checked tables or checks cannot be read, e.g. {broken[0]}"] if broken else []
    if unrecorded:
        lines.append(f"  results not recorded in _quality/results: {'; '.join(unrecorded)}")
        problems.append(f"the results could not be recorded in _quality/results ({unrecorded[0]})")
    if errors:
        check, rows = errors[0].check, errors[0].failing_rows
        problems.append(f"{len(errors)} error checks failed, e.g. {check.table} {check.name} on {rows} rows")
    return "\n".join(lines), "; ".join(problems)
