"""Free text without the personal data a logger writes into it: e-mail, IP and MAC addresses; in prose, also GUIDs
and document numbers.

An API's messages are text for people (``User ada@example.org already exists``): the fields that hold them are
kept, for the error rates and the funnel read them, but each e-mail address becomes ``<e-mail>``, each IP address
(``ip-10-0-0-1`` too, as cloud host names write it) ``<ip address>`` and each MAC address ``<device id>`` (the
shapes :func:`visionlake.ingest.drift.shown_key` gives such keys), in the JVM. In prose (a message, a description,
a value a quarantine detail quotes) a GUID (a client's) also becomes ``<uuid>`` and a run of six digits or more (a
document number) ``<number>``; in other text those are ids and versions, and are kept. A person's name in free text
cannot be told from other words and is kept.

The patterns run in linear time on any text, so that a long message (a hex dump, a stack trace) neither stalls
nor crashes a read task: a match may only start where the text before it cannot continue it (a lookbehind), the
runs of characters are possessive (never given back), and no group repeats without a bound (Java's engine
recurses once per repetition of a group: an unbounded one overflowed the stack on a 9 KB message).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Collection, Iterable, Mapping

from pyspark import SparkContext
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

# The characters of an address's local part and of its domain, in any script (josé@example.org, o'connor@...).
_LOCAL = r"[\p{L}\p{N}._%+'-]"
_DOMAIN = r"[\p{L}\p{N}-]"
# The domain may have no dot (ada@localhost).
EMAIL = rf"(?<!{_LOCAL}){_LOCAL}++@{_DOMAIN}++(?:\.[\p{{L}}\p{{N}}.-]*+)?"
# The other ways an @ is written: percent-encoded in a URL's query (email=ada%40example.org), as an HTML entity
# (numeric, or HTML5's named &commat;), full-width. Each is read as an @ before the e-mail pattern runs.
AT_SIGNS = r"%40|&#0*64;|&#[xX]0*40;|&commat;|\uFF20"
# Dotted IPv4; the digits and dots around it must not go on (a version 2.4.1.7.9 is left: no match starts after a
# digit and a dot), but a full stop may end the sentence after it, and dots may come before it (waiting...10.0.0.1).
IPV4 = r"(?<!\d)(?<!\d\.)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\d|\.\d)"
# IPv6 in full (eight groups) or compressed (with ::), so that a time such as 10:15:30 is left. A match starts
# after a colon that follows a word (ip:fe80::1), not after one that follows a group of a longer run of groups
# (a hex dump ab:ab:...:ab is no address, though its last eight groups would be).
_H = "[0-9A-Fa-f]{1,4}"
IPV6 = (
    rf"(?<!\w)(?<!(?<!\w){_H}:)"
    rf"(?:(?:{_H}:){{7}}{_H}|{_H}(?::{_H}){{0,6}}::(?:{_H}(?::{_H}){{0,6}})?|::{_H}(?::{_H}){{0,6}})(?![\w:])"
)

# As cloud host names write an IPv4 address (ip-10-0-0-1.ec2.internal).
HOST_IPV4 = r"(?<![\p{L}\p{N}])[iI][pP]-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}(?![\d])"
# Six pairs of hex digits, with colons or dashes, not within a longer run of them (a hex dump).
_X = "[0-9A-Fa-f]"
MAC = rf"(?<!{_X})(?<!{_X}[:-]){_X}{{2}}(?:[:-]{_X}{{2}}){{5}}(?![:-]?{_X})"
# In prose only: a GUID, and a run of six digits or more that is no decimal fraction (a document number).
UUID = rf"(?<!{_X})(?<!{_X}-){_X}{{8}}(?:-{_X}{{4}}){{3}}-{_X}{{12}}(?!-?{_X})"
DIGITS = r"(?<![\d.])\d{6,}+"


def _count(text: Column, character: str) -> Column:
    return F.octet_length(text) - F.octet_length(F.replace(text, F.lit(character), F.lit("")))


def _possible(text: Column, prose: bool = False) -> Column:
    """Whether ``text`` may hold what :func:`scrubbed` (``prose``: :func:`scrubbed_prose`) replaces, told without a
    pattern: an e-mail address holds an @ (or another way to write it), an IPv4 address three dots (or, in a host
    name, four dashes), an IPv6 one a :: or seven colons (the two forms IPV6 reads), a MAC address five colons and
    dashes (mixed: until Dec 7 aa:bb:cc-dd:ee:ff was kept); a GUID four dashes, a document number six digits.
    Counted in bytes, on the text as Spark holds it: a pattern runs on a copy of it as a Java string."""
    at = text.contains("@") | text.contains("%40") | text.contains("&#") | text.contains("&commat;")
    at = at | text.contains("\uff20")
    dashes = _count(text, "-")
    possible = at | (_count(text, ".") >= 3) | (dashes >= 4) | text.contains("::") | (dashes + _count(text, ":") >= 5)
    if prose:
        digits = F.octet_length(text) - F.octet_length(F.translate(text, "0123456789", ""))
        possible = possible | (digits >= 6)
    return possible


def scrubbed(text: Column) -> Column:
    """``text`` with every e-mail address replaced by ``<e-mail>``, every IP address by ``<ip address>`` (IPv4
    first: ``::ffff:192.168.1.1`` keeps only its constant prefix) and every MAC address by ``<device id>``; null
    stays null."""
    without_emails = F.regexp_replace(F.regexp_replace(text, AT_SIGNS, "@"), EMAIL, "<e-mail>")
    replaced = F.regexp_replace(F.regexp_replace(without_emails, IPV4, "<ip address>"), IPV6, "<ip address>")
    replaced = F.regexp_replace(F.regexp_replace(replaced, HOST_IPV4, "<ip address>"), MAC, "<device id>")
    return F.when(_may_hold(text), replaced).otherwise(text)


# Superset of what scrubbed changes: whatever one of its patterns matches holds one of these (an @ or another way
# to write it, a dotted quad, a :: or three hex groups each followed by a colon or a dash for IPv6 and MAC
# addresses, whose separators may be mixed, an ip- host name); and of what scrubbed_prose changes: also a GUID's
# first group, six digits. (Until Dec 7 a MAC address written aa:bb:cc-dd:ee:ff passed as holding none.)
TEXT_SHAPES = (
    r"@|%40|&#|&commat;|\uFF20|\d\.\d{1,3}\.\d{1,3}\.\d|::|[0-9A-Fa-f][:-][0-9A-Fa-f]{1,4}[:-][0-9A-Fa-f]{1,4}[:-]"
    r"|[iI][pP]-\d"
)
PROSE_SHAPES = TEXT_SHAPES + r"|[0-9A-Fa-f]{8}-|(?<![\d.])\d{6}"
# A time as a logger writes it (2026-11-05T01:00:00.338+01:00): none of the patterns can match in it (its only run
# of six digits follows a point, it has at most three colons and no run of six hex pairs). Read from its start only.
PLAIN_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?\z"


def _may_hold(text: Column, prose: bool = False) -> Column:
    """Whether ``text`` may hold what :func:`scrubbed` (``prose``: :func:`scrubbed_prose`) replaces: the one gate
    before the patterns, cheapest test first. Most texts can hold none ("Match found", "no_match", an app version
    2.4.1): their bytes say so (:func:`_possible`); in prose, a plain time holds six digits but none of the shapes
    (:data:`PLAIN_TIME`); what is left is read with one pattern (:data:`TEXT_SHAPES`, :data:`PROSE_SHAPES`) before
    the six or eight run. On the seven texts of 3,000,000 request lines the gate took 3.3 s, the shapes' pattern
    alone 12.5 s (8.5 s of it on the times)."""
    may = _possible(text, prose) & text.rlike(PROSE_SHAPES if prose else TEXT_SHAPES)
    return ~text.rlike(PLAIN_TIME) & may if prose else may


def scrubbed_prose(text: Column) -> Column:
    """:func:`scrubbed` ``text``, with every GUID also replaced by ``<uuid>`` and every run of six digits or more
    (not after a decimal point) by ``<number>``: for prose, where an identifier stands only by mistake."""
    replaced = F.regexp_replace(F.regexp_replace(scrubbed(text), UUID, "<uuid>"), DIGITS, "<number>")
    return F.when(_may_hold(text, prose=True), replaced).otherwise(text)


def replaced_at(rows: DataFrame, path: str, how: Callable[[Column], Column]) -> DataFrame:
    """``rows`` with the value at ``path`` (a column or a field of a struct column) replaced by ``how`` of it."""
    head, _, rest = path.partition(".")
    value = how(F.col(path))
    return rows.withColumn(head, F.col(head).withField(rest, value) if rest else value)


def with_scrubbed(rows: DataFrame, paths: Iterable[str], how: Callable[[Column], Column] = scrubbed) -> DataFrame:
    """``rows`` with the text at each of ``paths`` ``how``'d (:func:`scrubbed`)."""
    for path in paths:
        rows = replaced_at(rows, path, how)
    return rows


def holds_text(kind: T.DataType) -> bool:
    """Whether a value of type ``kind`` holds a string anywhere (itself, a field, an element, a map key or value)."""
    if isinstance(kind, T.StructType):
        return any(holds_text(field.dataType) for field in kind.fields)
    if isinstance(kind, T.ArrayType):
        return holds_text(kind.elementType)
    if isinstance(kind, T.MapType):
        return holds_text(kind.keyType) or holds_text(kind.valueType)
    return isinstance(kind, T.StringType)


def scrubbed_all(
    value: Column, kind: T.DataType, prose: Collection[str] = (), how: Callable[[Column], Column] = scrubbed
) -> Column:
    """``value`` (of type ``kind``) with every text in it ``how``'d (:func:`scrubbed`): a string, a struct's fields,
    an array's elements, a map's values, at any depth; the text under a struct field named in ``prose`` (``msg``,
    wherever it is) :func:`scrubbed_prose`. A map entry whose key :func:`scrubbed_prose` would change is dropped
    (replaced, two keys could become one, which a map cannot hold). A null struct stays null; a value without text
    is kept.

    A value whose texts joined cannot hold what they would lose (:func:`_may_hold`), as nearly all, is kept as it
    is: one gate on its texts joined, instead of one on each of them and a rebuilt struct (a face_validation
    document holds 90 texts)."""
    exact = _scrubbed_all(value, kind, prose, how)
    plain: list[Column] = []
    prosy: list[Column] = []
    if isinstance(kind, T.StringType) or exact is value or not _texts(value, kind, prose, how, plain, prosy):
        return exact
    joined = [(F.concat_ws("\n", *texts), prose) for texts, prose in ((plain, False), (prosy, True)) if texts]
    possible = [_may_hold(text, prose) for text, prose in joined]
    return F.when(functools.reduce(operator.or_, possible), exact).otherwise(value)


def scrubbed_columns(kinds: Mapping[str, T.DataType], prose: Collection[str] = ()) -> dict[str, Column]:
    """``{name: scrubbed_all(F.col(name), kind, prose)}`` for each column ``name`` of type ``kind``, built once per
    driver JVM for the same names, types and prose: the expressions of a face_validation document's 90 texts take
    about 11,000 calls into the JVM to build (0.8-1.4 s in a warm driver), and a process that parses many batches,
    as the tests do, built them again for each. A Column is an immutable expression: any DataFrame may use it."""
    return dict(_scrubbed_columns(id(SparkContext._gateway), tuple(kinds.items()), tuple(prose)))


@functools.cache
def _scrubbed_columns(
    jvm: int, kinds: tuple[tuple[str, T.DataType], ...], prose: tuple[str, ...]
) -> tuple[tuple[str, Column], ...]:
    return tuple((name, scrubbed_all(F.col(name), kind, prose)) for name, kind in kinds)


def _texts(
    value: Column,
    kind: T.DataType,
    prose: Collection[str],
    how: Callable[[Column], Column],
    plain: list[Column],
    prosy: list[Column],
) -> bool:
    """Add the texts of ``value`` that :func:`_scrubbed_all` reads to ``plain`` or ``prosy`` (strings, arrays of
    strings, a map's keys and values); False when some are where a join cannot reach (in an array of structs)."""
    into = prosy if how is scrubbed_prose else plain
    if not holds_text(kind):
        return True
    if isinstance(kind, T.StringType) or kind == T.ArrayType(T.StringType()):
        into.append(value)
        return True
    if isinstance(kind, T.StructType):
        return all(
            _texts(value[f.name], f.dataType, prose, scrubbed_prose if f.name in prose else how, plain, prosy)
            for f in kind.fields
        )
    if isinstance(kind, T.MapType) and isinstance(kind.keyType, T.StringType):
        prosy.append(F.map_keys(value))  # a key is judged as prose
        if isinstance(kind.valueType, T.StringType):
            into.append(F.map_values(value))
        return not holds_text(kind.valueType) or isinstance(kind.valueType, T.StringType)
    return False


def _scrubbed_all(value: Column, kind: T.DataType, prose: Collection[str], how: Callable[[Column], Column]) -> Column:
    if not holds_text(kind):
        return value
    if isinstance(kind, T.StringType):
        return how(value)
    if isinstance(kind, T.StructType):
        fields = [
            _scrubbed_all(value[f.name], f.dataType, prose, scrubbed_prose if f.name in prose else how).alias(f.name)
            for f in kind.fields
        ]
        return F.when(value.isNotNull(), F.struct(*fields))
    if isinstance(kind, T.ArrayType):
        return F.transform(value, lambda element: _scrubbed_all(element, kind.elementType, prose, how))
    assert isinstance(kind, T.MapType), kind
    if isinstance(kind.keyType, T.StringType):
        value = F.map_filter(value, lambda key, _: scrubbed_prose(key) == key)
    if holds_text(kind.valueType):
        value = F.transform_values(value, lambda _, entry: _scrubbed_all(entry, kind.valueType, prose, how))
    return value
