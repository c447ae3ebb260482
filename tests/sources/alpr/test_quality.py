"""Tests of visionlake.sources.alpr.quality: each reason a result file can be rejected for, and the parsed result."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from visionlake.ingest import jsonparse
from visionlake.sources.alpr.quality import with_result
from visionlake.sources.alpr.schema import RESULT

# the bronze columns with_result reads; _source leaves trailing null (the reader could not tell, or the row was
# written before the column existed): the JVM's test decides
SOURCE_SCHEMA = "raw string, read_error string, trailing boolean"
CLASSIFIED_SCHEMA = T.StructType(
    [
        T.StructField("raw", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("detail", T.StringType()),
    ]
)


def _source(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame([(*row, None) for row in rows], SOURCE_SCHEMA)


def _classified(source_df):
    return with_result(source_df).select("raw", "reason", "detail")


def test_with_result_read_error_unreadable(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            (None, "unreadable: permission denied"),
            # only the first ": " separates reason from detail
            (None, "unreadable: s3a://lake/raw/cam1/1.json: Access Denied"),
            # the read error wins even when some text was read
            ('{"frame_id":1}', "unreadable: connection reset"),
        ],
    )
    actual_df = _classified(source_df)
    expected_df = spark.createDataFrame(
        [
            (None, "unreadable", "permission denied"),
            (None, "unreadable", "s3a://lake/raw/cam1/1.json: Access Denied"),
            ('{"frame_id":1}', "unreadable", "connection reset"),
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_read_error_invalid_encoding(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            (None, "invalid_encoding: 'utf-8' codec can't decode byte 0xff in position 0"),
            (None, "invalid_encoding: "),
        ],
    )
    actual_df = _classified(source_df)
    expected_df = spark.createDataFrame(
        [
            (None, "invalid_encoding", "'utf-8' codec can't decode byte 0xff in position 0"),
            (None, "invalid_encoding", ""),
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_empty_file(spark: SparkSession) -> None:
    source_df = _source(spark, [("", None), ("  \n\t", None)])
    actual_df = _classified(source_df)
    expected_df = spark.createDataFrame(
        [
            ("", "empty_file", "0 characters of whitespace"),
            ("  \n\t", "empty_file", "4 characters of whitespace"),
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_invalid_json_and_its_diagnosis(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            ('{"duration":38,"frame_id":4', None),  # truncated object
            ('{"duration":38,"frame_id":4,"plates":[{"text":"AB1', None),  # truncated inside an array
            ("{duration:38}", None),  # unquoted key
            ('{"frame_id": 1, "plates": [{"text": "A\u0000B"}]}', None),  # a raw NUL byte inside a string
        ],
    )
    classified = with_result(source_df)
    assert sorted(r.detail for r in classified.collect()) == ["not parseable as JSON"] * 4
    actual_df = jsonparse.with_diagnosis(classified, "raw").select("raw", "reason", "detail")
    expected_df = spark.createDataFrame(
        [
            (
                '{"duration":38,"frame_id":4',
                "invalid_json",
                "truncated: the text ends at line 1 column 28 (character 27) before the JSON value is complete",
            ),
            (
                '{"duration":38,"frame_id":4,"plates":[{"text":"AB1',
                "invalid_json",
                "truncated: the text ends at line 1 column 47 (character 46) before the JSON value is complete",
            ),
            (
                "{duration:38}",
                "invalid_json",
                "not parseable as JSON: Expecting property name enclosed in double quotes at line 1 column 2 "
                "(character 1)",
            ),
            (
                '{"frame_id": 1, "plates": [{"text": "A\u0000B"}]}',
                "invalid_json",
                "not parseable as JSON: Invalid control character at line 1 column 39 (character 38)",
            ),
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_diagnosis_names_the_parser_limit_that_was_hit(spark: SparkSession) -> None:
    deep = "[" * 5000 + "]" * 5000
    long_text = '{"frame_id": 1, "plates": [{"text": "' + "x" * 21_000_000 + '"}]}'
    long_number = '{"frame_id": ' + "1" * 1001 + "}"
    source_df = _source(spark, [(deep, None), (long_text, None), (long_number, None)])
    rows = jsonparse.with_diagnosis(with_result(source_df), "raw").select("reason", "detail").collect()
    assert sorted((r.reason, r.detail) for r in rows) == [
        ("too_deep", "nesting depth 5,000 is over the JSON parser's limit of 1,000"),
        ("too_large", "a number of 1,001 characters is over the JSON parser's limit of 1,000"),
        ("too_large", "a string of 21,000,000 characters is over the JSON parser's limit of 20,000,000"),
    ]


def test_with_result_trailing_data(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            ('{"frame_id": 1} garbage', None),
            ('{"frame_id": 1}{"frame_id": 2}', None),  # a second object after the first
            ('{"frame_id": 1}, {"frame_id": 2}', None),
            ('{"frame_id": 1}  \n', None),  # whitespace after the object is fine
        ],
    )
    actual_df = _classified(source_df)
    detail = "more text after the first JSON value (garbage or a second value)"
    expected_df = spark.createDataFrame(
        [
            ('{"frame_id": 1} garbage', "trailing_data", detail),
            ('{"frame_id": 1}{"frame_id": 2}', "trailing_data", detail),
            ('{"frame_id": 1}, {"frame_id": 2}', "trailing_data", detail),
            ('{"frame_id": 1}  \n', None, None),
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_takes_the_readers_answer_on_trailing_text_where_it_has_one(spark: SparkSession) -> None:
    """bronze's ``trailing`` (the reader's scan) decides where it is not null; where it is null (the reader could
    not tell, or the row was written before the column existed) the JVM's test decides. The last two rows
    contradict their text on purpose, to show whose answer is taken."""
    source_df = spark.createDataFrame(
        [
            ('{"frame_id": 1} garbage', None, None),
            ('{"frame_id": 2}', None, None),
            ('{"frame_id": 3}{"frame_id": 4}', None, True),
            ('{"frame_id": 5}', None, False),
            ('{"frame_id": 6}', None, True),
            ('{"frame_id": 7} garbage', None, False),
        ],
        SOURCE_SCHEMA,
    )
    rows = with_result(source_df).select("raw", "reason").collect()
    assert sorted((r.raw, r.reason) for r in rows) == [
        ('{"frame_id": 1} garbage', "trailing_data"),
        ('{"frame_id": 2}', None),
        ('{"frame_id": 3}{"frame_id": 4}', "trailing_data"),
        ('{"frame_id": 5}', None),
        ('{"frame_id": 6}', "trailing_data"),
        ('{"frame_id": 7} garbage', None),
    ]


def test_with_result_takes_the_problems_found_while_reading(spark: SparkSession) -> None:
    # visionlake.ingest.drift finds non-finite numbers and objects in string fields as the file is read
    text = '{"frame_id": 1, "plates": [{"confidences": [NaN]}]}'
    source_df = _source(
        spark,
        [
            (text, "non_finite_number: NaN or infinite: plates[].confidences[]"),
            ('{"frame_id": 1, "timestamp": ["x"]}', "schema_mismatch: wrong type: timestamp"),
        ],
    )
    rows = with_result(source_df).select("raw", "reason", "detail", "result").collect()
    assert sorted((r.reason, r.detail, r.result) for r in rows) == [
        ("non_finite_number", "NaN or infinite: plates[].confidences[]", None),
        ("schema_mismatch", "wrong type: timestamp", None),
    ]


def test_with_result_a_duplicate_key_keeps_its_last_value_and_a_bom_is_accepted(spark: SparkSession) -> None:
    source_df = _source(
        spark, [('{"frame_id": 1, "duration": 5, "duration": 7}', None), ('\ufeff{"frame_id": 2}', None)]
    )
    rows = with_result(source_df).select("reason", "result.frame_id", "result.duration").collect()
    assert sorted((r.reason, r.frame_id, r.duration) for r in rows) == [(None, 1, 7), (None, 2, None)]


def test_with_result_not_an_object(spark: SparkSession) -> None:
    source_df = _source(
        spark, [("[1,2]", None), ("null", None), ('"x"', None), ("42", None), ("true", None), ("  [1]", None)]
    )
    actual_df = _classified(source_df)
    expected_df = spark.createDataFrame(
        [
            ("[1,2]", "not_an_object", "top level is an array"),
            ("null", "not_an_object", "top level is null"),
            ('"x"', "not_an_object", "top level is a string"),
            ("42", "not_an_object", "top level is a number"),
            ("true", "not_an_object", "top level is a boolean"),
            ("  [1]", "not_an_object", "top level is an array"),  # leading whitespace is skipped
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_schema_mismatch_names_the_field(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            ('{"duration":{"a":1},"frame_id":1}', None),
            ('{"frame_id":"abc"}', None),
            ('{"frame_id":1.5}', None),  # a counter, not a fraction
        ],
    )
    actual_df = _classified(source_df)
    expected_df = spark.createDataFrame(
        [
            ('{"duration":{"a":1},"frame_id":1}', "schema_mismatch", "wrong type: duration"),
            ('{"frame_id":"abc"}', "schema_mismatch", "wrong type: frame_id"),
            ('{"frame_id":1.5}', "schema_mismatch", "wrong type: frame_id"),
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_schema_mismatch_inside_plates_names_plates(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            ('{"frame_id":1,"plates":[{"confidences":"high"}]}', None),
            ('{"frame_id":1,"plates":[{"text":"AB12"},{"car":{"color":{"name":"red"}}}]}', None),
            ('{"frame_id":1,"plates":[{"car":{"makeModelYear":[{"klass":"x"}]}}]}', None),
        ],
    )
    actual_df = _classified(source_df)
    expected_df = spark.createDataFrame(
        [
            ('{"frame_id":1,"plates":[{"confidences":"high"}]}', "schema_mismatch", "wrong type: plates"),
            (
                '{"frame_id":1,"plates":[{"text":"AB12"},{"car":{"color":{"name":"red"}}}]}',
                "schema_mismatch",
                "wrong type: plates",
            ),
            (
                '{"frame_id":1,"plates":[{"car":{"makeModelYear":[{"klass":"x"}]}}]}',
                "schema_mismatch",
                "wrong type: plates",
            ),
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_schema_mismatch_lists_fields_in_schema_order(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            ('{"plates":5,"frame_id":1,"duration":"x"}', None),
            ('{"duration":{"a":1},"frame_id":{"b":1}}', None),
        ],
    )
    actual_df = _classified(source_df)
    expected_df = spark.createDataFrame(
        [
            ('{"plates":5,"frame_id":1,"duration":"x"}', "schema_mismatch", "wrong type: duration, plates"),
            ('{"duration":{"a":1},"frame_id":{"b":1}}', "schema_mismatch", "wrong type: duration, frame_id"),
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_schema_mismatch_is_not_accepted_when_result_is_not_selected(spark: SparkSession) -> None:
    # The classification must not depend on which columns a caller keeps afterwards.
    source_df = _source(
        spark,
        [
            ('{"duration":{"a":1},"frame_id":1}', None),
            ('{"duration":"x","frame_id":1,"plates":5}', None),
            ('{"duration":38,"frame_id":412}', None),
        ],
    )
    actual_df = with_result(source_df).where(F.col("reason").isNull()).select("raw")
    expected_df = spark.createDataFrame(
        [('{"duration":38,"frame_id":412}',)], T.StructType([T.StructField("raw", T.StringType())])
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_missing_field(spark: SparkSession) -> None:
    source_df = _source(spark, [('{"duration":5}', None), ('{"duration":5,"frame_id":null}', None), ("{}", None)])
    actual_df = _classified(source_df)
    expected_df = spark.createDataFrame(
        [
            ('{"duration":5}', "missing_field", "missing: frame_id"),
            ('{"duration":5,"frame_id":null}', "missing_field", "missing: frame_id"),
            ("{}", "missing_field", "missing: frame_id"),
        ],
        CLASSIFIED_SCHEMA,
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_rejected_rows_have_null_result(spark: SparkSession) -> None:
    source_df = _source(
        spark, [(None, "unreadable: gone"), ("", None), ('{"frame_id":', None), ("[1]", None), ('{"duration":5}', None)]
    )
    actual_df = with_result(source_df).select("raw", F.col("result").isNull().alias("result_is_null"))
    expected_df = spark.createDataFrame(
        [(None, True), ("", True), ('{"frame_id":', True), ("[1]", True), ('{"duration":5}', True)],
        T.StructType([T.StructField("raw", T.StringType()), T.StructField("result_is_null", T.BooleanType())]),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_valid_rows_parse_top_level(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            ('{"duration":38,"frame_id":412}', None),  # nothing found: no plates
            ('{"duration":53,"frame_id":99,"latency":0}', None),  # parallel-mode process() return
            ('{"frame_id":1203,"job_idx":2,"lantency":1}', None),  # Android spelling, no duration
            ('  {"frame_id":0,"timestamp":"2022-05-02T07:15:49.999546"}\n', None),  # whitespace around
        ],
    )
    actual_df = with_result(source_df).select("raw", "reason", "detail", "result")
    expected_df = spark.createDataFrame(
        [
            ('{"duration":38,"frame_id":412}', None, None, (38, 412, None, None, None, None, None)),
            ('{"duration":53,"frame_id":99,"latency":0}', None, None, (53, 99, None, None, 0, None, None)),
            ('{"frame_id":1203,"job_idx":2,"lantency":1}', None, None, (None, 1203, 2, 1, None, None, None)),
            (
                '  {"frame_id":0,"timestamp":"2022-05-02T07:15:49.999546"}\n',
                None,
                None,
                (None, 0, None, None, None, None, "2022-05-02T07:15:49.999546"),
            ),
        ],
        T.StructType([*CLASSIFIED_SCHEMA.fields, T.StructField("result", RESULT)]),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_year_int_becomes_string(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            ('{"frame_id":1,"plates":[{"car":{"makeModelYear":[{"make":"audi","model":"s5","year":2012}]}}]}', None),
            ('{"frame_id":2,"plates":[{"car":{"makeModelYear":[{"make":"audi","model":"s5","year":null}]}}]}', None),
        ],
    )
    actual_df = with_result(source_df).select(
        F.col("result.frame_id").alias("frame_id"),
        F.col("result.plates")[0]["car"]["makeModelYear"][0]["year"].alias("year"),
    )
    expected_df = spark.createDataFrame(
        [(1, "2012"), (2, None)],
        T.StructType([T.StructField("frame_id", T.LongType()), T.StructField("year", T.StringType())]),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_year_interval_stays_string(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            ('{"frame_id":1,"plates":[{"car":{"makeModelYear":[{"make":"bmw","model":"x5","year":"0-9"}]}}]}', None),
            ('{"frame_id":2,"plates":[{"car":{"makeModelYear":[{"make":"bmw","model":"x5","year":""}]}}]}', None),
        ],
    )
    actual_df = with_result(source_df).select(
        F.col("result.frame_id").alias("frame_id"),
        F.col("result.plates")[0]["car"]["makeModelYear"][0]["year"].alias("year"),
    )
    expected_df = spark.createDataFrame(
        [(1, "0-9"), (2, "")],
        T.StructType([T.StructField("frame_id", T.LongType()), T.StructField("year", T.StringType())]),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_confidences_in_exponent_form_parse(spark: SparkSession) -> None:
    source_df = _source(
        spark,
        [
            (
                '{"frame_id":1,"plates":[{"car":{"color":[{"confidence":9.995e+01,"klass":0,"name":"black"},'
                '{"confidence":1.07e-08,"klass":12,"name":"yellow"}]},"confidences":[8.5E1,99,2.5e-1],"text":"A"}]}',
                None,
            ),
            ('{"frame_id":2,"plates":[{"confidences":[],"text":"B"}]}', None),
        ],
    )
    actual_df = with_result(source_df).select(
        F.col("result.frame_id").alias("frame_id"),
        F.col("result.plates")[0]["confidences"].alias("confidences"),
        F.col("result.plates")[0]["car"]["color"]["confidence"].alias("color_confidences"),
    )
    expected_df = spark.createDataFrame(
        [(1, [85.0, 99.0, 0.25], [99.95, 1.07e-08]), (2, [], None)],
        T.StructType(
            [
                T.StructField("frame_id", T.LongType()),
                T.StructField("confidences", T.ArrayType(T.DoubleType())),
                T.StructField("color_confidences", T.ArrayType(T.DoubleType())),
            ]
        ),
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_with_result_accepts_a_leading_byte_order_mark(spark):
    source_df = _source(spark, [('\ufeff{"frame_id": 5}', None)])
    actual = with_result(source_df).select("reason", "result.frame_id").collect()
    assert [tuple(r) for r in actual] == [(None, 5)]
