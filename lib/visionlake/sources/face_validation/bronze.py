"""Documents as read -> bronze rows: parsed with the allowlist schema, redacted and pseudonymised.

The document text never leaves this function: parsing with :data:`~.schema.DOCUMENT` drops everything the
allowlist does not name (trazabilidad, azure_blob, landmarks, bounding boxes), and the five identifying
values are replaced by keyed pseudonyms. A document that cannot be parsed keeps its lineage and gets
``parse_error`` = ``<reason>: <detail>``, with reasons ``unreadable``, ``invalid_encoding``,
``invalid_json``, ``not_an_object`` and ``schema_mismatch`` (the detail names the top-level fields).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.sources.face_validation.schema import CORRUPT_COLUMN, DOCUMENT, DOCUMENT_WITH_CORRUPT
from visionlake.transforms.pseudonymise import pseudonym

_LEADING = " \\t\\r\\n\\uFEFF"  # whitespace and a byte-order mark may precede the JSON (SQL escapes)
# Any option keeps Spark's JSON optimizer from pruning the parse to the fields a query reads, which
# would hide a wrong-typed field from the corrupt-record column.
PARSE_OPTIONS = {"mode": "PERMISSIVE"}
OID = r'^\{\s*"\$oid"\s*:\s*"([^"]*)"\s*\}$'


def _mismatched_fields(body: Column) -> Column:
    """Comma-separated names of the top-level fields whose JSON value does not fit the declared type."""
    checks = []
    for field in DOCUMENT.fields:
        probe = T.StructType([field, T.StructField(CORRUPT_COLUMN, T.StringType())])
        bad = F.from_json(body, probe, PARSE_OPTIONS)[CORRUPT_COLUMN].isNotNull()
        checks.append(F.when(bad, F.lit(field.name)))
    return F.concat_ws(", ", *checks)


def _json_kind(first_char: Column) -> Column:
    return (
        F.when(first_char == "[", "an array")
        .when(first_char == '"', "a string")
        .when(first_char == "n", "null")
        .when(first_char.isin("t", "f"), "a boolean")
        .otherwise("a number")
    )


def object_id(value: Column) -> Column:
    """``{"$oid": "..."}`` (as JSON text) -> its hex string; any other string is kept as it is."""
    oid = F.regexp_extract(value, OID, 1)
    return F.when(oid != "", oid).otherwise(value)


def parse_documents(read: DataFrame, key: bytes) -> DataFrame:
    """Bronze columns (the document's fields, then lineage without the run columns) from rows with
    ``text`` and ``read_error`` (see :mod:`visionlake.ingest.documents`)."""
    body = F.expr(f"trim(LEADING '{_LEADING}' FROM text)")
    parsed = F.col("_parsed")
    broken = parsed.isNull() | parsed[CORRUPT_COLUMN].isNotNull()
    not_json = F.get_json_object(body, "$").isNull()
    parse_error = (
        F.when(F.col("read_error").isNotNull(), F.col("read_error"))
        .when(broken & not_json, F.lit("invalid_json: not parseable as JSON (malformed or truncated)"))
        .when(
            broken & ~body.startswith("{"),
            F.concat(F.lit("not_an_object: top level is "), _json_kind(F.substring(body, 1, 1))),
        )
        .when(broken, F.concat(F.lit("schema_mismatch: wrong type: "), _mismatched_fields(body)))
    )
    user_data = parsed["user_data"]
    fields = {name: parsed[name] for name in DOCUMENT.fieldNames()}
    fields.update(
        {
            "_id": object_id(parsed["_id"]),
            "user_name": pseudonym(parsed["user_name"], key),
            "file_token": pseudonym(parsed["file_token"], key),
            "user_data": user_data.withField("procesoConvenioGuid", pseudonym(user_data["procesoConvenioGuid"], key))
            .withField("convenio", pseudonym(user_data["convenio"], key))
            .withField("documento", pseudonym(user_data["documento"], key)),
        }
    )
    document = [value.alias(name) for name, value in fields.items()]
    lineage = ["source_path", "source_offset", "source_size", "source_modified_at", "doc_sha256"]
    return (
        read.withColumn(
            "_parsed", F.when(F.col("read_error").isNull(), F.from_json(body, DOCUMENT_WITH_CORRUPT, PARSE_OPTIONS))
        )
        .withColumn("parse_error", parse_error)
        .select(*document, *lineage, "parse_error")
        .withColumn(
            "content_sha256",
            F.when(F.col("parse_error").isNull(), F.sha2(F.to_json(F.struct(*DOCUMENT.fieldNames())), 256)),
        )
    )
