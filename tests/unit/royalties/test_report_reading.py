"""Reading a report quickly must read it exactly as reading it plainly did."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import ijson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from licensing.royalties.models import QUANTITY_MAX
from licensing.royalties.rows import (
    _DEEP_NESTING,
    _LONG_NUMBER,
    _TOP_LEVEL,
    COLUMNS,
    Problems,
    Upload,
    _check_row,
    _csv_rows,
    _deep_nesting,
    _long_number,
    _plain_row,
    check_row,
    column_count_problem,
    json_submission,
)
from licensing.streaming import csv_cell_read
from tests.support.reportable_lines import reportable_line

PIECES = (b"0", b"7", b"9", b"e", b"E", b"+", b"-", b"[", b"{", b" ", b"\t", b"\n", b"\x0c")
JSONISH = st.lists(
    st.sampled_from([*PIECES, b":", b",", b"}", b"]", b'"', b"a", b"0" * 9, b"1" * 10, b"[ " * 8]),
    max_size=80,
).map(b"".join)


@settings(deadline=None)
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


@settings(deadline=None)
@given(BODIES)
@example(b'{"attest": true, "rows": [{"line": 1}]} trailing')
@example(b'{"": {"attest": 1, "a": [1]}, "rows": []}')
@example(b'{"": {"rows": 1, "": {"rows": 2}}, "rows": []}')
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


LINES = {
    1: reportable_line(1, ("end_users",), False),
    2: reportable_line(2, (), True),
    3: reportable_line(3, ("users",), True),
}
CELLS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 10**13 + 2),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.sampled_from(["", " ", "1", " 2 ", "3", "-1", "1.5", "0.00", "12.345", "1e3", "x\x00"]),
    st.sampled_from(["US", " ca ", "ZZ", "end_users", " users ", "CUST-1", "\ud800", "é" * 201]),
    st.text(max_size=8),
)
# A good row of each line; the rows tried change or drop a cell or two of one.
GOOD = (
    {"line": 1, "customer_id": "C-1", "customer_name": "Clinic", "country": "US",
     "unit": "end_users", "quantity": 7, "revenue": None},
    {"line": 2, "customer_id": " c-2 ", "customer_name": "Lab", "country": "de",
     "unit": "", "quantity": None, "revenue": "10.00"},
    {"line": "3", "customer_id": "C-3", "customer_name": "Ward", "country": "CA",
     "unit": "users", "quantity": "7", "revenue": "0"},
)  # fmt: skip
NAMES = (*GOOD[0], "other")


def _changed(good: dict[str, Any], changes: dict[str, Any], dropped: set[str]) -> dict[str, Any]:
    return {k: v for k, v in {**good, **changes}.items() if k not in dropped}


FIELDS = st.one_of(
    st.builds(
        _changed,
        st.sampled_from(GOOD),
        st.dictionaries(st.sampled_from(NAMES), CELLS, max_size=2),
        st.sets(st.sampled_from(NAMES), max_size=1),
    ),
    st.lists(CELLS, max_size=2),
)


EDGES = [  # (which good row, what changes): GOOD[0] counts a unit, GOOD[1] revenue only
    (1, {"quantity": "5"}),  # a quantity without a unit
    (1, {"unit": " ", "quantity": " "}),
    (0, {"customer_name": "é" * 201}),
    (2, {"customer_id": "C\x1f"}),
    (0, {"quantity": -1}),
    (0, {"quantity": True}),
    (0, {"quantity": QUANTITY_MAX + 1}),
    (0, {"quantity": str(QUANTITY_MAX)}),
    (0, {"unit": "users"}),  # another line's unit
    (0, {"revenue": "1.00"}),  # revenue on a line that takes none
    (2, {"revenue": "1e3"}),
    (1, {"revenue": 5}),
    (2, {"country": " "}),
    (2, {"other": 1}),
    (0, {"line": True}),
]


@settings(max_examples=400, deadline=None)  # a busy machine is no failure
@given(st.integers(0, 3), FIELDS)
def test_a_row_is_checked_quickly_to_exactly_what_every_check_gives(
    number: int, fields: Any
) -> None:
    quick, thorough = Problems(), Problems()
    assert check_row(number, fields, LINES, quick) == _check_row(number, fields, LINES, thorough)
    assert quick.errors == thorough.errors


@pytest.mark.parametrize(("good", "changes"), EDGES)
def test_rows_at_the_edge_of_plain_are_checked_to_exactly_what_every_check_gives(
    good: int, changes: dict[str, Any]
) -> None:
    fields = _changed(GOOD[good], changes, set())
    quick, thorough = Problems(), Problems()
    assert check_row(0, fields, LINES, quick) == _check_row(0, fields, LINES, thorough)
    assert quick.errors == thorough.errors


@pytest.mark.parametrize("good", GOOD)
def test_a_good_row_is_taken_by_the_quick_check(good: dict[str, Any]) -> None:
    assert _plain_row(0, good, LINES) == _check_row(0, good, LINES, Problems()) is not None


def test_blank_csv_lines_are_skipped_and_rows_keep_their_line_in_the_file() -> None:
    body = (
        b"line,customer_id,customer_name,country,unit,quantity,revenue\n"
        b"1,A,Clinic A,US,end_users,5,\n"
        b"\n"
        b",,,,,,\n"
        b" , \t,,,,,\n"
        b"1,B,Clinic B,US,end_users,6,\n"
        b", x,,,,,\n"
    )
    rows = list(_csv_rows(io.BytesIO(body)))
    assert [number for number, _ in rows] == [2, 6, 7]
    assert rows[1][1]["customer_id"] == "B"
    assert rows[2][1]["customer_id"] == " x"


CELLS = st.lists(
    st.text(alphabet=st.sampled_from("'=+-@\t\rAb ,\"é"), max_size=4),
    min_size=7,
    max_size=7,
)


@given(st.lists(CELLS, min_size=1, max_size=4), st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
def test_csv_cells_are_read_back_from_the_formula_escape_exactly_as_cell_by_cell(
    records: list[list[str]], quoting: int
) -> None:
    # A record with no quote is kept as read: the same as reading back each cell.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=quoting)
    writer.writerow(COLUMNS)
    writer.writerows(records)
    text = buffer.getvalue()
    expected = [
        dict(zip(COLUMNS, [csv_cell_read(cell) for cell in record], strict=True))
        if len(record) == len(COLUMNS)
        else column_count_problem(len(record))
        for record in list(csv.reader(io.StringIO(text, newline="")))[1:]
        if "".join(record).strip()
    ]
    read = [fields for _, fields in _csv_rows(io.BytesIO(text.encode()))]
    assert read == expected
