"""The public reader, visionlake.lake.read: committed snapshots through pyarrow's native file systems, by name or
path, local or S3, latest or a given version; and the short scripts that used to abort at interpreter exit."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from visionlake.config import StorageSettings, load_config
from visionlake.errors import LakeError
from visionlake.lake import read, read_spark
from visionlake.lake.reader import snapshot, table_locations

D1, D2 = dt.date(2022, 5, 1), dt.date(2022, 5, 2)
FRAMES = pa.table(
    {
        "frame_key": ["a", "b", "c"],
        "duration_ms": pa.array([10, None, 30], pa.int64()),
        "event_date": pa.array([D1, D2, D2], pa.date32()),
    }
)


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    write_deltalake(str(root / "silver" / "alpr" / "frames"), FRAMES.slice(0, 1), partition_by=["event_date"])
    write_deltalake(
        str(root / "silver" / "alpr" / "frames"), FRAMES.slice(1), partition_by=["event_date"], mode="append"
    )
    write_deltalake(str(root / "quarantine" / "alpr"), pa.table({"reason": ["empty_file"]}))
    write_deltalake(str(root / "_runs"), pa.table({"run_id": ["r1"]}))
    (root / "silver" / "alpr" / "not_a_table").mkdir()
    return root


def test_read_by_name_or_path_at_the_latest_or_a_given_version(lake):
    latest = read("silver_alpr_frames", lake=str(lake)).sort_by("frame_key")
    assert latest.to_pylist() == [
        {"frame_key": "a", "duration_ms": 10, "event_date": D1},
        {"frame_key": "b", "duration_ms": None, "event_date": D2},
        {"frame_key": "c", "duration_ms": 30, "event_date": D2},
    ]
    assert latest.schema.field("event_date").type == pa.date32()  # the partition column, typed from the log
    first = read(str(lake / "silver" / "alpr" / "frames"), version=0)
    assert first.to_pylist() == [{"frame_key": "a", "duration_ms": 10, "event_date": D1}]
    assert read("quarantine_alpr", lake=str(lake), columns=["reason"]).to_pylist() == [{"reason": "empty_file"}]
    assert read("_runs", lake=str(lake)).to_pandas()["run_id"].tolist() == ["r1"]


def test_read_as_a_spark_dataframe_at_the_latest_or_a_given_version(spark, lake):
    latest = read_spark(spark, "silver_alpr_frames", lake=str(lake))
    assert latest.columns == ["frame_key", "duration_ms", "event_date"]
    assert sorted(tuple(r) for r in latest.collect()) == [("a", 10, D1), ("b", None, D2), ("c", 30, D2)]
    assert [tuple(r) for r in read_spark(spark, "silver_alpr_frames", lake=str(lake), version=0).collect()] == [
        ("a", 10, D1)
    ]
    with pytest.raises(LakeError, match="is not a Delta table"):
        read_spark(spark, str(lake / "silver" / "alpr" / "not_a_table"))


def test_the_lake_lists_its_tables_by_name(lake):
    assert sorted(table_locations(str(lake))) == ["_runs", "quarantine_alpr", "silver_alpr_frames"]


def test_unknown_names_versions_and_paths_are_clear_errors(lake, tmp_path):
    with pytest.raises(LakeError, match=r"no table 'silver_alpr_plates' in .* \(tables: _runs, quarantine_alpr, "):
        read("silver_alpr_plates", lake=str(lake))
    with pytest.raises(LakeError, match=r"tables: none: the lake is empty"):
        read("silver_alpr_frames", lake=str(tmp_path / "empty"))
    with pytest.raises(LakeError, match=r"cannot open version 7"):
        read(str(lake / "silver" / "alpr" / "frames"), version=7)
    with pytest.raises(LakeError, match="is not a Delta table"):
        read(str(lake / "silver" / "alpr" / "not_a_table"))


def test_an_empty_table_has_its_schema(tmp_path):
    location = str(tmp_path / "t")
    write_deltalake(location, FRAMES.slice(0, 0), partition_by=["event_date"])
    assert read(location).schema.names == ["frame_key", "duration_ms", "event_date"]
    assert snapshot(location).num_records == 0


def test_a_file_removed_by_compaction_is_not_read_twice(lake):
    DeltaTable(str(lake / "silver" / "alpr" / "frames")).optimize.compact()
    assert read("silver_alpr_frames", lake=str(lake)).num_rows == 3


@pytest.mark.s3
def test_read_from_s3_with_the_standard_variables(aws_env, tmp_path):
    boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1").create_bucket(Bucket="rdr")
    storage = load_config("local").storage
    options = {"AWS_ENDPOINT_URL": aws_env["AWS_ENDPOINT_URL"], "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1"}
    write_deltalake("s3://rdr/lake/gold/alpr/daily", FRAMES, partition_by=["event_date"], storage_options=options)
    assert storage.endpoint_url == aws_env["AWS_ENDPOINT_URL"]
    assert sorted(read("gold_alpr_daily", lake="s3a://rdr/lake").column("frame_key").to_pylist()) == ["a", "b", "c"]
    assert read("s3a://rdr/lake/gold/alpr/daily", storage=StorageSettings(**{**storage.__dict__})).num_rows == 3


def test_thirty_short_reader_scripts_all_exit_0(lake):
    """deltalake's to_pyarrow_table() aborted up to half of such scripts at exit (status 134); this reader never."""
    script = f"from visionlake.lake import read\nt = read('silver_alpr_frames', lake={str(lake)!r})\nprint(t.num_rows)"

    def once(_: int) -> tuple[int, str]:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        return result.returncode, result.stdout.strip()

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(once, range(30)))
    assert outcomes == [(0, "3")] * 30


def test_a_lake_that_cannot_be_listed_is_an_error_not_an_empty_lake(tmp_path, monkeypatch):
    # an unreachable S3 endpoint once gave "no tables in s3a://..." and exit 0: `maintain` then did nothing, silently
    from visionlake.lake import storage

    class Unreachable:
        def get_file_info(self, selector):
            raise OSError("When listing objects under key 'lake': curlCode: 7, Couldn't connect to server")

    with monkeypatch.context() as patched:
        patched.setattr(storage, "filesystem_path", lambda location, settings: (Unreachable(), "b/lake"))
        with pytest.raises(LakeError, match=r"^cannot list s3a://b/lake: .*Couldn't connect to server"):
            table_locations("s3a://b/lake")
    (tmp_path / "afile").write_text("not a lake")
    with pytest.raises(LakeError, match=r"^cannot list .*afile: .*Not a directory"):
        table_locations(str(tmp_path / "afile"))
    assert table_locations(str(tmp_path / "missing")) == {}  # a lake not written yet has no tables: no error
