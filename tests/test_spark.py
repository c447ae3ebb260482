"""The session factory's derived settings: S3A jars, the driver's class archive and the workers' daemon (no Spark
started), the JVM classes a session resolves once and how a read of many files lists them (the last two tests use
the tests' running session)."""

from __future__ import annotations

import dataclasses
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import functions as F

from visionlake.config import SparkSettings, load_config
from visionlake.pydaemon import without_spark_zips
from visionlake.spark import ARCHIVE_DUMP_ENV, for_input, pin_jvm_classes, session_conf


def config(master: str, java_options: str | None = None):
    cfg = load_config("local", environ={})
    conf = {"spark.sql.session.timeZone": "UTC"}
    if java_options:
        conf["spark.driver.extraJavaOptions"] = java_options
    return dataclasses.replace(cfg, spark=SparkSettings(master=master, conf=conf))


def test_local_driver_maps_the_class_archive_when_setup_wrote_one(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONLAKE_JARS_DIR", str(tmp_path))
    monkeypatch.delenv(ARCHIVE_DUMP_ENV, raising=False)
    (tmp_path / "hadoop-aws-3.3.1.jar").write_bytes(b"")
    assert "spark.driver.extraJavaOptions" not in session_conf(config("local[2]"))
    (tmp_path / "driver-classes.jsa").write_bytes(b"archive")
    options = session_conf(config("local[2]", "-XX:TieredStopAtLevel=1"))["spark.driver.extraJavaOptions"]
    assert options == (
        f"-XX:TieredStopAtLevel=1 -XX:SharedArchiveFile={tmp_path / 'driver-classes.jsa'} -Xlog:cds=off "
        "-Xlog:cds+dynamic=off"
    )
    assert session_conf(config("local[2]"))["spark.jars"] == str(tmp_path / "hadoop-aws-3.3.1.jar")
    assert session_conf(config("local[2]"))["spark.hadoop.fs.s3a.path.style.access"] == "false"
    # a session for local paths only goes without the S3A jars and settings; it keeps the archive
    local = session_conf(config("local[2]"), s3=False)
    assert "spark.jars" not in local and not any(key.startswith("spark.hadoop.fs.s3a.") for key in local)
    assert "-XX:SharedArchiveFile=" in local["spark.driver.extraJavaOptions"]
    # a cluster's driver is not this machine's JVM: nothing added
    assert "spark.driver.extraJavaOptions" not in session_conf(config("yarn"))


def test_dump_mode_writes_the_archive_instead_of_reading_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONLAKE_JARS_DIR", str(tmp_path))
    (tmp_path / "driver-classes.jsa").write_bytes(b"old")
    monkeypatch.setenv(ARCHIVE_DUMP_ENV, str(tmp_path / "new.jsa"))
    options = session_conf(config("local[*]"))["spark.driver.extraJavaOptions"]
    assert options == f"-XX:ArchiveClassesAtExit={tmp_path / 'new.jsa'}"


def test_small_local_runs_use_the_quick_jit_tier_only():
    cfg = config("local[2]", "-Xss4m")
    assert cfg.ingest.quick_start_mb == 256
    small = for_input(cfg, 255 << 20).spark.conf["spark.driver.extraJavaOptions"]
    assert small == "-Xss4m -XX:TieredStopAtLevel=1"
    assert for_input(cfg, 256 << 20) is cfg
    assert for_input(config("yarn"), 0).spark.conf == config("yarn").spark.conf


def test_runs_of_a_few_files_evaluate_expressions_without_generating_code():
    cfg = config("local[2]", "-Xss4m")
    assert cfg.ingest.interpret_below_mb == 4
    tiny = for_input(cfg, (4 << 20) - 1).spark.conf
    assert tiny["spark.sql.codegen.wholeStage"] == "false"
    assert tiny["spark.sql.codegen.factoryMode"] == "NO_CODEGEN"
    assert tiny["spark.driver.extraJavaOptions"] == "-Xss4m -XX:TieredStopAtLevel=1"
    assert tiny["spark.ui.enabled"] == "false"  # over in seconds: no web UI
    small = for_input(cfg, 4 << 20).spark.conf
    assert "spark.sql.codegen.wholeStage" not in small and "spark.sql.codegen.factoryMode" not in small
    assert small["spark.driver.extraJavaOptions"] == "-Xss4m -XX:TieredStopAtLevel=1"
    assert "spark.ui.enabled" not in small
    assert for_input(config("yarn"), 0).spark.conf == config("yarn").spark.conf


def test_a_configured_web_ui_is_kept_for_a_run_of_a_few_files():
    base = config("local[2]")
    cfg = dataclasses.replace(base, spark=dataclasses.replace(base.spark, conf={"spark.ui.enabled": "true"}))
    assert for_input(cfg, 0).spark.conf["spark.ui.enabled"] == "true"


def test_local_workers_run_visionlakes_daemon_and_cluster_workers_their_own():
    assert session_conf(config("local[2]"))["spark.python.daemon.module"] == "visionlake.pydaemon"
    assert session_conf(config("local-cluster[2,1,1024]"))["spark.python.daemon.module"] == "visionlake.pydaemon"
    assert "spark.python.daemon.module" not in session_conf(config("yarn"))


def test_the_daemon_drops_sparks_zips_only_when_pyspark_is_installed_elsewhere(tmp_path):
    zips = [
        "/opt/spark/python/lib/pyspark.zip",
        "/opt/spark/python/lib/py4j-0.10.9.7-src.zip",
        "/opt/spark/jars/spark-core_2.12-3.5.7.jar",
    ]
    site = tmp_path / "site-packages"
    path = [*zips, "/jobs/deps.zip", str(site)]
    assert without_spark_zips(path) == path  # no pyspark in site-packages: the zips are all there is
    (site / "pyspark").mkdir(parents=True)
    (site / "pyspark" / "__init__.py").write_text("")
    assert without_spark_zips(path) == ["/jobs/deps.zip", str(site)]  # a job's own zip stays
    assert without_spark_zips([str(site)]) == [str(site)]


class CountingView:
    """A stand-in for Py4J's view of the JVM: every name it is asked for is a lookup in the JVM, counted."""

    def __init__(self):
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> str:
        self.asked.append(name)
        return f"class {name}"


def test_the_classes_pyspark_looks_up_on_every_call_are_resolved_once():
    view = CountingView()
    pin_jvm_classes(view)
    assert view.asked == ["functions", "PythonUtils", "SparkSession", "SparkSession$"]
    assert (view.functions, view.PythonUtils, getattr(view, "SparkSession$")) == (
        "class functions",
        "class PythonUtils",
        "class SparkSession$",
    )
    assert view.Column == "class Column"  # any other name is still looked up
    pin_jvm_classes(view)  # a second session on the same view asks nothing again
    assert view.asked == ["functions", "PythonUtils", "SparkSession", "SparkSession$", "Column"]


def test_the_running_session_s_pinned_classes_are_spark_s(spark):
    jvm = spark.sparkContext._jvm
    assert vars(jvm)["functions"]._fqn == "org.apache.spark.sql.functions"
    assert vars(jvm)["PythonUtils"]._fqn == "org.apache.spark.api.python.PythonUtils"
    assert vars(jvm)["SparkSession$"]._fqn == "org.apache.spark.sql.SparkSession$"
    assert spark.range(3).select(F.sum(F.col("id") + F.lit(1))).first()[0] == 6


def test_the_files_of_a_read_of_many_files_are_listed_by_a_few_tasks(spark, tmp_path):
    # Spark stats the files of a read of more than 32 paths in a job: by default one task per file (40 here)
    paths = []
    for i in range(40):
        pq.write_table(pa.table({"n": [i]}), tmp_path / f"part-{i:02}.parquet")
        paths.append(str(tmp_path / f"part-{i:02}.parquet"))
    context, group = spark.sparkContext, f"listing-{uuid.uuid4().hex}"
    context.setJobGroup(group, "the listing of 40 files")
    try:
        df = spark.read.schema("n long").parquet(*paths)
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    tracker = context.statusTracker()
    stages = [s for job in tracker.getJobIdsForGroup(group) for s in tracker.getJobInfo(job).stageIds]
    assert [tracker.getStageInfo(s).numTasks for s in stages] == [8]
    assert df.agg(F.sum("n")).first()[0] == 780  # 0 + 1 + ... + 39: every file read
