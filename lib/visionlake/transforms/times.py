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
FIRST_SECONDS = -2_208_988_800  # FIRST in seconds since the epoch
PAST_LAST_SECONDS = 253_402_300_800  # 10000-01-01T00:00:00Z in seconds since the epoch: the first second past LAST
DAY_SECONDS = 86_400


def bounded_seconds(seconds: float) -> float:
    """A file's modification time (seconds since the epoch) within those years: out of them, the nearest second in
    them (and 9999's last second whole: a fraction of it could round to year 10000). A file system may hold any
    time (tmpfs, a clock reset): until Dec 6 a file of year 10000 stopped every run at its read (Python's datetime
    refused it), and one of 1850 made bronze unreadable to Spark."""
    return min(max(seconds, FIRST_SECONDS), PAST_LAST_SECONDS - 1)


def in_years(ts: Column) -> Column:
    """``ts`` when it falls in the years 1900-9999 UTC, else null."""
    return F.when(ts.between(F.expr(f"TIMESTAMP'{FIRST}'"), F.expr(f"TIMESTAMP'{LAST}'")), ts)


def local_in_years(utc: Column | str, zone: Column | str) -> Column:
    """The wall time in ``zone`` (an IANA name, or a column of them) of the instant ``utc``, when it falls in the
    years 1900-9999 too, else null: a zone east of UTC puts the last hours of 9999 in year 10000, whose local date
    the lake cannot write."""
    return in_years(F.from_utc_timestamp(utc, zone))


def days_since_epoch(seconds: Column) -> Column:
    """The day (days since 1970-01-01, an int) of a number of seconds since the epoch, exactly: divided in
    whole seconds and days, where microseconds divided as doubles put the last microsecond of a day past year
    2255 (2^53 microseconds) in the next one: 9999-12-31T23:59:59.999999 in year 10000."""
    return ((seconds - F.pmod(seconds, F.lit(DAY_SECONDS))) / F.lit(DAY_SECONDS)).cast("int")


def utc_date(ts: Column) -> Column:
    """The UTC calendar date of a timestamp, whatever the session's time zone."""
    return F.date_from_unix_date(days_since_epoch(F.unix_seconds(ts)))
