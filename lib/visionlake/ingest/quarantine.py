"""The quarantine table: every record that could not be used, with its reason. Same columns for every source."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
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


def located_rows(classified: DataFrame, fields: list[str]) -> DataFrame:
    """The rejected rows (``reason`` not null) of a source whose records are documents or lines in files:
    source_path, reason, detail prefixed with the record's byte offset, and raw: the record's kept ``fields`` as
    JSON when it could be parsed (``parse_error`` null), never the text as read."""
    parsed = F.col("parse_error").isNull()
    return classified.where(F.col("reason").isNotNull()).select(
        "source_path",
        "reason",
        F.concat(
            F.lit("byte "), F.col("source_offset").cast("string"), F.lit(": "), F.coalesce("detail", F.lit(""))
        ).alias("detail"),
        F.when(parsed, F.to_json(F.struct(*fields))).alias("raw"),
    )


ORDER = ["ingested_at", "source_path", "source_offset"]  # ingestion order: the first of a key is kept


def keys_present(keys: list[str]) -> Column:
    """True where none of ``keys`` is null: a row with a null key repeats no other."""
    present = F.lit(True)
    for key in keys:
        present = present & F.col(key).isNotNull()
    return present


def duplicate_keys(batch: DataFrame, earlier: DataFrame | None, keys: list[str]) -> DataFrame:
    """The usable rows of ``batch`` whose ``keys`` (none of them null: a row with a null key repeats no other) were
    seen first elsewhere: ``source_path``, ``source_offset``, ``_first_sha`` and ``_first_at`` (the first row's
    content hash and ``<path> at byte <offset>``). The first row of a key in ingestion order (:data:`ORDER`) is
    kept. Usually few rows: a caller may compute them first and give them to :func:`with_duplicates_marked` as a
    broadcast table.

    Args:
        batch: rows with ``keys``, ``content_sha256``, :data:`ORDER` and ``reason`` (null when usable so far).
        earlier: the same columns of the usable rows consumed before, or None.
    """
    columns = [*keys, "content_sha256", *ORDER]
    keyed = F.col("reason").isNull() & keys_present(keys)
    usable = batch.where(keyed).select(*columns, F.lit(False).alias("_earlier"))
    if earlier is not None:
        usable = usable.unionByName(earlier.where(keyed).select(*columns, F.lit(True).alias("_earlier")))
    window = Window.partitionBy(*keys).orderBy(*ORDER)
    return (
        usable.withColumns(
            {
                "_first_sha": F.first("content_sha256").over(window),
                "_first_at": F.first(
                    F.concat_ws(" at byte ", "source_path", F.col("source_offset").cast("string"))
                ).over(window),
                "_rank": F.row_number().over(window),
            }
        )
        .where(~F.col("_earlier") & (F.col("_rank") > 1))
        .select("source_path", "source_offset", "_first_sha", "_first_at")
    )


def with_duplicates_marked(batch: DataFrame, found: DataFrame, name: str, label: str) -> DataFrame:
    """``batch`` with ``reason`` ``duplicate_<name>`` on each row of ``found`` (:func:`duplicate_keys`) whose
    content is the same as its key's first row and ``conflicting_duplicate_<name>`` on the others; ``detail``
    names the first (``same <label> and content as <path> at byte <offset>``; ``label``: ``_id``,
    ``request_id``). ``batch`` also needs ``detail``."""
    duplicate = F.col("_first_at").isNotNull()
    same = F.col("_first_sha") == F.col("content_sha256")
    return (
        batch.join(found, ["source_path", "source_offset"], "left")
        .withColumns(
            {
                "reason": F.when(duplicate & same, f"duplicate_{name}")
                .when(duplicate, f"conflicting_duplicate_{name}")
                .otherwise(F.col("reason")),
                "detail": F.when(duplicate & same, F.concat(F.lit(f"same {label} and content as "), "_first_at"))
                .when(duplicate, F.concat(F.lit(f"same {label} as "), "_first_at", F.lit(", different content")))
                .otherwise(F.col("detail")),
            }
        )
        .drop("_first_sha", "_first_at")
    )
