"""The settings the agreements use cases take as arguments, built from `Config`
once at the edge (pages, API, CLI) so that a use case never reads the app's
configuration itself (docs/architecture.md, "Settings")."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from licensing.config import Config
from licensing.pricing.describe import LONG_PERIOD_DAYS
from licensing.records import attributes

# The commercial terms written into every agreement issued (and told to billing
# when it becomes active), under the same names in `Config`, the policy and the
# agreement.
PAYMENT_TERMS = ("payment_terms_days", "late_fee_monthly_percent")


@dataclass(frozen=True)
class IssuingPolicy:
    """Whether submission may approve an application at once, and the commercial
    terms written into every agreement issued on approval."""

    auto_approve: bool
    payment_terms_days: int
    late_fee_monthly_percent: Decimal
    # `LONG_CARD_DAYS`: an agreement priced on a card that runs open-ended or longer
    # says in its Schedule A what the contract's proration made of each prorated
    # amount, as the quote did (round 47).
    long_card_days: int = LONG_PERIOD_DAYS

    @classmethod
    def from_config(cls, config: Config) -> IssuingPolicy:
        return cls(
            auto_approve=config.auto_approve,
            long_card_days=config.long_card_days,
            **attributes(config, PAYMENT_TERMS),
        )
