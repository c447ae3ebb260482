"""End-to-end ALPR runs on a small folder of handwritten files, with every shape and every quarantine reason.

Expected table contents are written out by hand below from the files themselves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable
from tests.conftest import write_files

from visionlake.config import AlprSettings, StorageSettings
from visionlake.lake import delta, read
from visionlake.sources.alpr.pipeline import run

UTC = dt.UTC
D2, D3 = dt.date(2022, 5, 2), dt.date(2022, 5, 3)

F1 = "cam-a/2022-05-02/0_05.02.2022.07.15.49.999546.json"
F2 = "cam-a/2022-05-02/1_05.02.2022.07.15.50.100000.json"
F3 = "cam-a/2022-05-03/7_05.03.2022.23.59.59.000000.json"
F4 = "cam-b/2022-05-02/3_05.02.2022.08.00.00.000000.json"
F5 = "loose.json"
F6 = "cam-b/2022-05-03/9_05.03.2022.10.00.00.000000.json"
GOOD = {
    # sequential, nothing found, no timestamp: event time from the file name
    F1: '{"duration":38,"frame_id":0}',
    # seed style (Python separators), full classifiers, an int and an exponent, timestamp without offset
    F2: '{"duration": 84, "frame_id": 1, "plates": [{"car": {"bodyStyle": [{"confidence": 81.2, "klass": 9, '
    '"name": "sedan"}, {"confidence": 18.8, "klass": 4, "name": "hatchback"}], "color": [{"confidence": 93.7, '
    '"klass": 1, "name": "blue"}, {"confidence": 6.3, "klass": 0, "name": "black"}], "confidence": 99.91, '
    '"makeModelYear": [{"confidence": 48.3, "klass": 2104, "make": "volkswagen", "model": "passat", "year": 2015}, '
    '{"confidence": 1.07e-08, "klass": 310, "make": "audi", "model": "a4", "year": "0-9"}], "warpedBox": [212.4, '
    '301.9, 998.7, 301.9, 998.7, 842.3, 212.4, 842.3]}, "confidences": [88.41, 99.63, 93.02, 91.77, 88.41], '
    '"country": [{"code": "FRA", "confidence": 97.5, "klass": 35, "name": "France"}, {"code": "USA", '
    '"confidence": 2.5, "klass": 84, "name": "United States of America", "state": "Florida"}], "text": "GK4", '
    '"warpedBox": [511.0, 702.6, 683.9, 702.6, 683.9, 748.1, 511.0, 748.1]}], "timestamp": "2022-05-02T07:16:00.5"}',
    # parallel mode with the SDK's "lantency", a masked plate and a car without plate, timestamp with offset
    F3: '{"frame_id":7,"lantency":1,"plates":[{"car":{"confidence":99.2,"warpedBox":[40.1,180.5,610.7,180.5,610.7,'
    '655.0,40.1,655.0]},"confidences":[86.1,98.7,91.3,86.1,90.2,88.8,92.4],"text":"7XK2*","warpedBox":[255.3,560.2,'
    '371.8,560.2,371.8,598.6,255.3,598.6]},{"car":{"confidence":91.4,"warpedBox":[880.0,240.3,1270.6,240.3,1270.6,'
    '590.9,880.0,590.9]}}],"timestamp":"2022-05-04T01:30:00+02:00"}',
    # no OCR scores beyond the two, non-Latin text as a \u escape, a box past the image, state/other
    F4: '{"duration": 120, "frame_id": 3, "plates": [{"confidences": [40.5, 77.25], "country": [{"code": "CHN", '
    '"confidence": 88.0, "klass": 20, "name": "China"}, {"code": "RUS", "confidence": 12.0, "klass": 70, '
    '"name": "Russia", "other": "Private vehicle"}], "text": "\\u4eacA12345", "warpedBox": [-5.0, 1070.0, 120.0, '
    "1070.0, 120.0, 1257.0, -5.0, 1257.0]}]}",
    # in the input root itself, no time anywhere but the file's mtime
    F5: '{"duration": 25, "frame_id": 12}',
    # a car-only element with classifiers, year as an int
    F6: '{"duration":60,"frame_id":9,"plates":[{"car":{"color":[{"confidence":70.0,"klass":11,"name":"white"}],'
    '"confidence":95.5,"makeModelYear":[{"confidence":60.0,"klass":1,"make":"kia","model":"rio","year":2012}],'
    '"warpedBox":[0,0,10,0,10,10,0,10]}}]}',
}
BAD = {
    "cam-c/2022-05-02/20_05.02.2022.09.00.00.000000.json": "",
    "cam-c/2022-05-02/21_05.02.2022.09.00.00.000000.json": '{"duration": 30, "frame_id": 21, "plates": [{"text": "AB',
    "cam-c/2022-05-02/22_05.02.2022.09.00.00.000000.json": '[{"frame_id": 22}]',
    "cam-c/2022-05-02/23_05.02.2022.09.00.00.000000.json": '{"duration": {"ms": 5}, "frame_id": 23}',
    "cam-c/2022-05-02/24_05.02.2022.09.00.00.000000.json": '{"duration": 5}',
    "cam-c/2022-05-02/25_05.02.2022.09.00.00.000000.json": b'{"frame_id": 25, "text": "\xff"}',
    "cam-c/2022-05-02/27_05.02.2022.09.00.00.000000.json": "null",
}
DANGLING = "cam-c/2022-05-02/26_05.02.2022.09.00.00.000000.json"
IGNORED = {"cam-c/notes.txt": "not a result", "cam-c/.hidden.json": "{}", "cam-c/_SUCCESS": ""}
LOOSE_MTIME = dt.datetime(2022, 5, 2, 12, 0, tzinfo=UTC)


def _make_input(root: Path) -> None:
    write_files(root, {**GOOD, **BAD, **IGNORED})
    os.utime(root / F5, (LOOSE_MTIME.timestamp(), LOOSE_MTIME.timestamp()))
    os.symlink(root / "nowhere.json.gone", root / DANGLING)


@pytest.fixture(scope="module")
def alpr_cfg(cfg):
    return dataclasses.replace(cfg, alpr=AlprSettings(low_confidence_threshold=70.0, hourly_price=3600.0))


@pytest.fixture(scope="module")
def lake(spark, alpr_cfg, tmp_path_factory):
    """One input folder, run once; tests below read the tables it produced."""
    root = tmp_path_factory.mktemp("e2e")
    _make_input(root / "input")
    summary = run(spark, alpr_cfg, str(root / "input"), str(root / "lake"))
    return root, summary


def _rows(lake_root: Path, relative: str, columns: list[str]) -> list[tuple]:
    table = read(str(lake_root / "lake" / relative), columns=columns)
    return sorted(tuple(r[c] for c in columns) for r in table.to_pylist())


def _ts(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_run_summary_counts_every_file(lake):
    _, summary = lake
    assert (summary.files_listed, summary.files_new, summary.files_skipped) == (14, 14, 1)
    assert dict(summary.quarantined) == {
        "empty_file": 1,
        "invalid_json": 1,
        "not_an_object": 2,
        "schema_mismatch": 1,
        "missing_field": 1,
        "invalid_encoding": 1,
        "unreadable": 1,
    }
    assert summary.check == (
        "bronze.results 14 = silver.frames 6 + quarantine 8; silver.frames.sum(plate_count) 3 = silver.plates 3; "
        "silver.frames.sum(car_count) 4 = silver.cars 4"
    )


def test_bronze_holds_every_file_verbatim_with_lineage(lake):
    root, summary = lake
    rows = _rows(root, "bronze/alpr/results", ["source_path", "camera_id", "size_bytes", "raw", "read_error", "run_id"])
    base = str(root / "input") + "/"
    by_name = {r[0][len(base) :]: r[1:] for r in rows}
    assert len(rows) == 14
    assert by_name[F2] == ("cam-a", len(GOOD[F2]), GOOD[F2], None, summary.run_id)
    assert by_name[F5] == ("unknown", len(GOOD[F5]), GOOD[F5], None, summary.run_id)
    assert by_name["cam-c/2022-05-02/20_05.02.2022.09.00.00.000000.json"] == ("cam-c", 0, "", None, summary.run_id)
    assert by_name["cam-c/2022-05-02/25_05.02.2022.09.00.00.000000.json"] == (
        "cam-c",
        29,
        None,
        "invalid_encoding: not UTF-8 at byte 26",
        summary.run_id,
    )
    assert by_name[DANGLING][2:] == (
        None,
        f"unreadable: dangling symbolic link to {root / 'input' / 'nowhere.json.gone'}",
        summary.run_id,
    )


def test_quarantine_has_one_row_per_bad_file_with_reason_and_detail(lake):
    root, _ = lake
    base = str(root / "input") + "/cam-c/2022-05-02/"
    rows = [
        (p[len(base) : len(base) + 2], *rest)
        for p, *rest in _rows(root, "quarantine/alpr", ["source_path", "reason", "detail", "raw"])
    ]
    assert sorted(rows) == [
        ("20", "empty_file", "0 characters of whitespace", ""),
        (
            "21",
            "invalid_json",
            "truncated: the text ends at line 1 column 54 (character 53) before the JSON value is complete",
            '{"duration": 30, "frame_id": 21, "plates": [{"text": "AB',
        ),
        ("22", "not_an_object", "top level is an array", '[{"frame_id": 22}]'),
        ("23", "schema_mismatch", "wrong type: duration", '{"duration": {"ms": 5}, "frame_id": 23}'),
        ("24", "missing_field", "missing: frame_id", '{"duration": 5}'),
        ("25", "invalid_encoding", "not UTF-8 at byte 26", None),
        ("26", "unreadable", f"dangling symbolic link to {root / 'input' / 'nowhere.json.gone'}", None),
        ("27", "not_an_object", "top level is null", "null"),
    ]


def test_silver_frames(lake):
    root, _ = lake
    columns = ["frame_id", "duration_ms", "latency", "plate_count", "car_count", "camera_id", "event_ts", "event_date"]
    assert _rows(root, "silver/alpr/frames", columns) == [
        (0, 38, None, 0, 0, "cam-a", _ts(2022, 5, 2, 7, 15, 49, 999546), D2),
        (1, 84, None, 1, 1, "cam-a", _ts(2022, 5, 2, 7, 16, 0, 500000), D2),
        (3, 120, None, 1, 0, "cam-b", _ts(2022, 5, 2, 8, 0, 0), D2),
        (7, None, 1, 1, 2, "cam-a", _ts(2022, 5, 3, 23, 30), D3),
        (9, 60, None, 0, 1, "cam-b", _ts(2022, 5, 3, 10, 0), D3),
        (12, 25, None, 0, 0, "unknown", LOOSE_MTIME, D2),
    ]


def test_silver_frame_keys_are_unique_and_source_paths_kept(lake):
    root, _ = lake
    rows = _rows(root, "silver/alpr/frames", ["frame_key", "source_path"])
    assert len({k for k, _ in rows}) == 6
    assert all(len(k) == 32 for k, _ in rows)
    assert {p[len(str(root / "input")) + 1 :] for _, p in rows} == set(GOOD)


def test_silver_plates(lake):
    root, _ = lake
    columns = [
        "plate_idx",
        "plate_text",
        "ocr_confidence",
        "detection_confidence",
        "char_confidences",
        "is_masked",
        "box_xmin",
        "box_ymin",
        "box_xmax",
        "box_ymax",
        "camera_id",
        "event_date",
    ]
    assert _rows(root, "silver/alpr/plates", columns) == [
        (0, "7XK2*", 86.1, 98.7, [91.3, 86.1, 90.2, 88.8, 92.4], True, 255.3, 560.2, 371.8, 598.6, "cam-a", D3),
        (0, "GK4", 88.41, 99.63, [93.02, 91.77, 88.41], False, 511.0, 702.6, 683.9, 748.1, "cam-a", D2),
        (0, "京A12345", 40.5, 77.25, [], False, -5.0, 1070.0, 120.0, 1257.0, "cam-b", D2),
    ]


def test_silver_cars(lake):
    root, _ = lake
    columns = ["plate_idx", "has_plate", "car_confidence", "box_xmin", "box_ymin", "box_xmax", "box_ymax", "camera_id"]
    assert _rows(root, "silver/alpr/cars", columns) == [
        (0, False, 95.5, 0.0, 0.0, 10.0, 10.0, "cam-b"),
        (0, True, 99.2, 40.1, 180.5, 610.7, 655.0, "cam-a"),
        (0, True, 99.91, 212.4, 301.9, 998.7, 842.3, "cam-a"),
        (1, False, 91.4, 880.0, 240.3, 1270.6, 590.9, "cam-a"),
    ]


def test_silver_classifier_tables(lake):
    root, _ = lake
    assert _rows(root, "silver/alpr/car_colors", ["plate_idx", "rank", "klass", "confidence", "name"]) == [
        (0, 1, 1, 93.7, "blue"),
        (0, 1, 11, 70.0, "white"),
        (0, 2, 0, 6.3, "black"),
    ]
    assert _rows(root, "silver/alpr/car_body_styles", ["rank", "klass", "confidence", "name"]) == [
        (1, 9, 81.2, "sedan"),
        (2, 4, 18.8, "hatchback"),
    ]
    assert _rows(root, "silver/alpr/car_makes", ["rank", "klass", "confidence", "make", "model", "year"]) == [
        (1, 1, 60.0, "kia", "rio", "2012"),
        (1, 2104, 48.3, "volkswagen", "passat", "2015"),
        (2, 310, 1.07e-08, "audi", "a4", "0-9"),
    ]
    assert _rows(root, "silver/alpr/plate_countries", ["rank", "code", "name", "state", "other"]) == [
        (1, "CHN", "China", None, None),
        (1, "FRA", "France", None, None),
        (2, "RUS", "Russia", None, "Private vehicle"),
        (2, "USA", "United States of America", "Florida", None),
    ]


def test_gold_vehicles(lake):
    root, _ = lake
    columns = [
        "plate_idx",
        "camera_id",
        "event_date",
        "plate_text",
        "ocr_confidence",
        "car_confidence",
        "country_code",
        "country_state",
        "color",
        "color_confidence",
        "make",
        "model",
        "year",
        "make_confidence",
        "body_style",
        "body_style_confidence",
    ]
    rows = _rows(root, "gold/alpr/vehicles", columns)
    assert sorted(rows, key=lambda r: (r[1], r[2], r[0], str(r[3]))) == [
        (
            0,
            "cam-a",
            D2,
            "GK4",
            88.41,
            99.91,
            "FRA",
            None,
            "blue",
            93.7,
            "volkswagen",
            "passat",
            "2015",
            48.3,
            "sedan",
            81.2,
        ),
        (0, "cam-a", D3, "7XK2*", 86.1, 99.2, None, None, None, None, None, None, None, None, None, None),
        (1, "cam-a", D3, None, None, 91.4, None, None, None, None, None, None, None, None, None, None),
        (0, "cam-b", D2, "京A12345", 40.5, None, "CHN", None, None, None, None, None, None, None, None, None),
        (0, "cam-b", D3, None, None, 95.5, None, None, "white", 70.0, "kia", "rio", "2012", 60.0, None, None),
    ]


def test_gold_daily_camera_stats(lake):
    root, _ = lake
    columns = [
        "camera_id",
        "event_date",
        "frames",
        "frames_with_plates",
        "plates",
        "cars_without_plate",
        "masked_plates",
        "duration_ms_mean",
        "duration_ms_p50",
        "duration_ms_p95",
        "ocr_confidence_mean",
        "low_confidence_plates",
    ]
    rows = _rows(root, "gold/alpr/daily_camera_stats", columns)
    # cam-a on 05-02: durations 38 and 84 -> mean 61, p50 61, p95 38 + 0.95 * 46 = 81.7
    assert rows[0][:7] == ("cam-a", D2, 2, 1, 1, 0, 0)
    assert rows[0][7:] == pytest.approx((61.0, 61.0, 81.7, 88.41, 0))
    assert rows[1:] == [
        ("cam-a", D3, 1, 1, 1, 1, 1, None, None, None, 86.1, 0),
        ("cam-b", D2, 1, 1, 1, 0, 0, 120.0, 120.0, 120.0, 40.5, 1),
        ("cam-b", D3, 1, 0, 0, 1, 0, 60.0, 60.0, 60.0, None, 0),
        ("unknown", D2, 1, 0, 0, 0, 0, 25.0, 25.0, 25.0, None, 0),
    ]


def test_gold_plate_sightings(lake):
    root, _ = lake
    assert _rows(
        root, "gold/alpr/plate_sightings", ["plate_text", "first_seen", "last_seen", "sightings", "cameras"]
    ) == [  # the masked 7XK2* (a trial SDK's text) stays in silver plates only
        ("GK4", _ts(2022, 5, 2, 7, 16, 0, 500000), _ts(2022, 5, 2, 7, 16, 0, 500000), 1, 1),
        ("京A12345", _ts(2022, 5, 2, 8), _ts(2022, 5, 2, 8), 1, 1),
    ]


def test_gold_daily_processing(lake):
    root, _ = lake
    rows = _rows(root, "gold/alpr/daily_processing", ["event_date", "frames", "recognition_seconds", "estimated_cost"])
    # 05-02: 38 + 84 + 120 + 25 ms; 05-03: 60 ms (the parallel-mode frame has no duration). Price 3600/h.
    assert [r[:2] for r in rows] == [(D2, 4), (D3, 2)]
    assert [r[2:] for r in rows] == [pytest.approx((0.267, 0.267)), pytest.approx((0.06, 0.06))]


def test_runs_log_has_each_stage_and_a_passed_check(lake):
    root, _ = lake
    rows = _rows(root, "_runs", ["run_id", "stage", "status", "files_in", "rows_in", "quarantined", "message"])
    assert [(r[1], r[2]) for r in rows] == [("bronze", "ok"), ("check", "ok"), ("gold", "ok"), ("silver", "ok")]
    by_stage = {r[1]: r for r in rows}
    assert by_stage["bronze"][3] == 14
    assert by_stage["silver"][4:6] == (14, 8)
    assert by_stage["check"][6] == "36 checks, 0 failed (0 errors)"


def test_spark_reader_matches_deltalake_reader(spark, lake):
    root, _ = lake
    for relative in ["silver/alpr/plates", "gold/alpr/vehicles", "bronze/alpr/results"]:
        location = str(root / "lake" / relative)
        spark_rows = sorted(tuple(r) for r in delta.read_table(spark, location, StorageSettings()).collect())
        table = read(location)
        columns = delta.spark_schema(location, StorageSettings()).fieldNames()
        rs_rows = sorted(tuple(r[c] for c in columns) for r in table.to_pylist())
        assert spark_rows == [tuple(_naive(v) for v in r) for r in rs_rows]


def _naive(value):
    # Spark collects timestamps as naive local (UTC session, UTC TZ in tests) datetimes.
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def test_second_run_adds_nothing_and_new_files_add_exactly_theirs(spark, alpr_cfg, tmp_path):
    _make_input(tmp_path / "input")
    lake_root = str(tmp_path / "lake")
    run(spark, alpr_cfg, str(tmp_path / "input"), lake_root)
    tables = [
        "bronze/alpr/results",
        "quarantine/alpr",
        "silver/alpr/frames",
        "silver/alpr/plates",
        "silver/alpr/cars",
        "silver/alpr/car_colors",
        "gold/alpr/vehicles",
        "gold/alpr/daily_camera_stats",
        "gold/alpr/plate_sightings",
        "gold/alpr/daily_processing",
    ]
    before = {t: (DeltaTable(f"{lake_root}/{t}").version(), read(f"{lake_root}/{t}").num_rows) for t in tables}

    again = run(spark, alpr_cfg, str(tmp_path / "input"), lake_root)
    assert again.files_new == 0
    assert {t: (DeltaTable(f"{lake_root}/{t}").version(), read(f"{lake_root}/{t}").num_rows) for t in tables} == before

    # One new frame, and a byte-identical copy of F2 under another folder of the same camera.
    write_files(
        tmp_path / "input", {"cam-b/2022-05-03/10_05.03.2022.11.00.00.000000.json": '{"duration":40,"frame_id":10}'}
    )
    shutil.copy(tmp_path / "input" / F2, tmp_path / "input" / "cam-a" / "1_05.02.2022.07.15.50.100000.json")
    third = run(spark, alpr_cfg, str(tmp_path / "input"), lake_root)
    assert third.files_new == 2
    assert dict(third.quarantined) == {"duplicate_file": 1}
    counts = {t: read(f"{lake_root}/{t}").num_rows for t in tables}
    assert counts == {
        **{t: n for t, (_, n) in before.items()},
        "bronze/alpr/results": 16,
        "quarantine/alpr": 9,
        "silver/alpr/frames": 7,
    }
    dup = [r for r in read(f"{lake_root}/quarantine/alpr").to_pylist() if r["reason"] == "duplicate_file"]
    assert dup[0]["source_path"] == str(tmp_path / "input" / "cam-a" / "1_05.02.2022.07.15.50.100000.json")
    assert dup[0]["detail"] == f"same camera, name and content as {tmp_path / 'input' / F2}"
    assert dup[0]["raw"] == GOOD[F2]
    stats = {
        (r["camera_id"], r["event_date"]): r for r in read(f"{lake_root}/gold/alpr/daily_camera_stats").to_pylist()
    }
    assert (stats[("cam-b", D3)]["frames"], stats[("cam-b", D3)]["duration_ms_mean"]) == (2, 50.0)
    assert stats[("cam-b", D3)]["duration_ms_p95"] == pytest.approx(59.0)  # 40 + 0.95 * 20
    processing = {r["event_date"]: r for r in read(f"{lake_root}/gold/alpr/daily_processing").to_pylist()}
    assert (processing[D2]["frames"], processing[D3]["frames"]) == (4, 3)
    assert processing[D3]["recognition_seconds"] == pytest.approx(0.1)


def _counts(lake_root: str, tables: list[str]) -> dict[str, int]:
    return {t: read(f"{lake_root}/{t}").num_rows for t in tables}


def test_run_that_died_in_silver_is_completed_by_the_next_without_duplicates(spark, alpr_cfg, tmp_path, monkeypatch):
    from visionlake.sources.alpr import silver

    _make_input(tmp_path / "input")
    lake_root = str(tmp_path / "lake")
    real_build_frames = silver.build_frames

    def failing_build_frames(df):
        raise RuntimeError("executor lost")

    monkeypatch.setattr(silver, "build_frames", failing_build_frames)
    with pytest.raises(RuntimeError, match="executor lost"):
        run(spark, alpr_cfg, str(tmp_path / "input"), lake_root)
    # Bronze, quarantine and the element tables were committed; frames and gold were not.
    assert _counts(lake_root, ["bronze/alpr/results", "quarantine/alpr", "silver/alpr/plates"]) == {
        "bronze/alpr/results": 14,
        "quarantine/alpr": 8,
        "silver/alpr/plates": 3,
    }
    assert not DeltaTable.is_deltatable(f"{lake_root}/silver/alpr/frames")
    failed = [r for r in read(f"{lake_root}/_runs").to_pylist() if r["status"] == "failed"]
    assert [(r["stage"], r["message"]) for r in failed] == [("silver", "RuntimeError: executor lost")]

    monkeypatch.setattr(silver, "build_frames", real_build_frames)
    summary = run(spark, alpr_cfg, str(tmp_path / "input"), lake_root)
    assert summary.files_new == 0
    assert summary.check == (
        "bronze.results 14 = silver.frames 6 + quarantine 8; silver.frames.sum(plate_count) 3 = silver.plates 3; "
        "silver.frames.sum(car_count) 4 = silver.cars 4"
    )
    assert _counts(
        lake_root, ["quarantine/alpr", "silver/alpr/plates", "silver/alpr/frames", "gold/alpr/vehicles"]
    ) == {
        "quarantine/alpr": 8,
        "silver/alpr/plates": 3,
        "silver/alpr/frames": 6,
        "gold/alpr/vehicles": 5,
    }


def test_full_refresh_rebuilds_every_table_from_the_input(spark, alpr_cfg, tmp_path):
    _make_input(tmp_path / "input")
    lake_root = str(tmp_path / "lake")
    run(spark, alpr_cfg, str(tmp_path / "input"), lake_root)
    (tmp_path / "input" / F4).unlink()  # the only cam-b plate
    for name in BAD:
        (tmp_path / "input" / name).unlink()
    summary = run(spark, alpr_cfg, str(tmp_path / "input"), lake_root, full_refresh=True)
    assert (summary.files_new, summary.check) == (
        6,
        "bronze.results 6 = silver.frames 5 + quarantine 1; silver.frames.sum(plate_count) 2 = silver.plates 2; "
        "silver.frames.sum(car_count) 4 = silver.cars 4",
    )
    assert _counts(
        lake_root,
        [
            "bronze/alpr/results",
            "quarantine/alpr",
            "silver/alpr/frames",
            "silver/alpr/plates",
            "gold/alpr/vehicles",
            "gold/alpr/plate_sightings",
        ],
    ) == {
        "bronze/alpr/results": 6,
        "quarantine/alpr": 1,
        "silver/alpr/frames": 5,
        "silver/alpr/plates": 2,
        "gold/alpr/vehicles": 4,
        "gold/alpr/plate_sightings": 1,  # the other plate is the masked 7XK2*
    }
    assert read(f"{lake_root}/quarantine/alpr").column("reason").to_pylist() == ["unreadable"]


def test_check_fails_the_run_when_bronze_rows_are_unaccounted_for(spark, alpr_cfg, tmp_path):
    from visionlake.config import StorageSettings
    from visionlake.errors import QualityError
    from visionlake.ingest.quarantine import QUARANTINE

    _make_input(tmp_path / "input")
    lake_root = str(tmp_path / "lake")
    run(spark, alpr_cfg, str(tmp_path / "input"), lake_root)
    # Someone empties the quarantine table behind the pipeline's back.
    delta.write_table(
        spark.createDataFrame([], QUARANTINE),
        f"{lake_root}/quarantine/alpr",
        storage=StorageSettings(),
        mode="overwrite",
    )
    with pytest.raises(QualityError, match=r"\(bronze.results 14 != silver.frames 6 \+ quarantine 0\); gold was not"):
        run(spark, alpr_cfg, str(tmp_path / "input"), lake_root)
    checks = [r for r in read(f"{lake_root}/_runs").to_pylist() if r["stage"] == "check"]
    assert sorted(r["status"] for r in checks) == ["failed", "ok"]
