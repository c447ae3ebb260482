"""deploy/emr: the step definitions, the bootstrap action and the step wrapper, run with stand-ins for the AWS
CLI, dnf and python3.11 where the real ones would reach AWS; the ALPR, check and report steps for real, from the
package, on local folders."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator
from tests.conftest import REPO, VENV_BIN, run_command

from visionlake.cli import SOURCES, _parser

HOME = "/opt/visionlake"
EMR = REPO / "deploy" / "emr"
STEPS = json.loads((EMR / "steps.json").read_text())
SYSTEM_PATH = "/usr/bin:/bin"


def _split(args: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """(step.sh's options, the command it runs) of a step's Args."""
    assert args[0] == f"{HOME}/deploy/emr/step.sh"
    options: dict[str, list[str]] = {}
    rest = args[1:]
    while rest[0].startswith("--"):
        width = {"--pii-secret": 1, "--upload": 2}[rest[0]]
        options[rest[0]] = rest[1 : 1 + width]
        rest = rest[1 + width :]
    return options, rest


def _step(name: str) -> list[str]:
    (step,) = [s for s in STEPS if s["Name"] == name]
    return step["HadoopJarStep"]["Args"]


def _stub(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def _bash(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run with only ``env`` (and HOME): nothing of this process's environment leaks in."""
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, env={"HOME": os.environ["HOME"], **env}
    )


def _calls(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# ---- steps.json


def test_steps_are_valid_add_job_flow_steps_requests():
    operation = botocore.session.get_session().get_service_model("emr").operation_model("AddJobFlowSteps")
    report = ParamValidator().validate({"JobFlowId": "j-TESTING", "Steps": STEPS}, operation.input_shape)
    assert not report.has_errors(), report.generate_report()
    for step in STEPS:
        assert set(step) == {"Name", "ActionOnFailure", "HadoopJarStep"}
        assert step["HadoopJarStep"]["Jar"] == "command-runner.jar"
        assert step["ActionOnFailure"] == "CONTINUE"  # one source failing neither cancels the others nor the report


def test_steps_run_every_source_then_check_then_report():
    names = [s["Name"] for s in STEPS]
    assert names == [f"visionlake run {s}" for s in SOURCES] + ["visionlake check", "visionlake report"]
    assert names[:2] == ["visionlake run alpr", "visionlake run face_validation"]


def test_run_steps_submit_jobs_run_py_with_the_run_arguments():
    options = {}
    for source in SOURCES:
        options[source], command = _split(_step(f"visionlake run {source}"))
        assert command[:4] == ["spark-submit", "--deploy-mode", "client", f"{HOME}/jobs/run.py"]
        args = _parser().parse_args(["run", *command[4:]])
        assert (args.source, args.input, args.lake, args.env, args.full_refresh) == (
            source,
            f"s3://YOUR-BUCKET/raw/{source}",
            "s3://YOUR-BUCKET/lake",
            "emr",
            False,
        )
    # the key comes from Secrets Manager, by name, and only to the source that pseudonymises
    assert options == {
        "alpr": {},
        "face_validation": {"--pii-secret": ["visionlake/pii-key"]},
        "detections": {},
        "face_recognition": {"--pii-secret": ["visionlake/pii-key"]},
    }
    text = (EMR / "steps.json").read_text()
    assert "VISIONLAKE_PII_KEY" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_check_and_report_steps_run_the_visionlake_command():
    options, command = _split(_step("visionlake check"))
    assert options == {}
    assert command == ["visionlake", "check", "--lake", "s3://YOUR-BUCKET/lake", "--env", "emr"]
    _parser().parse_args(command[1:])
    options, command = _split(_step("visionlake report"))
    assert command[0] == "visionlake"
    args = _parser().parse_args(command[1:])
    assert (args.command, args.lake, args.env) == ("report", "s3://YOUR-BUCKET/lake", "emr")
    assert options == {"--upload": [args.out, "s3://YOUR-BUCKET/reports/visionlake-report.html"]}


def test_steps_name_only_files_the_package_holds(package):
    paths = {a for s in STEPS for a in s["HadoopJarStep"]["Args"] if a.startswith(f"{HOME}/")}
    assert paths == {f"{HOME}/deploy/emr/step.sh", f"{HOME}/jobs/run.py"}
    for path in paths:
        assert (package / path.removeprefix(f"{HOME}/")).is_file(), path
    envs = {
        s["HadoopJarStep"]["Args"][i + 1]
        for s in STEPS
        for i, a in enumerate(s["HadoopJarStep"]["Args"])
        if a == "--env"
    }
    assert envs == {"emr"}
    assert (package / "conf" / "emr.yaml").is_file()
    assert json.loads((package / "deploy" / "emr" / "steps.json").read_text()) == STEPS


@pytest.mark.s3
def test_add_steps_adds_the_steps_to_a_cluster(s3_server):
    env = {
        "AWS_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    emr = boto3.client(
        "emr",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cluster = emr.run_job_flow(
        Name="testing",
        ReleaseLabel="emr-7.10.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    options = ["--cluster-id", cluster, "--bucket", "testing-bucket", "--pii-secret", "testing/pii"]
    result = run_command([sys.executable, "deploy/emr/add_steps.py", *options], env=env)
    assert result.returncode == 0, result.stderr
    assert [line.split("  ")[1] for line in result.stdout.splitlines()] == [s["Name"] for s in STEPS]
    added = {s["Name"]: s["Config"]["Args"] for s in emr.list_steps(ClusterId=cluster)["Steps"]}
    assert set(added) == {s["Name"] for s in STEPS}
    assert added["visionlake run face_validation"][1:3] == ["--pii-secret", "testing/pii"]
    assert "s3://testing-bucket/raw/face_validation" in added["visionlake run face_validation"]
    assert not [a for args in added.values() for a in args if "YOUR-BUCKET" in a]


def test_add_steps_prints_the_form_of_aws_emr_add_steps():
    result = run_command([sys.executable, "deploy/emr/add_steps.py", "--bucket", "testing-bucket", "--print", "--cli"])
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)
    assert [set(s) for s in steps] == [{"Type", "Name", "ActionOnFailure", "Jar", "Args"}] * len(STEPS)
    check = next(s for s in steps if s["Name"] == "visionlake check")
    assert check == {
        "Type": "CUSTOM_JAR",
        "Name": "visionlake check",
        "ActionOnFailure": "CONTINUE",
        "Jar": "command-runner.jar",
        "Args": [
            f"{HOME}/deploy/emr/step.sh",
            "visionlake",
            "check",
            "--lake",
            "s3://testing-bucket/lake",
            "--env",
            "emr",
        ],
    }
    bad = run_command([sys.executable, "deploy/emr/add_steps.py", "--bucket", "s3://testing-bucket", "--print"])
    assert bad.returncode == 1
    assert bad.stderr.strip() == "add_steps.py: --bucket takes a bucket name, not 's3://testing-bucket'"


# ---- bootstrap.sh and step.sh


@pytest.mark.parametrize("script", ["bootstrap.sh", "step.sh"])
def test_scripts_pass_bash_n(script):
    result = subprocess.run(["bash", "-n", str(EMR / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bootstrap_copies_the_package_and_installs_it_in_a_virtualenv(package, tmp_path):
    stubs, calls, home = tmp_path / "bin", tmp_path / "calls", tmp_path / "visionlake"
    # S3 keeps no file modes: the copy is made non-executable, as `aws s3 cp` would leave it
    _stub(
        stubs,
        "aws",
        'echo "aws $*" >> "$CALLS"\n'
        '[[ "$1 $2 $3 $5" == "s3 cp --recursive s3://testing-bucket/visionlake/" ]] || exit 1\n'
        'cp -R "$PACKAGE/." "$6" && chmod -R a-x "$6"\n',
    )
    _stub(stubs / "venv-template" / "bin", "pip", 'echo "pip $*" >> "$CALLS"\n')
    _stub(stubs / "venv-template" / "bin", "python", 'echo "Python 3.11.99"\n')
    _stub(
        stubs,
        "python3.11",
        'echo "python3.11 $*" >> "$CALLS"\n[[ "$1 $2" == "-m venv" ]] && cp -R "$VENV_TEMPLATE/." "$3/"\n',
    )
    for tool in ("dnf", "sudo"):
        _stub(stubs, tool, f'echo "{tool} $*" >> "$CALLS"; exit 99\n')
    env = {
        "PATH": f"{stubs}:{SYSTEM_PATH}",
        "CALLS": str(calls),
        "PACKAGE": str(package),
        "VENV_TEMPLATE": str(stubs / "venv-template"),
        "VISIONLAKE_HOME": str(home),
    }
    result = _bash(["bash", EMR / "bootstrap.sh", "s3://testing-bucket/visionlake/"], env)
    assert result.returncode == 0, result.stderr
    (wheel,) = package.glob("visionlake-*.whl")
    assert _calls(calls) == [
        f"aws s3 cp --recursive --only-show-errors s3://testing-bucket/visionlake/ {home}/",
        f"python3.11 -m venv {home}/venv",
        f"pip install --quiet --disable-pip-version-check -r {home}/requirements-emr.txt",
        f"pip install --quiet --disable-pip-version-check --no-deps {home}/{wheel.name}",
    ]
    assert result.stdout.strip() == f"visionlake ready in {home} (Python 3.11.99)"
    assert (home / "jobs" / "run.py").is_file() and (home / "conf" / "emr.yaml").is_file()
    assert os.access(home / "deploy" / "emr" / "step.sh", os.X_OK)


def test_bootstrap_without_an_s3_prefix_exits_1_and_does_nothing(tmp_path):
    result = _bash(
        ["bash", EMR / "bootstrap.sh", "/local/folder"], {"PATH": SYSTEM_PATH, "VISIONLAKE_HOME": str(tmp_path)}
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "bootstrap.sh: usage: bootstrap.sh s3://BUCKET/PREFIX (where dist/ was copied)"
    assert list(tmp_path.iterdir()) == []


AWS_STUB = """echo "aws $*" >> "$CALLS"
case "$1 $2" in
  "secretsmanager get-secret-value")
    [[ $4 == testing/pii ]] && { echo testing-pii-key; exit 0; }
    echo "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation" >&2; exit 254 ;;
  "s3 cp") exit 0 ;;
esac
exit 1
"""
PRINT_ENV = (
    "import json, os, sys; names = ['VISIONLAKE_CONF_DIR', 'PYSPARK_PYTHON', 'PYSPARK_DRIVER_PYTHON', 'PATH',"
    " 'AWS_REGION', 'AWS_DEFAULT_REGION', 'VISIONLAKE_PII_KEY']; "
    "open(sys.argv[1], 'w').write(json.dumps({n: os.environ.get(n) for n in names}))"
)


def _wrapper_env(tmp_path: Path) -> dict[str, str]:
    _stub(tmp_path / "bin", "aws", AWS_STUB)
    # AWS_REGION is set: the wrapper must not ask the instance metadata service (nothing may leave this machine)
    return {"PATH": f"{tmp_path / 'bin'}:{SYSTEM_PATH}", "CALLS": str(tmp_path / "calls"), "AWS_REGION": "us-east-1"}


def test_step_wrapper_gives_the_command_conf_python_region_and_the_secret(package, tmp_path):
    seen = tmp_path / "env.json"
    step = package / "deploy" / "emr" / "step.sh"
    result = _bash(
        [step, "--pii-secret", "testing/pii", "--", sys.executable, "-c", PRINT_ENV, seen], _wrapper_env(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(seen.read_text()) == {
        "VISIONLAKE_CONF_DIR": f"{package}/conf",
        "PYSPARK_PYTHON": f"{package}/venv/bin/python",
        "PYSPARK_DRIVER_PYTHON": f"{package}/venv/bin/python",
        "PATH": f"{package}/venv/bin:{tmp_path / 'bin'}:{SYSTEM_PATH}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "VISIONLAKE_PII_KEY": "testing-pii-key",
    }
    assert _calls(tmp_path / "calls") == [
        "aws secretsmanager get-secret-value --secret-id testing/pii"
        " --query SecretString --output text --region us-east-1"
    ]
    assert "testing-pii-key" not in result.stdout + result.stderr


def test_step_wrapper_uploads_the_file_only_after_the_command_succeeded(package, tmp_path):
    step, report = package / "deploy" / "emr" / "step.sh", tmp_path / "report.html"
    env = _wrapper_env(tmp_path)
    failed = _bash([step, "--upload", report, "s3://testing-bucket/reports/r.html", "bash", "-c", "exit 3"], env)
    assert failed.returncode == 3
    assert _calls(tmp_path / "calls") == []
    done = _bash([step, "--upload", report, "s3://testing-bucket/reports/r.html", "touch", report], env)
    assert done.returncode == 0, done.stderr
    assert _calls(tmp_path / "calls") == [f"aws s3 cp --only-show-errors {report} s3://testing-bucket/reports/r.html"]
    assert done.stdout.strip() == f"uploaded {report} to s3://testing-bucket/reports/r.html"


def test_step_wrapper_stops_with_one_line_when_the_secret_cannot_be_read(package, tmp_path):
    step, ran = package / "deploy" / "emr" / "step.sh", tmp_path / "ran"
    result = _bash([step, "--pii-secret", "testing/missing", "touch", ran], _wrapper_env(tmp_path))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "step.sh: cannot read the secret testing/missing"
        " (does the instance profile allow secretsmanager:GetSecretValue on it?)"
    )
    assert not ran.exists()


@pytest.mark.slow
def test_alpr_check_and_report_steps_run_from_the_package(package, tmp_path):
    """The steps' Args as command-runner.jar runs them, on a copy of the package laid out as bootstrap.sh leaves
    it (its venv/ stands in for the virtualenv: .venv's python and visionlake), on local folders; the AWS CLI
    that uploads the report is a stand-in."""
    from visionlake.config import StorageSettings
    from visionlake.lake import storage as st
    from visionlake.sources.alpr.generate import iter_results
    from visionlake.sql import query

    home, raw, lake = tmp_path / "visionlake", tmp_path / "raw" / "alpr", tmp_path / "lake"
    report = tmp_path / "out" / "visionlake-report.html"
    shutil.copytree(package, home)
    for name in ("python", "visionlake"):
        _stub(home / "venv" / "bin", name, f'exec {VENV_BIN / name} "$@"\n')
    files = ((f.relative_path, f.body, f.mtime) for f in iter_results(6, seed=11, cameras=1, days=1))
    assert st.write_many(str(raw), files, StorageSettings(), 2) == 6

    def local(args: list[str]) -> list[str]:
        replace = {
            HOME: str(home),
            "s3://YOUR-BUCKET/raw/alpr": str(raw),
            "s3://YOUR-BUCKET/lake": str(lake),
            "/tmp/visionlake-report.html": str(report),
        }
        for old, new in replace.items():
            args = [a.replace(old, new) for a in args]
        return args

    env = {
        **_wrapper_env(tmp_path),
        "PATH": f"{tmp_path / 'bin'}:{VENV_BIN}:{SYSTEM_PATH}",  # the aws stand-in; spark-submit: pyspark's, in .venv
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_TESTING": "1",
        "VISIONLAKE__SPARK__CONF__spark.sql.shuffle.partitions": "2",  # emr.yaml's 64 only slow a 6-file run
        "VISIONLAKE__SPARK__CONF__spark.ui.enabled": "false",
    }
    run = _bash(local(_step("visionlake run alpr")), env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "6 new of 6 files listed" in run.stdout
    assert re.search(r"^  bronze/results +\+6$", run.stdout, re.M)
    assert re.search(r"^  silver/frames +\+6$", run.stdout, re.M)
    assert query(str(lake), "SELECT count(*) AS n FROM silver_alpr_frames").to_pylist() == [{"n": 6}]
    check = _bash(local(_step("visionlake check")), env)
    assert check.returncode == 0, check.stderr[-3000:]
    assert check.stdout.startswith(f"checks of {lake} (")
    passed = re.search(r"^  alpr: (\d+) of (\d+) checks passed$", check.stdout, re.M)
    assert passed and passed[1] == passed[2] != "0"
    made = _bash(local(_step("visionlake report")), env)
    assert made.returncode == 0, made.stderr[-3000:]
    assert made.stdout.startswith(f"report written to {report} (")
    assert made.stdout.splitlines()[-1] == f"uploaded {report} to s3://YOUR-BUCKET/reports/visionlake-report.html"
    assert _calls(tmp_path / "calls") == [
        f"aws s3 cp --only-show-errors {report} s3://YOUR-BUCKET/reports/visionlake-report.html"
    ]
    assert "<html" in report.read_text()[:500]
