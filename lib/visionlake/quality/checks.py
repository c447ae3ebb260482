"""Quality checks declared as data (``conf/quality/<source>.yaml``) and evaluated with DuckDB over Arrow.

A file lists the key of each table (failing rows are sampled by it) and the checks::

    tables:
      silver.frames: [frame_key]
    checks:
      - {table: silver.frames, not_null: [frame_key, event_ts], level: error}
      - {table: silver.frames, unique: [frame_key]}
      - {table: silver.frames, range: event_ts, min: "2000-01-01", max: now + 1 day, level: warn}
      - {table: silver.plates, range: char_confidences, min: 0, max: 100, level: warn}   # each element of a list
      - {table: silver.api_calls, accepted_values: summary_status, values: [ok, error]}
      - {table: silver.plates, references: silver.frames, columns: [frame_key]}
      - {reconcile: bronze.results = silver.frames + quarantine}
      - {reconcile: silver.frames.sum(plate_count) = silver.plates}

``level`` is ``error`` (the default: a failure stops the run before gold is published) or ``warn`` (reported,
the run goes on). Nulls pass ``range`` and ``accepted_values``. A table is named ``<layer>.<table>``, or
``quarantine``. Row checks look at the rows in scope (a run: the rows gold has not consumed yet, or the gold
rows about to be published; ``visionlake check``: whole tables); ``unique`` and ``references`` compare them
with the whole table they refer to; ``reconcile`` compares whole tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.dataset as ds
import yaml

from visionlake.config import CONF_DIR_ENV, DEFAULT_CONF_DIR, StorageSettings
from visionlake.errors import ConfigError

LEVELS = ("error", "warn")
KINDS = ("not_null", "unique", "range", "accepted_values", "references", "reconcile")
SAMPLE_SIZE = 5
_NOW = re.compile(r"^now\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*(day|days|hour|hours|minute|minutes))?$")


@dataclass(frozen=True)
class Check:
    name: str
    kind: str
    table: str  # "silver.frames"; for reconcile, the left side's first table
    level: str
    columns: tuple[str, ...] = ()
    low: object = None
    high: object = None
    values: tuple = ()
    parent: str | None = None
    parent_columns: tuple[str, ...] = ()
    left: tuple[tuple[str, str | None], ...] = ()  # reconcile: (table, summed column or None for rows)
    right: tuple[tuple[str, str | None], ...] = ()

    @property
    def tables(self) -> set[str]:
        return {t for t, _ in self.left + self.right} | {self.table} | ({self.parent} if self.parent else set())


@dataclass(frozen=True)
class Suite:
    source: str
    keys: dict[str, tuple[str, ...]]
    checks: tuple[Check, ...]

    def for_tables(self, tables: set[str]) -> list[Check]:
        """The checks that look at (the rows in scope of) one of ``tables``; reconcile checks go with any table of
        their left side."""
        return [
            c
            for c in self.checks
            if c.table in tables or (c.kind == "reconcile" and any(t in tables for t, _ in c.left))
        ]


@dataclass
class CheckResult:
    check: Check
    passed: bool
    failing_rows: int
    checked_rows: int
    sample: list[str] = field(default_factory=list)
    detail: str = ""
    scope: str = "run"

    def line(self) -> str:
        outcome = "ok" if self.passed else f"FAILED ({self.failing_rows} rows)"
        sample = f"; e.g. {', '.join(self.sample[:3])}" if self.sample and not self.passed else ""
        return f"{self.check.level:<5} {self.check.table} {self.check.name}: {outcome}{sample}"


# --------------------------------------------------------------------------------------------------
# loading


def _list(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else (str(value),)


def _term(text: str) -> tuple[str, str | None]:
    text = text.strip()
    match = re.fullmatch(r"(.+)\.sum\((\w+)\)", text)
    return (match.group(1), match.group(2)) if match else (text, None)


def _check(entry: dict, source: str, where: str) -> list[Check]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: a check must be a mapping, not {entry!r}")
    kinds = [k for k in KINDS if k in entry]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: a check needs exactly one of {', '.join(KINDS)}: {entry}")
    kind = kinds[0]
    level = str(entry.get("level", "error"))
    if level not in LEVELS:
        raise ConfigError(f"{where}: level must be error or warn, not {level!r}")
    known = {kind, "table", "level", "name", "min", "max", "values", "columns", "parent_columns"}
    unknown = sorted(str(k) for k in set(entry) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if kind == "reconcile":
        left, _, right = str(entry["reconcile"]).partition("=")
        if not right:
            raise ConfigError(f"{where}: reconcile needs 'A = B + C', not {entry['reconcile']!r}")
        lefts = tuple(_term(t) for t in left.split("+"))
        rights = tuple(_term(t) for t in right.split("+"))
        name = entry.get("name") or f"reconcile({' + '.join(_show(t) for t in lefts)} = "
        name = entry.get("name") or f"{name}{' + '.join(_show(t) for t in rights)})"
        return [Check(name, kind, lefts[0][0], level, left=lefts, right=rights)]
    table = entry.get("table")
    if not table:
        raise ConfigError(f"{where}: {kind} needs a table")
    if kind == "not_null":  # one result per column
        return [Check(entry.get("name") or f"not_null({c})", kind, table, level, (c,)) for c in _list(entry[kind])]
    if kind == "unique":
        columns = _list(entry[kind])
        return [Check(entry.get("name") or f"unique({', '.join(columns)})", kind, table, level, columns)]
    if kind == "range":  # one result per column
        if entry.get("min") is None and entry.get("max") is None:
            raise ConfigError(f"{where}: range needs min, max or both")
        bounds = f"{entry.get('min', '')}..{entry.get('max', '')}"
        return [
            Check(
                entry.get("name") or f"range({column}, {bounds})",
                kind,
                table,
                level,
                (column,),
                low=entry.get("min"),
                high=entry.get("max"),
            )
            for column in _list(entry[kind])
        ]
    if kind == "accepted_values":
        column = str(entry[kind])
        values = tuple(entry.get("values") or ())
        if not values:
            raise ConfigError(f"{where}: accepted_values needs values")
        return [Check(entry.get("name") or f"accepted_values({column})", kind, table, level, (column,), values=values)]
    on = _list(entry.get("columns"))
    if not on:
        raise ConfigError(f"{where}: references needs columns (the key columns)")
    parent = str(entry[kind])
    return [
        Check(
            entry.get("name") or f"references({parent} on {', '.join(on)})",
            kind,
            table,
            level,
            on,
            parent=parent,
            parent_columns=_list(entry.get("parent_columns")) or on,
        )
    ]


def _show(term: tuple[str, str | None]) -> str:
    return term[0] if term[1] is None else f"{term[0]}.sum({term[1]})"


def conf_dir() -> Path:
    import os

    return Path(os.environ.get(CONF_DIR_ENV) or DEFAULT_CONF_DIR)


def load_suite(source: str, folder: Path | None = None) -> Suite:
    """The checks of ``source`` from ``conf/quality/<source>.yaml`` (none when the file does not exist).

    Raises:
        ConfigError: the file is not valid YAML or a check is malformed.
    """
    path = (folder or conf_dir() / "quality") / f"{source}.yaml"
    if not path.is_file():
        return Suite(source, {}, ())
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    keys = {str(t): _list(k) for t, k in (data.get("tables") or {}).items()}
    checks: list[Check] = []
    for number, entry in enumerate(data.get("checks") or [], start=1):
        checks += _check(entry, source, f"{path}, check {number}")
    return Suite(source, keys, tuple(checks))


# --------------------------------------------------------------------------------------------------
# evaluation


@dataclass
class Scope:
    """What one table contributes: ``rows`` to check (None: the table does not exist yet) and ``whole``, the
    committed table that unique keys and references are compared with (may be the same dataset)."""

    rows: ds.Dataset | None
    whole: ds.Dataset | None
    count: int | None = None  # whole-table row count, when known from the log


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _view(table: str, part: str) -> str:
    return _quote(f"{part}__{table.replace('.', '__')}")


def _literal(value: object, now: datetime) -> str:
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"a bound must be a number, a date or 'now [+-] N days', not {value!r}")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMPTZ '{value.isoformat()}'"
    if isinstance(value, date):
        return f"TIMESTAMPTZ '{value.isoformat()} 00:00:00+00'"
    text = str(value).strip()
    match = _NOW.match(text)
    if match:
        sign, amount, unit = match.groups()
        base = f"TIMESTAMPTZ '{now.isoformat()}'"
        if not sign:
            return base
        seconds = float(amount) * {"day": 86400, "hour": 3600, "minute": 60}[unit.rstrip("s")]
        return f"({base} {sign} to_seconds({seconds}))"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"a bound must be a number, a date or 'now [+-] N days', not {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return f"TIMESTAMPTZ '{parsed.isoformat()}'"


def _value_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _failure(check: Check, column_type: str, now: datetime) -> str:
    """SQL that is true for a failing row of a row check."""
    column = _quote(check.columns[0])
    if check.kind == "not_null":
        return f"{column} IS NULL"
    is_list = column_type.endswith("[]")
    value = "v" if is_list else column
    if check.kind == "range":
        terms = []
        cast = "::TIMESTAMPTZ" if ("TIMESTAMP" in column_type or column_type.startswith("DATE")) else ""
        if check.low is not None:
            terms.append(f"{value}{cast} < {_literal(check.low, now)}")
        if check.high is not None:
            terms.append(f"{value}{cast} > {_literal(check.high, now)}")
        test = " OR ".join(terms)
    else:  # accepted_values: typed literals, so that 1 matches 1.0 and true matches a boolean
        test = f"{value} NOT IN ({', '.join(_value_literal(v) for v in check.values)})"
    if is_list:
        return f"coalesce(list_bool_or(list_transform({column}, lambda v: coalesce({test}, false))), false)"
    return f"coalesce({test}, false)"


def _key_text(keys: tuple[str, ...]) -> str:
    parts = [f"'{k}=' || coalesce({_quote(k)}::VARCHAR, 'null')" for k in keys]
    return " || ', ' || ".join(parts) if parts else "'row'"


def evaluate(
    suite: Suite,
    checks: list[Check],
    scopes: dict[str, Scope],
    now: datetime,
    scope: str,
    storage: StorageSettings | None = None,
) -> list[CheckResult]:
    """Run ``checks`` over ``scopes`` (``{table: Scope}``) with DuckDB; one result per check.

    A check whose table is not in ``scopes`` or does not exist passes with 0 rows checked. With ``storage``,
    a read that the object store fails (a reset in the middle of a response) is retried, the whole
    evaluation again, for up to ``storage.retry_seconds``: it only reads.
    """
    if storage is None:
        return _evaluate(suite, checks, scopes, now, scope)
    from visionlake.lake import storage as st

    return st.retrying(lambda: _evaluate(suite, checks, scopes, now, scope), storage, "the tables under check")


def _evaluate(
    suite: Suite, checks: list[Check], scopes: dict[str, Scope], now: datetime, scope: str
) -> list[CheckResult]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    try:
        for table, part in scopes.items():
            if part.rows is not None:
                con.register(_view(table, "rows").strip('"'), part.rows)
            if part.whole is not None:
                con.register(_view(table, "whole").strip('"'), part.whole)
        results: list[CheckResult] = []
        by_table: dict[str, list[Check]] = {}
        for check in checks:
            by_table.setdefault(check.table, []).append(check)
        for table, table_checks in by_table.items():
            results += _evaluate_table(con, suite, table, table_checks, scopes, now, scope)
        order = {id(c): i for i, c in enumerate(checks)}
        return sorted(results, key=lambda r: order[id(r.check)])
    finally:
        con.close()


def _evaluate_table(con, suite, table, checks, scopes, now, scope) -> list[CheckResult]:
    part = scopes.get(table)
    results = [_reconcile(con, c, scopes, scope) for c in checks if c.kind == "reconcile"]
    checks = [c for c in checks if c.kind != "reconcile"]
    row_checks = [c for c in checks if c.kind in ("not_null", "range", "accepted_values")]
    if part is None or part.rows is None:
        return results + [CheckResult(c, True, 0, 0, scope=scope, detail="no rows to check") for c in checks]
    rows = _view(table, "rows")
    types = {r[0]: str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {rows}").fetchall()}
    keys = suite.keys.get(table, ())
    if row_checks:
        for check in row_checks:
            if check.columns[0] not in types:
                raise ConfigError(f"quality check {check.name} on {table}: no column {check.columns[0]}")
        conditions = [_failure(c, types[c.columns[0]], now) for c in row_checks]
        counts = con.execute(
            f"SELECT count(*), {', '.join(f'count(*) FILTER (WHERE {f})' for f in conditions)} FROM {rows}"
        ).fetchone()
        total = counts[0]
        for check, condition, failing in zip(row_checks, conditions, counts[1:], strict=True):
            sample = []
            if failing:
                sample = [
                    r[0]
                    for r in con.execute(
                        f"SELECT {_key_text(keys)} FROM {rows} WHERE {condition} LIMIT {SAMPLE_SIZE}"
                    ).fetchall()
                ]
            results.append(CheckResult(check, failing == 0, failing, total, sample, _bounds(check), scope))
    for check in checks:
        if check.kind == "unique":
            results.append(_unique(con, table, check, part, scope))
        elif check.kind == "references":
            results.append(_references(con, table, check, scopes, keys, scope))
    return results


def _bounds(check: Check) -> str:
    if check.kind == "range":
        return f"min {check.low if check.low is not None else '-'}, max {check.high if check.high is not None else '-'}"
    if check.kind == "accepted_values":
        return "values " + ", ".join(str(v) for v in check.values)
    return ""


def _unique(con, table: str, check: Check, part: Scope, scope: str) -> CheckResult:
    cols = ", ".join(_quote(c) for c in check.columns)
    rows = _view(table, "rows")
    whole = _view(table, "whole") if part.whole is not None else rows
    total = con.execute(f"SELECT count(*) FROM {rows}").fetchone()[0]
    duplicated = con.execute(
        f"SELECT {_key_text(check.columns)}, _vl_rows FROM (SELECT {cols}, count(*) AS _vl_rows FROM {whole} "
        f"WHERE ({cols}) IN (SELECT ({cols}) FROM {rows}) GROUP BY ALL HAVING count(*) > 1) ORDER BY _vl_rows DESC"
    ).fetchall()
    failing = sum(n for _, n in duplicated)
    sample = [f"{k} ({n} rows)" for k, n in duplicated[:SAMPLE_SIZE]]
    return CheckResult(check, not duplicated, failing, total, sample, "", scope)


def _references(con, table: str, check: Check, scopes: dict[str, Scope], keys, scope: str) -> CheckResult:
    rows = _view(table, "rows")
    total = con.execute(f"SELECT count(*) FROM {rows}").fetchone()[0]
    parent = scopes.get(check.parent)
    if parent is None or parent.whole is None:
        failing = total  # nothing to refer to
        sample = [r[0] for r in con.execute(f"SELECT {_key_text(keys)} FROM {rows} LIMIT {SAMPLE_SIZE}").fetchall()]
        return CheckResult(check, failing == 0, failing, total, sample, f"{check.parent} does not exist", scope)
    condition = " AND ".join(
        f"r.{_quote(a)} IS NOT DISTINCT FROM p.{_quote(b)}"
        for a, b in zip(check.columns, check.parent_columns, strict=True)
    )
    orphans = (
        f"SELECT r.* FROM {rows} r WHERE NOT EXISTS (SELECT 1 FROM {_view(check.parent, 'whole')} p WHERE {condition})"
    )
    failing = con.execute(f"SELECT count(*) FROM ({orphans})").fetchone()[0]
    sample = []
    if failing:
        query = f"SELECT {_key_text(keys or check.columns)} FROM ({orphans}) LIMIT {SAMPLE_SIZE}"
        sample = [r[0] for r in con.execute(query).fetchall()]
    return CheckResult(check, failing == 0, failing, total, sample, f"parent {check.parent}", scope)


def _reconcile(con, check: Check, scopes: dict[str, Scope], scope: str) -> CheckResult:
    def value(term: tuple[str, str | None]) -> int:
        table, column = term
        part = scopes.get(table)
        if part is None or part.whole is None:
            return 0
        if column is None and part.count is not None:
            return part.count
        expression = "count(*)" if column is None else f"coalesce(sum({_quote(column)}), 0)"
        return int(con.execute(f"SELECT {expression} FROM {_view(table, 'whole')}").fetchone()[0])

    left = {(_show(t)): value(t) for t in check.left}
    right = {(_show(t)): value(t) for t in check.right}
    difference = sum(left.values()) - sum(right.values())
    sign = "=" if difference == 0 else "!="
    shown = (
        f"{' + '.join(f'{k} {v}' for k, v in left.items())} {sign} {' + '.join(f'{k} {v}' for k, v in right.items())}"
    )
    return CheckResult(check, difference == 0, abs(difference), sum(left.values()), [], shown, "table")
