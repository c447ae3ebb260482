"""What every source's run shares: the joins with a few computed rows, and when a write is compacted."""

from __future__ import annotations

import dataclasses
import threading
import time

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from pyspark import StorageLevel
from pyspark.sql import types as T

from visionlake.sources import runner
from visionlake.sources.face_recognition.pipeline import FaceRecognitionRun
from visionlake.spark import sql_settings


def _broadcast_hint(df) -> bool:
    return "strategy=broadcast" in df._jdf.queryExecution().logical().toString()


def test_computed_rows_are_broadcast_only_when_few(spark, monkeypatch):
    three = spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], "n int, s string")
    few = runner.computed(three)
    assert _broadcast_hint(few)
    assert sorted(tuple(r) for r in few.collect()) == [(1, "a"), (2, "b"), (3, "c")]
    monkeypatch.setattr(runner, "BROADCAST_ROWS", 2)
    many = runner.computed(three)
    assert not _broadcast_hint(many)
    assert sorted(tuple(r) for r in many.collect()) == [(1, "a"), (2, "b"), (3, "c")]


def test_the_earlier_rows_read_are_those_of_the_files_holding_a_key_of_the_batch(spark, cfg, tmp_path):
    # the folder's space: Spark escapes it in a file's path and delta-rs does not, hence files matched by name
    location = str(tmp_path / "bronze lines")
    schema = T.StructType(
        [
            T.StructField(n, t)
            for n, t in [("source_path", T.StringType()), ("source_offset", T.LongType()), ("key", T.StringType())]
        ]
    )

    def append(path: str, keys: list[str | None]) -> list[tuple]:
        rows = [(path, 10 * i, key) for i, key in enumerate(keys)]
        table = pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows])
        write_deltalake(location, table, mode="append")
        return rows

    a = append("a.jsonl", ["k1", "k2"])
    b = append("b.jsonl", ["k3", None])
    batch = spark.createDataFrame(append("c.jsonl", ["k1", "k4", None]), schema)  # the last data file
    rows = runner.earlier_rows(spark, location, cfg.storage, schema, batch, ["key"])
    # a.jsonl's file holds k1 (each of its rows is read); b.jsonl's holds no key of the batch (a null matches none)
    assert sorted(rows.collect()) == a
    # a key silver derives: every row but the batch's
    every = runner.earlier_rows(spark, location, cfg.storage, schema, batch, ["derived_key"])
    assert sorted(every.collect(), key=str) == sorted(a + b, key=str)


def test_only_a_batch_smaller_than_a_data_file_is_compacted(spark, cfg, tmp_path):
    small_files = dataclasses.replace(cfg, lake=dataclasses.replace(cfg.lake, max_file_mb=2))
    run = FaceRecognitionRun(spark, small_files, str(tmp_path / "lake"), full_refresh=False)
    assert run.compacted((2 << 20) - 1)
    assert not run.compacted(2 << 20)


def test_a_batch_is_cached_in_the_heap_up_to_heap_cache_mb_of_bronze(spark, cfg, tmp_path):
    def level(limit_mb: int, batch_bytes: int):
        settings = dataclasses.replace(cfg, lake=dataclasses.replace(cfg.lake, heap_cache_mb=limit_mb))
        return FaceRecognitionRun(spark, settings, str(tmp_path / "lake"), full_refresh=False).batch_cache(batch_bytes)

    heap = level(2, 2 << 20)
    assert (heap.useMemory, heap.useDisk, heap.deserialized) == (True, True, True)
    assert level(2, (2 << 20) + 1) == StorageLevel.DISK_ONLY
    assert level(0, 0) == StorageLevel.DISK_ONLY  # 0: never in the heap, not even an empty batch


def test_a_sources_sql_settings_hold_for_its_stages_and_are_put_back_after(spark, cfg, tmp_path):
    limit, shuffles = "spark.sql.codegen.hugeMethodLimit", "spark.sql.shuffle.partitions"
    spark.conf.unset(limit)
    kept = spark.conf.get(shuffles)
    seen = []
    with sql_settings(spark, {limit: "8000", shuffles: "3"}):
        seen.append((spark.conf.get(limit), spark.conf.get(shuffles)))
    assert seen == [("8000", "3")]
    assert spark.conf.get(limit, None) is None  # unset before: unset after
    assert spark.conf.get(shuffles) == kept
    with pytest.raises(RuntimeError, match="a stage failed"), sql_settings(spark, {shuffles: "5"}):
        raise RuntimeError("a stage failed")
    assert spark.conf.get(shuffles) == kept

    class Probe(FaceRecognitionRun):  # face_recognition's stages run with its setting
        def stages(self, input_root: str) -> None:
            seen.append(self.spark.conf.get(limit))

    Probe(spark, cfg, str(tmp_path / "lake"), full_refresh=False).execute(str(tmp_path))
    assert seen[1:] == ["8000"]
    assert spark.conf.get(limit, None) is None


def test_rejections_count_and_quarantine_the_refused_texts_by_their_diagnosis(spark):
    rows = [
        ("a", None, None, '{"frame_id": 1}'),
        ("b", None, None, '{"frame_id": 2}'),
        ("c", "empty_file", "0 characters of whitespace", ""),
        ("d", "invalid_json", "refused", "[" * 1001 + "]" * 1001),
        ("e", "invalid_json", "refused", '{"frame_id": '),
    ]
    classified = spark.createDataFrame(rows, "source_path string, reason string, detail string, raw string")
    counted = runner.rejections(classified, "raw")
    try:
        assert (counted.total, counted.rejected) == (5, {"empty_file": 1, "too_deep": 1, "invalid_json": 1})
        assert len(counted.cached) == 1  # the diagnosed rows, counted and quarantined from one cache
        got = sorted((r.source_path, r.reason, r.detail) for r in counted.quarantined.collect())
        assert got == [
            ("c", "empty_file", "0 characters of whitespace"),
            ("d", "too_deep", "nesting depth 1,001 is over the JSON parser's limit of 1,000"),
            ("e", "invalid_json", "truncated: the text ends at line 1 column 14 (character 13) before the JSON value "
             "is complete"),
        ]  # fmt: skip
    finally:
        for df in counted.cached:
            df.unpersist()
    clean = runner.rejections(classified.where("reason IS NULL OR reason != 'invalid_json'"), "raw")
    assert (clean.total, clean.rejected, clean.cached) == (3, {"empty_file": 1}, [])


def test_concurrently_makes_one_call_in_the_calling_thread_and_several_side_by_side():
    caller = threading.get_ident()
    assert runner.concurrently(lambda name: (name, threading.get_ident() == caller), ["a"]) == {"a": ("a", True)}
    both = threading.Barrier(2, timeout=10)  # each call waits for the other: they run at the same time
    assert runner.concurrently(lambda name: (name, both.wait() in (0, 1)), ["a", "b"]) == {
        "a": ("a", True),
        "b": ("b", True),
    }
    assert runner.concurrently(lambda name: name, []) == {}


def _stops(seen: list[str], then: threading.Event | None = None) -> None:
    """A call busy in Python between writes: it reaches a stop point every 50 ms for up to 30 s."""
    for _ in range(600):
        try:
            runner.stop_point()
        except runner.Stopped:
            seen.append("stopped")
            raise
        time.sleep(0.05)
    seen.append("never stopped")


def test_a_failing_call_cancels_the_spark_job_beside_it_and_stops_the_calls_between_writes(spark):
    seen: list[str] = []
    tracker = spark.sparkContext.statusTracker()

    def call(name: str) -> None:
        if name == "job":  # two tasks of a minute each
            try:
                spark.sparkContext.parallelize([1, 2], 2).map(lambda x: time.sleep(60) or x).collect()
            except Exception as exc:
                seen.append("job cancelled" if "cancelled" in str(exc) else f"job failed: {exc}")
                raise
            seen.append("job ended")
        elif name == "nested":  # a call of an inner concurrently stops too
            runner.concurrently(lambda inner: _stops(seen) if inner == "b" else None, ["a", "b"])
        elif name == "fails":
            for _ in range(600):  # until the job runs
                if tracker.getActiveJobsIds():
                    break
                time.sleep(0.05)
            raise RuntimeError("match_decisions: boom")

    with pytest.raises(RuntimeError, match="match_decisions: boom"):
        runner.concurrently(call, ["job", "nested", "fails"])
    # every call had ended when the failure was raised
    assert sorted(seen) == ["job cancelled", "stopped"]


def test_ctrl_c_is_raised_at_once_and_the_calls_beside_it_stop_at_their_next_stop_point(ctrl_c):
    seen: list[str] = []
    ended = threading.Event()

    def busy(name: str) -> None:
        try:
            _stops(seen)
        finally:
            time.sleep(1.0)  # it winds down slowly: Ctrl-C does not wait for it
            ended.set()

    def press() -> None:
        time.sleep(0.5)
        ctrl_c()

    threading.Thread(target=press, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        runner.concurrently(busy, ["a", "b"])
    assert not ended.is_set()
    assert ended.wait(30)
    time.sleep(0.2)
    assert seen == ["stopped", "stopped"]
