"""A report's warnings give every figure with its unit in words, and warnings stored
in earlier wordings (`end_users`, figures without a unit) read the same way when
shown, without rewriting the stored record (`royalties.flags`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from licensing.royalties import flags


def test_a_quantity_drop_gives_both_figures_with_the_unit_in_words() -> None:
    # It read "Line 1, end users: 40 in all against 100 last period": numbers bare.
    assert flags.quantity_drop(1, "end_users", 40, 100) == (
        "Line 1: 40 end users in all against 100 end users last period (a drop of more than 20%)."
    )


def test_a_usage_below_the_estimate_gives_both_figures_with_the_unit_in_words() -> None:
    # It read "... less than half the 10 estimated in the application."
    assert flags.below_estimate(1, "end_users", 2, 10) == (
        "Line 1: 2 end users for the term, less than half the 10 end users estimated "
        "in the application."
    )


def test_a_revenue_below_the_estimate_gives_both_amounts_with_the_currency() -> None:
    assert flags.revenue_below_estimate(2, Decimal("100"), Decimal("1000"), "USD") == (
        "Line 2: revenue 100.00 USD for the term, less than half the 1000.00 USD estimated."
    )


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        # Stored before round 7's fix: the unit's key.
        (
            "Line 1, end_users: 1 customer against 2 last period (a drop of more than 20%).",
            "Line 1, end users: 1 customer against 2 last period (a drop of more than 20%).",
        ),
        (
            "Line 1, end_users: 40 in all against 150 last period (a drop of more than 20%).",
            "Line 1: 40 end users in all against 150 end users last period "
            "(a drop of more than 20%).",
        ),
        # Stored by round 7: the unit in words, the figures bare.
        (
            "Line 3, end users: 40 in all against 150 last period (a drop of more than 20%).",
            "Line 3: 40 end users in all against 150 end users last period "
            "(a drop of more than 20%).",
        ),
        (
            "1 customer reports less than last period (A on line 1: 100 to 40 end_users).",
            "1 customer reports less than last period (A on line 1: 100 to 40 end users).",
        ),
        (
            "7 customers report less than last period (cust_a on line 1: 9 to 4 end_users; "
            "B on line 2: 5 to 1 saas_seats; C on line 1: 3 to 2 end_users; D on line 1: "
            "3 to 2 end_users; E on line 1: 3 to 2 end_users and 2 more).",
            # The customer's own id (cust_a) is kept as filed.
            "7 customers report less than last period (cust_a on line 1: 9 to 4 end users; "
            "B on line 2: 5 to 1 SaaS seats; C on line 1: 3 to 2 end users; D on line 1: "
            "3 to 2 end users; E on line 1: 3 to 2 end users and 2 more).",
        ),
        (
            "Line 1: 2 end_users for the term, less than half the 10 estimated in the application.",
            "Line 1: 2 end users for the term, less than half the 10 end users estimated in "
            "the application.",
        ),
        (
            "Line 2: revenue 100.00 for the term, less than half the 1000.00 estimated.",
            "Line 2: revenue 100.00 USD for the term, less than half the 1000.00 USD estimated.",
        ),
    ],
)
def test_a_warning_stored_in_an_earlier_wording_is_shown_as_today_words_it(
    stored: str, shown: str
) -> None:
    assert flags.in_words([stored], "USD") == [shown]


def test_todays_warnings_and_unknown_sentences_are_shown_as_stored() -> None:
    today = [
        flags.customer_drop(1, "end_users", 1, 2),
        flags.quantity_drop(1, "end_users", 40, 100),
        flags.falling_customers(1, [flags.customer_fall("A", 1, 100, 40, "end_users")], 0),
        flags.below_estimate(1, "end_users", 2, 10),
        flags.revenue_below_estimate(1, Decimal("1"), Decimal("10"), "USD"),
        "A sentence of no known wording, end_users and all.",
    ]
    assert flags.in_words(today, "USD") == today
