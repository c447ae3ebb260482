"""The fault harness: hostile input for every source, SIGKILL at named points of a run, and the reruns that
must leave every table exactly as an uninterrupted run would. Runs alone with ``pytest -m faults``.

The hostile-input matrix runs the pipeline in this process on one folder per source that holds every kind of
bad file and document the reliability issue names; the kill harness runs the command line in child processes
that kill themselves with SIGKILL at a stage marker (``visionlake.faults``), then reruns it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from tests.conftest import VENV_BIN, lake_contents, write_files

from visionlake.config import FaceValidationSettings, IngestSettings, StorageSettings
from visionlake.ingest.documents import read_documents
from visionlake.ingest.listing import list_input
from visionlake.lake import read
from visionlake.lake.reader import table_locations
from visionlake.sources.alpr import pipeline as alpr
from visionlake.sources.detections import pipeline as detections
from visionlake.sources.face_recognition import pipeline as face_recognition
from visionlake.sources.face_validation import pipeline as face_validation

pytestmark = pytest.mark.faults

BIG = 50 * 1024 * 1024  # a 50 MB file


# --------------------------------------------------------------------------------------------------
# hostile input: ALPR (one result per file)

CAM = "cam-h/2022-05-02"
ALPR_GOOD = '{"duration": 10, "frame_id": 1}'
# file -> (content, expected quarantine reason or None when accepted, a fragment of the detail)
ALPR_CASES: dict[str, tuple[bytes | str, str | None, str]] = {
    "zero.json": (b"", "empty_file", "0 characters of whitespace"),
    "spaces.json": (" \n\t ", "empty_file", "4 characters of whitespace"),
    "truncated.json": ('{"frame_id": 1, "plates": [{"text": "AB', "invalid_json", "truncated: the text ends"),
    "latin1.json": (b'{"frame_id": 1, "plates": [{"text": "\xe9"}]}', "invalid_encoding", "not UTF-8 at byte 37"),
    "utf16.json": ('{"frame_id": 1}'.encode("utf-16"), "invalid_encoding", "UTF-16 (the file starts with a UTF-16"),
    "bom.json": (b'\xef\xbb\xbf{"duration": 11, "frame_id": 2}', None, ""),
    "nan.json": (
        '{"frame_id": 3, "plates": [{"text": "A1", "confidences": [NaN, Infinity]}]}',
        "non_finite_number",
        "NaN or infinite: plates[].confidences[]",
    ),
    "huge-exponent.json": ('{"frame_id": 3, "plates": [{"car": {"confidence": 1e999}}]}', "non_finite_number", "car"),
    # a NaN in a field the schema does not know: dropped with the field, as every unknown field
    "nan-undeclared.json": ('{"duration": 14, "frame_id": 14, "extra": NaN}', None, ""),
    "minus-inf.json": (
        '{"frame_id": 3, "plates": [{"text": "A1", "confidences": [-INF, +INF]}]}',
        "non_finite_number",
        "NaN or infinite: plates[].confidences[]",
    ),
    "array.json": ('[{"frame_id": 4}]', "not_an_object", "top level is an array"),
    "null.json": ("null", "not_an_object", "top level is null"),
    "missing.json": ('{"duration": 5}', "missing_field", "missing: frame_id"),
    "garbage.json": ('{"frame_id": 5} trailing', "trailing_data", "more text after the first JSON value"),
    "second.json": ('{"frame_id": 6}{"frame_id": 7}', "trailing_data", "more text after the first JSON value"),
    "two-values.json": ('{"frame_id": 6}, {"frame_id": 7}', "trailing_data", "more text after the first JSON value"),
    # a "]" in the text closes the parser's test array early: "[" + text + "]" alone is one element
    "bracket.json": ('{"frame_id": 6}]', "trailing_data", "more text after the first JSON value"),
    "bracket-second.json": ('{"frame_id": 6}] , [{"frame_id": 7}', "trailing_data", "more text after the first"),
    "duplicate-key.json": ('{"duration": 1, "frame_id": 8, "duration": 2}', None, ""),
    # a time past 9999 in UTC is no time: the file's is taken (until Dec 6 it stopped every later run)
    "year-10000.json": ('{"duration": 15, "frame_id": 15, "timestamp": "+10000-01-01T07:15:49Z"}', None, ""),
    "deep.json": (
        '{"frame_id": 9, "plates": ' + "[" * 5000 + "]" * 5000 + "}",
        "too_deep",
        "nesting depth 5,001 is over the JSON parser's limit of 1,000",
    ),
    "fifty-mb.json": (
        '{"frame_id": 10, "plates": [{"text": "' + "x" * BIG + '"}]}',
        "too_large",
        "a string of 52,428,800 characters is over the JSON parser's limit of 20,000,000",
    ),
    "nul.json": (b'{"frame_id": 11, "plates": [{"text": "A\x00B"}]}', "invalid_json", "Invalid control character"),
    # each field of the wrong type
    "wrong-duration.json": ('{"duration": "10", "frame_id": 12}', "schema_mismatch", "wrong type: duration"),
    "wrong-frame-id.json": ('{"frame_id": 1.5}', "schema_mismatch", "wrong type: frame_id"),
    "wrong-job-idx.json": ('{"frame_id": 1, "job_idx": {}}', "schema_mismatch", "wrong type: job_idx"),
    "wrong-lantency.json": ('{"frame_id": 1, "lantency": [1]}', "schema_mismatch", "wrong type: lantency"),
    "wrong-latency.json": ('{"frame_id": 1, "latency": true}', "schema_mismatch", "wrong type: latency"),
    "wrong-plates.json": ('{"frame_id": 1, "plates": {"text": "A"}}', "schema_mismatch", "wrong type: plates"),
    "wrong-timestamp.json": ('{"frame_id": 1, "timestamp": {"at": 1}}', "schema_mismatch", "wrong type: timestamp"),
    "wrong-text.json": ('{"frame_id": 1, "plates": [{"text": ["A"]}]}', "schema_mismatch", "wrong type: plates[].text"),
    # a folder named like a file is walked like any folder
    "folder.json/inner.json": ('{"duration": 12, "frame_id": 13}', None, ""),
}


def _alpr_input(root: Path) -> None:
    write_files(root, {f"{CAM}/{name}": content for name, (content, _, _) in ALPR_CASES.items()})
    folder = root / CAM
    os.symlink(folder / "nowhere.gone", folder / "dangling.json")
    os.symlink(folder / "loop.json", folder / "loop.json")
    os.mkfifo(folder / "fifo.json")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.json"), "wb") as handle:
        handle.write(ALPR_GOOD.encode())
    latin1_folder = os.path.join(os.fsencode(root), b"cam-caf\xe9")
    os.mkdir(latin1_folder)
    with open(os.path.join(latin1_folder, b"b.json"), "wb") as handle:
        handle.write(ALPR_GOOD.encode())
    # the same camera, name and bytes under two folders of one batch: one frame
    write_files(root, {"cam-h/2022-05-03/same.json": ALPR_GOOD, "cam-h/2022-05-04/same.json": ALPR_GOOD})


def _by_name(rows: list[dict], root: Path) -> dict[str, dict]:
    return {r["source_path"][len(str(root)) + 1 :]: r for r in rows}


def test_a_file_time_out_of_the_years_is_read_as_the_nearest_time_in_them(spark, cfg, tmp_path):
    """A file system may hold any modification time (tmpfs: 1850 or year 10000; ext4 up to 2446). Until Dec 6 a
    file of year 10000 stopped every run at its read, one of 1850 made bronze unreadable to Spark, and one past
    2255 (2^53 microseconds) stopped every run after the one that ingested it."""
    times = {"1850.json": -3_786_825_600, "2300.json": 10_413_792_000, "10000.json": 253_402_300_800}
    shm = Path(tempfile.mkdtemp(dir="/dev/shm"))  # tmpfs: ext4 holds 1901-2446 only
    try:
        root = shm / "in"
        write_files(root, {f"{CAM}/{name}": f'{{"duration": 1, "frame_id": {i}}}' for i, name in enumerate(times)})
        write_files(shm / "lines", {"a.jsonl": '{"x": 1}\n'})
        for name, seconds in times.items():
            os.utime(root / CAM / name, (seconds, seconds))
        os.utime(shm / "lines" / "a.jsonl", (times["10000.json"], times["10000.json"]))
        lake = str(tmp_path / "lake")
        alpr.run(spark, cfg, str(root), lake)
        bronze = _by_name(read(f"{lake}/bronze/alpr/results").to_pylist(), root)
        frames = _by_name(read(f"{lake}/silver/alpr/frames").to_pylist(), root)
        got = {name: (bronze[f"{CAM}/{name}"]["modified_at"], frames[f"{CAM}/{name}"]["event_date"]) for name in times}
        assert got == {  # a frame without a time of its own takes its file's
            "1850.json": (datetime(1900, 1, 1, tzinfo=UTC), date(1900, 1, 1)),
            "2300.json": (datetime(2300, 1, 1, tzinfo=UTC), date(2300, 1, 1)),
            "10000.json": (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), date(9999, 12, 31)),
        }
        # the next run finds them ingested and unchanged
        again = alpr.RUN.pending_input(cfg, str(root), lake, False)
        assert (again.files, again.known, again.changed) == ([], 3, [])
        # the documents' reader (face_validation, face_recognition) reads such a file as listed, not as changed
        listing = list_input(str(shm / "lines"), StorageSettings(), ".jsonl")
        lines = read_documents(spark, listing.files, StorageSettings(), IngestSettings())
        assert [(r.text, r.source_modified_at) for r in lines.rows.collect()] == [
            ('{"x": 1}', datetime(9999, 12, 31, 23, 59, 59))
        ]
        assert lines.pending.value == {}
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def test_hostile_alpr_input_lands_in_quarantine_with_a_specific_reason(spark, cfg, tmp_path):
    _alpr_input(tmp_path / "in")
    summary = alpr.run(spark, cfg, str(tmp_path / "in"), str(tmp_path / "lake"))
    quarantine = _by_name(read(str(tmp_path / "lake" / "quarantine" / "alpr")).to_pylist(), tmp_path / "in")
    frames = _by_name(read(str(tmp_path / "lake" / "silver" / "alpr" / "frames")).to_pylist(), tmp_path / "in")
    for name, (_, reason, detail) in ALPR_CASES.items():
        path = f"{CAM}/{name}"
        if reason is None:
            assert path in frames and path not in quarantine, name
        else:
            assert (quarantine[path]["reason"], path in frames) == (reason, False), name
            assert detail in quarantine[path]["detail"], (name, quarantine[path]["detail"])
    assert frames[f"{CAM}/duplicate-key.json"]["duration_ms"] == 2  # the last value of a key wins
    modified = (tmp_path / "in" / CAM / "year-10000.json").stat().st_mtime
    assert frames[f"{CAM}/year-10000.json"]["event_date"] == datetime.fromtimestamp(modified, UTC).date()
    unreadable = {
        "dangling.json": "dangling symbolic link to",
        "loop.json": "symbolic link loop",
        "fifo.json": "not a regular file",
        "caf\\xe9.json": "the file name is not valid UTF-8",
    }
    for name, detail in unreadable.items():
        row = quarantine[f"{CAM}/{name}"]
        assert (row["reason"], row["detail"].startswith(detail)) == ("unreadable", True), (name, row["detail"])
    # a file in a folder whose name is not UTF-8 (until Dec 6 left pending on every run, never read nor quarantined)
    row = quarantine["cam-caf\\xe9/b.json"]
    assert (row["reason"], row["detail"]) == (
        "unreadable",
        "the name of a folder in its path is not valid UTF-8 (rename the folder)",
    )
    assert "cam-h/2022-05-03/same.json" in frames
    copy = quarantine["cam-h/2022-05-04/same.json"]
    assert (copy["reason"], copy["detail"]) == (
        "duplicate_file",
        f"same camera, name and content as {tmp_path / 'in' / 'cam-h/2022-05-03/same.json'}",
    )
    # nothing lost, nothing doubled: every listed file is in bronze once, and bronze = silver + quarantine
    expected_files = len(ALPR_CASES) + len(unreadable) + 3
    assert (summary.files_new, len(frames) + len(quarantine)) == (expected_files, expected_files)
    assert summary.check.startswith(f"bronze.results {expected_files} = silver.frames {len(frames)} + quarantine")
    # the 50 MB text is cut to 64 KB in quarantine, and no table or log statistic holds a non-finite number
    assert len(quarantine[f"{CAM}/fifty-mb.json"]["raw"]) == 64 * 1024
    for location in table_locations(str(tmp_path / "lake")).values():
        for log in Path(location, "_delta_log").glob("*.json"):
            assert "Infinity" not in log.read_text() and "NaN" not in log.read_text(), log


def test_a_file_that_cannot_be_read_now_is_read_by_the_next_run(spark, cfg, tmp_path):
    write_files(tmp_path / "in", {f"{CAM}/a.json": ALPR_GOOD, f"{CAM}/b.json": '{"frame_id": 2}'})
    lake = str(tmp_path / "lake")
    listing = alpr.RUN.pending_input(cfg, str(tmp_path / "in"), lake, False)
    (tmp_path / "in" / CAM / "b.json").rename(tmp_path / "b.json")  # it vanishes after the listing
    summary = alpr.run(spark, cfg, str(tmp_path / "in"), lake, listing=listing)
    assert (summary.files_new, summary.pending) == (
        2,
        {str(tmp_path / "in" / CAM / "b.json"): "it vanished after it was listed"},
    )
    assert read(f"{lake}/bronze/alpr/results").num_rows == 1
    (tmp_path / "b.json").rename(tmp_path / "in" / CAM / "b.json")  # back again
    again = alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    assert (again.files_new, again.pending) == (1, {})
    assert sorted(r["frame_id"] for r in read(f"{lake}/silver/alpr/frames").to_pylist()) == [1, 2]


def test_a_file_changed_in_place_after_ingestion_is_reported_not_read_again(spark, cfg, tmp_path):
    write_files(tmp_path / "in", {f"{CAM}/a.json": ALPR_GOOD})
    lake = str(tmp_path / "lake")
    alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    (tmp_path / "in" / CAM / "a.json").write_text('{"duration": 99, "frame_id": 1}')
    summary = alpr.run(spark, cfg, str(tmp_path / "in"), lake)
    assert (summary.files_new, summary.changed) == (0, [str(tmp_path / "in" / CAM / "a.json")])
    bronze = next(s for s in summary.stages if s.stage == "bronze")
    assert bronze.message.endswith("; 1 ingested files changed since (not read again)")
    assert [r["duration_ms"] for r in read(f"{lake}/silver/alpr/frames").to_pylist()] == [10]


# --------------------------------------------------------------------------------------------------
# hostile input: face_validation (documents in MongoDB exports)


def _doc(number: int, **changes) -> dict:
    doc = {
        "_id": {"$oid": f"{number:024x}"},
        "user_name": "veriFace",
        "file_token": f"token-{number}",
        "date": "2025-01-10T10:00:00-05:00",
        "summary": {"status": "ok", "code": "1400", "desc": "antispoofing OK"},
        "user_data": {"procesoConvenioGuid": f"p-{number}", "convenio": "c-1", "documento": "9000000001"},
        "http_code": 200,
        "total_time_ms": 1500,
    }
    doc.update(changes)
    return doc


def _line(number: int, **changes) -> str:
    return json.dumps(_doc(number, **changes))


# line -> (text, expected reason or None when accepted, a fragment of the detail)
FACE_LINES: list[tuple[str, str | None, str]] = [
    (_line(1), None, ""),
    (_line(2, total_time_ms=1200)[:-1] + ', "total_time_ms": 1300}', None, ""),  # duplicate key: the last wins
    (_line(3)[:40], "invalid_json", "truncated: the text ends"),
    (_line(4).replace('"total_time_ms": 1500', '"total_time_ms": NaN'), "non_finite_number", "total_time_ms"),
    (_line(26).replace('"total_time_ms": 1500', '"total_time_ms": -INF'), "non_finite_number", "total_time_ms"),
    (_line(5).replace('"http_code": 200', '"http_code": Infinity'), "non_finite_number", "http_code"),
    ("null", "not_an_object", "top level is null"),
    ('"a string"', "not_an_object", "top level is a string"),
    (json.dumps({k: v for k, v in _doc(6).items() if k != "_id"}), "missing_field", "missing: _id"),
    (_line(7, summary={"status": "ok", "desc": "no code"}), "missing_field", "missing: summary.code"),
    (_line(8, date="yesterday"), "invalid_date", "not a timestamp: yesterday"),
    # until Dec 6 accepted: Spark refused to read the silver of 1899 back, and every later run failed
    (_line(27, date="1899-12-31T07:13:03.135718-05:00"), "invalid_date", "out of the years 1900-9999 UTC: 1899"),
    # in those years in UTC, not in the API's zone (Asia/Tokyo, +9 h: 05:00 on 1 Jan 10000)
    (_line(28, date="9999-12-31T20:00:00Z"), "invalid_date", "out of the years 1900-9999 in Asia/Tokyo: 9999"),
    # epoch milliseconds past a long's microseconds (until Dec 6 Spark's overflow stopped every later run)
    (_line(40, date={"$date": {"$numberLong": "100000000000000000"}}), "invalid_date", "1900-9999 UTC: {"),
    (_line(41, date={"$date": {"$numberLong": "-100000000000000000"}}), "invalid_date", "1900-9999 UTC: {"),
    # silver's summary_code is an int, its status ok or error (until Dec 6 these held back gold on every later run)
    (
        _line(42, summary={"status": "ok", "code": "ABCD"}),
        "invalid_summary",
        "summary.code is not a whole number: ABCD",
    ),
    # shown as prose: eleven digits may be a document's number
    (_line(43, summary={"status": "ok", "code": "99999999999"}), "invalid_summary", "whole number: <number>"),
    (
        _line(44, summary={"status": "OK", "code": "1400"}),
        "invalid_summary",
        "summary.status is neither ok nor error: OK",
    ),
    # an e-mail where a date belongs: the detail shows its shape (until Dec 6 the address, in bronze too)
    (_line(47, date="ana.garcia@example.org"), "invalid_date", "not a timestamp: <e-mail>"),
    (_line(9) + " garbage", "trailing_data", "more text after the first JSON value"),
    (_line(10) + _line(11), "trailing_data", "more text after the first JSON value"),  # two values on one line
    ('{"_id": "deep", "summary": ' + "[" * 3000 + "]" * 3000 + "}", "too_deep", "over the JSON parser's limit"),
    (_line(12).replace('"veriFace"', '"veri\\u0000Face"'), None, ""),  # an escaped NUL is a valid character
    (_line(13).replace('"veriFace"', '"veri\x00Face"'), "invalid_json", "Invalid control character"),
    (_line(14, summary={"status": "ok", "code": {"x": 1}}), "schema_mismatch", "wrong type: summary.code"),
    (_line(15, http_code="two hundred"), "schema_mismatch", "wrong type: http_code"),
    (_line(16, with_iqa="yes"), "schema_mismatch", "wrong type: with_iqa"),
    (_line(17, ts="noon"), "schema_mismatch", "wrong type: ts"),
    (_line(18, metadata=[1]), "schema_mismatch", "wrong type: metadata"),
    (_line(19, user_name={"n": 1}), "schema_mismatch", "wrong type: user_name"),
    (_line(20, summary="ok"), "schema_mismatch", "wrong type: summary"),
    (_line(21, user_data=[]), "schema_mismatch", "wrong type: user_data"),
    (_line(22, api_hash=["x"]), "schema_mismatch", "wrong type: api_hash"),
    (_line(23) + "]", "trailing_data", "more text after the first JSON value"),  # the last line of a bad array cut
    (_line(24) + "] , [" + _line(25), "trailing_data", "more text after the first JSON value"),
    (_line(26, user_name='a "quoted} name\\'), None, ""),  # a bracket in a string, an escaped backslash
    (_line(1), "duplicate_id", "same _id and content as"),
]


DESC = "usuario ana.garcia@example.org desde 203.0.113.9"


def _face_input(root: Path) -> None:
    """Exports holding every hostile document (one JSON Lines file) and every hostile file."""
    lines = "\n".join(text for text, _, _ in FACE_LINES) + "\n"
    write_files(
        root,
        {
            # the first line is an array, so the file is JSON Lines: that line is rejected, the others read
            "exports/lines.jsonl": "[1, 2]\n" + lines,
            "exports/bom.json": b"\xef\xbb\xbf" + (_line(30) + "\n").encode(),
            "exports/zero.json": b"",
            "exports/spaces.json": "  \n\n ",
            "exports/latin1.json": (_line(31) + "\n").encode().replace(b"veriFace", b"ver\xe9Face"),
            "exports/utf16.json": (_line(32) + "\n").encode("utf-16"),
            "exports/array.json": "[" + _line(33) + ", " + _line(34) + "] junk",
            # pretty-printed: an array, though text follows it on another line (until Dec 6 read as JSON Lines)
            "exports/pretty.json": "[\n  " + _line(38) + ",\n  " + _line(39) + "\n]\njunk\n",
            # past the first 4 KB read to tell the form (until Dec 6 the first was listed as new every run, no row
            # of it anywhere, and the second read as JSON Lines: its array one rejected line)
            "exports/blank-lines.json": "\n" * 5000,
            "exports/late-array.json": " " * 5000 + "[" + _line(45) + "]",
            # free text with an e-mail and an IP address: their shapes reach the lake, not them
            "exports/desc.json": _line(46, summary={"status": "ok", "code": "1400", "desc": DESC}) + "\n",
            "exports/fifty-mb.jsonl": _line(35, api_hash="x" * BIG) + "\n",
            "exports/folder.json/inner.json": _line(36) + "\n",
        },
    )
    folder = root / "exports"
    os.symlink(folder / "nowhere.gone", folder / "dangling.json")
    os.symlink(folder / "loop.json", folder / "loop.json")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.json"), "wb") as handle:
        handle.write((_line(37) + "\n").encode())


def test_hostile_face_validation_input_lands_in_quarantine_with_a_specific_reason(spark, cfg, tmp_path):
    _face_input(tmp_path / "in")
    settings = FaceValidationSettings(suffixes=(".json", ".jsonl"), local_timezone="Asia/Tokyo")
    face_cfg = dataclasses.replace(cfg, face_validation=settings)
    summary = face_validation.run(spark, face_cfg, str(tmp_path / "in"), str(tmp_path / "lake"))
    quarantine = read(str(tmp_path / "lake" / "quarantine" / "face_validation")).to_pylist()
    calls = read(str(tmp_path / "lake" / "silver" / "face_validation" / "api_calls")).to_pylist()
    base = str(tmp_path / "in" / "exports") + "/"
    rejected = [(r["source_path"][len(base) :], r["reason"], r["detail"]) for r in quarantine]
    lines = sorted((r for r in rejected if r[0] == "lines.jsonl"), key=lambda r: int(r[2].split(":")[0].split()[1]))
    expected_lines = [("not_an_object", "top level is an array")] + [
        (reason, detail) for _, reason, detail in FACE_LINES if reason is not None
    ]
    assert [r[1] for r in lines] == [reason for reason, _ in expected_lines]
    for (_, _, detail), (want_reason, want_detail) in zip(lines, expected_lines, strict=True):
        assert want_detail in detail, (want_reason, detail)
    # accepted: documents 1, 2 (its repeated key kept the last value, 1300), 12 (an escaped NUL is a valid
    # character), 26 (a bracket and a quote in a string), 30 (after a byte-order mark), 33 and 34 (the elements
    # before the junk), 36 (in a folder named like a file), 38 and 39 (a pretty-printed array's, before its junk),
    # 45 (in an array after 5,000 spaces), 46 (its description scrubbed)
    assert sorted(r["total_time_ms"] for r in calls) == [1300] + [1500] * 11
    assert [r["summary_desc"] for r in calls if "usuario" in (r["summary_desc"] or "")] == [
        "usuario <e-mail> desde <ip address>"
    ]
    by_file = {(name, reason) for name, reason, _ in rejected if name != "lines.jsonl"}
    assert by_file == {
        ("zero.json", "empty_file"),
        ("spaces.json", "empty_file"),
        ("blank-lines.json", "empty_file"),
        ("latin1.json", "invalid_encoding"),
        ("utf16.json", "invalid_encoding"),
        ("array.json", "trailing_data"),
        ("pretty.json", "trailing_data"),
        ("fifty-mb.jsonl", "too_large"),
        ("dangling.json", "unreadable"),
        ("loop.json", "unreadable"),
        ("caf\\xe9.json", "unreadable"),
    }
    assert summary.check.startswith(
        f"bronze.documents {len(calls) + len(quarantine)} = silver.api_calls {len(calls)} + quarantine"
    )


# --------------------------------------------------------------------------------------------------
# hostile input: detections (one frame per file; a bad image is an invalid image, not a bad file)

DEV = "u-0009-cam-09"
FRAME_NAME = "2026-11-30T21-00-00.000000Z.json"


def _frame(**changes) -> str:
    frame = {
        "user_id": "u-0009",
        "device_id": "cam-09",
        "site_id": "site-09",
        "captured_at": "2026-11-30T22:00:00+01:00",
        "image": {
            "uri": "s3://c/x.jpg",
            "format": "jpeg",
            "width": 640,
            "height": 480,
            "size_bytes": 1000,
            "contrast": 0.5,
            "brightness": 0.5,
        },
        "success": True,
        "predictions": [{"label": "dog", "confidence": 0.9, "x_min": 1, "y_min": 1, "x_max": 50, "y_max": 50}],
    }
    frame.update(changes)
    return json.dumps(frame)


PERSON = [{"label": "person", "confidence": 0.9, "x_min": 1, "y_min": 1, "x_max": 300, "y_max": 300}]
# file -> (content, expected quarantine reason, "invalid:<reasons>" for an invalid image, or None when a valid
# frame; a fragment of the detail)
DETECTION_CASES: dict[str, tuple[bytes | str, str | None, str]] = {
    "zero.json": (b"", "empty_file", "0 characters of whitespace"),
    "truncated.json": (_frame()[:60], "invalid_json", "truncated: the text ends"),
    "latin1.json": (
        _frame(site_id="SITE").encode().replace(b"SITE", b"caf\xe9"),
        "invalid_encoding",
        "not UTF-8",
    ),
    "nan.json": (_frame().replace('"contrast": 0.5', '"contrast": NaN'), "non_finite_number", "image.contrast"),
    "minus-inf.json": (_frame().replace('"contrast": 0.5', '"contrast": -INF'), "non_finite_number", "image.contrast"),
    "nan-undeclared.json": (_frame()[:-1] + ', "extra": NaN}', None, ""),  # dropped, as every unknown field
    "array.json": ("[" + _frame() + "]", "not_an_object", "top level is an array"),
    "garbage.json": (_frame() + " junk", "trailing_data", "more text after the first JSON value"),
    "bracket.json": (_frame() + "] , [" + _frame(), "trailing_data", "more text after the first JSON value"),
    "deep.json": ('{"predictions": ' + "[" * 3000 + "]" * 3000 + "}", "too_deep", "over the JSON parser's limit"),
    "wrong-captured.json": (_frame(captured_at={"at": 1}), "schema_mismatch", "wrong type: captured_at"),
    "wrong-predictions.json": (_frame(predictions={"label": "dog"}), "schema_mismatch", "wrong type: predictions"),
    "wrong-boxes.json": (_frame(detection_boxes="none"), "schema_mismatch", "wrong type: detection_boxes"),
    "wrong-width.json": (_frame(image={"width": "wide"}), "schema_mismatch", "wrong type: image"),
    # NaN or an infinity where an integer is declared (until Dec 5: invalid_json, or schema_mismatch for 1e999)
    "inf-width.json": (_frame().replace('"width": 640', '"width": Infinity'), "non_finite_number", "image.width"),
    "big-height.json": (_frame().replace('"height": 480', '"height": 1e999'), "non_finite_number", "image.height"),
    # a shape B box without its four numbers (until Dec 5 a box of no area)
    "short-box.json": (
        _frame(
            predictions=None,
            num_detections=1,
            detection_classes=[18.0],
            detection_scores=[0.9],
            detection_boxes=[[0.1, 0.1]],
        ),
        "schema_mismatch",
        "wrong type: detection_boxes (a box of 2 numbers, 4 expected)",
    ),
    # a score neither 0-1 nor a percentage (until Dec 5 read as 2.5: the objects' range check stopped gold)
    "score-250.json": (
        _frame(predictions=[{"label": "dog", "confidence": 250, "x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5}]),
        "out_of_range",
        "a detection score of 250.0 is above 100",
    ),
    # a detection with a score and no label (until Dec 6 an object without one: its check stopped gold, run after run)
    "no-label.json": (
        _frame(predictions=[{"confidence": 0.9, "x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5}]),
        "missing_field",
        "missing: predictions.label",
    ),
    "null-class.json": (
        _frame(
            predictions=None,
            num_detections=1,
            detection_classes=[None],
            detection_scores=[0.95],
            detection_boxes=[[0.1, 0.1, 0.5, 0.5]],
        ),
        "missing_field",
        "missing: detection_classes",
    ),
    "bom.json": (b"\xef\xbb\xbf" + _frame().encode(), None, ""),
    "no-tags.json": (_frame(user_id=None, device_id=None), "invalid:missing_user_tag,missing_device_tag", ""),
    "blank-user.json": (_frame(user_id=" "), "invalid:missing_user_tag", ""),
    "covered-lens.json": (
        _frame(image={"format": "jpeg", "width": 640, "height": 480, "contrast": 0.0}),
        "invalid:min_contrast",
        "",
    ),
    "no-time.json": (_frame(captured_at="soon"), "invalid:missing_time", ""),
    # a time out of the years 1900-9999 in UTC is no time (until Dec 6 it reached silver, and every later run of
    # the lake failed: Spark refuses to read 1899 back, a date past 9999 cannot be written)
    "clock-reset.json": (_frame(captured_at="1899-12-31T10:00:00.000-08:00"), "invalid:missing_time", ""),
    "year-10000.json": (_frame(captured_at="9999-12-31T23:36:32.308-08:00"), "invalid:missing_time", ""),
    # in the years in UTC, not at its site (SITE_ZONES: 00:30 on 1 Jan 10000): until Dec 6 a person at that hour
    # matched rule 200, gold could not write the match's local date, and every later run failed
    "year-10000-at-site.json": (
        _frame(site_id="site-ki", captured_at="9999-12-31T10:30:00Z", predictions=PERSON),
        "invalid:missing_time",
        "",
    ),
    "nothing.json": (
        "{}",
        "invalid:format,min_resolution,min_contrast,missing_user_tag,missing_device_tag,missing_time",
        "",
    ),
    "empty-b.json": (
        _frame(predictions=None, num_detections=5, detection_classes=[], detection_scores=[], detection_boxes=[]),
        None,
        "",
    ),
}


SITE_ZONES = {"site-ki": "Pacific/Kiritimati"}  # +14 h


def test_hostile_detections_input_lands_in_quarantine_or_invalid_images_with_a_specific_reason(spark, cfg, tmp_path):
    cfg = dataclasses.replace(cfg, detections=dataclasses.replace(cfg.detections, site_time_zones=SITE_ZONES))
    root = tmp_path / "in"
    write_files(root, {f"{DEV}/{name[:-5]}-{FRAME_NAME}": content for name, (content, _, _) in DETECTION_CASES.items()})
    folder = root / DEV
    os.symlink(folder / "nowhere.gone", folder / f"dangling-{FRAME_NAME}")
    lake = str(tmp_path / "lake")
    summary = detections.run(spark, cfg, str(root), lake)
    quarantine = _by_name(read(f"{lake}/quarantine/detections").to_pylist(), root)
    frames = _by_name(read(f"{lake}/silver/detections/frames").to_pylist(), root)
    invalid = _by_name(read(f"{lake}/silver/detections/invalid_images").to_pylist(), root)
    for name, (_, reason, detail) in DETECTION_CASES.items():
        path = f"{DEV}/{name[:-5]}-{FRAME_NAME}"
        if reason is None:
            assert path in frames and path not in quarantine and path not in invalid, name
        elif reason.startswith("invalid:"):
            assert path in invalid and path not in frames and path not in quarantine, name
            assert ",".join(invalid[path]["reasons"]) == reason.removeprefix("invalid:"), (
                name,
                invalid[path]["reasons"],
            )
        else:
            assert (quarantine[path]["reason"], path in frames, path in invalid) == (reason, False, False), name
            assert detail in quarantine[path]["detail"], (name, quarantine[path]["detail"])
    assert quarantine[f"{DEV}/dangling-{FRAME_NAME}"]["reason"] == "unreadable"
    total = len(DETECTION_CASES) + 1
    assert (summary.files_new, len(frames) + len(invalid) + len(quarantine)) == (total, total)
    assert summary.check == (
        f"bronze.frames_raw {total} = silver.frames {len(frames)} + silver.invalid_images {len(invalid)} "
        f"+ quarantine {len(quarantine)}"
    )
    # the same folder, name and bytes read again from another input root: counted once, the copy quarantined
    copy = tmp_path / "copy"
    write_files(copy, {f"{DEV}/bom-{FRAME_NAME}": DETECTION_CASES["bom.json"][0]})
    detections.run(spark, cfg, str(copy), lake)
    again = _by_name(read(f"{lake}/quarantine/detections").to_pylist(), copy)
    assert again[f"{DEV}/bom-{FRAME_NAME}"]["reason"] == "duplicate_file"
    assert len(read(f"{lake}/silver/detections/frames").to_pylist()) == len(frames)
    # no capture time in the frame nor in its name: its time and date are its file's modification time, which
    # a copy need not share (silver looks for copies only among the frames of a batch's dates otherwise)
    timeless = {f"{DEV}/timeless.json": _frame(captured_at="soon")}
    for folder, day in (("first", "2026-01-05"), ("again", "2026-02-07")):
        write_files(tmp_path / folder, timeless)
        stamp = datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp()
        os.utime(tmp_path / folder / DEV / "timeless.json", (stamp, stamp))
        detections.run(spark, cfg, str(tmp_path / folder), lake)
    invalid_now = _by_name(read(f"{lake}/silver/detections/invalid_images").to_pylist(), tmp_path / "first")
    assert (invalid_now[f"{DEV}/timeless.json"]["event_date"].isoformat()) == "2026-01-05"
    again = _by_name(read(f"{lake}/quarantine/detections").to_pylist(), tmp_path / "again")
    assert again[f"{DEV}/timeless.json"]["reason"] == "duplicate_file"


# --------------------------------------------------------------------------------------------------
# hostile input: face_recognition (request logs, evaluation runs and k6 results, one JSON object per line)


def _request(number: int, **changes) -> str:
    line = {
        "ts": "2026-11-02T10:00:00+01:00",
        "request_id": f"r-{number}",
        "endpoint": "recognise_user",
        "http_status": 200,
        "status": "success",
        "message": "Match found",
        "latency_ms": 400 + number,
        "stages": {"detect_ms": 100, "embed_ms": 200},
        "match": {"user_id": "u-000007", "distance": 0.5, "threshold": 1.1},
        "client": {"ip": "198.51.100.23", "user_agent": "okhttp/4.9", "app_version": "2.3.1"},
        "user_info": {"id": "u-000007", "name": "Hedy Lamarr", "email": "hedy@example.org", "birthdate": "1914-11-09"},
        "embedding": [0.0421337, -0.0133742] * 256,
    }
    line.update(changes)
    return json.dumps(line)


def _probe(number: int, **changes) -> str:
    line = {
        "run_id": "lfw-frr",
        "protocol": "FRR",
        "model": "facenet",
        "threshold": 1.1,
        "gallery_size": 10,
        "probe_id": f"lfw/Probe_{number:04d}.jpg",
        "probe_identity": f"Probe_{number}",
        "in_gallery": True,
        "predicted_identity": f"Probe_{number}",
        "distance": 0.5,
        "ts": "2026-11-01T12:00:00Z",
    }
    line.update(changes)
    return json.dumps(line)


def _sample(metric: str = "http_req_duration", **data) -> str:
    body = {"time": "2026-11-02T10:00:00.123456789+01:00", "value": 200.0, "tags": {"status": "200"}} | data
    return json.dumps({"type": "Point", "data": body, "metric": metric})


# line -> (text, expected reason or None when accepted, a fragment of the detail)
REQUEST_LINES: list[tuple[str, str | None, str]] = [
    (_request(1), None, ""),
    (_request(2, ts="2026-11-02T09:00:00Z", stages={"detect_ms": 90}), None, ""),  # a stage that did not run
    (_request(3)[:60], "invalid_json", "truncated: the text ends"),
    (_request(4).replace('"latency_ms": 404', '"latency_ms": NaN'), "non_finite_number", "latency_ms"),
    (_request(16).replace('"latency_ms": 416', '"latency_ms": +INF'), "non_finite_number", "latency_ms"),
    # longer than Python's json module converts (4,300 digits): its diagnosis once failed the whole run
    (
        _request(17).replace('"latency_ms": 417', '"latency_ms": ' + "1" * 5000),
        "too_large",
        "number of 5,000 characters",
    ),
    ("[1, 2]", "not_an_object", "top level is an array"),
    (json.dumps({"request_id": "r-5", "endpoint": "add_user", "http_status": 200}), "missing_field", "missing: ts"),
    (_request(6, endpoint=None), "missing_field", "missing: endpoint"),
    (_request(7, ts="noon"), "invalid_timestamp", "ts is not an ISO 8601 time: noon"),
    # 1899-12-31T23:30 UTC: accepted, it stopped every later run (Spark refuses to read such a time back)
    (_request(25, ts="1900-01-01T00:30:00+01:00"), "invalid_timestamp", "ts is not an ISO 8601 time: 1900-01-01"),
    (_request(8, endpoint="delete_user"), "unknown_endpoint", "neither recognise_user nor add_user: delete_user"),
    (_request(9, http_status="two hundred"), "schema_mismatch", "wrong type: http_status"),
    (_request(10, match={"user_id": {"x": 1}}), "schema_mismatch", "wrong type: match.user_id"),
    (_request(11) + " junk", "trailing_data", "more text after the first JSON value"),
    (_request(13) + "]", "trailing_data", "more text after the first JSON value"),
    (_request(14) + "] , [" + _request(15), "trailing_data", "more text after the first JSON value"),
    (_request(1), "duplicate_request_id", "same request_id and content as"),  # logged twice
    (_request(1, latency_ms=999), "conflicting_duplicate_request_id", "different content"),
    (_request(12, embedding="not an array"), None, ""),  # never read: the embedding is not in the allowlist
    # an object in a string field, in a line Spark's parser reads and Python's json did not (single quotes, nesting
    # past Python's recursion limit): the check was skipped and the object's text, an e-mail here, reached silver
    (
        _request(23, message={"email": "quoted@example.org"}).replace('"status": "success"', "'status': 'success'"),
        "schema_mismatch",
        "wrong type: message",
    ),
    (
        _request(24, message={"email": "deep@example.org"})[:-1] + ', "pad": ' + "[" * 990 + "]" * 990 + "}",
        "schema_mismatch",
        "wrong type: message",
    ),
]
PROBE_LINES: list[tuple[str, str | None, str]] = [
    (_probe(1), None, ""),
    (_probe(2, distance=None, predicted_identity=None), None, ""),  # no face found: a failure to acquire
    (_probe(3, probe_id=None), "missing_field", "missing: probe_id"),
    (_probe(4, in_gallery="yes"), "schema_mismatch", "wrong type: in_gallery"),
    (_probe(1), "duplicate_probe", "same run_id and probe_id and content as"),
]
K6_LINES: list[tuple[str, str | None, str]] = [
    (json.dumps({"type": "Metric", "data": {"name": "vus", "type": "gauge"}, "metric": "vus"}), "skipped", ""),
    (_sample("vus", value=4, tags=None), None, ""),
    (_sample(), None, ""),
    (_sample("iterations", value=1), "skipped", ""),  # a metric visionlake does not use
    (json.dumps({"type": "Summary", "data": {}}), "skipped", ""),  # a type k6 may add
    (_sample(time=None), "missing_field", "missing: data.time"),
    (_sample(time="yesterday"), "invalid_timestamp", "data.time is not an ISO 8601 time: yesterday"),
    (_sample(value="fast"), "schema_mismatch", "wrong type: data"),
    (json.dumps({"data": {}, "metric": "vus"}), "missing_field", "missing: type"),
    # until Dec 6 a failure of 2 failed gold's failure_rate check, which held back every gold table on every run
    (_sample("http_req_failed", value=2), "out_of_range", "http_req_failed is not a number from 0 to 1: 2.0"),
    (_sample(value=-1.5), "out_of_range", "http_req_duration is not a number from 0 to 1000000000000000: -1.5"),
    (_sample(value=1.7e308), "out_of_range", "http_req_duration is not a number from 0 to 1000000000000000: 1.7E308"),
    (_sample("vus", value=4.5, tags=None), "out_of_range", "vus is not a whole number from 0 to 1000000000000000: 4.5"),
    # a sample read twice (a copy of the file: until Dec 6 counted twice); a declaration twice is no sample
    (_sample(), "duplicate_sample", "same test run and content as"),
    (json.dumps({"type": "Metric", "data": {"name": "vus", "type": "gauge"}, "metric": "vus"}), "skipped", ""),
]


# half of 100 requests fail in 9999's last 5-minute bucket: the burn-rate rules fire at its end, midnight of year
# 10000 (until Dec 6 gold could not write that alert, and every later run failed); no point past 9999 is evaluated
LAST_BUCKET = [
    _request(100 + i, request_id=f"last-{i}", ts=f"9999-12-31T23:55:{i % 60:02d}Z", http_status=503 if i % 2 else 200)
    for i in range(100)
]


def _face_recognition_input(root: Path) -> None:
    def lines(cases: list[tuple[str, str | None, str]]) -> str:
        return "\n".join(text for text, _, _ in cases) + "\n"

    write_files(
        root,
        {
            "requests/2026-11-02/api-10.jsonl": lines(REQUEST_LINES),
            "requests/2026-11-02/bom.jsonl": b"\xef\xbb\xbf" + (_request(20) + "\n").encode(),
            "requests/2026-11-02/zero.jsonl": b"",
            "requests/2026-11-02/latin1.jsonl": (_request(21) + "\n").encode().replace(b"Hedy", b"H\xe9dy"),
            "requests/2026-11-02/utf16.jsonl": (_request(22) + "\n").encode("utf-16"),
            "requests/9999-12-31/last-bucket.jsonl": "".join(f"{line}\n" for line in LAST_BUCKET),
            "evaluations/lfw-frr.jsonl": lines(PROBE_LINES),
            "loadtests/k6-staged.json": lines(K6_LINES),
            "notes.jsonl": _request(30) + "\n",  # outside the three input folders: skipped
            "other/x.jsonl": _request(31) + "\n",
        },
    )
    os.symlink(root / "requests" / "nowhere.gone", root / "requests" / "dangling.jsonl")


def test_hostile_face_recognition_input_lands_in_quarantine_with_a_specific_reason(spark, cfg, tmp_path):
    root, lake = tmp_path / "in", str(tmp_path / "lake")
    _face_recognition_input(root)
    summary = face_recognition.run(spark, cfg, str(root), lake)
    quarantine = read(f"{lake}/quarantine/face_recognition").to_pylist()

    def rejected(path: str) -> list[tuple[str, str]]:
        rows = [r for r in quarantine if r["source_path"] == str(root / path)]
        rows.sort(key=lambda r: int(r["detail"].split(":")[0].split()[1]))
        return [(r["reason"], r["detail"]) for r in rows]

    for path, cases in (
        ("requests/2026-11-02/api-10.jsonl", REQUEST_LINES),
        ("evaluations/lfw-frr.jsonl", PROBE_LINES),
        ("loadtests/k6-staged.json", K6_LINES),
    ):
        expected = [(reason, detail) for _, reason, detail in cases if reason not in (None, "skipped")]
        got = rejected(path)
        assert [r for r, _ in got] == [r for r, _ in expected], path
        for (_, detail), (want, fragment) in zip(got, expected, strict=True):
            assert fragment in detail, (want, detail)
    by_file = {(r["source_path"][len(str(root)) + 1 :], r["reason"]) for r in quarantine}
    named = ("api-10.jsonl", "lfw-frr.jsonl", "k6-staged.json")
    assert {(p, r) for p, r in by_file if not p.endswith(named)} == {
        ("requests/2026-11-02/zero.jsonl", "empty_file"),
        ("requests/2026-11-02/latin1.jsonl", "invalid_encoding"),
        ("requests/2026-11-02/utf16.jsonl", "invalid_encoding"),
        ("requests/dangling.jsonl", "unreadable"),
    }
    requests = read(f"{lake}/silver/face_recognition/requests").to_pylist()
    kept = sorted(r["request_id"] for r in requests if not r["request_id"].startswith("last-"))
    assert (kept, len(requests)) == (["r-1", "r-12", "r-2", "r-20"], 4 + len(LAST_BUCKET))
    assert read(f"{lake}/gold/face_recognition/burn_rate_alerts").num_rows == 0
    assert {r["request_id"]: r["embed_ms"] for r in requests}["r-2"] is None
    probes = read(f"{lake}/silver/face_recognition/evaluations").to_pylist()
    assert sorted(r["distance"] is None for r in probes) == [False, True]
    points = read(f"{lake}/silver/face_recognition/load_test_points").to_pylist()
    assert sorted(r["metric"] for r in points) == ["http_req_duration", "vus"]
    runs = read(f"{lake}/silver/face_recognition/load_test_runs").to_pylist()
    assert [(r["test_run_id"], r["lines"], r["points"], r["skipped_lines"], r["quarantined_lines"]) for r in runs] == [
        ("k6-staged", 15, 2, 4, 9)
    ]
    assert summary.files_skipped == 2  # notes.jsonl and other/x.jsonl
    # 22 request lines + the BOM file's + one row for each of the 4 bad files (a 50 MB line: the shared reader's
    # limit, in the face_validation matrix) + the last bucket's 100; 5 probes; 9 k6 lines
    assert summary.check.startswith("bronze.request_lines 127 + bronze.evaluation_lines 5 + bronze.k6_lines 15 = ")


# --------------------------------------------------------------------------------------------------
# the kill harness: SIGKILL at stage markers, then rerun


# detections gold redecides only what each run's matches touch, as on a big lake (its small-lake shortcut is off)
HARNESS_ENV = {"VISIONLAKE_PII_KEY": "fa" * 32, "VISIONLAKE__DETECTIONS__REDECIDE_FROM_ROWS": "0"}


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {**os.environ, **HARNESS_ENV, **env}
    return subprocess.run([str(VENV_BIN / "visionlake"), *args], capture_output=True, text=True, env=base, timeout=600)


def _alpr_batch(root: Path, number: int) -> None:
    day = f"2022-05-{1 + number % 3:02d}"
    write_files(
        root,
        {
            f"cam-{number % 2}/{day}/{number}_a.json": f'{{"duration": {number}, "frame_id": {number}, "plates": '
            f'[{{"text": "P{number}", "confidences": [90.5, 99.0], "car": {{"confidence": 80.0}}}}]}}',
            f"cam-{number % 2}/{day}/{number}_b.json": f'{{"duration": {number + 1}, "frame_id": {number}}}',
            f"cam-{number % 2}/{day}/{number}_c.json": '{"frame_id": ',  # rejected: the quarantine gets a row
        },
    )


def _face_batch(root: Path, number: int) -> None:
    docs = [_line(100 * number + k, date=f"2025-01-{10 + number % 5}T10:00:00-05:00") for k in range(3)]
    write_files(root, {f"exports/{number:03d}.json": "\n".join([*docs, "not json"]) + "\n"})


def _detections_batch(root: Path, number: int) -> None:
    minute = f"{number % 60:02d}"
    # a person at night matches a rule (rule 200): the runs killed before the rules are versioned are seen
    frame = _frame(captured_at=f"2026-11-30T22:{minute}:00+01:00", predictions=PERSON)
    write_files(
        root,
        {
            f"{DEV}/2026-11-30T21-{minute}-00.000000Z.json": frame,
            f"{DEV}/2026-11-30T21-{minute}-30.000000Z.json": _frame(
                captured_at=f"2026-11-30T22:{minute}:30+01:00", image={"format": "gif"}
            ),
            f"{DEV}/2026-11-30T21-{minute}-45.000000Z.json": '{"user_id": ',  # rejected: the quarantine gets a row
        },
    )


def _face_recognition_batch(root: Path, number: int) -> None:
    at = f"2026-11-02T10:{number % 60:02d}"
    requests = [_request(100 * number + k, ts=f"{at}:{10 * k:02d}Z") for k in range(3)]
    probes = [_probe(100 * number + k, run_id=f"run-{number}") for k in range(2)]
    k6 = [K6_LINES[0][0], _sample("vus", value=4, tags=None, time=f"{at}:00Z"), _sample(time=f"{at}:01Z")]
    write_files(
        root,
        {
            f"requests/{number:03d}.jsonl": "\n".join([*requests, "not json"]) + "\n",  # the quarantine gets a row
            f"evaluations/{number:03d}.jsonl": "\n".join(probes) + "\n",
            f"loadtests/{number:03d}.json": "\n".join(k6) + "\n",
        },
    )


BATCHES = {
    "alpr": _alpr_batch,
    "face_validation": _face_batch,
    "detections": _detections_batch,
    "face_recognition": _face_recognition_batch,
}


# Each source's bronze table and its main silver table (frames, api_calls, requests).
TABLES = {
    "alpr": ("results", "frames"),
    "face_validation": ("documents", "api_calls"),
    "detections": ("frames_raw", "frames"),
    "face_recognition": ("request_lines", "requests"),
}


def _kill_points(source: str) -> list[str]:
    """The points a run is killed at, in the order it passes them: each leaves the lake in another state. Bronze
    written and not committed, then committed with no silver; the quarantine written and not committed, then
    committed (silver partly committed); the main silver table likewise; every gold table written and checked,
    none committed; every table committed and the run not recorded. (Killed at ``check:done`` a run would leave
    what it leaves at ``gold:checked`` less gold's uncommitted files: that point was dropped for CI time.)"""
    bronze, main = TABLES[source]
    return [f"{source}/{bronze}:staged", f"{source}/{bronze}:committed",
            f"quarantine/{source}:staged", f"quarantine/{source}:committed",
            f"{source}/{main}:staged", f"{source}/{main}:committed", "gold:checked", "runlog:before"]  # fmt: skip


def _kill_sequence(source: str, tmp: Path, outcome: dict) -> None:
    """Kill a run at each point, in the order a run passes them, then rerun and compare the tables with an
    uninterrupted run, which logs the points it passes (``VISIONLAKE_POINTS_LOG``). Each run resumes the work
    the killed one left, and dies at the next point; a point whose work an earlier run finished (tables are
    written side by side) is given a new batch to reach."""
    points = _kill_points(source)
    outcome["points"] = points
    feed, lake = tmp / "in", str(tmp / "lake")
    batches = 0
    BATCHES[source](feed, batches)
    statuses = []
    for point in points:
        for _ in range(3):
            killed = _cli(["run", source, "--input", str(feed), "--lake", lake], {"VISIONLAKE_KILL_AT": point})
            if killed.returncode != 0:
                break
            batches += 1  # the run finished without passing the point: give it new work
            BATCHES[source](feed, batches)
        statuses.append((point, killed.returncode, killed.stderr[-500:]))
    final = _cli(["run", source, "--input", str(feed), "--lake", lake], {})
    outcome["final"] = final
    log = tmp / "points.log"
    reference = _cli(["run", source, "--input", str(feed), "--lake", str(tmp / "reference")],
                     {"VISIONLAKE_POINTS_LOG": str(log)})  # fmt: skip
    outcome["reference"] = reference
    outcome["passed"] = list(dict.fromkeys(log.read_text().split())) if log.exists() else []
    outcome["statuses"] = statuses
    outcome["tables"] = (lake_contents(lake), lake_contents(str(tmp / "reference")))
    outcome["runs"] = read(f"{lake}/_runs").to_pylist()


def test_killed_at_stage_markers_then_rerun_equals_an_uninterrupted_run(tmp_path):
    outcomes: dict[str, dict] = {source: {} for source in BATCHES}
    threads = [
        threading.Thread(target=_kill_sequence, args=(source, tmp_path / source, outcomes[source]))
        for source in BATCHES
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for source, outcome in outcomes.items():
        # an uninterrupted run passes every point, in this order
        passed = outcome["passed"]
        assert [p for p in passed if p in outcome["points"]] == outcome["points"], (source, passed)
        # every run died at its point, with SIGKILL
        assert [status for _, status, _ in outcome["statuses"]] == [-9] * len(outcome["points"]), outcome["statuses"]
        assert outcome["final"].returncode == 0, outcome["final"].stderr
        assert outcome["reference"].returncode == 0, outcome["reference"].stderr
        interrupted, reference = outcome["tables"]
        assert interrupted.keys() == reference.keys()
        for table in reference:
            assert interrupted[table] == reference[table], (source, table)
        # the killed runs were found by the next run and recorded as interrupted
        recorded = {r["run_id"] for r in outcome["runs"] if r["status"] == "interrupted"}
        assert len(recorded) == len(outcome["points"]), source
