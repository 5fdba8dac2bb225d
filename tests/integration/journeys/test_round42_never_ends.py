"""Round 42: a rate card that never ends (9999-12-31). The terms the service proposes
run a year at most, and never past the card's last day; the check and the pages
warn of what the contract's proration makes of its prorated amounts
(docs/journeys.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import card_effect, services
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import (  # noqa: F401 - the fixtures
    AUTO_USE,
    DEVELOPMENT_USE,
    NOW,
    apply,
)
from tests.integration.pricing.conftest import card_document, example_card  # noqa: F401
from tests.support.agreements import accept, agreement_of, renewal_window
from tests.support.factories import bearer
from tests.support.page_days import in_words
from tests.support.pages import term_shown, text_of
from tests.support.rate_card_checks import checked_page as checked

OPEN = "9999-12-31"


# Their cards start on 1 January 2028: from 2 January 2028 the term the service
# proposes began on the office's today (round 47).
pytestmark = pytest.mark.usefixtures("in_december_2026")


def card_2028(effective_to: str) -> dict[str, Any]:
    return card_document(
        version="2028.1", title="2028", effective_from="2028-01-01", effective_to=effective_to
    )


def agreement_2027(apply: Any, vendor: Any) -> Any:  # noqa: F811
    """The vendor's 2027 agreement: Scrubber Pro (33,800.00) and its SDK's
    development fee (2,500.00 a year, prorated)."""
    return accept(
        agreement_of(apply(vendor, AUTO_USE, DEVELOPMENT_USE)), vendor, signer_name="Samira"
    )


def renewal_term(apply: Any, vendor: Any, effective_to: str) -> tuple[date, date]:  # noqa: F811
    agreement = agreement_2027(apply, vendor)
    ratecards.import_card(card_2028(effective_to), published_by="tests")
    actor = Actor.of(accounts.principal_for(vendor))
    renewal = services.start_renewal(agreement.id, actor, now=renewal_window(agreement))
    return renewal.term_start, renewal.term_end


def test_a_renewal_on_an_open_ended_card_is_drawn_for_a_year(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # It was drawn to 9999-12-31: a term of 2,911,713 days.
    assert renewal_term(apply, vendor, OPEN) == (date(2028, 1, 1), date(2028, 12, 31))


def test_a_renewal_is_drawn_for_a_year_at_most_and_never_past_the_cards_last_day(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # A two-year card: the renewal was drawn for both years.
    assert renewal_term(apply, vendor, "2029-12-31") == (date(2028, 1, 1), date(2028, 12, 31))


def test_a_renewal_on_a_card_shorter_than_a_year_ends_with_the_card(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    assert renewal_term(apply, vendor, "2028-06-30") == (date(2028, 1, 1), date(2028, 6, 30))


def renewal_priced_by_the_check(apply: Any, vendor: Any, effective_to: str) -> Decimal | None:  # noqa: F811
    agreement = agreement_2027(apply, vendor)
    effect = card_effect.effect(db.session(), ratecards.validate(card_2028(effective_to)))
    (record,) = [r for r in effect.records if r.reference == agreement.number]
    return record.then


def test_the_cards_check_prices_a_renewal_over_the_term_it_would_be_drawn_for(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # Over the whole open-ended period the proration was 1: the check said the
    # renewal stays 36,300.00 while the renewal drawn on it would be priced over a
    # year, its development fee 2,500.00 x 366/2911713 = 0.31.
    assert renewal_priced_by_the_check(apply, vendor, OPEN) == Decimal("33800.31")


def test_the_cards_check_prices_a_renewal_on_a_two_year_card_for_a_year(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # 2,500.00 x 366/731 = 1,251.71: a year of the two.
    assert renewal_priced_by_the_check(apply, vendor, "2029-12-31") == Decimal("35051.71")


def test_a_new_application_and_the_estimator_propose_a_year_of_an_open_ended_card(
    app: Flask,
    vendor: Any,
    signed_in: Any,
) -> None:
    # Both proposed 2028-01-01 to 9999-12-31.
    ratecards.import_card(card_2028(OPEN), published_by="tests")
    client: FlaskClient = signed_in(app.test_client(), vendor)
    new = client.get("/portal/applications/new")
    assert new.status_code == 200
    assert term_shown(new.get_data(as_text=True)) == ("2028-01-01", "2028-12-31")
    estimate = app.test_client().get("/estimate")
    assert estimate.status_code == 200
    assert term_shown(estimate.get_data(as_text=True)) == ("2028-01-01", "2028-12-31")


def test_a_new_application_proposes_a_normal_cards_period(
    app: Flask,
    vendor: Any,
    signed_in: Any,
) -> None:
    ratecards.import_card(card_2028("2028-12-31"), published_by="tests")
    client: FlaskClient = signed_in(app.test_client(), vendor)
    page = client.get("/portal/applications/new").get_data(as_text=True)
    assert term_shown(page) == ("2028-01-01", "2028-12-31")


def open_ended_with_a_5000_fee() -> dict[str, Any]:
    card = card_2028(OPEN)
    for rule in card["rules"]:
        if rule["id"] == "development":
            rule["model"] = {**rule["model"], "amount": "5000.00"}
    return card


WARNED = (
    "Prorated over its period to 9999-12-31, the development flat fee of 5,000.00 USD would "
    "be 0.63 USD for a one-year term from 2028-01-01."
)


def test_the_check_and_the_cards_page_warn_of_an_open_ended_cards_prorated_amounts(
    app: Flask,
    admin: Any,
    signed_in: Any,
) -> None:
    # Nothing said that a 5,000.00 fee over a year on this card comes to 0.63.
    staff: FlaskClient = signed_in(app.test_client(), admin)
    page = checked(staff, open_ended_with_a_5000_fee())
    assert "This card runs open-ended: its prorated amounts are spread over all of it" in page
    # Round 59: the warning's days in words, as its flashed twin says them.
    assert "(2,911,713 days, to December 31, 9999)" in page
    assert (
        "a one-year term (January 1, 2028 to December 31, 2028, the term the service "
        "proposes today)"
    ) in page
    assert in_words(WARNED) in page
    assert "9999-12-31" not in page
    assert (
        in_words(
            "Prorated over its period to 9999-12-31, the distribution-software minimum of "
            "1,000.00 USD would be 0.13 USD for a one-year term from 2028-01-01."
        )
        in page
    )
    assert "The card is valid and can be published as it is." in page
    assert "Publish" in page  # a warning, not a refusal

    # Published, the card's own page keeps saying it.
    ratecards.import_card(open_ended_with_a_5000_fee(), published_by="tests")
    detail = text_of(staff.get("/console/rate-cards/2028.1"))
    assert in_words(WARNED) in detail


def test_a_card_with_a_last_day_within_ten_years_is_not_warned_of(
    app: Flask,
    admin: Any,
    signed_in: Any,
) -> None:
    staff: FlaskClient = signed_in(app.test_client(), admin)
    page = checked(staff, card_2028("2029-12-31"))
    assert "Prorated over its period" not in page
    assert "runs open-ended" not in page
    longer = checked(staff, card_2028("2040-12-31"))
    assert "This card runs longer than ten years" in longer
    assert (
        in_words(
            "Prorated over its period to 2040-12-31, the development flat fee of 2,500.00 USD "
            "would be 192.67 USD for a one-year term from 2028-01-01."
        )
        in longer
    )


def test_the_check_api_warns_of_an_open_ended_cards_prorated_amounts(
    client: FlaskClient,
    admin: Any,
) -> None:
    answer = client.post(
        "/api/v1/rate-cards/checks", json=open_ended_with_a_5000_fee(), headers=bearer(admin)
    )
    assert answer.status_code == 200, answer.get_json()
    warnings = answer.get_json()["proration_warnings"]
    assert warnings[0] == {
        "rule": "development",
        "amount_kind": "flat fee",
        "amount": "5000.00",
        "prorated": "0.63",
        "term_start": "2028-01-01",
        "term_end": "2028-12-31",
        "sentence": "Prorated over its period to 9999-12-31, the development flat fee of "
        "5000.00 USD would be 0.63 USD for a one-year term from 2028-01-01.",
    }
    assert [(w["rule"], w["amount_kind"], w["prorated"]) for w in warnings[1:]] == [
        ("internal-use", "flat fee", "0.01"),
        ("distribution-payer", "minimum", "0.63"),
        ("distribution-software", "minimum", "0.13"),
        ("distribution-data", "minimum", "0.63"),
        ("derivative-work", "minimum", "0.31"),
    ]
    # A card within ten years: none.
    normal = client.post(
        "/api/v1/rate-cards/checks", json=card_2028("2028-12-31"), headers=bearer(admin)
    )
    assert normal.get_json()["proration_warnings"] == []
