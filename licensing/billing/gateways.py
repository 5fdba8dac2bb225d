"""The payment gateway a configuration names: what the edges pass the card use cases.

`gateway(config)` returns the real adapter (`billing/stripe_gateway.py`, the only
module that imports `stripe`), or None when Stripe is not configured: then the
card option is hidden and payments are recorded offline. The views, the API,
the CLI and the worker call it with the running app's `Config` and pass what it
returns to `start_card_payment`, `refund_card`, `reconcile_payments`,
`reconcile_refunds` and `handle_stripe_webhook`; tests pass a gateway of their
own localstripe, or one that wraps it.

The adapter is imported only when first built: the `stripe` library is about
14 MB and a third of a second of every process's start, and most processes
(workers that serve no card payment, CLI commands) never move money. One adapter
is kept per set of Stripe settings (its `StripeClient` keeps its connections).

Apart from the port (`payment_gateway.py`), which the adapter implements and
imports, so that the port imports neither Flask nor its adapter.
"""

from __future__ import annotations

from licensing.billing.payment_gateway import PaymentGateway
from licensing.config import Config

# Built adapters by the settings they were built from (a test app's localstripe
# has its own port, so two apps never share one).
_ADAPTERS: dict[tuple[str, ...], PaymentGateway] = {}


def gateway(config: Config) -> PaymentGateway | None:
    """The gateway of `config`, or None when Stripe is not configured."""
    if not config.stripe_enabled:
        return None
    return _adapter(config)


def webhook_gateway(config: Config) -> PaymentGateway | None:
    """Webhooks need only the secret; the keys may be absent on a receiving host."""
    if not config.stripe_webhook_secret:
        return None
    return _adapter(config)


def _adapter(config: Config) -> PaymentGateway:
    settings = (
        config.stripe_secret_key,
        config.stripe_publishable_key,
        config.stripe_webhook_secret,
        config.stripe_api_base,
        config.stripe_js_url,
    )
    found = _ADAPTERS.get(settings)
    if found is None:
        # Imported here, on first use: see the module's docstring.
        from licensing.billing.stripe_gateway import StripeGateway

        found = _ADAPTERS[settings] = StripeGateway(config)
    return found
