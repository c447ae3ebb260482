from __future__ import annotations

import datetime as dt
import hashlib
import json

from tests.conftest import write_files

from visionlake.config import IngestSettings, StorageSettings
from visionlake.ingest.listing import FileEntry, list_input
from visionlake.ingest.reader import plan_chunks, read_files


def _entries(sizes: list[int]) -> list[FileEntry]:
    return [FileEntry(f"/in/cam/{i}.json", size, 0.0) for i, size in enumerate(sizes)]


def test_plan_chunks_cuts_by_bytes_and_keeps_every_file_once():
    settings = IngestSettings(target_task_mb=1, min_tasks=1)
    mb = 1 << 20
    chunks = plan_chunks("/in", _entries([mb, mb, mb // 2, mb // 2, mb]), settings, parallelism=1)
    assert [[p.rsplit("/", 1)[1] for p, *_ in c] for c in chunks] == [
        ["0.json"],
        ["1.json"],
        ["2.json", "3.json"],
        ["4.json"],
    ]
    assert chunks[0][0][1] == "cam"


def test_plan_chunks_makes_at_least_the_parallelism_but_never_more_than_files():
    settings = IngestSettings(target_task_mb=64, min_tasks=2)
    assert len(plan_chunks("/in", _entries([10] * 9), settings, parallelism=4)) == 4
    assert len(plan_chunks("/in", _entries([10]), settings, parallelism=4)) == 1
    assert plan_chunks("/in", [], settings, parallelism=4) == []


def test_read_files_returns_text_hash_and_errors(spark, tmp_path):
    write_files(tmp_path, {"cam/a.json": '{"frame_id": 1}', "cam/b.json": b"\xc3\x28", "c.json": ""})
    (tmp_path / "cam" / "a.json").touch()
    listing = list_input(str(tmp_path), StorageSettings())
    missing = FileEntry(str(tmp_path / "cam" / "gone.json"), 5, 1651492800.0)
    dangling = FileEntry(
        str(tmp_path / "cam" / "link.json"), 0, 1651492800.0, "unreadable: dangling symbolic link to x"
    )
    settings = IngestSettings(read_retry_seconds=0.2)
    read = read_files(spark, listing.root, [*listing.files, missing, dangling], StorageSettings(), settings)
    rows = {r.source_path.rsplit("/", 1)[1]: r for r in read.rows.collect()}
    assert (rows["a.json"].raw, rows["a.json"].camera_id, rows["a.json"].size_bytes, rows["a.json"].read_error) == (
        '{"frame_id": 1}',
        "cam",
        15,
        None,
    )
    assert rows["a.json"].sha256 == hashlib.sha256(b'{"frame_id": 1}').hexdigest()
    assert (rows["b.json"].raw, rows["b.json"].read_error) == (None, "invalid_encoding: not UTF-8 at byte 0")
    assert (rows["c.json"].raw, rows["c.json"].camera_id, rows["c.json"].size_bytes) == ("", "unknown", 0)
    # a file that cannot be read now gives no row: it stays pending for the next run
    assert "gone.json" not in rows
    assert read.pending.value == {str(tmp_path / "cam" / "gone.json"): "it vanished after it was listed"}
    # a directory entry that can never be read is a row with its error
    assert (rows["link.json"].raw, rows["link.json"].read_error) == (None, "unreadable: dangling symbolic link to x")
    assert rows["link.json"].modified_at == dt.datetime(2022, 5, 2, 12, 0)


def test_a_file_that_changed_after_listing_stays_pending(spark, tmp_path):
    write_files(tmp_path, {"cam/a.json": '{"frame_id": 1}', "cam/b.json": '{"frame_id": 2}'})
    listing = list_input(str(tmp_path), StorageSettings())
    (tmp_path / "cam" / "b.json").write_text('{"frame_id": 22}')
    read = read_files(spark, listing.root, listing.files, StorageSettings(), IngestSettings())
    assert [r.raw for r in read.rows.collect()] == ['{"frame_id": 1}']
    assert read.pending.value == {
        str(tmp_path / "cam" / "b.json"): "it changed while it was read (listed 15 bytes, read 16)"
    }


def test_read_files_names_the_fields_the_declared_schema_does_not_know(spark, tmp_path):
    from visionlake.ingest.drift import FieldScanner
    from visionlake.sources.alpr.schema import RESULT

    write_files(tmp_path, {"cam/a.json": '{"frame_id": 1, "vin": "X", "plates": [{"text": "A", "speed": 3}]}'})
    listing = list_input(str(tmp_path), StorageSettings())
    read = read_files(spark, listing.root, listing.files, StorageSettings(), IngestSettings(), FieldScanner(RESULT))
    assert [r.new_fields for r in read.rows.collect()] == [["plates[].speed:number", "vin:string"]]


def test_files_read_together_are_each_scanned_for_what_they_alone_hold(spark, tmp_path):
    """The files of a batch are pre-scanned as one block: a clean file stays clean next to flagged ones, a
    pretty-printed file (keys after newlines and indents) is scanned as well as a one-line one, a file of over
    1 MB is scanned alone, and a file that is not UTF-8 is not scanned."""
    from visionlake.ingest.drift import FieldScanner
    from visionlake.sources.alpr.schema import RESULT

    files = {f"cam/clean{i:02d}.json": f'{{"frame_id": {i}, "plates": [{{"text": "A{i}"}}]}}' for i in range(30)}
    files["cam/new.json"] = '{"frame_id": 40, "vin": "X"}'
    files["cam/pretty.json"] = json.dumps({"frame_id": 41, "plates": [{"text": "B", "speed": 3}]}, indent=2) + "\n"
    files["cam/nan.json"] = '{"frame_id": 42, "plates": [{"text": "C", "confidences": [NaN]}]}'
    files["cam/latin1.json"] = b'{"frame_id": 43, "vin": "\xe9"}'
    files["cam/unclosed.json"] = '{"frame_id": 44, "plates": [{"text": "'
    # past drift.BLOCK_BYTES: scanned alone
    files["cam/large.json"] = '{"frame_id": 45, "plates": [{"text": "' + "x" * (1 << 20) + '"}], "vin": "Y"}'
    write_files(tmp_path, files)
    listing = list_input(str(tmp_path), StorageSettings())
    read = read_files(spark, listing.root, listing.files, StorageSettings(), IngestSettings(), FieldScanner(RESULT))
    rows = {r.source_path.rsplit("/", 1)[1]: (r.new_fields, r.read_error) for r in read.rows.collect()}
    assert len(rows) == 36
    assert rows.pop("new.json") == (["vin:string"], None)
    assert rows.pop("large.json") == (["vin:string"], None)
    assert rows.pop("pretty.json") == (["plates[].speed:number"], None)
    assert rows.pop("nan.json") == (None, "non_finite_number: NaN or infinite: plates[].confidences[]")
    assert rows.pop("latin1.json") == (None, "invalid_encoding: not UTF-8 at byte 25")
    assert set(rows.values()) == {(None, None)}  # the 30 clean files, and the unclosed one (the parse names it)


def test_each_file_tells_whether_text_follows_its_first_value(spark, tmp_path):
    """``trailing`` from one scan of a batch: false for one value (a bracket in a string, a BOM before it and
    blanks after it are not text after it), true for a stray bracket or a second value (after a BOM too), null
    where the scan cannot tell (an unclosed object, single quotes), for a file not UTF-8, and for a file past
    drift.BLOCK_BYTES, which silver's parser decides."""
    files = {
        "cam/one.json": '{"a": "}"}  \r\n',
        "cam/bom.json": b'\xef\xbb\xbf{"a": [1]}\n',
        "cam/bracket.json": '{"a": 1}]',
        "cam/two.json": '{"a": 1}{"b": 2}',
        "cam/bom_two.json": b'\xef\xbb\xbf{"a": 1} x',
        "cam/unclosed.json": '{"a": ',
        "cam/quotes.json": "{'a': 1}",
        "cam/latin1.json": b'{"a": "\xe9"} x',
        "cam/large.json": '{"a": "' + "x" * (1 << 20) + '"} x',
    }
    write_files(tmp_path, files)
    listing = list_input(str(tmp_path), StorageSettings())
    read = read_files(spark, listing.root, listing.files, StorageSettings(), IngestSettings())
    assert {r.source_path.rsplit("/", 1)[1]: r.trailing for r in read.rows.collect()} == {
        "one.json": False,
        "bom.json": False,
        "bracket.json": True,
        "two.json": True,
        "bom_two.json": True,
        "unclosed.json": None,
        "quotes.json": None,
        "latin1.json": None,
        "large.json": None,
    }
