"""The settings the billing use cases take as arguments, built from `Config` once
at the edge (pages, API, CLI, the worker) so that a use case never reads the
app's configuration itself (docs/architecture.md, "Settings")."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from licensing.config import Config


@dataclass(frozen=True)
class InvoiceTerms:
    """The office's standard terms (PAYMENT_TERMS_DAYS, LATE_FEE_MONTHLY_PERCENT),
    for an invoice that follows no agreement, such as a manual one."""

    payment_terms_days: int
    late_fee_monthly_percent: Decimal

    @classmethod
    def from_config(cls, config: Config) -> InvoiceTerms:
        return cls(
            payment_terms_days=config.payment_terms_days,
            late_fee_monthly_percent=config.late_fee_monthly_percent,
        )
