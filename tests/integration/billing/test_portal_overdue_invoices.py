"""The portal's Invoices page lists the overdue ones only (round 50: the API had the
filter, the page had none, so a reminder could not link to what is overdue): the
oldest due first, 50 a page, the filter kept across pages, the organization's own."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.billing.models import Invoice
from tests.integration.billing.dispute_support import held_by_disputes
from tests.support.pages import text_of

# The invoices issued on the default day are due 2027-02-14: overdue on 2027-03-01.
OVERDUE = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


def test_the_overdue_invoices_a_page_at_a_time_oldest_due_first_the_filter_kept(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    other_vendor: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    overdue = [invoice_for(vendor, ("100.00",)) for _ in range(51)]
    # Issued on the day: due in 30 days, not overdue; another organization's is.
    not_due = invoice_for(vendor, ("100.00",), at=OVERDUE)
    elsewhere = invoice_for(other_vendor, ("100.00",))
    with time_machine.travel(OVERDUE, tick=False):
        portal = signed_in(client, vendor)
        everything = text_of(portal.get("/portal/invoices"))
        assert "Invoices 1\u201350 of 52" in everything
        first = portal.get("/portal/invoices?overdue=1")
        assert first.status_code == 200
        text = text_of(first)
        assert "Overdue invoices 1\u201350 of 51 · page 1 of 2" in text
        for invoice in overdue[:50]:
            assert invoice.number in text
        for absent in (overdue[50], not_due, elsewhere):
            assert absent.number not in text
        assert text.index(overdue[0].number) < text.index(overdue[49].number)
        [next_url] = NEXT.findall(first.get_data(as_text=True))
        second = portal.get(html.unescape(next_url))
        assert "overdue=1" in next_url
        text = text_of(second)
        assert "Overdue invoices 51\u201351 of 51 · page 2 of 2" in text
        assert overdue[50].number in text
        assert not_due.number not in text


def test_with_nothing_overdue_the_filter_says_so(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice_for(vendor, ("100.00",), at=OVERDUE)
    with time_machine.travel(OVERDUE, tick=False):
        page = signed_in(client, vendor).get("/portal/invoices?overdue=1")
    assert page.status_code == 200
    assert "Nothing is overdue: every invoice is paid or not yet due." in text_of(page)
    assert 'href="/portal/invoices"' in page.get_data(as_text=True)


def test_an_invoice_a_dispute_holds_is_not_listed_as_overdue(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    # Not asked for while the bank's dispute of its card payment is open: the page
    # never calls it overdue, so the overdue list leaves it out (the full list has it).
    owed, held = invoice_for(vendor, ("100.00",)), invoice_for(vendor, ("100.00",))
    held_by_disputes([held])
    with time_machine.travel(OVERDUE, tick=False):
        portal = signed_in(client, vendor)
        overdue = text_of(portal.get("/portal/invoices?overdue=1"))
        everything = text_of(portal.get("/portal/invoices"))
    assert owed.number in overdue
    assert held.number not in overdue
    assert "card payment disputed by your bank" in everything
    assert held.number in everything
