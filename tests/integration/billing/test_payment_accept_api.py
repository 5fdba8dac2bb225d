"""A flagged card payment accepted through the API (round 30): a finance script finds
the flagged payments, accepts one with why, is told what stays owed, and a retry of an
accept that went through applies nothing again and says so."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from tests.support.factories import bearer, billing_clerk
from tests.support.servers import LocalStripe

from .stripe_support import (
    flagged_card_payment,
    stripe_config,
)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _accepted_events(payment: Payment) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent).where(
                AuditEvent.action == "payment.accepted",
                AuditEvent.entity_id == str(payment.id),
            )
        )
    )


def test_a_finance_script_finds_a_flagged_payment_and_accepts_it_told_what_stays_owed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    headers = bearer(billing_staff)
    waiting = client.get("/api/v1/payments?state=flagged", headers=headers).get_json()
    assert [row["id"] for row in waiting] == [payment.id]
    assert waiting[0]["amount_received"] == "299.99"

    response = client.post(
        f"/api/v1/payments/{payment.id}/accept",
        json={"reason": "The licensee's bank took a cent in fees; accepted."},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["state"], body["amount"]) == (payment.id, "succeeded", "299.99")
    assert (body["invoice_number"], body["invoice_state"], body["invoice_balance_due"]) == (
        invoice.number,
        "open",
        "0.01",
    )
    assert body["summary"].startswith(
        f"Accepted: 299.99 USD applied to {invoice.number}, which leaves 0.01 USD owed on it"
    )
    assert f"POST /api/v1/invoices/{invoice.id}/credit-notes" in body["summary"]
    [event] = _accepted_events(payment)
    assert event.actor == billing_staff.email
    assert event.note == "The licensee's bank took a cent in fees; accepted."
    assert client.get("/api/v1/payments?state=flagged", headers=headers).get_json() == []
    read = client.get(f"/api/v1/invoices/{invoice.id}", headers=headers).get_json()
    assert (read["amount_paid"], read["balance_due"]) == ("299.99", "0.01")


def test_a_payment_accepted_in_full_says_the_invoice_is_paid(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Flagged for another reason than the amount (the received figure equals the
    balance only after a partial offline payment): accepted, the invoice is paid."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=30000 - 100
    )
    services.record_offline_payment(
        invoice.id, method="wire", amount=Decimal("1.00"), reference="W-1", received_on=None,
        note=None, actor=billing_clerk(),
    )  # fmt: skip
    response = client.post(
        f"/api/v1/payments/{payment.id}/accept",
        json={"reason": "The rest came by wire."},
        headers=bearer(billing_staff),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["invoice_state"], body["invoice_balance_due"]) == ("paid", "0.00")
    said = f"Accepted: 299.00 USD applied to {invoice.number}, which is paid now."
    assert body["summary"] == said


def test_a_retried_accept_applies_nothing_again_and_says_the_first_went_through(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    url = f"/api/v1/payments/{payment.id}/accept"
    sent = {"reason": "A cent in fees."}
    keyed = {**bearer(billing_staff), "Idempotency-Key": "accept-7731"}
    first = client.post(url, json=sent, headers=keyed)
    assert first.status_code == 200, first.get_json()
    # With the same key: the first answer again, nothing carried out.
    again = client.post(url, json=sent, headers=keyed)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    # Without a key (or with a new one): a 409 that says what happened.
    unkeyed = client.post(url, json=sent, headers=bearer(billing_staff))
    assert unkeyed.status_code == 409
    assert unkeyed.headers["Content-Type"].startswith("application/problem+json")
    detail = unkeyed.get_json()["detail"]
    # Round 56: named as the pages name it, by its card and when started, not its row id.
    named = payment.named(invoice.number)
    assert named.startswith(f"Card payment of {invoice.number} (Visa ending ")
    assert f"{named}, was accepted already, by {billing_staff.email} at " in detail
    assert f"Payment {payment.id} " not in detail
    assert "a request sent before went through, and nothing was applied again" in detail
    assert f"GET /api/v1/payments/{payment.id}" in detail
    assert len(_accepted_events(payment)) == 1
    read = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(billing_staff))
    assert read.get_json()["amount_paid"] == "299.99"


def test_an_accept_the_rules_refuse_is_problem_json_and_changes_nothing(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _, payment = flagged_card_payment(client, vendor, localstripe, invoice_for, received=30001)
    url = f"/api/v1/payments/{payment.id}/accept"
    headers = bearer(billing_staff)
    no_reason = client.post(url, json={}, headers=headers)
    assert no_reason.status_code == 422
    assert no_reason.headers["Content-Type"].startswith("application/problem+json")
    assert "reason" in str(no_reason.get_json()["errors"])
    blank = client.post(url, json={"reason": "  "}, headers=headers)
    assert blank.status_code == 422
    too_much = client.post(url, json={"reason": "Keep the cent."}, headers=headers)
    assert too_much.status_code == 409
    assert "give it back to the card instead" in too_much.get_json()["detail"]
    missing = client.post("/api/v1/payments/999999/accept", json={"reason": "x"}, headers=headers)
    assert missing.status_code == 404
    db.session().refresh(payment)
    assert payment.state == "flagged"
    assert _accepted_events(payment) == []


@pytest.mark.parametrize("who", ["vendor", "licensing_staff", "read_token"])
def test_only_billing_staff_with_a_write_token_accept_a_flagged_payment(
    request: pytest.FixtureRequest,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    who: str,
) -> None:
    _, payment = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
    if who == "read_token":
        _, secret = accounts.create_api_token(
            billing_staff.id, "ERP", actor=Actor.SYSTEM, scope="read"
        )
        headers = {"Authorization": f"Bearer {secret}"}
    else:
        headers = bearer(request.getfixturevalue(who))
    response = client.post(
        f"/api/v1/payments/{payment.id}/accept", json={"reason": "Fees."}, headers=headers
    )
    assert response.status_code == 403
    db.session().refresh(payment)
    assert payment.state == "flagged"


def test_the_accept_route_is_in_openapi_with_its_errors_and_idempotency_key(
    client: FlaskClient,
) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    accept = paths["/api/v1/payments/{payment_id}/accept"]["post"]
    assert {"200", "403", "409", "422"} <= set(accept["responses"])
    reversal = paths["/api/v1/payments/{payment_id}/reversal"]["post"]["responses"]
    assert set(accept["responses"]) == set(reversal) - {"201"} | {"200"}
    assert "Idempotency-Key" in [parameter["name"] for parameter in accept["parameters"]]
    assert "Idempotent-Replayed" in accept["responses"]["200"]["headers"]
