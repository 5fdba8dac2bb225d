"""Round 49: the console's invoice list showed every card payment to review above
it (flagged, or being given back), read whole with each one's disputes read again
a payment at a time. It shows the newest 10 and how many more, linking every one
on its own list a page at a time; both pages run the same statements at 10 and 100
payments to review."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing import views
from licensing.billing.models import Invoice, Payment
from licensing.billing.states import CARD, FLAGGED, GIVING_BACK, SUCCEEDED
from tests.support.statements import statements_for

SignIn = Callable[..., FlaskClient]


def _to_review(invoice: Invoice, count: int, *, start: int = 0) -> list[Payment]:
    """`count` card payments of `invoice` to review: flagged, or being given back."""
    session = db.session()
    made = [
        Payment(
            invoice_id=invoice.id,
            organization_id=invoice.organization_id,
            method=CARD,
            state=GIVING_BACK if index % 5 == 4 else FLAGGED,
            currency="USD",
            amount=Decimal("300.00"),
            amount_received=Decimal("299.99"),
            stripe_payment_intent_id=f"pi_review_{index:04d}",
            card_brand="visa",
            card_last4=f"{index:04d}",  # round 55 names a payment by its card, not its id
            recorded_by="vendor@example.com",
            note=f"Review note {index:04d}",
        )
        for index in range(start, start + count)
    ]
    session.add_all(made)
    session.commit()
    return made


def _named(markup: str) -> list[int]:
    """The payments a page links, by the index `_to_review` gave each (its card's
    last four digits: round 55 names a payment by its card, never its row id)."""
    return [
        int(found) for found in re.findall(r">Card payment of [^<]*\(Visa ending (\d{4})\)", markup)
    ]


def test_the_invoice_list_shows_the_newest_ten_to_review_and_links_every_one(
    app: Flask,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: SignIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoice = invoice_for(vendor)
    made = _to_review(invoice, 23)
    settled = _to_review(invoice, 1, start=100)[0]  # accepted since: not to review
    settled.state = SUCCEEDED
    db.session().commit()
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get("/console/invoices").get_data(as_text=True)
    newest = [int(payment.card_last4 or "") for payment in sorted(made, key=lambda p: -p.id)]
    assert _named(page) == newest[:10]
    words = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "And 13 more: every card payment to review (23) , newest first." in words
    assert 'href="/console/payments/to-review"' in page

    monkeypatch.setattr(views, "FLAGGED_PER_PAGE", 10)
    walked: list[int] = []
    url = "/console/payments/to-review"
    while url:
        listed = staff.get(url)
        assert listed.status_code == 200
        markup = listed.get_data(as_text=True)
        walked += _named(markup)
        found = re.search(r'<a href="([^"]+)" rel="next">', markup)
        url = found[1].replace("&amp;", "&") if found else ""
    assert walked == newest
    assert int(settled.card_last4 or "") not in walked
    # Vendors may not open it.
    assert signed_in(app.test_client(), vendor).get("/console/payments/to-review").status_code in (
        403,
        404,
    )


def test_the_invoice_list_and_the_payments_to_review_run_the_same_statements_at_10_and_100(
    app: Flask,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: SignIn,
) -> None:
    invoice = invoice_for(vendor)
    _to_review(invoice, 10)
    staff = signed_in(app.test_client(), billing_staff)
    urls = ("/console/invoices", "/console/payments/to-review")
    at_10 = [statements_for(app, staff, url) for url in urls]
    _to_review(invoice, 90, start=10)
    at_100 = [statements_for(app, staff, url) for url in urls]
    assert at_100 == at_10
    assert len(_named(staff.get(urls[0]).get_data(as_text=True))) == 10
    assert len(_named(staff.get(urls[1]).get_data(as_text=True))) == 50


def test_a_flagged_payment_without_a_note_reads_no_reason_recorded_not_none(
    app: Flask,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: SignIn,
) -> None:
    """Round 56: a flagged payment whose row has no note (the service always writes
    one, but rows made otherwise have none) printed "None" in the invoice list's
    banner, the list of payments to review and its accept panel."""
    invoice = invoice_for(vendor)
    payment = _to_review(invoice, 1)[0]
    payment.note = None
    db.session().commit()
    staff = signed_in(app.test_client(), billing_staff)
    for url in (
        "/console/invoices",
        "/console/payments/to-review",
        f"/console/invoices/{invoice.id}",
        f"/console/payments/{payment.id}",
    ):
        answer = staff.get(url)
        assert answer.status_code == 200, url
        words = " ".join(re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True)).split())
        # (The invoice's documents say "None of them changes.": not a note.)
        assert "None" not in words.replace("None of them changes", ""), url
        assert "no reason" in words, url
