"""What a support engineer looks at to validate a run of one source, as small tables for the notebooks under
``notebooks/``: counts per layer and the reconciliation of the layers, key uniqueness, null shares, the
distributions of the main measures, quarantine reasons, the latest ``_runs`` rows and checks, sample rows.

Every function takes the lake (a path or ``s3a://`` URI) and the source, reads the committed tables through
``visionlake.sql.connect`` (DuckDB over each table's snapshot) and returns a pandas DataFrame. What differs by
source comes from ``conf/quality/<source>.yaml`` (the key of each table, the not-null columns, the
reconciliations) and from ``MEASURES`` and ``CATEGORIES`` below: a new source needs a notebook and, for its
measures, an entry there.

    from visionlake import validate
    validate.overview("lake", "alpr")
    validate.reconciliation("lake", "alpr")          # bronze.results 123 = silver.frames 120 + quarantine 3
    validate.references("lake", "detections")        # every alert's first frame is a silver frame
    validate.histogram("lake", "alpr", "silver.frames.duration_ms")

Tables are named as in the quality config: ``silver.frames``, ``gold.vehicles``, ``quarantine``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd

from visionlake.config import StorageSettings
from visionlake.errors import ConfigError, LakeError
from visionlake.lake import NAME
from visionlake.lake import storage as st
from visionlake.quality import checks as qc

# The main measures of each source: {table: columns}; a column may be a glob (``time_ms_*``).
MEASURES: dict[str, dict[str, tuple[str, ...]]] = {
    "alpr": {
        "silver.frames": ("duration_ms", "latency", "plate_count", "car_count"),
        "silver.plates": ("ocr_confidence", "detection_confidence"),
        "silver.cars": ("car_confidence",),
    },
    "face_validation": {
        "silver.api_calls": ("total_time_ms", "time_ms_*"),
    },
    "detections": {
        "silver.frames": ("inference_ms", "object_count", "image_contrast", "image_brightness"),
        "silver.objects": ("score", "area_fraction"),
        "gold.alerts": ("frames", "peak_score", "median_score"),
        "gold.device_health": ("invalid_share", "longest_silence_minutes"),
    },
    "face_recognition": {
        "silver.requests": ("latency_ms", "detect_ms", "embed_ms", "search_ms", "db_ms", "queue_ms"),
        "silver.evaluations": ("distance",),
    },
}
# The categories counted per source: (table, columns grouped together).
CATEGORIES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "alpr": (
        ("silver.frames", ("camera_id",)),
        ("silver.plates", ("is_masked",)),
    ),
    "face_validation": (
        ("silver.api_calls", ("summary_code", "summary_desc", "summary_module", "summary_status")),
        ("silver.api_calls", ("http_code",)),
        ("silver.api_calls", ("convenio",)),
    ),
    "detections": (
        ("silver.frames", ("detector_name", "detector_shape")),
        ("silver.invalid_images", ("reasons",)),
        ("silver.objects", ("label", "is_valid_image")),
        ("gold.alerts", ("rule_id", "severity")),
        ("gold.suppressed_matches", ("reason",)),
    ),
    "face_recognition": (
        ("silver.requests", ("endpoint", "error_class")),
        ("silver.requests", ("http_status", "error_code")),
        ("silver.evaluations", ("run_id", "protocol")),
    ),
}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
LAYER_ORDER = ("bronze", "silver", "quarantine", "gold")
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "UTINYINT",
            "USMALLINT", "UINTEGER", "UBIGINT")  # fmt: skip


@dataclass
class _Source:
    """One source's tables in an open DuckDB connection over the lake."""

    con: object
    lake: str
    source: str
    suite: qc.Suite
    tables: dict[str, str]  # {"silver.frames": "silver_alpr_frames", "quarantine": "quarantine_alpr"}

    def has(self, table: str) -> bool:
        return table in self.tables

    def ref(self, table: str) -> str:
        return _quote(self.tables[table])

    def columns(self, table: str) -> dict[str, str]:
        """{column: DuckDB type} of a table."""
        return {r[0]: str(r[1]) for r in self.con.execute(f"DESCRIBE SELECT * FROM {self.ref(table)}").fetchall()}

    def df(self, statement: str, parameters: list | None = None) -> pd.DataFrame:
        return self.con.execute(statement, parameters or []).df()

    def one(self, statement: str, parameters: list | None = None) -> tuple:
        return self.con.execute(statement, parameters or []).fetchone()


@contextmanager
def _open(lake: str, source: str, storage: StorageSettings | None) -> Iterator[_Source]:
    from visionlake.sql import connect, table_names

    if not NAME.match(source):
        raise ConfigError(f"{source!r} is not a source name (lowercase letters, digits and _ only)")
    if storage is None:
        from visionlake.config import load_config

        storage = load_config("local").storage
    con = connect(lake, storage, settings=("SET TimeZone = 'UTC'",))
    try:
        names = table_names(con)
        tables = {}
        for name in names:
            if name == f"quarantine_{source}":
                tables["quarantine"] = name
            for layer in ("bronze", "silver", "gold"):
                if name.startswith(f"{layer}_{source}_"):
                    tables[f"{layer}.{name[len(layer) + len(source) + 2 :]}"] = name
        if not tables:
            raise LakeError(
                f"no {source} tables in {st.normalize(lake)}: "
                f"run `visionlake run {source} --input ... --lake {lake}` first"
            )
        tables["_runs"] = "_runs" if "_runs" in names else None
        tables["_quality_results"] = "_quality_results" if "_quality_results" in names else None
        yield _Source(con, lake, source, qc.load_suite(source), {k: v for k, v in tables.items() if v})
    finally:
        con.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _layer(table: str) -> str:
    return table.partition(".")[0]


def _sorted_tables(names) -> list[str]:
    return sorted(names, key=lambda t: (LAYER_ORDER.index(_layer(t)) if _layer(t) in LAYER_ORDER else 9, t))


# --------------------------------------------------------------------------------------------------
# counts and the reconciliation


def layer_counts(lake: str, source: str, storage: StorageSettings | None = None) -> pd.DataFrame:
    """Rows per table of the source, bronze, silver, quarantine, then gold: ``layer``, ``table``, ``rows``."""
    with _open(lake, source, storage) as src:
        return _layer_counts(src)


def _layer_counts(src: _Source) -> pd.DataFrame:
    tables = _sorted_tables(t for t in src.tables if not t.startswith("_"))
    rows = [{"layer": _layer(t), "table": t, "rows": src.one(f"SELECT count(*) FROM {src.ref(t)}")[0]} for t in tables]
    return pd.DataFrame(rows, columns=["layer", "table", "rows"])


def reconciliation(lake: str, source: str, storage: StorageSettings | None = None) -> pd.DataFrame:
    """The ``reconcile`` checks of ``conf/quality/<source>.yaml`` over whole tables, with their numbers:
    ``check``, ``equation`` (``bronze.results 123 = silver.frames 120 + quarantine 3``), ``left``, ``right``,
    ``difference`` (left - right) and ``holds``. A table that does not exist counts 0, as in the run's check."""
    with _open(lake, source, storage) as src:
        return _reconciliation(src)


def _reconciliation(src: _Source) -> pd.DataFrame:
    def value(term: tuple[str, str | None]) -> int:
        table, column = term
        if not src.has(table):
            return 0
        expression = "count(*)" if column is None else f"coalesce(sum({_quote(column)}), 0)"
        return int(src.one(f"SELECT {expression} FROM {src.ref(table)}")[0])

    def shown(term: tuple[str, str | None]) -> str:
        return term[0] if term[1] is None else f"{term[0]}.sum({term[1]})"

    rows = []
    for check in (c for c in src.suite.checks if c.kind == "reconcile"):
        left = [(shown(t), value(t)) for t in check.left]
        right = [(shown(t), value(t)) for t in check.right]
        total_left, total_right = sum(v for _, v in left), sum(v for _, v in right)
        sign = "=" if total_left == total_right else "!="
        equation = " + ".join(f"{n} {v}" for n, v in left) + f" {sign} " + " + ".join(f"{n} {v}" for n, v in right)
        rows.append(
            {
                "check": check.name,
                "equation": equation,
                "left": total_left,
                "right": total_right,
                "difference": total_left - total_right,
                "holds": total_left == total_right,
            }
        )
    return pd.DataFrame(rows, columns=["check", "equation", "left", "right", "difference", "holds"])


def references(lake: str, source: str, storage: StorageSettings | None = None) -> pd.DataFrame:
    """The ``references`` checks of ``conf/quality/<source>.yaml`` over whole tables (the run checks only the
    rows it writes): ``check``, ``table``, ``parent``, ``rows``, ``orphan_rows`` (rows whose key is not in the
    parent; a null key matches only a null parent key, as in the run's check) and ``holds``. A table that does
    not exist has no rows; a parent that does not exist leaves every row an orphan."""
    with _open(lake, source, storage) as src:
        return _references(src)


def _references(src: _Source) -> pd.DataFrame:
    rows = []
    for check in (c for c in src.suite.checks if c.kind == "references"):
        total = orphans = 0
        if src.has(check.table):
            total = int(src.one(f"SELECT count(*) FROM {src.ref(check.table)}")[0])
            if not src.has(check.parent):
                orphans = total
            else:
                condition = " AND ".join(
                    f"r.{_quote(a)} IS NOT DISTINCT FROM p.{_quote(b)}"
                    for a, b in zip(check.columns, check.parent_columns, strict=True)
                )
                orphans = int(
                    src.one(
                        f"SELECT count(*) FROM {src.ref(check.table)} r WHERE NOT EXISTS "
                        f"(SELECT 1 FROM {src.ref(check.parent)} p WHERE {condition})"
                    )[0]
                )
        rows.append(
            {
                "check": check.name,
                "table": check.table,
                "parent": check.parent,
                "rows": total,
                "orphan_rows": orphans,
                "holds": orphans == 0,
            }
        )
    return pd.DataFrame(rows, columns=["check", "table", "parent", "rows", "orphan_rows", "holds"])


# --------------------------------------------------------------------------------------------------
# keys and nulls


def key_uniqueness(lake: str, source: str, storage: StorageSettings | None = None) -> pd.DataFrame:
    """Each table's declared key (``tables:`` of the quality config) over the whole table: ``table``, ``key``,
    ``rows``, ``distinct_keys``, ``duplicate_rows`` (rows beyond the first of each key), ``duplicated_keys``
    (keys on more than one row) and ``null_key_rows`` (a key column is null). Tables not in the lake are left
    out."""
    with _open(lake, source, storage) as src:
        return _key_uniqueness(src)


def _key_uniqueness(src: _Source) -> pd.DataFrame:
    rows = []
    for table in _sorted_tables(t for t in src.suite.keys if src.has(t)):
        key = src.suite.keys[table]
        columns = ", ".join(_quote(c) for c in key)
        any_null = " OR ".join(f"{_quote(c)} IS NULL" for c in key)
        total, distinct, duplicated, nulls = src.one(
            f"SELECT coalesce(sum(n), 0), count(*), count(*) FILTER (WHERE n > 1), coalesce(sum(nulls), 0) "
            f"FROM (SELECT count(*) AS n, count(*) FILTER (WHERE {any_null}) AS nulls "
            f"FROM {src.ref(table)} GROUP BY {columns})"
        )
        rows.append(
            {
                "table": table,
                "key": ", ".join(key),
                "rows": int(total),
                "distinct_keys": int(distinct),
                "duplicate_rows": int(total) - int(distinct),
                "duplicated_keys": int(duplicated),
                "null_key_rows": int(nulls),
            }
        )
    columns = ["table", "key", "rows", "distinct_keys", "duplicate_rows", "duplicated_keys", "null_key_rows"]
    return pd.DataFrame(rows, columns=columns)


def null_shares(lake: str, source: str, storage: StorageSettings | None = None, layer: str = "silver") -> pd.DataFrame:
    """The nulls of every column of the source's ``layer`` tables: ``table``, ``column``, ``rows``, ``nulls``,
    ``null_share`` (0 to 1; 0 for an empty table) and ``not_null_declared`` (the quality config says it may
    never be null). Declared columns first, then by share, largest first."""
    with _open(lake, source, storage) as src:
        return _null_shares(src, layer)


def _null_shares(src: _Source, layer: str) -> pd.DataFrame:
    declared = {(c.table, c.columns[0]) for c in src.suite.checks if c.kind == "not_null"}
    rows = []
    for table in _sorted_tables(t for t in src.tables if _layer(t) == layer):
        names = list(src.columns(table))
        counts = src.one(f"SELECT count(*), {', '.join(f'count({_quote(c)})' for c in names)} FROM {src.ref(table)}")
        total = int(counts[0])
        for name, present in zip(names, counts[1:], strict=True):
            nulls = total - int(present)
            rows.append(
                {
                    "table": table,
                    "column": name,
                    "rows": total,
                    "nulls": nulls,
                    "null_share": nulls / total if total else 0.0,
                    "not_null_declared": (table, name) in declared,
                }
            )
    frame = pd.DataFrame(rows, columns=["table", "column", "rows", "nulls", "null_share", "not_null_declared"])
    return frame.sort_values(
        ["not_null_declared", "null_share", "table", "column"], ascending=[False, False, True, True], kind="stable"
    ).reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# distributions


def _measures(src: _Source, measures: dict[str, tuple[str, ...]] | None) -> list[tuple[str, str]]:
    """(table, column) of each measure that exists; a glob expands to the numeric columns it matches.

    Raises:
        ConfigError: a measure names a column the table does not have, or one that is not a number.
    """
    chosen = MEASURES.get(src.source, {}) if measures is None else measures
    found = []
    for table, patterns in chosen.items():
        if not src.has(table):
            continue
        types = src.columns(table)
        for pattern in patterns:
            names = [c for c in types if fnmatch.fnmatchcase(c, pattern)]
            if not names:
                raise ConfigError(f"measure {table}.{pattern}: {table} has no such column")
            for name in names:
                if not types[name].startswith(_NUMERIC):
                    if pattern == name:
                        raise ConfigError(f"measure {table}.{name} is {types[name]}, not a number")
                    continue
                found.append((table, name))
    return found


def distributions(
    lake: str,
    source: str,
    storage: StorageSettings | None = None,
    measures: dict[str, tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """Quantiles of the main measures (``MEASURES[source]`` unless ``measures`` is given, as ``{table:
    columns}``): ``measure`` (``silver.frames.duration_ms``), ``rows``, ``nulls``, ``min``, ``p05``, ``p25``,
    ``p50``, ``p75``, ``p95``, ``p99`` (interpolated), ``max``, ``mean``."""
    with _open(lake, source, storage) as src:
        return _distributions(src, measures)


def _distributions(src: _Source, measures: dict[str, tuple[str, ...]] | None) -> pd.DataFrame:
    names = [f"p{round(q * 100):02d}" for q in QUANTILES]
    columns = ["measure", "rows", "nulls", "min", *names, "max", "mean"]
    by_table: dict[str, list[str]] = {}
    for table, column in _measures(src, measures):
        by_table.setdefault(table, []).append(column)
    rows = []
    for table, table_columns in by_table.items():
        parts = ["count(*)"]
        for column in table_columns:
            value = f"{_quote(column)}::DOUBLE"
            parts += [f"count({value})", f"min({value})"]
            parts += [f"quantile_cont({value}, {q})" for q in QUANTILES]
            parts += [f"max({value})", f"avg({value})"]
        result = src.one(f"SELECT {', '.join(parts)} FROM {src.ref(table)}")
        total, width = int(result[0]), 4 + len(QUANTILES)
        for i, column in enumerate(table_columns):
            values = result[1 + i * width : 1 + (i + 1) * width]
            rows.append(
                dict(zip(columns, [f"{table}.{column}", total, total - int(values[0]), *values[1:]], strict=True))
            )
    return pd.DataFrame(rows, columns=columns)


def histogram(
    lake: str, source: str, measure: str, bins: int = 10, storage: StorageSettings | None = None
) -> pd.DataFrame:
    """Rows per bin of one measure (``silver.frames.duration_ms``) between its min and max: ``bin`` (a label),
    ``low``, ``high``, ``rows``. Numbers: ``bins`` equal bins ``[low, high)``, the last one closed. Integers:
    bins of whole numbers, ``low`` and ``high`` both included (so at most ``bins`` bins, fewer when the range
    is narrow). Nulls are left out; empty bins are kept.

    Raises:
        ConfigError: ``measure`` is not ``<layer>.<table>.<column>`` of a numeric column of the source.
    """
    if bins < 1:
        raise ConfigError(f"histogram of {measure}: bins must be at least 1, not {bins}")
    table, _, column = measure.rpartition(".")
    with _open(lake, source, storage) as src:
        if not src.has(table):
            known = ", ".join(_sorted_tables(t for t in src.tables if not t.startswith("_")))
            raise ConfigError(f"histogram of {measure}: no table {table} for {source} (tables: {known})")
        kind = src.columns(table).get(column)
        if kind is None or not kind.startswith(_NUMERIC):
            raise ConfigError(f"histogram of {measure}: {table} has no numeric column {column}")
        low, high = src.one(f"SELECT min({_quote(column)}), max({_quote(column)}) FROM {src.ref(table)}")
        if low is None:
            return pd.DataFrame(columns=["bin", "low", "high", "rows"])
        integral = "INT" in kind
        if integral:
            width = max(1, math.ceil((high - low + 1) / bins))
            bins = math.ceil((high - low + 1) / width)
        else:
            low, high = float(low), float(high)  # a DECIMAL comes back as Decimal
            width = (high - low) / bins if high > low else 1.0
            bins = bins if high > low else 1
        counts = dict(
            src.con.execute(
                f"SELECT least(floor(({_quote(column)} - ?) / ?)::BIGINT, ?) AS i, count(*) FROM {src.ref(table)} "
                f"WHERE {_quote(column)} IS NOT NULL GROUP BY i",
                [low, width, bins - 1],
            ).fetchall()
        )
    rows = []
    for i in range(bins):
        if integral:
            start, end = low + i * width, min(high, low + (i + 1) * width - 1)
            label = f"{start}" if start == end else f"{start}-{end}"
        else:
            start, end = low + i * width, (low + (i + 1) * width if i < bins - 1 else high)
            label = f"[{start:.6g}, {end:.6g}{']' if i == bins - 1 else ')'}"
        rows.append({"bin": label, "low": start, "high": end, "rows": int(counts.get(i, 0))})
    return pd.DataFrame(rows, columns=["bin", "low", "high", "rows"])


def value_counts(
    lake: str,
    source: str,
    storage: StorageSettings | None = None,
    categories: tuple[tuple[str, tuple[str, ...]], ...] | None = None,
    top: int = 20,
) -> dict[str, pd.DataFrame]:
    """Rows per value of the source's categories (``CATEGORIES[source]`` unless ``categories`` is given, as
    ``((table, columns), ...)``): ``{"silver.frames by camera_id": DataFrame}``, each with the grouped
    columns, ``rows`` and ``share`` (of the table's rows), the ``top`` most frequent values first."""
    chosen = CATEGORIES.get(source, ()) if categories is None else categories
    found = {}
    with _open(lake, source, storage) as src:
        for table, group in chosen:
            if not src.has(table):
                continue
            missing = [c for c in group if c not in src.columns(table)]
            if missing:
                raise ConfigError(f"category {table} by {', '.join(group)}: {table} has no column {missing[0]}")
            columns = ", ".join(_quote(c) for c in group)
            found[f"{table} by {', '.join(group)}"] = src.df(
                f"SELECT {columns}, count(*) AS rows, count(*) / sum(count(*)) OVER () AS share "
                f"FROM {src.ref(table)} GROUP BY {columns} ORDER BY rows DESC, {columns} NULLS LAST LIMIT {int(top)}"
            )
    return found


# --------------------------------------------------------------------------------------------------
# quarantine, runs, checks, samples


def quarantine_reasons(lake: str, source: str, storage: StorageSettings | None = None) -> pd.DataFrame:
    """The source's quarantine by reason: ``reason``, ``rows``, ``share`` (of the quarantine), ``files``
    (distinct source paths), ``last_run_id`` and an ``example`` detail (the first in order, cut at 160
    characters). Most frequent first; no rows when nothing was quarantined."""
    with _open(lake, source, storage) as src:
        return _quarantine_reasons(src)


def _quarantine_reasons(src: _Source) -> pd.DataFrame:
    columns = ["reason", "rows", "share", "files", "last_run_id", "example"]
    if not src.has("quarantine"):
        return pd.DataFrame(columns=columns)
    return src.df(
        "SELECT reason, count(*) AS rows, count(*) / sum(count(*)) OVER () AS share, "
        "count(DISTINCT source_path) AS files, max(run_id) AS last_run_id, left(min(detail), 160) AS example "
        f"FROM {src.ref('quarantine')} GROUP BY reason ORDER BY rows DESC, reason"
    )


COMPLETED = ("ok", "skipped")  # stage statuses of a run that completed (the others: failed, interrupted)
RUN_COLUMNS = ["run_id", "stage", "status", "started_at", "seconds", "files_in", "rows_in", "quarantined",
               "rows_out", "message"]  # fmt: skip


def latest_runs(lake: str, source: str, storage: StorageSettings | None = None, runs: int = 3) -> pd.DataFrame:
    """The ``_runs`` rows of the source's latest ``runs`` runs (latest run first, its stages in order), with
    ``rows_out`` as text (``silver/frames=120, ...``)."""
    with _open(lake, source, storage) as src:
        return _latest_runs(src, runs)


def _latest_runs(src: _Source, runs: int) -> pd.DataFrame:
    if not src.has("_runs"):
        return pd.DataFrame(columns=RUN_COLUMNS)
    return src.df(
        "WITH latest AS (SELECT run_id, min(started_at) AS run_started FROM _runs WHERE source = ? GROUP BY run_id "
        "ORDER BY run_started DESC, run_id DESC LIMIT ?) "
        "SELECT r.run_id, stage, status, started_at, seconds, files_in, rows_in, quarantined, "
        "array_to_string(list_transform(map_entries(rows_out), lambda e: e.key || '=' || e.value::VARCHAR), ', ') "
        "AS rows_out, message FROM _runs r JOIN latest l USING (run_id) WHERE source = ? "
        "ORDER BY l.run_started DESC, r.run_id DESC, started_at, stage",
        [src.source, int(runs), src.source],
    )


def latest_checks(lake: str, source: str, storage: StorageSettings | None = None) -> pd.DataFrame:
    """The quality results (``_quality/results``) of the source's latest run or ``visionlake check``: failed
    ``error`` checks first, then failed ``warn`` ones, then the rest."""
    with _open(lake, source, storage) as src:
        return _latest_checks(src)


def _latest_checks(src: _Source) -> pd.DataFrame:
    columns = ["run_id", "table", "check", "level", "passed", "failing_rows", "checked_rows", "scope", "detail",
               "sample"]  # fmt: skip
    if not src.has("_quality_results"):
        return pd.DataFrame(columns=columns)
    return src.df(
        f"SELECT {', '.join(_quote(c) for c in columns)} FROM _quality_results WHERE source = ? AND run_id = "
        "(SELECT arg_max(run_id, checked_at) FROM _quality_results WHERE source = ?) "
        'ORDER BY passed, level = \'warn\', "table", "check"',
        [src.source, src.source],
    )


def samples(
    lake: str, source: str, storage: StorageSettings | None = None, rows: int = 5, layer: str = "silver"
) -> dict[str, pd.DataFrame]:
    """The first ``rows`` rows of each of the source's ``layer`` tables, in the order of the table's key
    (``{"silver.frames": DataFrame}``)."""
    with _open(lake, source, storage) as src:
        found = {}
        for table in _sorted_tables(t for t in src.tables if _layer(t) == layer):
            key = src.suite.keys.get(table) or ()
            order = f" ORDER BY {', '.join(_quote(c) for c in key)}" if key else ""
            found[table] = src.df(f"SELECT * FROM {src.ref(table)}{order} LIMIT {int(rows)}")
        return found


# --------------------------------------------------------------------------------------------------
# the verdict


def overview(lake: str, source: str, storage: StorageSettings | None = None) -> pd.DataFrame:
    """One line per thing that must hold after a run, ``check``, ``holds`` and ``detail``: the reconciliations,
    unique and non-null keys, no nulls in columns declared not-null, every stage of the latest run ``ok`` or
    ``skipped`` (nothing new to do), and no failed ``error`` check in the latest quality results."""
    with _open(lake, source, storage) as src:
        lines = []
        reconciled = _reconciliation(src)
        lines.append(
            (
                "layers reconcile",
                bool(reconciled["holds"].all()),
                "; ".join(reconciled["equation"]) or "no reconcile check declared",
            )
        )
        keys = _key_uniqueness(src)
        bad = keys[(keys["duplicate_rows"] > 0) | (keys["null_key_rows"] > 0)]
        detail = ", ".join(
            f"{r.table}: {r.duplicate_rows} duplicate rows, {r.null_key_rows} with a null key" for r in bad.itertuples()
        )
        lines.append(("keys unique and not null", bad.empty, detail or f"{len(keys)} tables, no duplicate keys"))
        nulls = _null_shares(src, "silver")
        declared = nulls[nulls["not_null_declared"]]
        broken = declared[declared["nulls"] > 0]
        detail = ", ".join(f"{r.table}.{r.column}: {r.nulls} nulls" for r in broken.itertuples())
        lines.append(
            ("declared not-null columns have no nulls", broken.empty, detail or f"{len(declared)} columns checked")
        )
        runs = _latest_runs(src, 1)
        if runs.empty:
            lines.append(("latest run completed", False, "no run of this source in _runs"))
        else:
            stages = ", ".join(f"{r.stage} {r.status}" for r in runs.itertuples())
            completed = bool(runs["status"].isin(COMPLETED).all())
            lines.append(("latest run completed", completed, f"{runs['run_id'][0]}: {stages}"))
        checks = _latest_checks(src)
        failed = checks[~checks["passed"].astype(bool)]
        errors = failed[failed["level"] == "error"]
        detail = f"{len(checks) - len(failed)} of {len(checks)} passed" if len(checks) else "no quality results"
        if not failed.empty:
            detail += "; failed: " + ", ".join(f"{r.level} {r.table} {r.check}" for r in failed.itertuples())
        lines.append(("latest checks: no error failed", errors.empty and not checks.empty, detail))
    return pd.DataFrame(lines, columns=["check", "holds", "detail"])
