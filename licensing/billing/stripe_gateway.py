"""The Stripe adapter of the payment gateway port (`billing/payment_gateway.py`): the only
module that imports `stripe`.

Built on a `stripe.StripeClient` instance (never the library's module globals)
pointed at `STRIPE_API_BASE` when it is set (the tests use localstripe).

What localstripe lacks (Checkout, invoice finalization in Stripe, credit notes,
idempotency keys) the service does not ask Stripe for: invoices, numbers and
credit notes live here; Stripe only moves money. Idempotency keys are still
sent (real Stripe honours them; localstripe ignores them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import stripe

from licensing import db
from licensing.billing.payment_gateway import (
    IntentStatus,
    MalformedEvent,
    RefundStatus,
    SignatureError,
    StripeRefused,
    WebhookEvent,
    card_message,
    card_used,
    intent_status,
    moment,
    refund_status,
    status_charge,
)
from licensing.config import Config
from licensing.errors import ExternalServiceError, InvalidInput

log = logging.getLogger(__name__)


# How long the service waits for Stripe (round 61, outage61): seconds to connect, and
# to each answer once connected, and how many times a request that got no answer is
# sent again (with its idempotency key, so Stripe does it once). stripe-python's own
# wait is 80 seconds a try: a Stripe that took connections and never answered held a
# payer's request for four minutes over three tries, and gunicorn killed its worker
# at 30 seconds with no answer at all. At most about 2 x (5 + 10) seconds now.
CONNECT_SECONDS = 5.0
ANSWER_SECONDS = 10.0
NETWORK_RETRIES = 1

# What a caller is told when Stripe could not be reached or did not answer in time:
# the service's words, never the library's (which name the address it tried and ask
# the reader to write to Stripe's support).
UNREACHABLE = (
    "Stripe, which takes the card payments, could not be reached or did not answer in "
    "time, so this was not completed. Nothing is recorded as paid or refunded until "
    "Stripe answers; try again in a few minutes."
)


class StripeGateway:
    """The real adapter: one `StripeClient` per app, configured from `Config`."""

    def __init__(self, config: Config) -> None:
        options: dict[str, Any] = {
            "max_network_retries": NETWORK_RETRIES,
            "http_client": stripe.RequestsClient(timeout=(CONNECT_SECONDS, ANSWER_SECONDS)),
        }
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
        return intent_status(intent)

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
        return intent_status(
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
        status = intent_status(found)
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
        card = card_used(found_method.get("card")) or card_used(found_method)
        return replace(status, card=card)

    def charge_payment_intent(self, charge_id: str) -> str | None:
        found = self._call(
            lambda params, options: self.client.v1.charges.retrieve(charge_id, params, options),
            {},
            {},
        )
        charge: Mapping[str, Any] = found.to_dict() if hasattr(found, "to_dict") else found
        intent = charge.get("payment_intent")
        if isinstance(intent, Mapping):
            intent = intent.get("id")
        return intent if isinstance(intent, str) and intent else None

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount_minor: int | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> RefundStatus:
        params: dict[str, Any] = {"payment_intent": payment_intent_id, "metadata": dict(metadata)}
        if amount_minor is not None:  # else Stripe refunds all that is left of the charge
            params["amount"] = amount_minor
        return refund_status(
            self._call(
                self.client.v1.refunds.create,
                params,
                {"idempotency_key": idempotency_key},
            )
        )

    def list_refunds(self, payment_intent_id: str) -> list[RefundStatus]:
        found = self._call(
            lambda params, options: self.client.v1.refunds.list(params, options),
            {"payment_intent": payment_intent_id, "limit": 100},
            {},
        )
        return [refund_status(refund) for refund in found["data"]]

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
        return _webhook_event(event)

    def retrieve_event(self, event_id: str) -> WebhookEvent:
        found = self._call(
            lambda params, options: self.client.v1.events.retrieve(event_id, params, options),
            {},
            {},
        )
        return _webhook_event(found)

    @staticmethod
    def _call(method: Any, params: dict[str, Any], options: dict[str, Any]) -> Any:
        # Which call, never its parameters (a card token, an amount's customer).
        log.info("stripe: %s", getattr(method, "__qualname__", method))
        # Round 59: a request that asked Stripe anything is not run again after a
        # deadlock (`db.retrying`): what Stripe did would be asked for twice.
        db.went_outside("Stripe")
        try:
            return method(params, options)
        except stripe.CardError as exc:
            raise InvalidInput.for_field(
                "card", card_message(exc.code, exc.user_message or "The card was declined.")
            ) from None
        except stripe.InvalidRequestError as exc:
            raise StripeRefused(f"Stripe refused the request: {exc.user_message or exc}") from None
        except stripe.APIConnectionError as exc:  # refused, lost, or no answer in time
            log.warning("stripe: %s: no answer: %s", getattr(method, "__qualname__", method), exc)
            raise ExternalServiceError(UNREACHABLE) from None
        except stripe.StripeError as exc:
            raise ExternalServiceError(
                f"Stripe did not complete the request: {exc.user_message or exc}"
            ) from None


def _webhook_event(event: Any) -> WebhookEvent:
    """An event, delivered or asked for, as the service reads it."""
    try:
        data = event["data"]["object"]
        data = data.to_dict() if hasattr(data, "to_dict") else dict(data)
        return WebhookEvent(
            id=str(event["id"]),
            type=str(event["type"]),
            data_object=data,
            created=moment(_created(event)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEvent(
            f"an event needs id, type and data.object ({type(exc).__name__}: {exc})"
        ) from None


def _created(event: Any) -> Any:
    """The event's `created`: a StripeObject has no `get` (it is not a dict)."""
    try:
        return event["created"]
    except (KeyError, TypeError):
        return None
