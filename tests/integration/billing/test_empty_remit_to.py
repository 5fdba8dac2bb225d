"""Round 55: with BILLING_REMIT_TO set empty, the invoice's PDF no longer printed "How
to pay" over nothing, but the emails still said "How to pay:" over an empty line, the
invoice's pages showed the heading over an empty list, and the API answered
`remit_to: [""]`. One rule everywhere now: the heading stands only over
instructions (the payment instructions, or paying by card where the page offers it),
and the lines are those the PDF prints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services, views
from licensing.billing.letterhead import Letterhead, install
from licensing.billing.models import Invoice
from licensing.mail.models import OutboxMessage
from tests.support.factories import bearer
from tests.support.monthly_statements import (
    IN_DECEMBER,
    JANUARY,
    RUN,
    invoice,
    organization,
    statement_emails,
)
from tests.support.pages import text_of


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"billing_remit_to": ""}


def _emails(template: str) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.template == template)
    return list(db.session().scalars(query))


def test_the_invoice_email_says_no_how_to_pay_over_nothing(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    issued = invoice_for(vendor)
    (message,) = [m for m in _emails("invoice_issued") if str(issued.number) in m.subject]
    assert message.body_text is not None
    assert "How to pay" not in message.body_text
    assert "See it and pay by card, without an account:" in message.body_text


def test_the_statement_email_of_a_balance_owed_says_no_how_to_pay_over_nothing(
    app: Flask,
) -> None:
    owing = organization("Brindle Harbor Labs")
    invoice(owing.id, "300.00", IN_DECEMBER)
    services.send_monthly_statements(JANUARY, now=RUN)
    (message,) = statement_emails()
    assert message.body_text is not None
    assert "300.00 USD" in message.body_text
    assert "How to pay" not in message.body_text


def test_the_invoice_page_without_card_payments_shows_no_how_to_pay(
    app: Flask,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    issued = invoice_for(vendor)
    portal = signed_in(app.test_client(), vendor)
    page = portal.get(f"/portal/invoices/{issued.id}")
    assert page.status_code == 200
    text = text_of(page)
    assert str(issued.number) in text
    assert "How to pay" not in text
    assert 'id="how-heading"' not in page.get_data(as_text=True)


def test_the_api_gives_no_remit_to_line_rather_than_an_empty_one(
    client: FlaskClient, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    issued = invoice_for(vendor)
    answer = client.get(f"/api/v1/invoices/{issued.id}", headers=bearer(vendor))
    assert answer.status_code == 200
    assert answer.get_json()["remit_to"] == []


def test_the_api_gives_the_lines_as_the_pdf_prints_them(
    app: Flask, client: FlaskClient, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    install(app, Letterhead(issuer="Licensing Office", remit_to=" Wire to Example Bank || ACH "))
    issued = invoice_for(vendor)
    answer = client.get(f"/api/v1/invoices/{issued.id}", headers=bearer(vendor))
    assert answer.get_json()["remit_to"] == ["Wire to Example Bank", "ACH"]
    (message,) = [m for m in _emails("invoice_issued") if str(issued.number) in m.subject]
    assert message.body_text is not None
    assert "How to pay:\n  Wire to Example Bank\n  ACH\n" in message.body_text


def test_the_invoice_page_with_card_payments_says_how_to_pay_by_card_alone(
    app: Flask,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(views, "_gateway", object)  # card payments on
    issued = invoice_for(vendor)
    portal = signed_in(app.test_client(), vendor)
    text = text_of(portal.get(f"/portal/invoices/{issued.id}"))
    assert "How to pay Pay by card online." in text
    assert "wire, ACH or check" not in text
