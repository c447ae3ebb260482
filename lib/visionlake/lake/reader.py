"""Reading the lake without Spark: the committed snapshot of a Delta table as a pyarrow dataset.

delta-rs reads the log (which files make up a version, their partition values); the files are then read
by pyarrow's own native file systems. deltalake's own conversions to Arrow and pandas go through a
Python-implemented file system instead, and a process that used them can abort at interpreter exit
(status 134, delta-rs#2184); reading this way never did.

    from visionlake.lake import read
    frames = read("silver_alpr_frames", lake="lake")                  # pyarrow.Table, latest version
    old = read("lake/silver/alpr/frames", version=3, columns=["frame_key"])
    runs = read("_runs", lake="s3a://bucket/lake").to_pandas()
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from visionlake.config import StorageSettings
from visionlake.errors import EndpointError, LakeError, describe
from visionlake.lake import storage as st

SHARED_TABLES = ("_runs", "_quality/results", "_quality/schema_drift")


@dataclass(frozen=True)
class Snapshot:
    """One version of a table: its schema (partition columns included), partition columns and files."""

    location: str
    version: int
    schema: pa.Schema
    partition_columns: tuple[str, ...]
    files: tuple[str, ...]  # paths on the table's pyarrow file system
    partitions: tuple[dict, ...]  # the partition values of each file, typed
    num_records: int | None  # from the log's statistics; None when a file has none
    size_bytes: int = 0  # the data files' total size


def table_exists(location: str, storage: StorageSettings) -> bool:
    from deltalake import DeltaTable

    uri, options = st.object_store_uri(location), st.delta_storage_options(storage)
    return st.retrying(lambda: DeltaTable.is_deltatable(uri, options), storage, location)


def open_table(location: str, storage: StorageSettings, version: int | None = None):
    """The deltalake ``DeltaTable`` at ``location`` (optionally at an old version), or None when there is none.
    Only its log is read here; failures of the store are retried (``storage.retry_seconds``).

    Raises:
        LakeError: that version does not exist, or the log cannot be read.
    """
    from deltalake import DeltaTable

    if not table_exists(location, storage):
        return None
    uri, options = st.object_store_uri(location), st.delta_storage_options(storage)
    try:
        return st.retrying(lambda: DeltaTable(uri, version=version, storage_options=options), storage, location)
    except EndpointError:
        raise
    except Exception as exc:  # a version that does not exist, a log that cannot be read
        which = "its latest version" if version is None else f"version {version}"
        raise LakeError(f"{location}: cannot open {which}: {str(exc).splitlines()[0]}") from exc


def snapshot(location: str, storage: StorageSettings | None = None, version: int | None = None) -> Snapshot | None:
    """The table's snapshot at ``version`` (latest when None), or None when there is no table at ``location``."""
    storage = storage or StorageSettings()
    location = st.normalize(location)
    table = open_table(location, storage, version)
    if table is None:
        return None
    schema = pa.schema(table.schema().to_arrow())
    partition_columns = tuple(table.metadata().partition_columns)
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    root = st.filesystem_path(location, storage)[1]
    partitions = tuple(
        {c: _typed(a.get(f"partition.{c}"), schema.field(c).type) for c in partition_columns} for a in actions
    )
    counts = [a.get("num_records") for a in actions]
    return Snapshot(
        location=location,
        version=table.version(),
        schema=schema,
        partition_columns=partition_columns,
        files=tuple(_file_path(root, a["path"]) for a in actions),
        partitions=partitions,
        num_records=None if any(c is None for c in counts) else int(sum(counts)),
        size_bytes=int(sum(a.get("size_bytes") or 0 for a in actions)),
    )


def _typed(value: object, kind: pa.DataType) -> pa.Scalar:
    if value is None or isinstance(value, pa.Scalar):
        return pa.scalar(value, type=kind) if not isinstance(value, pa.Scalar) else value.cast(kind)
    if isinstance(value, str) and not pa.types.is_string(kind):
        return pa.scalar(value).cast(kind)
    return pa.scalar(value, type=kind)


def _file_path(root: str, path: str) -> str:
    """A data file's path on the table's file system (the log holds it relative and URL-encoded)."""
    from urllib.parse import unquote

    return f"{root.rstrip('/')}/{unquote(path)}"


def dataset(snap: Snapshot, storage: StorageSettings | None = None) -> ds.Dataset:
    """A pyarrow dataset of exactly the snapshot's files, partition columns filled from the log."""
    filesystem, _ = st.filesystem_path(snap.location, storage or StorageSettings())
    expressions = [_partition_expression(values) if values else pc.scalar(True) for values in snap.partitions]
    return ds.FileSystemDataset.from_paths(
        list(snap.files),
        schema=snap.schema,
        format=ds.ParquetFileFormat(),
        filesystem=filesystem,
        partitions=expressions,
    )


def files_dataset(
    location: str,
    storage: StorageSettings,
    schema: pa.Schema,
    partition_columns: list[str],
    files: list[str],
    partitions: list[dict],
) -> ds.Dataset:
    """A pyarrow dataset of some data files of a table (paths relative to it, or URIs), partition values given
    in Delta's string form: the rows a commit added, or files written and not committed yet."""
    location = st.normalize(location)
    filesystem, root = st.filesystem_path(location, storage)
    paths = []
    for f in files:
        if "://" in f:
            paths.append(st.filesystem_path(f, storage)[1])
        elif f.startswith("/"):
            paths.append(f)
        else:
            paths.append(_file_path(root, f))
    typed = [{c: _typed(values.get(c), schema.field(c).type) for c in partition_columns} for values in partitions]
    return ds.FileSystemDataset.from_paths(
        paths,
        schema=schema,
        format=ds.ParquetFileFormat(),
        filesystem=filesystem,
        partitions=[_partition_expression(v) if v else pc.scalar(True) for v in typed],
    )


def _partition_expression(values: dict) -> ds.Expression:
    expression = None
    for column, value in values.items():
        term = pc.field(column).is_null() if value is None or not value.is_valid else pc.field(column) == value
        expression = term if expression is None else expression & term
    return expression


REBUILD = "rebuild the table with `visionlake run SOURCE --full-refresh`"


def scan(
    data: ds.Dataset,
    storage: StorageSettings | None,
    what: str,
    columns: list[str] | None = None,
    filter: ds.Expression | None = None,
) -> pa.Table:
    """``data.to_table(...)``, scanned again while the object store fails in the middle of it (a reset while a
    response is read, which pyarrow's own retries do not cover), for up to ``storage.retry_seconds``.

    Raises:
        LakeError: a data file the Delta log lists is gone (deleted outside Delta) or damaged.
    """
    try:
        return st.retrying(lambda: data.to_table(columns=columns, filter=filter), storage or StorageSettings(), what)
    except FileNotFoundError as exc:
        detail = str(exc).split("Detail:")[0].strip().rstrip(".")
        raise LakeError(
            f"{what}: a data file its Delta log lists is gone ({detail}); it was deleted outside Delta: restore it, "
            f"or {REBUILD}"
        ) from exc
    except pa.ArrowInvalid as exc:
        if "parquet" not in str(exc).lower():
            raise
        raise LakeError(
            f"{what}: a data file is damaged ({str(exc).splitlines()[0]}): restore it, or {REBUILD}"
        ) from exc
    except OSError as exc:  # e.g. pages that cannot be decoded ("Couldn't deserialize thrift"), a file not readable
        raise LakeError(
            f"{what}: a data file cannot be read ({str(exc).splitlines()[0]}): restore it, or {REBUILD}"
        ) from exc


def read_table(
    location: str,
    storage: StorageSettings | None = None,
    version: int | None = None,
    columns: list[str] | None = None,
    filter: ds.Expression | None = None,
) -> pa.Table | None:
    """The rows of the table at ``location`` (latest or ``version``), or None when there is no table."""
    snap = snapshot(location, storage, version)
    if snap is None:
        return None
    return scan(dataset(snap, storage), storage, location, columns, filter)


def table_locations(lake: str, storage: StorageSettings | None = None) -> dict[str, str]:
    """``{name: location}`` of every Delta table in the lake: ``<layer>_<source>_<table>``,
    ``quarantine_<source>``, ``_runs``, ``_quality_results``, ``_quality_schema_drift``."""
    storage = storage or StorageSettings()
    lake = st.normalize(lake)
    filesystem, root = st.filesystem_path(lake, storage)
    found: dict[str, str] = {}

    def children(path: str, lake_root: bool = False, folders: bool = True) -> list[str]:
        from pyarrow import fs

        try:
            infos = filesystem.get_file_info(fs.FileSelector(path, allow_not_found=True))
        except OSError as exc:
            # The lake itself must be listable: an unreachable store once looked like an empty lake (exit 0).
            if lake_root:
                raise LakeError(f"cannot list {lake}: {describe(exc, hint=False)}") from exc
            return []
        return sorted(i.base_name for i in infos if i.type == fs.FileType.Directory or not folders)

    top = set(children(root, lake_root=True))  # what is not there is not listed

    def is_table(relative: str) -> bool:  # a _delta_log that is no folder is listed too: snapshots() names it
        return "_delta_log" in children(f"{root}/{relative}", folders=False)

    for relative in SHARED_TABLES:
        if relative.split("/")[0] in top and is_table(relative):
            found[relative.replace("/", "_")] = st.join(lake, relative)
    for layer in ("bronze", "silver", "gold", "quarantine"):
        for source in children(f"{root}/{layer}") if layer in top else []:
            if layer == "quarantine":
                if is_table(f"{layer}/{source}"):
                    found[f"quarantine_{source}"] = st.join(lake, layer, source)
                continue
            for table in children(f"{root}/{layer}/{source}"):
                if is_table(f"{layer}/{source}/{table}"):
                    found[f"{layer}_{source}_{table}"] = st.join(lake, layer, source, table)
    return found


def snapshots(lake: str, storage: StorageSettings | None = None) -> tuple[dict[str, Snapshot], dict[str, str]]:
    """The latest snapshot of every table of the lake by name (:func:`checked_snapshot`), and the tables that
    cannot be read, with why: one table a crash or a hand edit damaged does not hide the others from ``sql``,
    ``tables`` and the report.

    Raises:
        LakeError: the lake cannot be listed. EndpointError: the store does not answer.
    """
    found: dict[str, Snapshot] = {}
    unreadable: dict[str, str] = {}
    for name, location in sorted(table_locations(lake, storage).items()):
        try:
            snap = checked_snapshot(location, storage)
        except LakeError as exc:
            unreadable[name] = why(exc, location)
            continue
        if snap is not None:
            found[name] = snap
    return found, unreadable


def why(exc: Exception, location: str) -> str:
    """The message of an error about the table at ``location``, without the location it starts with."""
    return str(exc).removeprefix(f"{location}: ")


def checked_snapshot(location: str, storage: StorageSettings | None = None) -> Snapshot | None:
    """:func:`snapshot` of the latest version, refused when a commit file after the latest checkpoint is empty
    (:func:`empty_commits`): delta-rs reads such a commit as one that changed nothing, so rows would be missing.

    Raises:
        LakeError: the log cannot be read, or a commit file is empty.
    """
    storage = storage or StorageSettings()
    snap = snapshot(location, storage)
    if snap is None and _has_log(location, storage):  # a _delta_log emptied, or a file in its place
        raise LakeError(f"{location}: its _delta_log holds no commit that can be read")
    empty = empty_commits(snap, storage) if snap is not None else []
    if empty:
        raise LakeError(
            f"{location}: commit {empty[0]} of its Delta log holds no action (it was emptied by a crash of the file "
            "system or by hand): delta-rs would read it as a commit without data, and rows would be missing; restore it"
        )
    return snap


def _has_log(location: str, storage: StorageSettings) -> bool:
    from pyarrow import fs

    filesystem, root = st.filesystem_path(location, storage)
    return filesystem.get_file_info(f"{root.rstrip('/')}/_delta_log").type != fs.FileType.NotFound


SMALLEST_COMMIT = 24  # bytes: no commit holding an action is shorter ({"txn":{"appId":"","version":0}} is 35)


def empty_commits(snap: Snapshot, storage: StorageSettings) -> list[int]:
    """The versions after the table's latest checkpoint whose commit file holds no action (empty, blank, ``{}``).
    Delta writers never leave one (a commit is written whole or not at all), and delta-rs reads it as a commit
    that changed nothing. Only files shorter than :data:`SMALLEST_COMMIT` are read."""
    from pyarrow import fs

    filesystem, root = st.filesystem_path(snap.location, storage)
    log = f"{root.rstrip('/')}/_delta_log"
    infos = filesystem.get_file_info(fs.FileSelector(log, allow_not_found=True))
    names = {i.base_name: i.size for i in infos if i.type == fs.FileType.File}
    checkpoints = [int(n.split(".")[0]) for n in names if n.endswith(".checkpoint.parquet") and n[:20].isdigit()]
    after = max(checkpoints, default=-1)
    short = [
        n
        for n, size in names.items()
        if len(n) == 25 and n.endswith(".json") and n[:20].isdigit() and after < int(n[:20]) <= snap.version
        if size is not None and size < SMALLEST_COMMIT
    ]
    return sorted(int(n[:20]) for n in short if not _holds_action(filesystem, f"{log}/{n}"))


def _holds_action(filesystem, path: str) -> bool:
    with filesystem.open_input_stream(path) as stream:
        text = stream.read().decode("utf-8", "replace")
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except ValueError:
            return True  # not JSON: delta-rs refuses it itself, with its own message
        if isinstance(action, dict) and action:
            return True
    return False


def resolve(table: str, lake: str | None = None, storage: StorageSettings | None = None) -> str:
    """The location of ``table``: a table name within ``lake``, or a path / URI when ``lake`` is None.

    Raises:
        LakeError: the name is not a table of the lake (the message lists the known ones).
    """
    if lake is None:
        return st.normalize(table)
    known = table_locations(lake, storage)
    if table not in known:
        listing = ", ".join(sorted(known)) or "none: the lake is empty"
        raise LakeError(f"no table {table!r} in {st.normalize(lake)} (tables: {listing})")
    return known[table]


def read(
    table: str,
    lake: str | None = None,
    version: int | None = None,
    columns: list[str] | None = None,
    storage: StorageSettings | None = None,
) -> pa.Table:
    """A lake table as a pyarrow Table: ``read("silver_alpr_frames", lake="lake")`` or ``read("lake/_runs")``.

    ``.to_pandas()`` on the result gives pandas. Local paths and ``s3a://`` URIs; the standard AWS
    variables configure S3 when ``storage`` is not given.

    Raises:
        LakeError: there is no such table, or that version cannot be read.
    """
    if storage is None:
        from visionlake.config import load_config

        storage = load_config("local").storage
    location = resolve(table, lake, storage)
    snap = checked_snapshot(location, storage) if version is None else snapshot(location, storage, version)
    if snap is None:
        raise LakeError(f"{location} is not a Delta table")
    return scan(dataset(snap, storage), storage, location, columns)


def log_entries(location: str, storage: StorageSettings, version: int) -> list[dict] | None:
    """The actions of commit ``version`` of the table (one dict per line of its log file), or None when the
    commit file is gone (log clean-up)."""
    filesystem, root = st.filesystem_path(location, storage)
    path = f"{root.rstrip('/')}/_delta_log/{version:020d}.json"
    try:
        with filesystem.open_input_stream(path) as stream:
            text = stream.read().decode("utf-8")
    except FileNotFoundError:
        return None
    return [json.loads(line) for line in text.splitlines() if line.strip()]
