"""Exact money: `Decimal` amounts in a currency, rounded in one named place.

Nothing here imports a framework: the pure pricing core depends on this module.
Amounts leave the service as decimal strings with exactly the currency's
minor-unit digits (`format_amount`); integer minor units exist only at the Stripe
edge (`to_minor_units` / `from_minor_units`).

What a person reads (pages, emails and documents alike) is written by one function
per kind, all here: an amount `format_grouped` ("3,524.07"), with its currency
`in_words` ("3,524.07 USD"), a quantity `format_quantity` ("120,000"), and the
figures inside a sentence of working `figures_grouped`. Exports and the API keep
`format_amount` (no grouping).
"""

from __future__ import annotations

import functools
import math
import re
from decimal import ROUND_DOWN, Decimal, InvalidOperation
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

# ASCII digits only: `\d` would read Arabic-Indic or full-width digits as the number they spell.
_DECIMAL_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_QUANTITY_TEXT = re.compile(r"^[0-9]+$")
# A figure as pages write one, thousands grouped with commas ("12,345.67",
# "2,500"): one to three digits (not starting with 0), then groups of exactly three,
# none after the point.
_GROUPED_TEXT = re.compile(r"(-?)([1-9][0-9]{0,2}(?:,[0-9]{3})+)(\.[0-9]+)?")

# --- Bounds on every number the service reads ------------------------------------
# The one place that says how large and how precise an amount or a quantity may
# be, wherever it is read (API, pages, rate cards, CLI). They are checked on the
# text or the Decimal's digits and exponent before any arithmetic, so an absurd
# number (1e999999999) costs nothing; converting one to an exact fraction used to
# hold a worker for a minute. The money columns (`licensing.db.Money`) are
# NUMERIC(AMOUNT_INTEGER_DIGITS + AMOUNT_PLACES, AMOUNT_PLACES): every amount read
# fits them.
AMOUNT_INTEGER_DIGITS = 14  # digits before the decimal point
AMOUNT_PLACES = 4  # digits after it
RATE_PLACES = 10  # digits after the point in a rate card's prices and percentages
MAX_AMOUNT = Decimal(10**AMOUNT_INTEGER_DIGITS) - Decimal(1).scaleb(-AMOUNT_PLACES)
MAX_QUANTITY = 10**12  # a count of units (end users, copies, languages)
# Longest decimal text read at all (digits, sign, point): anything longer is
# refused before it is looked at further.
MAX_DECIMAL_TEXT = AMOUNT_INTEGER_DIGITS + RATE_PLACES + 8


class MoneyError(ValueError):
    """An amount or currency that cannot be read exactly."""


class TooLarge(MoneyError):
    """A decimal with more digits before the point than an amount may have."""


class TooManyPlaces(MoneyError):
    """A decimal with more digits after the point than it may have."""


def is_currency(code: str) -> bool:
    return code in CURRENCIES


def minor_units(currency: str) -> int:
    """How many digits follow the decimal point in `currency` (2 for USD)."""
    if currency not in CURRENCIES:
        raise MoneyError(f"unknown currency {currency!r}")
    return _MINOR_UNITS_EXCEPTIONS.get(currency, 2)


def parse_decimal(
    text: str | int | Decimal, *, allow_negative: bool = False, places: int = AMOUNT_PLACES
) -> Decimal:
    """Read a plain decimal (`"12.50"`, `"0"`, `7`) exactly; refuse floats and exponents.

    JSON numbers arrive here as the text they were written with (the API parses
    them with `parse_float=Decimal`), so `12.5` is read as 12.5, never as a binary
    float approximation. Amounts beyond the bounds above are refused, naming them;
    `places` is the most digits after the point (a rate card's rates: RATE_PLACES).
    """
    if isinstance(text, bool | float):
        raise MoneyError("amounts must be decimal strings, not floating-point numbers")
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise MoneyError("amount must be a finite number")
        value = text
    elif isinstance(text, int):
        if abs(text) > MAX_AMOUNT:  # comparing costs nothing; no digits are made
            raise TooLarge(_too_large())
        value = Decimal(text)
    else:
        raw = str(text).strip()
        if len(raw) > MAX_DECIMAL_TEXT:
            raise TooLarge(
                f"{raw[:MAX_DECIMAL_TEXT]}... is longer than {MAX_DECIMAL_TEXT} characters; "
                + _too_large()
            )
        if not _DECIMAL_TEXT.match(raw):
            raise MoneyError(f"{raw!r} is not a decimal number such as 1250.00")
        try:
            value = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the pattern already rules this out
            raise MoneyError(f"{raw!r} is not a decimal number") from None
    check_bounds(value, places=places)
    if value.is_signed() and not allow_negative:
        if value:
            raise MoneyError("must not be negative")
        # "-0" is zero, which the contracts' "non-negative" admits: read it without
        # its sign, so that no "-0.00" is ever stored or written.
        value = value.copy_abs()
    return value


def check_bounds(value: Decimal, *, places: int = AMOUNT_PLACES) -> None:
    """Refuse an amount with more digits before or after the point than the
    bounds allow, from its digits and exponent alone (no arithmetic)."""
    _sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise MoneyError("amount must be a finite number")
    if len(digits) > MAX_DECIMAL_TEXT:
        raise MoneyError(f"at most {MAX_DECIMAL_TEXT} digits")
    if exponent > AMOUNT_INTEGER_DIGITS:  # even 0E+99: no such amount is written
        raise TooLarge(_too_large())
    if exponent < -MAX_DECIMAL_TEXT:
        raise TooManyPlaces(f"at most {places} decimal places")
    significant = len(digits)
    while significant > 1 and exponent < 0 and digits[significant - 1] == 0:
        significant -= 1  # trailing zeros after the point ("12.50000") are harmless
        exponent += 1
    if digits[0] != 0 and significant + exponent > AMOUNT_INTEGER_DIGITS:
        raise TooLarge(_too_large())
    if exponent < -places and any(digits[:significant]):
        raise TooManyPlaces(f"at most {places} decimal places")


def check_total(value: Decimal) -> None:
    """Refuse a computed amount (a sum, a price) the money columns cannot hold."""
    if beyond_largest(value):
        raise TooLarge(_too_large())


def beyond_largest(amount: Decimal) -> bool:
    """Whether a computed amount (a price, a royalty to date, a sum of lines) is
    beyond what the money columns hold, so that no invoice can say it: the one test
    every step that records a computed amount asks (round 50)."""
    return abs(amount) > MAX_AMOUNT


def largest_amount(currency: str) -> Decimal:
    """The largest amount the office can record and invoice in `currency`:
    MAX_AMOUNT to the currency's minor unit (99999999999999.99 USD)."""
    places = minor_units(currency)
    return (Decimal(10**AMOUNT_INTEGER_DIGITS) - Decimal(1).scaleb(-places)).quantize(
        _minor_unit(places)
    )


def exceeds_largest(amount: Decimal | Fraction | int, currency: str) -> str:
    """`... exceeds the largest amount the office can record and invoice, ...`: the words every
    refusal of a computed amount beyond MAX_AMOUNT ends with."""
    return (
        f"{in_words(amount, currency)} exceeds the largest amount the office can "
        f"record and invoice, {in_words(largest_amount(currency), currency)}"
    )


def _too_large() -> str:
    return (
        f"at most {AMOUNT_INTEGER_DIGITS} digits before the decimal point "
        f"(the largest amount is {MAX_AMOUNT:f})"
    )


def ungrouped(text: str) -> str:
    """A figure a person typed on a page (an amount or a count), its thousands
    separators taken out: "12,345.67" -> "12345.67", "2,500" -> "2500". The one rule
    for every page's money and count fields (round 56): pages write figures grouped
    (`format_grouped`), so a figure typed as they write it is read, the commas
    between groups of three only. Commas anywhere else ("1,00.00", "1000,00",
    "1,,000", ",500", "0.1,000") are left where they are, so the field's reader
    refuses the figure with the field's message, never reading it as another
    number. The API never calls this: it takes the contracts' decimal strings."""
    raw = text.strip()
    if "," not in raw:
        return raw
    found = _GROUPED_TEXT.fullmatch(raw)
    if found is None:
        return raw
    sign, whole, fraction = found.groups()
    return f"{sign}{whole.replace(',', '')}{fraction or ''}"


def parse_quantity(text: str | int) -> int:
    """A count of units written as digits (`"2500"`) or an int: 0 to MAX_QUANTITY."""
    if isinstance(text, bool):
        raise MoneyError("must be a whole number")
    if isinstance(text, int):
        number = text
    else:
        raw = str(text).strip()
        if len(raw) > len(str(MAX_QUANTITY)) + 2 or not _QUANTITY_TEXT.match(raw):
            if _QUANTITY_TEXT.match(raw):
                raise MoneyError(f"must be at most {MAX_QUANTITY}")
            raise MoneyError("must be a whole number such as 2500")
        number = int(raw)
    if number < 0:
        raise MoneyError("must not be negative")
    if number > MAX_QUANTITY:
        raise MoneyError(f"must be at most {MAX_QUANTITY}")
    return number


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


def proportional(amount: Decimal, weights: list[Decimal], places: int) -> list[Decimal]:
    """`amount` split in proportion to `weights`, cumulatively rounded so the
    parts add up to `amount` exactly (a credit note over its invoice's lines: the
    `credit_note_lines` export and the Finance page's royalty credit notes)."""
    total = sum(weights, Decimal(0))
    if total == 0:
        return [amount] + [Decimal(0)] * (len(weights) - 1) if weights else []
    parts, so_far, given = [], Decimal(0), Decimal(0)
    for weight in weights:
        so_far += weight
        to_date = round_fraction(Fraction(amount) * Fraction(so_far) / Fraction(total), places)
        parts.append(to_date - given)
        given = to_date
    return parts


def quantize(amount: Fraction | Decimal | int, currency: str) -> Decimal:
    """Round to the currency's minor unit, half-up."""
    return round_fraction(amount, minor_units(currency))


def format_amount(amount: Decimal | Fraction | int, currency: str) -> str:
    """The amount as a decimal string with exactly the currency's minor-unit digits."""
    places = minor_units(currency)
    if isinstance(amount, Decimal):
        quantized = amount.quantize(_minor_unit(places))
        if quantized == amount:
            return f"{quantized:f}"
    return f"{round_fraction(amount, places):f}"


def filed_amount(amount: Decimal, currency: str) -> str:
    """An amount a licensee gave (a row's revenue) as given back: the currency's
    minor-unit digits ("5000" filed as 5000.00 reads "5000.00"), or more where it was
    filed finer ("80.125"), never rounded."""
    places = max(minor_units(currency), -min(0, int(amount.normalize().as_tuple().exponent)))
    return f"{amount.quantize(_minor_unit(places)):f}"


def finer_than_currency(amount: Decimal, currency: str) -> str | None:
    """Why `amount` cannot be an amount in `currency` (more digits after the point
    than the currency's minor unit: `1234.5` in JPY, which has none), in a field's
    words; None where it can (round 61: a revenue in yen took fractions of a yen)."""
    places = minor_units(currency)
    if amount == amount.quantize(_minor_unit(places)):
        return None
    if places == 0:
        return (
            f"{currency} has no minor unit: give a whole number of {currency}, "
            f"such as {amount.quantize(Decimal(1), rounding=ROUND_DOWN):f}."
        )
    return (
        f"{currency} has {places} decimal places: give at most {places}, "
        f"such as {amount.quantize(_minor_unit(places), rounding=ROUND_DOWN):f}."
    )


def revenue_problem(amount: Decimal, currency: str) -> str | None:
    """Why a revenue typed (an application's estimate, a royalty row) cannot be one in
    `currency`: a fraction in a currency without a minor unit (`1234.5` JPY). Elsewhere
    a revenue keeps up to `AMOUNT_PLACES` digits and is priced exactly (round 14's
    "80.125" USD reads back as filed), so only that case is refused (round 61)."""
    return finer_than_currency(amount, currency) if minor_units(currency) == 0 else None


def format_grouped(amount: Decimal | Fraction | int, currency: str) -> str:
    """`33800` -> `33,800.00`: the amount as people read it on pages and in emails,
    thousands separated. Never for the API, CSV or PDFs, which keep `format_amount`."""
    text = format_amount(amount, currency)
    whole, _, fraction = text.lstrip("-").partition(".")
    sign = "-" if text.startswith("-") else ""
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"


def in_words(amount: Decimal | Fraction | int, currency: str) -> str:
    """`1,500.50 USD`: an amount with its currency, as pages, emails and documents
    say it."""
    return f"{format_grouped(amount, currency)} {currency}"


def price_in_words(amount: Decimal, currency: str) -> str:
    """`2500` -> `2,500.00 USD`: a rate card's amount as pages and documents say it
    (`in_words`), except that a unit price finer than the minor unit keeps its
    digits (`0.045 USD`, never rounded)."""
    return f"{figures_grouped(filed_amount(amount, currency))} {currency}"


def format_quantity(count: int | Decimal | None) -> str:
    """`120000` -> `120,000`: a count of end users, members or copies as people read
    it, on pages, in emails and documents ("—" for none given)."""
    if count is None:
        return "—"
    return f"{count:,}"


# A figure inside a sentence of working, four whole digits or more ("120000",
# "33800.00", "about 1239.726027"), but not part of a fraction ("181/365"), a date
# ("2027-01-31"), a reference ("INV-2027-000007"), a version ("2027.1") or a figure
# already grouped.
# Not a card's version either ("2027.1", round 64: "2027.JPY" read "2,027.JPY").
_UNGROUPED_FIGURE = re.compile(r"(?<![\w./,])(?<!\w-)(\d{4,})(?=(?:\.\d{2,})?(?![\w/]|[.,-]\w))")


def figures_grouped(text: str) -> str:
    """The amounts and quantities of a sentence of working grouped as `format_grouped`
    and `format_quantity` write them: "120000 x 0.019 = 2280.00" -> "120,000 x 0.019
    = 2,280.00". The digits after a point are left as they are."""
    return _UNGROUPED_FIGURE.sub(lambda found: f"{int(found.group(1)):,}", text)


@functools.lru_cache(maxsize=8)
def _minor_unit(places: int) -> Decimal:
    # Every amount written out (a quote writes each line's and the total) asks.
    return Decimal(1).scaleb(-places)


# Stripe's largest charge: an `amount` of at most eight digits of minor units
# (99999999: 999,999.99 USD). A balance beyond it is never sent to Stripe.
CARD_MAX_MINOR_UNITS = 99_999_999


def beyond_card_limit(amount: Decimal, currency: str) -> bool:
    """Whether `amount` is more than one card payment can take (Stripe's limit)."""
    return amount.scaleb(minor_units(currency)) > CARD_MAX_MINOR_UNITS


def card_limit(currency: str) -> Decimal:
    """The largest card payment in `currency` (999999.99 USD, 99999999 JPY)."""
    return from_minor_units(CARD_MAX_MINOR_UNITS, currency)


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
