"""Silver rules of face_recognition that the pipeline tests do not pin down one by one."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import functions as F

from visionlake.sources.face_recognition.silver import utc


def test_utc_keeps_the_microsecond_and_drops_the_digits_after_it(spark):
    texts = [
        "2026-11-03T00:00:24.257034Z",
        "2026-11-03T00:00:24.257034123Z",  # k6: nanoseconds
        "2026-11-03T00:00:24.999999999999+01:00",
        " 2026-11-03T00:00:24Z ",
        "2026-11-03T00:00:24.5-02:30",
        "03/11/2026 00:00:24",
        "nope",
    ]
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    got = [r[0] for r in df.select(utc(F.col("t"))).collect()]
    assert got == [  # the session is in UTC
        datetime(2026, 11, 3, 0, 0, 24, 257034),
        datetime(2026, 11, 3, 0, 0, 24, 257034),
        datetime(2026, 11, 2, 23, 0, 24, 999999),
        datetime(2026, 11, 3, 0, 0, 24),
        datetime(2026, 11, 3, 2, 30, 24, 500000),
        None,
        None,
    ]
