"""Tests for visionlake.transforms.pseudonymise: the Spark HMAC against RFC 4231 vectors, and the key rules."""

from __future__ import annotations

import logging

import pytest
from pyspark.sql import functions as F

from visionlake.errors import ConfigError
from visionlake.transforms.pseudonymise import DEVELOPMENT_KEY, pii_key, pseudonym

# RFC 4231 test cases 1, 2 and 6 (HMAC-SHA-256). Case 6 has a 131-byte key, longer than the block.
RFC4231 = [
    (b"\x0b" * 20, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (
        b"\xaa" * 131,
        "Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
]


@pytest.mark.parametrize(("key", "message", "expected"), RFC4231)
def test_pseudonym_is_hmac_sha256(spark, key, message, expected):
    row = spark.createDataFrame([(message,)], "v string").select(pseudonym(F.col("v"), key).alias("p")).first()
    assert row.p == expected


def test_pseudonym_is_stable_keyed_and_keeps_nulls(spark):
    df = spark.createDataFrame([("convenio-A",), ("convenio-A",), ("convenio-B",), (None,)], "v string")
    one = [r.p for r in df.select(pseudonym(F.col("v"), b"key-1").alias("p")).collect()]
    other = [r.p for r in df.select(pseudonym(F.col("v"), b"key-2").alias("p")).collect()]
    assert one[0] == one[1] != one[2]
    assert one[3] is None
    assert other[0] != one[0]
    assert all(len(p) == 64 for p in one[:3])


def test_key_comes_from_the_environment_variable():
    assert pii_key("emr", {"VISIONLAKE_PII_KEY": "s3cret"}) == b"s3cret"


def test_local_falls_back_to_the_development_key_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert pii_key("local", {}) == DEVELOPMENT_KEY
    assert "VISIONLAKE_PII_KEY is not set" in caplog.text


@pytest.mark.parametrize("env", ["emr", "minio"])
def test_other_environments_refuse_without_a_key(env):
    with pytest.raises(ConfigError, match="VISIONLAKE_PII_KEY is not set"):
        pii_key(env, {"VISIONLAKE_PII_KEY": ""})
