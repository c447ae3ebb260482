"""deploy/airflow/visionlake_daily.py, loaded by Airflow's own DagBag in .venv-airflow (``make setup``), apart
from .venv: Airflow's pins clash with ours. tests/deploy/dagbag_probe.py does the loading and reports back."""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import pytest
from tests.conftest import REPO

from visionlake.cli import SOURCES, _parser

AIRFLOW_PYTHON = REPO / ".venv-airflow" / "bin" / "python"
PROBE = REPO / "tests" / "deploy" / "dagbag_probe.py"
VARIABLES = {
    "visionlake_lake": "s3://testing-bucket/lake",
    "visionlake_input": "s3://testing-bucket/raw",
    "visionlake_reports": "/srv/visionlake/reports",
    "visionlake_pii_secret": "testing-pii-key",
    "visionlake_alert_webhook": "https://alerts.example.com/hook",
    "visionlake_pagerduty_secret": "testing-routing-key",
}


@pytest.fixture(scope="module")
def load_dags(tmp_path_factory):
    """A function returning the probe's report; called inside each test, so a missing environment FAILS it."""
    loaded: dict = {}

    def load() -> dict:
        if not loaded:
            if not AIRFLOW_PYTHON.exists():
                pytest.fail(f"{AIRFLOW_PYTHON} is missing: run `make setup` (or `make airflow-env`)", pytrace=False)
            home = tmp_path_factory.mktemp("airflow_home")
            env = {
                "PATH": f"{AIRFLOW_PYTHON.parent}:/usr/bin:/bin",
                "HOME": os.environ["HOME"],
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            }
            command = [str(AIRFLOW_PYTHON), str(PROBE), str(REPO / "deploy" / "airflow"), json.dumps(VARIABLES)]
            result = subprocess.run(
                [*command, str(home / "dags.json")], capture_output=True, text=True, env=env, timeout=300
            )
            assert result.returncode == 0, result.stderr[-3000:]
            loaded.update(json.loads((home / "dags.json").read_text()))
        return loaded

    return load


def test_dag_file_loads_in_airflow_dagbag_without_import_errors(load_dags):
    dags = load_dags()
    assert dags["import_errors"] == {}
    assert list(dags["dags"]) == ["visionlake_daily"]


def test_dag_runs_daily_at_0700_utc(load_dags):
    dag = load_dags()["dags"]["visionlake_daily"]
    assert (dag["schedule"], dag["timezone"]) == ("0 7 * * *", "UTC")
    assert dag["next_runs"] == ["2026-03-02T07:00:00+00:00", "2026-03-03T07:00:00+00:00"]
    assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)


def test_dag_runs_every_source_then_the_checks_then_the_report(load_dags):
    tasks = load_dags()["dags"]["visionlake_daily"]["tasks"]
    assert {t for t in tasks if t.startswith("run_")} == {f"run_{s}" for s in SOURCES}
    assert {task: spec["upstream"] for task, spec in tasks.items()} == {
        "run_alpr": [],
        "run_face_validation": [],
        "run_detections": [],
        "run_face_recognition": [],
        "check": ["run_alpr", "run_detections", "run_face_recognition", "run_face_validation"],
        "report": ["check"],
        "notify_detections": ["run_detections"],
    }
    assert {spec["operator"] for spec in tasks.values()} == {"BashOperator"}
    assert {spec["trigger_rule"] for spec in tasks.values()} == {"TriggerRule.ALL_SUCCESS"}
    assert {task: spec["retries"] for task, spec in tasks.items()} == {
        "run_alpr": 1,
        "run_face_validation": 1,
        "run_detections": 1,
        "run_face_recognition": 1,
        "check": 0,
        "report": 0,
        "notify_detections": 3,
    }


def test_dag_tasks_call_visionlake_with_the_airflow_variables(load_dags):
    tasks = load_dags()["dags"]["visionlake_daily"]["tasks"]
    commands = {task: spec["bash_command"] for task, spec in tasks.items()}
    assert commands == {
        "run_alpr": "visionlake run alpr --input s3://testing-bucket/raw/alpr"
        " --lake s3://testing-bucket/lake --env emr",
        "run_face_validation": "visionlake run face_validation --input s3://testing-bucket/raw/face_validation"
        " --lake s3://testing-bucket/lake --env emr",
        "run_detections": "visionlake run detections --input s3://testing-bucket/raw/detections"
        " --lake s3://testing-bucket/lake --env emr",
        "run_face_recognition": "visionlake run face_recognition --input s3://testing-bucket/raw/face_recognition"
        " --lake s3://testing-bucket/lake --env emr",
        "notify_detections": "visionlake notify detections --lake s3://testing-bucket/lake"
        " --webhook https://alerts.example.com/hook --env emr",
        "check": "visionlake check --lake s3://testing-bucket/lake --env emr",
        "report": "visionlake report --lake s3://testing-bucket/lake --env emr"
        " --out /srv/visionlake/reports/visionlake-report.html",
    }
    for command in commands.values():
        argv = shlex.split(command)
        assert argv[0] == "visionlake"
        _parser().parse_args(argv[1:])  # exits 2 on arguments the command does not take
    # the key reaches only the sources that pseudonymise, added to the worker's environment
    assert {task: (spec["env"], spec["append_env"]) for task, spec in tasks.items() if task.startswith("run_")} == {
        "run_alpr": ({}, True),
        "run_face_validation": ({"VISIONLAKE_PII_KEY": "testing-pii-key"}, True),
        "run_detections": ({}, True),
        "run_face_recognition": ({"VISIONLAKE_PII_KEY": "testing-pii-key"}, True),
    }
    assert (tasks["notify_detections"]["env"], tasks["notify_detections"]["append_env"]) == (
        {"VISIONLAKE_PAGERDUTY_ROUTING_KEY": "testing-routing-key"},
        True,
    )
