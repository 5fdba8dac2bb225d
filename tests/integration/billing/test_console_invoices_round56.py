"""Round 56: a licensee phones the office about an invoice and names the sum, not its
number (docs/billing.md, *Pages*; docs/journeys.md, "Round 56: a new billing clerk's
first week"). The console's search read numbers, names and bank references: "14,400.00"
found nothing, so the clerk paged through every invoice of the organization."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import Organization
from licensing.billing import queries, services
from licensing.billing.models import Invoice
from licensing.billing.queries import searched_amount
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.settings import standing_days

# The overdue run on 1 March 2027 (12:00 at the office), and the clerk's look a month on.
REMINDED = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
LATER = datetime(2027, 4, 1, 17, 0, tzinfo=UTC)


@pytest.fixture
def clerk(app: Flask, signed_in: Any, billing_staff: Any) -> FlaskClient:
    """The console, signed in as billing staff."""
    client: FlaskClient = signed_in(app.test_client(), billing_staff)
    return client


def _listed(clerk: FlaskClient, search: str) -> list[str]:
    answer = clerk.get("/console/invoices", query_string={"q": search})
    assert answer.status_code == 200
    return sorted(set(re.findall(r"INV-\d{4}-\d{6}", answer.get_data(as_text=True))))


@pytest.mark.parametrize(
    "typed", ["14,400.00", "14400", "$14,400.00", "14400.00 USD", "USD 14,400"]
)
def test_the_console_search_finds_an_invoice_by_its_total_however_the_amount_is_typed(
    clerk: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    invoice_for: Callable[..., Invoice],
    typed: str,
) -> None:
    wanted = invoice_for(vendor, ("14000.00", "400.00"))
    invoice_for(vendor, ("14400.50",))
    elsewhere = invoice_for(other_vendor, ("14400.00",))
    assert _listed(clerk, typed) == sorted([wanted.label, elsewhere.label])


def test_the_console_search_finds_an_invoice_by_a_payment_or_a_credit_note_of_the_amount(
    clerk: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """ "We sent you 4,000 last week": the payment's amount finds its invoice; and the
    credit note's amount the invoice it credits."""
    paid = invoice_for(vendor, ("9000.00",))
    paid_offline(paid.id, "4000.00", "CHK 1188", method="check")
    credit = invoice_for(vendor, ("700.00",))
    credited(credit.id, "216.00", "One month's late fee waived.")
    invoice_for(vendor, ("300.00",))
    assert _listed(clerk, "4,000.00") == [paid.label]
    assert _listed(clerk, "216") == [credit.label]


def test_a_search_that_is_no_amount_still_reads_numbers_names_and_references(
    clerk: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    assert _listed(clerk, invoice.label) == [invoice.label]
    assert searched_amount(invoice.label) is None
    assert searched_amount("FEDWIRE 0412-7731") is None
    assert searched_amount("1,40,0.00") is None
    assert searched_amount("1" * 30) is None  # beyond any stored amount: no amount
    assert str(searched_amount("$1,234.5")) == "1234.5"


def test_the_overdue_list_says_which_invoices_were_reminded_and_when_and_which_not_yet(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    """ "Who did we chase?": the list said only how long each was overdue; the reminders
    were on each invoice's own page."""
    reminded = invoice_for(vendor, ("1000.00",), terms=30)  # due 2027-02-14
    not_yet = invoice_for(other_vendor, ("500.00",), terms=60)  # due 2027-03-16
    services.process_overdue(standing_days=standing_days(), now=REMINDED)
    with time_machine.travel(LATER, tick=False):
        page = signed_in(app.test_client(), billing_staff).get(
            "/console/invoices", query_string={"overdue": "1"}
        )
    text = page.get_data(as_text=True)
    assert '<th scope="col">Reminded</th>' in text
    rows = {label: text[text.index(label) :] for label in (reminded.label, not_yet.label)}
    rows = {label: row[: row.index("</tr>")] for label, row in rows.items()}
    # Round 57: whom it went to, the contact then (it said "to the billing contact").
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    recipient = queries.reminder_recipient(
        organization.billing_contact_name, organization.billing_email
    )
    assert "1 sent, the last on 2027-03-01" in rows[reminded.label]
    assert f"to {html.escape(recipient)}" in rows[reminded.label]
    assert "none yet" in rows[not_yet.label]


def test_a_statements_documents_open_the_invoice_they_moved_money_on_console_and_portal(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    """On the phone with the statement open, "what is CN-...?" was a number to search
    for: the Document column linked nothing."""
    invoice = invoice_for(vendor, ("1000.00",))
    days = {"from": "2027-01-01", "to": "2027-04-01", "currency": "USD"}
    with time_machine.travel(LATER, tick=False):
        paid_offline(invoice.id, "1000.00", "FEDWIRE 5510")
        note = credited(invoice.id, "100.00", "Royalty report amended.")
        console = (
            signed_in(app.test_client(), billing_staff)
            .get(f"/console/organizations/{vendor.organization_id}/statement", query_string=days)
            .get_data(as_text=True)
        )
        portal = (
            signed_in(app.test_client(), vendor)
            .get("/portal/statement", query_string=days)
            .get_data(as_text=True)
        )
    for number in (invoice.label, note.number):
        assert f'<a href="/portal/invoices/{invoice.id}">{number}</a>' in portal
    # On the console a credit note's number opens its own page (round 56, credits56).
    assert f'<a href="/console/invoices/{invoice.id}">{invoice.label}</a>' in console
    assert f'<a href="/console/credit-notes/{note.id}">{note.number}</a>' in console


def test_a_payments_page_points_to_the_offline_refunds_its_invoices_credit_notes_sent(
    clerk: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """The wire's page said "No refund is counted against this payment" while 60.00 of
    its invoice's credit note had gone back by wire: the clerk took it as not sent."""
    invoice = invoice_for(vendor, ("815.00",))
    payment = paid_offline(invoice.id, "815.00", "FEDWIRE 7781-0034")
    note = credited(invoice.id, "120.00", "Customer B counted twice.")
    refunded_offline(note.id, "60.00", "FEDWIRE RF-2231")
    answer = clerk.get(f"/console/payments/{payment.id}").get_data(as_text=True)
    page = " ".join(re.sub(r"</?span[^>]*>", "", html.unescape(answer)).split())
    assert "The invoice's credit notes had 60.00 USD refunded" in page
    # Round 56's merge: refunds56 lists them on a counted payment's page, so the
    # sentence points below rather than away, and the refund is there.
    assert "counted against no payment): listed below." in page
    offline = answer.split('id="refunds-offline"', 1)[1].split("</table>", 1)[0]
    assert "FEDWIRE RF-2231" in offline


def test_recording_a_payment_says_what_is_still_due_or_that_nothing_is(
    clerk: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """ "Recorded a check of 4,000.00 USD." and no more: the clerk scrolled to *Balance
    due* to learn whether the cheque settled it."""
    invoice = invoice_for(vendor, ("14400.00",))

    def record(amount: str, reference: str) -> str:
        answer = clerk.post(
            f"/console/invoices/{invoice.id}/payments",
            data={"method": "check", "amount": amount, "reference": reference},
            follow_redirects=True,
        )
        assert answer.status_code == 200
        return html.unescape(answer.get_data(as_text=True))

    short = record("4000.00", "CHK 1188")
    assert "Recorded a check of 4,000.00 USD. 10,400.00 USD is still due." in short
    settled = record("10400.00", "CHK 1201")
    assert "Recorded a check of 10,400.00 USD. Nothing is left to pay." in settled


def test_the_organizations_page_says_what_each_invoice_bills(
    clerk: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """Four invoices on the organization's page were four numbers: which was the
    agreement's and which a report's meant opening each."""
    invoice = invoice_for(vendor, ("815.00",))
    page = clerk.get(f"/console/organizations/{vendor.organization_id}").get_data(as_text=True)
    table = page[page.index('<h2 id="invoices">') :]
    table = table[: table.index("</table>")]
    assert '<th scope="col">Invoice</th><th scope="col">For</th>' in table
    assert f'<a href="/console/agreements/{invoice.source_id}">{invoice.source_words}</a>' in table
