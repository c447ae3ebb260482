"""Declared schemas of the ultimateALPR result JSON and of the ALPR lake tables.

The JSON schema is the union of every SDK version's fields (reference: ultimatealpr-json.md). It is
never inferred. ``year`` is a string because the SDK sends an int, a string or an interval ("0-9");
Spark keeps the JSON text of a number for a string field. ``lantency`` is the SDK sample's spelling.
"""

from __future__ import annotations

from pyspark.sql import types as T


def _f(name: str, kind: T.DataType, nullable: bool = True) -> T.StructField:
    return T.StructField(name, kind, nullable)


BOX = T.ArrayType(T.DoubleType())

CLASS_NAME = T.StructType([_f("confidence", T.DoubleType()), _f("klass", T.LongType()), _f("name", T.StringType())])
MAKE_MODEL_YEAR = T.StructType(
    [
        _f("confidence", T.DoubleType()),
        _f("klass", T.LongType()),
        _f("make", T.StringType()),
        _f("model", T.StringType()),
        _f("year", T.StringType()),
    ]
)
COUNTRY = T.StructType(
    [
        _f("code", T.StringType()),
        _f("confidence", T.DoubleType()),
        _f("klass", T.LongType()),
        _f("name", T.StringType()),
        _f("other", T.StringType()),
        _f("state", T.StringType()),
    ]
)
CAR = T.StructType(
    [
        _f("bodyStyle", T.ArrayType(CLASS_NAME)),
        _f("color", T.ArrayType(CLASS_NAME)),
        _f("confidence", T.DoubleType()),
        _f("makeModelYear", T.ArrayType(MAKE_MODEL_YEAR)),
        _f("warpedBox", BOX),
    ]
)
PLATE = T.StructType(
    [
        _f("car", CAR),
        _f("confidences", T.ArrayType(T.DoubleType())),
        _f("country", T.ArrayType(COUNTRY)),
        _f("text", T.StringType()),
        _f("warpedBox", BOX),
    ]
)
RESULT_FIELDS = [
    _f("duration", T.LongType()),
    _f("frame_id", T.LongType()),
    _f("job_idx", T.LongType()),
    _f("lantency", T.LongType()),
    _f("latency", T.LongType()),
    _f("plates", T.ArrayType(PLATE)),
    _f("timestamp", T.StringType()),
]
RESULT = T.StructType(RESULT_FIELDS)
REQUIRED_FIELDS = ("frame_id",)

# ------------------------------------------------------------------------------------------------
# lake tables (names and columns are a contract)

BRONZE = T.StructType(
    [
        _f("source_path", T.StringType(), False),
        _f("camera_id", T.StringType(), False),
        _f("size_bytes", T.LongType(), False),
        _f("modified_at", T.TimestampType(), False),
        _f("sha256", T.StringType()),
        _f("raw", T.StringType()),
        _f("read_error", T.StringType()),
        _f("new_fields", T.ArrayType(T.StringType())),  # "<path>:<json type>" of fields RESULT does not declare
        _f("trailing", T.BooleanType()),  # whether text follows the first JSON value; null: silver's parser decides
        _f("run_id", T.StringType(), False),
        _f("ingested_at", T.TimestampType(), False),
        _f("ingest_date", T.DateType(), False),
    ]
)
