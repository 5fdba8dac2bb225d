"""The duplicate check of a report's rows: each customer once per line and unit, in
memory that grows by the customer's key and row number alone (round 42)."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal
from typing import Any

import pytest

from licensing.royalties.rows import CSV_HEADER, Problems, Row, Submission, Upload, csv_submission
from licensing.royalties.services.filing import _check_rows
from tests.support.reportable_lines import reportable_line

LINES = {1: reportable_line(1, ("end_users", "members"), False), 2: reportable_line(2, (), True)}


class _Kept:
    """A writer that keeps what it is given (the real one stores it)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, row: Row) -> None:
        self.rows.append(row)


class _Dropped:
    """A writer that keeps nothing, as the real one keeps nothing once written."""

    def add(self, row: Row) -> None:
        pass


def _submission(body: str) -> Submission:
    upload = Upload.of_bytes((CSV_HEADER + "\n" + body).encode())
    return csv_submission(upload, attest=True, amends=None, reason=None)


def _checked(body: str | Submission, writer: Any) -> tuple[int, dict[int, Decimal]]:
    submission = _submission(body) if isinstance(body, str) else body
    revenue = {2: Decimal(0)}
    count = _check_rows(submission, LINES, Problems(), revenue, writer)
    return count, revenue


def test_a_customer_may_report_once_on_each_line_and_unit() -> None:
    writer = _Kept()
    count, revenue = _checked(
        "1,Straße-7,Clinic,US,end_users,5,\n"
        "1,STRASSE-7,Clinic,US,members,6,\n"
        "2,strasse-7,Clinic,US,,,10.50\n",
        writer,
    )
    assert count == 3
    assert [row.number for row in writer.rows] == [2, 3, 4]
    assert revenue == {2: Decimal("10.50")}


def test_the_same_customer_twice_on_a_line_and_unit_names_both_rows() -> None:
    from licensing.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        _checked(
            "1,Straße-7,Clinic,US,end_users,5,\n"
            "1,A,Clinic A,US,end_users,1,\n"
            "1,  STRASSE-7 ,Clinic,US,end_users,6,\n"
            "2,B,Clinic B,US,,,1\n"
            "2,b,Clinic B,US,,,2\n",
            _Kept(),
        )
    problems = refused.value.errors
    assert problems == {
        "rows.4.customer_id": [
            "Rows 2 and 4 both report customer 'STRASSE-7' on line 1 in end_users; "
            "give each customer once per line and unit."
        ],
        "rows.6.customer_id": [
            "Rows 5 and 6 both report customer 'b' on line 2; "
            "give each customer once per line and unit."
        ],
    }


def test_checking_keeps_only_each_customers_key_and_row_number() -> None:
    # What the check holds while the rows stream through is all a large report's
    # request adds to the process (its rows are written and dropped). Keyed by
    # (line, unit, key) tuples it also held a tuple and the row's own copy of its
    # unit for every row: 246 bytes a row here, where the key (about 60 bytes at
    # this length), the row number (32) and the dict's entry are 115.
    count = 20_000
    submission = _submission(
        "".join(
            f"1,CUST-{i:07d},Invented Clinic {i},US,end_users,{i % 40},\n" for i in range(count)
        )
    )
    tracemalloc.start()
    try:
        checked, _ = _checked(submission, _Dropped())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert checked == count
    assert peak / count < 160, f"{peak / count:.0f} bytes a row"


def _refused(body: str) -> dict[str, list[str]]:
    from licensing.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        _checked(body, _Kept())
    return refused.value.errors


def test_a_customer_repeated_after_a_refused_row_is_named_with_that_rows_problems() -> None:
    # Round 56: row 2's bad country and quantity were reported, the repeat in row 4
    # only once row 2 was corrected (the check looked at good rows alone).
    problems = _refused(
        "1,Q-7,Clinic,USA,end_users,many,\n"
        "1,A,Clinic A,US,end_users,1,\n"
        "1,q-7,Clinic,US,end_users,6,\n"
    )
    assert sorted(problems) == ["rows.2.country", "rows.2.quantity", "rows.4.customer_id"]
    assert problems["rows.4.customer_id"] == [
        "Rows 2 and 4 both report customer 'q-7' on line 1 in end_users; "
        "give each customer once per line and unit."
    ]


def test_a_refused_row_repeating_a_good_one_is_named_as_a_repeat_too() -> None:
    problems = _refused(
        "1,Q-7,Clinic,US,end_users,5,\n"
        "1,Q-7,Clinic,US,end_users,6,12.00\n"
        "2,B,Clinic B,ZZ,,,1\n"
        "2,B,Clinic B,US,,,2\n"
    )
    assert sorted(problems) == [
        "rows.3.customer_id",
        "rows.3.revenue",
        "rows.4.country",
        "rows.5.customer_id",
    ]
    assert problems["rows.5.customer_id"] == [
        "Rows 4 and 5 both report customer 'B' on line 2; "
        "give each customer once per line and unit."
    ]


def test_a_row_whose_line_unit_or_customer_is_refused_repeats_no_other() -> None:
    # Only a row's good line, unit and customer id say which customer it reports: a
    # unit its line does not count, a customer id too long or no line are the row's
    # own problems, not a repeat.
    long_id = "Q" * 101
    problems = _refused(
        "1,Q-7,Clinic,US,end_users,5,\n"
        "1,Q-7,Clinic,US,seats,6,\n"
        f"1,{long_id},Clinic,US,end_users,6,\n"
        f"1,{long_id},Clinic,US,end_users,7,\n"
        "9,Q-7,Clinic,US,end_users,6,\n"
    )
    assert sorted(problems) == [
        "rows.3.unit",
        "rows.4.customer_id",
        "rows.5.customer_id",
        "rows.6.line",
    ]
    assert not any("both report" in message for found in problems.values() for message in found)


def test_refused_rows_keep_only_their_keys_and_their_problems_stay_capped() -> None:
    # The refused rows' keys join the check (round 56) within its round 42 bound, and
    # what the answer holds stays `MAX_PROBLEMS` listed, the rest counted: 20,000 rows
    # each with a bad country, the last repeating the first's customer.
    from licensing.errors import InvalidInput
    from licensing.royalties.rows import MAX_PROBLEMS

    count = 20_000
    submission = _submission(
        "".join(
            f"1,CUST-{i % (count - 1):07d},Invented Clinic {i},ZZ,end_users,{i % 40},\n"
            for i in range(count)
        )
    )
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput) as refused:
            _checked(submission, _Dropped())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / count < 160, f"{peak / count:.0f} bytes a row"
    errors = refused.value.errors
    assert len(errors) == MAX_PROBLEMS + 1
    # Every row's country, and the last row's repeat of the first: all but the
    # first MAX_PROBLEMS counted.
    assert errors["rows"] == [f"and {count + 1 - MAX_PROBLEMS:,} more problems not listed"]


def test_a_json_row_giving_a_key_twice_is_one_of_the_rows_problems_in_its_place() -> None:
    """Round 58: a 400 naming the first such row alone (`RepeatedKey`). Row 0 gives
    its quantity twice and keeps its customer, so row 2 repeats it; row 1 gives its
    line twice (checked on the last, a good one), and names no customer for row 3 to
    repeat."""
    from licensing.errors import InvalidInput
    from licensing.royalties.rows import json_submission

    rows = [
        '{"line": 1, "customer_id": "A", "customer_name": "A", "country": "US", '
        '"unit": "end_users", "quantity": 1, "quantity": 900}',
        '{"line": 2, "line": 1, "customer_id": "B", "customer_name": "B", "country": "US", '
        '"unit": "end_users", "quantity": 1}',
        '{"line": 1, "customer_id": "a", "customer_name": "A", "country": "US", '
        '"unit": "end_users", "quantity": 2}',
        '{"line": 1, "customer_id": "B", "customer_name": "B", "country": "US", '
        '"unit": "end_users", "quantity": 3}',
    ]
    submission = json_submission(Upload.of_bytes(f'{{"rows": [{", ".join(rows)}]}}'.encode()))
    with pytest.raises(InvalidInput) as refused:
        _checked(submission, _Dropped())
    errors = refused.value.errors
    assert list(errors) == ["rows.0.quantity", "rows.1.line", "rows.2.customer_id"]
    assert errors["rows.0.quantity"] == [
        'The key "quantity" is given more than once: give each key once.'
    ]
    assert errors["rows.1.line"] == ['The key "line" is given more than once: give each key once.']
    assert errors["rows.2.customer_id"][0].startswith("Rows 0 and 2 both report customer 'a'")
