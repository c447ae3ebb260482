"""SQL over the lake without a server: DuckDB in-process, every table's committed Delta snapshot registered as
an Arrow dataset under its name (``silver_alpr_plates``, ``gold_face_validation_transactions``, ``_runs``, ...).

DuckDB's own ``delta`` extension cannot be installed offline; the snapshot's file list comes from the Delta
log (``reader.snapshot``) and the files are scanned through pyarrow's native file systems, local or S3, so a
query sees exactly the committed version of each table and never a file a running job has not committed.

    from visionlake.sql import connect
    con = connect("lake")
    con.sql("SELECT camera_id, count(*) FROM silver_alpr_plates GROUP BY 1").show()
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from visionlake.config import StorageSettings
from visionlake.errors import LakeError, VisionlakeError
from visionlake.lake import reader
from visionlake.lake import storage as st

log = logging.getLogger("visionlake")
MAX_PRINTED_ROWS = 1000  # --format table prints at most this many rows (--out writes them all)
_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist", re.IGNORECASE)
_FAILED_SCAN = re.compile(r"reading the stream registered as '([^']+)' failed: \w+: (.*)")


# Once the tables are registered, the connection reads them and nothing else: no file (COPY ... TO a table's
# _delta_log committed a remove; read_text read any file), no database attached, no extension installed or
# downloaded, and no way to set these back.
LOCKED = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


class SqlError(VisionlakeError):
    """A statement DuckDB refused (its message, one line) or a table the lake does not have."""


@dataclass
class Opened:
    """A connection made by :func:`open_lake` and the tables left out of it because their log cannot be read."""

    con: object  # duckdb.DuckDBPyConnection
    unreadable: dict[str, str]  # name -> why


def open_lake(lake: str, storage: StorageSettings | None = None, database: str = ":memory:", settings: tuple = ()):
    """A DuckDB connection with every readable table of ``lake`` registered under its name (latest committed
    version), ``settings`` (``SET`` statements) applied, then its configuration locked (:data:`LOCKED`). A table
    whose Delta log cannot be read is left out, named with why in :attr:`Opened.unreadable`.

    Raises:
        LakeError: the lake has no tables.
    """
    import duckdb

    storage = storage or StorageSettings()
    snapshots, unreadable = reader.snapshots(lake, storage)
    if not snapshots and not unreadable:
        raise LakeError(f"no tables in {st.normalize(lake)}: run `visionlake run SOURCE --input ... --lake ...` first")
    con = duckdb.connect(database)
    for name, snap in snapshots.items():
        con.register(name, reader.dataset(snap, storage))
    for setting in (*settings, *LOCKED):
        con.execute(setting)
    return Opened(con, unreadable)


def connect(lake: str, storage: StorageSettings | None = None, database: str = ":memory:", settings: tuple = ()):
    """:func:`open_lake`'s connection; each table left out is logged as a warning.

    Raises:
        LakeError: the lake has no tables.
    """
    return warned(open_lake(lake, storage, database, settings)).con


def warned(opened: Opened) -> Opened:
    """``opened``, each table it left out logged as a warning (:func:`warn_left_out`)."""
    for name, why in opened.unreadable.items():
        warn_left_out(name, why)
    return opened


def warn_left_out(name: str, why: str) -> None:
    """The warning for a table a command leaves out because it cannot be read."""
    log.warning("table %s is left out: %s", name, why)


def query(lake: str, statement: str, storage: StorageSettings | None = None) -> pa.Table:
    """The result of one SQL statement over the lake, as a pyarrow Table.

    Raises:
        SqlError: DuckDB refused the statement, or it names a table the lake does not have (the message lists
            the tables there are).
        LakeError: the lake has no tables.
    """
    import duckdb

    opened = warned(open_lake(lake, storage))
    con = opened.con
    try:
        result = con.sql(statement)
        if result is None:
            raise SqlError("the statement returns no rows: give a query (SELECT, WITH, ...)")
        return result.to_arrow_table()
    except duckdb.Error as exc:
        raise _sql_error(exc, opened) from None
    finally:
        con.close()


def _sql_error(exc: Exception, opened: Opened) -> SqlError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    scan = _FAILED_SCAN.search(message)
    if scan:  # a data file of the table is gone or damaged (deleted or cut outside Delta)
        return SqlError(f"table {scan.group(1)} cannot be read: a data file is gone or damaged: {scan.group(2)}")
    missing = _MISSING_TABLE.search(message)
    if missing:
        name = missing.group(1).strip('!"').lower()
        if name in opened.unreadable:
            return SqlError(f"table {name} cannot be read: {opened.unreadable[name]}")
        return SqlError(unknown_table_message(missing.group(1), table_names(opened.con)))
    return SqlError(f"SQL error: {message}")


def unknown_table_message(name: str, known: list[str], limit: int = 560) -> str:
    """``no table X in the lake``, the closest names first, then every table (cut to stay one readable line)."""
    import difflib

    close = difflib.get_close_matches(name, known, n=2, cutoff=0.85)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    listing = ", ".join(known)
    head, tail = f"no table {name} in the lake{hint} (tables: ", ")"
    if len(head) + len(listing) + len(tail) > limit:
        tail = ", ...: `visionlake tables` lists them all)"
        listing = listing[: limit - len(head) - len(tail)].rsplit(", ", 1)[0]
    return head + listing + tail


def table_names(con) -> list[str]:
    """The lake tables registered in a connection made by :func:`connect`, sorted."""
    return sorted(r[0] for r in con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall())


def run_query(
    lake: str, statement: str, storage: StorageSettings | None = None, out: str | None = None, form: str = "table"
) -> str:
    """``visionlake sql``: the result printed as ``form`` (table, csv or json), or written to ``out``
    (``.csv``, ``.parquet`` or ``.json``, chosen by its suffix) with a one-line confirmation."""
    result = query(lake, statement, storage)
    if out:
        return write_result(result, out)
    if form == "csv":
        return _csv(result).rstrip("\n")
    if form == "json":
        return json.dumps(_records(result), ensure_ascii=False, default=str)
    return format_table(result)


def write_result(result: pa.Table, out: str) -> str:
    """Write ``result`` to a local file named ``*.csv``, ``*.parquet`` or ``*.json`` (an array of objects).

    Raises:
        SqlError: the suffix is none of those.
    """
    import pyarrow.parquet as pq

    path = Path(out)
    suffix = path.suffix.lower()
    writers = {
        ".csv": lambda: path.write_text(_csv(result), encoding="utf-8"),
        ".parquet": lambda: pq.write_table(result, path),
        ".json": lambda: path.write_text(json.dumps(_records(result), ensure_ascii=False, default=str) + "\n"),
    }
    if suffix not in writers:
        raise SqlError(f"--out {out}: the file name must end in .csv, .parquet or .json")
    path.parent.mkdir(parents=True, exist_ok=True)
    writers[suffix]()
    return f"wrote {result.num_rows} rows to {out}"


def _csv(result: pa.Table) -> str:
    import io

    import pyarrow.csv as pcsv

    flat = pa.table(
        {name: _printable(column) for name, column in zip(result.column_names, result.columns, strict=True)}
    )
    sink = io.BytesIO()
    pcsv.write_csv(flat, sink)
    return sink.getvalue().decode("utf-8")


def _printable(column: pa.ChunkedArray) -> pa.ChunkedArray | list:
    """Nested values (lists, structs, maps) as JSON text: CSV has no form for them."""
    kind = column.type
    if pa.types.is_nested(kind):
        return pa.array([None if v is None else json.dumps(v, default=str) for v in column.to_pylist()], pa.string())
    return column


def _records(result: pa.Table) -> list[dict]:
    """The rows as JSON-ready dicts: a NaN or an infinity is null (JSON has neither)."""
    rows = result.to_pylist()
    floats = [f.name for f in result.schema if pa.types.is_floating(f.type)]
    for row in rows if floats else ():
        for name in floats:
            if row[name] is not None and not math.isfinite(row[name]):
                row[name] = None
    return rows


def format_table(result: pa.Table, max_rows: int = MAX_PRINTED_ROWS) -> str:
    """The rows as an aligned text table with a ``(N rows)`` footer; past ``max_rows`` the rest is counted."""
    names = result.column_names
    shown = result.slice(0, max_rows).to_pylist()
    cells = [[_cell(row[n]) for n in names] for row in shown]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    numeric = [pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in result.schema.types]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    lines = [line(names), "  ".join("-" * w for w in widths)] + [line(r) for r in cells]
    more = result.num_rows - len(shown)
    footer = f"({result.num_rows} row{'s' if result.num_rows != 1 else ''}"
    footer += f"; {more} more not shown: use --out FILE or LIMIT)" if more else ")"
    return "\n".join([*lines, footer])


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


@dataclass(frozen=True)
class TableInfo:
    """One line of ``visionlake tables``."""

    name: str
    version: int
    rows: int | None
    files: int
    size_bytes: int
    partition_column: str
    last_commit: datetime | None
    run_id: str | None  # the run that made the latest commit (None: not written by a run, or log cleaned up)


def table_infos(lake: str, storage: StorageSettings | None = None) -> tuple[list[TableInfo], dict[str, str]]:
    """What ``visionlake tables`` shows, table by table (from each table's Delta log only), and the tables whose
    log cannot be read, with why."""
    from visionlake.lake.delta import RUN_ID_KEY

    storage = storage or StorageSettings()
    infos = []
    snapshots, unreadable = reader.snapshots(lake, storage)
    for name, snap in snapshots.items():
        entries = reader.log_entries(snap.location, storage, snap.version) or []
        commit = next((e["commitInfo"] for e in entries if "commitInfo" in e), {})
        stamp = commit.get("timestamp")
        infos.append(
            TableInfo(
                name=name,
                version=snap.version,
                rows=snap.num_records,
                files=len(snap.files),
                size_bytes=snap.size_bytes,
                partition_column=", ".join(snap.partition_columns),
                last_commit=datetime.fromtimestamp(stamp / 1000, UTC) if stamp else None,
                run_id=commit.get(RUN_ID_KEY),
            )
        )
    return infos, unreadable


def describe_tables(lake: str, storage: StorageSettings | None = None) -> tuple[str, str]:
    """``visionlake tables``: one aligned line per table, then a line per table whose log cannot be read; and a
    one-line summary of those (empty when there are none).

    Raises:
        LakeError: the lake has no tables.
    """
    infos, unreadable = table_infos(lake, storage)
    problems = ""
    if unreadable:
        first = next(iter(unreadable))
        problems = f"{len(unreadable)} of the lake's tables cannot be read, e.g. {first}: {unreadable[first]}"
    below = "".join(f"\ncannot read {name}: {why}" for name, why in unreadable.items())
    if not infos and not unreadable:  # a mistyped --lake in a script must not pass as an empty listing
        raise LakeError(f"no tables in {st.normalize(lake)}: run `visionlake run SOURCE --input ... --lake ...` first")
    if not infos:
        return f"no readable tables in {st.normalize(lake)}{below}", problems
    rows = pa.Table.from_pylist(
        [
            {
                "table": i.name,
                "version": i.version,
                "rows": i.rows,
                "files": i.files,
                "size": _size(i.size_bytes),
                "partitioned_by": i.partition_column or "-",
                "last_commit_utc": i.last_commit.strftime("%Y-%m-%d %H:%M:%S") if i.last_commit else "-",
                "run_id": i.run_id or "-",
            }
            for i in infos
        ]
    )
    listed = format_table(rows).rsplit("\n", 1)[0] + f"\n({len(infos)} tables in {st.normalize(lake)})"
    return listed + below, problems


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def _unfinished(text: str) -> bool:
    """Whether ``text`` holds SQL after its last ``;``, outside strings, quoted names and comments: a statement
    that more lines continue. (A string or comment left open is unfinished too.)"""
    i, opened = 0, False
    while i < len(text):
        if text[i] in "'\"":  # a doubled quote inside reads as two strings: the same answer
            end = text.find(text[i], i + 1)
            if end < 0:
                return True
            i, opened = end + 1, True
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return True
            i = end + 2
        else:
            opened = text[i] != ";" and (opened or not text[i].isspace())
            i += 1
    return opened


def shell(lake: str, storage: StorageSettings | None = None, stdin=None, stdout=None) -> str:
    """``visionlake sql --shell``: statements end with ``;`` (they may span lines, and a line may hold several);
    ``.tables`` lists the tables, ``.quit`` or end of input leaves, and a last statement left without its ``;``
    is run. An error prints DuckDB's one-line message and the prompt goes on.

    Raises:
        SqlError: input that is not a terminal (a script) had statements that failed, once it is all run.
    """
    import sys

    import duckdb

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    interactive = stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (line editing and history for input())
    opened = warned(open_lake(lake, storage))
    con = opened.con
    names = table_names(con)
    print(f"{len(names)} tables of {st.normalize(lake)}; end statements with ';', .tables lists them, .quit leaves",
          file=stdout)  # fmt: skip
    buffer: list[str] = []
    ran = failed = 0

    def run(text: str) -> None:
        nonlocal ran, failed
        try:
            statements = [s.query for s in con.extract_statements(text)]  # none for comments and blanks
        except duckdb.Error as exc:
            ran, failed = ran + 1, failed + 1
            print(f"error: {_sql_error(exc, opened)}", file=stdout)
            return
        for statement in statements:
            ran += 1
            try:
                result = con.sql(statement)
                if result is not None:
                    print(format_table(result.to_arrow_table()), file=stdout)
            except duckdb.Error as exc:
                failed += 1
                print(f"error: {_sql_error(exc, opened)}", file=stdout)

    while True:
        prompt = "visionlake> " if not buffer else "       ...> "
        if interactive:
            try:
                line = input(prompt)
            except EOFError:
                break
        else:
            line = stdin.readline()
            if not line:
                break
            line = line.rstrip("\n")
        command = line.strip()
        if not buffer and command in (".quit", ".exit", "\\q"):
            break
        if not buffer and command == ".tables":
            print("\n".join(names), file=stdout)
            continue
        buffer.append(line)
        if not _unfinished("\n".join(buffer)):  # a comment after the ';' (or only comments) leaves none open
            run("\n".join(buffer))
            buffer = []
    run("\n".join(buffer))  # input ended in a statement without its ';' (a script's last line)
    con.close()
    if failed and not interactive:
        raise SqlError(f"{failed} of {ran} statements failed (their errors are printed above)")
    return f"{ran} statements run"
