"""Round 56: the one rule for a figure typed on a page (`money.ungrouped`): commas
are read only where they separate thousands, as pages write figures; anywhere else
they are left for the field's reader to refuse."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.money import MoneyError, format_grouped, parse_decimal, parse_quantity, ungrouped


@given(st.decimals(min_value=0, max_value=Decimal("99999999999999.99"), places=2))
def test_every_amount_a_page_writes_is_read_back_as_that_amount(amount: Decimal) -> None:
    assert parse_decimal(ungrouped(format_grouped(amount, "USD"))) == amount


@given(st.text(alphabet="0123456789,.-", max_size=14))
def test_a_figure_with_commas_is_read_only_when_they_separate_thousands(typed: str) -> None:
    read = ungrouped(typed)
    if "," in read:
        assert read == typed.strip()  # left for the field's reader to refuse
        return
    if "," in typed:
        whole = typed.strip().lstrip("-").split(".")[0]
        groups = whole.split(",")
        assert 1 <= len(groups[0]) <= 3
        assert not groups[0].startswith("0")
        assert all(len(group) == 3 for group in groups[1:])
        assert read == typed.strip().replace(",", "")


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1,000.00", "1000.00"),
        (" 12,345,678.9 ", "12345678.9"),
        ("-1,000", "-1000"),
        ("999", "999"),
        ("1000,00", "1000,00"),
        ("1,00.00", "1,00.00"),
        ("0,500", "0,500"),
        ("1,000.000,1", "1,000.000,1"),
    ],
)
def test_commas_are_taken_out_only_between_groups_of_three(typed: str, read: str) -> None:
    assert ungrouped(typed) == read


def test_a_figure_left_with_its_commas_is_refused_by_the_readers() -> None:
    with pytest.raises(MoneyError):
        parse_decimal(ungrouped("1000,00"))
    with pytest.raises(MoneyError):
        parse_quantity(ungrouped("25,00"))
    assert parse_quantity(ungrouped("2,500")) == 2500
