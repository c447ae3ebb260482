"""The one Spark session factory.

It applies the config's ``spark`` section, points Python workers at this interpreter for local
masters, adds the S3A jars that ``make setup`` extracted (``.jars/``, or ``VISIONLAKE_JARS_DIR``) and the
S3A settings derived from the storage config. On EMR, spark-submit and the cluster supply the master,
EMRFS and (if enabled) Delta; nothing here downloads anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from visionlake.config import Config
from visionlake.lake.storage import s3a_conf

JARS_DIR_ENV = "VISIONLAKE_JARS_DIR"
DEFAULT_JARS_DIR = Path(__file__).resolve().parents[2] / ".jars"
# A class-data-sharing archive of the driver JVM's classes (``make setup`` writes it: ``make jvm-archive``).
# A local driver maps it instead of loading and verifying Spark's classes one by one, which takes seconds of
# every short run. A JVM that cannot use it (another JDK or class path) ignores it.
CLASS_ARCHIVE = "driver-classes.jsa"
# PySpark's worker daemon, importing PySpark from the installed package rather than Spark's zips: a
# worker then no longer re-reads the zips' directories before every task (visionlake.pydaemon).
PYTHON_DAEMON, LOCAL_DAEMON = "spark.python.daemon.module", "visionlake.pydaemon"
ARCHIVE_DUMP_ENV = "VISIONLAKE_CLASS_ARCHIVE_DUMP"  # set to a path: the driver writes its classes there at exit


def jars_dir() -> Path:
    return Path(os.environ.get(JARS_DIR_ENV) or DEFAULT_JARS_DIR)


def s3a_jars() -> list[str]:
    folder = jars_dir()
    return sorted(str(p) for p in folder.glob("*.jar")) if folder.is_dir() else []


def _driver_java_options(configured: str) -> str:
    """The configured driver JVM options plus the class archive: used when present, written when asked."""
    options = [configured] if configured else []
    archive = jars_dir() / CLASS_ARCHIVE
    if os.environ.get(ARCHIVE_DUMP_ENV):
        options.append(f"-XX:ArchiveClassesAtExit={os.environ[ARCHIVE_DUMP_ENV]}")
    elif archive.is_file():
        options += [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
    return " ".join(options)


QUIET_LOG_CONFIG = Path(__file__).resolve().parent / "log4j2-quiet.properties"


def session_conf(cfg: Config, quiet: bool = False, s3: bool = True) -> dict[str, str]:
    """Every setting the session is built with, config first, derived settings after. ``quiet``: the driver's
    JVM logs nothing (see ``log4j2-quiet.properties``). ``s3``: the S3A jars and settings, which a session that
    reads and writes only local paths goes without: they cost a local driver about 0.9 s of its start (2.5 s
    instead of 1.6 s to build the session, three rounds, Dec 7)."""
    conf = dict(cfg.spark.conf)
    if quiet:
        option = f"-Dlog4j2.configurationFile={QUIET_LOG_CONFIG}"
        conf["spark.driver.extraJavaOptions"] = " ".join(
            filter(None, [conf.get("spark.driver.extraJavaOptions"), option])
        )
    jars = s3a_jars() if s3 else []
    if jars:
        existing = [j for j in conf.get("spark.jars", "").split(",") if j]
        conf["spark.jars"] = ",".join(existing + jars)
        for key, value in s3a_conf(cfg.storage).items():
            conf.setdefault(key, value)
    if (cfg.spark.master or "").startswith("local"):
        options = _driver_java_options(conf.get("spark.driver.extraJavaOptions", ""))
        if options:
            conf["spark.driver.extraJavaOptions"] = options
        # Workers of a local master run this interpreter, which imports visionlake (see build_session).
        conf.setdefault(PYTHON_DAEMON, LOCAL_DAEMON)
    return conf


QUICK_JIT = "-XX:TieredStopAtLevel=1"
# Spark's settings for evaluating expressions without generating and compiling Java code (the factory mode is an
# internal setting: interpreted projections and predicates; whole-stage codegen is the public one).
INTERPRETED = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}
UI = "spark.ui.enabled"


def for_input(cfg: Config, work_bytes: int) -> Config:
    """``cfg`` for a run that will read ``work_bytes`` of input: below ``ingest.quick_start_mb`` a local
    driver compiles with the JIT's quick tier only (C1). A short run spends more on C2's compiles, which
    compete with the work for two cores, than it gains from C2's code: a 10,000-file increment took 12.3 s
    instead of about 17 s. A long run loses with C1 (1,000,000 files: 142 s instead of 82 s), hence the limit.

    Below ``ingest.interpret_below_mb`` Spark also evaluates expressions without generating code (``INTERPRETED``):
    a run of a few files spends more of its CPU generating and compiling Java code for each query than running
    it (20 ALPR files, 15 KB: the driver JVM's CPU 12.2 s instead of 15.2 s, median of three). A larger run needs
    the generated code (100,000 detection frames, 101 MB: 45.3 and 50.0 s with it, 51.3 and 58.6 s without;
    20,000 frames, 20 MB, were even), hence a limit of a few MB. Such a run, over in seconds, starts no web UI
    either unless the config asks for one (``spark.ui.enabled``): 9 files, median of four, ALPR 14.2 s instead
    of 16.1 s, face_recognition 21.9 s instead of 23.3 s.

    ``work_bytes`` is what the run may have to do: the command line gives the size of the new input or, with none,
    that of the source's bronze tables (:meth:`~visionlake.sources.runner.SourceRun.bronze_bytes`)."""
    if not (cfg.spark.master or "").startswith("local") or work_bytes >= cfg.ingest.quick_start_mb << 20:
        return cfg
    conf = dict(cfg.spark.conf)
    conf["spark.driver.extraJavaOptions"] = " ".join(
        filter(None, [conf.get("spark.driver.extraJavaOptions"), QUICK_JIT])
    )
    if work_bytes < cfg.ingest.interpret_below_mb << 20:
        conf.update(INTERPRETED)
        conf.setdefault(UI, "false")
    return dataclasses.replace(cfg, spark=dataclasses.replace(cfg.spark, conf=conf))


def build_session(app_name: str, cfg: Config, quiet: bool = False, s3: bool = True) -> SparkSession:
    """Build (or return the running) session for ``cfg``; ``quiet``: no JVM log line on the terminal; ``s3``: with
    the S3A jars (see :func:`session_conf`)."""
    if (cfg.spark.master or "").startswith("local"):
        # Python workers of a local master run this interpreter (and so see this virtualenv); pyspark
        # reads the variable, not the spark.pyspark.python setting, when it starts them.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Embedded masters talk to themselves only: bind the driver and any local-cluster executors to loopback.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    if cfg.spark.master:
        builder = builder.master(cfg.spark.master)
    for key, value in session_conf(cfg, quiet, s3).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("OFF" if quiet else "WARN")
    pin_jvm_classes(spark.sparkContext._jvm)
    if threading.current_thread() is threading.main_thread():
        # PySpark's Ctrl-C handler calls into the JVM to cancel the jobs from within the call the JVM is in: py4j
        # refused the reentrant call with four tracebacks (until Dec 7). Ctrl-C now raises KeyboardInterrupt, which
        # the command reports in one line; stopping the session cancels the jobs.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return spark


# The classes PySpark looks up by their short name on every call: each function of pyspark.sql.functions looks up
# ``functions``, each list passed to the JVM ``PythonUtils``, each DataFrame ``SparkSession``.
PINNED_CLASSES = ("functions", "PythonUtils", "SparkSession", "SparkSession$")


def pin_jvm_classes(jvm: object) -> None:
    """Resolve ``PINNED_CLASSES`` once on PySpark's view of the JVM. Py4J resolves a short name anew at every
    lookup, trying it as it stands and then in each package PySpark imports, and each miss searches every jar of
    the class path: 0.5-1 ms each, of the driver JVM's CPU and the Python thread's time. A 9-file
    face_recognition run made 4,011 lookups (3.7 s), 3,504 of them of these classes; pinned, 518 (0.4 s), and
    the run took 25.8 s instead of 27.3 s (median of four). A name set on the view is found by Python before
    Py4J is asked (the view holds no other state)."""
    for name in PINNED_CLASSES:
        if name not in vars(jvm):
            setattr(jvm, name, getattr(jvm, name))


@contextlib.contextmanager
def sql_settings(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """``settings`` (runtime Spark SQL settings) on ``spark``'s session inside the block, each put back as it was
    after it (unset if it was), whatever the block raised: for one source's run (``SourceRun.SQL_CONF``) in a
    session other runs share."""
    before = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
