"""Lines as read -> bronze rows: parsed with their kind's allowlist and pseudonymised.

The line's text never leaves this function: parsing with the allowlist (:data:`~.schema.LINES`) drops the
embedding, the user's name, e-mail and birthdate, the user agent and the face box; the identifying values of
:data:`~.schema.PSEUDONYMISED` are replaced by keyed pseudonyms, and e-mail and IP addresses in free text
(:data:`FREE_TEXT`) by their shapes. A line that cannot be parsed keeps its lineage and
gets ``parse_error`` (reasons: :func:`visionlake.ingest.jsonparse.parsed_documents`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from visionlake.ingest import jsonparse
from visionlake.lake import storage as st
from visionlake.sources.face_recognition.schema import KINDS, LINES, PSEUDONYMISED, RENAMED, bronze_fields
from visionlake.transforms.pseudonymise import pseudonymised
from visionlake.transforms.scrub import scrubbed


def kind_of(root: str, path: str) -> str | None:
    """The input kind of a file: the first folder under the input root (None: not one of :data:`KINDS`)."""
    parts = st.relative_to(root, path).split("/")
    return parts[0] if len(parts) > 1 and parts[0] in KINDS else None


# free text the API writes for people, where a logger may put an e-mail or an IP address (reference: "User already
# exists with this email")
FREE_TEXT = {"requests": ("message", "error_code")}


def parse_lines(read: DataFrame, kind: str, key: bytes) -> DataFrame:
    """Bronze columns of ``kind`` (the line's allowlisted fields, then lineage without the run columns) from rows
    with ``text`` and ``read_error`` (see :mod:`visionlake.ingest.documents`); the e-mail and IP addresses in
    its :data:`FREE_TEXT` fields are replaced by their shapes (:func:`~visionlake.transforms.scrub.scrubbed`)."""
    rows = jsonparse.parsed_documents(read, LINES[kind]).withColumnsRenamed(RENAMED.get(kind, {}))
    if FREE_TEXT.get(kind):
        rows = rows.withColumns({name: scrubbed(F.col(name)) for name in FREE_TEXT[kind]})
    if PSEUDONYMISED[kind]:
        rows = pseudonymised(rows, PSEUDONYMISED[kind], key)
    fields = [f.name for f in bronze_fields(kind)]
    return rows.withColumn(
        "content_sha256", F.when(F.col("parse_error").isNull(), F.sha2(F.to_json(F.struct(*fields)), 256))
    )
