"""Stripe, behind a small Protocol: the only module that imports `stripe`.

`gateway()` returns the real adapter, built on a `stripe.StripeClient`
instance (never the library's module globals) pointed at `STRIPE_API_BASE`
when it is set (the tests use localstripe), or None when Stripe is not
configured: then the card option is hidden and payments are recorded offline.

What localstripe lacks (Checkout, invoice finalization in Stripe, credit notes,
idempotency keys) the service does not ask Stripe for: invoices, numbers and
credit notes live here; Stripe only moves money. Idempotency keys are still
sent (real Stripe honours them; localstripe ignores them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import stripe
from flask import current_app

from licensing.billing.cards import BRAND_MAX, CardUsed
from licensing.config import Config
from licensing.errors import ExternalServiceError, InvalidInput


def _card_used(details: Any) -> CardUsed | None:
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
    return _card_used(details.get("card")) if isinstance(details, Mapping) else None


@dataclass(frozen=True)
class IntentStatus:
    """What Stripe says about a PaymentIntent."""

    id: str
    status: str
    amount: int
    amount_received: int
    currency: str
    client_secret: str | None
    metadata: Mapping[str, str]
    failure_message: str | None = None
    # The card its latest charge was made on, when Stripe said (expanded charge).
    card: CardUsed | None = None


@dataclass(frozen=True)
class RefundStatus:
    """What Stripe says about a Refund."""

    id: str
    status: str
    amount: int
    currency: str
    payment_intent: str | None
    metadata: Mapping[str, str]
    failure_reason: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    data_object: Mapping[str, Any]


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

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount_minor: int,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> RefundStatus: ...

    def list_refunds(self, payment_intent_id: str) -> list[RefundStatus]: ...

    def verify_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent: ...


def _card_message(code: Any, message: str) -> str:
    """The bank's message, saying "declined" when it is a decline: Stripe's
    words for one are sometimes only the reason ("Your card has insufficient
    funds."), and a payer must know the card was declined, not canceled."""
    if code == "card_declined" and "declined" not in message.lower():
        return f"The card was declined: {message}"
    return message


def _status(found: Any) -> IntentStatus:
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
        failure_message=_card_message(error.get("code"), error["message"])
        if error and error.get("message")
        else None,
        card=_charge_card(intent.get("latest_charge")),
    )


def status_charge(found: Any) -> Mapping[str, Any] | None:
    """An intent's latest charge when it is expanded (a mapping), else None."""
    intent: Mapping[str, Any] = found.to_dict() if hasattr(found, "to_dict") else found
    charge = intent.get("latest_charge")
    return charge if isinstance(charge, Mapping) else None


def _refund(found: Any) -> RefundStatus:
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
            found.append(_refund(candidate))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return found


def intent_status_from_event(data_object: Mapping[str, Any]) -> IntentStatus:
    """A PaymentIntent as carried in a webhook event's `data.object`."""
    try:
        return _status(data_object)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEvent(
            "data.object is not a PaymentIntent: it needs id, status, amount and currency "
            f"({type(exc).__name__}: {exc})"
        ) from None


class StripeGateway:
    """The real adapter: one `StripeClient` per app, configured from `Config`."""

    def __init__(self, config: Config) -> None:
        options: dict[str, Any] = {"max_network_retries": 2}
        if config.stripe_api_base:
            options["base_addresses"] = {"api": config.stripe_api_base}
        self.client = stripe.StripeClient(config.stripe_secret_key, **options)
        self.publishable_key = config.stripe_publishable_key
        self.js_url = config.stripe_js_url
        self.webhook_secret = config.stripe_webhook_secret

    def create_customer(
        self, *, name: str, email: str, organization_id: int, idempotency_key: str
    ) -> str:
        customer = self._call(
            self.client.v1.customers.create,
            {
                "name": name,
                "email": email,
                "metadata": {"organization_id": str(organization_id)},
            },
            {"idempotency_key": idempotency_key},
        )
        return str(customer["id"])

    def attach_card(self, customer_id: str, card_token: str, *, idempotency_key: str) -> str:
        """Save the card Stripe.js tokenized to the customer; its id pays the intent."""
        card = self._call(
            lambda params, options: self.client.v1.customers.payment_sources.create(
                customer_id, params, options
            ),
            {"source": card_token},
            {"idempotency_key": idempotency_key},
        )
        return str(card["id"])

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
        intent = self._call(
            self.client.v1.payment_intents.create,
            {
                "amount": amount_minor,
                "currency": currency.lower(),
                "customer": customer_id,
                "payment_method": payment_method,
                "payment_method_types": ["card"],
                "metadata": dict(metadata),
            },
            {"idempotency_key": idempotency_key},
        )
        return _status(intent)

    def confirm_payment_intent(self, intent_id: str, *, idempotency_key: str) -> IntentStatus:
        return self._with_card(
            self._call(
                lambda params, options: self.client.v1.payment_intents.confirm(
                    intent_id, params, options
                ),
                {"expand": ["latest_charge"]},
                {"idempotency_key": idempotency_key},
            )
        )

    def cancel_payment_intent(self, intent_id: str, *, idempotency_key: str) -> IntentStatus:
        return _status(
            self._call(
                lambda params, options: self.client.v1.payment_intents.cancel(
                    intent_id, params, options
                ),
                {},
                {"idempotency_key": idempotency_key},
            )
        )

    def retrieve_payment_intent(self, intent_id: str) -> IntentStatus:
        return self._with_card(
            self._call(
                lambda params, options: self.client.v1.payment_intents.retrieve(
                    intent_id, params, options
                ),
                {"expand": ["latest_charge"]},
                {},
            )
        )

    def _with_card(self, found: Any) -> IntentStatus:
        """The intent, with the card its latest charge was made on. Stripe puts
        it in the charge's `payment_method_details`; a charge without them
        (localstripe's) names its payment method, which is asked for instead.
        The card is a courtesy on receipts: failing to learn it fails nothing."""
        status = _status(found)
        charge = status_charge(found)
        if status.card is not None or charge is None:
            return status
        method = charge.get("payment_method")
        if not isinstance(method, str) or not method:
            return status
        try:
            payment_method = self._call(
                lambda params, options: self.client.v1.payment_methods.retrieve(
                    method, params, options
                ),
                {},
                {},
            )
        except ExternalServiceError:
            return status
        found_method: Mapping[str, Any] = (
            payment_method.to_dict() if hasattr(payment_method, "to_dict") else payment_method
        )
        card = _card_used(found_method.get("card")) or _card_used(found_method)
        return replace(status, card=card)

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount_minor: int,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> RefundStatus:
        return _refund(
            self._call(
                self.client.v1.refunds.create,
                {
                    "payment_intent": payment_intent_id,
                    "amount": amount_minor,
                    "metadata": dict(metadata),
                },
                {"idempotency_key": idempotency_key},
            )
        )

    def list_refunds(self, payment_intent_id: str) -> list[RefundStatus]:
        found = self._call(
            lambda params, options: self.client.v1.refunds.list(params, options),
            {"payment_intent": payment_intent_id, "limit": 100},
            {},
        )
        return [_refund(refund) for refund in found["data"]]

    def verify_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        if not self.webhook_secret:
            raise SignatureError("STRIPE_WEBHOOK_SECRET is not set")
        try:
            event = self.client.construct_event(payload, signature, self.webhook_secret)
        except stripe.SignatureVerificationError as exc:
            raise SignatureError(str(exc)) from None
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            # Verified first: the signature was good, the body is not an event.
            raise MalformedEvent(f"the body is not a Stripe event ({exc})") from None
        try:
            data = event["data"]["object"]
            data = data.to_dict() if hasattr(data, "to_dict") else dict(data)
            return WebhookEvent(id=str(event["id"]), type=str(event["type"]), data_object=data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedEvent(
                f"an event needs id, type and data.object ({type(exc).__name__}: {exc})"
            ) from None

    @staticmethod
    def _call(method: Any, params: dict[str, Any], options: dict[str, Any]) -> Any:
        try:
            return method(params, options)
        except stripe.CardError as exc:
            raise InvalidInput.for_field(
                "card", _card_message(exc.code, exc.user_message or "The card was declined.")
            ) from None
        except stripe.InvalidRequestError as exc:
            raise StripeRefused(f"Stripe refused the request: {exc.user_message or exc}") from None
        except stripe.StripeError as exc:
            raise ExternalServiceError(
                f"Stripe did not complete the request: {exc.user_message or exc}"
            ) from None


def gateway() -> PaymentGateway | None:
    """The app's gateway, or None when Stripe is not configured."""
    config: Config = current_app.config["LICENSING"]
    if not config.stripe_enabled:
        return None
    cached = current_app.extensions.get("licensing.stripe")
    if cached is None:
        cached = StripeGateway(config)
        current_app.extensions["licensing.stripe"] = cached
    found: PaymentGateway = cached
    return found


def webhook_gateway() -> PaymentGateway | None:
    """Webhooks need only the secret; the keys may be absent on a receiving host."""
    config: Config = current_app.config["LICENSING"]
    if not config.stripe_webhook_secret:
        return None
    return gateway() or StripeGateway(config)
