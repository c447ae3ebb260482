"""Splitting JSON exports: the structural scan of arrays, line ranges, and reading ranges back."""

from __future__ import annotations

import io
import itertools
import json
import random
from collections.abc import Iterator

import pytest

from visionlake.ingest.jsonsplit import (
    DEFAULT_CHUNK,
    JsonSplitError,
    TrailingDataError,
    array_elements,
    group_ranges,
    line_blocks,
    line_ranges,
    read_elements,
    read_lines,
    trailing_flags,
    trailing_text,
)

CHUNKS = [1, 2, 3, 7, 64, DEFAULT_CHUNK]


def elements(text: bytes, chunk_size: int) -> list[tuple[int, int]]:
    return list(array_elements(io.BytesIO(text), chunk_size))


def lines(text: bytes, start: int, end: int, chunk_size: int = DEFAULT_CHUNK) -> list[tuple[int, bytes]]:
    return list(read_lines(io.BytesIO(text), start, end, chunk_size))


# --------------------------------------------------------------------------------------------------------------------
# array_elements: hand-written inputs and offsets

ARRAYS = {
    "objects": (b'[{"a":1},{"b":2}]', [(1, 8), (9, 16)]),
    "nested arrays": (b"[[1,[2,3]],[],[[]]]", [(1, 10), (11, 13), (14, 18)]),
    "scalars": (b'[1, -2.5e3 ,"x",true,false,null]', [(1, 2), (4, 10), (12, 15), (16, 20), (21, 26), (27, 31)]),
    "structural characters in strings": (rb'["{}[],", "\"", "a\\", "\\\"x"]', [(1, 8), (10, 14), (16, 21), (23, 30)]),
    # five backslashes then a quote: the quote is escaped, so '],' stay inside the string
    "odd backslash run": (rb'[{"k":"\\\\\"],"},0]', [(1, 17), (18, 19)]),
    # four backslashes then a quote: the quote ends the string
    "even backslash run": (rb'["\\\\",1]', [(1, 7), (8, 9)]),
    "six backslashes then the closing quote": (rb'["\\\\\\",{"x":"\\"}]', [(1, 9), (10, 20)]),
    "unicode before elements": ('[ "é€😀", {"名前": "値,]"} ]'.encode(), [(2, 13), (15, 34)]),
    "pretty-printed": (b'[\n  {\n    "a": [\n      1,\n      2\n    ]\n  },\n  3\n]\n', [(4, 43), (47, 48)]),
    "pretty-printed CRLF and tabs": (b'[\r\n\t1 ,\r\n\t"x"\r\n]', [(4, 5), (10, 13)]),
    "one-line mongoexport": (
        b'[{"_id":{"$oid":"5f1d"},"v":[1.5,2]},{"_id":{"$oid":"5f1e"},"v":[]}]',
        [(1, 36), (37, 67)],
    ),
    "surrounding whitespace": (b"  \n[1]  \n", [(4, 5)]),
    "single element": (b'["only"]', [(1, 7)]),
    "empty array": (b"[]", []),
    "empty array with space": (b"[ ]", []),
    "empty array multi-line": (b" \n[\n]\n", []),
    "BOM": (b"\xef\xbb\xbf[1]", [(4, 5)]),
    "BOM and whitespace": (b'\xef\xbb\xbf \n [ "a" ]', [(8, 11)]),
}


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("name", list(ARRAYS))
def test_array_elements_finds_each_top_level_element(name, chunk_size):
    text, expected = ARRAYS[name]
    spans = elements(text, chunk_size)
    assert spans == expected
    whole = json.loads(text.decode("utf-8-sig"))
    assert [json.loads(text[a:b]) for a, b in spans] == whole


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_array_elements_does_not_depend_on_the_chunk_boundaries_in_long_backslash_runs(chunk_size):
    run = b"\\" * 9  # odd: the quote after it is escaped
    text = b'["' + run + b'"], ' + b"\\" * 8 + b'", 1]'
    assert json.loads(text) == ['\\\\\\\\"], \\\\\\\\', 1]
    assert elements(text, chunk_size) == [(1, 24), (26, 27)]


ERRORS = {
    "object, not an array": (b'{"a":1}', r"expected '\[' at byte 0, found b'\{'"),
    "garbage before": (b"  x[1]", r"expected '\[' at byte 2"),
    "empty stream": (b"", r"has no '\['"),
    "only whitespace": (b" \r\n\t ", r"has no '\['"),
    "incomplete BOM": (b"\xef\xbb[1]", r"incomplete UTF-8 byte order mark at byte 2"),
    "two BOMs": (b"\xef\xbb\xbf\xef\xbb\xbf[1]", r"expected '\[' at byte 3"),
    "truncated": (b"[1,2", r"truncated: the stream ends at byte 4 before the array opened at byte 0 is closed"),
    "truncated inside an element": (b' [{"a":[1,2]}', r"ends at byte 13 before the array opened at byte 1"),
    "only the bracket": (b"[", r"ends at byte 1 before the array opened at byte 0"),
    "unclosed string": (b'[1,"abc]', r"ends at byte 8 inside the string opened at byte 3"),
    "unclosed string after escaped quote": (rb'[1,"ab\"]', r"inside the string opened at byte 3"),
    "trailing garbage": (b"[1] x", r"unexpected b'x' at byte 4 after the array closed at byte 2"),
    "second closing bracket": (b"[1]]", r"unexpected b'\]' at byte 3"),
    "second array": (b"[1]\n[2]", r"unexpected b'\[' at byte 4"),
    "unbalanced brace": (b"[1}", r"unbalanced '\}' at byte 2"),
    "trailing comma": (b"[1,]", r"empty element before '\]' at byte 3"),
    "leading comma": (b"[,1]", r"empty element before ',' at byte 1"),
    "double comma": (b"[1, ,2]", r"empty element before ',' at byte 4"),
}


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("name", list(ERRORS))
def test_array_elements_rejects_what_it_cannot_split(name, chunk_size):
    text, message = ERRORS[name]
    with pytest.raises(JsonSplitError, match=message):
        elements(text, chunk_size)


# text after the array: (newline between ']' and it, the array on one line); a file of the second kind is JSON
# Lines whose first line is an array, the others an array with text after it (documents.py)
TRAILING_AFTER = {
    b"[1, 2] x": (False, True),
    b" [1, 2]\nx": (True, True),
    b"\n[1, 2]\r\n{}": (True, True),  # the line break before '[' does not count
    b"[\n  1,\n  2\n]\nx\n": (True, False),  # pretty-printed
    b"[1,\n2] x": (False, False),
    b"[1, 2] \n": None,  # whitespace only: no error
}


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("text", list(TRAILING_AFTER))
def test_text_after_the_array_tells_a_line_break_before_it_and_an_array_on_one_line(text, chunk_size):
    if TRAILING_AFTER[text] is None:
        assert elements(text, chunk_size) == [(1, 2), (4, 5)]
        return
    with pytest.raises(TrailingDataError) as caught:
        elements(text, chunk_size)
    assert (caught.value.newline_between, caught.value.one_line) == TRAILING_AFTER[text]


def test_json_split_error_is_a_value_error():
    assert issubclass(JsonSplitError, ValueError)


def test_array_elements_reads_the_stream_lazily_one_chunk_at_a_time():
    stream = io.BytesIO(b"[1,2," + b" " * 100 + b"3]")
    spans = array_elements(stream, 4)
    assert next(spans) == (1, 2)
    assert stream.tell() == 4
    assert list(spans) == [(3, 4), (105, 106)]


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="chunk_size"):
        elements(b"[1]", 0)


# --------------------------------------------------------------------------------------------------------------------
# line_ranges and read_lines


def test_line_ranges_cuts_the_whole_size_into_consecutive_ranges():
    assert line_ranges(0, 10) == []
    assert line_ranges(5, 10) == [(0, 5)]
    assert line_ranges(100, 30) == [(0, 33), (33, 66), (66, 100)]
    assert line_ranges(4, 1) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    with pytest.raises(ValueError, match="target_bytes"):
        line_ranges(10, 0)


TEXT = b"one\ntwo\nthree\n"  # lines start at 0, 4 and 8


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 14, [(0, b"one"), (4, b"two"), (8, b"three")]),
        (0, 1, [(0, b"one")]),  # the line runs past the end of the range
        (1, 14, [(4, b"two"), (8, b"three")]),  # starts inside a line: skips to the next line start
        (5, 8, []),
        (5, 9, [(8, b"three")]),
        (0, 4, [(0, b"one")]),  # the range ends exactly at a line start: that line is the next range's
        (3, 4, []),  # only the newline of 'one'
        (4, 5, [(4, b"two")]),  # begins exactly at a line start
        (4, 14, [(4, b"two"), (8, b"three")]),
        (13, 14, []),
        (14, 20, []),
        (2, 2, []),
    ],
)
def test_read_lines_yields_the_lines_starting_in_the_range(start, end, expected, chunk_size):
    assert lines(TEXT, start, end, chunk_size) == expected


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_read_lines_strips_crlf_and_skips_blank_lines(chunk_size):
    text = b"a\r\nbb\r\n\r\n  \t\r\nccc\n\n"
    assert lines(text, 0, len(text), chunk_size) == [(0, b"a"), (3, b"bb"), (14, b"ccc")]


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_read_lines_reads_a_last_line_without_newline(chunk_size):
    text = b"a\nb"
    assert lines(text, 0, 3, chunk_size) == [(0, b"a"), (2, b"b")]
    assert lines(text, 1, 3, chunk_size) == [(2, b"b")]
    assert lines(text, 2, 3, chunk_size) == [(2, b"b")]
    assert lines(b'{"a": 1}', 0, 3, chunk_size) == [(0, b'{"a": 1}')]


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_read_lines_drops_a_bom_at_the_start_of_the_stream(chunk_size):
    text = b'\xef\xbb\xbf{"a":1}\n{"b":2}\n'
    assert lines(text, 0, len(text), chunk_size) == [(3, b'{"a":1}'), (11, b'{"b":2}')]
    assert lines(text, 1, len(text), chunk_size) == [(11, b'{"b":2}')]


def random_lines_text(rnd: random.Random) -> bytes:
    parts = []
    for _ in range(rnd.randint(0, 30)):
        kind = rnd.random()
        if kind < 0.1:
            body = ""
        elif kind < 0.2:
            body = rnd.choice([" ", "\t", "  \t "])
        else:
            body = json.dumps({"k": "é" * rnd.randint(0, 3), "v": list(range(rnd.randint(0, 8)))})
        parts.append(body.encode() + rnd.choice([b"\n", b"\r\n"]))
    text = b"".join(parts)
    if rnd.random() < 0.5:
        text += b'{"last": true}'  # no newline at the end
    return text


def expected_lines(text: bytes) -> list[tuple[int, bytes]]:
    found, offset = [], 0
    for raw in text.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line.strip():
            found.append((offset, line))
        offset += len(raw) + 1
    return found


def random_cut(rnd: random.Random, size: int) -> list[tuple[int, int]]:
    cuts = sorted({0, size, *(rnd.randint(0, size) for _ in range(rnd.randint(0, 8)))})
    return list(itertools.pairwise(cuts))


def random_lines_cases(seed: int, count: int = 300) -> Iterator[tuple[bytes, list[tuple[int, int]], int]]:
    """(text, a cut of it into ranges, a chunk size), ``count`` times: random lines, cut at random or by
    :func:`line_ranges`."""
    rnd = random.Random(seed)
    for _ in range(count):
        text = random_lines_text(rnd)
        cut = random_cut(rnd, len(text)) if rnd.random() < 0.7 else line_ranges(len(text), rnd.randint(1, 200))
        yield text, cut, rnd.choice([1, 2, 5, 16, 1000])


def test_read_lines_yields_every_line_exactly_once_for_any_cut():
    for text, cut, chunk_size in random_lines_cases(20220502):
        stream = io.BytesIO(text)
        got = [line for start, end in cut for line in read_lines(stream, start, end, chunk_size)]
        assert got == expected_lines(text), (text, cut, chunk_size)


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_line_blocks_hold_whole_lines_that_start_in_the_range(chunk_size):
    text = b"a\nbb\r\n\nccc\ndd"
    assert b"".join(b for _, b in line_blocks(io.BytesIO(text), 0, len(text), chunk_size)) == text
    assert [(o, b) for o, b in line_blocks(io.BytesIO(text), 1, 7, 1000)] == [(2, b"bb\r\n\n")]
    assert [(o, b) for o, b in line_blocks(io.BytesIO(text), 1, 8, 1000)] == [(2, b"bb\r\n\nccc\n")]
    assert [(o, b) for o, b in line_blocks(io.BytesIO(text), 11, 12, 1000)] == [(11, b"dd")]
    assert list(line_blocks(io.BytesIO(text), 12, 13, 1000)) == []
    blocks = list(line_blocks(io.BytesIO(text), 0, len(text), 3))
    assert all(b.endswith(b"\n") for _, b in blocks[:-1]) and all(
        o + len(b) == p for (o, b), (p, _) in itertools.pairwise(blocks)
    )


def test_line_blocks_split_into_the_lines_read_lines_gives_for_any_cut():
    for text, cut, chunk_size in random_lines_cases(20261203):
        got = []
        for start, end in cut:
            for offset, block in line_blocks(io.BytesIO(text), start, end, chunk_size):
                assert text[offset : offset + len(block)] == block
                got += [(offset + o, line) for o, line in read_lines(io.BytesIO(block), 0, len(block))]
        assert got == expected_lines(text), (text, cut, chunk_size)


# --------------------------------------------------------------------------------------------------------------------
# group_ranges and read_elements


def test_group_ranges_closes_a_group_once_it_reaches_the_target():
    spans = [(1, 8), (9, 16), (17, 30), (31, 32)]
    assert group_ranges(spans, 10) == [(1, 16, 2), (17, 30, 1), (31, 32, 1)]
    assert group_ranges(spans, 1000) == [(1, 32, 4)]
    assert group_ranges(spans, 1) == [(1, 8, 1), (9, 16, 1), (17, 30, 1), (31, 32, 1)]
    assert group_ranges(iter(spans), 10) == [(1, 16, 2), (17, 30, 1), (31, 32, 1)]
    assert group_ranges([], 10) == []


def test_group_ranges_rejects_unordered_elements_and_a_bad_target():
    with pytest.raises(ValueError, match="ordered"):
        group_ranges([(9, 16), (1, 8)], 10)
    with pytest.raises(ValueError, match="target_bytes"):
        group_ranges([(1, 8)], 0)


ELEMENTS_TEXT = b'[{"a":"],"}, [1,[2]] ,\n "x\\"y" ,3]'


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_read_elements_reads_back_a_group(chunk_size):
    assert elements(ELEMENTS_TEXT, chunk_size) == [(1, 11), (13, 20), (24, 30), (32, 33)]
    stream = io.BytesIO(ELEMENTS_TEXT)
    assert list(read_elements(stream, 1, 33, 4, chunk_size)) == [
        (1, b'{"a":"],"}'),
        (13, b"[1,[2]]"),
        (24, b'"x\\"y"'),
        (32, b"3"),
    ]
    assert list(read_elements(stream, 13, 30, 2, chunk_size)) == [(13, b"[1,[2]]"), (24, b'"x\\"y"')]
    assert list(read_elements(stream, 32, 33, None, chunk_size)) == [(32, b"3")]


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize(
    ("start", "end", "count", "message"),
    [
        (2, 11, None, r"unbalanced '\}' at byte 10"),  # starts inside the object
        (1, 8, None, r"ends inside the string opened at byte 6"),
        (13, 17, None, r"ends inside an element"),
        (1, 12, None, r"the range ends with ','"),
        (0, 33, None, r"ends inside an element"),  # the '[' opens an element that never closes
        (1, 20, 3, r"holds 2 elements, not 3"),
        (32, 40, None, r"unbalanced '\]' at byte 33"),
    ],
)
def test_read_elements_rejects_a_range_that_is_not_whole_elements(start, end, count, message, chunk_size):
    with pytest.raises(JsonSplitError, match=message):
        list(read_elements(io.BytesIO(ELEMENTS_TEXT), start, end, count, chunk_size))


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_read_elements_rejects_a_range_past_the_end_of_the_stream(chunk_size):
    with pytest.raises(JsonSplitError, match="the stream ends at byte 4, 6 bytes before the end of the range"):
        list(read_elements(io.BytesIO(b"[1,2"), 1, 10, None, chunk_size))


STRING_CHARS = ['"', "\\", "{", "}", "[", "]", ",", " ", "\n", "a", "é", "€", "😀", "\\\\", '\\"', ":"]


def random_value(rnd: random.Random, depth: int = 0):
    kind = rnd.random() if depth < 4 else rnd.random() * 0.6
    if kind < 0.15:
        return rnd.choice([None, True, False])
    if kind < 0.3:
        return rnd.choice([0, -7, 12345678901234, 1.5, -2.25e-8, 3e100])
    if kind < 0.6:
        return "".join(rnd.choice(STRING_CHARS) for _ in range(rnd.randint(0, 12)))
    if kind < 0.8:
        return [random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    return {random_value(rnd, 4) if rnd.random() < 0.5 else "k": random_value(rnd, depth + 1) for _ in range(3)}


def random_array_text(rnd: random.Random, values: list) -> bytes:
    style = rnd.choice(["compact", "spaced", "pretty", "mongoexport"])
    ensure_ascii = rnd.random() < 0.3
    if style == "compact":
        text = json.dumps(values, separators=(",", ":"), ensure_ascii=ensure_ascii)
    elif style == "spaced":
        text = json.dumps(values, ensure_ascii=ensure_ascii)
    elif style == "pretty":
        text = json.dumps(values, indent=rnd.choice([1, 2, 4, "\t"]), ensure_ascii=ensure_ascii)
    else:
        text = "[" + ",".join(json.dumps(v, separators=(",", ":"), ensure_ascii=ensure_ascii) for v in values) + "]"
    if rnd.random() < 0.3:
        text = text.replace("\n", "\r\n")
    prefix = rnd.choice(["", " \n", "\ufeff", "\ufeff\t "])
    return (prefix + text + rnd.choice(["", "\n", " \r\n "])).encode()


def test_group_ranges_and_read_elements_reproduce_the_parsed_array():
    rnd = random.Random(180)
    for _ in range(300):
        values = [random_value(rnd) for _ in range(rnd.randint(0, 12))]
        text = random_array_text(rnd, values)
        stream = io.BytesIO(text)
        spans = list(array_elements(stream, rnd.choice([1, 2, 3, 7, 64, 4096])))
        assert spans == list(array_elements(io.BytesIO(text))), text
        groups = group_ranges(spans, rnd.randint(1, 200))
        assert sum(count for _, _, count in groups) == len(spans)
        got = [
            item
            for start, end, count in groups
            for item in read_elements(stream, start, end, count, rnd.choice([1, 5, 64, 4096]))
        ]
        assert [offset for offset, _ in got] == [start for start, _ in spans]
        assert [json.loads(raw) for _, raw in got] == json.loads(text.decode("utf-8-sig")), text


# --------------------------------------------------------------------------------------------------------------------
# trailing_text

TRAILING_CASES = [  # (document, text after its first value: None where the scan cannot tell)
    (b'{"a": 1}', False),
    (b'  {"a": [1, {"b": []}]} \t\r', False),  # blanks before and after the value
    (b'\xef\xbb\xbf{"a": 1}', False),  # a byte-order mark before it
    (b"[1, [2]]", False),
    (b'{"a": "}]"}', False),  # brackets in a string
    (b'{"a": "\\"}"}', False),  # an escaped quote: the string goes on
    (b'{"a": "\\\\"}', False),  # an escaped backslash: the quote closes the string
    (b'{"a": "\\\\\\"}"}', False),  # three backslashes: the quote is escaped
    (b'{"a": "it\'s"}', False),  # a single quote in a string
    (b'{"a": 1} x', True),
    (b'{"a": 1}}', True),
    (b'{"a": 1}]', True),
    (b'{"a": 1}] , [{"b": 2}', True),
    (b'{"a": 1}{"b": 2}', True),
    (b'{"a": "\\\\"}x', True),
    (b'{"a": 1}\x0c', True),  # a form feed is not JSON whitespace
    (b"{'a': '}'}", None),  # single-quoted strings are not followed
    # words Spark's parser reads that JSON has not stand between brackets: answered like any value
    (b'{"a": NaN}', False),
    (b'{"a": [-INF, +Infinity]} x', True),
    (b'{"a": "NaN, Infinity, -INF"}', False),
    # nesting whose test wrapping is too deep: Spark's test decides
    (b'{"x": ' + b"[" * 999 + b"]" * 999 + b"}", None),  # depth 1,000: one more array (the test's) is too deep
    (b'{"x": ' + b"[" * 998 + b"]" * 998 + b"}", False),
    (b'{"a": 1', None),  # the value does not close
    (b"}{", None),
    (b"123", None),
    (b"", None),
]


def _trailing(documents: list[bytes], separator: bytes = b"\n") -> list[bool | None]:
    starts, at = [], 0
    for document in documents:
        starts.append(at)
        at += len(document) + len(separator)
    ends = [s + len(d) for s, d in zip(starts, documents, strict=True)]
    trailing, known = trailing_text(separator.join(documents), starts, ends)
    return [bool(t) if k else None for t, k in zip(trailing, known, strict=True)]


def test_trailing_flags_tell_each_document_and_skip_none():
    """Documents joined with nothing between them: each is still scanned from its own start (an unclosed one
    does not run into the next), and None is neither scanned nor told."""
    documents = [b'{"a": 1}', None, b'{"a": "', b'{"b": 1} x', b"{'c': 1}", None, b"[1]"]
    assert trailing_flags(documents) == [False, None, None, True, None, None, False]
    assert trailing_flags([None, None]) == [None, None]
    assert trailing_flags([]) == []


def test_trailing_text_finds_what_follows_the_first_value_of_each_document():
    assert _trailing([d for d, _ in TRAILING_CASES]) == [t for _, t in TRAILING_CASES]
    # each document is scanned from its own start: an unclosed string or object does not run into the next one
    assert _trailing([b'{"a": "', b'{"b": 1}', b'{"c": [', b'{"d": 2} ]']) == [None, False, None, True]
    # bytes between the documents are not theirs, even brackets and quotes
    assert _trailing([b'{"a": 1}', b'{"b": 2}'], separator=b'"]\\') == [False, False]
    assert _trailing([]) == []


def test_trailing_text_agrees_with_a_json_parser_on_generated_documents():
    """Python's JSON decoder, which refuses text after a value, on random nested documents (brackets, quotes and
    backslashes inside strings), each followed by nothing, blanks, or text."""
    rnd = random.Random(7)

    def value(depth: int = 0):
        pick = rnd.random()
        if depth > 3 or pick < 0.3:
            return rnd.choice([1, 'a"b\\', "}]{[", None, True, 2.5, "\\\\", "x'y"])
        if pick < 0.6:
            return [value(depth + 1) for _ in range(rnd.randint(0, 3))]
        return {rnd.choice(["k", '"q', "}"]) + str(i): value(depth + 1) for i in range(rnd.randint(0, 3))}

    documents = []
    for i in range(2000):
        text = json.dumps({"x": value()}, separators=(",", ":") if i % 2 else (", ", ": "))
        documents.append((text + rnd.choice(["", "  ", "\t", " x", "]", "}", "{}", ", 1", "] [1", " \r"])).encode())

    def parser_says(document: bytes) -> bool:
        try:
            json.loads(document.rstrip(b" \t\r\n"))
        except json.JSONDecodeError:
            return True
        return False

    assert _trailing(documents) == [parser_says(d) for d in documents]
