"""Tests for visionlake.ingest.documents: every document of JSON Lines and --jsonArray exports exactly once,
whatever the piece size, locally and from S3; unreadable, empty and malformed files are rows, not failures."""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest
from tests.conftest import write_files

from visionlake.config import IngestSettings, StorageSettings, load_config
from visionlake.ingest import jsonsplit
from visionlake.ingest.documents import _read_piece, plan_pieces, read_documents
from visionlake.ingest.listing import FileEntry, list_input
from visionlake.lake.storage import open_input

DOCS = [{"_id": {"$oid": f"{i:024x}"}, "note": 'a, [b] {c} "d" \\e', "n": i} for i in range(40)]
LINES = "\n".join(json.dumps(d) for d in DOCS[:20]) + "\n"
ARRAY = "[" + ",".join(json.dumps(d) for d in DOCS[20:]) + "]"
PRETTY = json.dumps(DOCS[:3], indent=2)


def documents(df) -> list[tuple[str, int, dict]]:
    return sorted((r.source_path.rsplit("/", 1)[1], r.source_offset, json.loads(r.text)) for r in df.collect())


@pytest.mark.parametrize("target_bytes", [64, 500, 1 << 20])
def test_each_document_once_for_any_piece_size(spark, tmp_path, target_bytes):
    write_files(tmp_path, {"a.jsonl": LINES, "b.json": ARRAY})
    listing = list_input(str(tmp_path), StorageSettings(), suffix=(".json", ".jsonl"))
    rows = documents(read_documents(spark, listing.files, StorageSettings(), IngestSettings(), target_bytes))
    by_file = {}
    for name, offset, doc in rows:
        by_file.setdefault(name, []).append((offset, doc["n"]))
    assert [n for _, n in sorted(by_file["a.jsonl"])] == list(range(20))
    assert [n for _, n in sorted(by_file["b.json"])] == list(range(20, 40))
    # offsets point at the document's first byte
    assert sorted(by_file["a.jsonl"])[1][0] == len(json.dumps(DOCS[0])) + 1
    assert sorted(by_file["b.json"])[0][0] == 1


def test_plan_cuts_lines_by_bytes_and_arrays_at_elements(spark, tmp_path):
    write_files(tmp_path, {"a.jsonl": LINES, "b.json": ARRAY})
    listing = list_input(str(tmp_path), StorageSettings(), suffix=(".json", ".jsonl"))
    pieces, failed = plan_pieces(
        spark, listing.files, StorageSettings(), IngestSettings(), target_bytes=len(LINES) // 4
    )
    assert failed == []
    lines = [p for p in pieces if p[3] == "lines"]
    arrays = [p for p in pieces if p[3] == "array"]
    assert [(p[4], p[5]) for p in lines] == [(i * len(LINES) // 4, (i + 1) * len(LINES) // 4) for i in range(4)]
    assert arrays[0][4] == 1 and arrays[-1][5] == len(ARRAY) - 1
    assert all(ARRAY[p[4]] == "{" and ARRAY[p[5] - 1] == "}" for p in arrays)


def test_pretty_printed_array_and_sha256_of_each_document(spark, tmp_path):
    write_files(tmp_path, {"p.json": PRETTY})
    files = list_input(str(tmp_path), StorageSettings()).files
    rows = read_documents(spark, files, StorageSettings(), IngestSettings()).collect()
    assert [json.loads(r.text)["n"] for r in sorted(rows, key=lambda r: r.source_offset)] == [0, 1, 2]
    first = min(rows, key=lambda r: r.source_offset)
    assert first.doc_sha256 == hashlib.sha256(first.text.encode()).hexdigest()
    assert PRETTY[first.source_offset : first.source_offset + len(first.text)] == first.text


def test_bad_files_become_rows_with_a_read_error(spark, tmp_path):
    write_files(
        tmp_path,
        {
            "empty.json": "",
            "empty-array.json": " [ ]\n",
            "latin1.jsonl": b'{"a": 1}\n{"name": "Jos\xe9"}\n',
            "unclosed.json": '[{"a": 1}, {"b": 2}',
        },
    )
    entries = list_input(str(tmp_path), StorageSettings(), suffix=(".json", ".jsonl")).files
    entries.append(FileEntry(str(tmp_path / "gone.json"), 10, 0.0))
    rows = read_documents(spark, entries, StorageSettings(), IngestSettings()).collect()
    errors = sorted((r.source_path.rsplit("/", 1)[1], r.source_offset, r.read_error) for r in rows if r.read_error)
    assert errors[0] == ("empty-array.json", 0, "empty_file: an empty array")
    assert errors[1] == ("empty.json", 0, "empty_file: 0 bytes")
    assert errors[2][0] == "gone.json" and errors[2][2].startswith("unreadable: FileNotFoundError")
    assert errors[3] == ("latin1.jsonl", 9, "invalid_encoding: not UTF-8 at byte 13")
    assert errors[4][0] == "unclosed.json" and errors[4][2].startswith("invalid_json: ")
    assert [json.loads(r.text) for r in rows if r.read_error is None] == [{"a": 1}]


def test_pieces_read_from_s3(aws_env):
    """The task side against S3 (ranged GETs), run in this process: Spark's Python workers were started
    before the test set the AWS variables. tests/test_cli.py runs the whole pipeline against S3."""
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    s3.create_bucket(Bucket="exports")
    s3.put_object(Bucket="exports", Key="2025-01/a.jsonl", Body=LINES.encode())
    s3.put_object(Bucket="exports", Key="2025-01/b.json", Body=ARRAY.encode())
    storage = load_config("local").storage
    a, b = list_input("s3a://exports/2025-01", storage, suffix=(".json", ".jsonl")).files
    with open_input(b.path, storage) as stream:
        ranges = jsonsplit.group_ranges(jsonsplit.array_elements(stream), 300)
    pieces = [(a.path, a.size, a.mtime, "lines", start, min(start + 300, a.size)) for start in range(0, a.size, 300)]
    pieces += [(b.path, b.size, b.mtime, "array", start, end) for start, end, _ in ranges]
    texts = [
        text for piece in pieces for batch in _read_piece(piece, storage) for text in batch.column("text").to_pylist()
    ]
    assert sorted(json.loads(t)["n"] for t in texts) == list(range(40))
