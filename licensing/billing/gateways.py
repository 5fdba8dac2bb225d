"""The app's payment gateway, chosen by its configuration.

`gateway()` returns the real adapter (`billing/stripe_gateway.py`, the only
module that imports `stripe`), built on first use, or None when Stripe is not
configured: then the card option is hidden and payments are recorded offline.
The adapter is imported only then: the `stripe` library is about 14 MB and a
third of a second of every process's start, and most processes (workers that
serve no card payment, CLI commands) never move money.

Apart from the port (`payment_gateway.py`), which the adapter implements and
imports, so that the port imports neither Flask nor its adapter.
"""

from __future__ import annotations

from flask import current_app

from licensing.billing.payment_gateway import PaymentGateway
from licensing.config import Config


def gateway() -> PaymentGateway | None:
    """The app's gateway, or None when Stripe is not configured."""
    config: Config = current_app.config["LICENSING"]
    if not config.stripe_enabled:
        return None
    cached = current_app.extensions.get("licensing.stripe")
    if cached is None:
        cached = _adapter(config)
        current_app.extensions["licensing.stripe"] = cached
    found: PaymentGateway = cached
    return found


def webhook_gateway() -> PaymentGateway | None:
    """Webhooks need only the secret; the keys may be absent on a receiving host."""
    config: Config = current_app.config["LICENSING"]
    if not config.stripe_webhook_secret:
        return None
    return gateway() or _adapter(config)


def _adapter(config: Config) -> PaymentGateway:
    # Imported here, on first use: see the module's docstring.
    from licensing.billing.stripe_gateway import StripeGateway

    return StripeGateway(config)
