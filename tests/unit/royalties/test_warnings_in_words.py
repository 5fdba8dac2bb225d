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
        "Line 2: revenue 100.00 USD for the term, less than half the 1,000.00 USD estimated."
    )  # grouped since round 13


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
            "Line 2: revenue 100.00 USD for the term, less than half the 1,000.00 USD estimated.",
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


def test_a_warnings_figures_are_grouped_as_pages_write_them() -> None:
    # Until round 13: "Line 1: 1200 end users in all against 15000 end users ...".
    assert flags.quantity_drop(1, "end_users", 1200, 15000) == (
        "Line 1: 1,200 end users in all against 15,000 end users last period "
        "(a drop of more than 20%)."
    )
    assert flags.customer_drop(2, "members", 1200, 1600) == (
        "Line 2, members: 1,200 customers against 1,600 last period (a drop of more than 20%)."
    )
    fall = flags.customer_fall("10042", 1, 12000, 9000, "end_users")
    assert flags.falling_customers(1006, [fall], 1005) == (
        "1,006 customers report less than last period "
        "(10042 on line 1: 12,000 to 9,000 end users and 1,005 more)."
    )
    assert flags.below_estimate(1, "end_users", 2000, 12000) == (
        "Line 1: 2,000 end users for the term, less than half the 12,000 end users estimated "
        "in the application."
    )
    assert flags.revenue_below_estimate(3, Decimal("12900"), Decimal("80000"), "USD") == (
        "Line 3: revenue 12,900.00 USD for the term, less than half the 80,000.00 USD estimated."
    )


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (
            "Line 1: 1200 end users in all against 15000 end users last period "
            "(a drop of more than 20%).",
            "Line 1: 1,200 end users in all against 15,000 end users last period "
            "(a drop of more than 20%).",
        ),
        (
            "Line 2, members: 1200 customers against 1600 last period (a drop of more than 20%).",
            "Line 2, members: 1,200 customers against 1,600 last period (a drop of more than 20%).",
        ),
        (
            # A customer's id is the licensee's: kept as filed, whatever its digits.
            "1006 customers report less than last period "
            "(10042 on line 1: 12000 to 9000 end users; 20000 on line 2: 5 to 4 copies "
            "and 1004 more).",
            "1,006 customers report less than last period "
            "(10042 on line 1: 12,000 to 9,000 end users; 20000 on line 2: 5 to 4 copies "
            "and 1,004 more).",
        ),
        (
            "Line 1: 2000 end users for the term, less than half the 12000 end users estimated "
            "in the application.",
            "Line 1: 2,000 end users for the term, less than half the 12,000 end users estimated "
            "in the application.",
        ),
        (
            "Line 3: revenue 12900.00 USD for the term, less than half the 80000.00 USD estimated.",
            "Line 3: revenue 12,900.00 USD for the term, less than half the 80,000.00 USD "
            "estimated.",
        ),
    ],
)
def test_a_warning_stored_with_its_figures_ungrouped_is_shown_grouped(
    stored: str, shown: str
) -> None:
    # Stored between rounds 8 and 12 in today's words, the figures ungrouped.
    assert flags.in_words([stored], "USD") == [shown]
