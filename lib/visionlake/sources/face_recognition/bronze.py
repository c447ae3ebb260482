"""Lines as read -> bronze rows: parsed with their kind's allowlist and pseudonymised.

The line's text never leaves this function: parsing with the allowlist (:data:`~.schema.LINES`) drops the embedding,
the user's name, e-mail and birthdate, the user agent and the face box; the identifying values of
:data:`~.schema.PSEUDONYMISED` are replaced by keyed pseudonyms, and e-mail and IP addresses in text
(:data:`FREE_TEXT`, :data:`TEXT_MAPS`, the times: a time holds none) by their shapes. A line that cannot be parsed
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
from visionlake.transforms.scrub import replaced_at, scrubbed_all, with_scrubbed


def kind_of(root: str, path: str) -> str | None:
    """The input kind of a file: the first folder under the input root (None: not one of :data:`KINDS`)."""
    parts = st.relative_to(root, path).split("/")
    return parts[0] if len(parts) > 1 and parts[0] in KINDS else None


# Text where a logger may put an e-mail or an IP address (column paths in bronze): the API's message ("User
# ada@example.org already exists"), status and error code, the client's app version, an evaluation's run id,
# protocol and model, k6's tags (its name and url tags are the request's URL, query string included), and the
# names silver checks and shows in a quarantine detail when they are wrong (the endpoint, k6's type and metric).
FREE_TEXT = {
    REQUESTS: ("endpoint", "status", "message", "error_code", "client.app_version"),
    EVALUATIONS: ("evaluation_run_id", "protocol", "model"),
    LOADTESTS: ("type", "metric"),
}
# maps whose values are such text; a key holding an address (a tag named by an IP) drops its entry: replaced, two
# keys could become one, which a map cannot hold
TEXT_MAPS = {LOADTESTS: ("data.tags",)}
TEXT_MAP = T.MapType(T.StringType(), T.StringType())


def parse_lines(read: DataFrame, kind: str, key: bytes) -> DataFrame:
    """Bronze columns of ``kind`` (the line's allowlisted fields, then lineage without the run columns) from rows
    with ``text`` and ``read_error`` (see :mod:`visionlake.ingest.documents`); the e-mail and IP addresses in
    its text fields are replaced by their shapes (:func:`~visionlake.transforms.scrub.scrubbed`)."""
    rows = jsonparse.parsed_documents(read, LINES[kind]).withColumnsRenamed(RENAMED.get(kind, {}))
    rows = with_scrubbed(rows, FREE_TEXT[kind])
    for path in TEXT_MAPS.get(kind, ()):
        rows = replaced_at(rows, path, lambda tags: scrubbed_all(tags, TEXT_MAP))
    rows = with_scrubbed(rows, TIMES[kind])
    if PSEUDONYMISED[kind]:
        rows = pseudonymised(rows, PSEUDONYMISED[kind], key)
    fields = [f.name for f in bronze_fields(kind)]
    return rows.withColumn(
        "content_sha256", F.when(F.col("parse_error").isNull(), F.sha2(F.to_json(F.struct(*fields)), 256))
    )
