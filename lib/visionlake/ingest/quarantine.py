"""The quarantine table: every record that could not be used, with its reason. Same columns for every source."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

RAW_PREFIX_CHARS = 64 * 1024

QUARANTINE = T.StructType(
    [
        T.StructField("source_path", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("detail", T.StringType(), True),
        T.StructField("raw", T.StringType(), True),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)


def to_quarantine(df: DataFrame, run_id: str, ingested_at: Column) -> DataFrame:
    """Quarantine rows from rows that carry ``source_path``, ``reason``, ``detail`` and ``raw``.

    ``raw`` keeps its first 64 KB; ``run_id`` and ``ingested_at`` are those of the run that quarantined it.
    """
    return df.select(
        "source_path",
        "reason",
        "detail",
        F.substring("raw", 1, RAW_PREFIX_CHARS).alias("raw"),
        F.lit(run_id).alias("run_id"),
        ingested_at.alias("ingested_at"),
    )


def with_copies_marked(rows: DataFrame, firsts: DataFrame, key: str, holder: str) -> DataFrame:
    """``rows`` (with ``source_path``, ``reason`` and ``detail``) with the reason ``duplicate_file`` on each usable row
    that is a byte-identical copy of another file: ``firsts`` holds ``key`` and ``first_path``, the file counted
    for that key; a row whose own path is the first one is no copy. The detail names the first file: "same
    <holder>, name and content as <first_path>"."""
    duplicate = (
        F.col("reason").isNull() & F.col("first_path").isNotNull() & (F.col("source_path") != F.col("first_path"))
    )
    return (
        rows.join(firsts, key, "left")
        .withColumns(
            {
                "reason": F.when(duplicate, "duplicate_file").otherwise(F.col("reason")),
                "detail": F.when(
                    duplicate, F.concat(F.lit(f"same {holder}, name and content as "), "first_path")
                ).otherwise(F.col("detail")),
            }
        )
        .drop("first_path")
    )
