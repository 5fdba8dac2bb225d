"""Two hosts running `licensing invoices overdue` at the same moment remind each
invoice once (in one email), charge each month's late fee once and move standing
once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import func, select, text

from licensing import db
from licensing.accounts.models import Organization
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.hosts import run_as_hosts
from tests.support.settings import standing_days

INVOICES = 4
# 2027-03-17: every invoice (due 2027-02-14) is 31 days overdue: a reminder, the
# first month's late fee, and past the 30-day standing threshold.
LATE = datetime(2027, 3, 17, 18, 0, tzinfo=UTC)


def test_two_hosts_processing_overdue_invoices_at_once_act_on_each_once(
    committed_app: Flask,
) -> None:
    with committed_app.app_context():
        vendor = factories.make_vendor(db.session())
        organization_id = vendor.organization_id
        for _ in range(INVOICES):
            assert send_activation(activated(organization_id, ("1000.00",))) is not None
        changes_before = _standing_changes()
    reports = run_as_hosts(
        committed_app,
        lambda: services.process_overdue(standing_days=standing_days(), now=LATE),
    )
    assert sum(report.reminders for report in reports) == INVOICES
    assert sum(len(report.late_fee_invoices) for report in reports) == INVOICES
    # One host takes the organization whole (round 50): one reminder email, one for
    # its late fees, never the invoices split between two hosts' emails.
    assert sum(report.reminder_emails for report in reports) == 1
    assert sum(report.late_fee_emails for report in reports) == 1
    assert sum(len(report.pending_payment) for report in reports) == 1
    with committed_app.app_context():
        session = db.session()
        fees = session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.source_type == "late_fee")
        )
        standing_changes = _standing_changes() - changes_before
        organization = session.get(Organization, organization_id)
        assert organization is not None
        assert organization.standing == "pending_payment"
    assert fees == INVOICES
    assert standing_changes == 1


def _standing_changes() -> int:
    return (
        db.session().scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "organization.standing_changed")
        )
        or 0
    )


def test_a_claimed_organization_does_not_hold_up_an_invoice_made_for_it(
    committed_app: Flask, backend: str
) -> None:
    """One host's claim on an organization (to change its standing) must not make
    another host wait to create the organization's invoices: their foreign-key check
    locks the organization FOR KEY SHARE, which FOR UPDATE blocked (two overdue runs
    deadlocked on it)."""
    with committed_app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id
        db.session().commit()
    statement = db_claim_sql(committed_app, organization_id)
    if backend == "sqlite":
        # SQLite's claim is the transaction's write lock: no row lock to take.
        assert "FOR" not in statement
        return
    engine = committed_app.extensions["licensing.db"].engine
    with engine.connect() as claiming, engine.connect() as invoicing:
        claiming.exec_driver_sql(statement)
        invoicing.exec_driver_sql("SET lock_timeout = '3s'")
        # What PostgreSQL's foreign-key check runs when an invoice row is inserted.
        held_up = invoicing.execute(
            text("SELECT 1 FROM organizations WHERE id = :id FOR KEY SHARE"),
            {"id": organization_id},
        ).all()
        claiming.rollback()
    assert held_up == [(1,)]


def db_claim_sql(app: Flask, organization_id: int) -> str:
    """The SQL of a batch job's claim on the organization, as the database runs it."""
    with app.app_context():
        claim = db.claim(select(Organization.id).where(Organization.id == organization_id))
        compiled = claim.compile(
            dialect=db.session().get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
    return str(compiled)


def test_two_hosts_through_a_week_send_the_organization_one_reminder_naming_all(
    committed_app: Flask,
) -> None:
    """Round 51: invoices due on a Monday, a Wednesday and a Friday, the job run by
    two hosts at once each day of a week: one reminder when the first falls overdue,
    then none until seven days have passed, when one names all three."""
    with committed_app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id
        for day in (16, 18, 20):  # due 2027-02-15, -17 and -19
            at = datetime(2027, 1, day, 15, 0, tzinfo=UTC)
            assert send_activation(activated(organization_id, ("1000.00",), at=at)) is not None
    emails: dict[int, tuple[int, int]] = {}
    for day in range(8):  # 2027-02-16 to 2027-02-23
        now = datetime(2027, 2, 16, 18, 0, tzinfo=UTC) + timedelta(days=day)
        reports = run_as_hosts(
            committed_app,
            lambda now=now: services.process_overdue(standing_days=standing_days(), now=now),
        )
        sent = sum(report.reminder_emails for report in reports)
        if sent:
            emails[day] = (sent, sum(report.reminders for report in reports))
    assert emails == {0: (1, 1), 7: (1, 3)}
