"""Round 57 (billingwords57): whom each overdue reminder went to. The invoice kept a
count and a time, and the address was only in the outbox, which a billing clerk may not
open: the invoice's page and the organization's history said "the billing contact"."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import queries, services
from licensing.billing.models import Invoice
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.settings import standing_days
from tests.support.statements import sent_by

# Two overdue runs a month apart (12:00 at the office), and the clerk's look after.
FIRST_RUN = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
SECOND_RUN = datetime(2027, 4, 1, 17, 0, tzinfo=UTC)
LATER = datetime(2027, 4, 2, 17, 0, tzinfo=UTC)


def _run(day: datetime) -> None:
    with time_machine.travel(day, tick=False):
        services.process_overdue(standing_days=standing_days(), now=day)


def _contact(organization_id: int, name: str, email: str) -> None:
    accounts.update_organization(
        organization_id,
        {"billing_contact_name": name, "billing_email": email},
        factories.staff_actor(("licensing",)),
    )
    db.session().commit()


def _words(page: str) -> str:
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    return re.sub(r"\s+([:,;.)])", r"\1", words)


def _page(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_each_reminder_says_whom_it_went_to_on_the_invoice_and_in_the_organizations_history(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    first = invoice_for(vendor, ("1000.00",), terms=30)  # due 2027-02-14
    later = invoice_for(vendor, ("250.00",), terms=60)  # due 2027-03-16
    _contact(vendor.organization_id, "Imogen Hart", "imogen.hart@example.com")
    _run(FIRST_RUN)
    # The contact changes between the reminders: each says whom it went to then.
    _contact(vendor.organization_id, "Ravi Okafor", "ravi.okafor@example.com")
    _run(SECOND_RUN)
    sent = db.session().scalars(
        select(OutboxMessage.recipients).where(OutboxMessage.template == "invoices_overdue")
    )
    assert sorted(sent) == ['["imogen.hart@example.com"]', '["ravi.okafor@example.com"]']
    with time_machine.travel(LATER, tick=False):
        clerk = signed_in(app.test_client(), billing_staff)
        invoice_page = _page(clerk, f"/console/invoices/{first.id}")
        later_page = _page(clerk, f"/console/invoices/{later.id}")
        history = _page(clerk, f"/console/organizations/{vendor.organization_id}")
    listed = invoice_page[invoice_page.index('id="reminders-sent"') :]
    listed = _words(listed[: listed.index("</ul>")])
    # The newest first, each with the name and address it was sent to.
    assert listed.index("to Ravi Okafor <ravi.okafor@example.com>") < listed.index(
        "to Imogen Hart <imogen.hart@example.com>"
    )
    assert "2 sent" in _words(invoice_page)
    # The invoice overdue only at the second run names only the second recipient.
    later_listed = _words(later_page[later_page.index('id="reminders-sent"') :])
    assert "to Ravi Okafor <ravi.okafor@example.com>" in later_listed
    assert "Imogen Hart" not in later_listed.split("</ul>")[0]
    rows = [_words(row) for row in history[history.index('id="history"') :].split("<tr>")]
    reminders = [row for row in rows if "Invoice reminder sent" in row]
    assert len(reminders) == 2
    assert (
        "2 invoices reminded in one email to Ravi Okafor <ravi.okafor@example.com>:" in reminders[0]
    )
    assert "1 invoice reminded to Imogen Hart <imogen.hart@example.com>:" in reminders[1]


def test_a_reminder_recorded_before_round_57_says_its_recipient_was_not_recorded(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",), terms=30)
    session = db.session()
    # As round 56's run wrote it: the count alone.
    with time_machine.travel(FIRST_RUN, tick=False):
        stored = session.get(Invoice, invoice.id)
        assert stored is not None
        stored.reminder_count, stored.last_reminder_at = 1, FIRST_RUN
        audit.record_events(
            session,
            "invoice.reminder_sent",
            [invoice.id],
            after={"reminder_count": 1},
            actor=Actor.SYSTEM,
        )
        session.commit()
    organization = session.get(Organization, vendor.organization_id)
    assert organization is not None
    clerk = signed_in(app.test_client(), billing_staff)
    invoice_page = _page(clerk, f"/console/invoices/{invoice.id}")
    listed = invoice_page[invoice_page.index('id="reminders-sent"') :]
    listed = _words(listed[: listed.index("</ul>")])
    # Not today's contact, whom it may not have gone to.
    assert f"to {queries.RECIPIENT_NOT_KEPT}" in listed
    assert organization.billing_email not in listed
    history = _words(_page(clerk, f"/console/organizations/{vendor.organization_id}"))
    assert f"1 invoice reminded to {queries.RECIPIENT_NOT_KEPT}:" in history


def test_an_invoice_page_lists_its_newest_reminders_and_counts_the_rest(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",), terms=30)
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    recipient = queries.reminder_recipient(
        organization.billing_contact_name, organization.billing_email
    )
    runs = queries.INVOICE_REMINDERS_LISTED + 2
    session = db.session()
    for week in range(runs):
        audit.record_events(
            session,
            "invoice.reminder_sent",
            [invoice.id],
            after={"reminder_count": week + 1, "sent_to": recipient},
            actor=Actor.SYSTEM,
        )
    stored = session.get(Invoice, invoice.id)
    assert stored is not None
    stored.reminder_count, stored.last_reminder_at = runs, FIRST_RUN
    session.commit()
    page = _page(signed_in(app.test_client(), billing_staff), f"/console/invoices/{invoice.id}")
    listed = page[page.index('id="reminders-sent"') :]
    listed = listed[: listed.index("</ul>")]
    assert listed.count("<li>") == queries.INVOICE_REMINDERS_LISTED
    assert html.unescape(listed).count(f"to {recipient}") == queries.INVOICE_REMINDERS_LISTED
    assert (
        f"The newest {queries.INVOICE_REMINDERS_LISTED} of {runs}; the invoice's history "
        "has every one." in _words(page)
    )


def _reminded_cells(page: str) -> dict[str, str]:
    """The overdue list's rows by invoice number: each row's last cell (*Reminded*)."""
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    cells: dict[str, str] = {}
    for row in body.split("<tr")[1:]:
        number = re.search(r"INV-\d{4}-\d{6}", row)
        if number:
            cells[number.group(0)] = _words(row.split("<td")[-1].split(">", 1)[1])
    return cells


def test_the_overdue_list_names_whom_each_invoices_newest_reminder_went_to_in_one_statement(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 57 (names57): the *Reminded* column said "to the billing contact", who may
    have changed since the reminder; it names whom the newest went to, read with the
    page's other records whatever the number of rows."""
    first = invoice_for(vendor, ("1000.00",), terms=30)  # due 2027-02-14
    later = invoice_for(vendor, ("250.00",), terms=60)  # due 2027-03-16
    _contact(vendor.organization_id, "Imogen Hart", "imogen.hart@example.com")
    _run(FIRST_RUN)
    _contact(vendor.organization_id, "Ravi Okafor", "ravi.okafor@example.com")
    _run(SECOND_RUN)
    # Another licensee's invoice, reminded before round 57 recorded whom.
    older = invoice_for(other_vendor, ("500.00",), terms=30)
    session = db.session()
    with time_machine.travel(FIRST_RUN, tick=False):
        stored = session.get(Invoice, older.id)
        assert stored is not None
        stored.reminder_count, stored.last_reminder_at = 1, FIRST_RUN
        audit.record_events(
            session,
            "invoice.reminder_sent",
            [older.id],
            after={"reminder_count": 1},
            actor=Actor.SYSTEM,
        )
        session.commit()
    with time_machine.travel(LATER, tick=False):
        clerk = signed_in(app.test_client(), billing_staff)
        page = _page(clerk, "/console/invoices?overdue=1")
        cells = _reminded_cells(page)
        assert cells[first.number].startswith("2 sent, the last on 2027-04-01")
        assert cells[first.number].endswith("to Ravi Okafor <ravi.okafor@example.com>")
        assert cells[later.number].endswith("to Ravi Okafor <ravi.okafor@example.com>")
        assert cells[older.number].endswith(f"to {queries.RECIPIENT_NOT_KEPT}")
        assert "Imogen Hart" not in page
        # One statement reads the page's reminders, whatever the number of rows.
        with sent_by(app) as statements:
            _page(clerk, "/console/invoices?overdue=1")
        reads = [sql for sql in statements if "FROM audit_events" in sql]
        assert len(reads) == 1
