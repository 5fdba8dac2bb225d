"""Two hosts running `licensing reports remind` at the same moment send each
reminder once and hold the organization once: the job reads the unfiled periods
in SQL (`reminders.due_reminders`), then claims each agreement before sending."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import Organization
from licensing.royalties.models import RoyaltyReminder
from licensing.royalties.services import send_reminders
from tests.integration.agreements.conftest import NOW
from tests.integration.royalties.conftest import SOFTWARE, vendor_and_reviewer
from tests.support.agreements import make_active_agreement
from tests.support.hosts import run_as_hosts

AGREEMENTS = 6
# Every first quarter (due 2027-04-30) is 36 days overdue: reminded, and held.
LATE = datetime(2027, 6, 5, 15, 0, tzinfo=UTC)


def test_two_hosts_sending_reminders_at_once_send_each_once_and_hold_once(
    committed_app: Flask,
) -> None:
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        for _ in range(AGREEMENTS):
            make_active_agreement(vendor, reviewer, SOFTWARE, now=NOW)
        organization_id = vendor.organization_id
        session.commit()
    runs = run_as_hosts(committed_app, lambda: send_reminders(standing_days=30, now=LATE))
    assert sum(found.reminders for found in runs) == AGREEMENTS
    assert sum(len(found.pending_payment) for found in runs) == 1
    with committed_app.app_context():
        session = db.session()
        sent = session.scalar(select(func.count()).select_from(RoyaltyReminder))
        organization = session.get(Organization, organization_id)
        assert organization is not None
        assert organization.standing == "pending_payment"
    assert sent == AGREEMENTS
