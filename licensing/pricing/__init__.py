"""The pricing core: rate cards, pricing models and quotes (`contracts/pricing.md`).

Pure: it imports only the standard library and `licensing.money`, so it can be
used and tested without the app, the database or any network service.

The package re-exports what the rest of the service imports through it (a test
holds it to that); anything else is imported from its own module.
"""

from __future__ import annotations

from .describe import (
    describe_condition,
    describe_rule,
    diff_cards,
)
from .models import (
    Inputs,
    exact_text,
    graduated_amount,
    needs_revenue,
    percent_amount,
    units_needed,
    volume_amount,
    work,
)
from .quote import (
    Breakdown,
    ProposedUse,
    Quote,
    QuoteInputError,
    QuoteLine,
    QuoteRequest,
    Term,
    contract_json,
    price,
    price_text,
)
from .ratecard import (
    Adjustment,
    Condition,
    FlatModel,
    Model,
    PercentOfRevenueModel,
    PerUnitModel,
    RateCard,
    RateCardInvalid,
    Rule,
    SumModel,
    Tier,
    content_digest,
    parse_rate_card,
    select_card,
)
from .vocabulary import (
    AXES,
    ORGANIZATION_TYPES,
    PRODUCT_TYPES,
    USER_TYPES,
    USES,
)

__all__ = [
    "AXES",
    "ORGANIZATION_TYPES",
    "PRODUCT_TYPES",
    "USER_TYPES",
    "USES",
    "Adjustment",
    "Breakdown",
    "Condition",
    "FlatModel",
    "Inputs",
    "Model",
    "PerUnitModel",
    "PercentOfRevenueModel",
    "ProposedUse",
    "Quote",
    "QuoteInputError",
    "QuoteLine",
    "QuoteRequest",
    "RateCard",
    "RateCardInvalid",
    "Rule",
    "SumModel",
    "Term",
    "Tier",
    "content_digest",
    "contract_json",
    "describe_condition",
    "describe_rule",
    "diff_cards",
    "exact_text",
    "graduated_amount",
    "needs_revenue",
    "parse_rate_card",
    "percent_amount",
    "price",
    "price_text",
    "select_card",
    "units_needed",
    "volume_amount",
    "work",
]
