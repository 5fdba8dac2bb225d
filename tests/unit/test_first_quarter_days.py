"""The first-quarter walk's days on any day (round 49): for each real instant the
walk may start at, the term it applies for, its first quarter, the report's due
day, the instants it travels to (forward only) and the numbers and due days of its
invoices and credit note, written out here as the calendar gives them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import NamedTuple

import pytest

from tests.support.first_quarter import FirstQuarter, Issued


class Case(NamedTuple):
    """The instant the walk starts, and what it reads then."""

    now: datetime
    term: tuple[date, date]
    agreement: str
    up_front: Issued
    period: tuple[date, date, date]  # first day, last day, the report's due day
    reported_at: datetime
    quarter_invoice: Issued
    amended_at: datetime
    credit_note: str


CASES = {
    "1 January": Case(
        datetime(2027, 1, 1, 12, 0, tzinfo=UTC),
        (date(2027, 2, 1), date(2028, 1, 31)),
        "CPT-2027-000001",
        Issued("INV-2027-000001", date(2027, 1, 31)),
        (date(2027, 2, 1), date(2027, 3, 31), date(2027, 4, 30)),
        datetime(2027, 4, 1, 15, 0, tzinfo=UTC),
        Issued("INV-2027-000002", date(2027, 5, 1)),
        datetime(2027, 4, 4, 15, 0, tzinfo=UTC),
        "CN-2027-000001",
    ),
    "31 March": Case(
        datetime(2027, 3, 31, 12, 0, tzinfo=UTC),
        (date(2027, 5, 1), date(2028, 4, 30)),
        "CPT-2027-000001",
        Issued("INV-2027-000001", date(2027, 4, 30)),
        (date(2027, 5, 1), date(2027, 6, 30), date(2027, 7, 30)),
        datetime(2027, 7, 1, 15, 0, tzinfo=UTC),
        Issued("INV-2027-000002", date(2027, 7, 31)),
        datetime(2027, 7, 4, 15, 0, tzinfo=UTC),
        "CN-2027-000001",
    ),
    "1 April": Case(
        datetime(2027, 4, 1, 12, 0, tzinfo=UTC),
        (date(2027, 5, 2), date(2028, 5, 1)),
        "CPT-2027-000001",
        Issued("INV-2027-000001", date(2027, 5, 1)),
        (date(2027, 5, 2), date(2027, 6, 30), date(2027, 7, 30)),
        datetime(2027, 7, 1, 15, 0, tzinfo=UTC),
        Issued("INV-2027-000002", date(2027, 7, 31)),
        datetime(2027, 7, 4, 15, 0, tzinfo=UTC),
        "CN-2027-000001",
    ),
    # Next year's card, its quarter and its invoice are all the next year's.
    "30 December": Case(
        datetime(2027, 12, 30, 12, 0, tzinfo=UTC),
        (date(2028, 1, 30), date(2029, 1, 29)),
        "CPT-2028-000001",
        Issued("INV-2027-000001", date(2028, 1, 29)),
        (date(2028, 1, 30), date(2028, 3, 31), date(2028, 4, 30)),
        datetime(2028, 4, 1, 15, 0, tzinfo=UTC),
        Issued("INV-2028-000001", date(2028, 5, 1)),
        datetime(2028, 4, 4, 15, 0, tzinfo=UTC),
        "CN-2028-000001",
    ),
    # A month on is 31 March, the quarter's last day: the first period is one day.
    "29 February 2028": Case(
        datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
        (date(2028, 3, 31), date(2029, 3, 30)),
        "CPT-2028-000001",
        Issued("INV-2028-000001", date(2028, 3, 30)),
        (date(2028, 3, 31), date(2028, 3, 31), date(2028, 4, 30)),
        datetime(2028, 4, 1, 15, 0, tzinfo=UTC),
        Issued("INV-2028-000002", date(2028, 5, 1)),
        datetime(2028, 4, 4, 15, 0, tzinfo=UTC),
        "CN-2028-000001",
    ),
    # 03:30 UTC on 1 January 2028 is 21:30 on 31 December 2027 at the office: the
    # up-front invoice is 2027's, its due day counted from the office's day.
    "03:30 UTC, the office's day before": Case(
        datetime(2028, 1, 1, 3, 30, tzinfo=UTC),
        (date(2028, 1, 31), date(2029, 1, 30)),
        "CPT-2028-000001",
        Issued("INV-2027-000001", date(2028, 1, 30)),
        (date(2028, 1, 31), date(2028, 3, 31), date(2028, 4, 30)),
        datetime(2028, 4, 1, 15, 0, tzinfo=UTC),
        Issued("INV-2028-000001", date(2028, 5, 1)),
        datetime(2028, 4, 4, 15, 0, tzinfo=UTC),
        "CN-2028-000001",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_walk_s_days_on_each_day_it_may_start(case: Case) -> None:
    walk = FirstQuarter.starting(case.now)
    assert walk.term == case.term
    assert walk.agreement == case.agreement
    assert walk.up_front == case.up_front
    assert walk.period.index == 1
    assert (walk.period.start, walk.period.end, walk.period.due_on) == case.period
    assert walk.reported_at == case.reported_at
    assert walk.quarter_invoice == case.quarter_invoice
    assert walk.amended_at == case.amended_at
    assert walk.credit_note == case.credit_note


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_walk_travels_only_forward_and_reports_its_quarter_after_it_ends(
    case: Case,
) -> None:
    now = case.now
    walk = FirstQuarter.starting(now)
    # The term has not begun at the real time, so its report is not yet due.
    assert now < datetime.combine(walk.term[0], datetime.min.time(), UTC)
    assert walk.period.end < walk.reported_at.date() < walk.period.due_on
    assert now < walk.reported_at < walk.amended_at
    # The amendment is in the quarter's invoice's year, before it falls due.
    assert walk.amended_at.date() < walk.quarter_invoice.due


def test_a_walk_started_before_the_office_s_midnight_expects_the_day_its_invoice_is_issued() -> (
    None
):
    # 23:59 on 31 December 2027 at the office (Chicago, UTC-6); the vendor accepts,
    # and the up-front invoice is issued, two minutes later, in the office's 2028.
    started = datetime(2028, 1, 1, 5, 59, tzinfo=UTC)
    issued = datetime(2028, 1, 1, 6, 1, tzinfo=UTC)
    walk = FirstQuarter.starting(started, issued=issued)
    # Its card and term are the start's (published then) ...
    assert walk.years == FirstQuarter.starting(started).years
    assert walk.term[0] == date(2028, 1, 31)
    # ... its invoices the issue's: the first of 2028, due 30 days after 1 January,
    # and the quarter's the second of 2028 (it would read INV-2027-000001, due
    # 2028-01-30, and INV-2028-000001 from the start's day).
    assert walk.up_front == Issued("INV-2028-000001", date(2028, 1, 31))
    assert walk.quarter_invoice == Issued("INV-2028-000002", date(2028, 5, 1))
    assert FirstQuarter.starting(started).up_front == Issued("INV-2027-000001", date(2028, 1, 30))
