"""Round 51: an organization's new months' late fees are issued `LATE_FEE_BATCH` to a
transaction, not all of them in its one (5,000 late-fee invoices and their PDFs in
one transaction, undone whole by an error in the last). Each batch is committed, a
run stopped part way is finished by the next, two hosts at once issue each fee once,
and the organization is still sent one email naming them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts.models import Organization
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.services import overdue
from licensing.mail.models import OutboxMessage
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.hosts import run_as_hosts
from tests.support.settings import standing_days

# 2027-03-17: every invoice (due 2027-02-14) is 31 days overdue: its first month's
# late fee.
LATE = datetime(2027, 3, 17, 18, 0, tzinfo=UTC)
BATCH = 2


@pytest.fixture
def batch_of_two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overdue, "LATE_FEE_BATCH", BATCH, raising=False)


def _owing(app: Flask, count: int) -> int:
    """An organization with `count` invoices of 1,000.00 USD due 2027-02-14: its id."""
    with app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id
        for _ in range(count):
            assert send_activation(activated(organization_id, ("1000.00",))) is not None
    return organization_id


def _run() -> overdue.OverdueReport:
    return services.process_overdue(standing_days=standing_days(), now=LATE)


def _late_fees_by_invoice(app: Flask) -> dict[int, int]:
    """Each invoice charged a late fee: how many late-fee invoices it has."""
    with app.app_context():
        rows = db.session().execute(
            select(Invoice.parent_invoice_id, func.count())
            .where(Invoice.source_type == "late_fee")
            .group_by(Invoice.parent_invoice_id)
        )
        return {parent: count for parent, count in rows if parent is not None}


def _late_fee_emails(app: Flask) -> list[str]:
    with app.app_context():
        return list(
            db.session().scalars(
                select(OutboxMessage.subject)
                .where(OutboxMessage.template == "late_fees_issued")
                .order_by(OutboxMessage.id)
            )
        )


@pytest.fixture
def late_fees_committed(committed_app: Flask) -> Iterator[list[int]]:
    """How many late-fee invoices each transaction the run commits holds."""
    counts: list[int] = []
    pending: dict[int, int] = {}

    def flushed(session: Session, _context: Any, _instances: Any) -> None:
        made = sum(
            1
            for record in session.new
            if isinstance(record, Invoice) and record.source_type == "late_fee"
        )
        pending[id(session)] = pending.get(id(session), 0) + made

    def committed(session: Session) -> None:
        made = pending.pop(id(session), 0)
        if made:
            counts.append(made)

    def rolled_back(session: Session, _previous: Any) -> None:
        pending.pop(id(session), None)

    event.listen(Session, "before_flush", flushed)
    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_soft_rollback", rolled_back)
    yield counts
    event.remove(Session, "before_flush", flushed)
    event.remove(Session, "after_commit", committed)
    event.remove(Session, "after_soft_rollback", rolled_back)


@pytest.mark.usefixtures("batch_of_two")
def test_an_organizations_late_fees_are_committed_a_batch_at_a_time_and_named_in_one_email(
    committed_app: Flask, late_fees_committed: list[int]
) -> None:
    organization_id = _owing(committed_app, 5)

    with committed_app.app_context():
        report = _run()
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        organization_name = organization.legal_name

    assert len(report.late_fee_invoices) == 5
    assert late_fees_committed == [2, 2, 1]
    assert report.late_fee_emails == 1
    assert _late_fee_emails(committed_app) == [f"5 late-fee invoices issued to {organization_name}"]
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1] * 5


@pytest.mark.usefixtures("batch_of_two")
def test_an_error_part_way_keeps_the_batches_before_it_and_the_next_run_issues_the_rest_once(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    _owing(committed_app, 5)
    charge = overdue._charge_late_fee
    calls: list[int] = []

    def fourth_fails(*args: Any, **kwargs: Any) -> Invoice:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("the fourth late fee could not be issued")
        return charge(*args, **kwargs)

    monkeypatch.setattr(overdue, "_charge_late_fee", fourth_fails)
    with committed_app.app_context(), pytest.raises(RuntimeError):
        _run()
    # The first batch stands, audited, and is named in an email all the same.
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1, 1]
    assert len(_late_fee_emails(committed_app)) == 1
    with committed_app.app_context():
        audited = db.session().scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "invoice.created")
            .where(AuditEvent.after.contains('"source":"late_fee'))
        )
    assert audited == 2

    monkeypatch.setattr(overdue, "_charge_late_fee", charge)
    with committed_app.app_context():
        report = _run()
    assert len(report.late_fee_invoices) == 3
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1] * 5


@pytest.mark.usefixtures("batch_of_two")
def test_two_hosts_issuing_late_fees_in_batches_at_once_issue_each_once(
    committed_app: Flask,
) -> None:
    _owing(committed_app, 7)

    reports = run_as_hosts(committed_app, _run)

    assert sum(len(report.late_fee_invoices) for report in reports) == 7
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1] * 7
    # Each host names what it issued; one host alone, unless the other found the
    # organization between two batches.
    assert 1 <= sum(report.late_fee_emails for report in reports) <= 2
    assert len(_late_fee_emails(committed_app)) == sum(r.late_fee_emails for r in reports)


def test_the_overdue_command_shows_the_late_fees_progress_beside_its_output(
    app: Flask, vendor: Any, invoice_for: Any
) -> None:
    for _ in range(3):
        invoice_for(vendor, ("1000.00",))

    result = app.test_cli_runner().invoke(
        args=["invoices", "overdue", "--now", "2027-03-20T18:00:00+00:00"]
    )

    assert result.exit_code == 0, result.output
    assert "Late fees" in result.stderr
    assert "3 late-fee invoice(s) issued in 1 email(s)" in result.stdout
