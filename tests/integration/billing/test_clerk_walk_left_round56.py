"""Round 56: what the billing clerk's walk left (docs/journeys.md, "Round 56: a credit
note's own page, and what the clerk's walk left"): the organization's history showed
the late fees emailed but not the reminders recorded against each of its invoices, and
the invoice list said statements had changed since sent when none had."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing.billing import services
from licensing.billing.models import Invoice
from tests.support.settings import standing_days
from tests.support.statements import sent_by

# Two overdue runs a month apart (12:00 at the office), and the clerk's look after.
FIRST_RUN = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
SECOND_RUN = datetime(2027, 4, 1, 17, 0, tzinfo=UTC)
LATER = datetime(2027, 4, 2, 17, 0, tzinfo=UTC)


def _overdue_runs() -> None:
    """`licensing invoices overdue` on the two days (its events stamped then)."""
    for day in (FIRST_RUN, SECOND_RUN):
        with time_machine.travel(day, tick=False):
            services.process_overdue(standing_days=standing_days(), now=day)


def _history(client: FlaskClient, organization_id: int) -> str:
    answer = client.get(f"/console/organizations/{organization_id}")
    assert answer.status_code == 200
    page = html.unescape(answer.get_data(as_text=True))
    return page[page.index('id="history"') :]


def _words(fragment: str) -> str:
    words = " ".join(re.sub(r"<[^>]+>", " ", fragment).split())
    return re.sub(r"\s+([:,;.)])", r"\1", words)


def test_an_organizations_history_shows_each_reminder_and_the_invoices_it_named(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    first = invoice_for(vendor, ("1000.00",), terms=30)  # due 2027-02-14
    second = invoice_for(vendor, ("400.00",), terms=30)
    later = invoice_for(vendor, ("250.00",), terms=60)  # due 2027-03-16
    elsewhere = invoice_for(other_vendor, ("900.00",), terms=30)
    _overdue_runs()
    with time_machine.travel(LATER, tick=False):
        history = _history(signed_in(app.test_client(), billing_staff), vendor.organization_id)
    rows = [_words(row) for row in history.split("<tr>")[2:]]
    reminders = [row for row in rows if "Invoice reminder sent" in row]
    # One row a reminder email, the newest first, naming its invoices, each linked.
    assert len(reminders) == 2
    assert "3 invoices reminded in one email" in reminders[0]
    assert "2 invoices reminded in one email" in reminders[1]
    for invoice in (first, second, later):
        assert f'<a href="/console/invoices/{invoice.id}">{invoice.label}</a>' in history
    assert later.label not in reminders[1]
    assert elsewhere.label not in history
    # The late fees emailed, the organization's own event, are still there.
    assert any("late fees emailed" in row.lower() for row in rows)


def test_the_organizations_history_reads_its_reminders_in_one_statement_however_many(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    for _ in range(2):
        invoice_for(vendor, ("100.00",), terms=30)
    for _ in range(8):
        invoice_for(other_vendor, ("100.00",), terms=30)
    _overdue_runs()
    with time_machine.travel(LATER, tick=False):
        clerk = signed_in(app.test_client(), billing_staff)
        counts = []
        for organization_id in (vendor.organization_id, other_vendor.organization_id):
            path = f"/console/organizations/{organization_id}"
            clerk.get(path)  # warm
            with sent_by(app) as statements:
                assert clerk.get(path).status_code == 200
            counts.append(len(statements))
        assert "8 invoices reminded in one email" in _history(clerk, other_vendor.organization_id)
    assert counts[0] == counts[1]


def test_the_invoice_list_does_not_say_statements_changed_since_sent_when_none_did(
    app: Flask, signed_in: Any, billing_staff: Any, vendor: Any, invoice_for: Any
) -> None:
    invoice_for(vendor, ("100.00",))
    clerk = signed_in(app.test_client(), billing_staff)
    answer = clerk.get("/console/invoices")
    text = _words(html.unescape(answer.get_data(as_text=True)))
    assert "whose month an entry changed since" not in text
    assert "see which statements, if any, changed since sent" in text
    assert 'href="/console/billing/statements-changed"' in answer.get_data(as_text=True)
    # Nor does it read the statements sent (or the ledger) to say so.
    clerk.get("/console/invoices")
    with sent_by(app) as statements:
        assert clerk.get("/console/invoices").status_code == 200
    assert not [sql for sql in statements if "sent_statements" in sql]
