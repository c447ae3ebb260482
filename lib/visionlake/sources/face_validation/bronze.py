"""Documents as read -> bronze rows: parsed with the allowlist schema, redacted and pseudonymised.

The document text never leaves this function: parsing with :data:`~.schema.DOCUMENT` drops everything the
allowlist does not name (trazabilidad, azure_blob, landmarks, bounding boxes), and the five identifying
values are replaced by keyed pseudonyms. A document that cannot be parsed keeps its lineage and gets
``parse_error`` = ``<reason>: <detail>``, with reasons ``unreadable``, ``invalid_encoding``,
``empty_file``, ``invalid_json`` / ``too_deep`` / ``too_large`` (the detail says where, or which parser
limit), ``not_an_object``, ``schema_mismatch`` (the detail names the fields; a string field that got an
object or array counts, except ``_id`` and ``date``, which hold MongoDB Extended JSON),
``trailing_data`` (text after the first value) and ``non_finite_number`` (NaN or an infinity; the value
never reaches the lake). A key that appears twice keeps its last value.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from visionlake.ingest import jsonparse
from visionlake.sources.face_validation.schema import DOCUMENT, PSEUDONYMISED
from visionlake.transforms.pseudonymise import pseudonymised

OID = r'^\{\s*"\$oid"\s*:\s*"([^"]*)"\s*\}$'


def object_id(value: Column) -> Column:
    """``{"$oid": "..."}`` (as JSON text) -> its hex string; any other string is kept as it is."""
    oid = F.regexp_extract(value, OID, 1)
    return F.when(oid != "", oid).otherwise(value)


def parse_documents(read: DataFrame, key: bytes) -> DataFrame:
    """Bronze columns (the document's fields, then lineage without the run columns) from rows with
    ``text`` and ``read_error`` (see :mod:`visionlake.ingest.documents`).

    A document that cannot be used keeps only its lineage (its fields are null) and gets ``parse_error``.
    """
    return (
        jsonparse.parsed_documents(read, DOCUMENT, {"_id": object_id(F.col("_parsed")["_id"])})
        .transform(lambda rows: pseudonymised(rows, PSEUDONYMISED, key))
        .withColumn(
            "content_sha256",
            F.when(F.col("parse_error").isNull(), F.sha2(F.to_json(F.struct(*DOCUMENT.fieldNames())), 256)),
        )
    )
