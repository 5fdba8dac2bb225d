"""An email to a billing contact carries its invoice's signed links, whose secret
covers how many times they were withdrawn (their generation, billing/links.py). The
overdue run reads each invoice's generation with the invoice it claims, not once
more for each link of each reminder: a run that emails 50 invoices sends no count of
withdrawals of its own, and the links it sends still open the invoice."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.billing import links, services
from licensing.billing.models import Invoice
from licensing.mail.models import OutboxMessage
from licensing.signals import ChangedBillingContact
from tests.support.factories import billing_clerk
from tests.support.settings import standing_days
from tests.support.statements import sent_on

INVOICES = 50
# Every invoice (due 2027-02-14) is 31 days overdue: each is reminded.
LATE = datetime(2027, 3, 17, 18, 0, tzinfo=UTC)
# A statement that only counts an invoice's withdrawals (what each link once sent).
GENERATION_READ = re.compile(r"\s*SELECT count\(\*\) AS \w+\s+FROM invoice_link_revocations")


def _reminders() -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "invoices_overdue")
            .order_by(OutboxMessage.id)
        )
    )


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_an_overdue_run_emailing_50_invoices_reads_no_link_generation_per_email(
    client: FlaskClient, invoice_for: Callable[..., Invoice], vendor: Any
) -> None:
    invoices = [invoice_for(vendor, ("1000.00",)) for _ in range(INVOICES)]
    # One invoice's links were withdrawn: its reminder must carry the new ones.
    withdrawn = invoices[7]
    services.withdraw_invoice_links(withdrawn.id, reason="Forwarded", actor=billing_clerk())

    with sent_on(db.session().connection().engine) as statements:
        report = services.process_overdue(standing_days=standing_days(), now=LATE)

    assert report.reminders == INVOICES
    assert [s for s in statements if GENERATION_READ.match(s)] == []
    # One email names them (round 50), the first 20 with their links.
    (email,) = _reminders()
    for invoice in (invoices[0], withdrawn):
        assert links.invoice_url(invoice) in email.body_text
    page = client.get(_path(links.invoice_url(withdrawn)))
    assert page.status_code == 200
    assert withdrawn.number in page.get_data(as_text=True)


# Any statement reading the withdrawals (a count of one invoice's, or of several).
WITHDRAWALS_READ = re.compile(r"\s*SELECT .*\bFROM invoice_link_revocations\b", re.S)


def _move_links(vendor: Any) -> list[str]:
    """The statements a change of `vendor`'s billing contact sends that read the
    withdrawals of its invoices' links."""
    organization = vendor.organization
    change = ChangedBillingContact(
        organization.id, organization.billing_email, f"finance{organization.id}@example.org"
    )
    with sent_on(db.session().connection().engine) as statements:
        moved = services.move_invoice_links(db.session(), change, actor=billing_clerk())
    assert len(moved.withdrawn) == len(moved.resent)
    return [s for s in statements if WITHDRAWALS_READ.match(s)]


def test_a_billing_contact_change_reads_its_invoices_link_generations_in_one_statement(
    invoice_for: Callable[..., Invoice], vendor: Any
) -> None:
    # The withdrawal counted each invoice's withdrawals in a statement of its own.
    invoices = [invoice_for(vendor, ("1000.00",)) for _ in range(2)]
    services.withdraw_invoice_links(invoices[0].id, reason="Forwarded", actor=billing_clerk())
    assert len(_move_links(vendor)) == 1
    invoices += [invoice_for(vendor, ("1000.00",)) for _ in range(4)]
    assert len(_move_links(vendor)) == 1
    # Each invoice's links moved on from its own generation: the first's twice before.
    assert [links.current_generation(invoice) for invoice in invoices] == [3, 2, 1, 1, 1, 1]
