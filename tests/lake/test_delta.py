from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import types as T

from visionlake.config import StorageSettings
from visionlake.errors import ConcurrentRunError, DataRemovedError, LakeError, describe
from visionlake.lake import delta, read
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
    return read(str(path)).sort_by("id").to_pylist()


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


def test_a_date_past_year_9999_is_a_lake_error_naming_the_table(spark, tmp_path):
    from pyspark.sql import functions as F

    df = spark.range(1).select(
        F.col("id"),
        F.lit("a").alias("name"),
        F.lit(1.0).alias("score"),
        F.lit(None).cast("timestamp").alias("at"),
        F.date_add(F.lit("9999-12-31").cast("date"), 1).alias("day"),  # 10000-01-01: Spark holds it, Python does not
    )
    with pytest.raises(Exception) as failed:  # raised in the Spark task: it comes back wrapped
        delta.write_table(df, str(tmp_path / "t"), storage=LOCAL, partition_by=["day"])
    assert describe(failed.value).startswith(f"{tmp_path / 't'}: a date or time before year 1 or after year 9999")
    assert not (tmp_path / "t" / "_delta_log").exists()  # nothing committed


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


def test_a_nullable_column_added_by_a_later_write_is_null_in_the_rows_before_it(spark, tmp_path):
    """A table of an older release gains the column a newer one writes (bronze's ``trailing``): its earlier rows
    read it as null, from Spark and without it."""
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL)
    newer = T.StructType([*SCHEMA.fields, T.StructField("trailing", T.BooleanType(), True)])
    delta.write_table(spark.createDataFrame([(2, "b", None, None, D2, True)], newer), location, storage=LOCAL)
    rows = delta.read_table(spark, location, LOCAL).orderBy("id").collect()
    assert [(r.id, r.trailing) for r in rows] == [(1, None), (2, True)]
    assert [(r["id"], r["trailing"]) for r in _table(location)] == [(1, None), (2, True)]


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


@pytest.mark.parametrize("folder", ["my lake", "café", "a#b"])
def test_a_table_in_a_folder_whose_name_a_uri_escapes_is_read_by_spark(spark, tmp_path, folder):
    # until Dec 6 Spark was given the log's escaped URIs (my%20lake) and found no such file: gold failed every run
    location = str(tmp_path / folder / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL, partition_by=["day"])
    delta.write_table(_rows(spark, [(2, "b", None, None, D2)]), location, storage=LOCAL, partition_by=["day"])
    assert sorted(r.id for r in delta.read_table(spark, location, LOCAL).collect()) == [1, 2]
    files = delta.snapshot_files(location, LOCAL, [("day", "=", "2022-05-02")])
    assert [r.name for r in delta.read_files(spark, location, files, SCHEMA).collect()] == ["b"]


def test_read_table_of_missing_table_is_none(spark, tmp_path):
    assert delta.read_table(spark, str(tmp_path / "none"), LOCAL) is None


def test_changes_since_a_version_are_the_files_added_as_new_data(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL, partition_by=["day"])
    delta.write_table(_rows(spark, [(2, "b", None, None, D2)]), location, storage=LOCAL, partition_by=["day"])
    assert len(delta.changes_since(location, None, LOCAL).files) == 2
    added = delta.changes_since(location, 0, LOCAL)
    assert (added.after, added.upto, len(added.files)) == (0, 1, 1)
    assert "/day=2022-05-02/" in added.files[0]
    assert added.partition_values("day") == ["2022-05-02"]
    assert delta.changes_since(location, None, LOCAL).partition_values("day") == ["2022-05-01", "2022-05-02"]
    assert delta.changes_since(location, 1, LOCAL).files == []
    assert delta.row_count(location, LOCAL) == 2
    assert sorted(delta.column_values(location, "name", LOCAL)) == ["a", "b"]


def test_compaction_adds_nothing_to_incremental_consumers(spark, tmp_path):
    location = str(tmp_path / "t")
    for number in (1, 2, 3):
        delta.write_table(_rows(spark, [(number, "a", None, None, D1)]), location, storage=LOCAL)
    DeltaTable(location).optimize.compact()  # version 3: two removes and one add, all dataChange=false
    assert DeltaTable(location).version() == 3
    assert delta.changes_since(location, 2, LOCAL).files == []
    assert delta.data_changed(location, LOCAL, 2, 3) is None
    after_first = delta.changes_since(location, 0, LOCAL)
    assert len(after_first.files) == 2  # the two appends, still readable: compaction only marked them removed
    ids = delta.read_files(spark, location, after_first.files, SCHEMA).select("id").collect()
    assert sorted(r.id for r in ids) == [2, 3]


def test_a_commit_that_removed_data_stops_consumers_and_asks_for_a_full_refresh(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL)
    delta.write_table(_rows(spark, [(2, "b", None, None, D1)]), location, storage=LOCAL)
    DeltaTable(location).delete("id = 1")  # version 2: a delete outside visionlake
    with pytest.raises(DataRemovedError, match=r"version 2 removed data \(DELETE\) after version 0, .*--full-refresh"):
        delta.changes_since(location, 0, LOCAL)
    assert delta.data_changed(location, LOCAL, 1, 2) == "DELETE at version 2"


def test_changes_since_a_version_whose_commits_were_cleaned_up_asks_for_a_full_refresh(spark, tmp_path):
    location = str(tmp_path / "t")
    for number in (1, 2):
        delta.write_table(_rows(spark, [(number, "a", None, None, D1)]), location, storage=LOCAL)
    (tmp_path / "t" / "_delta_log" / "00000000000000000001.json").rename(tmp_path / "gone.json")
    with pytest.raises(LakeError, match=r"commit 1 is no longer in the Delta log.*--full-refresh"):
        list(delta.commits(location, LOCAL, 0, 1))


def test_a_commit_fails_when_data_changed_after_the_writer_read_the_table(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL)
    staged = delta.stage(_rows(spark, [(2, "b", None, None, D1)]), location, storage=LOCAL)
    delta.write_table(_rows(spark, [(3, "c", None, None, D1)]), location, storage=LOCAL)  # another run, meanwhile
    with pytest.raises(ConcurrentRunError, match=r"WRITE at version 1 changed the table after this run read version 0"):
        delta.commit(staged, LOCAL)
    assert sorted(r["id"] for r in _table(tmp_path / "t")) == [1, 3]


def test_a_commit_goes_ahead_over_a_compaction_that_happened_meanwhile(spark, tmp_path):
    location = str(tmp_path / "t")
    for number in (1, 2):
        delta.write_table(_rows(spark, [(number, "a", None, None, D1)]), location, storage=LOCAL)
    staged = delta.stage(_rows(spark, [(3, "c", None, None, D1)]), location, storage=LOCAL, txn=Txn("app", 1))
    DeltaTable(location).optimize.compact()
    assert delta.commit(staged, LOCAL).rows == 1
    assert sorted(r["id"] for r in _table(tmp_path / "t")) == [1, 2, 3]
    assert DeltaTable(location).transaction_version("app") == 1


def test_a_staged_write_whose_app_transaction_landed_meanwhile_is_skipped(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL)
    mine = delta.stage(_rows(spark, [(2, "b", None, None, D1)]), location, storage=LOCAL, txn=Txn("silver", 4))
    delta.write_table(_rows(spark, [(2, "b", None, None, D1)]), location, storage=LOCAL, txn=Txn("silver", 4))
    assert delta.commit(mine, LOCAL).skipped
    assert sorted(r["id"] for r in _table(tmp_path / "t")) == [1, 2]


def test_discarded_staged_files_are_deleted_and_never_visible(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL)
    staged = delta.stage(_rows(spark, [(2, "b", None, None, D1)]), location, storage=LOCAL)
    assert [r["id"] for r in staged.dataset(LOCAL).to_table().to_pylist()] == [2]
    assert len(list((tmp_path / "t").glob("*.parquet"))) == 2
    delta.discard(staged, LOCAL)
    assert len(list((tmp_path / "t").glob("*.parquet"))) == 1
    assert [r["id"] for r in _table(tmp_path / "t")] == [1]


def test_one_file_per_partition_that_a_write_touches(spark, tmp_path):
    location = str(tmp_path / "t")
    rows = [(i, "x", None, None, D1 if i % 2 else D2) for i in range(40)]
    delta.write_table(_rows(spark, rows).repartition(4), location, storage=LOCAL, partition_by=["day"])
    assert len(list((tmp_path / "t" / "day=2022-05-01").glob("*.parquet"))) == 1
    assert len(list((tmp_path / "t" / "day=2022-05-02").glob("*.parquet"))) == 1
    delta.write_table(_rows(spark, rows).repartition(4), str(tmp_path / "u"), storage=LOCAL)
    assert len(list((tmp_path / "u").glob("*.parquet"))) == 1


def test_a_new_nullable_column_is_added_to_the_table_schema(spark, tmp_path):
    location = str(tmp_path / "t")
    delta.write_table(_rows(spark, [(1, "a", None, None, D1)]), location, storage=LOCAL)
    wider = T.StructType([*SCHEMA.fields, T.StructField("tags", T.ArrayType(T.StringType()))])
    delta.write_table(spark.createDataFrame([(2, "b", None, None, D1, ["x"])], wider), location, storage=LOCAL)
    assert [f.name for f in delta.spark_schema(location, LOCAL)] == [*SCHEMA.fieldNames(), "tags"]
    assert sorted((r["id"], r["tags"]) for r in _table(tmp_path / "t")) == [(1, None), (2, ["x"])]
    narrower = T.StructType(SCHEMA.fields[:-1])
    with pytest.raises(LakeError, match=r"schema drift \(missing columns \['day', 'tags'\]"):
        delta.write_table(spark.createDataFrame([(3, "c", None, None)], narrower), location, storage=LOCAL)


def test_no_value_that_is_not_finite_reaches_the_log_statistics(spark, tmp_path):
    import pyarrow as pa

    table = pa.table({"x": [1.0, float("inf")], "y": [float("nan"), 2.0], "z": [0.5, 1.5]})
    assert json.loads(delta.file_stats(table)) == {
        "numRecords": 2,
        "minValues": {"z": 0.5},
        "maxValues": {"z": 1.5},
        "nullCount": {"x": 0, "y": 0, "z": 0},
    }
    location = str(tmp_path / "t")
    df = spark.createDataFrame([(1, "a", float("-inf"), None, D1)], SCHEMA)
    delta.write_table(df, location, storage=LOCAL)
    assert "Infinity" not in (tmp_path / "t" / "_delta_log" / "00000000000000000000.json").read_text()
    assert DeltaTable(location).version() == 0  # the log is readable


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
        schema = SCHEMA

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


def test_a_finish_runs_on_the_rows_in_the_writing_task_and_its_columns_are_never_written(spark, tmp_path):
    import pyarrow as pa

    def name_from_raw(batch: pa.RecordBatch) -> pa.RecordBatch:  # where raw is set, name becomes its length
        pairs = zip(batch.column("name").to_pylist(), batch.column("raw").to_pylist(), strict=True)
        names = [name if raw is None else f"len {len(raw)}" for name, raw in pairs]
        return batch.set_column(1, "name", pa.array(names, pa.string())).drop_columns(["raw"])

    finish = delta.Finish(("raw",), name_from_raw)
    schema = T.StructType([*SCHEMA.fields, T.StructField("raw", T.StringType())])
    rows = spark.createDataFrame([(1, "a", None, None, D1, None), (2, "b", None, None, D1, "secret")], schema)
    location = str(tmp_path / "t")
    staged = delta.stage(rows, location, storage=LOCAL, finish=finish)
    assert delta.commit(staged, LOCAL).rows == 2
    assert [(r["id"], r["name"]) for r in _table(tmp_path / "t")] == [(1, "a"), (2, "len 6")]
    assert [f.name for f in DeltaTable(location).schema().fields] == ["id", "name", "score", "at", "day"]
    assert not any(b"secret" in p.read_bytes() for p in (tmp_path / "t").rglob("*") if p.is_file())
    # the same rows as Spark computes them (what the delta-spark writer writes)
    assert sorted((r["id"], r["name"]) for r in delta.finished(rows, finish).collect()) == [(1, "a"), (2, "len 6")]
    assert delta.finished(rows, finish).columns == ["id", "name", "score", "at", "day"]


def test_a_compact_write_finishes_its_rows_before_they_are_shuffled(spark, tmp_path):
    """The consumed columns never reach the shuffle files on local disk: 20 rows of 50,000 random characters
    each would make them about 1 MB (compression cannot shrink random text), without them they are a few KB."""
    import base64
    import os

    import pyarrow as pa

    def drop_raw(batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch.drop_columns(["raw"])

    schema = T.StructType([*SCHEMA.fields, T.StructField("raw", T.StringType())])
    raw = [base64.b64encode(os.urandom(37_500)).decode() for _ in range(20)]
    rows = spark.createDataFrame([(i, "a", None, None, D1 if i % 2 else D2, raw[i]) for i in range(20)], schema)
    dirs = spark.sparkContext._jsc.sc().env().blockManager().diskBlockManager().localDirs()
    local = [Path(d.getAbsolutePath()) for d in dirs]

    def shuffle_files() -> set[Path]:
        return {p for d in local for p in d.rglob("shuffle_*.data")}

    before = shuffle_files()
    finish = delta.Finish(("raw",), drop_raw)
    staged = delta.stage(rows, str(tmp_path / "t"), storage=LOCAL, partition_by=["day"], finish=finish)
    new = shuffle_files() - before
    assert staged.rows == 20
    assert new  # the write shuffled its rows by partition
    assert sum(p.stat().st_size for p in new) < 50_000
