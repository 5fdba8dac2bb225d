"""Exact money: `Decimal` amounts in a currency, rounded in one named place.

Nothing here imports a framework: the pure pricing core depends on this module.
Amounts leave the service as decimal strings with exactly the currency's
minor-unit digits (`format_amount`); integer minor units exist only at the Stripe
edge (`to_minor_units` / `from_minor_units`).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

# ISO 4217 codes whose minor unit is not two digits. Every other code listed in
# CURRENCIES has two.
_MINOR_UNITS_EXCEPTIONS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip

# Active ISO 4217 currency codes (funds and precious-metal codes left out: a rate
# card is never priced in them).
CURRENCIES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)

_DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d+)?$")


class MoneyError(ValueError):
    """An amount or currency that cannot be read exactly."""


def is_currency(code: str) -> bool:
    return code in CURRENCIES


def minor_units(currency: str) -> int:
    """How many digits follow the decimal point in `currency` (2 for USD)."""
    if currency not in CURRENCIES:
        raise MoneyError(f"unknown currency {currency!r}")
    return _MINOR_UNITS_EXCEPTIONS.get(currency, 2)


def parse_decimal(text: str | int | Decimal, *, allow_negative: bool = False) -> Decimal:
    """Read a plain decimal (`"12.50"`, `"0"`, `7`) exactly; refuse floats and exponents.

    JSON numbers arrive here as the text they were written with (the API parses
    them with `parse_float=Decimal`), so `12.5` is read as 12.5, never as a binary
    float approximation.
    """
    if isinstance(text, bool | float):
        raise MoneyError("amounts must be decimal strings, not floating-point numbers")
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise MoneyError("amount must be a finite number")
        value = text
    else:
        raw = str(text).strip()
        if not _DECIMAL_TEXT.match(raw):
            raise MoneyError(f"{raw!r} is not a decimal number such as 1250.00")
        try:
            value = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the pattern already rules this out
            raise MoneyError(f"{raw!r} is not a decimal number") from None
    if value < 0 and not allow_negative:
        raise MoneyError("must not be negative")
    return value


def round_fraction(amount: Fraction | Decimal | int, places: int) -> Decimal:
    """Round an exact amount half-up (ties away from zero) to `places` digits.

    This is the one rounding step of the pricing contract; it works on
    `Fraction` so that a prorated amount is rounded exactly once.
    """
    exact = Fraction(amount)
    scale = 10**places
    scaled = abs(exact) * scale
    rounded = math.floor(scaled + Fraction(1, 2))
    sign = -1 if exact < 0 else 1
    return (Decimal(sign * rounded) / Decimal(scale)).quantize(Decimal(1).scaleb(-places))


def quantize(amount: Fraction | Decimal | int, currency: str) -> Decimal:
    """Round to the currency's minor unit, half-up."""
    return round_fraction(amount, minor_units(currency))


def format_amount(amount: Decimal | Fraction | int, currency: str) -> str:
    """The amount as a decimal string with exactly the currency's minor-unit digits."""
    places = minor_units(currency)
    if isinstance(amount, Decimal) and amount == amount.quantize(Decimal(1).scaleb(-places)):
        return f"{amount.quantize(Decimal(1).scaleb(-places)):f}"
    return f"{round_fraction(amount, places):f}"


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Integer minor units (cents) for Stripe; refuses amounts finer than a cent."""
    places = minor_units(currency)
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more than {places} decimal places")
    return int(scaled)


def from_minor_units(units: int, currency: str) -> Decimal:
    places = minor_units(currency)
    return Decimal(units).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def zero(currency: str) -> Decimal:
    return Decimal(0).quantize(Decimal(1).scaleb(-minor_units(currency)))
