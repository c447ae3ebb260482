"""scrubbed: e-mail, IP and MAC addresses out of free text, the rest of the text kept; scrubbed_prose: GUIDs and
document numbers too."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.transforms.scrub import scrubbed, scrubbed_all, scrubbed_columns, scrubbed_prose

TEXT_CASES = [
    ("User zebulon.quixotewright@example.org already exists", "User <e-mail> already exists"),
    ("a+tag@mail.example.co.uk, b_c@x-y.io", "<e-mail>, <e-mail>"),
    (
        "db 10.0.12.7 refused; replica 192.168.1.254:5432 too",
        "db <ip address> refused; replica <ip address>:5432 too",
    ),
    ("from 2001:db8::ff00:42:8329 and fe80::1", "from <ip address> and <ip address>"),
    ("peer 2001:0db8:85a3:0000:0000:8a2e:0370:7334 left", "peer <ip address> left"),
    # left as they are: a version, a time, a bare @, a code, a date
    (
        "app 2.4.1.7.9 at 10:15:30, @team, error 601 on 2026-11-02",
        "app 2.4.1.7.9 at 10:15:30, @team, error 601 on 2026-11-02",
    ),
    ("Face not detected", "Face not detected"),
    # a time holds no :: and fewer than seven colons: the patterns do not even run on it
    ("2026-11-05T01:00:00.338933+01:00", "2026-11-05T01:00:00.338933+01:00"),
    # at the end of a sentence; in any script; an apostrophe (until Dec 5 each passed whole or in part)
    ("Request from 192.0.2.187. Retry", "Request from <ip address>. Retry"),
    ("User josé@example.org, o'connor@example.ie and müller@exämple.de", "User <e-mail>, <e-mail> and <e-mail>"),
    ("mapped ::ffff:192.168.1.1", "mapped ::ffff:<ip address>"),
    # after a key and a colon, or dots; an @ written otherwise; a domain without a dot (until Dec 5 kept)
    (
        "client ip:2001:db8::5 refused, addr:fe80::1 blocked",
        "client ip:<ip address> refused, addr:<ip address> blocked",
    ),
    ("connecting...10.25.0.1", "connecting...<ip address>"),
    ("/users?email=ada05%40example.org&x=1", "/users?email=<e-mail>&x=1"),
    ("ada22&#64;example.org or ada23&#x40;example.org", "<e-mail> or <e-mail>"),
    ("User ada&commat;example.org exists", "User <e-mail> exists"),  # HTML5's named entity (until Dec 6 kept)
    ("ada02\uff20example.org", "<e-mail>"),
    ("ada03@localhost", "<e-mail>"),
    # a cloud host name and a MAC address (until Dec 7 kept); a hex dump and a time are not one
    ("from ip-198-51-100-77.ec2.internal now", "from <ip address>.ec2.internal now"),
    ("mac 02:42:ac:11:00:77, MAC 02-42-AC-11-00-78.", "mac <device id>, MAC <device id>."),
    ("dump 0a:0b:0c:0d:0e:0f:10 end", "dump 0a:0b:0c:0d:0e:0f:10 end"),
    # its separators mixed (until Dec 7 the shortcut of scrubbed_all and scrubbed_prose kept it)
    ("mac 02:42:ac-11:00:79", "mac <device id>"),
    ("skip-1-2-3-4 at 2026-11-05T01:00:00-05:00", "skip-1-2-3-4 at 2026-11-05T01:00:00-05:00"),
    # ids and versions are no prose: kept here
    (
        "run 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b of 987654321012",
        "run 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b of 987654321012",
    ),
    (None, None),
]


@pytest.mark.parametrize(("text", "expected"), TEXT_CASES)
def test_scrubbed_replaces_e_mail_and_ip_addresses_by_their_shapes(spark: SparkSession, text, expected):
    df = spark.createDataFrame([(text,)], "text string")
    assert df.select(scrubbed(F.col("text")).alias("t")).first()["t"] == expected


PROSE_CASES = [
    ("Documento 1023456789 no coincide con ana@example.org", "Documento <number> no coincide con <e-mail>"),
    ("client 6F1C2A3B-4d5e-4f60-8a7b-9c0d1e2f3a4b failed", "client <uuid> failed"),
    # a score, a code, a time and a five-digit count stay; digits after a decimal point are a fraction
    (
        "score 0.1234567 code 1400 at 2026-11-05T01:00:00.338933Z, 12345 tries",
        "score 0.1234567 code 1400 at 2026-11-05T01:00:00.338933Z, 12345 tries",
    ),
    ("Match found", "Match found"),
    # a plain time is kept without a pattern run on it; one that goes on is read whole (after a line break too)
    ("2026-11-05 01:00:00.338933-0100", "2026-11-05 01:00:00.338933-0100"),
    ("2026-11-05T01:00:00Z by 1023456789", "2026-11-05T01:00:00Z by <number>"),
    ("2026-11-05T01:00:00Z\nana@example.org", "2026-11-05T01:00:00Z\n<e-mail>"),
    ("1023456789-2026-11-05T01:00:00Z", "<number>-2026-11-05T01:00:00Z"),
    # the shortcut without a pattern counts bytes: four dashes (a GUID), six digits (a number)
    ("id abcdefab-cdef-4bcd-abcd-abcdefabcdef", "id <uuid>"),
    ("ref 567890", "ref <number>"),
    ("from :aa:bb:cc-dd:ee:ff", "from :<device id>"),
    (None, None),
]


@pytest.mark.parametrize(("text", "expected"), PROSE_CASES)
def test_scrubbed_prose_also_replaces_guids_and_document_numbers(spark: SparkSession, text, expected):
    df = spark.createDataFrame([(text,)], "text string")
    assert df.select(scrubbed_prose(F.col("text")).alias("t")).first()["t"] == expected


def test_scrubbed_reads_long_texts_without_overflowing_the_stack(spark: SparkSession):
    """Until Dec 5 a group repeated without bound made Java's regex engine recurse once per repetition: a 9 KB
    message of hex pairs and colons, or an address with 3,000 domain labels, threw StackOverflowError and stopped
    the read task."""
    texts = ["dump " + "ab:" * 3000 + "ab", "a@b" + ".c" * 3000, "x" * 20000 + "@example.org"]
    df = spark.createDataFrame([(t,) for t in texts], "text string")
    assert [r["t"] for r in df.select(scrubbed(F.col("text")).alias("t")).collect()] == [
        "dump " + "ab:" * 3000 + "ab",
        "<e-mail>",
        "<e-mail>",
    ]


def test_scrubbed_all_reaches_every_text_of_a_nested_value(spark: SparkSession):
    kind = "s struct<a: string, n: int, inner: struct<b: string>, xs: array<string>, m: map<string, string>>"
    rows = [
        (("ada@example.org", 1, ("at 10.0.0.1",), ["ok", "bob@example.org"], {"10.0.0.2": "x", "k": "1.2.3.4"}),),
        ((None, 2, None, None, None),),
        (None,),
    ]
    df = spark.createDataFrame(rows, kind)
    got = [r["t"] for r in df.select(scrubbed_all(F.col("s"), df.schema["s"].dataType).alias("t")).collect()]
    assert [None if r is None else r.asDict(recursive=True) for r in got] == [
        {
            "a": "<e-mail>",
            "n": 1,
            "inner": {"b": "at <ip address>"},
            "xs": ["ok", "<e-mail>"],
            "m": {"k": "<ip address>"},  # the entry whose key was an address is dropped
        },
        {"a": None, "n": 2, "inner": None, "xs": None, "m": None},
        None,  # a null struct stays null, not a struct of nulls
    ]


def test_scrubbed_all_keeps_a_value_without_text_as_it_is(spark: SparkSession):
    df = spark.createDataFrame([((1, [2.5]),)], "s struct<n: int, xs: array<double>>")
    column = F.col("s")
    assert scrubbed_all(column, df.schema["s"].dataType) is column


def test_scrubbed_all_changes_in_a_nested_text_what_scrubbed_changes_in_it(spark: SparkSession):
    """A value none of whose texts holds an address is kept without checking each text (TEXT_SHAPES): the shortcut
    must keep no text that scrubbed (or, in prose, scrubbed_prose) changes. Each case's text stands in a nested
    field (``inner.b``) or in prose (``msg``), beside a text that holds nothing (``inner.a``)."""
    cases = [(text, expected, False) for text, expected in TEXT_CASES]
    cases += [(text, expected, True) for text, expected in PROSE_CASES]
    kind = T.StructType(
        [
            T.StructField("inner", T.StructType([T.StructField(n, T.StringType()) for n in ("a", "b")])),
            T.StructField("msg", T.StringType()),
        ]
    )
    rows = [((("kept", None if prose else text), text if prose else None),) for text, _, prose in cases]
    df = spark.createDataFrame(rows, T.StructType([T.StructField("s", kind)]))
    got = df.select(scrubbed_all(F.col("s"), kind, prose=("msg",)).alias("t")).collect()
    assert [(r["t"]["inner"]["a"], r["t"]["inner"]["b"], r["t"]["msg"]) for r in got] == [
        ("kept", None, expected) if prose else ("kept", expected, None) for _, expected, prose in cases
    ]


def test_scrubbed_columns_are_built_once_and_scrub_as_scrubbed_all_does(spark: SparkSession):
    kind = T.StructType([T.StructField("a", T.StringType()), T.StructField("msg", T.StringType())])
    first = scrubbed_columns({"s": kind, "t": T.StringType()}, prose=("msg",))
    assert scrubbed_columns({"s": kind, "t": T.StringType()}, prose=("msg",))["s"] is first["s"]  # built once
    assert scrubbed_columns({"s": kind, "t": T.StringType()})["s"] is not first["s"]  # other prose, other column
    df = spark.createDataFrame([(("ada@example.org", "doc 12345678"), "10.0.0.1")], T.StructType(
        [T.StructField("s", kind), T.StructField("t", T.StringType())]
    ))  # fmt: skip
    row = df.withColumns(first).collect()[0]
    assert (row["s"].asDict(), row["t"]) == ({"a": "<e-mail>", "msg": "doc <number>"}, "<ip address>")
