"""visionlake.validate: on a tiny hand-made lake of a made-up source ``toy`` (numbers computed by hand), and on
the shared built lake for what does not depend on generated values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from visionlake import validate
from visionlake.config import StorageSettings
from visionlake.errors import ConfigError, LakeError

STORAGE = StorageSettings()
TOY_QUALITY = """
tables:
  silver.items: [item_key]
  silver.parts: [item_key, part_idx]
  gold.daily: [day]
checks:
  - {table: silver.items, not_null: [item_key, weight]}
  - {table: silver.items, unique: [item_key]}
  - {reconcile: bronze.records = silver.items + quarantine}
  - {reconcile: silver.items.sum(part_count) = silver.parts}
  - {table: silver.parts, references: silver.items, columns: [item_key]}
  - {table: gold.daily, references: silver.missing, columns: [day]}
"""


def _write(path: Path, columns: dict) -> None:
    from deltalake import write_deltalake

    write_deltalake(str(path), pa.table(columns))


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


@pytest.fixture
def toy_lake(tmp_path, monkeypatch) -> str:
    """bronze 5 records = silver 2 items + 3 quarantined; parts: 5 rows for a declared 3 (one key on three
    rows, one null key); two runs of toy (the latest failed) and one of another source; quality results of both runs."""
    from visionlake.lake.runlog import StageRecord, append_runs
    from visionlake.quality.results import RESULTS_SCHEMA

    conf = tmp_path / "conf"
    (conf / "quality").mkdir(parents=True)
    (conf / "quality" / "toy.yaml").write_text(TOY_QUALITY)
    monkeypatch.setenv("VISIONLAKE_CONF_DIR", str(conf))
    lake = tmp_path / "lake"
    _write(lake / "bronze/toy/records", {"source_path": ["a", "b", "c", "d", "e"]})
    _write(
        lake / "silver/toy/items",
        {
            "item_key": ["k2", "k1"],
            "weight": pa.array([None, 1.5], pa.float64()),
            "part_count": pa.array([1, 2], pa.int32()),
        },
    )
    _write(
        lake / "silver/toy/parts",
        {
            "item_key": ["k1", "k1", "k2", None, "k1"],
            "part_idx": pa.array([0, 0, 0, 1, 0], pa.int32()),
            "size": [10.0, 20.0, 30.0, 40.0, 15.0],
            "qty": pa.array([1, 2, 2, 10, 3], pa.int64()),
            "color": ["red", "red", "blue", None, "red"],
        },
    )
    _write(
        lake / "quarantine/toy",
        {
            "source_path": ["c", "d", "e"],
            "reason": ["invalid_json", "invalid_json", "empty_file"],
            "detail": ["truncated at 9", "truncated at 4", "0 characters"],
            "run_id": ["r1", "r2", "r2"],
        },
    )
    _write(lake / "gold/toy/daily", {"day": ["2026-01-01", "2026-01-02"], "items": [1, 1]})
    append_runs(str(lake), "r1", "toy", [StageRecord("bronze", _at(1)), StageRecord("silver", _at(1, 11))], STORAGE)
    append_runs(
        str(lake),
        "r2",
        "toy",
        [StageRecord("bronze", _at(2), rows_out={"bronze/records": 2}), StageRecord("silver", _at(2, 11), "failed")],
        STORAGE,
    )
    append_runs(str(lake), "r3", "other", [StageRecord("bronze", _at(3))], STORAGE)
    result = {"source": "toy", "kind": "not_null", "checked_rows": 2, "sample": [], "detail": "", "scope": "run"}
    results = [
        {**result, "run_id": "r1", "table": "silver.items", "check": "a", "level": "error", "passed": True,
         "failing_rows": 0, "checked_at": _at(1)},
        {**result, "run_id": "r2", "table": "silver.items", "check": "b", "level": "warn", "passed": False,
         "failing_rows": 1, "checked_at": _at(2)},
        {**result, "run_id": "r2", "table": "silver.items", "check": "c", "level": "error", "passed": True,
         "failing_rows": 0, "checked_at": _at(2)},
        {**result, "run_id": "r2", "table": "silver.items", "check": "d", "level": "error", "passed": False,
         "failing_rows": 1, "checked_at": _at(2)},
    ]  # fmt: skip
    from deltalake import write_deltalake

    write_deltalake(str(lake / "_quality/results"), pa.Table.from_pylist(results, schema=RESULTS_SCHEMA))
    return str(lake)


def test_layer_counts_lists_each_table_in_layer_order(toy_lake):
    counts = validate.layer_counts(toy_lake, "toy", STORAGE)

    assert counts.to_dict("records") == [
        {"layer": "bronze", "table": "bronze.records", "rows": 5},
        {"layer": "silver", "table": "silver.items", "rows": 2},
        {"layer": "silver", "table": "silver.parts", "rows": 5},
        {"layer": "quarantine", "table": "quarantine", "rows": 3},
        {"layer": "gold", "table": "gold.daily", "rows": 2},
    ]


def test_reconciliation_shows_each_declared_equation_with_its_numbers(toy_lake):
    result = validate.reconciliation(toy_lake, "toy", STORAGE)

    assert result.to_dict("records") == [
        {
            "check": "reconcile(bronze.records = silver.items + quarantine)",
            "equation": "bronze.records 5 = silver.items 2 + quarantine 3",
            "left": 5,
            "right": 5,
            "difference": 0,
            "holds": True,
        },
        {
            "check": "reconcile(silver.items.sum(part_count) = silver.parts)",
            "equation": "silver.items.sum(part_count) 3 != silver.parts 5",
            "left": 3,
            "right": 5,
            "difference": -2,
            "holds": False,
        },
    ]


def test_references_count_the_rows_without_a_parent_over_whole_tables(toy_lake):
    result = validate.references(toy_lake, "toy", STORAGE)

    # parts' item_keys k1, k1, k2, null, k1: the null one has no item; silver.missing does not exist
    assert result.to_dict("records") == [
        {"check": "references(silver.items on item_key)", "table": "silver.parts", "parent": "silver.items",
         "rows": 5, "orphan_rows": 1, "holds": False},
        {"check": "references(silver.missing on day)", "table": "gold.daily", "parent": "silver.missing", "rows": 2,
         "orphan_rows": 2, "holds": False},
    ]  # fmt: skip


def test_key_uniqueness_counts_duplicates_and_null_keys(toy_lake):
    keys = validate.key_uniqueness(toy_lake, "toy", STORAGE)

    assert keys.to_dict("records") == [
        {"table": "silver.items", "key": "item_key", "rows": 2, "distinct_keys": 2, "duplicate_rows": 0,
         "duplicated_keys": 0, "null_key_rows": 0},
        {"table": "silver.parts", "key": "item_key, part_idx", "rows": 5, "distinct_keys": 3, "duplicate_rows": 2,
         "duplicated_keys": 1, "null_key_rows": 1},
        {"table": "gold.daily", "key": "day", "rows": 2, "distinct_keys": 2, "duplicate_rows": 0,
         "duplicated_keys": 0, "null_key_rows": 0},
    ]  # fmt: skip


def test_null_shares_puts_declared_columns_first_then_largest_share(toy_lake):
    shares = validate.null_shares(toy_lake, "toy", STORAGE)

    assert [tuple(r) for r in shares.itertuples(index=False)] == [
        ("silver.items", "weight", 2, 1, 0.5, True),
        ("silver.items", "item_key", 2, 0, 0.0, True),
        ("silver.parts", "color", 5, 1, 0.2, False),
        ("silver.parts", "item_key", 5, 1, 0.2, False),
        ("silver.items", "part_count", 2, 0, 0.0, False),
        ("silver.parts", "part_idx", 5, 0, 0.0, False),
        ("silver.parts", "qty", 5, 0, 0.0, False),
        ("silver.parts", "size", 5, 0, 0.0, False),
    ]


def test_distributions_gives_interpolated_quantiles(toy_lake):
    measures = {"silver.items": ("weight",), "silver.parts": ("s*",)}

    result = validate.distributions(toy_lake, "toy", STORAGE, measures=measures)

    rows = result.set_index("measure").to_dict("index")
    assert list(rows) == ["silver.items.weight", "silver.parts.size"]  # the glob s* matched size only
    assert rows["silver.items.weight"] == pytest.approx(
        {"rows": 2, "nulls": 1, "min": 1.5, "p05": 1.5, "p25": 1.5, "p50": 1.5, "p75": 1.5, "p95": 1.5, "p99": 1.5,
         "max": 1.5, "mean": 1.5}
    )  # fmt: skip
    # sorted 10, 15, 20, 30, 40: the q quantile sits at position 4q, between two values
    assert rows["silver.parts.size"] == pytest.approx(
        {"rows": 5, "nulls": 0, "min": 10.0, "p05": 11.0, "p25": 15.0, "p50": 20.0, "p75": 30.0, "p95": 38.0,
         "p99": 39.6, "max": 40.0, "mean": 23.0}
    )  # fmt: skip


def test_distributions_refuses_a_measure_the_table_lacks(toy_lake):
    with pytest.raises(ConfigError, match=r"measure silver.parts.weight: silver.parts has no such column"):
        validate.distributions(toy_lake, "toy", STORAGE, measures={"silver.parts": ("weight",)})


def test_histogram_of_numbers_has_equal_bins_the_last_closed(toy_lake):
    hist = validate.histogram(toy_lake, "toy", "silver.parts.size", bins=3, storage=STORAGE)

    assert hist.to_dict("records") == [
        {"bin": "[10, 20)", "low": 10.0, "high": 20.0, "rows": 2},
        {"bin": "[20, 30)", "low": 20.0, "high": 30.0, "rows": 1},
        {"bin": "[30, 40]", "low": 30.0, "high": 40.0, "rows": 2},
    ]


def test_histogram_of_integers_has_whole_number_bins_and_keeps_empty_ones(toy_lake):
    hist = validate.histogram(toy_lake, "toy", "silver.parts.qty", bins=3, storage=STORAGE)

    # 1..10 is 10 values: bins of ceil(10 / 3) = 4
    assert hist.to_dict("records") == [
        {"bin": "1-4", "low": 1, "high": 4, "rows": 4},
        {"bin": "5-8", "low": 5, "high": 8, "rows": 0},
        {"bin": "9-10", "low": 9, "high": 10, "rows": 1},
    ]


def test_histogram_refuses_a_column_that_is_not_a_number(toy_lake):
    with pytest.raises(ConfigError, match=r"silver\.parts has no numeric column color"):
        validate.histogram(toy_lake, "toy", "silver.parts.color", storage=STORAGE)


def test_value_counts_share_of_the_table_most_frequent_first(toy_lake):
    counts = validate.value_counts(toy_lake, "toy", STORAGE, categories=(("silver.parts", ("color",)),))

    assert list(counts) == ["silver.parts by color"]
    assert [tuple(r) for r in counts["silver.parts by color"].itertuples(index=False)] == [
        ("red", 3, 0.6),
        ("blue", 1, 0.2),
        (None, 1, 0.2),
    ]


def test_quarantine_reasons_counts_rows_and_files_per_reason(toy_lake):
    reasons = validate.quarantine_reasons(toy_lake, "toy", STORAGE)

    assert reasons.to_dict("records") == [
        {"reason": "invalid_json", "rows": 2, "share": pytest.approx(2 / 3), "files": 2, "last_run_id": "r2",
         "example": "truncated at 4"},
        {"reason": "empty_file", "rows": 1, "share": pytest.approx(1 / 3), "files": 1, "last_run_id": "r2",
         "example": "0 characters"},
    ]  # fmt: skip


def test_latest_runs_are_the_sources_latest_first_with_their_stages_in_order(toy_lake):
    runs = validate.latest_runs(toy_lake, "toy", STORAGE)

    assert [(r.run_id, r.stage, r.status, r.rows_out) for r in runs.itertuples()] == [
        ("r2", "bronze", "ok", "bronze/records=2"),
        ("r2", "silver", "failed", None),
        ("r1", "bronze", "ok", None),
        ("r1", "silver", "ok", None),
    ]
    assert list(validate.latest_runs(toy_lake, "toy", STORAGE, runs=1)["run_id"]) == ["r2", "r2"]


def test_latest_checks_are_the_latest_runs_failed_errors_first(toy_lake):
    checks = validate.latest_checks(toy_lake, "toy", STORAGE)

    assert [(r.run_id, r.check, r.level, r.passed) for r in checks.itertuples()] == [
        ("r2", "d", "error", False),
        ("r2", "b", "warn", False),
        ("r2", "c", "error", True),
    ]


def test_samples_are_the_first_rows_of_each_silver_table_by_key(toy_lake):
    found = validate.samples(toy_lake, "toy", STORAGE, rows=2)

    assert list(found) == ["silver.items", "silver.parts"]
    assert list(found["silver.items"]["item_key"]) == ["k1", "k2"]
    assert [tuple(r) for r in found["silver.parts"][["item_key", "part_idx"]].itertuples(index=False)] == [
        ("k1", 0),
        ("k1", 0),
    ]


def test_overview_names_what_does_not_hold(toy_lake):
    verdict = validate.overview(toy_lake, "toy", STORAGE)

    assert [tuple(r) for r in verdict.itertuples(index=False)] == [
        (
            "layers reconcile",
            False,
            "bronze.records 5 = silver.items 2 + quarantine 3; silver.items.sum(part_count) 3 != silver.parts 5",
        ),
        ("keys unique and not null", False, "silver.parts: 2 duplicate rows, 1 with a null key"),
        ("declared not-null columns have no nulls", False, "silver.items.weight: 1 nulls"),
        ("latest run completed", False, "r2: bronze ok, silver failed"),
        ("latest checks: no error failed", False, "1 of 3 passed; failed: error silver.items d, warn silver.items b"),
    ]


def test_a_lake_without_tables_is_one_clear_error(tmp_path):
    with pytest.raises(LakeError, match=r"no tables in .*missing: run `visionlake run SOURCE"):
        validate.layer_counts(str(tmp_path / "missing"), "alpr", STORAGE)


def test_a_lake_without_the_sources_tables_is_one_clear_error(toy_lake):
    with pytest.raises(LakeError, match=r"no alpr tables in .*lake: run `visionlake run alpr --input"):
        validate.reconciliation(toy_lake, "alpr", STORAGE)


# --------------------------------------------------------------------------------------------------
# the shared built lake: ALPR 120 files, face_validation 300 documents, detections 3,000 frames,
# face_recognition 3,000 request lines (3 of them duplicates), 5,437 probes and one k6 run


@pytest.mark.parametrize(
    ("source", "bronze"),
    [
        ("alpr", "bronze.results 120 = "),
        ("face_validation", "bronze.documents 300 = "),
        ("detections", "bronze.frames_raw 3000 = silver.frames "),
        ("face_recognition", "bronze.request_lines 3000 + bronze.evaluation_lines 5437 + bronze.k6_lines "),
    ],
)
def test_built_lake_reconciles_and_validates(built_lake, source, bronze):
    lake = str(built_lake)

    reconciled = validate.reconciliation(lake, source)
    verdict = validate.overview(lake, source)
    runs = validate.latest_runs(lake, source)

    assert reconciled["equation"][0].startswith(bronze)
    assert reconciled["holds"].all()
    assert verdict["holds"].all(), verdict.to_string()
    assert list(runs["stage"]) == ["bronze", "silver", "check", "gold"]
    assert set(runs["status"]) == {"ok"}


def test_built_lake_measures_of_the_mapping_exist(built_lake):
    alpr = validate.distributions(str(built_lake), "alpr")
    face = validate.distributions(str(built_lake), "face_validation")

    assert list(alpr["measure"]) == [
        "silver.frames.duration_ms",
        "silver.frames.latency",
        "silver.frames.plate_count",
        "silver.frames.car_count",
        "silver.plates.ocr_confidence",
        "silver.plates.detection_confidence",
        "silver.cars.car_confidence",
    ]
    assert set(alpr["rows"][:4]) == {120}
    services = ["accessory_detector", "face_detector", "liqe", "topiq", "as_35_selfies", "ibeta2_crops",
                "ibeta2_full", "ibeta2_clip", "classic_metrics"]  # fmt: skip
    per_image = [f"silver.api_calls.time_ms_{s}_{i}_img" for s in services for i in ("near", "far")]
    assert list(face["measure"]) == [
        "silver.api_calls.total_time_ms",
        *per_image,
        "silver.api_calls.time_ms_geometry_check",
    ]
    assert set(face["rows"]) == {300}
    recognition = validate.distributions(str(built_lake), "face_recognition")
    stages = ["detect_ms", "embed_ms", "search_ms", "db_ms", "queue_ms"]
    assert list(recognition["measure"]) == [
        "silver.requests.latency_ms",
        *[f"silver.requests.{s}" for s in stages],
        "silver.evaluations.distance",
    ]
    # 3,000 lines but their 3 duplicates; the generator's three LFW runs: 1,680 + 3,557 + 200 probes
    assert list(recognition["rows"]) == [2997] * 6 + [5437]


def test_built_lake_detections_reconcile_reference_and_count_by_category(built_lake):
    lake = str(built_lake)

    reconciled = validate.reconciliation(lake, "detections")
    referenced = validate.references(lake, "detections")
    runs = validate.latest_runs(lake, "detections")
    counts = validate.value_counts(lake, "detections")
    measures = validate.distributions(lake, "detections")

    assert list(reconciled["equation"]) == [
        f"bronze.frames_raw 3000 = silver.frames {3000 - _invalid(lake)} + silver.invalid_images {_invalid(lake)} "
        "+ quarantine 0"
    ]
    assert reconciled["holds"].all()
    assert list(referenced["check"]) == [
        "references(silver.objects on frame_key)",  # every rule match is a frame with objects
        "references(silver.frames on first_frame_key)",
    ]
    assert referenced["holds"].all() and (referenced["rows"] > 0).all()
    assert list(runs["stage"]) == ["bronze", "silver", "check", "gold"] and set(runs["status"]) == {"ok"}
    assert list(counts) == [
        "silver.frames by detector_name, detector_shape",
        "silver.invalid_images by reasons",
        "silver.objects by label, is_valid_image",
        "gold.alerts by rule_id, severity",
        "gold.suppressed_matches by reason",
    ]
    assert set(counts["silver.frames by detector_name, detector_shape"]["detector_shape"]) == {"A", "B"}
    reasons = set(counts["gold.suppressed_matches by reason"]["reason"])
    assert reasons <= {"invalid_image", "area_too_small", "outside_schedule", "below_score", "cooldown"}
    assert list(measures["measure"]) == [
        "silver.frames.inference_ms",
        "silver.frames.object_count",
        "silver.frames.image_contrast",
        "silver.frames.image_brightness",
        "silver.objects.score",
        "silver.objects.area_fraction",
        "gold.alerts.frames",
        "gold.alerts.peak_score",
        "gold.alerts.median_score",
        "gold.device_health.invalid_share",
        "gold.device_health.longest_silence_minutes",
    ]
    scores = measures.set_index("measure").loc["silver.objects.score"]
    assert 0 <= scores["min"] <= scores["max"] <= 1


def _invalid(lake: str) -> int:
    from visionlake.sql import query

    return query(lake, "SELECT count(*) AS n FROM silver_detections_invalid_images").column("n")[0].as_py()
