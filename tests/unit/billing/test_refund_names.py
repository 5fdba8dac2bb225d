"""How a refund is named in its invoice's notes and in the audit log
(`billing.models.refund_name`, round 57: "card refund 5", "Card refund 3 of CN-..."),
as the pages name it: by method, amount, credit note and day, never by its row id."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from licensing.billing.models import refund_name

CREDIT = "CN-2027-000003"


def test_a_refund_sent_is_named_by_its_amount_credit_note_and_the_day_it_went() -> None:
    said = refund_name(
        "card",
        Decimal("60"),
        "USD",
        CREDIT,
        sent=date(2027, 3, 1),
        asked=date(2027, 2, 27),
    )
    assert said == "Card refund of 60.00 USD of CN-2027-000003, sent 2027-03-01"


def test_a_refund_not_sent_yet_says_when_it_was_asked_of_stripe_or_recorded() -> None:
    card = refund_name("card", Decimal("60"), "USD", CREDIT, sent=None, asked=date(2027, 2, 27))
    assert card == "Card refund of 60.00 USD of CN-2027-000003, asked of Stripe 2027-02-27"
    ach = refund_name(
        "ach",
        Decimal("1200.5"),
        "USD",
        CREDIT,
        in_sentence=True,
        sent=None,
        asked=date(2027, 2, 27),
    )
    assert ach == "ACH refund of 1,200.50 USD of CN-2027-000003, recorded 2027-02-27"


def test_in_a_sentence_a_method_is_lower_case_but_ach() -> None:
    wire = refund_name(
        "wire", Decimal("5"), "JPY", None, in_sentence=True, sent=date(2027, 3, 1), asked=None
    )
    assert wire == "wire refund of 5 JPY, sent 2027-03-01"
