"""``make package``: one folder holding everything a cluster needs, ready for ``aws s3 cp --recursive``."""

from __future__ import annotations

import zipfile

from tests.conftest import REPO, run_command

from visionlake.cli import SOURCES
from visionlake.config import CONF_DIR_ENV, load_config
from visionlake.quality.checks import load_suite


def test_package_holds_the_wheel_the_zip_jobs_conf_and_deploy_scripts(package):
    files = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    expected = {
        "visionlake.zip",
        "requirements-emr.txt",
        "jobs/run.py",
        "conf/base.yaml",
        "conf/emr.yaml",
        "conf/quality/alpr.yaml",
        "conf/quality/face_validation.yaml",
        "deploy/emr/bootstrap.sh",
        "deploy/emr/step.sh",
        "deploy/emr/steps.json",
        "deploy/emr/add_steps.py",
    }
    assert expected <= files
    assert len([f for f in files if f.startswith("visionlake-") and f.endswith("-py3-none-any.whl")]) == 1
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]


def test_package_wheel_installs_the_visionlake_command(package):
    (wheel,) = package.glob("visionlake-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "visionlake = visionlake.cli:entry_point" in archive.read(entry_points).decode()
    assert "visionlake/cli.py" in names
    assert "visionlake/sources/alpr/pipeline.py" in names


def test_package_zip_is_the_package_for_py_files(package):
    with zipfile.ZipFile(package / "visionlake.zip") as archive:
        names = set(archive.namelist())
    assert {"visionlake/__init__.py", "visionlake/cli.py", "visionlake/sources/face_validation/pipeline.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_package_requirements_are_the_runtime_pins_without_pyspark(package):
    shipped = [line for line in (package / "requirements-emr.txt").read_text().splitlines() if "==" in line]
    runtime = [line for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line]
    assert "pyspark==3.5.7" in runtime
    assert shipped == [line for line in runtime if not line.startswith("pyspark==")]


def test_package_conf_loads_the_emr_environment_and_quality_checks(package, monkeypatch):
    cfg = load_config("emr", environ={CONF_DIR_ENV: str(package / "conf")})
    assert cfg.spark.master is None  # spark-submit and the cluster set it
    assert cfg.spark.conf["spark.sql.shuffle.partitions"] == "64"
    assert cfg.ingest.read_threads == 64
    monkeypatch.setenv(CONF_DIR_ENV, str(package / "conf"))
    for source in SOURCES:
        assert load_suite(source).checks, f"no quality checks for {source} in the package's conf/"


def test_make_package_refuses_to_replace_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "keep.txt").write_text("not a package")
    result = run_command(["make", "--no-print-directory", "package", f"DIST={tmp_path}"])
    assert result.returncode != 0
    assert f"make package: refusing to replace {tmp_path}, which is not a previous package" in result.stdout
    assert (tmp_path / "keep.txt").read_text() == "not a package"
