"""FieldScanner: the fields of a JSON record that the declared schema does not know."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from pyspark.sql import types as T

from visionlake.ingest import drift
from visionlake.ingest.drift import FieldScanner

STR, DBL = T.StringType(), T.DoubleType()


def _struct(**fields: T.DataType) -> T.StructType:
    return T.StructType([T.StructField(name, kind) for name, kind in fields.items()])


IMAGE = _struct(face_detector=_struct(time_ms=DBL), score=DBL)
SCHEMA = _struct(
    _id=STR,
    camera=STR,
    car=_struct(make=STR, color=STR),
    plates=T.ArrayType(_struct(text=STR, car=_struct(color=STR))),
    accessories=T.MapType(STR, _struct(confidence=DBL)),
    metadata=_struct(near_img=IMAGE, far_img=IMAGE),
    tags=T.ArrayType(STR),
)


def _scan(record: dict | str, **kwargs) -> list[str] | None:
    text = record if isinstance(record, str) else json.dumps(record)
    return FieldScanner(SCHEMA, **kwargs).new_fields(text.encode())


def test_a_record_with_only_declared_fields_has_none():
    record = {
        "_id": "1",
        "camera": "c1",
        "car": {"make": "seat", "color": "red"},
        "plates": [{"text": "1234ABC", "car": {"color": "red"}}],
        "accessories": {"hat": {"confidence": 0.9}},
        "metadata": {"near_img": {"face_detector": {"time_ms": 3}, "score": 1}},
        "tags": ["a", "b"],
    }
    assert _scan(record) is None


def test_a_new_top_level_field():
    assert _scan({"camera": "c1", "speed": 80}) == ["speed:number"]


def test_new_fields_in_a_struct_an_array_of_structs_and_a_map_s_values():
    assert _scan({"car": {"make": "seat", "vin": "X1"}}) == ["car.vin:string"]
    assert _scan({"plates": [{"text": "A"}, {"text": "B", "car": {"vin": "X1"}}]}) == ["plates[].car.vin:string"]
    assert _scan({"accessories": {"hat": {"confidence": 0.5, "new": 1}}}) == ["accessories[].new:number"]


def test_paths_are_reported_once_and_sorted():
    record = {
        "zeta": 1,
        "plates": [{"text": "A", "score": 1}, {"score": 2}],
        "car": {"vin": "X", "year": 2020},
        "alpha": "x",
    }
    assert _scan(record) == [
        "alpha:string",
        "car.vin:string",
        "car.year:number",
        "plates[].score:number",
        "zeta:number",
    ]


def test_map_keys_are_data_not_fields():
    assert _scan({"accessories": {"brand_new_accessory": {"confidence": 0.5}, "other": {}}}) is None


def test_json_types():
    record = {"n": 1.5, "i": 2, "s": "x", "b": False, "z": None, "o": {"a": 1}, "a": [1]}
    assert _scan(record) == ["a:array", "b:boolean", "i:number", "n:number", "o:object", "s:string", "z:null"]


def test_a_new_object_is_reported_as_one_field_not_its_children():
    assert _scan({"camera": "c", "gps": {"lat": 1, "lon": 2}}) == ["gps:object"]


def test_a_value_of_another_type_than_declared_is_not_drift():
    # the parse reports wrong types; an object where a string is declared, a scalar where a struct is
    assert _scan({"camera": {"unexpected": 1}, "car": "red", "plates": [5, {"car": 3}]}) is None


IGNORED = ("metadata.*.face_detector.faces", "plates[].car.bbox", "user_data.trazabilidad")


@pytest.mark.parametrize(
    "record",
    [
        {"metadata": {"near_img": {"face_detector": {"time_ms": 1, "faces": [{"landmarks": [1, 2]}]}}}},
        {"metadata": {"far_img": {"face_detector": {"faces": {"bbox": [0, 0, 1, 1]}}}}},
        {"plates": [{"text": "A", "car": {"bbox": [1, 2], "color": "red"}}]},
    ],
)
def test_nothing_is_reported_at_or_under_an_ignored_path(record):
    assert _scan(record, ignored=IGNORED) is None


def test_ignored_paths_hide_only_what_they_match():
    record = {
        "metadata": {"near_img": {"face_detector": {"faces": [1], "eyes": 2}}},
        "plates": [{"bbox": [1], "car": {"bbox": [1]}}],
        "user_data": {"trazabilidad": 1},
    }
    # `plates[].bbox` is not `plates[].car.bbox`; user_data itself is not declared, so it is new
    assert _scan(record, ignored=IGNORED) == [
        "metadata.near_img.face_detector.eyes:number",
        "plates[].bbox:array",
        "user_data:object",
    ]


def test_an_ignored_top_level_object_hides_everything_in_it():
    assert _scan({"azure_blob": {"path": "x", "container_name": "y"}}, ignored=["azure_blob"]) is None


def test_known_names_take_the_fast_path():
    # "faces" is not in the schema: under an ignored path it is not reported either way
    record = '{"metadata": {"near_img": {"face_detector": {"faces": [1]}}}}'
    scanner = FieldScanner(SCHEMA, ignored=IGNORED, known_names=["faces"])
    assert scanner.new_fields(record.encode()) is None
    # a known name outside an ignored path is taken on trust by the fast path: that is its trade-off
    assert scanner.new_fields(b'{"camera": "c", "faces": 1}') is None
    # without known_names, the same record is parsed and the field found
    assert FieldScanner(SCHEMA, ignored=IGNORED).new_fields(b'{"camera": "c", "faces": 1}') == ["faces:number"]


def test_a_known_name_does_not_hide_an_unknown_one_in_the_same_record():
    scanner = FieldScanner(SCHEMA, ignored=IGNORED, known_names=["faces"])
    record = {"metadata": {"near_img": {"face_detector": {"faces": [1]}}}, "speed": 1}
    assert scanner.new_fields(json.dumps(record).encode()) == ["speed:number"]


def test_text_that_is_not_a_json_object_has_none():
    assert _scan('{"camera": "c", "speed": ') is None
    assert _scan('[{"speed": 1}]') is None
    assert _scan('"speed": 1') is None


def test_keys_starting_with_a_digit_are_data():
    # landmark ids and the like: alone they never make the record be parsed
    assert _scan('{"camera": "c", "68": [1, 2]}') is None


@pytest.mark.parametrize(
    "record",
    [
        {"_id": {"$oid": "5f1d7c3e"}, "camera": "c"},
        {"camera": {"$date": "2024-01-01T00:00:00Z"}},
        {"_id": {"$numberLong": "12"}},
    ],
)
def test_extended_json_under_a_declared_string_field_is_not_drift(record):
    assert _scan(record) is None


def test_an_extended_json_object_in_a_new_field_is_still_a_new_field():
    assert _scan({"created": {"$date": "2024-01-01"}}) == ["created:object"]


def test_a_new_field_whose_name_was_not_escaped_in_the_text():
    assert FieldScanner(SCHEMA).new_fields('{"camera": "c", "año": 2024}'.encode()) == ["año:number"]


# Regression: the fast path's key regex (_KEY) does not match a key containing a JSON escape such as \u00f1, so such a
# key never makes the record take the slow path: json.dumps({"camera": "c", "año": 2024}) (Python's default
# ensure_ascii=True writes "a\u00f1o") gives None instead of ["año:number"]; the new field is lost.
def test_a_new_field_whose_name_is_escaped_in_the_text():
    text = json.dumps({"camera": "c", "año": 2024})
    assert "\\u00f1" in text
    assert FieldScanner(SCHEMA).new_fields(text.encode()) == ["año:number"]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"camera": "c", "ana.maria@example.com": {"consent": True}}, ["<e-mail>:object"]),
        ({"a@x.io": 1, "b.c@y.org": 2}, ["<e-mail>:number"]),  # one entry for the shape, not one per person
        ({"car": {"F47AC10B-58CC-4372-A567-0E02B2C3D479": 1}}, ["car.<uuid>:number"]),
        ({"car": {"ip_203.0.113.7": "x", "fe80::1:2": "y"}}, ["car.<ip address>:string"]),
        ({"plates": [{"text": "A", "x5f1d7c3e5f1d7c3e5f1d7c3e": 1}]}, ["plates[].<hex id>:number"]),
        ({"car": {"doc_40404040": True, "u-017201": None}}, ["car.<number>:boolean", "car.<number>:null"]),
        ({"car": {"Ana Maria": 1, "a.b": 2, "z" * 65: 3}}, ["car.<key>:number"]),
        (  # as cloud host names, MAC addresses and grouped document numbers write them
            {"car": {"ip-172-31-22-14": 1, "host_10_0_0_1": 2}, "metadata": {"MAC-00-1A-2B-3C-4D-5E": 3}},
            ["car.<ip address>:number", "metadata.<device id>:number"],
        ),
        (
            {"car": {"CC-1023-456-789": 1, "ssn-123-45-6789": 2, "CC¹⁰²³⁴⁵": 3, "a4c3f0851b2e": 4}},
            ["car.<hex id>:number", "car.<number>:number"],
        ),
        ({"car": {"F47AC10B_58CC_4372_A567_0E02B2C3D479": 1}}, ["car.<hex id>:number"]),
        (
            {"car": {"Content-Type": "x", "@timestamp": 1, "$ref": 2, "http_2xx": 3, "faceDecadeFacadeBed": 4}},
            [
                "car.$ref:number",
                "car.@timestamp:number",
                "car.Content-Type:string",
                "car.faceDecadeFacadeBed:number",
                "car.http_2xx:number",
            ],
        ),
        (
            {"car": {"z" * 64: 1, "名前": 2, "größe": 3}},
            ["car.größe:number", f"car.{'z' * 64}:number", "car.名前:number"],
        ),
    ],
)
def test_a_key_that_is_no_field_name_is_written_as_its_shape_never_as_it_stands(record, expected):
    assert _scan(record) == expected


def test_an_ignored_path_is_matched_on_the_key_as_it_stands():
    assert _scan({"car": {"a@x.io": 1, "speed": 2}}, ignored=["car.a@x.io"]) == ["car.speed:number"]


# --------------------------------------------------------------------------------------------------
# values Spark's parser would let through: non-finite numbers and objects in string fields

SCORES = _struct(score=DBL, name=STR, scores=T.ArrayType(DBL), meta=_struct(level=DBL))


def _problem(text: str) -> str | None:
    return FieldScanner(SCORES).scan(text.encode())[1]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"score": NaN}', "score"),
        ('{"score":-Infinity}', "score"),
        ('{"scores": [1.5, Infinity, 2]}', "scores[]"),
        ('{"scores": [ NaN ]}', "scores[]"),
        ('{"meta": {"level": "-INF"}}', "meta.level"),
        ('{"score": -INF}', "score"),  # bare: Spark's parser reads it, Python's json module does not
        ('{"scores": [1, +INF]}', "scores[]"),
        ('{"score":+Infinity}', "score"),
        ('{"score": "NaN"}', "score"),
        ('{"score": 1e999}', "score"),
        ('{"meta": {"level": -2.5E+400}}', "meta.level"),
        ('{"score": 1.8e308}', "score"),  # past the largest double (1.7976931348623157e308) with a 3-digit exponent
        ('{"scores": [100e307]}', "scores[]"),  # 1e309, the mantissa's digits adding to the exponent
    ],
)
def test_a_non_finite_number_is_a_problem_naming_its_path(text, path):
    assert _problem(text) == f"non_finite_number: NaN or infinite: {path}"


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Infinix X6", "score": 1}',  # a phone model, not a number
        '{"name": "NaN", "score": 1}',  # NaN as the text of a string field
        '{"name": "INFO: NaN or Infinity in the log", "score": 2}',
        '{"name": "0e3451ab", "score": 1e30}',  # a hash whose digits look like an exponent; a finite 1e30
        '{"name": "abc9e999", "scores": [1e-999]}',  # 1e-999 is 0, not infinite
        '{"score": 1.7976931348623157e308, "scores": [1e308, 0.01e310]}',  # the largest doubles: finite
    ],
)
def test_look_alikes_of_non_finite_numbers_are_not_problems(text):
    assert _problem(text) is None


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"size": {"width": Infinity, "height": 480}}', "size.width"),
        ('{"size": {"width": NaN}}', "size.width"),
        ('{"size": {"height": 1e999}}', "size.height"),
        ('{"count": -Infinity}', "count"),
        ('{"count": "NaN"}', "count"),  # as for a double field (Spark read it as a wrong type)
    ],
)
def test_a_non_finite_number_where_an_integer_is_declared_is_a_problem_too(text, path):
    """Until Dec 5 only double fields were checked: Spark refused the record (invalid_json) or its struct
    (schema_mismatch) for NaN or an infinity in an integer field."""
    schema = _struct(size=_struct(width=T.LongType(), height=T.IntegerType()), count=T.LongType())
    assert FieldScanner(schema).scan(text.encode())[1] == f"non_finite_number: NaN or infinite: {path}"
    assert FieldScanner(schema).scan(b'{"size": {"width": 640, "height": 480}, "count": 1e3}')[1] is None


def test_a_bare_infinity_spark_refuses_is_left_to_the_parse():
    """Unsigned ``INF`` is not JSON to Spark's parser either: the parse reports the record (invalid_json)."""
    assert _problem('{"score": INF}') is None
    assert _problem('{"name": "x:-INF,", "score": 1}') is None  # the word in a string


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # Spark's parser reads single quotes (keys and values) and 1,000 levels of nesting; Python's json does not,
        # and a record it could not read went unchecked: the object's JSON text reached the lake in the string field
        ("""{"name": {"email": "a@b.org"}, "meta": {"level": 1}, "x": 'v'}""", "schema_mismatch: wrong type: name"),
        ("""{'name': {'email': 'a@b.org'}}""", "schema_mismatch: wrong type: name"),
        ("""{"meta": {'level': NaN}, "name": 'it\\'s "x"'}""", "non_finite_number: NaN or infinite: meta.level"),
        ('{"name": {"email": "a@b.org"}, "pad": ' + "[" * 998 + "]" * 998 + "}", "schema_mismatch: wrong type: name"),
        ("""{"name": 'it\\'s {"a": 1}', "score": 'x'}""", None),  # quotes and braces inside a string: no object
        ("""{"name": "O'Brien", "score": 1.5}""", None),
    ],
)
def test_a_record_spark_reads_is_checked_though_python_s_json_does_not_read_it(text, problem):
    assert _problem(text) == problem


def test_single_quoted_keys_are_read_as_spark_reads_them():
    assert _scan("""{'camera': 'c1', 'speed': 80, "car": {'vin': "X1"}}""") == ["car.vin:string", "speed:number"]


def test_an_object_or_array_in_a_string_field_is_a_wrong_type_but_not_in_a_double_field():
    assert _problem('{"name": {"first": "x"}, "score": 1}') == "schema_mismatch: wrong type: name"
    assert _problem('{"name": ["x"]}') == "schema_mismatch: wrong type: name"
    assert _problem('{"score": {"x": 1}}') is None  # the parse reports that one


def _block(lines: list[bytes]) -> tuple[bytes, np.ndarray]:
    block = b"\n".join(lines) + b"\n"
    starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
    return block, starts


def test_suspects_are_the_lines_a_scan_may_flag_and_no_clean_line():
    lines = [
        b'{"camera": "c1", "car": {"make": "seat"}}',  # 0 clean
        b'{"camera": "c1", "speed": 80}',  # 1 unknown key
        b'{"camera": "e4001", "_id": "5e123", "tags": ["1e400x"]}',  # 2 hex and text, no number: clean
        b'{"metadata": {"near_img": {"score": 1e999}}}',  # 3 an exponent past a double
        b'{"camera": {"id": 1}}',  # 4 an object in a string field
        b'{"camera": "NaN"}',  # 5 NaN as text: a scan looks (and finds a string field, so nothing)
        b'{"tags": ["a\\"b"]}',  # 6 a backslash: a scan looks
        b'{"accessories": {"hat": {"confidence": 0.5}}, "tags": []}',  # 7 a map key: a scan looks
        b'{"camera" : "c1"}',  # 8 a space before the colon: a scan looks
        b'{"face_detectorX": 1}',  # 9 unknown: a known name's first 8 bytes, not its length
        b'{"metadata": {"near_img": {"score": 1.8e308}}}',  # 10 past a double with an exponent of 308
        b'{"metadata": {"near_img": {"score": 1e308}}}',  # 11 the largest power of ten a double holds: clean
    ]
    block, starts = _block(lines)
    scanner = FieldScanner(SCHEMA)
    assert scanner.suspects(block, starts).tolist() == [1, 3, 4, 5, 6, 7, 8, 9, 10]
    assert [i for i, line in enumerate(lines) if scanner.scan(line) != (None, None)] == [1, 3, 4, 9, 10]


def test_suspects_look_at_each_exponent_of_a_long_line_in_place():
    """A long line of ids that look like exponents ("5f1e042") is clean, and a number past a double on the next
    line is found. (Each id is checked in place: copying the line for each of them made a 3 MB line take 22 s.)"""
    ids = b",".join(b'"5f1e%03d"' % (i % 1000) for i in range(100_000))
    lines = [b'{"camera": "c1"}', b'{"tags": [' + ids + b"]}", b'{"metadata": {"near_img": {"score": 2e400}}}']
    block, starts = _block(lines)
    assert FieldScanner(SCHEMA).suspects(block, starts).tolist() == [2]


def test_suspects_cover_every_line_a_scan_flags():
    """Names sharing their first 8 bytes, names of 24 and past 32 bytes, spacing of every kind, every non-finite
    spelling, escapes: whatever a scan reports, the line is a suspect."""
    schema = _struct(
        enrollment_id=STR,
        enrollment_key=STR,
        a_rather_long_field_name=DBL,
        name_longer_than_thirty_two_bytes=STR,
        v=DBL,
        s=STR,
    )
    scanner = FieldScanner(schema)
    rnd = random.Random(11)
    names = [
        "enrollment_id",
        "enrollment_key",
        "enrollment_kez",
        "a_rather_long_field_name",
        "name_longer_than_thirty_two_bytes",
        "name_longer_than_thirty_two_bytez",
        "a_rather_long_field_namf",
        "v",
        "s",
        "w",
        "enrollme",
        "s\u00e9",
    ]
    values = [1, "x", {"s": 1}, [1, 2], 1e300, "NaN", "-Infinity", "e400", {"v": "INF"}, None, 'q"uote']
    lines = []
    for _ in range(2000):
        record = {rnd.choice(names): rnd.choice(values) for _ in range(rnd.randint(0, 4))}
        text = json.dumps(record, separators=rnd.choice([(",", ":"), (", ", ": "), (",", " : "), (",", ":  ")]))
        text = text.replace("1e+300", rnd.choice(["1e+300", "1e999", "-2E+400", "1e308"]))
        text = text.replace('"NaN"', rnd.choice(['"NaN"', "NaN", "Infinity", "-INF"]))
        lines.append(text.encode())
    block, starts = _block(lines)
    suspects = set(scanner.suspects(block, starts).tolist())
    flagged = {i for i, line in enumerate(lines) if scanner.scan(line) != (None, None)}
    assert len(flagged) > 500
    assert flagged <= suspects
    # known names sharing a prefix, or of 24 bytes, are known: only the name past 32 bytes is looked at
    clean = [b'{"enrollment_id": "a", "enrollment_key": "b"}', b'{"a_rather_long_field_name": 1, "v": 2}']
    block, starts = _block([*clean, b'{"name_longer_than_thirty_two_bytes": "c"}'])
    assert scanner.suspects(block, starts).tolist() == [2]


def test_scan_many_tells_by_index_what_each_document_alone_holds(monkeypatch):
    """Documents scanned together: a finding lands on its own document (a pretty-printed one, with keys after
    newlines, too), None is skipped, and a document past BLOCK_BYTES is scanned alone and still reported."""
    monkeypatch.setattr(drift, "BLOCK_BYTES", 64)
    documents = [
        b'{"camera": "c1"}',
        None,
        b'{"camera": "c1", "speed": 80}',
        b'{\n  "car": {\n    "make": "seat",\n    "year": 2020\n  }\n}',
        b'{"camera": "c2"}',
        b'{"camera": "c3", "tags": ["' + b"x" * 100 + b'"], "vin": "1"}',
        b'{"camera": "c4", "tags": ["' + b"x" * 100 + b'"]}',
        b'{"metadata": {"far_img": {"score": NaN}}}',
    ]
    assert FieldScanner(SCHEMA).scan_many(documents) == {
        2: (["speed:number"], None),
        3: (["car.year:number"], None),
        5: (["vin:string"], None),
        7: (None, "non_finite_number: NaN or infinite: metadata.far_img.score"),
    }
    assert FieldScanner(SCHEMA).scan_many([]) == {}
