"""The local workers' daemon (visionlake.pydaemon) as Spark starts it: PySpark comes from the installed package."""

from __future__ import annotations

import pyarrow as pa


def test_local_workers_import_pyspark_from_the_package_not_sparks_zip(spark):
    def probe(batches):
        import sys

        import pyspark

        zip_importers = [p for p, f in sys.path_importer_cache.items() if type(f).__name__ == "zipimporter"]
        for _ in batches:
            yield pa.RecordBatch.from_pylist([{"module": pyspark.__file__, "zip_importers": len(zip_importers)}])

    (row,) = spark.range(1, numPartitions=1).mapInArrow(probe, "module string, zip_importers long").collect()
    assert row.module.endswith("site-packages/pyspark/__init__.py")
    assert row.zip_importers == 0
