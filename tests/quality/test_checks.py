"""Quality checks declared in YAML (load_suite) and evaluated with DuckDB over Arrow datasets (evaluate)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from visionlake.errors import ConfigError
from visionlake.quality.checks import Check, CheckResult, Scope, Suite, evaluate, load_suite

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
UTC_US = pa.timestamp("us", tz="UTC")


def _suite(folder: Path, text: str) -> Suite:
    (folder / "alpr.yaml").write_text(text)
    return load_suite("alpr", folder=folder)


def _data(columns: dict) -> ds.Dataset:
    return ds.dataset(pa.table(columns))


def _run(suite: Suite, scopes: dict[str, Scope], scope: str = "run") -> dict[str, CheckResult]:
    results = evaluate(suite, list(suite.checks), scopes, NOW, scope)
    return {r.check.name: r for r in results}


# --------------------------------------------------------------------------------------------------
# loading


def test_load_suite_expands_columns_and_reads_every_kind(tmp_path):
    suite = _suite(
        tmp_path,
        """
tables:
  silver.frames: [camera, frame_key]
  silver.plates: plate_key
checks:
  - {table: silver.frames, not_null: [frame_key, event_ts]}
  - {table: silver.frames, unique: [camera, frame_key], level: warn}
  - {table: silver.plates, range: [confidence, char_confidences], min: 0, max: 100, level: warn}
  - {table: silver.frames, range: event_ts, min: "2000-01-01", max: now + 1 day}
  - {table: silver.api_calls, accepted_values: status, values: [ok, error]}
  - {table: silver.plates, references: silver.frames, columns: [frame_key]}
  - {reconcile: bronze.results = silver.frames + quarantine}
  - {reconcile: silver.frames.sum(plate_count) = silver.plates, name: plates_add_up}
""",
    )
    assert suite.source == "alpr"
    assert suite.keys == {"silver.frames": ("camera", "frame_key"), "silver.plates": ("plate_key",)}
    assert [(c.name, c.kind, c.table, c.level, c.columns) for c in suite.checks] == [
        ("not_null(frame_key)", "not_null", "silver.frames", "error", ("frame_key",)),
        ("not_null(event_ts)", "not_null", "silver.frames", "error", ("event_ts",)),
        ("unique(camera, frame_key)", "unique", "silver.frames", "warn", ("camera", "frame_key")),
        ("range(confidence, 0..100)", "range", "silver.plates", "warn", ("confidence",)),
        ("range(char_confidences, 0..100)", "range", "silver.plates", "warn", ("char_confidences",)),
        ("range(event_ts, 2000-01-01..now + 1 day)", "range", "silver.frames", "error", ("event_ts",)),
        ("accepted_values(status)", "accepted_values", "silver.api_calls", "error", ("status",)),
        ("references(silver.frames on frame_key)", "references", "silver.plates", "error", ("frame_key",)),
        ("reconcile(bronze.results = silver.frames + quarantine)", "reconcile", "bronze.results", "error", ()),
        ("plates_add_up", "reconcile", "silver.frames", "error", ()),
    ]
    ranges = [c for c in suite.checks if c.kind == "range"]
    assert [(c.low, c.high) for c in ranges] == [(0, 100), (0, 100), ("2000-01-01", "now + 1 day")]
    accepted = suite.checks[6]
    assert accepted.values == ("ok", "error")
    references = suite.checks[7]
    assert (references.parent, references.parent_columns) == ("silver.frames", ("frame_key",))
    assert references.tables == {"silver.plates", "silver.frames"}
    rows, sums = suite.checks[8], suite.checks[9]
    assert rows.left == (("bronze.results", None),)
    assert rows.right == (("silver.frames", None), ("quarantine", None))
    assert sums.left == (("silver.frames", "plate_count"),)
    assert sums.right == (("silver.plates", None),)
    assert rows.tables == {"bronze.results", "silver.frames", "quarantine"}


def test_references_can_name_other_parent_columns(tmp_path):
    suite = _suite(
        tmp_path,
        "checks:\n  - {table: gold.plates, references: silver.frames, columns: [fk], parent_columns: [frame_key]}\n",
    )
    (check,) = suite.checks
    assert (check.columns, check.parent_columns) == (("fk",), ("frame_key",))


def test_load_suite_without_a_file_has_no_checks(tmp_path):
    assert load_suite("nothing", folder=tmp_path) == Suite("nothing", {}, ())


def test_for_tables_keeps_the_checks_of_those_tables_and_reconcile_goes_with_its_left_side(tmp_path):
    suite = _suite(
        tmp_path,
        """
checks:
  - {table: silver.frames, not_null: frame_key}
  - {table: silver.plates, not_null: plate_key}
  - {reconcile: bronze.results = silver.frames}
""",
    )
    assert [c.name for c in suite.for_tables({"silver.frames"})] == ["not_null(frame_key)"]
    assert [c.name for c in suite.for_tables({"bronze.results", "silver.plates"})] == [
        "not_null(plate_key)",
        "reconcile(bronze.results = silver.frames)",
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{table: t.a, not_null: x, colour: red}", "unknown key\\(s\\) colour"),
        ("{table: t.a, not_null: x, level: fatal}", "level must be error or warn, not 'fatal'"),
        ("{table: t.a, not_null: x, unique: y}", "exactly one of"),
        ("{table: t.a, colour: red}", "exactly one of"),
        ("{table: t.a, range: x}", "range needs min, max or both"),
        ("{table: t.a, references: t.b}", "references needs columns"),
        ("{reconcile: t.a + t.b}", "reconcile needs 'A = B \\+ C'"),
        ("{table: t.a, accepted_values: x, values: []}", "accepted_values needs values"),
        ("{not_null: x}", "not_null needs a table"),
        ("just text", "must be a mapping"),
    ],
)
def test_malformed_checks_are_config_errors_naming_the_check(tmp_path, entry, message):
    text = f"checks:\n  - {{table: t.a, not_null: ok}}\n  - {entry}\n"
    with pytest.raises(ConfigError, match=message) as caught:
        _suite(tmp_path, text)
    assert "alpr.yaml, check 2" in str(caught.value)


def test_invalid_yaml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="is not valid YAML"):
        _suite(tmp_path, "checks: [ {table: t.a\n")


# --------------------------------------------------------------------------------------------------
# row checks: not_null, range, accepted_values


FRAMES_KEYS = "tables:\n  silver.frames: [camera, frame_key]\n"


def test_not_null_counts_failing_rows_and_samples_them_by_the_declared_key(tmp_path):
    suite = _suite(
        tmp_path, FRAMES_KEYS + "checks:\n  - {table: silver.frames, not_null: [frame_key, camera, event_ts]}\n"
    )
    frames = _data(
        {
            "camera": ["c1", "c1", "c2", "c2"],
            "frame_key": [1, 2, 3, None],
            "event_ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC), None, None, datetime(2024, 1, 2, tzinfo=UTC)]),
        }
    )
    results = _run(suite, {"silver.frames": Scope(frames, frames)})

    key = results["not_null(frame_key)"]
    assert (key.passed, key.failing_rows, key.checked_rows, key.sample) == (False, 1, 4, ["camera=c2, frame_key=null"])
    camera = results["not_null(camera)"]
    assert (camera.passed, camera.failing_rows, camera.checked_rows, camera.sample) == (True, 0, 4, [])
    ts = results["not_null(event_ts)"]
    assert (ts.passed, ts.failing_rows) == (False, 2)
    assert sorted(ts.sample) == ["camera=c1, frame_key=2", "camera=c2, frame_key=3"]
    assert ts.scope == "run"


def test_failure_line_shows_level_table_count_and_the_first_three_samples():
    check = Check("not_null(x)", "not_null", "silver.frames", "error", ("x",))
    result = CheckResult(check, False, 6, 7, ["k=1", "k=2", "k=3", "k=4", "k=5"])
    assert result.line() == "error silver.frames not_null(x): FAILED (6 rows); e.g. k=1, k=2, k=3"
    assert CheckResult(check, False, 2, 7).line() == "error silver.frames not_null(x): FAILED (2 rows)"
    assert CheckResult(check, True, 0, 7, ["k=1"]).line() == "error silver.frames not_null(x): ok"


def test_the_sample_is_capped_at_five_rows(tmp_path):
    suite = _suite(
        tmp_path, "tables:\n  silver.frames: [frame_key]\nchecks:\n  - {table: silver.frames, not_null: x}\n"
    )
    frames = _data({"frame_key": [1, 2, 3, 4, 5, 6, 7], "x": pa.array([None] * 6 + [1.0], pa.float64())})
    (result,) = evaluate(suite, list(suite.checks), {"silver.frames": Scope(frames, frames)}, NOW, "run")
    assert (result.failing_rows, result.checked_rows) == (6, 7)
    assert len(result.sample) == 5
    assert set(result.sample) <= {f"frame_key={n}" for n in range(1, 7)}  # never the passing row 7


def test_passing_warn_line(tmp_path):
    suite = _suite(tmp_path, "checks:\n  - {table: silver.plates, range: c, min: 0, level: warn}\n")
    plates = _data({"c": [1, 2]})
    (result,) = evaluate(suite, list(suite.checks), {"silver.plates": Scope(plates, plates)}, NOW, "run")
    assert result.line() == "warn  silver.plates range(c, 0..): ok"
    assert result.detail == "min 0, max -"


def test_range_on_numbers_is_inclusive_and_nulls_pass(tmp_path):
    suite = _suite(
        tmp_path,
        "tables:\n  silver.plates: [plate_key]\n"
        "checks:\n  - {table: silver.plates, range: confidence, min: 0, max: 100, level: warn}\n",
    )
    plates = _data({"plate_key": ["a", "b", "c", "d", "e", "f"], "confidence": [50.0, -1.0, 100.0, 100.5, None, 0.0]})
    (result,) = evaluate(suite, list(suite.checks), {"silver.plates": Scope(plates, plates)}, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 2, 6)
    assert sorted(result.sample) == ["plate_key=b", "plate_key=d"]
    assert result.detail == "min 0, max 100"


def test_range_on_timestamps_with_a_date_and_now_plus_one_day(tmp_path):
    suite = _suite(
        tmp_path,
        "tables:\n  silver.frames: [frame_key]\n"
        'checks:\n  - {table: silver.frames, range: event_ts, min: "2000-01-01", max: now + 1 day}\n',
    )
    # NOW is 2024-06-01 12:00 UTC, so the upper bound is 2024-06-02 12:00 UTC
    times = [
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),  # before the minimum
        datetime(2000, 1, 1, tzinfo=UTC),  # exactly the minimum
        datetime(2024, 6, 2, 11, 59, tzinfo=UTC),
        datetime(2024, 6, 2, 12, 0, 1, tzinfo=UTC),  # just after now + 1 day
        None,
    ]
    frames = _data({"frame_key": [1, 2, 3, 4, 5], "event_ts": pa.array(times, UTC_US)})
    (result,) = evaluate(suite, list(suite.checks), {"silver.frames": Scope(frames, frames)}, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 2, 5)
    assert sorted(result.sample) == ["frame_key=1", "frame_key=4"]


def test_range_with_now_minus_hours_and_an_unquoted_date(tmp_path):
    suite = _suite(
        tmp_path,
        "checks:\n  - {table: silver.frames, range: event_ts, min: 2024-06-01, max: now - 2 hours}\n",
    )
    times = [
        datetime(2024, 5, 31, 23, 0, tzinfo=UTC),  # before 2024-06-01
        datetime(2024, 6, 1, 9, 30, tzinfo=UTC),
        datetime(2024, 6, 1, 10, 30, tzinfo=UTC),  # after now - 2 hours (10:00)
    ]
    frames = _data({"event_ts": pa.array(times, UTC_US)})
    (result,) = evaluate(suite, list(suite.checks), {"silver.frames": Scope(frames, frames)}, NOW, "run")
    assert (result.failing_rows, result.checked_rows) == (2, 3)
    assert result.sample == ["row", "row"]  # no key declared for the table


def test_range_on_a_list_fails_a_row_when_any_element_is_outside(tmp_path):
    suite = _suite(
        tmp_path,
        "tables:\n  silver.plates: [plate_key]\n"
        "checks:\n  - {table: silver.plates, range: char_confidences, min: 0, max: 100}\n",
    )
    values = [[90.0, 95.0], [99.0, 101.0], [-0.5], [], None, [None, 50.0], [0.0, 100.0]]
    plates = _data({"plate_key": list("abcdefg"), "char_confidences": pa.array(values, pa.list_(pa.float64()))})
    (result,) = evaluate(suite, list(suite.checks), {"silver.plates": Scope(plates, plates)}, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 2, 7)
    assert sorted(result.sample) == ["plate_key=b", "plate_key=c"]


def test_accepted_values_is_exact_and_nulls_pass(tmp_path):
    suite = _suite(
        tmp_path,
        "tables:\n  silver.api_calls: [call_id]\n"
        "checks:\n  - {table: silver.api_calls, accepted_values: status, values: [ok, error]}\n",
    )
    calls = _data({"call_id": [1, 2, 3, 4, 5], "status": ["ok", "error", None, "oops", "OK"]})
    (result,) = evaluate(suite, list(suite.checks), {"silver.api_calls": Scope(calls, calls)}, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 2, 5)
    assert sorted(result.sample) == ["call_id=4", "call_id=5"]
    assert result.detail == "values ok, error"


def test_accepted_values_on_an_integer_column(tmp_path):
    suite = _suite(tmp_path, "checks:\n  - {table: silver.a, accepted_values: code, values: [200, 404]}\n")
    rows = _data({"code": [200, 404, 500, None]})
    (result,) = evaluate(suite, list(suite.checks), {"silver.a": Scope(rows, rows)}, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 1, 4)


# Regression: accepted_values compares str(value) in Python with value::VARCHAR in DuckDB. YAML gives booleans and
# integers, whose text differs from DuckDB's: str(True) is "True" but true::VARCHAR is "true", and "1" is not
# 1.0::DOUBLE::VARCHAR ("1.0"). So every row of a boolean column fails `values: [true, false]`, and every row of
# a double column fails `values: [1, 2]`, although all of them hold accepted values.
@pytest.mark.parametrize(
    ("values", "column"),
    [
        ("[true, false]", pa.array([True, False, True])),
        ("[1, 2]", pa.array([1.0, 2.0, 1.0], pa.float64())),
    ],
)
def test_accepted_values_compares_values_not_their_python_text(tmp_path, values, column):
    suite = _suite(tmp_path, f"checks:\n  - {{table: silver.a, accepted_values: v, values: {values}}}\n")
    rows = _data({"v": column})
    (result,) = evaluate(suite, list(suite.checks), {"silver.a": Scope(rows, rows)}, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (True, 0, 3)


# Regression: `range` with a null bound (`min: null`, `min: ~` or an empty `min:`) passes load_suite because only the
# presence of the key is checked; evaluation then builds `coalesce(, false)` and DuckDB raises a ParserException
# instead of a ConfigError naming the check.
def test_a_range_with_only_null_bounds_is_a_config_error(tmp_path):
    rows = _data({"x": [1.0]})
    with pytest.raises(ConfigError):
        suite = _suite(tmp_path, "checks:\n  - {table: silver.a, range: x, min: null}\n")
        evaluate(suite, list(suite.checks), {"silver.a": Scope(rows, rows)}, NOW, "run")


def test_a_row_check_on_a_missing_column_is_a_config_error(tmp_path):
    suite = _suite(tmp_path, "checks:\n  - {table: silver.a, not_null: nope}\n")
    rows = _data({"x": [1]})
    with pytest.raises(ConfigError, match="no column nope"):
        evaluate(suite, list(suite.checks), {"silver.a": Scope(rows, rows)}, NOW, "run")


def test_a_bound_that_is_not_a_number_date_or_now_is_a_config_error(tmp_path):
    suite = _suite(tmp_path, "checks:\n  - {table: silver.a, range: x, max: yesterday}\n")
    rows = _data({"x": [1]})
    with pytest.raises(ConfigError, match="a bound must be"):
        evaluate(suite, list(suite.checks), {"silver.a": Scope(rows, rows)}, NOW, "run")


# --------------------------------------------------------------------------------------------------
# unique, references


def test_unique_compares_the_rows_in_scope_with_the_whole_table(tmp_path):
    suite = _suite(tmp_path, "checks:\n  - {table: silver.frames, unique: frame_key}\n")
    in_scope = _data({"frame_key": [3, 4]})
    # 1 is duplicated too, but not in scope: not this run's doing, not reported; 3 is in scope once, twice in whole
    whole = _data({"frame_key": [1, 1, 2, 3, 3, 4]})
    (result,) = evaluate(suite, list(suite.checks), {"silver.frames": Scope(in_scope, whole)}, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 2, 2)
    assert result.sample == ["frame_key=3 (2 rows)"]
    assert result.line() == "error silver.frames unique(frame_key): FAILED (2 rows); e.g. frame_key=3 (2 rows)"


def test_unique_on_two_columns_orders_the_sample_by_count(tmp_path):
    suite = _suite(tmp_path, "checks:\n  - {table: silver.frames, unique: [camera, seq]}\n")
    rows = _data({"camera": ["a", "a", "b", "b", "b", "a"], "seq": [1, 1, 1, 1, 1, 2]})
    (result,) = evaluate(suite, list(suite.checks), {"silver.frames": Scope(rows, rows)}, NOW, "table")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 5, 6)
    assert result.sample == ["camera=b, seq=1 (3 rows)", "camera=a, seq=1 (2 rows)"]
    assert result.scope == "table"


# Regression: _unique names its count column `n` (`SELECT <key>, count(*) AS n ...`, then `SELECT <key text>, n`), so
# when a key column is itself called `n` the outer `n` is the key's value, not the count: `unique: n` over
# n = [7, 7, 7] reports 7 failing rows and the sample "n=7 (7 rows)" instead of 3 and "n=7 (3 rows)".
def test_unique_on_a_key_column_named_n(tmp_path):
    suite = _suite(tmp_path, "checks:\n  - {table: silver.frames, unique: n}\n")
    rows = _data({"n": [7, 7, 7]})
    (result,) = evaluate(suite, list(suite.checks), {"silver.frames": Scope(rows, rows)}, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 3, 3)
    assert result.sample == ["n=7 (3 rows)"]


def test_unique_passes_without_duplicates_and_uses_rows_when_there_is_no_whole(tmp_path):
    suite = _suite(tmp_path, "checks:\n  - {table: gold.frames, unique: frame_key}\n")
    staged = _data({"frame_key": [1, 2, 3]})
    (result,) = evaluate(suite, list(suite.checks), {"gold.frames": Scope(staged, None)}, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows, result.sample) == (True, 0, 3, [])


REFERENCES = (
    "tables:\n  silver.plates: [plate_key]\n"
    "checks:\n  - {table: silver.plates, references: silver.frames, columns: [frame_key]}\n"
)


def test_references_fail_the_orphan_rows(tmp_path):
    suite = _suite(tmp_path, REFERENCES)
    plates = _data({"plate_key": ["p1", "p2", "p3"], "frame_key": [1, 2, 9]})
    frames = _data({"frame_key": [1, 2, 3]})
    scopes = {"silver.plates": Scope(plates, plates), "silver.frames": Scope(None, frames)}
    (result,) = evaluate(suite, list(suite.checks), scopes, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 1, 3)
    assert result.sample == ["plate_key=p3"]
    assert result.detail == "parent silver.frames"


def test_references_pass_when_every_row_has_a_parent(tmp_path):
    suite = _suite(tmp_path, REFERENCES)
    plates = _data({"plate_key": ["p1", "p2"], "frame_key": [2, 2]})
    frames = _data({"frame_key": [1, 2]})
    scopes = {"silver.plates": Scope(plates, plates), "silver.frames": Scope(None, frames)}
    (result,) = evaluate(suite, list(suite.checks), scopes, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (True, 0, 2)


@pytest.mark.parametrize("parent", [None, Scope(None, None, 0)], ids=["not in scopes", "no table"])
def test_references_to_a_parent_that_does_not_exist_fail_every_row(tmp_path, parent):
    suite = _suite(tmp_path, REFERENCES)
    plates = _data({"plate_key": ["p1", "p2"], "frame_key": [1, 2]})
    scopes = {"silver.plates": Scope(plates, plates)}
    if parent is not None:
        scopes["silver.frames"] = parent
    (result,) = evaluate(suite, list(suite.checks), scopes, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 2, 2)
    assert sorted(result.sample) == ["plate_key=p1", "plate_key=p2"]
    assert result.detail == "silver.frames does not exist"


def test_references_on_other_parent_columns(tmp_path):
    suite = _suite(
        tmp_path,
        "checks:\n  - {table: gold.p, references: silver.f, columns: [fk, cam], parent_columns: [frame_key, camera]}\n",
    )
    child = _data({"fk": [1, 1, 2], "cam": ["a", "b", "a"]})
    parent = _data({"frame_key": [1, 2], "camera": ["a", "a"]})
    scopes = {"gold.p": Scope(child, None), "silver.f": Scope(None, parent)}
    (result,) = evaluate(suite, list(suite.checks), scopes, NOW, "run")
    assert (result.failing_rows, result.checked_rows) == (1, 3)
    assert result.sample == ["fk=1, cam=b"]  # no key declared: sampled by the reference columns


# --------------------------------------------------------------------------------------------------
# reconcile, tables not in scope, order


RECONCILE = """
checks:
  - {reconcile: bronze.results = silver.frames + quarantine}
  - {reconcile: silver.frames.sum(plate_count) = silver.plates}
"""


def test_reconcile_counts_rows_prefers_the_logged_count_and_sums_columns(tmp_path):
    suite = _suite(tmp_path, RECONCILE)
    scopes = {
        # the log says 5 rows; the dataset given has 3, so equality below shows the logged count is used
        "bronze.results": Scope(None, _data({"x": [1, 2, 3]}), count=5),
        "silver.frames": Scope(None, _data({"plate_count": [2, 1, None, 0]})),
        "quarantine": Scope(None, _data({"x": [7]})),
        "silver.plates": Scope(None, _data({"x": [1, 2, 3, 4]})),
    }
    results = _run(suite, scopes)

    rows = results["reconcile(bronze.results = silver.frames + quarantine)"]
    assert (rows.passed, rows.failing_rows, rows.checked_rows) == (True, 0, 5)
    assert rows.detail == "bronze.results 5 = silver.frames 4 + quarantine 1"
    assert rows.scope == "table"  # whole tables, whatever the run's scope

    sums = results["reconcile(silver.frames.sum(plate_count) = silver.plates)"]
    assert (sums.passed, sums.failing_rows, sums.checked_rows) == (False, 1, 3)
    assert sums.detail == "silver.frames.sum(plate_count) 3 != silver.plates 4"
    assert (
        sums.line() == "error silver.frames reconcile(silver.frames.sum(plate_count) = silver.plates): FAILED (1 rows)"
    )


def test_reconcile_counts_a_missing_table_as_zero(tmp_path):
    suite = _suite(tmp_path, "checks:\n  - {reconcile: bronze.results = silver.frames + quarantine}\n")
    scopes = {"bronze.results": Scope(None, _data({"x": [1, 2]})), "silver.frames": Scope(None, None, 0)}
    (result,) = evaluate(suite, list(suite.checks), scopes, NOW, "run")
    assert (result.passed, result.failing_rows, result.checked_rows) == (False, 2, 2)
    assert result.detail == "bronze.results 2 != silver.frames 0 + quarantine 0"


def test_checks_of_a_table_not_in_scope_pass_with_no_rows_checked(tmp_path):
    suite = _suite(
        tmp_path,
        """
checks:
  - {table: silver.frames, not_null: frame_key}
  - {table: silver.frames, unique: frame_key}
  - {table: silver.frames, references: silver.cameras, columns: [camera]}
""",
    )
    for scopes in ({}, {"silver.frames": Scope(None, _data({"frame_key": [1, 1]}))}):
        results = evaluate(suite, list(suite.checks), scopes, NOW, "run")
        assert [(r.check.name, r.passed, r.failing_rows, r.checked_rows) for r in results] == [
            ("not_null(frame_key)", True, 0, 0),
            ("unique(frame_key)", True, 0, 0),
            ("references(silver.cameras on camera)", True, 0, 0),
        ]
        assert {r.detail for r in results} == {"no rows to check"}


def test_results_come_in_the_order_of_the_checks(tmp_path):
    suite = _suite(
        tmp_path,
        """
checks:
  - {table: silver.b, not_null: x}
  - {table: silver.a, not_null: x}
  - {reconcile: silver.a = silver.b}
  - {table: silver.b, unique: x}
  - {table: silver.a, range: x, max: 1}
""",
    )
    a, b = _data({"x": [1, 2]}), _data({"x": [1, 1]})
    results = evaluate(suite, list(suite.checks), {"silver.a": Scope(a, a), "silver.b": Scope(b, b)}, NOW, "run")
    assert [(r.check.name, r.passed) for r in results] == [
        ("not_null(x)", True),
        ("not_null(x)", True),
        ("reconcile(silver.a = silver.b)", True),
        ("unique(x)", False),
        ("range(x, ..1)", False),
    ]
    assert [r.check.table for r in results[:2]] == ["silver.b", "silver.a"]


def _fails_once(monkeypatch) -> list[int]:
    """Make the first evaluation fail as pyarrow's S3 client does on a reset in the middle of a response."""
    from visionlake.quality import checks

    real, calls = checks._evaluate, []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("AWS Error INTERNAL_FAILURE during GetObject operation: Failed to flush response stream")
        return real(*args)

    monkeypatch.setattr(checks, "_evaluate", flaky)
    return calls


def test_a_read_the_store_fails_once_is_retried_when_storage_is_given(tmp_path, monkeypatch):
    from visionlake.config import StorageSettings

    suite = _suite(tmp_path, FRAMES_KEYS + "checks:\n  - {table: silver.frames, not_null: [frame_key]}\n")
    frames = _data({"camera": ["c1", "c2"], "frame_key": [1, None]})
    calls = _fails_once(monkeypatch)

    storage = StorageSettings(retry_seconds=5)

    (result,) = evaluate(suite, list(suite.checks), {"silver.frames": Scope(frames, frames)}, NOW, "run", storage)

    assert len(calls) == 2
    assert (result.passed, result.failing_rows, result.sample) == (False, 1, ["camera=c2, frame_key=null"])


def test_without_storage_a_failed_read_is_raised(tmp_path, monkeypatch):
    suite = _suite(tmp_path, FRAMES_KEYS + "checks:\n  - {table: silver.frames, not_null: [frame_key]}\n")
    frames = _data({"camera": ["c1"], "frame_key": [1]})
    _fails_once(monkeypatch)

    with pytest.raises(OSError, match="INTERNAL_FAILURE"):
        evaluate(suite, list(suite.checks), {"silver.frames": Scope(frames, frames)}, NOW, "run")
