"""The one Spark session factory.

It applies the config's ``spark`` section, points Python workers at this interpreter for local
masters, adds the S3A jars that ``make setup`` extracted (``.jars/``, or ``VISIONLAKE_JARS_DIR``) and the
S3A settings derived from the storage config. On EMR, spark-submit and the cluster supply the master,
EMRFS and (if enabled) Delta; nothing here downloads anything.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from visionlake.config import Config
from visionlake.lake.storage import s3a_conf

JARS_DIR_ENV = "VISIONLAKE_JARS_DIR"
DEFAULT_JARS_DIR = Path(__file__).resolve().parents[2] / ".jars"


def s3a_jars() -> list[str]:
    folder = Path(os.environ.get(JARS_DIR_ENV) or DEFAULT_JARS_DIR)
    return sorted(str(p) for p in folder.glob("*.jar")) if folder.is_dir() else []


def session_conf(cfg: Config) -> dict[str, str]:
    """Every setting the session is built with, config first, derived settings after."""
    conf = dict(cfg.spark.conf)
    jars = s3a_jars()
    if jars:
        existing = [j for j in conf.get("spark.jars", "").split(",") if j]
        conf["spark.jars"] = ",".join(existing + jars)
        for key, value in s3a_conf(cfg.storage).items():
            conf.setdefault(key, value)
    return conf


def build_session(app_name: str, cfg: Config) -> SparkSession:
    """Build (or return the running) session for ``cfg``."""
    if (cfg.spark.master or "").startswith("local"):
        # Python workers of a local master run this interpreter (and so see this virtualenv); pyspark
        # reads the variable, not the spark.pyspark.python setting, when it starts them.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Embedded masters talk to themselves only: bind the driver and any local-cluster executors to loopback.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    if cfg.spark.master:
        builder = builder.master(cfg.spark.master)
    for key, value in session_conf(cfg).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
