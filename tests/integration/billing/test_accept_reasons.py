"""Round 49: the accept panels' reasons (*Why accept it*, *Why accept the remainder*)
are `required` in the browser, so the service's own refusal is reached only without
the browser's check (the test client, an old browser, a script through the API). An
empty reason, or one of spaces and line breaks only, is refused by the service: on
the pages the form again with the reason's message linked to its field (422), through
the API a 422 problem+json naming `reason`; nothing is stored (the payment stays
flagged, the invoice owes what it owed, no audit event, no email)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing.models import REASON_REQUIRED, Invoice, Payment
from licensing.mail.models import OutboxMessage
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.servers import LocalStripe

from .dispute_support import charge_of
from .dispute_support import dispute_in_part as _dispute
from .stripe_support import flagged_card_payment, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


# The step's console route and API route, and its form's prefix.
STEPS = {"accept": "accept", "remainder": "accept-remainder"}
BLANK = ["", "   \n\t  "]


def _flagged(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    prefix: str,
) -> tuple[Invoice, Payment]:
    """299.99 received on a 300.00 invoice, flagged; for the remainder's step, 100.00 of
    its charge disputed and the dispute lost, leaving 199.99 to accept."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    if prefix == "remainder":
        charge = charge_of(localstripe, payment)
        _dispute(client, payment, charge, "created", "needs_response", 10000)
        _dispute(client, payment, charge, "closed", "lost", 10000)
    return invoice, payment


def _stored(payment: Payment, invoice: Invoice) -> tuple[Any, ...]:
    """What a refused step must leave as it was: the payment's state and amount, the
    invoice's amount paid, its audit events and the outbox."""
    session = db.session()
    session.expire_all()
    stored = session.get(Payment, payment.id)
    owed = session.get(Invoice, invoice.id)
    assert stored is not None
    assert owed is not None
    events = session.scalar(
        select(func.count()).where(
            AuditEvent.entity_type == "payment", AuditEvent.entity_id == str(payment.id)
        )
    )
    emails = session.scalar(select(func.count()).select_from(OutboxMessage))
    return stored.state, stored.amount, owed.amount_paid, events, emails


@pytest.mark.parametrize("reason", BLANK, ids=["empty", "blank"])
@pytest.mark.parametrize("prefix", list(STEPS))
def test_an_empty_or_blank_reason_to_accept_is_the_forms_message_on_the_page(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    prefix: str,
    reason: str,
) -> None:
    """Posted from the payment's page and from the invoice's page, as a browser without
    the `required` check would: 422, the panel's summary links "Say why." to the
    panel's own reason field, and nothing is stored."""
    invoice, payment = _flagged(client, vendor, localstripe, invoice_for, prefix)
    before = _stored(payment, invoice)
    staff = signed_in(app.test_client(), billing_staff)
    for back in ({"from_payment": str(payment.id)}, {}):
        refused = staff.post(
            f"/console/payments/{payment.id}/{STEPS[prefix]}",
            data={f"{prefix}-reason": reason, **back},
        )
        assert refused.status_code == 422, text_of(refused)
        page = refused.get_data(as_text=True)
        assert f'href="#{prefix}-reason-{payment.id}"' in page
        assert f'id="{prefix}-reason-{payment.id}"' in page
        assert "Not accepted" in text_of(refused)
        assert "Say why." in text_of(refused)
        assert _stored(payment, invoice) == before


@pytest.mark.parametrize("reason", BLANK, ids=["empty", "blank"])
@pytest.mark.parametrize("prefix", list(STEPS))
def test_an_empty_or_blank_reason_to_accept_is_a_422_problem_on_the_api(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    prefix: str,
    reason: str,
) -> None:
    """`POST /payments/{id}/accept` and `/accept-remainder`: 422 problem+json, its
    `errors` naming `reason` only (empty or blank, in one sentence); nothing is
    stored, and the same payment is then accepted with a reason."""
    invoice, payment = _flagged(client, vendor, localstripe, invoice_for, prefix)
    before = _stored(payment, invoice)
    refused = client.post(
        f"/api/v1/payments/{payment.id}/{STEPS[prefix]}",
        json={"reason": reason},
        headers=bearer(billing_staff),
    )
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert refused.content_type == "application/problem+json"
    errors = refused.get_json()["errors"]
    assert list(errors) == ["reason"]
    # Empty or blank, one sentence (round 49: the schema's and the service's were two).
    assert errors["reason"] == [REASON_REQUIRED]
    assert _stored(payment, invoice) == before
    accepted = client.post(
        f"/api/v1/payments/{payment.id}/{STEPS[prefix]}",
        json={"reason": "Checked with the licensee."},
        headers=bearer(billing_staff),
    )
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert accepted.get_json()["state"] == "succeeded"
