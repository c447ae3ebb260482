"""Arrow record batches from row tuples, typed by the declared Spark schema (for ``mapInArrow`` readers)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema


def record_batch(rows: Sequence[tuple], schema: T.StructType) -> pa.RecordBatch:
    """One batch of ``rows`` (tuples in the schema's column order) with the Arrow types Spark expects."""
    arrow = to_arrow_schema(schema)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in arrow]
    return pa.RecordBatch.from_arrays(
        [pa.array(list(values), type=field.type) for values, field in zip(columns, arrow, strict=True)], schema=arrow
    )
