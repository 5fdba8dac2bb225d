"""The card a payment was made on, as a receipt may name it (no Stripe import:
models, pages and the API use it)."""

from __future__ import annotations

from dataclasses import dataclass

# Stripe's card brands (PaymentMethod `card.brand`, or a saved Card source's
# `brand`) as people name them on a statement.
BRAND_NAMES = {
    "amex": "American Express",
    "american express": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "diners club": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos Australia",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
    "unknown": "Card",
}
BRAND_MAX = 30


@dataclass(frozen=True)
class CardUsed:
    """The card a charge was made on, as far as a receipt may say: brand and last four."""

    brand: str
    last4: str

    @property
    def label(self) -> str:
        return card_label(self.brand, self.last4)


def card_label(brand: str | None, last4: str | None) -> str:
    """The card as pages and emails name it, e.g. `Visa ending 4242`."""
    name = BRAND_NAMES.get((brand or "").lower(), (brand or "Card").title())
    return f"{name} ending {last4}" if last4 else name
