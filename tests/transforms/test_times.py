"""The instants the lake holds (years 1900-9999 UTC) and their days, counted exactly."""

from __future__ import annotations

from datetime import date

from pyspark.sql import functions as F

from visionlake.transforms.times import days_since_epoch, in_years, local_in_years, utc_date

# as the lake's text: the session reads them in UTC, and the results are compared as epoch seconds or dates, which
# Python can hold at both ends (it cannot shift 9999-12-31T23:59:59.999999 to a local time)
TIMES = {
    "1899-12-31 23:59:59.999999": None,
    "1900-01-01 00:00:00": date(1900, 1, 1),
    "1969-12-31 23:59:59.5": date(1969, 12, 31),  # before the epoch: the day is floored, not truncated
    "1970-01-01 00:00:00": date(1970, 1, 1),
    "2026-12-06 12:00:00": date(2026, 12, 6),
    "9999-12-31 23:59:59.999999": date(9999, 12, 31),  # as a double of microseconds: 10000-01-01
    "+10000-01-01 00:00:00": None,
}


def test_in_years_keeps_1900_to_9999_and_the_days_are_exact(spark):
    df = spark.createDataFrame([(t,) for t in TIMES], "t string").select(
        "t", in_years(F.to_timestamp(F.concat("t", F.lit("Z")))).alias("ts")
    )
    got = {r["t"]: r["day"] for r in df.select("t", utc_date("ts").alias("day")).collect()}
    assert got == TIMES


def test_days_since_epoch_floors_whole_seconds(spark):
    seconds = [-86_401, -86_400, -1, 0, 86_399, 86_400, 253_402_300_799]
    df = spark.createDataFrame([(s,) for s in seconds], "s long")
    got = [r[0] for r in df.select(days_since_epoch(F.col("s"))).collect()]
    assert got == [-2, -1, -1, 0, 0, 1, 2_932_896]


def test_a_wall_time_past_9999_in_its_zone_is_none(spark):
    rows = [
        ("9999-12-31 14:59:59", "Asia/Tokyo"),  # 23:59:59 on 31 Dec 9999 there (+9 h)
        ("9999-12-31 15:00:00", "Asia/Tokyo"),  # midnight of 1 Jan 10000
        ("1900-01-01 10:00:00", "Pacific/Honolulu"),  # 23:30 on 31 Dec 1899 there (-10:30 then)
        ("1900-01-01 10:30:00", "Pacific/Honolulu"),  # midnight of 1 Jan 1900
    ]
    df = spark.createDataFrame(rows, "t string, zone string")
    local = local_in_years(F.to_timestamp(F.concat("t", F.lit("Z"))), F.col("zone"))
    assert [r[0] for r in df.select(F.date_format(local, "yyyy-MM-dd HH:mm:ss")).collect()] == [
        "9999-12-31 23:59:59",
        None,
        None,
        "1900-01-01 00:00:00",
    ]
