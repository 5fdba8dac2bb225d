"""From when a missing royalty report is late (`royalties.lateness`, round 50): its
due date, or its agreement's later acceptance, and a filing's days late so."""

from __future__ import annotations

from datetime import UTC, date, datetime

from licensing.royalties.lateness import accepted_on, late_from
from licensing.royalties.periods import Period
from licensing.royalties.services import PeriodStatus, period_state

QUARTER = Period(1, date(2027, 1, 1), date(2027, 3, 31))  # due 2027-04-30
# 2027-09-01 at 10:00 at the office; 2027-09-02 at 01:00 UTC is still 09-01 there.
ACCEPTED = datetime(2027, 9, 1, 15, 0, tzinfo=UTC)


def _status(first_filed_at: datetime, accepted_at: datetime | None) -> PeriodStatus:
    return PeriodStatus(
        1, "CPT-2027-000001", 1, "Acme", QUARTER, "submitted", None, None,
        first_filed_at, accepted_at,
    )  # fmt: skip


def test_a_report_is_late_from_its_due_date_or_a_later_acceptance() -> None:
    assert late_from(date(2027, 4, 30), None) == date(2027, 4, 30)
    assert late_from(date(2027, 4, 30), date(2027, 1, 15)) == date(2027, 4, 30)
    assert late_from(date(2027, 4, 30), date(2027, 9, 1)) == date(2027, 9, 1)


def test_a_back_report_is_due_on_the_acceptance_day_and_overdue_after() -> None:
    accepted = date(2027, 9, 1)
    assert period_state(QUARTER, None, date(2027, 9, 1), accepted) == "due"
    assert period_state(QUARTER, None, date(2027, 9, 2), accepted) == "overdue"
    assert period_state(QUARTER, None, date(2027, 5, 1)) == "overdue"


def test_a_back_report_filed_is_days_late_from_the_acceptance_not_its_due_date() -> None:
    filed = datetime(2027, 9, 4, 15, 0, tzinfo=UTC)
    assert _status(filed, ACCEPTED).first_filed_days_late == 3
    assert _status(filed, ACCEPTED).back_report
    assert _status(filed, None).first_filed_days_late == 127
    # Accepted late in the office's evening (01:00 UTC the next day): its office day.
    evening = datetime(2027, 9, 2, 1, 0, tzinfo=UTC)
    assert _status(filed, evening).accepted_on == date(2027, 9, 1)


def test_an_agreement_is_accepted_on_the_office_day_of_its_acceptance() -> None:
    assert accepted_on(datetime(2027, 9, 1, 4, 59, tzinfo=UTC)) == date(2027, 8, 31)
    assert accepted_on(datetime(2027, 9, 1, 5, 0, tzinfo=UTC)) == date(2027, 9, 1)
    assert accepted_on(None) is None
