"""A JSON report naming a lone UTF-16 surrogate (`"\\ud800"`) is refused, as every
other body with one is (`limits`): the C parser that reads reports turned it into
"?" silently, and the report was filed with a customer nobody named."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licensing.royalties import rows
from licensing.royalties.rows import Upload, json_submission

ROW = {
    "line": 1,
    "customer_id": "A",
    "customer_name": "Clinic A",
    "country": "US",
    "unit": "end_users",
    "quantity": 4,
}


def _body(**changes: str) -> bytes:
    report = {"attest": True, "rows": [{**ROW, **changes}]}
    return json.dumps(report).encode()  # ensure_ascii: non-ASCII as \\u escapes


def _problems(body: bytes) -> dict[str, list[str]]:
    return json_submission(Upload.of_bytes(body)).problems


# Built with chr(): a linter compares lone surrogates in literals as equal.
HIGH, LOW = chr(0xD800), chr(0xDC00)


@pytest.mark.parametrize(
    "name",
    [
        HIGH,
        "Clinic " + chr(0xDBFF),
        LOW + " Clinic",
        chr(0xDFFF),
        LOW + HIGH,
        HIGH + HIGH,
    ],
)
def test_a_lone_surrogate_in_a_row_is_refused_naming_the_body(name: str) -> None:
    problems = _problems(_body(customer_name=name))
    assert list(problems) == ["_body"]
    assert "lone UTF-16 surrogate" in problems["_body"][0]


def test_a_lone_surrogate_in_the_reason_is_refused() -> None:
    body = json.dumps({"attest": True, "reason": "x\ud800", "amends": 1, "rows": []}).encode()
    assert "_body" in _problems(body)


@pytest.mark.parametrize(
    "name", ["Clinic \U0001f600", "\U00010348 Clinic", "Clinique é", "\\ud800 typed as text"]
)
def test_surrogate_pairs_other_characters_and_an_escaped_backslash_are_read_as_before(
    name: str,
) -> None:
    assert _problems(_body(customer_name=name)) == {}


@pytest.mark.parametrize("padding", range(0, 14))
def test_a_pair_split_by_the_scans_chunks_is_read_and_a_lone_one_refused(
    monkeypatch: pytest.MonkeyPatch, padding: int
) -> None:
    # Chunks of 64 bytes with the scan's overlap: a pair or a lone escape near the
    # edge of a chunk is judged with its neighbours.
    monkeypatch.setattr(rows, "_SCAN_CHUNK", 64)
    prefix = "x" * (40 + padding)
    assert _problems(_body(customer_name=prefix + "\U0001f600")) == {}
    assert "_body" in _problems(_body(customer_name=prefix + "\ud83d"))
    assert "_body" in _problems(_body(customer_name=prefix + "\ude00"))


def _raw_body(name_literal: str) -> bytes:
    """A report whose customer name is `name_literal`, the JSON text as given."""
    head = '{"attest": true, "rows": [{"line": 1, "customer_id": "A", "customer_name": '
    return (
        head + name_literal + ', "country": "US", "unit": "end_users", "quantity": 4}]}'
    ).encode()


@pytest.mark.parametrize(
    "literal",
    [
        r'"\\\udc00"',  # an escaped backslash, then a real lone low escape
        r'"\\ud800\udc00"',  # the text "\ud800" is no high escape to pair with
        r'"\\\\ud800\udc00"',
        r'"x\\\\\\\udc00"',
        r'"\ud800\\\udc00"',
    ],
)
def test_a_lone_surrogate_after_escaped_backslashes_is_refused_as_a_surrogate(
    literal: str,
) -> None:
    problems = _problems(_raw_body(literal))
    assert list(problems) == ["_body"]
    assert "lone UTF-16 surrogate" in problems["_body"][0]


_PIECES = ["\\\\", "\\ud800", "\\udc00", "\\uDBFF", "\\uDFFF", "ud800", "x", "\\\\u", "dc00"]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8),
    padding=st.integers(min_value=0, max_value=40),
)
def test_the_scan_refuses_exactly_the_strings_that_decode_to_a_lone_surrogate(
    pieces: list[str], padding: int
) -> None:
    # Small chunks and overlap (enough for a pair judged in the next window), so
    # escapes and runs of backslashes fall on the
    # edges; judged against what Python's own JSON decoder makes of the string.
    literal = '"' + "".join(pieces) + '"'
    try:
        decoded = json.loads(literal)
    except json.JSONDecodeError:
        return  # not a JSON string (a lone "\\u" piece): not the scan's question
    has_lone = any(0xD800 <= ord(c) <= 0xDFFF for c in decoded)
    body = ('{"reason": "' + "y" * padding + '", "x": ' + literal + "}").encode()
    original = rows._SCAN_CHUNK, rows._SCAN_OVERLAP
    rows._SCAN_CHUNK, rows._SCAN_OVERLAP = 32, 24
    try:
        refused = rows._unsafe_json(io.BytesIO(body)) is not None
    finally:
        rows._SCAN_CHUNK, rows._SCAN_OVERLAP = original
    assert refused == has_lone, literal
