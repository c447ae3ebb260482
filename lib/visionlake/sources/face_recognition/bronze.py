"""Lines as read -> bronze rows: parsed with their kind's allowlist and pseudonymised.

The line's text never leaves this function: parsing with the allowlist (:data:`~.schema.LINES`) drops the embedding,
the user's name, e-mail and birthdate, the user agent and the face box; the identifying values of
:data:`~.schema.PSEUDONYMISED` are replaced by keyed pseudonyms, and e-mail, IP and MAC addresses in text
(:data:`FREE_TEXT`; in :data:`PROSE`, :data:`TEXT_MAPS` and the times GUIDs and document numbers too) by their
shapes. A line that cannot be parsed
keeps its lineage and gets ``parse_error`` (reasons: :func:`visionlake.ingest.jsonparse.parsed_documents`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.ingest import jsonparse
from visionlake.lake import storage as st
from visionlake.sources.face_recognition.schema import (
    EVALUATIONS,
    KINDS,
    LINES,
    LOADTESTS,
    PSEUDONYMISED,
    RENAMED,
    REQUESTS,
    TIMES,
    bronze_fields,
)
from visionlake.transforms.pseudonymise import pseudonymised
from visionlake.transforms.scrub import replaced_at, scrubbed_all, scrubbed_prose, with_scrubbed


def kind_of(root: str, path: str) -> str | None:
    """The input kind of a file: the first folder under the input root (None: not one of :data:`KINDS`)."""
    parts = st.relative_to(root, path).split("/")
    return parts[0] if len(parts) > 1 and parts[0] in KINDS else None


# Text where a logger may put an e-mail, IP or MAC address (column paths in bronze): the API's status and error
# code, the client's app version, an evaluation's run id, protocol and model, and the names silver checks and shows
# in a quarantine detail when they are wrong (the endpoint, k6's type and metric).
FREE_TEXT = {
    REQUESTS: ("endpoint", "status", "error_code", "client.app_version"),
    EVALUATIONS: ("evaluation_run_id", "protocol", "model"),
    LOADTESTS: ("type", "metric"),
}
# Prose, where GUIDs and document numbers go too (scrubbed_prose): the API's message ("User ada@example.org already
# exists"), and the times (a valid one holds none: its fraction follows a point), which a quarantine detail quotes.
PROSE = {REQUESTS: ("message",)}
# maps whose values are such text, read as prose (a url tag's query string may hold a document number); a key that
# holds an address, a GUID or a number (a tag named by an IP) drops its entry: replaced, two keys could become one
TEXT_MAPS = {LOADTESTS: ("data.tags",)}
TEXT_MAP = T.MapType(T.StringType(), T.StringType())


def parse_lines(read: DataFrame, kind: str, key: bytes) -> DataFrame:
    """Bronze columns of ``kind`` (the line's allowlisted fields, then lineage without the run columns) from rows
    with ``text`` and ``read_error`` (see :mod:`visionlake.ingest.documents`); the e-mail and IP addresses in
    its text fields are replaced by their shapes (:func:`~visionlake.transforms.scrub.scrubbed`)."""
    rows = jsonparse.parsed_documents(read, LINES[kind]).withColumnsRenamed(RENAMED.get(kind, {}))
    rows = with_scrubbed(rows, FREE_TEXT[kind])
    for path in TEXT_MAPS.get(kind, ()):
        rows = replaced_at(rows, path, lambda tags: scrubbed_all(tags, TEXT_MAP, how=scrubbed_prose))
    rows = with_scrubbed(rows, [*PROSE.get(kind, ()), *TIMES[kind]], scrubbed_prose)
    if PSEUDONYMISED[kind]:
        rows = pseudonymised(rows, PSEUDONYMISED[kind], key)
    fields = [f.name for f in bronze_fields(kind)]
    return rows.withColumn(
        "content_sha256", F.when(F.col("parse_error").isNull(), F.sha2(F.to_json(F.struct(*fields)), 256))
    )
