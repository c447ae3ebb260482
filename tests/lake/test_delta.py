from __future__ import annotations

import datetime as dt
import json

import pytest
from deltalake import DeltaTable
from pyspark.sql import types as T

from visionlake.config import StorageSettings
from visionlake.errors import LakeError
from visionlake.lake import delta
from visionlake.lake.delta import Txn

LOCAL = StorageSettings()
SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("name", T.StringType()),
        T.StructField("score", T.DoubleType()),
        T.StructField("at", T.TimestampType()),
        T.StructField("day", T.DateType()),
    ]
)
D1, D2 = dt.date(2022, 5, 1), dt.date(2022, 5, 2)
UTC = dt.UTC


def _rows(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def _table(path):
    return DeltaTable(str(path)).to_pyarrow_table().sort_by("id").to_pylist()


def test_write_table_creates_partitioned_table_readable_without_spark(spark, tmp_path):
    source_df = _rows(
        spark,
        [
            (1, "a", 1.5, dt.datetime(2022, 5, 1, 10, 0, tzinfo=UTC), D1),
            (2, None, None, None, D2),
        ],
    )
    result = delta.write_table(source_df, str(tmp_path / "t"), storage=LOCAL, partition_by=["day"])
    assert (result.rows, result.files, result.skipped) == (2, 2, False)
    assert _table(tmp_path / "t") == [
        {"id": 1, "name": "a", "score": 1.5, "at": dt.datetime(2022, 5, 1, 10, 0, tzinfo=UTC), "day": D1},
        {"id": 2, "name": None, "score": None, "at": None, "day": D2},
    ]
    assert DeltaTable(str(tmp_path / "t")).metadata().partition_columns == ["day"]
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["_delta_log", "day=2022-05-01", "day=2022-05-02"]


def test_write_table_records_per_file_stats(spark, tmp_path):
    source_df = _rows(
        spark,
        [
            (3, "b", 2.0, dt.datetime(2022, 5, 1, 10, 0, tzinfo=UTC), D1),
            (1, None, 9.5, dt.datetime(2022, 5, 1, 12, 30, tzinfo=UTC), D1),
        ],
    ).coalesce(1)
    delta.write_table(source_df, str(tmp_path / "t"), storage=LOCAL, partition_by=["day"])
    log = (tmp_path / "t" / "_delta_log" / "00000000000000000000.json").read_text().splitlines()
    adds = [json.loads(line)["add"] for line in log if '"add"' in line]
    assert len(adds) == 1
    assert adds[0]["partitionValues"] == {"day": "2022-05-01"}
    assert json.loads(adds[0]["stats"]) == {
        "numRecords": 2,
        "minValues": {"id": 1, "name": "b", "score": 2.0, "at": "2022-05-01T10:00:00.000000Z"},
        "maxValues": {"id": 3, "name": "b", "score": 9.5, "at": "2022-05-01T12:30:00.000000Z"},
        "nullCount": {"id": 0, "name": 1, "score": 0, "at": 0},
    }


def test_file_stats_long_strings_keep_a_prefix_minimum_and_no_maximum(spark):
    import pyarrow as pa

    table = pa.table(
        {"s": ["x" * 40, "y" * 40], "n": [None, None]}, schema=pa.schema([("s", pa.string()), ("n", pa.int64())])
    )
    assert json.loads(delta.file_stats(table)) == {
        "numRecords": 2,
        "minValues": {"s": "x" * 32},
        "maxValues": {},
        "nullCount": {"s": 0, "n": 2},
    }


def test_file_stats_of_nested_structs_nest_plain_values(spark):
    import pyarrow as pa

    inner = pa.struct([("code", pa.string()), ("ms", pa.float64())])
    kind = pa.struct([("summary", inner), ("sizes", pa.list_(pa.int64()))])
    rows = [
        {"summary": {"code": "0302", "ms": 5.0}, "sizes": [1]},
        {"summary": {"code": "1400", "ms": None}, "sizes": None},
    ]
    table = pa.table({"doc": pa.array(rows, type=kind)})
    assert json.loads(delta.file_stats(table)) == {
        "numRecords": 2,
        "minValues": {"doc": {"summary": {"code": "0302", "ms": 5.0}}},
        "maxValues": {"doc": {"summary": {"code": "1400", "ms": 5.0}}},
        "nullCount": {"doc": {"summary": {"code": 0, "ms": 1}, "sizes": 1}},
    }


def test_write_table_same_txn_twice_appends_once(spark, tmp_path):
    source_df = _rows(spark, [(1, "a", 1.0, None, D1)])
    location = str(tmp_path / "t")
    first = delta.write_table(source_df, location, storage=LOCAL, txn=Txn("app", 5))
    again = delta.write_table(source_df, location, storage=LOCAL, txn=Txn("app", 5))
    older = delta.write_table(source_df, location, storage=LOCAL, txn=Txn("app", 4))
    assert (first.skipped, again.skipped, older.skipped) == (False, True, True)
    assert len(_table(location)) == 1
    assert DeltaTable(location).transaction_version("app") == 5


def test_write_table_empty_append_still_records_the_txn(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", 1.0, None, D1)]), location, storage=LOCAL, txn=Txn("app", 1))
    result = delta.write_table(_rows(spark, []), location, storage=LOCAL, txn=Txn("app", 2))
    assert (result.rows, result.files) == (0, 0)
    assert DeltaTable(location).transaction_version("app") == 2
    assert len(_table(location)) == 1


def test_write_table_replace_partitions_keeps_other_partitions(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(
        _rows(spark, [(1, "old1", None, None, D1), (2, "old2", None, None, D2)]),
        location,
        storage=LOCAL,
        partition_by=["day"],
    )
    delta.write_table(
        _rows(spark, [(3, "new2", None, None, D2)]),
        location,
        storage=LOCAL,
        partition_by=["day"],
        mode="overwrite",
        replace_partitions=["2022-05-02"],
    )
    assert [(r["id"], r["name"]) for r in _table(location)] == [(1, "old1"), (3, "new2")]


def test_write_table_overwrite_without_partitions_replaces_everything(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL)
    delta.write_table(_rows(spark, [(2, "b", None, None, D2)]), location, storage=LOCAL, mode="overwrite")
    assert [r["id"] for r in _table(location)] == [2]


def test_write_table_schema_drift_is_a_clear_error(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL)
    other_df = spark.createDataFrame([(1, 2)], "id long, extra int")
    with pytest.raises(
        LakeError, match=r"schema drift \(missing columns \['at', 'day', 'name', 'score'\], new columns \['extra'\]\)"
    ):
        delta.write_table(other_df, location, storage=LOCAL)
    retyped_df = spark.createDataFrame(
        [(1, "a", "x", None, D1)], "id long, name string, score string, at timestamp, day date"
    )
    with pytest.raises(LakeError, match=r"columns of another type: \['score'\]"):
        delta.write_table(retyped_df, location, storage=LOCAL)


def test_read_table_sees_exactly_the_committed_snapshot(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL, partition_by=["day"])
    # A file that a failed task left behind is in the folder but not in the log: readers must not see it.
    stray = tmp_path / "t" / "day=2022-05-01" / "part-stray.snappy.parquet"
    spark.createDataFrame(
        [(99, "stray", None, None)], "id long, name string, score double, at timestamp"
    ).write.parquet(str(tmp_path / "stray"))
    next((tmp_path / "stray").glob("*.parquet")).rename(stray)
    actual = delta.read_table(spark, location, LOCAL)
    assert actual.columns == ["id", "name", "score", "at", "day"]
    assert [(r.id, r.day) for r in actual.collect()] == [(1, D1)]


def test_read_table_of_missing_table_is_none(spark, tmp_path):
    assert delta.read_table(spark, str(tmp_path / "none"), LOCAL) is None


def test_files_and_partitions_added_since_a_version(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL, partition_by=["day"])
    delta.write_table(
        _rows(spark, [(2, "b", None, None, D2)]).coalesce(1), location, storage=LOCAL, partition_by=["day"]
    )
    assert len(delta.files_added_since(location, None, LOCAL)) == 2
    added = delta.files_added_since(location, 0, LOCAL)
    assert len(added) == 1 and "/day=2022-05-02/" in added[0]
    assert delta.partitions_added_since(location, 0, "day", LOCAL) == ["2022-05-02"]
    assert delta.partitions_added_since(location, None, "day", LOCAL) == ["2022-05-01", "2022-05-02"]
    assert delta.row_count(location, LOCAL) == 2
    assert sorted(delta.column_values(location, "name", LOCAL)) == ["a", "b"]


def test_choose_writer_auto_is_delta_rs_without_delta_classes(spark):
    assert delta.choose_writer("auto", spark) == "delta-rs"
    assert delta.choose_writer("delta-spark", spark) == "delta-spark"
    with pytest.raises(LakeError, match=r"lake\.writer must be auto, delta-rs or delta-spark, not 'parquet'"):
        delta.choose_writer("parquet", spark)


class _RecordingWriter:
    """Stands in for DataFrameWriter: records the calls that the delta-spark path makes."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        def call(*args):
            self.calls.append((name, *args))
            return self

        return call


def test_delta_spark_path_maps_txn_and_partition_overwrite_to_writer_options(spark, tmp_path, monkeypatch):
    recorder = _RecordingWriter()

    class _Df:
        write = recorder

    monkeypatch.setattr(delta, "open_table", lambda *a, **k: None)
    with pytest.raises(AttributeError):  # after save(), the result is read from the table's history
        delta.write_table(
            _Df(),
            str(tmp_path / "t"),
            storage=LOCAL,
            partition_by=["day"],
            mode="overwrite",
            replace_partitions=["2022-05-02", "o'k"],
            txn=Txn("app", 7),
            writer="delta-spark",
        )
    assert recorder.calls == [
        ("format", "delta"),
        ("mode", "overwrite"),
        ("partitionBy", "day"),
        ("option", "txnAppId", "app"),
        ("option", "txnVersion", 7),
        ("option", "replaceWhere", "day IN ('2022-05-02', 'o''k')"),
        ("save", str(tmp_path / "t")),
    ]


def test_write_table_replacing_no_partition_keeps_the_data_and_records_the_txn(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL, partition_by=["day"])
    result = delta.write_table(
        _rows(spark, []),
        location,
        storage=LOCAL,
        partition_by=["day"],
        mode="overwrite",
        replace_partitions=[],
        txn=Txn("gold", 3),
    )
    assert (result.rows, result.files) == (0, 0)
    assert [r["id"] for r in _table(location)] == [1]
    assert DeltaTable(location).transaction_version("gold") == 3
