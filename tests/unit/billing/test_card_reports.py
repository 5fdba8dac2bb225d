"""How Stripe's reports of a card are read: brand and last four from a charge,
and a decline always called a decline."""

from __future__ import annotations

from licensing.billing import payment_gateway
from licensing.billing.cards import CardUsed, card_label


def _intent(**changes: object) -> dict[str, object]:
    return {"id": "pi_1", "status": "succeeded", "amount": 100, "currency": "usd", **changes}


def test_an_expanded_charge_gives_the_cards_brand_and_last_four() -> None:
    charge = {"payment_method_details": {"card": {"brand": "mastercard", "last4": "4444"}}}
    status = payment_gateway.intent_status_from_event(_intent(latest_charge=charge))
    assert status.card == CardUsed("mastercard", "4444")
    assert status.card.label == "Mastercard ending 4444"


def test_a_charge_given_as_an_id_or_without_card_details_gives_no_card() -> None:
    assert payment_gateway.intent_status_from_event(_intent(latest_charge="ch_1")).card is None
    no_details = {"id": "ch_1", "payment_method": "card_1"}
    assert payment_gateway.intent_status_from_event(_intent(latest_charge=no_details)).card is None


def test_last_four_that_are_not_four_digits_are_not_kept() -> None:
    charge = {"payment_method_details": {"card": {"brand": "visa", "last4": "42a2"}}}
    assert payment_gateway.intent_status_from_event(_intent(latest_charge=charge)).card is None


def test_brands_read_as_people_name_them_whatever_stripes_spelling() -> None:
    assert card_label("visa", "4242") == "Visa ending 4242"
    assert card_label("american express", "0005") == "American Express ending 0005"
    assert card_label("amex", "0005") == "American Express ending 0005"
    assert card_label("unknown", "1234") == "Card ending 1234"


def test_a_decline_whose_message_gives_only_the_reason_says_declined() -> None:
    error = {"code": "card_declined", "message": "Your card has insufficient funds."}
    status = payment_gateway.intent_status_from_event(
        _intent(status="requires_payment_method", last_payment_error=error)
    )
    assert status.failure_message == "The card was declined: Your card has insufficient funds."
    same = {"code": "card_declined", "message": "Your card was declined."}
    status = payment_gateway.intent_status_from_event(
        _intent(status="requires_payment_method", last_payment_error=same)
    )
    assert status.failure_message == "Your card was declined."
