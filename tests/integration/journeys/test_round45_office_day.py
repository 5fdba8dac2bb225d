"""Round 45: the office's day in proposed terms. The new-application form and the
estimator propose a term from the office's day, as renewals do (they took the UTC
date, a day ahead late in the office's evening); the card check's warning speaks of
the term the service would propose today; and the check counts the renewals of
agreements that ended before the card began, which a late renewal prices on it
(docs/journeys.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import card_effect, services
from licensing.audit.models import AuditEvent
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import (  # noqa: F401 - the fixture
    apply,
)
from tests.integration.pricing.conftest import (  # noqa: F401 - the fixture
    card_document,
    example_card,
)
from tests.support.factories import bearer
from tests.support.long_cards import OPEN, agreement_of_2027, card_2028
from tests.support.page_days import in_words
from tests.support.pages import term_shown, text_of
from tests.support.rate_card_checks import checked_page

# 21:30 at the office (US Central, standard time) on Tuesday 2027-03-09: already
# Wednesday 2027-03-10 in UTC.
EVENING = datetime(2027, 3, 10, 3, 30, tzinfo=UTC)
OFFICE_DAY = date(2027, 3, 9)


def test_the_instants_office_day_and_utc_day_differ() -> None:
    assert calendar.office_date(EVENING) == OFFICE_DAY
    assert EVENING.date() == date(2027, 3, 10)


def card_since_2020() -> dict[str, Any]:
    return card_document(version="2020.1", effective_from="2020-01-01", effective_to=OPEN)


def test_the_form_and_the_estimator_propose_a_term_from_the_offices_day(
    app: Flask, vendor: Any, signed_in: Any
) -> None:
    # Late in the office's evening both proposed 2027-03-10 to 2028-03-09: tomorrow.
    ratecards.import_card(card_since_2020(), published_by="tests")
    with time_machine.travel(EVENING, tick=False):
        client: FlaskClient = signed_in(app.test_client(), vendor)
        new = client.get("/portal/applications/new").get_data(as_text=True)
        estimate = app.test_client().get("/estimate").get_data(as_text=True)
        # An estimate carried into the form (no term in its query) proposes it too.
        carried = client.get(
            "/portal/applications/new?organization_type=commercial&uses-0-use=development"
        ).get_data(as_text=True)
    proposed = ("2027-03-09", "2028-03-08")
    assert (term_shown(new), term_shown(estimate), term_shown(carried)) == (proposed,) * 3


# 22:30 at the office (US Central, daylight time) on 2028-06-30: 2028-07-01 in UTC.
SUMMER_EVENING = datetime(2028, 7, 1, 3, 30, tzinfo=UTC)


def checked_renewal(client: FlaskClient, admin: Any, card: dict[str, Any], number: str) -> Any:
    answer = client.post("/api/v1/rate-cards/checks", json=card, headers=bearer(admin))
    assert answer.status_code == 200, answer.get_json()
    (record,) = [r for r in answer.get_json()["effect"]["records"] if r["reference"] == number]
    return record


@pytest.mark.parametrize(
    ("card", "then"),
    [
        # A renewal drawn on the office's 2028-06-30 runs 2028-06-30 to 2028-12-31:
        # 33,800.00 + 2,500.00 x 185/366 = 35,063.66 (from the UTC day, 184 days:
        # 35,056.83).
        (lambda: card_2028("2028-12-31", "2500.00"), "35063.66"),
        # Item 3: on a card that began after the agreement ended, 185 of its 306 days:
        # 33,800.00 + 2,500.00 x 185/306 = 35,311.44.
        (lambda: card_from_march_2028(), "35311.44"),
    ],
    ids=["card-from-its-end", "card-begun-after-its-end"],
)
def test_the_card_check_prices_a_late_renewal_from_the_offices_day(
    apply: Any,  # noqa: F811
    vendor: Any,
    admin: Any,
    client: FlaskClient,
    card: Any,
    then: str,
) -> None:
    agreement = agreement_of_2027(apply, vendor)
    with time_machine.travel(SUMMER_EVENING, tick=False):
        record = checked_renewal(client, admin, card(), agreement.number)
    assert (record["kind"], record["then"], record["now"]) == ("renewal", then, "36300.00")


def test_a_late_renewal_drawn_that_evening_starts_on_the_offices_day_as_the_check_said(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    agreement = agreement_of_2027(apply, vendor)
    ratecards.import_card(card_2028("2028-12-31", "2500.00"), published_by="tests")
    actor = Actor.of(accounts.principal_for(vendor))
    renewal = services.start_renewal(agreement.id, actor, now=SUMMER_EVENING)
    assert (renewal.term_start, renewal.term_end) == (date(2028, 6, 30), date(2028, 12, 31))


# --- item 2: the check's warning over the term the service would propose today ---------------

WARNED_TODAY = (
    "Prorated over its period to 9999-12-31, the development flat fee of 2500.00 USD would be "
    "0.31 USD for a one-year term from 2027-03-09."
)


def test_the_checks_warning_on_a_card_in_effect_speaks_of_a_year_from_the_offices_day(
    app: Flask, client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    # A card in effect since 2020 was warned of over 2020-01-01 to 2020-12-31, a year
    # nobody can be proposed any more; now over the term a form proposes that evening.
    with time_machine.travel(EVENING, tick=False):
        answer = client.post(
            "/api/v1/rate-cards/checks", json=card_since_2020(), headers=bearer(admin)
        )
        staff: FlaskClient = signed_in(app.test_client(), admin)
        page = checked_page(staff, card_since_2020())
        published = client.post("/api/v1/rate-cards", json=card_since_2020(), headers=bearer(admin))
        detail = text_of(staff.get("/console/rate-cards/2020.1"))
        estimate = app.test_client().get("/estimate").get_data(as_text=True)
    assert answer.status_code == 200, answer.get_json()
    (first, *_) = answer.get_json()["proration_warnings"]
    assert (first["term_start"], first["term_end"]) == ("2027-03-09", "2028-03-08")
    assert first["sentence"] == WARNED_TODAY
    # The term a vendor is proposed that evening, the same one.
    assert term_shown(estimate) == ("2027-03-09", "2028-03-08")
    assert (
        "a one-year term (March 9, 2027 to March 8, 2028, the term the service proposes today)"
    ) in page
    # Round 59: the page says the sentence's days in words.
    page_sentence = in_words(WARNED_TODAY.replace("2500.00", "2,500.00"))
    assert page_sentence in page
    # Published that evening, the API and the card's page say the same.
    assert published.get_json()["proration_warnings"][0]["sentence"] == WARNED_TODAY
    assert page_sentence in detail
    (event,) = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "rate_card.published")
    )
    assert event.after_data["proration_warnings"][0] == WARNED_TODAY


# --- item 3: the agreements that ended before the card began -----------------------------------


def card_from_march_2028() -> dict[str, Any]:
    """2028.3, 2028-03-01 to 2028-12-31 (306 days): it begins two months after the
    vendor's 2027 agreement ended."""
    return card_document(
        version="2028.3",
        title="2028 from March",
        effective_from="2028-03-01",
        effective_to="2028-12-31",
    )


def renewals_counted(card: Any, on: date) -> dict[str, Decimal | None]:
    effect = card_effect.effect(db.session(), card, today=on)
    return {r.reference: r.then for r in effect.records if r.kind == "renewal"}


def test_the_check_counts_an_agreement_that_ended_before_the_card_began_once_it_is_in_effect(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # The 2027 agreement ended 2027-12-31; renewed on 2028-07-01 it starts that day on
    # 2028.3, the card in effect, yet the check of 2028.3 did not count it (it ended
    # before the card began). 33,800.00 + 2,500.00 x 184/306 = 35,303.27.
    agreement = agreement_of_2027(apply, vendor)
    card = ratecards.validate(card_from_march_2028())
    assert renewals_counted(card, date(2028, 7, 1)) == {agreement.number: Decimal("35303.27")}
    # Drawn that day, the renewal is indeed priced on 2028.3 over that term.
    ratecards.import_card(card_from_march_2028(), published_by="tests")
    actor = Actor.of(accounts.principal_for(vendor))
    renewal = services.start_renewal(
        agreement.id, actor, now=datetime(2028, 7, 1, 15, 0, tzinfo=UTC)
    )
    assert (renewal.term_start, renewal.term_end) == (date(2028, 7, 1), date(2028, 12, 31))


def test_before_the_card_begins_a_late_renewal_is_priced_on_the_card_in_effect_not_counted(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    agreement = agreement_of_2027(apply, vendor)
    card = ratecards.validate(card_from_march_2028())
    # Before the agreement ends its renewal starts 2028-01-01; after it ended, on the
    # day it is drawn: before 2028-03-01 either way, so on another card.
    assert renewals_counted(card, date(2027, 12, 1)) == {}
    assert renewals_counted(card, date(2028, 2, 15)) == {}
    # After the card's last day a renewal drawn starts after it: nothing either.
    assert renewals_counted(card, date(2029, 1, 2)) == {}
    # An agreement ending inside the period is counted before the card begins, as before.
    inside = ratecards.validate(card_2028("2028-12-31", "2500.00"))
    assert set(renewals_counted(inside, date(2027, 12, 1))) == {agreement.number}
    # Checked after its last day it was counted, unpriced ("a term outside"): none now.
    assert renewals_counted(inside, date(2029, 1, 2)) == {}
