"""The uses the rate card years' browser walks apply for (round 48's owner, round
60's manager), the office's mid-morning they act at, and a locator's text in one line.
Apart from `card_years`, which the agreements' conftest reaches: these import it."""

from __future__ import annotations

from datetime import UTC, time
from typing import Any

from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE

LEDGER = {**AUTO_USE, "product_name": "Ledger Lark", "description": "Remittance matching"}
LEDGER_SDK = {**DEVELOPMENT_USE, "product_name": "Ledger Lark SDK"}
# A data file: the card's data rule sends it to licensing staff's review.
ATLAS = {
    **AUTO_USE,
    "product_name": "Tern Atlas",
    "description": "A reference data file for billing systems",
    "product_type": "data_file",
    "quantity": {},
    "revenue": "90000",
}
MORNING = time(15, 0, tzinfo=UTC)  # mid-morning at the office


def text(locator: Any) -> str:
    return " ".join(locator.inner_text().split())
