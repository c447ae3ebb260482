"""The Python worker daemon of a local master: PySpark's own, importing PySpark from the installed package.

Spark puts its ``pyspark.zip``, ``py4j-*-src.zip`` and the ``spark-core`` jar (a zip of thousands of classes)
first on every Python worker's path, and a worker calls ``importlib.invalidate_caches()`` before each task. On
Python 3.11 that makes every zip importer re-read its archive's whole directory: tens of milliseconds per
task, across a run's hundreds of tasks. In a virtualenv with PySpark installed, the same modules are on the
path as plain files, so this daemon drops the three before it imports PySpark (it keeps them when PySpark is
not installed anywhere else).
``visionlake.spark`` names it in ``spark.python.daemon.module`` for local masters.
"""

from __future__ import annotations

import os
import re
import sys

# Spark puts on the path its python/lib zips and the spark-core jar it runs from (for Python files packed in it)
SPARK_ZIPS = re.compile(r"(^|[/\\])(pyspark\.zip|py4j-[^/\\]*-src\.zip|spark-core_[^/\\]*\.jar)$")


def without_spark_zips(path: list[str]) -> list[str]:
    """``path`` without those three archives when a folder of the rest of it holds the ``pyspark`` package."""
    rest = [p for p in path if not SPARK_ZIPS.search(p)]
    installed = any(os.path.isfile(os.path.join(p, "pyspark", "__init__.py")) for p in rest)
    return rest if installed and len(rest) < len(path) else path


if __name__ == "__main__":
    sys.path[:] = without_spark_zips(sys.path)
    sys.path_importer_cache.clear()
    from pyspark import daemon

    daemon.manager()
