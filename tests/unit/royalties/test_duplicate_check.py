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
