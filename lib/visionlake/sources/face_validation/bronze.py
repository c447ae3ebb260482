"""Documents as read -> bronze rows: parsed with the allowlist schema, redacted and pseudonymised.

The document text never leaves this function: parsing with :data:`~.schema.DOCUMENT` drops everything the
allowlist does not name (trazabilidad, azure_blob, landmarks, bounding boxes), the five identifying
values are replaced by keyed pseudonyms, and the e-mail and IP addresses in its free text (:data:`FREE_TEXT`) by their
shapes (:func:`~visionlake.transforms.scrub.scrubbed`). A document that cannot be parsed keeps its lineage and gets
``parse_error`` = ``<reason>: <detail>``, with reasons ``unreadable``, ``invalid_encoding``,
``empty_file``, ``invalid_json`` / ``too_deep`` / ``too_large`` (the detail says where, or which parser
limit), ``not_an_object``, ``schema_mismatch`` (the detail names the fields; a string field that got an
object or array counts, except ``_id`` and ``date``, which hold MongoDB Extended JSON),
``trailing_data`` (text after the first value) and ``non_finite_number`` (NaN or an infinity; the value
never reaches the lake). A key that appears twice keeps its last value.

``_id`` and ``date`` hold MongoDB Extended JSON, so any object is let through there; only what MongoDB writes is
kept of it. An ``_id`` that is not an ObjectId (an e-mail, a compound key holding a document number, an
``$oid`` object with other keys) becomes a keyed pseudonym like the identifying values (the same id, the same
pseudonym: duplicates are still found); a ``date`` object keeps its ``$date`` alone.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from visionlake.ingest import jsonparse
from visionlake.sources.face_validation.schema import DOCUMENT, PSEUDONYMISED
from visionlake.transforms.pseudonymise import pseudonymised
from visionlake.transforms.scrub import holds_text, scrubbed_columns

# The fields whose text the API or a client may hold an e-mail or an IP address in ("usuario ana@example.org desde
# 203.0.113.9"): every field of the document that holds text, but _id (an ObjectId or a pseudonym) and the
# pseudonyms. That is the summary, the service names, the date (a wrong one is shown in a quarantine detail), and in
# metadata each service's msg and code, each detector's class and accessory names (a map's keys). Until Dec 6 they
# reached bronze (and the summary silver) as written; until Dec 7 the services' texts did.
# the fields that hold no text but an ObjectId or pseudonyms (user_data's three ids are all pseudonymised)
PSEUDONYMS = {"_id", *(path.partition(".")[0] for path in PSEUDONYMISED)}
FREE_TEXT = tuple(f.name for f in DOCUMENT.fields if holds_text(f.dataType) and f.name not in PSEUDONYMS)
PROSE = ("desc", "msg")  # the summary's description and each service's message: GUIDs and document numbers go too
OID = r'^\{\s*"\$oid"\s*:\s*"([^"]*)"\s*\}$'
OBJECT_ID = r"^[0-9a-fA-F]{24}$"  # what MongoDB writes: kept as it is; any other _id becomes a pseudonym


def object_id(value: Column) -> Column:
    """``{"$oid": "..."}`` (as JSON text) -> its hex string; any other string is kept as it is."""
    oid = F.regexp_extract(value, OID, 1)
    return F.when(oid != "", oid).otherwise(value)


def extended_date(value: Column) -> Column:
    """``date`` as bronze keeps it: a string as it is; an object (Extended JSON, as the parser gives its text)
    rebuilt from its ``$date`` alone, ``{"$date":"<ISO>"}`` or ``{"$date":{"$numberLong":"<ms>"}}`` (what the
    parser gives for those, byte for byte), so that no other key of it reaches the lake; ``{}`` when it has
    neither (silver's ``invalid_date``)."""
    wrapped = F.get_json_object(value, "$['$date']")
    millis = F.get_json_object(wrapped, "$['$numberLong']")
    return (
        F.when(value.isNull() | ~F.trim(value).startswith("{"), value)
        .when(millis.isNotNull(), F.to_json(F.struct(F.struct(millis.alias("$numberLong")).alias("$date"))))
        .otherwise(F.to_json(F.struct(F.when(~wrapped.startswith("{"), wrapped).alias("$date"))))
    )


def parse_documents(read: DataFrame, key: bytes) -> DataFrame:
    """Bronze columns (the document's fields, then lineage without the run columns) from rows with
    ``text`` and ``read_error`` (see :mod:`visionlake.ingest.documents`).

    A document that cannot be used keeps only its lineage (its fields are null) and gets ``parse_error``.
    """
    return (
        jsonparse.parsed_documents(
            read,
            DOCUMENT,
            {"_id": object_id(F.col("_parsed")["_id"]), "date": extended_date(F.col("_parsed")["date"])},
        )
        .transform(
            lambda rows: pseudonymised(rows, [*PSEUDONYMISED, "_id"], key, {"_id": F.col("_id").rlike(OBJECT_ID)})
        )
        .withColumns(scrubbed_columns({name: DOCUMENT[name].dataType for name in FREE_TEXT}, PROSE))
        .withColumn(
            "content_sha256",
            F.when(F.col("parse_error").isNull(), F.sha2(F.to_json(F.struct(*DOCUMENT.fieldNames())), 256)),
        )
    )
