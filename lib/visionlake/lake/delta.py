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

import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from visionlake.config import StorageSettings
from visionlake.errors import LakeError
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
    if pa.types.is_floating(kind) and pc.any(pc.is_nan(array)).as_py():
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


def parquet_writer_task(
    table_location: str,
    arrow_schema: pa.Schema,
    partition_by: Sequence[str],
    storage: StorageSettings,
    max_file_bytes: int,
):
    """The function each task runs (``mapInArrow``): write its rows, yield one row per file written."""
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

        for batch in batches:
            table = pa.Table.from_batches([batch]).cast(arrow_schema)
            for key, rows in _split_by_partition(table, partition_by):
                part = open_files.get(key) or open_files.setdefault(key, open_file(key))
                part.write(rows.select(data_schema.names))
                if part.nbytes >= max_file_bytes:
                    finish(open_files.pop(key))
        for part in open_files.values():
            finish(part)
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
# driver side


def table_exists(location: str, storage: StorageSettings) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(st.object_store_uri(location), st.delta_storage_options(storage))


def open_table(location: str, storage: StorageSettings, version: int | None = None):
    """The DeltaTable at ``location`` (optionally at an old version), or None when there is none."""
    from deltalake import DeltaTable

    if not table_exists(location, storage):
        return None
    return DeltaTable(st.object_store_uri(location), version=version, storage_options=st.delta_storage_options(storage))


def transaction_version(location: str, app_id: str, storage: StorageSettings) -> int | None:
    table = open_table(location, storage)
    return None if table is None else table.transaction_version(app_id)


def _check_schema(location: str, existing: T.StructType, new: T.StructType) -> None:
    old = {f.name: f.dataType.simpleString() for f in existing}
    fresh = {f.name: f.dataType.simpleString() for f in new}
    if old.keys() != fresh.keys():
        missing, extra = sorted(old.keys() - fresh.keys()), sorted(fresh.keys() - old.keys())
        raise LakeError(f"{location}: schema drift (missing columns {missing}, new columns {extra})")
    changed = sorted(name for name in old if old[name] != fresh[name])
    if changed:
        raise LakeError(f"{location}: schema drift (columns of another type: {changed})")


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
) -> WriteResult:
    """Write ``df`` as a commit to the Delta table at ``location``.

    Args:
        df: the rows to write; its schema becomes the table's schema when the table is new.
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

    Returns:
        rows and files written, and whether the write was skipped as already done.
    """
    from deltalake import Schema
    from deltalake.transaction import AddAction, CommitProperties, Transaction, create_table_with_add_actions

    if mode not in ("append", "overwrite"):
        raise ValueError(f"mode must be append or overwrite, not {mode}")
    existing = open_table(location, storage)
    if txn is not None and existing is not None:
        done = existing.transaction_version(txn.app_id)
        if done is not None and done >= txn.version:
            return WriteResult(rows=0, files=0, skipped=True)
    if writer == "delta-spark":
        return _write_with_delta_spark(df, location, partition_by, mode, replace_partitions, txn, storage)

    arrow_schema = to_arrow_schema(df.schema)
    task = parquet_writer_task(location, arrow_schema, list(partition_by), storage, max_file_mb << 20)
    file_rows = [] if known_empty else df.mapInArrow(task, FILE_ROWS_SCHEMA).collect()
    now = int(time.time() * 1000)
    adds = [
        AddAction(quote(r.path, safe="/="), r.size, json.loads(r.partition_values), now, True, r.stats)
        for r in file_rows
    ]
    commit = CommitProperties(app_transactions=[Transaction(txn.app_id, txn.version)] if txn else None)
    schema = Schema.from_arrow(arrow_schema)
    if existing is None:
        create_table_with_add_actions(
            st.object_store_uri(location),
            schema,
            adds,
            mode="error",
            partition_by=list(partition_by) or None,
            storage_options=st.delta_storage_options(storage),
            commit_properties=commit,
        )
    else:
        _check_schema(location, T.StructType.fromJson(json.loads(existing.schema().to_json())), df.schema)
        filters = None
        if mode == "overwrite" and replace_partitions is not None:
            if replace_partitions:
                filters = [(partition_by[0], "in", [str(v) for v in replace_partitions])]
            else:
                mode = "append"  # no partition to replace: the commit only records the txn
        existing.create_write_transaction(
            adds,
            mode=mode,
            schema=schema,
            partition_by=list(partition_by) or None,
            partition_filters=filters,
            commit_properties=commit,
        )
    return WriteResult(rows=sum(r.num_records for r in file_rows), files=len(adds))


def _write_with_delta_spark(
    df: DataFrame,
    location: str,
    partition_by: Sequence[str],
    mode: str,
    replace_partitions: Sequence[str] | None,
    txn: Txn | None,
    storage: StorageSettings,
) -> WriteResult:
    """The same write through delta-spark: txnAppId/txnVersion for idempotency, replaceWhere for partitions."""
    out = df.write.format("delta").mode(mode)
    if partition_by:
        out = out.partitionBy(*partition_by)
    if txn is not None:
        out = out.option("txnAppId", txn.app_id).option("txnVersion", txn.version)
    if mode == "overwrite" and replace_partitions is not None:
        values = ", ".join("'" + str(v).replace("'", "''") + "'" for v in replace_partitions) or "NULL"
        out = out.option("replaceWhere", f"{partition_by[0]} IN ({values})")
    out.save(st.spark_uri(location))
    metrics = open_table(location, storage).history(1)[0].get("operationMetrics") or {}
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


def snapshot_files(location: str, storage: StorageSettings, partition_filters: list | None = None) -> list[str]:
    """URIs (Spark form) of the data files in the current snapshot."""
    table = open_table(location, storage)
    if table is None:
        return []
    return [st.spark_uri(u) for u in table.file_uris(file_pruning_predicate=partition_filters)]


def files_added_since(location: str, version: int | None, storage: StorageSettings) -> list[str]:
    """Files in the current snapshot that were not in snapshot ``version`` (all files when None)."""
    current = open_table(location, storage)
    if current is None:
        return []
    files = current.file_uris()
    if version is not None and version >= 0:
        old = set(open_table(location, storage, version=version).file_uris())
        files = [f for f in files if f not in old]
    return [st.spark_uri(u) for u in files]


def spark_schema(location: str, storage: StorageSettings) -> T.StructType | None:
    """The table's schema as Spark sees it (Delta's schema JSON is Spark's StructType JSON)."""
    table = open_table(location, storage)
    return None if table is None else T.StructType.fromJson(json.loads(table.schema().to_json()))


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
    spark: SparkSession, location: str, storage: StorageSettings, partition_filters: list | None = None
) -> DataFrame | None:
    """The committed snapshot of the table, or None when the table does not exist."""
    schema = spark_schema(location, storage)
    if schema is None:
        return None
    return read_files(spark, location, snapshot_files(location, storage, partition_filters), schema)


def read_columns(location: str, columns: list[str], storage: StorageSettings) -> pa.Table | None:
    """Some columns of the table's snapshot, read by delta-rs on the driver (no Spark job); None if no table."""
    table = open_table(location, storage)
    return None if table is None else table.to_pyarrow_table(columns=columns)


def column_values(location: str, column: str, storage: StorageSettings) -> list:
    """Every value of one column of the table's snapshot, read on the driver (no Spark job)."""
    data = read_columns(location, [column], storage)
    return [] if data is None else data.column(column).to_pylist()


def partitions_added_since(location: str, version: int | None, column: str, storage: StorageSettings) -> list[str]:
    """Distinct values of partition ``column`` among files added after snapshot ``version`` (from the log only)."""
    current = open_table(location, storage)
    if current is None:
        return []
    old = set()
    if version is not None and version >= 0:
        old = {a["path"] for a in pa.table(open_table(location, storage, version).get_add_actions()).to_pylist()}
    actions = pa.table(current.get_add_actions(flatten=True)).to_pylist()
    values = {a[f"partition.{column}"] for a in actions if a["path"] not in old}
    return sorted(_partition_value(v) for v in values if v is not None)


def row_count(location: str, storage: StorageSettings) -> int:
    """Rows in the snapshot, from the per-file numRecords of the log (no data read)."""
    table = open_table(location, storage)
    if table is None:
        return 0
    return int(pa.table(table.get_add_actions(flatten=True)).column("num_records").to_numpy().sum())


def version(location: str, storage: StorageSettings) -> int | None:
    table = open_table(location, storage)
    return None if table is None else table.version()
