"""Round 50: the monthly statement's email named every overdue invoice of its
currency, one line each: an organization with hundreds overdue was sent hundreds of
lines. It names the `OVERDUE_NAMED` due first, then one line with how many more and
what they owe (exact, at the currency's digits) and the portal's invoices page,
which lists them all. The attached statement (the record) still lists every
movement of the month, and the balances are unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, insert

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.services.monthly_statements import OVERDUE_NAMED
from licensing.billing.states import MANUAL, OPEN
from licensing.calendar import day_text
from licensing.mail import services as mail
from tests.integration.billing.dispute_support import held_by_disputes
from tests.support.documents import pdf_text
from tests.support.monthly_statements import JANUARY, RUN, organization, statement_emails
from tests.support.servers import SMTPServer, message_text
from tests.support.settings import delivery

FIRST_ISSUED = date(2027, 1, 2)
_numbers = iter(range(500_000, 600_000))


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


def _overdue(organization_id: int, count: int, currency: str = "USD") -> list[Invoice]:
    """`count` invoices issued in January, each due three days later (all before the
    run's 1 February), the nth for 100.00 + n cents (every amount differs)."""
    rows = []
    for n in range(count):
        issued = FIRST_ISSUED + timedelta(days=n % 26)
        rows.append(
            {
                "organization_id": organization_id,
                "number": f"INV-2027-{next(_numbers):06d}",
                "state": OPEN,
                "currency": currency,
                "source_type": MANUAL,
                "payment_terms_days": 3,
                "late_fee_monthly_percent": Decimal(0),
                "issue_date": issued,
                "due_date": issued + timedelta(days=3),
                "total": Decimal("100.00") + Decimal(n) / 100,
                "amount_paid": Decimal(0),
                "amount_credited": Decimal(0),
                "finalized_at": datetime(issued.year, issued.month, issued.day, 15, tzinfo=UTC),
            }
        )
    session = db.session()
    session.execute(insert(Invoice), rows)
    session.commit()
    return sorted(
        session.query(Invoice).filter_by(organization_id=organization_id, currency=currency),
        key=lambda invoice: (invoice.due_date, invoice.id),
    )


def test_the_statement_email_names_the_oldest_overdue_and_sums_the_rest_with_the_pdf_listing_all(
    app: Flask, mailbox: SMTPServer
) -> None:
    owing = organization("Quillfeather Analytics")
    invoices = _overdue(owing.id, 25)
    _overdue(owing.id, 1, currency="EUR")  # its own statement, not in the USD one's lines

    services.send_monthly_statements(JANUARY, now=RUN)
    assert mail.deliver_due(delivery()).sent == 2
    received = {message["Subject"]: message for message in mailbox.wait_for(2)}
    [usd] = [message for subject, message in received.items() if "(USD)" in subject]
    body = message_text(usd).replace("\r\n", "\n")

    total = sum((invoice.total for invoice in invoices), Decimal(0))
    assert total == Decimal("2503.00")
    assert f"Closing balance (January 31, 2027): {total:,.2f} USD" in body  # in words
    named, rest = invoices[:OVERDUE_NAMED], invoices[OVERDUE_NAMED:]
    for invoice in named:
        line = (
            f"Invoice {invoice.number}, due {day_text(invoice.due_date)}: {invoice.total:,.2f} USD"
        )
        assert line in body
    for invoice in rest:
        assert invoice.number not in body
    more = sum((invoice.total for invoice in rest), Decimal(0))
    assert more == Decimal("501.10")  # 100.20 + ... + 100.24
    assert (
        "  and 5 more overdue invoices, due later than these, 501.10 USD in all. Every "
        "overdue invoice is on the Invoices page in the portal (sign in), overdue only: "
        "http://testserver/portal/invoices?overdue=1\n"
    ) in body
    assert body.count("Invoice INV-") == OVERDUE_NAMED
    # The attachment is the record: the month's movements, every invoice among them.
    [attachment] = list(usd.iter_attachments())
    text = pdf_text(attachment.get_content())
    for invoice in invoices:
        assert invoice.number in text
    assert f"{total:,.2f} USD" in text


def test_no_more_line_when_the_overdue_fit(app: Flask) -> None:
    owing = organization("Brindle Harbor Labs")
    invoices = _overdue(owing.id, OVERDUE_NAMED)
    services.send_monthly_statements(JANUARY, now=RUN)
    [message] = statement_emails()
    for invoice in invoices:
        assert f"Invoice {invoice.number}, due {day_text(invoice.due_date)}" in message.body_text
    assert "more overdue" not in message.body_text


def test_two_hundred_overdue_are_twenty_lines_and_one_read_as_many_statements_as_25(
    app: Flask,
) -> None:
    """The run reads the named ones, then counts and sums the rest in SQL: twenty lines
    and one at 200 overdue (it named all 200), read in as many statements as at 25."""
    warm = organization("Marrow Lane Studio")  # what one process reads once is read
    few, many = organization("Sorrel Point Systems"), organization("Larkspur Devices")
    _overdue(warm.id, 25)
    _overdue(few.id, 25)
    _overdue(many.id, 200)
    counted: dict[int, int] = {}
    current: list[int] = []

    def count(*args: Any) -> None:
        # What the run reads (the test's savepoints around it are not its own).
        if current and args[2].lstrip().startswith("SELECT"):
            counted[current[0]] = counted.get(current[0], 0) + 1

    engine = db.session().get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        for organization_id in (few.id, many.id):
            current[:] = [organization_id]
            services.send_monthly_statements(JANUARY, now=RUN, due=[(organization_id, "USD")])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counted[few.id] == counted[many.id]
    emails = {message.to[0]: message.body_text for message in statement_emails()}
    assert "and 180 more overdue invoices" in emails[many.billing_email]
    assert emails[many.billing_email].count("Invoice INV-") == OVERDUE_NAMED


def test_those_a_dispute_holds_are_bounded_apart_from_the_overdue(app: Flask) -> None:
    """The invoices a bank's dispute holds (not asked for) are listed apart, bounded
    the same way: 25 held and 3 overdue are 20 held lines, one line for the other 5,
    and the 3 overdue."""
    owing = organization("Quillfeather Analytics")
    invoices = _overdue(owing.id, 28)
    overdue, held = invoices[:3], invoices[3:]
    held_by_disputes(held)
    services.send_monthly_statements(JANUARY, now=RUN)
    [message] = statement_emails()
    body = message.body_text
    for invoice in overdue:
        assert f"Invoice {invoice.number}, due {day_text(invoice.due_date)}" in body
    assert "more overdue" not in body
    for invoice in held[:OVERDUE_NAMED]:
        assert (
            "Not asked for while your bank's dispute of its card payment is open: "
            f"Invoice {invoice.number}, {invoice.total:,.2f} USD."
        ) in body
    rest = held[OVERDUE_NAMED:]
    for invoice in rest:
        assert invoice.number not in body
    balance = sum((invoice.total for invoice in rest), Decimal(0))
    assert (
        f"And 5 more invoices past due, due later than these, {balance:,.2f} USD in all, not "
        "asked for while your bank's disputes of their card payments hold them: each is on "
        "the Invoices page in the portal (sign in): http://testserver/portal/invoices"
    ) in body
