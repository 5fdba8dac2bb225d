"""Round 23: an agreement terminated in the middle of its term still reports the usage
it licensed, up to its termination (docs/journeys.md, "Round 23: an organization's
last year walked"). Until then its periods were deleted on termination, and the
royalties of the quarter under way, and of an ended quarter not yet filed, were
never reported nor invoiced."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.mail.models import OutboxMessage
from licensing.royalties import services
from licensing.royalties.services import Filing
from tests.integration.agreements.conftest import NOW
from tests.integration.royalties.conftest import AFTER, SOFTWARE, at, file_quarter, row
from tests.support.agreements import issued_agreement
from tests.support.factories import bearer
from tests.support.periods import terminate

# Terminated on 2027-08-15 (office day): the second quarter ended and was not filed,
# the third was under way.
TERMINATED = datetime(2027, 8, 15, 15, 0, tzinfo=UTC)


def _terminated(licensing_staff: Any, agreement: Agreement) -> None:
    terminate(licensing_staff, agreement, TERMINATED)


@pytest.fixture
def terminated(
    vendor: Any, licensing_staff: Any, active_agreement: Callable[..., Agreement]
) -> Agreement:
    """`vendor`'s SaaS agreement for 2027, terminated on 2027-08-15."""
    agreement = active_agreement(vendor, SOFTWARE)
    _terminated(licensing_staff, agreement)
    return agreement


def test_a_terminated_agreement_lists_its_periods_to_its_termination_day_with_their_due_dates(
    client: FlaskClient, vendor: Any, terminated: Agreement
) -> None:
    agreement = terminated
    with time_machine.travel(TERMINATED, tick=False):
        listed = client.get(
            f"/api/v1/agreements/{agreement.id}/royalty-reports", headers=bearer(vendor)
        )
    assert listed.status_code == 200
    periods = [
        (item["period"]["start"], item["period"]["end"], item["due_on"], item["state"])
        for item in listed.get_json()
    ]
    assert periods == [
        ("2027-01-01", "2027-03-31", "2027-04-30", "overdue"),
        ("2027-04-01", "2027-06-30", "2027-07-30", "overdue"),
        ("2027-07-01", "2027-08-15", "2027-09-14", "upcoming"),
    ]


def test_the_usage_until_a_termination_is_filed_and_invoiced_at_the_terms_prices(
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    twin = active_agreement(vendor, SOFTWARE)  # the same use, left in force
    _terminated(licensing_staff, agreement)

    def file(target: Agreement, quarter: int, quantity: int, now: datetime) -> Filing:
        rows = [row(1, "A", quantity=quantity)]
        return file_quarter(vendor, target.id, quarter, rows, now=now)

    filed = [file(agreement, 1, 2500, AFTER[2]), file(agreement, 2, 2600, AFTER[2])]
    last = file(agreement, 3, 3000, at(date(2027, 8, 16)))
    same = [file(twin, 1, 2500, AFTER[2]), file(twin, 2, 2600, AFTER[2])]
    in_force = file(twin, 3, 3000, AFTER[3])

    assert all(filing.report is not None for filing in [*filed, last])
    assert last.period.end == date(2027, 8, 15)
    assert last.total_due > 0
    assert last.invoice_number is not None
    # Not prorated: the term's prices, as for the agreement left in force.
    assert [f.total_due for f in filed] == [f.total_due for f in same]
    assert last.total_due == in_force.total_due


def test_a_terminated_agreements_last_period_cannot_be_filed_before_the_day_after_it_ends(
    vendor: Any, terminated: Agreement
) -> None:
    agreement = terminated
    actor = Actor.of(accounts.principal_for(vendor))
    _, statuses = services.agreement_periods(agreement.id, actor, now=TERMINATED)
    assert [status.period.first_filing_day for status in statuses][-1] == date(2027, 8, 16)


def test_an_agreement_terminated_before_it_was_accepted_has_no_reporting_periods(
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    issued = issued_agreement(vendor, licensing_staff, SOFTWARE, now=NOW)
    _terminated(licensing_staff, issued)
    actor = Actor.of(accounts.principal_for(vendor))
    _, statuses = services.agreement_periods(issued.id, actor, now=TERMINATED)
    assert statuses == []


def test_the_termination_email_says_the_reports_still_due_until_that_day(
    vendor: Any, terminated: Agreement
) -> None:
    agreement = terminated
    message = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subject.contains("terminated"))
            .order_by(OutboxMessage.id.desc())
        )
        .first()
    )
    assert message is not None
    assert (
        "The licensing office terminated the agreement: The vendor stopped selling it. "
        "Royalty reports still due for its use until August 15, 2027 are filed under "
        f"{agreement.number}."
    ) in " ".join(message.body_text.split())
