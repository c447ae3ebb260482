"""Tests for visionlake.transforms.pseudonymise: the Spark HMAC against RFC 4231 vectors, and the key rules."""

from __future__ import annotations

import logging

import pytest

from visionlake.errors import ConfigError
from visionlake.transforms.pseudonymise import DEVELOPMENT_KEY, pii_key, pseudonym_of, pseudonymised

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
    row = pseudonymised(spark.createDataFrame([(message,)], "v string"), ["v"], key).first()
    assert row.v == expected


@pytest.mark.parametrize(("key", "message", "expected"), RFC4231)
def test_python_pseudonym_matches_the_vectors(key, message, expected):
    assert pseudonym_of(message, key) == expected


def test_pseudonym_is_stable_keyed_and_keeps_nulls(spark):
    df = spark.createDataFrame([("convenio-A",), ("convenio-A",), ("convenio-B",), (None,)], "v string")
    one = [r.v for r in pseudonymised(df, ["v"], b"key-1").collect()]
    other = [r.v for r in pseudonymised(df, ["v"], b"key-2").collect()]
    assert one[0] == one[1] != one[2]
    assert one[3] is None
    assert other[0] != one[0]
    assert all(len(p) == 64 for p in one[:3])


def test_key_comes_from_the_environment_variable():
    key = "0123456789abcdefABCDEF" + "0" * 42
    assert pii_key("emr", {"VISIONLAKE_PII_KEY": key}) == key.encode()  # the characters, not decoded


@pytest.mark.parametrize("env", ["local", "emr"])
@pytest.mark.parametrize(
    "value", ["abc", "s3cret", "a" * 63, "a" * 65, "g" * 64, "a" * 63 + "\n", " " + "a" * 64, "0x" + "a" * 62]
)
def test_a_key_that_is_not_64_hex_characters_is_refused_without_showing_it(env, value):
    with pytest.raises(ConfigError, match="VISIONLAKE_PII_KEY is not 64 hex characters") as refused:
        pii_key(env, {"VISIONLAKE_PII_KEY": value})
    assert value.strip() not in str(refused.value)


def test_local_falls_back_to_the_development_key_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert pii_key("local", {}) == DEVELOPMENT_KEY
    assert "VISIONLAKE_PII_KEY is not set" in caplog.text


@pytest.mark.parametrize("env", ["emr", "minio"])
def test_other_environments_refuse_without_a_key(env):
    with pytest.raises(ConfigError, match="VISIONLAKE_PII_KEY is not set"):
        pii_key(env, {"VISIONLAKE_PII_KEY": ""})


def test_struct_fields_are_pseudonymised_in_place(spark):
    df = spark.createDataFrame([("a", ("Jefe", "keep"))], "id string, user struct<name: string, note: string>")
    row = pseudonymised(df, ["user.name"], b"Jefe").first()
    assert row.id == "a"
    assert row.user.note == "keep"
    assert row.user.name == pseudonym_of("Jefe", b"Jefe")
    assert df.columns == ["id", "user"]


def test_no_query_plan_shows_the_key_or_its_pads(spark):
    """As literals, the pads (key XOR 0x36 / 0x5c) were printed by explain, the Spark UI and event logs."""
    key = b"plan-secret-key-0123"
    pads = [bytes(b ^ pad for b in key.ljust(64, b"\0")).hex() for pad in (0x36, 0x5C)]
    df = pseudonymised(spark.createDataFrame([("v1",)], "v string"), ["v"], key)
    plans = df._jdf.queryExecution().toString() + df._jdf.queryExecution().executedPlan().toString()
    assert "sha2" in plans.lower()  # the plan is the HMAC's
    for secret in [key.hex(), key.decode(), *pads]:
        assert secret.lower() not in plans.lower()
    assert df.first().v == pseudonym_of("v1", key)
