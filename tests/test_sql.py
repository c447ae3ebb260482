"""`visionlake sql` and `visionlake tables`: DuckDB over the committed snapshots of a small hand-made lake."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.transaction import CommitProperties
from tests.conftest import VENV_BIN, run_command

from visionlake.config import load_config
from visionlake.errors import LakeError
from visionlake.lake import read, reader
from visionlake.sql import (
    SqlError,
    describe_tables,
    format_table,
    query,
    run_query,
    shell,
    table_infos,
    unknown_table_message,
)

PLATES = pa.table(
    {
        "frame_key": ["f1", "f1", "f2", "f3"],
        "plate_text": ["AB123", "CD456", "AB123", None],
        "ocr_confidence": [91.5, 70.0, 88.5, None],
        "camera_id": ["cam-1", "cam-1", "cam-2", "cam-2"],
        "event_date": [date(2025, 1, 1), date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 2)],
    }
)
PROCESSING = pa.table({"event_date": [date(2025, 1, 1), date(2025, 1, 2)], "estimated_cost": [0.25, 0.5]})


def build(root, *, run_id: str | None = "run-7") -> str:
    """A lake of three tables: silver plates (2 partitions, written in two commits), gold daily_processing
    (one commit made by ``run_id``), and an empty quarantine."""
    plates = str(root / "silver" / "alpr" / "plates")
    write_deltalake(plates, PLATES.slice(0, 2), partition_by=["event_date"])
    write_deltalake(plates, PLATES.slice(2), partition_by=["event_date"], mode="append")
    properties = CommitProperties(custom_metadata={"visionlake.run_id": run_id}) if run_id else None
    write_deltalake(str(root / "gold" / "alpr" / "daily_processing"), PROCESSING, commit_properties=properties)
    write_deltalake(str(root / "quarantine" / "alpr"), pa.table({"reason": pa.array([], pa.string())}))
    return str(root)


@pytest.fixture
def lake(tmp_path) -> str:
    return build(tmp_path / "lake")


def test_a_query_joins_tables_by_their_lake_names(lake):
    result = query(
        lake,
        "SELECT p.event_date, count(p.plate_text) AS plates, max(d.estimated_cost) AS cost "
        "FROM silver_alpr_plates p JOIN gold_alpr_daily_processing d USING (event_date) GROUP BY 1 ORDER BY 1",
    )
    assert result.to_pylist() == [
        {"event_date": date(2025, 1, 1), "plates": 2, "cost": 0.25},
        {"event_date": date(2025, 1, 2), "plates": 1, "cost": 0.5},
    ]


def test_only_the_committed_snapshot_is_read(lake, tmp_path):
    # a data file a running job has written and not committed yet: in the folder, not in the log
    stray = tmp_path / "lake" / "silver" / "alpr" / "plates" / "event_date=2025-01-01" / "uncommitted.parquet"
    pq.write_table(PLATES.drop_columns(["event_date"]), stray)
    assert query(lake, "SELECT count(*) AS n FROM silver_alpr_plates").to_pylist() == [{"n": 4}]
    assert query(lake, "SELECT count(*) AS n FROM quarantine_alpr").to_pylist() == [{"n": 0}]


def test_an_unknown_table_names_the_known_ones(lake):
    with pytest.raises(SqlError) as raised:
        query(lake, "SELECT * FROM silver_alpr_frames")
    assert str(raised.value) == (
        "no table silver_alpr_frames in the lake "
        "(tables: gold_alpr_daily_processing, quarantine_alpr, silver_alpr_plates)"
    )
    with pytest.raises(SqlError) as raised:
        query(lake, "SELECT * FROM silver_alpr_plate")
    assert str(raised.value).startswith("no table silver_alpr_plate in the lake; did you mean silver_alpr_plates? (")


def test_a_long_list_of_tables_is_cut_with_a_pointer_to_the_full_list():
    known = [f"silver_source_{i:02d}_table_with_a_long_name" for i in range(40)]
    message = unknown_table_message("nope", known)
    assert len(message) <= 560
    assert message.startswith("no table nope in the lake (tables: silver_source_00_table_with_a_long_name, ")
    assert message.endswith("_table_with_a_long_name, ...: `visionlake tables` lists them all)")


def test_a_sql_error_is_duckdbs_message_on_one_line(lake):
    with pytest.raises(SqlError) as raised:
        query(lake, "SELEC 1")
    assert str(raised.value).startswith("SQL error: Parser Error: syntax error at or near")
    assert "\n" not in str(raised.value)


def test_a_query_reads_the_lake_s_tables_and_nothing_else(lake, tmp_path):
    # COPY ... TO a table's _delta_log once committed a remove through `visionlake sql`; read_text read any file
    log = tmp_path / "lake" / "silver" / "alpr" / "plates" / "_delta_log"
    (tmp_path / "secret.txt").write_text("not for sql")
    refused = {
        f"COPY (SELECT 1 AS a) TO '{log / '00000000000000000002.json'}' (FORMAT json)": "file system operations",
        f"SELECT * FROM read_text('{tmp_path / 'secret.txt'}')": "file system operations",
        f"ATTACH '{tmp_path / 'other.duckdb'}'": "file system operations",
        "INSTALL httpfs": "file system operations",
        "SET enable_external_access = true": "the configuration has been locked",
    }
    for statement, message in refused.items():
        with pytest.raises(SqlError, match=message):
            query(lake, statement)
    assert sorted(p.name for p in log.iterdir() if p.suffix == ".json") == [
        "00000000000000000000.json",
        "00000000000000000001.json",
    ]
    assert not (tmp_path / "other.duckdb").exists()
    assert query(lake, "SELECT count(*) AS n FROM silver_alpr_plates").to_pylist() == [{"n": 4}]


def test_a_statement_without_rows_is_a_clear_error(lake):
    # ";" once printed 1,000 blank lines and "(0 rows; -1000 more not shown ...)"
    for statement in (";", "  ", "-- nothing"):
        with pytest.raises(SqlError, match=r"the statement returns no rows: give a query \(SELECT, WITH, ...\)"):
            query(lake, statement)


def test_json_output_has_null_for_nan_and_infinities(lake, tmp_path):
    statement = "SELECT 'nan'::double AS a, 'inf'::double AS b, -1.5::double AS c"
    assert json.loads(run_query(lake, statement, form="json")) == [{"a": None, "b": None, "c": -1.5}]
    run_query(lake, statement, out=str(tmp_path / "o.json"))
    assert json.loads((tmp_path / "o.json").read_text()) == [{"a": None, "b": None, "c": -1.5}]


def test_an_empty_lake_is_a_clear_error(tmp_path):
    with pytest.raises(LakeError, match=r"no tables in .*empty: run `visionlake run"):
        query(str(tmp_path / "empty"), "SELECT 1")


def test_printed_forms(lake):
    statement = "SELECT plate_text, ocr_confidence FROM silver_alpr_plates ORDER BY frame_key, plate_text"
    assert run_query(lake, statement) == "\n".join(
        [
            "plate_text  ocr_confidence",
            "----------  --------------",
            "AB123                 91.5",
            "CD456                   70",
            "AB123                 88.5",
            "NULL                  NULL",
            "(4 rows)",
        ]
    )
    assert run_query(lake, statement, form="csv").splitlines() == [
        '"plate_text","ocr_confidence"',
        '"AB123",91.5',
        '"CD456",70',
        '"AB123",88.5',
        ",",
    ]
    assert json.loads(run_query(lake, statement + " LIMIT 1", form="json")) == [
        {"plate_text": "AB123", "ocr_confidence": 91.5}
    ]


def test_a_long_result_says_how_many_rows_were_not_printed():
    text = format_table(pa.table({"n": list(range(5))}), max_rows=2)
    assert text.splitlines()[-1] == "(5 rows; 3 more not shown: use --out FILE or LIMIT)"
    assert text.splitlines()[2:4] == ["0", "1"]


def test_out_files_by_suffix(lake, tmp_path):
    statement = "SELECT camera_id, count(*) AS n FROM silver_alpr_plates GROUP BY 1 ORDER BY 1"
    assert run_query(lake, statement, out=str(tmp_path / "o.csv")) == f"wrote 2 rows to {tmp_path / 'o.csv'}"
    assert (tmp_path / "o.csv").read_text().splitlines() == ['"camera_id","n"', '"cam-1",2', '"cam-2",2']
    run_query(lake, statement, out=str(tmp_path / "o.parquet"))
    assert pq.read_table(tmp_path / "o.parquet").to_pylist() == [
        {"camera_id": "cam-1", "n": 2},
        {"camera_id": "cam-2", "n": 2},
    ]
    run_query(lake, statement, out=str(tmp_path / "o.json"))
    assert json.loads((tmp_path / "o.json").read_text()) == [
        {"camera_id": "cam-1", "n": 2},
        {"camera_id": "cam-2", "n": 2},
    ]
    with pytest.raises(SqlError, match=r"--out .*o.xlsx: the file name must end in .csv, .parquet or .json"):
        run_query(lake, statement, out=str(tmp_path / "o.xlsx"))


def test_nested_values_are_json_in_csv(tmp_path):
    root = tmp_path / "lake"
    write_deltalake(str(root / "silver" / "alpr" / "plates"), pa.table({"chars": [[90.5, 80.0]], "k": ["a"]}))
    assert run_query(str(root), "SELECT * FROM silver_alpr_plates", form="csv").splitlines()[1] == '"[90.5, 80.0]","a"'


def test_tables_lists_version_rows_files_partitions_and_the_run(lake):
    found, unreadable = table_infos(lake)
    infos = {i.name: i for i in found}
    assert sorted(infos) == ["gold_alpr_daily_processing", "quarantine_alpr", "silver_alpr_plates"]
    assert unreadable == {}
    plates, gold, quarantine = (
        infos["silver_alpr_plates"],
        infos["gold_alpr_daily_processing"],
        infos["quarantine_alpr"],
    )
    # plates: two commits (versions 0 and 1) of one date each: one file each
    assert (plates.version, plates.rows, plates.files, plates.partition_column) == (1, 4, 2, "event_date")
    assert (gold.version, gold.rows, gold.files, gold.partition_column, gold.run_id) == (0, 2, 1, "", "run-7")
    assert (quarantine.rows, quarantine.files, quarantine.size_bytes, quarantine.run_id) == (0, 0, 0, None)
    assert plates.size_bytes > 0 and plates.last_commit is not None
    text, problems = describe_tables(lake)
    assert problems == ""
    assert text.splitlines()[0].split() == [
        "table", "version", "rows", "files", "size", "partitioned_by", "last_commit_utc", "run_id",
    ]  # fmt: skip
    assert text.splitlines()[-1] == f"(3 tables in {lake})"
    nothing = lake.replace("lake", "nothing")
    with pytest.raises(LakeError, match=r"^no tables in .*nothing: run `visionlake run SOURCE --input"):
        describe_tables(nothing)


def test_tables_of_a_pipeline_lake_name_the_run_that_wrote_them(built_lake):
    runs = query(str(built_lake), "SELECT DISTINCT source, run_id FROM _runs").to_pylist()
    by_source = {r["source"]: r["run_id"] for r in runs}
    assert sorted(by_source) == ["alpr", "detections", "face_recognition", "face_validation"]
    assert len(runs) == 4  # one run per source
    for info in table_infos(str(built_lake))[0]:
        sources = ("face_validation", "face_recognition", "detections", "alpr")
        source = next(s for s in sources if s in info.name or s == "alpr")
        if not info.name.startswith("_"):
            assert info.run_id == by_source[source], info.name


def test_the_shell_runs_statements_across_lines_and_survives_errors(lake):
    stdin = io.StringIO(
        "SELECT count(*) AS n\n  FROM silver_alpr_plates;\n.tables\nSELECT * FROM nope;\nSELECT 2 AS two;\n.quit\n"
    )
    stdout = io.StringIO()
    # a script (input that is no terminal) goes on past an error, then fails: a scheduled script must not pass
    with pytest.raises(SqlError, match=r"^1 of 3 statements failed \(their errors are printed above\)$"):
        shell(lake, stdin=stdin, stdout=stdout)
    lines = stdout.getvalue().splitlines()
    assert lines[0].startswith("3 tables of ")
    assert lines[1:5] == ["n", "-", "4", "(1 row)"]
    assert lines[5:8] == ["gold_alpr_daily_processing", "quarantine_alpr", "silver_alpr_plates"]
    assert lines[8].startswith("error: no table nope in the lake (tables: gold_alpr_daily_processing")
    assert lines[9:] == ["two", "---", "  2", "(1 row)"]


def test_the_command_prints_results_and_one_line_errors(lake):
    ok = run_command(
        [str(VENV_BIN / "visionlake"), "sql", "--lake", lake, "SELECT 40 + 2 AS answer", "--format", "csv"]
    )
    assert (ok.returncode, ok.stdout) == (0, '"answer"\n42\n')
    bad = run_command([str(VENV_BIN / "visionlake"), "sql", "--lake", lake, "SELECT * FROM silver_alpr_frames"])
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        "visionlake: error: no table silver_alpr_frames in the lake "
        "(tables: gold_alpr_daily_processing, quarantine_alpr, silver_alpr_plates)"
    ]
    tables = run_command([str(VENV_BIN / "visionlake"), "tables", "--lake", lake])
    assert tables.returncode == 0 and "silver_alpr_plates" in tables.stdout


@pytest.mark.s3
def test_sql_over_a_lake_on_s3(aws_env, tmp_path):
    client = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    client.create_bucket(Bucket="sqllake")
    local = tmp_path / "lake"
    build(local)
    for path in local.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), "sqllake", f"lake/{path.relative_to(local)}")
    storage = load_config("local").storage
    result = query(
        "s3a://sqllake/lake", "SELECT camera_id, count(*) AS n FROM silver_alpr_plates GROUP BY 1 ORDER BY 1", storage
    )
    assert result.to_pylist() == [{"camera_id": "cam-1", "n": 2}, {"camera_id": "cam-2", "n": 2}]
    assert {i.name: i.rows for i in table_infos("s3a://sqllake/lake", storage)[0]} == {
        "gold_alpr_daily_processing": 2,
        "quarantine_alpr": 0,
        "silver_alpr_plates": 4,
    }


def test_a_reader_that_stops_early_is_no_error(lake):
    """`visionlake sql ... | head -1` used to end in a BrokenPipeError traceback."""
    import subprocess

    command = [str(VENV_BIN / "visionlake"), "sql", "--lake", lake, "SELECT * FROM range(200000)", "--format", "csv"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        first = process.stdout.readline()
        process.stdout.close()  # what head does after its lines
        stderr = process.stderr.read().decode()
        status = process.wait(timeout=60)
    assert first.decode().strip() == '"range"'
    assert (status, stderr) == (0, "")


# --------------------------------------------------------------------------------------------------
# a table whose Delta log cannot be read (an empty commit, a broken checkpoint) or that lost a data file


def _break_log(lake: str, table: str, how: str) -> None:
    log = Path(lake, *table.split("/"), "_delta_log")
    if how == "empty commit":  # the table's only commit, emptied by a crash or by hand
        (log / "00000000000000000000.json").write_bytes(b"")
    else:  # a checkpoint the log points at, overwritten with garbage
        DeltaTable(str(log.parent)).create_checkpoint()
        version = DeltaTable(str(log.parent)).version()
        (log / f"{version:020d}.checkpoint.parquet").write_bytes(b"garbage")


@pytest.mark.parametrize("how", ["empty commit", "broken checkpoint"])
def test_a_table_that_cannot_be_read_is_left_out_and_named_and_the_others_answer(lake, how, caplog):
    _break_log(lake, "gold/alpr/daily_processing", how)
    assert query(lake, "SELECT count(*) AS n FROM silver_alpr_plates").to_pylist() == [{"n": 4}]
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["table gold_alpr_daily_processing is left out"]
    with pytest.raises(SqlError, match=r"^table gold_alpr_daily_processing cannot be read: cannot open its latest"):
        query(lake, "SELECT * FROM GOLD_ALPR_DAILY_PROCESSING")
    (found, unreadable) = table_infos(lake)
    assert [i.name for i in found] == ["quarantine_alpr", "silver_alpr_plates"]
    assert list(unreadable) == ["gold_alpr_daily_processing"]
    text, problems = describe_tables(lake)
    assert text.splitlines()[-2] == f"(2 tables in {lake})"
    assert text.splitlines()[-1].startswith("cannot read gold_alpr_daily_processing: cannot open its latest version: ")
    assert problems.startswith("1 of the lake's tables cannot be read, e.g. gold_alpr_daily_processing: ")


def test_the_tables_command_lists_the_readable_tables_then_fails_naming_the_other(lake):
    _break_log(lake, "gold/alpr/daily_processing", "empty commit")
    listed = run_command([str(VENV_BIN / "visionlake"), "tables", "--lake", lake])
    assert listed.returncode == 1
    assert "silver_alpr_plates" in listed.stdout and "quarantine_alpr" in listed.stdout
    assert listed.stdout.splitlines()[-1].startswith("cannot read gold_alpr_daily_processing: ")
    assert listed.stderr.startswith("visionlake: error: 1 of the lake's tables cannot be read, e.g. gold_alpr_daily")
    asked = run_command([str(VENV_BIN / "visionlake"), "sql", "--lake", lake, "SELECT count(*) n FROM quarantine_alpr"])
    assert (asked.returncode, asked.stdout) == (0, "n\n-\n0\n(1 row)\n")
    assert asked.stderr.startswith("WARNING table gold_alpr_daily_processing is left out: cannot open its latest")


def test_reading_a_table_whose_data_file_is_gone_is_a_lake_error(lake):
    snap = reader.snapshot(f"{lake}/silver/alpr/plates")
    Path(snap.files[0]).unlink()
    with pytest.raises(LakeError, match=r"plates: a data file its Delta log lists is gone \(.*part-.*parquet'\); it"):
        read("silver_alpr_plates", lake=lake)


def test_the_shell_runs_each_statement_of_a_line_and_counts_no_comment(lake):
    stdout = io.StringIO()
    stdin = io.StringIO("SELECT 1 AS one; SELECT 'a;b' AS two;\n-- a comment;\nSELECT 3 AS three; -- the end\n")
    assert shell(lake, stdin=stdin, stdout=stdout) == "3 statements run"
    lines = stdout.getvalue().splitlines()[1:]
    assert lines == [
        "one",
        "---",
        "  1",
        "(1 row)",
        "two",
        "---",
        "a;b",
        "(1 row)",
        "three",
        "-----",
        "    3",
        "(1 row)",
    ]
    assert shell(lake, stdin=io.StringIO("-- nothing but a comment\n"), stdout=io.StringIO()) == "0 statements run"


def test_a_comment_after_a_statement_or_alone_leaves_no_statement_open_for_the_next_line(lake):
    # until Dec 6 a line not ending in ';' was kept for the next one: '.tables' and '.quit' became SQL
    stdout = io.StringIO()
    stdin = io.StringIO(
        "SELECT 1 AS one; -- one\n.tables\n-- alone\n/* a block; */\nSELECT ';--' AS two; /* two */\n"
        "SELECT 3 -- not yet ;\n  AS three;\n.quit\nSELECT 4 AS never;\n"
    )
    assert shell(lake, stdin=stdin, stdout=stdout) == "3 statements run"
    lines = stdout.getvalue().splitlines()[1:]
    assert lines == [
        "one", "---", "  1", "(1 row)",
        "gold_alpr_daily_processing", "quarantine_alpr", "silver_alpr_plates",
        "two", "---", ";--", "(1 row)",
        "three", "-----", "    3", "(1 row)",
    ]  # fmt: skip


def test_the_shell_runs_a_last_statement_left_without_its_semicolon(lake):
    stdout = io.StringIO()
    stdin = io.StringIO("SELECT 1 AS one;\nSELECT count(*) AS n\n  FROM silver_alpr_plates\n")
    assert shell(lake, stdin=stdin, stdout=stdout) == "2 statements run"
    assert stdout.getvalue().splitlines()[-4:] == ["n", "-", "4", "(1 row)"]
    stdout = io.StringIO()  # blank lines after the last ';' are no statement
    assert shell(lake, stdin=io.StringIO("SELECT 1 AS one;\n\n  \n"), stdout=stdout) == "1 statements run"


@pytest.mark.parametrize("content", [b"", b"\n", b"{}\n", b"  \n{}"])
def test_an_emptied_later_commit_or_log_makes_the_table_unreadable_not_smaller(lake, content):
    plates_log = Path(lake, "silver", "alpr", "plates", "_delta_log")
    (plates_log / f"{1:020d}.json").write_bytes(content)  # delta-rs reads it as a commit that added nothing: 2 rows
    for emptied in (Path(lake, "gold", "alpr", "daily_processing", "_delta_log"),):
        for entry in emptied.iterdir():
            entry.unlink()  # the table's folder and data are there, its log is not
    found, unreadable = reader.snapshots(lake)
    assert list(found) == ["quarantine_alpr"]
    assert unreadable == {
        "gold_alpr_daily_processing": "its _delta_log holds no commit that can be read",
        "silver_alpr_plates": "commit 1 of its Delta log holds no action (it was emptied by a crash of the file "
        "system or by hand): delta-rs would read it as a commit without data, and rows would be missing; restore it",
    }
    with pytest.raises(SqlError, match=r"^table silver_alpr_plates cannot be read: commit 1 of its Delta log holds"):
        query(lake, "SELECT count(*) FROM silver_alpr_plates")
    with pytest.raises(LakeError, match=r"plates: commit 1 of its Delta log holds no action"):
        read("silver_alpr_plates", lake=lake)


def test_a_delta_log_that_is_a_file_is_named_as_unreadable(lake):
    log = Path(lake, "gold", "alpr", "daily_processing", "_delta_log")
    for entry in log.iterdir():
        entry.unlink()
    log.rmdir()
    log.write_text("not a folder")
    assert reader.snapshots(lake)[1] == {
        "gold_alpr_daily_processing": "its _delta_log holds no commit that can be read"
    }


def test_reading_a_table_with_a_damaged_data_file_is_a_lake_error(lake):
    damaged = Path(reader.snapshot(f"{lake}/silver/alpr/plates").files[0])
    kept = damaged.read_bytes()
    damaged.write_bytes(kept[:100])  # cut: no Parquet footer
    with pytest.raises(LakeError, match=r"plates: a data file is damaged \(Could not open Parquet input source '.*"):
        read("silver_alpr_plates", lake=lake)
    with pytest.raises(SqlError, match=r"^table silver_alpr_plates cannot be read: a data file is gone or damaged: Co"):
        query(lake, "SELECT count(*) FROM silver_alpr_plates")
    damaged.write_bytes(kept[:8] + bytes(len(kept) // 2 - 8) + kept[len(kept) // 2 :])  # footer kept, pages zeroed
    with pytest.raises(LakeError, match=r"plates: a data file (cannot be read|is damaged) \(.*\): restore it, or rebu"):
        read("silver_alpr_plates", lake=lake)
    assert query(lake, "SELECT count(*) AS n FROM gold_alpr_daily_processing").to_pylist() == [{"n": 2}]


def test_tables_of_a_folder_without_tables_fails(tmp_path):
    listed = run_command([str(VENV_BIN / "visionlake"), "tables", "--lake", str(tmp_path)])
    assert (listed.returncode, listed.stdout) == (1, "")
    assert listed.stderr.startswith(f"visionlake: error: no tables in {tmp_path}: run `visionlake run SOURCE")
