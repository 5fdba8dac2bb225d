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
