"""Round 55: what stays open with an organization (`reminders.unfiled_reports`), the
reminders job and the standing hold find the periods still to file by the period's
own `filed` (royalties_0010), where they LEFT JOINed each period's current report.
The same periods as that join, through a filing, an amendment and a report sent
back for correction, and no report read."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import and_, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.royalties import services
from licensing.royalties.models import ReportingPeriod, RoyaltyReport
from licensing.royalties.periods import Period
from licensing.royalties.states import SUBMITTED
from tests.integration.royalties.conftest import SOFTWARE, row
from tests.support.statements import sent_by

reminders = sys.modules["licensing.royalties.services.reminders"]
STANDING_DAYS = 30
# The first quarter overdue; the second too, the third due; the whole year ended.
DAYS = (date(2027, 5, 15), date(2027, 8, 15), date(2027, 10, 20), date(2028, 3, 1))


def joined_unfiled(organization_id: int, today: date) -> list[str]:
    """The organization's ended periods without a current report, found as they
    were until round 55 (a LEFT JOIN of the current report), in the words and
    order `unfiled_reports` names them."""
    current = and_(
        RoyaltyReport.agreement_id == ReportingPeriod.agreement_id,
        RoyaltyReport.period_start == ReportingPeriod.period_start,
        RoyaltyReport.state == SUBMITTED,
    )
    found = db.session().execute(
        select(
            Agreement.number,
            ReportingPeriod.period_start,
            ReportingPeriod.period_end,
            ReportingPeriod.due_on,
        )
        .select_from(ReportingPeriod)
        .outerjoin(RoyaltyReport, current)
        .join(Agreement, Agreement.id == ReportingPeriod.agreement_id)
        .where(
            RoyaltyReport.id.is_(None),
            ReportingPeriod.organization_id == organization_id,
            ReportingPeriod.period_end < today,
        )
        .order_by(ReportingPeriod.due_on, Agreement.number)
    )
    return [
        f"Royalty report of {number} for {Period(0, start, end).label} not filed (due {due})."
        for number, start, end, due in found
    ]


def test_the_open_business_reminders_and_hold_find_the_periods_the_join_found_reading_no_report(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> None:
    nothing_filed = active_agreement(vendor, SOFTWARE)
    amended = active_agreement(vendor, SOFTWARE)
    sent_back = active_agreement(vendor, SOFTWARE)
    two_filed = active_agreement(vendor, SOFTWARE)
    elsewhere = active_agreement(other_vendor, SOFTWARE)
    first = file_report(vendor, amended, 1, [row(1, "A", quantity=300)]).report
    file_report(vendor, amended, 1, [row(1, "A", quantity=290)], amends=first.id, reason="Fewer")
    asked = file_report(vendor, sent_back, 1, [row(1, "A", quantity=100)]).report
    staff = Actor.of(accounts.principal_for(licensing_staff))
    services.review(asked.id, "request_correction", staff, note="Clinic B is missing")
    for quarter in (1, 2):
        file_report(vendor, two_filed, quarter, [row(1, "A", quantity=60)])
    db.session().commit()
    session = db.session()
    organizations = (vendor.organization_id, other_vendor.organization_id)

    for day in DAYS:
        for organization_id in organizations:
            with sent_by(app) as sent:
                said = [
                    str(line) for line in reminders.unfiled_reports(session, organization_id, day)
                ]
                reminders.overdue_reports(session, organization_id, day, STANDING_DAYS)
            expected = joined_unfiled(organization_id, day)
            named, rest = expected[: accounts.OPEN_NAMED], expected[accounts.OPEN_NAMED :]
            more = [f"And {len(rest)} more royalty reports not filed."] if rest else []
            assert said == named + more, (day, organization_id)
            assert sent
            assert not [sql for sql in sent if "royalty_reports" in sql], sent
        with sent_by(app) as sent:
            held = reminders.held_organizations(session, day, STANDING_DAYS)
            due = [r for page in reminders.due_reminders(session, day) for r in page]
        assert sent
        assert not [sql for sql in sent if "royalty_reports" in sql], sent
        # Every reminder due is of a period the join finds unfiled.
        unfiled = {
            (n.id, start)
            for n in (nothing_filed, amended, sent_back, two_filed, elsewhere)
            for start in db.session().scalars(
                select(ReportingPeriod.period_start).where(
                    ReportingPeriod.agreement_id == n.id,
                    ~select(RoyaltyReport.id)
                    .where(
                        RoyaltyReport.agreement_id == n.id,
                        RoyaltyReport.period_start == ReportingPeriod.period_start,
                        RoyaltyReport.state == SUBMITTED,
                    )
                    .exists(),
                )
            )
        }
        assert {(r.agreement_id, r.period.start) for r in due} <= unfiled, day
        if day >= date(2027, 6, 1):  # a first quarter unfiled more than 30 days
            assert set(held) == set(organizations), day
