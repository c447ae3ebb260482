"""Tests for visionlake.ingest.documents: every document of JSON Lines and --jsonArray exports exactly once,
whatever the piece size, locally and from S3; unreadable, empty and malformed files are rows, not failures."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter

import boto3
import numpy as np
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T
from tests.conftest import write_files

from visionlake.config import IngestSettings, StorageSettings, load_config
from visionlake.ingest import documents as reader_module
from visionlake.ingest import jsonparse, jsonsplit
from visionlake.ingest.documents import _read_piece, plan_pieces, read_documents
from visionlake.ingest.drift import FieldScanner
from visionlake.ingest.listing import FileEntry, list_input
from visionlake.lake.storage import open_input

DOCS = [{"_id": {"$oid": f"{i:024x}"}, "note": 'a, [b] {c} "d" \\e', "n": i} for i in range(40)]
LINES = "\n".join(json.dumps(d) for d in DOCS[:20]) + "\n"
ARRAY = "[" + ",".join(json.dumps(d) for d in DOCS[20:]) + "]"
PRETTY = json.dumps(DOCS[:3], indent=2)
ID_V = T.StructType([T.StructField("id", T.StringType()), T.StructField("v", T.DoubleType())])  # drift tests


def documents(read) -> list[tuple[str, int, dict]]:
    return sorted((r.source_path.rsplit("/", 1)[1], r.source_offset, json.loads(r.text)) for r in read.rows.collect())


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
    pieces, failed, pending = plan_pieces(
        spark, listing.files, StorageSettings(), IngestSettings(), target_bytes=len(LINES) // 4
    )
    assert (failed, pending) == ([], {})
    lines = [p for p in pieces if p[3] == "lines"]
    arrays = [p for p in pieces if p[3] == "array"]
    assert [(p[4], p[5]) for p in lines] == [(i * len(LINES) // 4, (i + 1) * len(LINES) // 4) for i in range(4)]
    assert arrays[0][4] == 1 and arrays[-1][5] == len(ARRAY) - 1
    assert all(ARRAY[p[4]] == "{" and ARRAY[p[5] - 1] == "}" for p in arrays)


def test_a_small_input_is_cut_into_a_piece_per_task_of_about_a_megabyte_at_least(spark, tmp_path):
    line = json.dumps({"pad": "x" * 990}) + "\n"  # 1,001 bytes
    write_files(tmp_path, {"big.jsonl": line * 3000, "small.jsonl": line * 100})  # 3,003,000 and 100,100 bytes
    files = list_input(str(tmp_path), StorageSettings(), suffix=(".jsonl",)).files

    def pieces_per_file(settings: IngestSettings) -> dict[str, int]:
        pieces, _, _ = plan_pieces(spark, files, StorageSettings(), settings)
        return dict(Counter(p[0].rsplit("/", 1)[1] for p in pieces))

    # two tasks (the session's two cores): 3,103,100 / 2 = 1,551,550 bytes a piece -> big: round(1.94) = 2
    assert pieces_per_file(IngestSettings(min_tasks=2)) == {"big.jsonl": 2, "small.jsonl": 1}
    # four tasks: 775,775 bytes, raised to 1 MB (1,048,576) -> big: round(2.86) = 3 pieces of 1,001,000 bytes
    assert pieces_per_file(IngestSettings(min_tasks=4)) == {"big.jsonl": 3, "small.jsonl": 1}
    # alone, the small file is under a megabyte: one piece
    pieces, _, _ = plan_pieces(
        spark, [f for f in files if f.path.endswith("small.jsonl")], StorageSettings(), IngestSettings()
    )
    assert len(pieces) == 1


def test_pretty_printed_array_and_sha256_of_each_document(spark, tmp_path):
    write_files(tmp_path, {"p.json": PRETTY})
    files = list_input(str(tmp_path), StorageSettings()).files
    rows = read_documents(spark, files, StorageSettings(), IngestSettings()).rows.collect()
    assert [json.loads(r.text)["n"] for r in sorted(rows, key=lambda r: r.source_offset)] == [0, 1, 2]
    first = min(rows, key=lambda r: r.source_offset)
    assert first.doc_sha256 == hashlib.sha256(first.text.encode()).hexdigest()
    assert PRETTY[first.source_offset : first.source_offset + len(first.text)] == first.text


def test_bad_files_become_rows_with_a_read_error_and_a_vanished_file_stays_pending(spark, tmp_path):
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
    entries.append(FileEntry(str(tmp_path / "loop.json"), 0, 0.0, "unreadable: symbolic link loop"))
    read = read_documents(spark, entries, StorageSettings(), IngestSettings())
    rows = read.rows.collect()
    errors = sorted((r.source_path.rsplit("/", 1)[1], r.source_offset, r.read_error) for r in rows if r.read_error)
    assert errors == [
        ("empty-array.json", 0, "empty_file: an empty array"),
        ("empty.json", 0, "empty_file: 0 bytes"),
        ("latin1.jsonl", 9, "invalid_encoding: not UTF-8 at byte 13"),
        ("loop.json", 0, "unreadable: symbolic link loop"),
        (
            "unclosed.json",
            0,
            "invalid_json: truncated: the stream ends at byte 19 before the array opened at byte 0 is closed",
        ),
    ]
    assert [json.loads(r.text) for r in rows if r.read_error is None] == [{"a": 1}]
    # gone.json could not be read now: no row, and the next run reads it
    assert read.pending.value == {str(tmp_path / "gone.json"): "it vanished after it was listed"}
    assert read.planned == read.pending.value


def test_a_json_lines_file_whose_first_line_is_an_array_keeps_its_other_lines(spark, tmp_path):
    write_files(tmp_path, {"x.jsonl": '[1, 2]\n{"n": 1}\n{"n": 2}\n'})
    rows = read_documents(
        spark, list_input(str(tmp_path), StorageSettings(), suffix=".jsonl").files, StorageSettings(), IngestSettings()
    ).rows.collect()
    assert sorted((r.source_offset, r.text) for r in rows) == [(0, "[1, 2]"), (7, '{"n": 1}'), (16, '{"n": 2}')]


def test_text_after_an_array_is_trailing_data_and_the_elements_are_kept(spark, tmp_path):
    write_files(tmp_path, {"x.json": '[{"n": 1}, {"n": 2}] garbage'})
    rows = read_documents(
        spark, list_input(str(tmp_path), StorageSettings()).files, StorageSettings(), IngestSettings()
    ).rows.collect()
    assert sorted((r.source_offset, r.text, r.read_error) for r in rows) == [
        (1, '{"n": 1}', None),
        (11, '{"n": 2}', None),
        (21, None, "trailing_data: unexpected b'g' at byte 21 after the array closed at byte 19"),
    ]


def test_a_file_that_changed_after_listing_stays_pending(spark, tmp_path):
    write_files(tmp_path, {"x.jsonl": '{"n": 1}\n'})
    entries = list_input(str(tmp_path), StorageSettings(), suffix=".jsonl").files
    (tmp_path / "x.jsonl").write_text('{"n": 1}\n{"n": 2}\n')  # an export that grew after it was listed
    read = read_documents(spark, entries, StorageSettings(), IngestSettings())
    assert read.rows.collect() == []
    assert read.pending.value == {str(tmp_path / "x.jsonl"): "it changed after it was listed"}


class _Pending:
    def __init__(self) -> None:
        self.value: dict = {}

    def add(self, found: dict) -> None:
        self.value.update(found)


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
    pending = _Pending()
    texts = [
        text
        for piece in pieces
        for batch in _read_piece(piece, storage, None, pending)
        for text in batch.column("text").to_pylist()
    ]
    assert pending.value == {}
    assert sorted(json.loads(t)["n"] for t in texts) == list(range(40))


def _piece_rows(path, scanner=None, start=0, end=None) -> list[dict]:
    size = path.stat().st_size
    piece = (str(path), size, path.stat().st_mtime, "lines", start, size if end is None else end)
    pending = _Pending()
    rows = [row for batch in _read_piece(piece, StorageSettings(), scanner, pending) for row in batch.to_pylist()]
    assert pending.value == {}
    return rows


@pytest.mark.parametrize("batch_bytes", [reader_module.BATCH_BYTES, 40, 1], ids=["one-batch", "40-bytes", "1-byte"])
def test_json_lines_blocks_give_each_line_its_offset_text_digest_and_findings(tmp_path, monkeypatch, batch_bytes):
    """The block reader of JSON Lines: a BOM, CRLF, blank and whitespace-only lines, and the drift scanner's
    findings only where a line has them (a hex id with "e400" in it is not a number); the same rows whether the
    block is one batch or is cut into batches of a few lines or of one line each."""
    monkeypatch.setattr(reader_module, "BATCH_BYTES", batch_bytes)
    lines = [
        b'{"id": "a1e400", "v": 1}',
        b'{"id": "b", "v": 2, "extra": true}',
        b'{"id": "c", "v": NaN}',
        b'{"id": "d", "v": 1e999}',
    ]
    path = tmp_path / "x.jsonl"
    path.write_bytes(jsonsplit.BOM + lines[0] + b"\r\n\r\n  \t\n" + lines[1] + b"\n" + lines[2] + b"\r\n" + lines[3])
    rows = _piece_rows(path, FieldScanner(ID_V))
    assert [(r["source_offset"], r["text"]) for r in rows] == [
        (3, lines[0].decode()),
        (35, lines[1].decode()),
        (70, lines[2].decode()),
        (93, lines[3].decode()),
    ]
    assert [r["doc_sha256"] for r in rows] == [hashlib.sha256(line).hexdigest() for line in lines]
    assert [(r["new_fields"], r["read_error"]) for r in rows] == [
        (None, None),
        (["extra:boolean"], None),
        (None, "non_finite_number: NaN or infinite: v"),
        (None, "non_finite_number: NaN or infinite: v"),
    ]
    # a piece starting inside the second line takes the lines that start in it
    assert [r["source_offset"] for r in _piece_rows(path, start=40, end=80)] == [70]


def test_a_block_is_cut_into_slices_of_whole_lines():
    block = b"aaaa\nbb\r\n\ncccccccccc\nd"
    assert list(reader_module._slices(block, 8)) == [(0, 5), (5, 10), (10, 21), (21, 22)]
    assert list(reader_module._slices(block, 100)) == [(0, 21), (21, 22)]
    assert list(reader_module._slices(block[:21], 100)) == [(0, 21)]
    assert list(reader_module._slices(block, 1)) == [(0, 5), (5, 9), (9, 10), (10, 21), (21, 22)]
    assert list(reader_module._slices(b"", 8)) == []


def test_a_json_lines_block_with_a_line_that_is_not_utf8_keeps_its_other_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"name": "Jos\xe9"}\n\n{"b": "\xc3\xa9"}\n')
    rows = _piece_rows(path)
    assert [(r["source_offset"], r["text"], r["read_error"]) for r in rows] == [
        (0, '{"a": 1}', None),
        (9, None, "invalid_encoding: not UTF-8 at byte 13"),
        (27, '{"b": "é"}', None),
    ]
    assert rows[1]["doc_sha256"] == hashlib.sha256(b'{"name": "Jos\xe9"}').hexdigest()


def test_each_line_tells_whether_text_follows_its_first_value(tmp_path):
    """``trailing`` from the block's scan: false for one value (a bracket in a string, CRLF and trailing blanks
    are not text after it), true for a stray bracket or a second value, null where the scan cannot tell (an
    unclosed object, a single-quoted string); the same from the line-by-line path of a block that is not all
    UTF-8."""
    lines = [b'{"a": "}"}  \r', b'{"a": 1}]', b'{"a": 1}{"b": 2}', b'{"a": ', b"{'a': 1}", b"[1, [2]]"]
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert [r["trailing"] for r in _piece_rows(path)] == [False, True, True, None, None, False]
    path.write_bytes(b"\n".join(lines) + b'\n{"name": "Jos\xe9"}\n')
    assert [r["trailing"] for r in _piece_rows(path)] == [False, True, True, None, None, False, None]


def test_each_array_element_tells_whether_text_follows_its_first_value(spark, tmp_path):
    """An element of an array export holds one value unless a comma is missing between two."""
    path = tmp_path / "x.json"
    path.write_bytes(b'[{"a": "]"}, {"a": 1} {"b": 2}, [3]]')
    files = list_input(str(tmp_path), StorageSettings()).files
    rows = read_documents(spark, files, StorageSettings(), IngestSettings()).rows.orderBy("source_offset")
    assert [(r["text"], r["trailing"]) for r in rows.collect()] == [
        ('{"a": "]"}', False),
        ('{"a": 1} {"b": 2}', True),
        ("[3]", False),
    ]


def test_array_elements_read_together_are_each_scanned_for_what_they_alone_hold(tmp_path):
    """The elements of a --jsonArray export are scanned for drift as a block: each finding lands on its own
    element (a pretty-printed one too), and an element that is not UTF-8 keeps its encoding error."""
    elements = [
        b'{"id": "a", "v": 1}',
        b'{"id": "b", "v": 2, "extra": true}',
        b'{\n  "id": "c",\n  "v": NaN\n}',
        b'{"id": "Jos\xe9", "other": 1}',
        b'{"id": "e", "v": 1e400}',
        b'{"id": "f"}',
    ]
    path = tmp_path / "x.json"
    path.write_bytes(b"[" + b",\n".join(elements) + b"]")
    piece = (str(path), path.stat().st_size, path.stat().st_mtime, "array", 1, path.stat().st_size - 1)
    pending = _Pending()
    rows = [
        r for batch in _read_piece(piece, StorageSettings(), FieldScanner(ID_V), pending) for r in batch.to_pylist()
    ]
    assert [(r["new_fields"], r["read_error"]) for r in rows] == [
        (None, None),
        (["extra:boolean"], None),
        (None, "non_finite_number: NaN or infinite: v"),
        (None, "invalid_encoding: not UTF-8 at byte 11"),
        (None, "non_finite_number: NaN or infinite: v"),
        (None, None),
    ]


def test_a_json_lines_block_strips_only_the_newline(tmp_path):
    """A line's text is its bytes without its newline, as line by line: of ``\\r\\r\\n`` only ``\\r\\n`` goes, and
    a last line without newline keeps its ``\\r``."""
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\r\r\n{"b": 2}\r')
    rows = _piece_rows(path)
    assert [(r["source_offset"], r["text"]) for r in rows] == [(0, '{"a": 1}\r'), (11, '{"b": 2}\r')]
    assert [r["doc_sha256"] for r in rows] == [hashlib.sha256(b).hexdigest() for b in (b'{"a": 1}\r', b'{"b": 2}\r')]


def test_the_jvms_trailing_text_test_reads_what_sparks_parser_reads(spark):
    """The JVM's test parses with Spark's options: a NaN, an infinity or a single-quoted string is no trailing
    text (``json_array_length`` refused all three); a text nested exactly 1,000 deep still fails it (its wrapping
    array makes 1,001)."""
    cases = [
        ('{"a": NaN, "b": [-INF, +Infinity]}', False),
        ("{'a': '}'}", False),
        ('{"a": 1}', False),
        ('{"a": 1} NaN', True),
        ('{"a": 1}] , [{"b": 2}', True),
        ('{"a": 1}{"b": 2}', True),
        ('{"x": ' + "[" * 998 + "]" * 998 + "}", False),
        ('{"x": ' + "[" * 999 + "]" * 999 + "}", True),
    ]
    rows = (
        spark.createDataFrame([(i, t) for i, (t, _) in enumerate(cases)], "i int, text string")
        .select("i", jsonparse.trailing_data(F.col("text")).alias("jvm"))
        .orderBy("i")
        .collect()
    )
    assert [r.jvm for r in rows] == [expected for _, expected in cases]


def test_the_readers_answer_on_trailing_text_agrees_with_the_jvms_test(spark):
    """On random documents, some followed by text and some with a character inserted or deleted anywhere, and on
    words Spark's parser reads and JSON has not, and on depths around the parser's limit: where Spark's parser
    accepts the first value and the block scan can tell, it says what the JVM's test says (its two wrappings
    parsed by Spark's parser: an independent implementation, Jackson's tokenizer)."""
    rnd = random.Random(11)
    nan, inf = float("nan"), float("inf")  # written bare: NaN, Infinity, -Infinity

    def value(depth: int = 0):
        pick = rnd.random()
        if depth > 3 or pick < 0.3:
            if rnd.random() < 0.02:
                return rnd.choice([nan, inf, -inf])
            return rnd.choice([1, 'a"b\\', "}]{[", None, True, 2.5, "\\\\", "x'y", "\u00e9\u2028"])
        if pick < 0.6:
            return [value(depth + 1) for _ in range(rnd.randint(0, 3))]
        return {rnd.choice(["k", '"q', "}", "'"]) + str(i): value(depth + 1) for i in range(rnd.randint(0, 3))}

    texts = []
    for i in range(2000):
        text = json.dumps({"x": value(), "n": i}, ensure_ascii=bool(i % 3))
        text += rnd.choice(["", " \t", " x", "]", "}", "{}", ", 1", "] [1", " \r", "\x00", '] , [{"b":2}', " 'a'"])
        if rnd.random() < 0.3:
            at, char = rnd.randrange(len(text)), rnd.choice(list("\"'\\{}[],: x1"))
            text = text[:at] + char + text[at:] if rnd.random() < 0.5 else text[:at] + text[at + 1 :]
        texts.append(text)
    texts += ['{"x": -INF, "n": 1}', '{"x": [+INF, +Infinity], "n": 2}', '{"x": "-INF", "n": 3}']
    texts += ['{"x": ' + "[" * (depth - 1) + "]" * (depth - 1) + ', "n": 4}' for depth in (999, 1000, 1001)]
    data = [t.encode() for t in texts]
    starts = np.cumsum([0] + [len(d) + 1 for d in data[:-1]])
    trailing, known = jsonsplit.trailing_text(b"\n".join(data), starts, starts + [len(d) for d in data])
    flags = [bool(t) if k else None for t, k in zip(trailing, known, strict=True)]
    schema = T.StructType([T.StructField("x", T.StringType()), T.StructField("n", T.LongType())])
    body = jsonparse.body("text")
    rows = (
        spark.createDataFrame(list(zip(texts, flags, strict=True)), "text string, scan boolean")
        .select(
            "scan",
            jsonparse.broken(jsonparse.parse(body, schema)).alias("broken"),
            jsonparse.trailing_data(body).alias("jvm"),
        )
        .collect()
    )
    judged = [(r["scan"], r["jvm"]) for r in rows if not r["broken"] and r["scan"] is not None]
    assert len(judged) > 1000 and any(scan for scan, _ in judged) and not all(scan for scan, _ in judged)
    assert [scan for scan, _ in judged] == [jvm for _, jvm in judged]


def test_refused_texts_are_diagnosed_in_the_batch_and_their_text_dropped():
    import pyarrow as pa

    refused = "invalid_json: refused by the JSON parser"
    batch = pa.record_batch(
        {
            "source_path": ["a", "b", "c", "d"],
            "parse_error": [None, refused, "trailing_data: more text", refused],
            jsonparse.REFUSED_TEXT: [None, '{"a": tru}', None, "[" * 1001 + "]" * 1001],
        }
    )
    done = jsonparse.diagnose_refused(batch)
    assert done.schema.names == ["source_path", "parse_error"]
    assert done.column("parse_error").to_pylist() == [
        None,
        "invalid_json: not parseable as JSON: Expecting value at line 1 column 7 (character 6)",
        "trailing_data: more text",
        "too_deep: nesting depth 1,001 is over the JSON parser's limit of 1,000",
    ]
    # a batch with nothing refused loses the column and keeps its errors as they are
    clean = batch.slice(2, 1)
    assert jsonparse.diagnose_refused(clean).to_pydict() == {
        "source_path": ["c"],
        "parse_error": ["trailing_data: more text"],
    }


def test_a_number_longer_than_python_converts_is_diagnosed_as_over_the_parsers_limit():
    # Python's json module refuses integers of more than 4,300 digits with a plain ValueError
    text = '{"latency_ms": ' + "1" * 5000 + ', "endpoint": "add_user"}'
    assert (
        jsonparse.diagnose(text) == "too_large: a number of 5,000 characters is over the JSON parser's limit of 1,000"
    )


def test_the_strings_diagnosed_end_at_their_first_unescaped_quote():
    # escaped quotes and backslashes belong to the string: the digits after them are text, the ones after it a number
    inside = '{"a": "x\\"' + "2" * 1500 + '\\\\", "n": 1}'
    assert jsonparse.diagnose(inside) == "invalid_json: refused by the JSON parser"
    after = '{"a": "x\\"y\\\\", "n": ' + "2" * 1500 + "}"
    assert (
        jsonparse.diagnose(after) == "too_large: a number of 1,500 characters is over the JSON parser's limit of 1,000"
    )
    # a string over the limit, of escapes and plain characters: each escape counts its two characters
    long = '{"a": "' + "\\n" * 5_000_000 + "x" * 10_000_001 + '"}'
    assert jsonparse.diagnose(long) == (
        "too_large: a string of 20,000,001 characters is over the JSON parser's limit of 20,000,000"
    )
    # a bracket inside a string is no nesting
    assert jsonparse.diagnose('{"a": "' + "[" * 2000 + '", "b": [1}') == (
        "invalid_json: not parseable as JSON: Expecting ',' delimiter at line 1 column 2018 (character 2017)"
    )
