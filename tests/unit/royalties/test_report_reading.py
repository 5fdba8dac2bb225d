"""Reading a JSON report quickly must read it exactly as reading it plainly did."""

from __future__ import annotations

import io
import json
from typing import Any

import ijson
from hypothesis import example, given
from hypothesis import strategies as st

from licensing.royalties.rows import (
    _DEEP_NESTING,
    _LONG_NUMBER,
    _TOP_LEVEL,
    Upload,
    _deep_nesting,
    _long_number,
    json_submission,
)

PIECES = (b"0", b"7", b"9", b"e", b"E", b"+", b"-", b"[", b"{", b" ", b"\t", b"\n", b"\x0c")
JSONISH = st.lists(
    st.sampled_from([*PIECES, b":", b",", b"}", b"]", b'"', b"a", b"0" * 9, b"1" * 10, b"[ " * 8]),
    max_size=80,
).map(b"".join)


@given(JSONISH)
@example(b"," + b"1" * 41)
@example(b": -" + b"5" * 40 + b"9")
@example(b"1e" + b"2" * 10)
@example(b"7E-" + b"0" * 10)
@example(b'"' + b"1" * 50 + b'"')
@example(b"[ {\t" * 16 + b"[")
@example(b"[\x0c" * 33)
def test_the_quick_scan_finds_a_long_number_exactly_when_the_pattern_does(window: bytes) -> None:
    assert _long_number(window) == bool(_LONG_NUMBER.search(window))
    assert _deep_nesting(window) == bool(_DEEP_NESTING.search(window))


def _plain_reading(body: bytes) -> tuple[dict[str, list[str]], Any, Any, Any]:
    """What the shape check gave when it looked at every one of the parser's events."""
    problems: dict[str, list[str]] = {}
    found: dict[str, Any] = {}
    seen_rows = False
    try:
        events = ijson.parse(io.BytesIO(body), use_float=False)
        _prefix, event, _ = next(events)
        if event != "start_map":
            problems["_body"] = ["The body must be a JSON object with attest and rows."]
        else:
            for prefix, event, value in events:
                containers = ("start_map", "start_array", "end_map", "end_array")
                if prefix == "" and event == "map_key" and value not in _TOP_LEVEL:
                    problems[str(value)] = ["Unknown field."]
                elif prefix in ("attest", "amends", "reason") and event not in containers:
                    found[prefix] = value
                elif prefix in ("attest", "amends", "reason"):
                    problems[prefix] = ["Must be a single value."]
                elif prefix == "rows" and event == "start_array":
                    seen_rows = True
                elif prefix == "rows" and event != "end_array":
                    problems["rows"] = ["Must be a list of rows (an empty list for a nil report)."]
    except (ijson.JSONError, StopIteration, ValueError, ArithmeticError, RecursionError):
        problems["_body"] = ["The body is not valid JSON."]
    if not seen_rows and not problems:
        problems["rows"] = ["Give the rows (an empty list for a nil report)."]
    return problems, found.get("attest"), found.get("amends"), found.get("reason")


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(0, 99), st.text(max_size=5))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["", "line", "rows", "attest", "x"]), inner, max_size=3),
    ),
    max_leaves=8,
)
BODIES = st.one_of(
    st.dictionaries(
        st.sampled_from(["attest", "amends", "reason", "rows", "", "other", "rows.item"]),
        VALUES,
        max_size=5,
    ).map(lambda body: json.dumps(body).encode()),
    VALUES.map(lambda body: json.dumps(body).encode()),
    st.binary(max_size=30),
)


@given(BODIES)
@example(b'{"attest": true, "rows": [{"line": 1}]} trailing')
@example(b'{"": {"attest": 1, "a": [1]}, "rows": []}')
@example(b'{"rows": [{"line": 1, "x": {"rows": 2}}], "attest": true, "reason": [1]}')
@example(b'{"attest": true, "rows": [{"line": 1,]}')
@example(b"")
def test_the_shape_of_a_json_report_is_read_as_looking_at_every_event_read_it(
    body: bytes,
) -> None:
    submission = json_submission(Upload.of_bytes(body))
    found = (submission.problems, submission.attest, submission.amends, submission.reason)
    if submission.problems.get("_body", [""])[0].startswith(("A number", "The body nests")):
        return  # refused before the parser, as before
    assert found == _plain_reading(body)
