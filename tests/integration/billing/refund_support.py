"""Refund test helpers: credit notes on paid invoices (offline or by card through
localstripe), and Stripe gateways that fail a refund the ways Stripe can."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.billing import gateways, payment_gateway, services
from licensing.billing.models import CreditNote, Invoice, Payment, Refund
from licensing.errors import ExternalServiceError
from tests.support import factories, settings
from tests.support.billing import paid_offline
from tests.support.factories import billing_clerk
from tests.support.servers import LocalStripe

from .conftest import activated, send_activation
from .stripe_support import card_token, deliver_event, events_for


def paid_offline_and_credited(
    invoice_for: Callable[..., Invoice], vendor: User, credit: str = "100.00"
) -> CreditNote:
    invoice = invoice_for(vendor, ("500.00",))
    paid_offline(invoice.id, "500.00", "W-1")
    return services.issue_credit_note(
        invoice.id, amount=Decimal(credit), reason="Seat removed", actor=billing_clerk()
    )


def committed_credit(amount: str, *, paid_with: str, reason: str) -> CreditNote:
    """For tests that refund from several threads (`committed_app`, in its app
    context): a new vendor's 300.00 invoice paid by ACH, credited `amount`."""
    vendor = factories.make_vendor(db.session())
    invoice = send_activation(activated(vendor.organization_id, ("300.00",)))
    assert invoice is not None
    paid_offline(invoice.id, "300.00", paid_with, method="ach")
    return services.issue_credit_note(
        invoice.id, amount=Decimal(amount), reason=reason, actor=billing_clerk()
    )


def refunds_of(credit: CreditNote) -> list[Refund]:
    """The credit note's refunds, oldest first."""
    statement = select(Refund).where(Refund.credit_note_id == credit.id).order_by(Refund.id)
    return list(db.session().scalars(statement))


def deliver(client: FlaskClient, event: dict[str, Any]) -> dict[str, Any]:
    response = deliver_event(client, event)
    assert response.status_code == 200
    answer: dict[str, Any] = response.get_json()
    return answer


def paid_by_card(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice: Invoice
) -> Payment:
    attempt = services.start_card_payment(
        invoice.id,
        card_token=card_token(localstripe),
        principal=accounts.principal_for(vendor),
        gateway=settings.gateway(),
    )
    payment = db.session().get(Payment, attempt.payment_id)
    assert payment is not None
    db.session().refresh(payment)
    assert payment.stripe_payment_intent_id
    (event,) = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    assert deliver(client, event)["outcome"].startswith("applied")
    db.session().refresh(invoice)
    assert invoice.state == "paid"
    return payment


def card_paid_and_credited(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    amount: str = "90.00",
) -> tuple[CreditNote, Payment]:
    """An invoice of `amount` paid by card, then credited in full."""
    invoice = invoice_for(vendor, (amount,))
    payment = paid_by_card(client, vendor, localstripe, invoice)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal(amount), reason="Cancelled", actor=billing_clerk()
    )
    return credit, payment


class LostAnswer:
    """The real gateway, except that the refund's answer is lost on the way back."""

    def __init__(self, real: payment_gateway.PaymentGateway) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def create_refund(self, **kwargs: Any) -> payment_gateway.RefundStatus:
        self.real.create_refund(**kwargs)
        raise ExternalServiceError("Stripe did not complete the request: timed out")


class NeverSent(LostAnswer):
    """The real gateway, except that the refund request never leaves this host."""

    def create_refund(self, **kwargs: Any) -> payment_gateway.RefundStatus:
        raise ExternalServiceError("Stripe could not be reached: connection refused")


class Refuses(LostAnswer):
    """The real gateway, except that Stripe refuses the refund."""

    def create_refund(self, **kwargs: Any) -> payment_gateway.RefundStatus:
        raise payment_gateway.StripeRefused("Stripe refused the request: charge disputed")


@contextmanager
def stripe_through(gateway: Callable[[payment_gateway.PaymentGateway], Any]) -> Iterator[None]:
    """Within the block the app's pages and API talk to Stripe through
    `gateway(real)`, `real` being the test's localstripe; after it, through the real
    gateway again. (A test calling a use case passes it `gateway(real)` instead.)"""
    wrapped = gateway(settings.gateway())
    with mock.patch.object(gateways, "gateway", return_value=wrapped):
        yield
