"""The classification vocabulary of the pricing contract (`contracts/pricing.md`).

Every value a rate card or a quote request may use is listed here; anything
else is a validation error, never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping

USES: tuple[str, ...] = (
    "development",
    "distribution",
    "internal_use",
    "derivative_work",
    "translation",
    "education",
)

PRODUCT_TYPES: tuple[str, ...] = (
    "software",
    "saas",
    "mobile_app",
    "data_file",
    "print",
    "electronic_publication",
    "ai_model",
)

USER_TYPES: tuple[str, ...] = (
    "provider",
    "payer",
    "consumer",
    "academic",
    "government",
    "internal",
)

ORGANIZATION_TYPES: tuple[str, ...] = (
    "commercial",
    "nonprofit",
    "academic",
    "government",
    "individual",
)

# The four axes a rule's or an adjustment's `when` may constrain, in the order
# they are read aloud ("distribution of saas products for payer users by ...").
AXES: Mapping[str, tuple[str, ...]] = {
    "use": USES,
    "product_type": PRODUCT_TYPES,
    "user_type": USER_TYPES,
    "organization_type": ORGANIZATION_TYPES,
}

REVIEW_MODES: tuple[str, ...] = ("auto", "staff")

# What happens to a priced use: licensed for a fee, or sent to the educational
# permissions queue. A rule can only name the second; "license" is implied by a model.
ROUTES: tuple[str, ...] = ("license", "permission_request")

MODEL_TYPES: tuple[str, ...] = ("flat", "per_unit", "percent_of_revenue", "sum")

TIER_MODES: tuple[str, ...] = ("graduated", "volume")
