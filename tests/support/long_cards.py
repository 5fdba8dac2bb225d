"""The open-ended card and the 2027 agreement the long-card journeys (rounds 44 and
45) renew and price on it: 2028.1 from 2028-01-01 with a development fee a year,
prorated, and the vendor's 2027 agreement with a development use beside Scrubber Pro."""

from __future__ import annotations

from datetime import date
from typing import Any

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.settings import IssuingPolicy
from licensing.pricing.ratecard import OPEN_ENDED
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, NOW
from tests.integration.pricing.conftest import card_document
from tests.support.agreements import accept, agreement_of
from tests.support.settings import issuing

OPEN = OPEN_ENDED.isoformat()

# The quote's page sentences (round 44) for a 2028 term of 366 days on the open-ended
# 2028.1, amounts as pages and documents write them: what the agreement's Schedule A
# (round 47) and the approval email (round 48) say.
FEE_SENTENCE = (
    "Rate card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over all "
    "of it: the development flat fee of 5,000.00 USD is 0.63 USD for this term of 366 days."
)
MINIMUM_SENTENCE = (
    "Rate card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over all "
    "of it: the distribution-software minimum of 1,000.00 USD is 0.13 USD for this term of "
    "366 days."
)


def card_2028(effective_to: str = OPEN, fee: str = "5000.00") -> dict[str, Any]:
    """2028.1 from 2028-01-01, its development fee `fee` a year (prorated)."""
    card = card_document(
        version="2028.1", title="2028", effective_from="2028-01-01", effective_to=effective_to
    )
    for rule in card["rules"]:
        if rule["id"] == "development":
            rule["model"] = {**rule["model"], "amount": fee}
    return card


def agreement_of_2027(apply: Any, vendor: Any) -> Any:
    """The vendor's 2027 agreement (2027-01-01 to 2027-12-31), made with the agreements
    tests' `apply` fixture: Scrubber Pro (33,800.00) and its SDK's development fee
    (2,500.00 a year, prorated)."""
    return accept(
        agreement_of(apply(vendor, AUTO_USE, DEVELOPMENT_USE)), vendor, signer_name="Samira"
    )


def submitted_on_2028(vendor: Any, policy: IssuingPolicy | None = None) -> Any:
    """The vendor's application for 2028 (Scrubber Pro and its SDK), submitted under
    `policy` (the app configuration's issuing policy unless given)."""
    principal = accounts.principal_for(vendor)
    draft = services.ApplicationDraft.from_fields(
        {
            "term_start": date(2028, 1, 1),
            "term_end": date(2028, 12, 31),
            "uses": (AUTO_USE, DEVELOPMENT_USE),
        }
    )
    application = services.create_draft(Actor.of(principal), draft, now=NOW)
    return services.submit(
        application.id, Actor.of(principal), policy=policy or issuing(), attest=True, now=NOW
    )
