"""Delta tables written by Spark tasks and committed by the driver with delta-rs.

How a write goes (the same idea as delta-spark's delayed commit protocol):
1. Each Spark task turns its rows into Parquet files at their final place under the table folder
   (``<table>/<col>=<value>/part-<uuid>.snappy.parquet``) and reports path, size, partition values and
   per-file statistics (numRecords, min/max, nullCount) as one row per file.
2. The driver collects those small rows and commits them in one Delta transaction with
   ``deltalake``, carrying ``Transaction(app_id, version)``: a retried run that already committed that
   version skips the write, so nothing is appended twice. Files of a task that failed, or of a run
   that died before its commit, are never referenced by the log and so are invisible to every reader.

Readers take the committed snapshot (``DeltaTable.file_uris()``) and hand it to ``spark.read.parquet``
with ``basePath`` and the table's schema, so they see exactly the committed files.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.transaction import AddAction
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from visionlake.config import StorageSettings
from visionlake.errors import ConcurrentRunError, DataRemovedError, LakeError
from visionlake.lake import reader
from visionlake.lake import storage as st

STRING_STATS_PREFIX = 32
FILE_ROWS_SCHEMA = T.StructType(
    [
        T.StructField("path", T.StringType(), False),
        T.StructField("size", T.LongType(), False),
        T.StructField("partition_values", T.StringType(), False),
        T.StructField("num_records", T.LongType(), False),
        T.StructField("stats", T.StringType(), False),
    ]
)


@dataclass(frozen=True)
class Txn:
    """An idempotency marker: (app_id, version) is committed at most once per table."""

    app_id: str
    version: int


@dataclass(frozen=True)
class WriteResult:
    rows: int
    files: int
    skipped: bool = False


# --------------------------------------------------------------------------------------------------
# statistics


def _stat_value(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


_ABSENT = object()  # no min/max for this column


def _column_stats(array: pa.ChunkedArray | pa.Array) -> tuple[object, object, object]:
    """(min, max, nullCount) of one column: values for a leaf (``_ABSENT`` when there is no bound),
    dicts for a struct (its fields recurse); lists and maps get only a null count."""
    kind = array.type
    if pa.types.is_struct(kind):
        names = [kind.field(i).name for i in range(kind.num_fields)]
        return _fields_stats(names, [pc.struct_field(array, [i]) for i in range(kind.num_fields)])
    nulls = array.null_count
    comparable = (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_date(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_decimal(kind)
    )
    if not comparable or nulls == len(array):
        return _ABSENT, _ABSENT, nulls
    if pa.types.is_floating(kind) and not pc.all(pc.is_finite(array)).as_py():
        # NaN and infinities have no JSON form: the log's statistics would become unreadable (no bounds instead).
        return _ABSENT, _ABSENT, nulls
    bounds = pc.min_max(array)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if isinstance(low, str):
        # A prefix is a valid lower bound; a longer maximum has no short upper bound, so leave it out.
        low = low[:STRING_STATS_PREFIX]
        if len(high) > STRING_STATS_PREFIX:
            return low, _ABSENT, nulls
    return _stat_value(low), _stat_value(high), nulls


def _fields_stats(names: list[str], arrays: list) -> tuple[dict, dict, dict]:
    mins, maxs, nulls = {}, {}, {}
    for name, array in zip(names, arrays, strict=True):
        low, high, nulls[name] = _column_stats(array)
        if low is not _ABSENT and low != {}:
            mins[name] = low
        if high is not _ABSENT and high != {}:
            maxs[name] = high
    return mins, maxs, nulls


def file_stats(table: pa.Table) -> str:
    """Delta per-file statistics (JSON) for the rows of one data file."""
    mins, maxs, nulls = _fields_stats(table.column_names, table.columns)
    return json.dumps(
        {"numRecords": table.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls},
        separators=(",", ":"),
        allow_nan=False,
    )


# --------------------------------------------------------------------------------------------------
# task side: Arrow batches -> Parquet files at their final place


def _partition_value(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _hive_escape(value: str | None) -> str:
    if value is None:
        return "__HIVE_DEFAULT_PARTITION__"
    return "".join(c if c.isalnum() or c in "._- " else f"%{ord(c):02X}" for c in value)


class _PartFile:
    """One open Parquet file of one partition of one task."""

    def __init__(self, relative_path: str, local_path: str, schema: pa.Schema, partition: dict) -> None:
        self.relative_path = relative_path
        self.local_path = local_path
        self.partition = partition
        self.tables: list[pa.Table] = []
        self.nbytes = 0
        os.makedirs(os.path.dirname(local_path), exist_ok=True)
        self.writer = pq.ParquetWriter(local_path, schema, compression="snappy")

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table, row_group_size=1 << 20)
        self.tables.append(table)
        self.nbytes += table.nbytes

    def close(self) -> tuple[str, int, str, int, str]:
        self.writer.close()
        rows = pa.concat_tables(self.tables) if self.tables else None
        num = rows.num_rows if rows is not None else 0
        stats = file_stats(rows) if rows is not None else json.dumps({"numRecords": 0})
        return self.relative_path, os.path.getsize(self.local_path), json.dumps(self.partition), num, stats


class Finish(NamedTuple):
    """The last step of a write, run on each Arrow batch of rows by the task that writes them: ``apply`` returns
    the batch without the ``consumes`` columns, which are never written. For what only Python can compute, on
    few rows: the rows cross to Python to be written anyway, where a Python UDF would send every row there once
    more."""

    consumes: tuple[str, ...]
    apply: Callable[[pa.RecordBatch], pa.RecordBatch]


def finished(df: DataFrame, finish: Finish) -> DataFrame:
    """``df``'s rows after ``finish``, as Spark computes them (a ``mapInArrow`` of its own)."""
    apply = finish.apply
    return df.mapInArrow(lambda batches: map(apply, batches), df.drop(*finish.consumes).schema)


def parquet_writer_task(
    table_location: str,
    arrow_schema: pa.Schema,
    partition_by: Sequence[str],
    storage: StorageSettings,
    max_file_bytes: int,
    last_step: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None,
):
    """The function each task runs (``mapInArrow``): write its rows (each batch through ``last_step`` first, if
    given), yield one row per file written."""
    data_schema = pa.schema([f for f in arrow_schema if f.name not in partition_by])
    remote = st.is_s3(table_location)

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        client = st.s3_client(storage) if remote else None
        scratch = tempfile.mkdtemp(prefix="visionlake-") if remote else None
        open_files: dict[tuple, _PartFile] = {}
        done: list[tuple] = []

        def finish(part: _PartFile) -> None:
            row = part.close()
            if remote:
                st.upload_file(part.local_path, st.join(table_location, part.relative_path), storage, client)
            done.append(row)

        def open_file(key: tuple) -> _PartFile:
            values = dict(zip(partition_by, key, strict=True))
            folder = "/".join(f"{c}={_hive_escape(v)}" for c, v in values.items())
            name = f"part-{uuid.uuid4().hex}.snappy.parquet"
            relative = f"{folder}/{name}" if folder else name
            local = os.path.join(scratch, relative) if remote else os.path.join(table_location, relative)
            return _PartFile(relative, local, data_schema, values)

        try:
            for batch in batches:
                table = pa.Table.from_batches([last_step(batch) if last_step else batch]).cast(arrow_schema)
                for key, rows in _split_by_partition(table, partition_by):
                    part = open_files.get(key) or open_files.setdefault(key, open_file(key))
                    part.write(rows.select(data_schema.names))
                    if part.nbytes >= max_file_bytes:
                        finish(open_files.pop(key))
            for part in open_files.values():
                finish(part)
        except OverflowError as exc:  # Python's dates end at year 9999: a partition value or a statistic past it
            raise LakeError(
                f"{table_location}: a date or time before year 1 or after year 9999 cannot be written ({exc}); "
                "the layer that writes it must quarantine such a value"
            ) from exc
        if done:
            columns = list(zip(*done, strict=True))
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(columns[0]),
                    pa.array(columns[1], pa.int64()),
                    pa.array(columns[2]),
                    pa.array(columns[3], pa.int64()),
                    pa.array(columns[4]),
                ],
                names=[f.name for f in FILE_ROWS_SCHEMA.fields],
            )

    return write


def _split_by_partition(table: pa.Table, partition_by: Sequence[str]) -> Iterator[tuple[tuple, pa.Table]]:
    if not partition_by:
        yield (), table
        return
    keys = table.select(list(partition_by)).group_by(list(partition_by)).aggregate([])
    for key_row in keys.to_pylist():
        mask = None
        for column, value in key_row.items():
            cond = pc.is_null(table[column]) if value is None else pc.equal(table[column], value)
            mask = cond if mask is None else pc.and_(mask, cond)
        yield tuple(_partition_value(key_row[c]) for c in partition_by), table.filter(mask)


# --------------------------------------------------------------------------------------------------
# driver side: the log


table_exists = reader.table_exists
open_table = reader.open_table  # the DeltaTable of a location (its log only: data is read by Spark or reader)


def transaction_version(location: str, app_id: str, storage: StorageSettings) -> int | None:
    table = open_table(location, storage)
    return None if table is None else table.transaction_version(app_id)


def version(location: str, storage: StorageSettings) -> int | None:
    table = open_table(location, storage)
    return None if table is None else table.version()


@dataclass(frozen=True)
class Changes:
    """What the commits after version ``after`` up to ``upto`` added as new data (``dataChange = true``)."""

    after: int | None
    upto: int
    files: list[str]  # Spark URIs of the data files, in commit order
    partitions: list[dict[str, str | None]]  # the partition values of each file (Delta's string form)
    bytes: int = 0  # the files' total size

    def partition_values(self, column: str) -> list[str]:
        return sorted({p[column] for p in self.partitions if p.get(column) is not None})


def _spark_file_uri(location: str, path: str) -> str:
    from urllib.parse import unquote

    return path if "://" in path else st.join(st.spark_uri(location), unquote(path))


def commits(location: str, storage: StorageSettings, after: int, upto: int) -> Iterator[tuple[int, list[dict]]]:
    """(version, actions) of every commit after ``after`` up to ``upto``.

    Raises:
        LakeError: a commit's log file is gone (the log was cleaned up past it).
    """
    for number in range(after + 1, upto + 1):
        actions = reader.log_entries(location, storage, number)
        if actions is None:
            raise LakeError(
                f"{location}: commit {number} is no longer in the Delta log, so what changed since version {after} "
                "cannot be known; run with --full-refresh"
            )
        yield number, actions


def changes_since(location: str, after: int | None, storage: StorageSettings, upto: int | None = None) -> Changes:
    """The files that commits after version ``after`` (up to ``upto``, default the latest) added as new data,
    as Delta's streaming readers see them: files added with ``dataChange = false`` (compaction, OPTIMIZE)
    and commits without data (checkpoints, metadata, app transactions only) add nothing. ``after`` None:
    every file of the snapshot at ``upto``.

    Raises:
        DataRemovedError: a commit in the range removed data (``dataChange = true``: a delete or an overwrite
            outside visionlake): rows a consumer already took are gone, so only a full refresh is correct.
        LakeError: the log no longer holds a commit of the range.
    """
    table = open_table(location, storage, upto)
    if table is None:
        return Changes(after, -1, [], [])
    upto = table.version()
    if after is None or after < 0:
        actions = pa.table(table.get_add_actions(flatten=False)).to_pylist()
        return Changes(
            after,
            upto,
            [_spark_file_uri(location, a["path"]) for a in actions],
            [{k: _partition_value(v) for k, v in (a.get("partition") or {}).items()} for a in actions],
            sum(a["size_bytes"] for a in actions),
        )
    files: list[str] = []
    partitions: list[dict] = []
    size = 0
    for number, actions in commits(location, storage, after, upto):
        for action in actions:
            if "remove" in action and action["remove"].get("dataChange", True):
                operation = next((a["commitInfo"].get("operation") for a in actions if "commitInfo" in a), None)
                raise DataRemovedError(
                    f"{location}: version {number} removed data ({operation or 'unknown operation'}) after version "
                    f"{after}, which this run's consumers have read; run with --full-refresh"
                )
            add = action.get("add")
            if add is not None and add.get("dataChange", True):
                files.append(_spark_file_uri(location, add["path"]))
                partitions.append(dict(add.get("partitionValues") or {}))
                size += int(add.get("size", 0))
    return Changes(after, upto, files, partitions, size)


def data_changed(location: str, storage: StorageSettings, after: int, upto: int) -> str | None:
    """The operation of the first commit after ``after`` up to ``upto`` that added or removed data, or None
    when every commit in between only maintained the table (compaction, checkpoints, properties)."""
    for number, actions in commits(location, storage, after, upto):
        if any(
            kind in action and action[kind].get("dataChange", True) for action in actions for kind in ("add", "remove")
        ):
            operation = next((a["commitInfo"].get("operation") for a in actions if "commitInfo" in a), "a commit")
            return f"{operation} at version {number}"
    return None


def spark_schema(location: str, storage: StorageSettings) -> T.StructType | None:
    """The table's schema as Spark sees it (Delta's schema JSON is Spark's StructType JSON)."""
    table = open_table(location, storage)
    return None if table is None else T.StructType.fromJson(json.loads(table.schema().to_json()))


def row_count(location: str, storage: StorageSettings) -> int:
    """Rows in the snapshot, from the per-file numRecords of the log (no data read)."""
    snap = reader.snapshot(location, storage)
    if snap is None:
        return 0
    if snap.num_records is None:
        return st.retrying(lambda: reader.dataset(snap, storage).count_rows(), storage, location)
    return snap.num_records


def read_columns(location: str, columns: list[str], storage: StorageSettings) -> pa.Table | None:
    """Some columns of the table's snapshot, read on the driver (no Spark job); None if there is no table."""
    return reader.read_table(location, storage, columns=columns)


def column_values(location: str, column: str, storage: StorageSettings) -> list:
    """Every value of one column of the table's snapshot, read on the driver (no Spark job)."""
    data = read_columns(location, [column], storage)
    return [] if data is None else data.column(column).to_pylist()


# --------------------------------------------------------------------------------------------------
# driver side: reading with Spark


def table_files(table: DeltaTable, partition_filters: list | None = None) -> list[str]:
    """URIs (Spark form) of the data files in the snapshot of an open table. delta-rs gives them escaped (``my%20lake``)
    and Spark takes a path as written: they are unescaped, as :func:`_spark_file_uri` does (until Dec 6 a lake in a
    folder named with a space, a non-ASCII letter or ``#`` failed at gold on every run)."""
    from urllib.parse import unquote

    return [st.spark_uri(unquote(u)) for u in table.file_uris(file_pruning_predicate=partition_filters)]


def snapshot_files(location: str, storage: StorageSettings, partition_filters: list | None = None) -> list[str]:
    """URIs (Spark form) of the data files in the current snapshot."""
    table = open_table(location, storage)
    return [] if table is None else table_files(table, partition_filters)


def read_files(spark: SparkSession, location: str, files: Sequence[str], schema: T.StructType) -> DataFrame:
    """The rows of the given data files of a table, columns in table order."""
    if not files:
        return spark.createDataFrame([], schema)
    return (
        spark.read.schema(schema)
        .option("basePath", st.spark_uri(location))
        .parquet(*files)
        .select(*schema.fieldNames())
    )


def read_table(
    spark: SparkSession,
    location: str,
    storage: StorageSettings,
    partition_filters: list | None = None,
    version: int | None = None,
) -> DataFrame | None:
    """The committed snapshot of the table (latest, or ``version``), or None when the table does not exist."""
    table = open_table(location, storage, version)
    if table is None:
        return None
    schema = T.StructType.fromJson(json.loads(table.schema().to_json()))
    return read_files(spark, location, table_files(table, partition_filters), schema)


# --------------------------------------------------------------------------------------------------
# driver side: writing (stage the files, then commit them)


def _check_schema(location: str, existing: T.StructType, new: T.StructType) -> list[T.StructField]:
    """The new columns of ``new`` (nullable ones may be added); raises when a column is gone or changed type."""
    old = {f.name: f.dataType.simpleString() for f in existing}
    fresh = {f.name: f.dataType.simpleString() for f in new}
    missing = sorted(old.keys() - fresh.keys())
    added = [f for f in new if f.name not in old]
    if missing or any(not f.nullable for f in added):
        extra = sorted(f.name for f in added)
        raise LakeError(f"{location}: schema drift (missing columns {missing}, new columns {extra})")
    changed = sorted(name for name in old if name in fresh and old[name] != fresh[name])
    if changed:
        raise LakeError(f"{location}: schema drift (columns of another type: {changed})")
    return added


@dataclass
class Staged:
    """Data files written under a table's folder and not committed yet: invisible to every reader until
    :func:`commit`; a run that dies before it leaves only files that no version references."""

    location: str
    schema: T.StructType
    adds: list
    rows: int
    partition_by: list[str]
    mode: str
    replace_partitions: Sequence[str] | None
    txn: Txn | None
    read_version: int  # the version the writer read (-1: no table); the commit fails if data changed since
    also: tuple[Txn, ...] = ()  # more app transactions recorded by the same commit
    skipped: bool = False
    deferred: DataFrame | None = None  # delta-spark: the DataFrame, written at commit
    run_id: str | None = None  # recorded in the commit's commitInfo as visionlake.run_id (`visionlake tables`)
    description: str | None = None  # the table's description in the Delta log (metaData.description)
    column_comments: dict[str, str] | None = None  # top-level column -> its comment (field metadata "comment")

    @property
    def files(self) -> list[str]:
        """Spark URIs of the staged data files."""
        return [_spark_file_uri(self.location, a.path) for a in self.adds]

    def dataset(self, storage: StorageSettings):
        """The staged rows as a pyarrow dataset (to check them before they are committed)."""
        from urllib.parse import unquote

        return reader.files_dataset(
            self.location,
            storage,
            to_arrow_schema(self.schema),
            self.partition_by,
            [unquote(a.path) for a in self.adds],
            [dict(a.partition_values) for a in self.adds],
        )


def discard(staged: Staged, storage: StorageSettings) -> None:
    """Delete staged files that will not be committed (no version references them; vacuum would too)."""
    from urllib.parse import unquote

    for add in staged.adds:
        location = st.join(staged.location, unquote(add.path))
        with contextlib.suppress(FileNotFoundError):
            st.delete(location, storage)
    staged.adds, staged.rows = [], 0


def stage(
    df: DataFrame,
    location: str,
    *,
    storage: StorageSettings,
    partition_by: Sequence[str] = (),
    mode: str = "append",
    replace_partitions: Sequence[str] | None = None,
    txn: Txn | None = None,
    max_file_mb: int = 128,
    writer: str = "delta-rs",
    known_empty: bool = False,
    read_version: int | None = None,
    also: Sequence[Txn] = (),
    compact: bool = True,
    finish: Finish | None = None,
) -> Staged:
    """Write ``df`` as data files of the table at ``location``, to be committed by :func:`commit`.

    ``finish``: a last step on the rows (:class:`Finish`); the table gets ``df``'s columns but those it consumes.
    The writing tasks run it, but for a ``compact`` write, whose rows are finished before they are shuffled.

    ``compact``: every partition the rows touch gets one file (more only past ``max_file_mb``): the rows are
    shuffled by partition first, so an incremental run adds one small file per date it touches, not one per
    task. For large writes (whose files are large anyway) pass False: each task writes its own files, with
    no shuffle.
    ``read_version`` is the table version the caller's decision was based on (default: the current one);
    the commit fails if data was added or removed since. Other arguments: see :func:`write_table`.
    """
    if mode not in ("append", "overwrite"):
        raise ValueError(f"mode must be append or overwrite, not {mode}")
    existing = open_table(location, storage)
    if read_version is None:
        read_version = existing.version() if existing is not None else -1
    schema = df.drop(*finish.consumes).schema if finish else df.schema
    staged = Staged(
        location, schema, [], 0, list(partition_by), mode, replace_partitions, txn, read_version, tuple(also)
    )
    if txn is not None and existing is not None:
        done = existing.transaction_version(txn.app_id)
        if done is not None and done >= txn.version:
            staged.skipped = True
            return staged
    if existing is not None:
        _check_schema(location, T.StructType.fromJson(json.loads(existing.schema().to_json())), schema)
    if writer == "delta-spark":
        staged.deferred = finished(df, finish) if finish else df
        return staged
    if known_empty:
        return staged
    last_step = finish.apply if finish else None
    if compact:
        if finish:  # the consumed columns never cross a shuffle (whose files are on local disk): finish first
            df, last_step = finished(df, finish), None
        df = df.repartition(*partition_by) if partition_by else df.repartition(1)
    task = parquet_writer_task(
        location, to_arrow_schema(schema), list(partition_by), storage, max_file_mb << 20, last_step
    )
    file_rows = df.mapInArrow(task, FILE_ROWS_SCHEMA).collect()
    now = int(time.time() * 1000)
    staged.adds = [
        AddAction(quote(r.path, safe="/="), r.size, json.loads(r.partition_values), now, True, r.stats)
        for r in file_rows
    ]
    staged.rows = sum(r.num_records for r in file_rows)
    return staged


COMMIT_ATTEMPTS = 20
RUN_ID_KEY = "visionlake.run_id"  # commitInfo field naming the run that made a commit
COMMENT_KEY = "comment"  # a column's comment in its Delta field metadata, as Spark, Trino and Athena read it


def _delta_schema(staged: Staged):
    """The staged schema as a deltalake Schema, the staged column comments in its field metadata."""
    from deltalake import Schema

    schema = Schema.from_arrow(to_arrow_schema(staged.schema))
    if not staged.column_comments:
        return schema
    data = json.loads(schema.to_json())
    for field in data["fields"]:
        comment = staged.column_comments.get(field["name"])
        if comment is not None:
            field["metadata"] = {**(field.get("metadata") or {}), COMMENT_KEY: comment}
    return Schema.from_json(json.dumps(data))


def describe_table(
    table, description: str | None, column_comments: dict[str, str] | None, run_id: str | None = None
) -> bool:
    """Set the table's description and its top-level columns' comments where the log differs (a metadata-only
    commit each, no data change, no retry: a concurrent commit fails it); columns the table does not have are
    left out. True when something was set.

    Raises:
        CommitFailedError: another commit landed first.
    """
    from deltalake.transaction import CommitProperties

    properties = CommitProperties(max_commit_retries=0, custom_metadata={RUN_ID_KEY: run_id} if run_id else None)
    changed = False
    if description is not None and table.metadata().description != description:
        table.alter.set_table_description(description, commit_properties=properties)
        changed = True
    fields = {f.name: f for f in table.schema().fields}
    for column, comment in (column_comments or {}).items():
        field = fields.get(column)
        if field is not None and (field.metadata or {}).get(COMMENT_KEY) != comment:
            table.alter.set_column_metadata(column, {COMMENT_KEY: comment}, commit_properties=properties)
            changed = True
    return changed


def commit(staged: Staged, storage: StorageSettings) -> WriteResult:
    """Commit staged files in one Delta transaction carrying the staged app transaction.

    Optimistic concurrency: the transaction is built on the latest version and written with no silent
    retries. When the table moved since the writer read it, the commit goes ahead only if the commits in
    between changed no data (compaction, checkpoints); if they carry this app transaction already, the work
    was done by another run and the staged files are left for vacuum.

    Raises:
        ConcurrentRunError: data was added or removed since the writer read the table.
    """
    from deltalake.exceptions import CommitFailedError
    from deltalake.transaction import CommitProperties, Transaction, create_table_with_add_actions

    if staged.skipped:
        return WriteResult(rows=0, files=0, skipped=True)
    if staged.deferred is not None:
        return _write_with_delta_spark(staged, storage)
    txn = staged.txn
    markers = ([txn] if txn else []) + list(staged.also)
    properties = CommitProperties(
        max_commit_retries=0,
        app_transactions=[Transaction(t.app_id, t.version) for t in markers] or None,
        custom_metadata={RUN_ID_KEY: staged.run_id} if staged.run_id else None,
    )
    schema = _delta_schema(staged)
    deadline, pause = time.monotonic() + storage.retry_seconds, 0.1
    for _ in range(COMMIT_ATTEMPTS):
        table = open_table(location := staged.location, storage)
        if table is None:
            if staged.read_version >= 0:
                raise ConcurrentRunError(f"{location}: the table was removed while this run wrote to it")
            try:
                create_table_with_add_actions(
                    st.object_store_uri(location),
                    schema,
                    staged.adds,
                    mode="error",
                    partition_by=staged.partition_by or None,
                    description=staged.description,
                    storage_options=st.delta_storage_options(storage),
                    commit_properties=properties,
                )
                return WriteResult(rows=staged.rows, files=len(staged.adds))
            except Exception as exc:  # created meanwhile by another writer, or the store failed: look again
                if st.transient(exc) and time.monotonic() < deadline:
                    time.sleep(pause := min(pause * 2, 5.0))
                    continue
                if not table_exists(location, storage):
                    raise LakeError(f"{location}: cannot create the table: {str(exc).splitlines()[0]}") from exc
                continue
        if txn is not None and (table.transaction_version(txn.app_id) or -1) >= txn.version:
            return WriteResult(rows=0, files=0, skipped=True)
        current = table.version()
        if current != staged.read_version:
            moved = (
                "the table was created"
                if staged.read_version < 0
                else data_changed(location, storage, staged.read_version, current)
            )
            if moved:
                raise ConcurrentRunError(
                    f"{location}: {moved} changed the table after this run read version {staged.read_version}; "
                    "another run or writer is at work (nothing was committed)"
                )
        added = _check_schema(location, T.StructType.fromJson(json.loads(table.schema().to_json())), staged.schema)
        try:
            if added:
                from deltalake import Schema as DeltaSchema

                fields = DeltaSchema.from_json(T.StructType(added).json()).fields
                table.alter.add_columns(fields, commit_properties=CommitProperties(max_commit_retries=0))
                staged.read_version = table.version()
                continue
            if describe_table(table, staged.description, staged.column_comments, staged.run_id):
                staged.read_version = table.version()
                continue
            filters, mode = None, staged.mode
            if mode == "overwrite" and staged.replace_partitions is not None:
                if staged.replace_partitions:
                    filters = [(staged.partition_by[0], "in", [str(v) for v in staged.replace_partitions])]
                else:
                    mode = "append"  # no partition to replace: the commit only records the txn
            table.create_write_transaction(
                staged.adds,
                mode=mode,
                schema=schema,
                partition_by=staged.partition_by or None,
                partition_filters=filters,
                commit_properties=properties,
            )
            return WriteResult(rows=staged.rows, files=len(staged.adds))
        except CommitFailedError:
            continue  # another commit landed first: look at what it was
        except Exception as exc:  # the store failed: did the commit land? look again
            if not st.transient(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause := min(pause * 2, 5.0))
    raise ConcurrentRunError(f"{staged.location}: could not commit after {COMMIT_ATTEMPTS} attempts")


def write_table(
    df: DataFrame,
    location: str,
    *,
    storage: StorageSettings,
    partition_by: Sequence[str] = (),
    mode: str = "append",
    replace_partitions: Sequence[str] | None = None,
    txn: Txn | None = None,
    max_file_mb: int = 128,
    writer: str = "delta-rs",
    known_empty: bool = False,
    read_version: int | None = None,
    compact: bool = True,
) -> WriteResult:
    """Write ``df`` as a commit to the Delta table at ``location``.

    Args:
        df: the rows to write; its schema becomes the table's schema when the table is new; new nullable
            columns are added to an existing table's schema.
        location: table root, local path or s3a:// URI.
        storage: storage settings, for S3 locations.
        partition_by: partition columns (Hive-style folders); values must be dates, ints or plain strings.
        mode: ``append`` or ``overwrite``.
        replace_partitions: with ``overwrite``, the values of the (single) partition column to replace;
            other partitions stay. None replaces the whole table.
        txn: idempotency marker; when the table already holds this app id at this version or later,
            nothing is written.
        max_file_mb: a data file is closed once this many MB of Arrow data went into it.
        writer: ``delta-rs`` (tasks write Parquet, the driver commits with deltalake) or ``delta-spark``
            (Spark's Delta data source, when its JVM classes are on the classpath; see :func:`choose_writer`).
        known_empty: the caller knows ``df`` has no rows: commit (the txn, or a new empty table) without
            running a Spark job.
        read_version: the version the caller decided on (see :func:`stage`).
        compact: one file per partition written (see :func:`stage`).

    Returns:
        rows and files written, and whether the write was skipped as already done.

    Raises:
        ConcurrentRunError: another writer added or removed data meanwhile (see :func:`commit`).
    """
    staged = stage(
        df,
        location,
        storage=storage,
        partition_by=partition_by,
        mode=mode,
        replace_partitions=replace_partitions,
        txn=txn,
        max_file_mb=max_file_mb,
        writer=writer,
        known_empty=known_empty,
        read_version=read_version,
        compact=compact,
    )
    return commit(staged, storage)


def _write_with_delta_spark(staged: Staged, storage: StorageSettings) -> WriteResult:
    """The same write through delta-spark: txnAppId/txnVersion for idempotency, replaceWhere for partitions."""
    out = staged.deferred.write.format("delta").mode(staged.mode)
    if staged.partition_by:
        out = out.partitionBy(*staged.partition_by)
    if staged.txn is not None:
        out = out.option("txnAppId", staged.txn.app_id).option("txnVersion", staged.txn.version)
    if staged.mode == "overwrite" and staged.replace_partitions is not None:
        values = ", ".join("'" + str(v).replace("'", "''") + "'" for v in staged.replace_partitions) or "NULL"
        out = out.option("replaceWhere", f"{staged.partition_by[0]} IN ({values})")
    out.save(st.spark_uri(staged.location))
    metrics = open_table(staged.location, storage).history(1)[0].get("operationMetrics") or {}
    if staged.description is not None or staged.column_comments:
        describe_table(open_table(staged.location, storage), staged.description, staged.column_comments, staged.run_id)
    return WriteResult(rows=int(metrics.get("numOutputRows", 0)), files=int(metrics.get("numFiles", 0)))


def choose_writer(setting: str, spark: SparkSession) -> str:
    """``delta-rs`` or ``delta-spark`` for a ``lake.writer`` setting of auto, delta-rs or delta-spark.

    ``auto`` takes delta-spark only when its JVM classes are loadable and its SQL extension is configured
    (EMR or Databricks with Delta enabled); everywhere else, and always here, delta-rs.
    """
    if setting not in ("auto", "delta-rs", "delta-spark"):
        raise LakeError(f"lake.writer must be auto, delta-rs or delta-spark, not {setting!r}")
    if setting != "auto":
        return setting
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    if "DeltaSparkSessionExtension" not in extensions:
        return "delta-rs"
    try:
        spark.sparkContext._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")
    except Exception:
        return "delta-rs"
    return "delta-spark"
