"""The payment gateway port: what billing asks of Stripe, and what Stripe says.

The real adapter is `billing/stripe_gateway.py`, the only module that imports
`stripe`; `billing/gateways.py` chooses it by the app's configuration.

What localstripe lacks (Checkout, invoice finalization in Stripe, credit notes,
idempotency keys) the service does not ask Stripe for: invoices, numbers and
credit notes live here; Stripe only moves money. Idempotency keys are still
sent (real Stripe honours them; localstripe ignores them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from licensing.billing.cards import BRAND_MAX, CardUsed
from licensing.errors import ExternalServiceError


def card_used(details: Any) -> CardUsed | None:
    """Brand and last four from a `card` mapping (a charge's
    `payment_method_details.card`, a PaymentMethod's `card`, or a Card source)."""
    if not isinstance(details, Mapping):
        return None
    brand, last4 = details.get("brand"), details.get("last4")
    if not isinstance(brand, str) or not isinstance(last4, str):
        return None
    if not brand or len(last4) != 4 or not last4.isdigit():
        return None
    return CardUsed(brand=brand.lower()[:BRAND_MAX], last4=last4)


def _charge_card(charge: Any) -> CardUsed | None:
    """The card of an expanded charge: `payment_method_details.card`."""
    if not isinstance(charge, Mapping):
        return None
    details = charge.get("payment_method_details")
    return card_used(details.get("card")) if isinstance(details, Mapping) else None


@dataclass(frozen=True, kw_only=True)
class StripeStatus:
    """What Stripe says about an object that moves money: its id and status, the
    amount (in minor units) and currency, and the metadata this service sent."""

    id: str
    status: str
    amount: int
    currency: str
    metadata: Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class IntentStatus(StripeStatus):
    """What Stripe says about a PaymentIntent."""

    amount_received: int
    client_secret: str | None
    failure_message: str | None = None
    # The card its latest charge was made on, when Stripe said (expanded charge).
    card: CardUsed | None = None
    # Its latest charge's id: a dispute names the charge (`charge.dispute.*`).
    charge: str | None = None


@dataclass(frozen=True, kw_only=True)
class RefundStatus(StripeStatus):
    """What Stripe says about a Refund."""

    payment_intent: str | None
    failure_reason: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    data_object: Mapping[str, Any]
    # When Stripe made the event (its `created`): which of two events is the newer.
    created: datetime | None = None


class SignatureError(Exception):
    """A webhook whose `Stripe-Signature` does not verify."""


class StripeRefused(ExternalServiceError):
    """Stripe understood the request and refused it (a 4xx other than a card
    decline): nothing was done there, e.g. confirming an intent that already
    succeeded. Callers ask Stripe for the object's state instead."""


class MalformedEvent(Exception):
    """A webhook whose signature verifies but whose body is not the event it
    claims to be (not an object, no `data.object`, an intent without `status`)."""


class PaymentGateway(Protocol):
    publishable_key: str
    js_url: str

    def create_customer(
        self, *, name: str, email: str, organization_id: int, idempotency_key: str
    ) -> str: ...

    def attach_card(self, customer_id: str, card_token: str, *, idempotency_key: str) -> str: ...

    def create_payment_intent(
        self,
        *,
        amount_minor: int,
        currency: str,
        customer_id: str,
        payment_method: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> IntentStatus:
        """An intent NOT yet confirmed: no money moves until `confirm_payment_intent`."""
        ...

    def confirm_payment_intent(self, intent_id: str, *, idempotency_key: str) -> IntentStatus: ...

    def cancel_payment_intent(self, intent_id: str, *, idempotency_key: str) -> IntentStatus: ...

    def retrieve_payment_intent(self, intent_id: str) -> IntentStatus:
        """The intent as it stands, with the card of its latest charge when it has one."""
        ...

    def charge_payment_intent(self, charge_id: str) -> str | None:
        """The PaymentIntent a Charge was made for (None for a charge made without
        one). `StripeRefused` when Stripe has no such charge."""
        ...

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount_minor: int | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> RefundStatus:
        """A Refund on the intent's charge: `amount_minor`, or (None) all that is
        left of it to refund (a flagged payment given back)."""
        ...

    def list_refunds(self, payment_intent_id: str) -> list[RefundStatus]: ...

    def verify_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent: ...

    def retrieve_event(self, event_id: str) -> WebhookEvent:
        """The event as Stripe keeps it (`GET /v1/events/{id}`, for 30 days), as a
        delivery carries it (round 58, replay58: a failed event applied again from the
        console). `StripeRefused` when Stripe has no such event; `MalformedEvent`
        when what it answers is not one."""
        ...


def card_message(code: Any, message: str) -> str:
    """The bank's message, saying "declined" when it is a decline: Stripe's
    words for one are sometimes only the reason ("Your card has insufficient
    funds."), and a payer must know the card was declined, not canceled."""
    if code == "card_declined" and "declined" not in message.lower():
        return f"The card was declined: {message}"
    return message


def intent_status(found: Any) -> IntentStatus:
    intent: Mapping[str, Any] = found.to_dict() if hasattr(found, "to_dict") else found
    error = intent.get("last_payment_error") or {}
    return IntentStatus(
        id=str(intent["id"]),
        status=str(intent["status"]),
        amount=int(intent["amount"]),
        amount_received=int(intent.get("amount_received") or 0),
        currency=str(intent["currency"]).upper(),
        client_secret=intent.get("client_secret"),
        metadata={str(k): str(v) for k, v in (intent.get("metadata") or {}).items()},
        failure_message=card_message(error.get("code"), error["message"])
        if error and error.get("message")
        else None,
        card=_charge_card(intent.get("latest_charge")),
        charge=_object_id(intent.get("latest_charge")),
    )


def status_charge(found: Any) -> Mapping[str, Any] | None:
    """An intent's latest charge when it is expanded (a mapping), else None."""
    intent: Mapping[str, Any] = found.to_dict() if hasattr(found, "to_dict") else found
    charge = intent.get("latest_charge")
    return charge if isinstance(charge, Mapping) else None


def refund_status(found: Any) -> RefundStatus:
    refund: Mapping[str, Any] = found.to_dict() if hasattr(found, "to_dict") else found
    return RefundStatus(
        id=str(refund["id"]),
        status=str(refund.get("status") or "pending"),
        amount=int(refund["amount"]),
        currency=str(refund["currency"]).upper(),
        payment_intent=refund.get("payment_intent"),
        metadata={str(k): str(v) for k, v in (refund.get("metadata") or {}).items()},
        failure_reason=refund.get("failure_reason"),
    )


def refunds_from_event(
    event_type: str, data_object: Mapping[str, Any]
) -> list[RefundStatus] | None:
    """The refunds a `charge.refunded` or `refund.*` event carries; None when a
    charge does not carry its refunds (Stripe API versions from 2022-11-15 leave
    them out): then ask Stripe. Entries that are not refunds are skipped."""
    if event_type.startswith("refund."):
        candidates: list[Any] = [data_object]
    else:
        listed = data_object.get("refunds")
        if not isinstance(listed, Mapping) or not isinstance(listed.get("data"), list):
            return None
        candidates = listed["data"]
    found: list[RefundStatus] = []
    for candidate in candidates:
        try:
            found.append(refund_status(candidate))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return found


def intent_status_from_event(data_object: Mapping[str, Any]) -> IntentStatus:
    """A PaymentIntent as carried in a webhook event's `data.object`."""
    try:
        return intent_status(data_object)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEvent(
            "data.object is not a PaymentIntent: it needs id, status, amount and currency "
            f"({type(exc).__name__}: {exc})"
        ) from None


@dataclass(frozen=True, kw_only=True)
class DisputeStatus:
    """What Stripe says about a Dispute (`charge.dispute.*` events): the charge and,
    on API versions that give it, the PaymentIntent it disputes; the amount in minor
    units; when Stripe withdrew and reinstated the money, from the dispute's balance
    transactions (a withdrawal is negative, a reinstatement positive)."""

    id: str
    status: str
    amount: int
    currency: str
    charge: str | None
    payment_intent: str | None
    reason: str | None
    evidence_due_by: datetime | None
    withdrawn_at: datetime | None
    reinstated_at: datetime | None
    # When the bank's dispute reached Stripe (the Dispute's `created`), whenever we hear of it.
    created_at: datetime | None = None


def _object_id(value: Any) -> str | None:
    """An expandable field's id: the string, or an expanded object's `id`."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def moment(timestamp: Any) -> datetime | None:
    """A Stripe timestamp (seconds since the epoch) as a UTC datetime, else None."""
    return _moment(timestamp)


def _moment(timestamp: Any) -> datetime | None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _moved(transactions: Any, withdrawn: bool) -> datetime | None:
    """When the first balance transaction that withdrew (or reinstated) money was made."""
    if not isinstance(transactions, list):
        return None
    for transaction in transactions:
        if not isinstance(transaction, Mapping):
            continue
        amount = transaction.get("amount")
        if isinstance(amount, int) and amount != 0 and (amount < 0) == withdrawn:
            return _moment(transaction.get("created"))
    return None


def dispute_status_from_event(data_object: Mapping[str, Any]) -> DisputeStatus:
    """A Dispute as carried in a webhook event's `data.object`."""
    try:
        evidence = data_object.get("evidence_details") or {}
        transactions = data_object.get("balance_transactions")
        reason = data_object.get("reason")
        return DisputeStatus(
            id=str(data_object["id"]),
            status=str(data_object["status"]),
            amount=int(data_object["amount"]),
            currency=str(data_object["currency"]).upper(),
            charge=_object_id(data_object.get("charge")),
            payment_intent=_object_id(data_object.get("payment_intent")),
            reason=str(reason)[:60] if reason else None,
            evidence_due_by=_moment(evidence.get("due_by")),
            withdrawn_at=_moved(transactions, withdrawn=True),
            reinstated_at=_moved(transactions, withdrawn=False),
            created_at=_moment(data_object.get("created")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEvent(
            "data.object is not a Dispute: it needs id, status, amount and currency "
            f"({type(exc).__name__}: {exc})"
        ) from None
