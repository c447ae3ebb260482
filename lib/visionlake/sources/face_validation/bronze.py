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
    body = F.col("_body")
    parsed = F.col("_parsed")
    broken = jsonparse.broken(parsed)
    not_json = broken & jsonparse.not_json(body)
    top_level = F.col("_mismatched")
    refused = not_json | (top_level == jsonparse.all_fields(DOCUMENT))
    parse_error = (
        F.when(F.col("read_error").isNotNull(), F.col("read_error"))
        .when(F.length(body) == 0, F.lit("empty_file: a blank document"))
        .when(refused, F.col("_diagnosis"))
        .when(
            broken & ~body.startswith("{"), F.concat(F.lit("not_an_object: top level is "), jsonparse.json_kind(body))
        )
        .when(broken, F.concat(F.lit("schema_mismatch: wrong type: "), top_level))
        .when(
            jsonparse.trailing_data(body),
            F.lit("trailing_data: more text after the first JSON value (garbage or a second value)"),
        )
    )
    usable = F.col("parse_error").isNull()
    fields = {name: parsed[name] for name in DOCUMENT.fieldNames()}
    fields["_id"] = object_id(parsed["_id"])
    document = [F.when(usable, value).alias(name) for name, value in fields.items()]
    lineage = ["source_path", "source_offset", "source_size", "source_modified_at", "doc_sha256"]
    readable = F.col("read_error").isNull() & (F.length(body) > 0)
    return (
        read.withColumn("_body", jsonparse.body("text"))
        .withColumn("_parsed", F.when(readable, jsonparse.parse(body, DOCUMENT)))
        .withColumn(
            "_mismatched",
            F.when(
                readable & broken & ~not_json & body.startswith("{"), jsonparse.mismatched_fields("_body", DOCUMENT)
            ),
        )
        # Python only for the refused texts: it tells too_deep/too_large from malformed JSON
        .withColumn("_diagnosis", jsonparse.diagnosed(F.when(readable & refused, body)))
        .withColumn("parse_error", parse_error)
        .select(*document, *lineage, "parse_error", "new_fields")
        .transform(lambda rows: pseudonymised(rows, PSEUDONYMISED, key))
        .withColumn(
            "content_sha256",
            F.when(F.col("parse_error").isNull(), F.sha2(F.to_json(F.struct(*DOCUMENT.fieldNames())), 256)),
        )
    )
