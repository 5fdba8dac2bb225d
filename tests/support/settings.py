"""Settings for tests that call use cases directly, as the edges build them: from
the running test app's `Config` (so a test's `config_changes` still apply)."""

from __future__ import annotations

from licensing.agreements.settings import IssuingPolicy
from licensing.billing import gateways
from licensing.billing.payment_gateway import PaymentGateway
from licensing.billing.settings import InvoiceTerms
from licensing.config import current_config
from licensing.mail.smtp import Delivery


def issuing() -> IssuingPolicy:
    return IssuingPolicy.from_config(current_config())


def permission_sla_days() -> int:
    return current_config().permission_sla_days


def invoice_terms() -> InvoiceTerms:
    return InvoiceTerms.from_config(current_config())


def standing_days() -> int:
    return current_config().overdue_standing_days


def delivery() -> Delivery:
    """Where the test app's outbox delivers (its SMTP_URL, or the mail viewer)."""
    return Delivery.from_config(current_config())


def gateway() -> PaymentGateway:
    """The test app's payment gateway: its localstripe's (the test must have one)."""
    found = gateways.gateway(current_config())
    assert found is not None, "this test's app has no localstripe"
    return found


def production_environment(database_url: str, **changes: str) -> dict[str, str]:
    """A production environment every check accepts (for the console script run
    as an operator runs it), with `changes`."""
    return {
        "LICENSING_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "k" * 40,
        "AUDIT_HMAC_KEY": "a" * 40,
        "PUBLIC_URL": "https://licensing.example.test",
        "SMTP_URL": "smtp://127.0.0.1:25",
        "BILLING_ISSUER": "Example Licensing Office|1 Test Street",
        "BILLING_REMIT_TO": "Wire to Example Bank, account 12345",
        "STRIPE_SECRET_KEY": "",
        "STRIPE_PUBLISHABLE_KEY": "",
        "RATELIMIT_STORAGE_URI": "memory://",
        **changes,
    }
