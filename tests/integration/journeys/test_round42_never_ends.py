"""Round 42: a rate card that never ends (9999-12-31). The terms the service proposes
run a year at most, and never past the card's last day; the check and the pages
warn of what the contract's proration makes of its prorated amounts
(docs/journeys.md)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

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
from tests.support.agreements import accept, agreement_of

OPEN = "9999-12-31"


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
    renewal = services.start_renewal(agreement.id, actor, now=NOW)
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


def term_shown(page: str) -> tuple[str, str]:
    start = re.search(r'name="term_start"[^>]*value="([^"]*)"', page)
    end = re.search(r'name="term_end"[^>]*value="([^"]*)"', page)
    assert start, page
    assert end, page
    return start.group(1), end.group(1)


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
