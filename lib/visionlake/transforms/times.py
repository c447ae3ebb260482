"""Instants as the lake holds them: the years 1900-9999 in UTC, and their calendar days.

Spark refuses to read back from Parquet a time before 1900 (``READ_ANCIENT_DATETIME``: its files would need the
legacy calendar's rebase), and a date past 9999 cannot be written (Python's dates end there). A time out of these
years that reached a table stopped every later run of the lake: a source reads such a time as no time.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

FIRST = "1900-01-01 00:00:00Z"
LAST = "9999-12-31 23:59:59.999999Z"
DAY_SECONDS = 86_400


def in_years(ts: Column) -> Column:
    """``ts`` when it falls in the years 1900-9999 UTC, else null."""
    return F.when(ts.between(F.expr(f"TIMESTAMP'{FIRST}'"), F.expr(f"TIMESTAMP'{LAST}'")), ts)


def days_since_epoch(seconds: Column) -> Column:
    """The day (days since 1970-01-01, an int) of a number of seconds since the epoch, exactly: divided in
    whole seconds and days, where microseconds divided as doubles put the last microsecond of a day past year
    2255 (2^53 microseconds) in the next one: 9999-12-31T23:59:59.999999 in year 10000."""
    return ((seconds - F.pmod(seconds, F.lit(DAY_SECONDS))) / F.lit(DAY_SECONDS)).cast("int")


def utc_date(ts: Column) -> Column:
    """The UTC calendar date of a timestamp, whatever the session's time zone."""
    return F.date_from_unix_date(days_since_epoch(F.unix_seconds(ts)))
