"""Exact money: parsing, the one rounding rule, and the Stripe edge."""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing import money
from tests.support.decimals import no_decimal_arithmetic


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Fraction(1, 200), "0.01"),  # half a cent rounds up
        (Fraction(1, 201), "0.00"),
        (Fraction(-1, 200), "-0.01"),  # ties away from zero
        (Fraction(183, 36600), "0.01"),  # the contract's 1.83 over 1 of 366 days
        (Decimal("2.675"), "2.68"),  # a float would give 2.67
        (Decimal("1234.5"), "1234.50"),
    ],
)
def test_amounts_round_half_up_once_to_cents(amount: Fraction | Decimal, expected: str) -> None:
    assert money.format_amount(amount, "USD") == expected


def test_minor_units_follow_the_currency() -> None:
    assert money.format_amount(Decimal("1234.5"), "JPY") == "1235"
    assert money.format_amount(Decimal("1.0005"), "KWD") == "1.001"
    with pytest.raises(money.MoneyError):
        money.minor_units("XXX")


@pytest.mark.parametrize("text", ["1e3", "NaN", "1,000.00", "", "12.", ".5", "1.2.3", "Infinity"])
def test_parse_decimal_refuses_anything_but_plain_decimals(text: str) -> None:
    with pytest.raises(money.MoneyError):
        money.parse_decimal(text)


# Digits of other scripts: Arabic-Indic, full-width, Devanagari, and mixed with ASCII.
# Read as 80000.00 and 800 (the quote priced them), where quantities, ids, pages
# and months already took ASCII digits only.
@pytest.mark.parametrize(
    "text",
    [
        "\u0668\u0660\u0660\u0660\u0660.\u0660\u0660",
        "\uff18\uff10\uff10",
        "\u0967\u0968",
        "1\u0662.50",
    ],
)
def test_parse_decimal_reads_ascii_digits_only(text: str) -> None:
    with pytest.raises(money.MoneyError, match="not a decimal number"):
        money.parse_decimal(text)
    assert money.parse_decimal("80000.00") == Decimal("80000.00")


def test_parse_decimal_refuses_floats_and_negative_amounts() -> None:
    with pytest.raises(money.MoneyError):
        money.parse_decimal(1.5)  # type: ignore[arg-type]
    with pytest.raises(money.MoneyError):
        money.parse_decimal("-1.00")
    assert money.parse_decimal("-1.00", allow_negative=True) == Decimal("-1.00")
    assert money.parse_decimal(7) == Decimal(7)


def test_stripe_edge_converts_to_and_from_cents_exactly() -> None:
    assert money.to_minor_units(Decimal("33800.00"), "USD") == 3380000
    assert money.from_minor_units(3380000, "USD") == Decimal("33800.00")
    with pytest.raises(money.MoneyError):
        money.to_minor_units(Decimal("0.005"), "USD")


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_cents_round_trip_through_the_stripe_edge(cents: int) -> None:
    amount = money.from_minor_units(cents, "USD")
    assert money.to_minor_units(amount, "USD") == cents
    assert money.format_amount(amount, "USD") == f"{amount:.2f}"


@pytest.mark.parametrize(
    ("value", "limit"),
    [
        ("100000000000000", "14 digits before"),
        ("99999999999999999999.99", "14 digits before"),
        (Decimal("1E+999999999"), "14 digits before"),
        (Decimal("0E+999"), "14 digits before"),
        (10**20, "14 digits before"),
        ("1" * 100_000, "longer than 32 characters"),
        ("1.00001", "4 decimal places"),
        (Decimal("1E-999999999"), "4 decimal places"),
        (Decimal("0E-999999999"), "4 decimal places"),
    ],
)
def test_parse_decimal_refuses_amounts_beyond_the_bounds_naming_them(
    value: str | int | Decimal, limit: str
) -> None:
    with pytest.raises(money.MoneyError, match=limit):
        money.parse_decimal(value)


def test_the_bounds_are_checked_without_arithmetic_on_the_number() -> None:
    """Arithmetic on 1E+999999999 (rounding, scaling, `abs`) would make its
    billion digits; under a context that traps every signal, any arithmetic at
    all raises decimal's own error instead of the bound's."""
    with no_decimal_arithmetic():
        for value in ("1E+999999999", "-1E+999999999", "1E-999999999"):
            with pytest.raises(money.MoneyError):
                money.parse_decimal(Decimal(value))
    with no_decimal_arithmetic(), pytest.raises(decimal.DecimalException):
        abs(Decimal("-1E+999999999"))  # the context does catch arithmetic


def test_the_largest_amount_and_trailing_zeros_are_accepted() -> None:
    assert money.parse_decimal(f"{money.MAX_AMOUNT}") == money.MAX_AMOUNT
    assert money.parse_decimal("12.50000") == Decimal("12.5")
    assert money.parse_decimal("0.000125", places=money.RATE_PLACES) == Decimal("0.000125")


def test_the_money_columns_hold_every_amount_the_bounds_let_in() -> None:
    from licensing.db import MONEY_PRECISION, MONEY_SCALE

    assert MONEY_SCALE == money.AMOUNT_PLACES
    assert MONEY_PRECISION - MONEY_SCALE == money.AMOUNT_INTEGER_DIGITS
    # SQLite keeps 1/10,000ths in a signed 64-bit integer.
    assert money.MAX_AMOUNT.scaleb(MONEY_SCALE) < 2**63


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\u00b2", "whole number"),
        ("12.5", "whole number"),
        ("9" * 5000, "at most"),
        (-1, "negative"),
    ],
)
def test_parse_quantity_reads_ascii_digits_up_to_the_bound(text: str | int, message: str) -> None:
    with pytest.raises(money.MoneyError, match=message):
        money.parse_quantity(text)
    assert money.parse_quantity(" 2500 ") == 2500
    assert money.parse_quantity(money.MAX_QUANTITY) == money.MAX_QUANTITY


def test_amounts_read_by_people_group_thousands_with_the_minor_unit_digits() -> None:
    assert money.format_grouped(Decimal("33800"), "USD") == "33,800.00"
    assert money.format_grouped(Decimal("-1500.5"), "USD") == "-1,500.50"
    assert money.format_grouped(Decimal("1234567"), "JPY") == "1,234,567"
    assert money.in_words(Decimal("999.99"), "USD") == "999.99 USD"


def test_quantities_read_by_people_group_thousands() -> None:
    assert money.format_quantity(120000) == "120,000"
    assert money.format_quantity(Decimal("2500")) == "2,500"
    assert money.format_quantity(999) == "999"
    assert money.format_quantity(None) == "—"


def test_a_sentence_of_working_groups_its_amounts_and_quantities_only() -> None:
    assert money.figures_grouped("120000 members, volume: 120000 x 0.019 = 2280.00.") == (
        "120,000 members, volume: 120,000 x 0.019 = 2,280.00."
    )
    assert money.figures_grouped("flat 2500.00 x 181/365 (prorated) = about 1239.726027") == (
        "flat 2,500.00 x 181/365 (prorated) = about 1,239.726027"
    )
    assert money.figures_grouped("-1500.00 and 999.99 and 1234567") == (
        "-1,500.00 and 999.99 and 1,234,567"
    )
    # Dates, references, versions, fractions and figures already grouped stay as they are.
    for kept in (
        "due 2027-02-14",
        "invoice INV-2027-000007",
        "rate card 2027.1",
        "x 1461/1826",
        "33,800.00",
        "line 3",
    ):
        assert money.figures_grouped(kept) == kept


@pytest.mark.parametrize(
    ("stored", "currency", "given_back"),
    [
        ("5000.0000", "USD", "5000.00"),
        ("1250.5000", "USD", "1250.50"),
        ("0.0000", "USD", "0.00"),
        ("80.1250", "USD", "80.125"),
        ("0.0001", "USD", "0.0001"),
        ("5000.0000", "JPY", "5000"),
        ("12.5000", "JPY", "12.5"),
    ],
)
def test_a_filed_amount_reads_with_the_currencys_minor_unit_digits_never_rounded(
    stored: str, currency: str, given_back: str
) -> None:
    assert money.filed_amount(Decimal(stored), currency) == given_back


@pytest.mark.parametrize(
    ("amount", "currency", "said"),
    [
        ("1234.5", "JPY", "JPY has no minor unit: give a whole number of JPY, such as 1234."),
        ("1234.567", "EUR", "EUR has 2 decimal places: give at most 2, such as 1234.56."),
        ("1234.0", "JPY", None),  # a whole number written with a zero after the point
        ("1234.50", "USD", None),
    ],
)
def test_an_amount_finer_than_its_currency_is_refused_saying_the_currencys_digits(
    amount: str, currency: str, said: str | None
) -> None:
    assert money.finer_than_currency(Decimal(amount), currency) == said


def test_a_revenue_is_refused_only_for_a_fraction_in_a_currency_without_a_minor_unit() -> None:
    # Round 14's "80.125" USD reads back as filed; round 61: no fraction of a yen.
    assert money.revenue_problem(Decimal("80.125"), "USD") is None
    assert money.revenue_problem(Decimal("1234.5"), "JPY") == (
        "JPY has no minor unit: give a whole number of JPY, such as 1234."
    )
    assert money.revenue_problem(Decimal("1234"), "JPY") is None
