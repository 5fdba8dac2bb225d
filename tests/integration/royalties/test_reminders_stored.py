"""The reminders job and the standing check read the stored periods
(`reporting_periods`) in SQL, a page at a time: the same reminders and the same
overdue reports at each day boundary as the Python derivation from each agreement's
obligations (`services.all_periods`), and the same work at 10 and 100 agreements."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.calendar import office_date
from licensing.mail.models import OutboxMessage
from licensing.royalties import services
from licensing.royalties.models import RoyaltyReminder
from licensing.royalties.services import send_reminders
from tests.integration.royalties.conftest import SOFTWARE, at, row
from tests.support.agreements import make_active_agreement
from tests.support.statements import sent_by

# The module, not the function the package exports under the same name.
reminders_module = sys.modules["licensing.royalties.services.reminders"]
Key = tuple[int, date, str]
STANDING_DAYS = 30
# The first quarter ends 2027-03-31 and is due 2027-04-30; the second ends
# 2027-06-30 and is due 2027-07-30.
BOUNDARIES = [
    date(2027, 3, 31),  # the quarter's last day: nothing yet
    date(2027, 4, 1),  # reportable, and due in 29 days: before_due
    date(2027, 4, 16),
    date(2027, 4, 17),
    date(2027, 4, 30),  # the due date
    date(2027, 5, 1),
    date(2027, 5, 13),
    date(2027, 5, 14),  # 14 days overdue
    date(2027, 5, 28),
    date(2027, 5, 31),
    date(2027, 6, 1),  # more than 30 days overdue
    date(2027, 6, 15),
    date(2027, 6, 16),  # the day after the late acceptance
    date(2027, 7, 1),
    date(2027, 7, 15),
    date(2027, 7, 16),  # 30 days after the late acceptance
    date(2027, 7, 17),
    date(2027, 7, 30),
    date(2027, 8, 13),
]
# Accepted in the evening at the office, the next day in UTC: its office day counts.
LATE_ACCEPTANCE = datetime(2027, 6, 16, 3, 30, tzinfo=UTC)


def accepted_on(agreement: Agreement) -> date | None:
    return office_date(agreement.activated_at) if agreement.activated_at else None


def python_reminders(day: date) -> set[Key]:
    """The reminders `day` reaches, from every agreement's periods built in Python,
    less those already sent."""
    agreements = {a.id: a for a in db.session().scalars(select(Agreement))}
    sent = {
        (r.agreement_id, r.period_start, r.stage)
        for r in db.session().scalars(select(RoyaltyReminder))
    }
    reached = set()
    for status in services.all_periods(Actor.SYSTEM, now=at(day)):
        accepted = accepted_on(agreements[status.agreement_id])
        stage = services.reminder_stage(status.period, day, accepted)
        if status.report is None and stage is not None:
            reached.add((status.agreement_id, status.period.start, stage))
    return reached - sent


def sql_reminders(day: date) -> set[Key]:
    session = db.session()
    found = [
        (reminder.agreement_id, reminder.period.start, reminder.stage)
        for page in reminders_module.due_reminders(session, day)
        for reminder in page
    ]
    assert len(found) == len(set(found))
    return set(found)


def python_overdue(organization_id: int, day: date) -> list[str]:
    """The standing check's reports as it derived them, from every agreement's
    periods built in Python (in the agreements' order, then period order)."""
    agreements = {a.id: a for a in db.session().scalars(select(Agreement))}
    statuses = services.all_periods(Actor.SYSTEM, now=at(day), organization_id=organization_id)
    return [
        reminders_module.overdue_words(
            s.agreement_number,
            s.period,
            max(s.period.due_on, accepted_on(agreements[s.agreement_id]) or date.min),
        )
        for s in statuses
        if s.report is None
        and day
        > max(s.period.due_on, accepted_on(agreements[s.agreement_id]) or date.min)
        + timedelta(days=STANDING_DAYS)
    ]


def test_the_reminders_and_overdue_reports_at_each_day_boundary_are_the_python_derivations(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    filed = active_agreement(vendor, SOFTWARE)
    unfiled = active_agreement(vendor, SOFTWARE)
    file_report(vendor, filed, 1, [row(1, "A", quantity=60)])
    late = make_active_agreement(other_vendor, licensing_staff, SOFTWARE, now=LATE_ACCEPTANCE)
    organizations = (vendor.organization_id, other_vendor.organization_id)
    # Three periods a page: the pages' seams fall inside an agreement's periods.
    monkeypatch.setattr(reminders_module, "REMINDER_PAGE", 3)

    for day in BOUNDARIES:
        expected = python_reminders(day)
        assert sql_reminders(day) == expected, day
        for organization_id in organizations:
            assert services.overdue_reports(
                db.session(), organization_id, day, STANDING_DAYS
            ) == python_overdue(organization_id, day), (day, organization_id)
        run = send_reminders(standing_days=STANDING_DAYS, now=at(day))
        assert run.reminders == len(expected), day
        assert sql_reminders(day) == set(), day  # each once
        # Held standings are restored, so that every day is checked from `active`.
        for organization_id in organizations:
            organization = db.session().get(Organization, organization_id)
            assert organization is not None
            if organization.standing == "pending_payment":
                assert python_overdue(organization_id, day) != [], day
                organization.standing = "active"
            else:
                assert python_overdue(organization_id, day) == [], (day, organization_id)
        db.session().commit()

    sent = db.session().scalars(select(RoyaltyReminder.agreement_id)).all()
    assert {unfiled.id, late.id} <= set(sent)


def test_the_reminders_job_does_the_same_work_at_10_and_100_agreements(
    app: Flask,
    vendor: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    day = date(2027, 6, 5)  # every first quarter 36 days overdue: reminded and held

    def seed(count: int) -> None:
        for _ in range(count):
            active_agreement(vendor, SOFTWARE)
        db.session().commit()

    def second_run() -> int:
        """The statements of a run after one that sent everything and held the
        organization: what an hourly run pays on most hours."""
        send_reminders(standing_days=STANDING_DAYS, now=at(day))
        organization = db.session().get(Organization, vendor.organization_id)
        assert organization is not None
        assert organization.standing == "pending_payment"
        with sent_by(app) as sent:
            run = send_reminders(standing_days=STANDING_DAYS, now=at(day))
        assert run.reminders == 0
        organization.standing = "active"
        db.session().commit()
        return len(sent)

    seed(10)
    at_small = second_run()
    seed(90)
    at_large = second_run()

    assert at_large == at_small
    reminders = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "royalty_report_reminder")
    )
    assert len(reminders.all()) == 100  # each agreement's first quarter, once
