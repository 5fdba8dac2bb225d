"""Round 55's periods of two vendors, tied on every day, for the tests of the
royalty lists' pages (the vendor's list read in parts, round 55; the staff queue read
by key, round 56)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import insert, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.royalties import services
from licensing.royalties.models import ReportingPeriod
from tests.integration.royalties.conftest import SOFTWARE, row
from tests.support.plans import analyzed

TODAY = date(2027, 11, 15)  # three quarters ended, the fourth upcoming


def seed(
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
) -> list[Agreement]:
    """Five agreements of the vendor accepted together (their periods tie on every
    day), one another vendor's: quarters filed, one amended, two sent back a day
    apart."""
    mine = [active_agreement(vendor, SOFTWARE) for _ in range(5)]
    active_agreement(other_vendor, SOFTWARE)
    staff = Actor.of(accounts.principal_for(licensing_staff))
    for agreement in mine[:3]:
        for quarter in (1, 2):
            file_report(vendor, agreement, quarter, [row(1, "A", quantity=60)])
    first = file_report(vendor, mine[3], 1, [row(1, "A", quantity=300)]).report
    file_report(vendor, mine[3], 1, [row(1, "A", quantity=290)], amends=first.id, reason="Less")
    for day, agreement, quarter in ((12, mine[1], 2), (11, mine[2], 1)):
        report = services.current_reports(db.session(), agreement.id)[
            date(2027, 3 * quarter - 2, 1)
        ]
        with time_machine.travel(datetime(2027, 8, day, 15, tzinfo=UTC), tick=False):
            services.review(report.id, "request_correction", staff, note="A customer is missing")
    db.session().commit()
    return mine


# Another organization's periods still to file, enough that, once analyzed, a plan
# that read the staff queue's late order and filtered the organization (reading every
# organization's periods late before the page's) is priced as it would be at size.
CROWD = 2000


def crowd(organization_id: int, count: int = CROWD) -> None:
    """`count` periods still to file of the organization's first agreement, late from
    days among the vendor's own (a quarter's days, each period its own start), then
    the tables the vendor's list reads analyzed (`tests/support/plans.analyzed`)."""
    agreement = (
        db.session()
        .scalars(
            select(Agreement)
            .where(Agreement.organization_id == organization_id)
            .order_by(Agreement.id)
        )
        .first()
    )
    assert agreement is not None
    first = date(1990, 1, 1)
    periods = []
    for n in range(count):
        start = first + timedelta(days=n)
        due = TODAY - timedelta(days=300) + timedelta(days=n % 200)
        periods.append(
            {
                "agreement_id": agreement.id,
                "agreement_number": agreement.number,
                "organization_id": organization_id,
                "period_index": 1000 + n,
                "period_start": start,
                "period_end": start,
                "due_on": due,
                "late_from": due,
                "filed": False,
            }
        )
    db.session().execute(insert(ReportingPeriod), periods)
    analyzed("reporting_periods", "royalty_reports")
