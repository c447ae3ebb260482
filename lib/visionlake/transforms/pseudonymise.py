"""Keyed pseudonyms: HMAC-SHA256 of a value under ``VISIONLAKE_PII_KEY``, as a Spark column expression.

The same value always gets the same pseudonym under the same key (across runs, files and months), and
nobody without the key can recompute or reverse it. The HMAC (RFC 2104) is built from Spark's ``sha2``
on binary, so it runs in the JVM with no Python UDF:

    HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m))

where K' is the key padded with zeros to SHA-256's 64-byte block (or hashed first when longer).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

from visionlake.errors import ConfigError

PII_KEY_ENV = "VISIONLAKE_PII_KEY"
# Only the local environment may fall back to this key; it protects nothing, since it is public.
DEVELOPMENT_KEY = b"visionlake-development-key-not-for-real-data"
BLOCK_BYTES = 64

log = logging.getLogger(__name__)


def pii_key(env: str, environ: Mapping[str, str] | None = None) -> bytes:
    """The pseudonymisation key from ``VISIONLAKE_PII_KEY``.

    Raises:
        ConfigError: the variable is unset or empty and ``env`` is not ``local``.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(PII_KEY_ENV, "")
    if value:
        return value.encode("utf-8")
    if env != "local":
        raise ConfigError(f"{PII_KEY_ENV} is not set; environment '{env}' refuses to pseudonymise without a key")
    log.warning("%s is not set: using the public development key (environment 'local' only)", PII_KEY_ENV)
    return DEVELOPMENT_KEY


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK_BYTES, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def pseudonym(value: Column, key: bytes) -> Column:
    """HMAC-SHA256 of the UTF-8 bytes of ``value`` under ``key``, as 64 lowercase hex characters; null stays null."""
    inner_pad, outer_pad = _pads(key)
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), F.encode(value, "UTF-8")), 256))
    return F.sha2(F.concat(F.lit(outer_pad), inner), 256)
