"""Deterministic keys of input files, shared by the sources that read one record per file."""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F


def file_key(group: Column, source_path: Column, sha256: Column) -> Column:
    """A deterministic id of an input file: 128 bits of SHA-256 over its group (camera, device folder), file
    name and content digest.

    Stable across reruns and across the same tree under another root; two files share it only when they are
    byte-identical copies with the same name in the same group.
    """
    name = F.element_at(F.split(source_path, "/"), -1)
    return F.substring(F.sha2(F.concat_ws("\u0000", group, name, sha256), 256), 1, 32)


def file_key_of(group: str, source_path: str, sha256: str) -> str:
    """:func:`file_key` of one file, computed in Python (the same value as the column expression)."""
    name = source_path.rsplit("/", 1)[-1]
    return hashlib.sha256("\u0000".join([group, name, sha256]).encode("utf-8")).hexdigest()[:32]
