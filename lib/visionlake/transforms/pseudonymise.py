"""Keyed pseudonyms: HMAC-SHA256 of a value under ``VISIONLAKE_PII_KEY``, as a Spark column expression.

The same value always gets the same pseudonym under the same key (across runs, files and months), and
nobody without the key can recompute or reverse it. The HMAC (RFC 2104) is built from Spark's ``sha2``
on binary, so it runs in the JVM with no Python UDF (the key's pads come as data from a broadcast row, never as
literals a query plan would print):

    HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m))

where K' is the key padded with zeros to SHA-256's 64-byte block (or hashed first when longer).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Iterable, Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.errors import ConfigError

PII_KEY_ENV = "VISIONLAKE_PII_KEY"
# Only the local environment may fall back to this key; it protects nothing, since it is public.
DEVELOPMENT_KEY = b"visionlake-development-key-not-for-real-data"
# What a key must be: 64 hex characters (32 random bytes, ``openssl rand -hex 32``). The characters themselves are
# the HMAC key (they are not decoded), so the pseudonyms of a lake built with such a key do not change.
KEY_FORMAT = re.compile(r"[0-9a-fA-F]{64}")
BLOCK_BYTES = 64
PAD_COLUMNS = ("_hmac_inner_pad", "_hmac_outer_pad")

log = logging.getLogger(__name__)


def pii_key(env: str, environ: Mapping[str, str] | None = None) -> bytes:
    """The pseudonymisation key from ``VISIONLAKE_PII_KEY``.

    Raises:
        ConfigError: the variable is unset or empty and ``env`` is not ``local``, or it is set (in any
            environment) to anything but 64 hex characters (:data:`KEY_FORMAT`). The message never shows the value.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(PII_KEY_ENV, "")
    if value:
        if not KEY_FORMAT.fullmatch(value):
            raise ConfigError(
                f"{PII_KEY_ENV} is not 64 hex characters (no spaces or line breaks; make one with "
                "`openssl rand -hex 32`): refusing to pseudonymise with a key that is not what it should be"
            )
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


def pseudonym_of(value: str, key: bytes) -> str:
    """The pseudonym :func:`pseudonym` gives ``value``, computed in Python (to match configured values, such as
    client GUIDs mapped to display names, against the pseudonyms in the tables)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def with_key(df: DataFrame, key: bytes) -> DataFrame:
    """``df`` with the key's two HMAC pads as columns (:data:`PAD_COLUMNS`), cross-joined from a broadcast
    one-row table. The key travels as data: as literals, the pads were printed by every query plan (explain,
    the Spark UI, event logs), and one XOR gives the key back from them."""
    inner_pad, outer_pad = _pads(key)
    pads = df.sparkSession.createDataFrame(
        [(bytearray(inner_pad), bytearray(outer_pad))],
        T.StructType([T.StructField(c, T.BinaryType()) for c in PAD_COLUMNS]),
    )
    return df.crossJoin(F.broadcast(pads))


def pseudonym(value: Column) -> Column:
    """HMAC-SHA256 of the UTF-8 bytes of ``value``, as 64 lowercase hex characters; null stays null. The key's
    pads are the columns :func:`with_key` adds."""
    inner_pad, outer_pad = (F.col(c) for c in PAD_COLUMNS)
    inner = F.unhex(F.sha2(F.concat(inner_pad, F.encode(value, "UTF-8")), 256))
    return F.sha2(F.concat(outer_pad, inner), 256)


def pseudonymised(
    df: DataFrame, paths: Iterable[str], key: bytes, unless: Mapping[str, Column] | None = None
) -> DataFrame:
    """``df`` with the values at ``paths`` (a column, or ``struct.field``) replaced by their keyed pseudonyms; a
    value for which its path's condition in ``unless`` holds is kept as it is."""
    keyed = with_key(df, key)
    for path in paths:
        head, _, leaf = path.partition(".")
        value = F.col(head)
        replaced = pseudonym(value[leaf] if leaf else value)
        if unless and path in unless:
            replaced = F.when(unless[path], value[leaf] if leaf else value).otherwise(replaced)
        keyed = keyed.withColumn(head, value.withField(leaf, replaced) if leaf else replaced)
    return keyed.drop(*PAD_COLUMNS)
