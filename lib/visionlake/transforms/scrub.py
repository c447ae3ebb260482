"""Free text without the personal data a logger writes into it: e-mail addresses and IP addresses.

An API's messages are text for people (``User ada@example.org already exists``): the fields that hold them are
kept, for the error rates and the funnel read them, but each e-mail address becomes ``<e-mail>`` and each IP
address ``<ip address>`` (the shapes :func:`visionlake.ingest.drift.shown_key` gives such keys), in the JVM.
A person's name in free text cannot be told from other words and is kept.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
# dotted IPv4 (not inside a longer run of digits and dots: a version 2.4.1.7.9 is left); IPv6 in full (eight
# groups) or compressed (with ::), so that a time such as 10:15:30 is left
IPV4 = r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])"
_H = "[0-9A-Fa-f]{1,4}"
IPV6 = rf"(?<![\w:])(?:(?:{_H}:){{7}}{_H}|{_H}(?::{_H})*::(?:{_H}(?::{_H})*)?|::{_H}(?::{_H})*)(?![\w:])"


def scrubbed(text: Column) -> Column:
    """``text`` with every e-mail address replaced by ``<e-mail>`` and every IP address by ``<ip address>``;
    null stays null."""
    without_emails = F.regexp_replace(text, EMAIL, "<e-mail>")
    return F.regexp_replace(F.regexp_replace(without_emails, IPV4, "<ip address>"), IPV6, "<ip address>")
