"""The first-quarter walk's days on any day (round 49): for each real instant the
walk may start at, the term it applies for, its first quarter, the report's due
day, the instants it travels to (forward only) and the numbers and due days of its
invoices and credit note, written out here as the calendar gives them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.support.first_quarter import FirstQuarter, Issued

# (the instant the walk starts, what it reads): term, agreement, up-front invoice,
# first period, the instant it is reported, its invoice, the amendment's instant and
# credit note.
CASES = {
    "1 January": (
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
    "31 March": (
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
    "1 April": (
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
    "30 December": (
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
    "29 February 2028": (
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
    "03:30 UTC, the office's day before": (
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
def test_the_walk_s_days_on_each_day_it_may_start(case: tuple[object, ...]) -> None:
    now, term, agreement, up_front, period, reported_at, invoice, amended_at, credit = case
    assert isinstance(now, datetime)
    walk = FirstQuarter.starting(now)
    assert walk.term == term
    assert walk.agreement == agreement
    assert walk.up_front == up_front
    assert (walk.period.index, walk.period.start, walk.period.end, walk.period.due_on) == (
        1,
        *period,
    )
    assert walk.reported_at == reported_at
    assert walk.quarter_invoice == invoice
    assert walk.amended_at == amended_at
    assert walk.credit_note == credit


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_walk_travels_only_forward_and_reports_its_quarter_after_it_ends(
    case: tuple[object, ...],
) -> None:
    now = case[0]
    assert isinstance(now, datetime)
    walk = FirstQuarter.starting(now)
    # The term has not begun at the real time, so its report is not yet due.
    assert now < datetime.combine(walk.term[0], datetime.min.time(), UTC)
    assert walk.period.end < walk.reported_at.date() < walk.period.due_on
    assert now < walk.reported_at < walk.amended_at
    # The amendment is in the quarter's invoice's year, before it falls due.
    assert walk.amended_at.date() < walk.quarter_invoice.due
