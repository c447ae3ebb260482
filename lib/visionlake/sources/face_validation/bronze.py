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

from visionlake.ingest import jsonparse
from visionlake.sources.face_validation.schema import DOCUMENT, PSEUDONYMISED
from visionlake.transforms.pseudonymise import pseudonym

OID = r'^\{\s*"\$oid"\s*:\s*"([^"]*)"\s*\}$'


def object_id(value: Column) -> Column:
    """``{"$oid": "..."}`` (as JSON text) -> its hex string; any other string is kept as it is."""
    oid = F.regexp_extract(value, OID, 1)
    return F.when(oid != "", oid).otherwise(value)


def parse_documents(read: DataFrame, key: bytes) -> DataFrame:
    """Bronze columns (the document's fields, then lineage without the run columns) from rows with
    ``text`` and ``read_error`` (see :mod:`visionlake.ingest.documents`)."""
    body = jsonparse.body("text")
    parsed = F.col("_parsed")
    broken = jsonparse.broken(parsed)
    parse_error = (
        F.when(F.col("read_error").isNotNull(), F.col("read_error"))
        .when(broken & jsonparse.not_json(body), F.lit("invalid_json: not parseable as JSON (malformed or truncated)"))
        .when(
            broken & ~body.startswith("{"), F.concat(F.lit("not_an_object: top level is "), jsonparse.json_kind(body))
        )
        .when(broken, F.concat(F.lit("schema_mismatch: wrong type: "), jsonparse.mismatched_fields(body, DOCUMENT)))
    )
    fields = {name: parsed[name] for name in DOCUMENT.fieldNames()}
    fields["_id"] = object_id(parsed["_id"])
    for path in PSEUDONYMISED:
        head, _, leaf = path.partition(".")
        if leaf:
            fields[head] = fields[head].withField(leaf, pseudonym(parsed[head][leaf], key))
        else:
            fields[head] = pseudonym(parsed[head], key)
    document = [value.alias(name) for name, value in fields.items()]
    lineage = ["source_path", "source_offset", "source_size", "source_modified_at", "doc_sha256"]
    return (
        read.withColumn("_parsed", F.when(F.col("read_error").isNull(), jsonparse.parse(body, DOCUMENT)))
        .withColumn("parse_error", parse_error)
        .select(*document, *lineage, "parse_error")
        .withColumn(
            "content_sha256",
            F.when(F.col("parse_error").isNull(), F.sha2(F.to_json(F.struct(*DOCUMENT.fieldNames())), 256)),
        )
    )
