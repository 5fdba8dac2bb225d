"""Round 65 (currency65): "a card in another currency corrects no other" (round 61), said
everywhere. Publishing a card (the page's message, `licensing ratecards import`, the
API's `replaces` and its sentence) and its check (the page's days "taken", the API's
`takes_over`) name as replaced only the cards of its own currency; a card in another
currency for the same days is named "alongside", with what the contract's rule still
gives it (quotes naming no card). A renewal staff price by hand names the card in
effect in its currency, or says there is none; the resubmission's sentence says its
difference with its currency; and a licensee with agreements in several currencies is
told the card in effect in each."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.integration.journeys.conftest import (
    ASKED,
    JPY_2027,
    USD_2028,
    YEN_USE,
    in_two_currencies,
    pages_read_at,
)
from tests.integration.pricing.conftest import (
    corrected_example,
    flat_card,
)
from tests.support.agreements import make_active_agreement
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.settings import issuing

JPY_2028 = flat_card("2028.JPY", "JPY", "330000", year=2028)


def _actor(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def test_a_yen_card_published_after_a_usd_correction_replaces_nothing_and_is_named_alongside(
    client: FlaskClient, admin: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    # Before: "It replaces 2027.2 for every day of its period: quotes, estimates,
    # applications and renewals naming no card are priced on 2027.JPY from now on.",
    # and `replaces` listed 2027.2, though renewals and USD licensees stay on it.
    make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    ratecards.import_card(corrected_example(), published_by="tests")
    db.session().commit()
    told = len(db.session().scalars(select(OutboxMessage)).all())

    checked = client.post("/api/v1/rate-cards/checks", json=JPY_2027, headers=bearer(admin))
    assert checked.status_code == 200, checked.get_json()
    assert checked.get_json()["takes_over"] == []
    assert checked.get_json()["alongside"] == [
        {
            "version": "2027.2",
            "currency": "USD",
            "first": "2027-01-01",
            "last": "2027-12-31",
            "whole": True,
        }
    ]

    body = client.post("/api/v1/rate-cards", json=JPY_2027, headers=bearer(admin)).get_json()
    assert (body["replaces"], body["replaces_sentence"]) == ([], "")
    assert body["alongside"] == checked.get_json()["alongside"]
    assert body["alongside_sentence"] == (
        "It is published alongside 2027.2 (USD) for every day of its period, and corrects "
        "nothing of it: renewals and applications priced in USD stay on the USD cards, and the "
        "licensees of 2027.2 are not told. Quotes, estimates and applications naming no card "
        "whose currency is not known (a new licensee's) are priced on 2027.JPY from now on, the "
        "card in effect on the start date published last."
    )
    assert (body["agreements_told"], body["agreements_not_emailed"]) == ([], [])
    assert len(db.session().scalars(select(OutboxMessage)).all()) == told  # nobody emailed


def test_the_check_page_names_a_card_in_another_currency_alongside_not_as_days_taken(
    client: FlaskClient, signed_in: Any, admin: Any, example_card: str
) -> None:
    # Before: "..., priced on 2027.1 until now: 2027.1 would then price only quotes that
    # name it." of a yen card, which prices no USD renewal.
    signed_in(client, admin)
    page = client.post(
        "/console/rate-cards/",
        data={"card": (_file(JPY_2027), "card.json"), "action": "check"},
        content_type="multipart/form-data",
    )
    words = text_of(page)
    assert "would then price only quotes that name it" not in words
    assert (
        "Published alongside 2027.1 (USD), which it corrects in nothing: 2027.1 goes on pricing "
        "what names it and the renewals and applications priced in USD, and its licensees are "
        "not told. Quotes, estimates and applications naming no card whose currency is not "
        "known, for terms starting"
    ) in words
    assert "no published card prices them now" not in words


def test_a_usd_correction_published_after_the_yen_card_replaces_the_usd_card_it_corrects(
    app: Flask, example_card: str, tmp_path: Path
) -> None:
    # Before: "It replaces 2027.JPY for every day of its period ...", naming 2027.1,
    # the card it corrects, nowhere.
    ratecards.import_card(JPY_2027, published_by="tests")
    db.session().commit()
    path = tmp_path / "card.json"
    path.write_text(json.dumps(corrected_example()))

    imported = app.test_cli_runner().invoke(args=["ratecards", "import", str(path)])

    assert imported.exit_code == 0, imported.output
    lines = imported.output.splitlines()
    assert lines[1].startswith(
        "It replaces 2027.1 for every day of its period: quotes, estimates, applications and "
        "renewals naming no card are priced on 2027.2 from now on."
    )
    assert lines[2].startswith(
        "It is published alongside 2027.JPY (JPY) for every day of its period, and corrects "
        "nothing of it: renewals and applications priced in JPY stay on the JPY cards"
    )
    assert "It replaces 2027.JPY" not in imported.output


def _file(document: dict[str, Any]) -> io.BytesIO:
    return io.BytesIO(json.dumps(document).encode())


def test_a_renewal_priced_by_hand_names_the_card_in_its_currency_or_says_there_is_none(
    client: FlaskClient, vendor: Any, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # Before: "Rate card 2027.JPY (the card in effect on the start date)": the renewed
    # agreement's card, in effect on no day of the renewal's term, while 2028.1 (USD) is.
    _usd, jpy = in_two_currencies(vendor, licensing_staff)
    ratecards.import_card(USD_2028, published_by="tests")
    db.session().commit()
    renewal = agreements.start_renewal(jpy.id, _actor(vendor), now=ASKED)
    agreements.submit(renewal.id, _actor(vendor), policy=issuing(), attest=True, now=ASKED)
    db.session().commit()

    (page,) = pages_read_at(client, vendor, signed_in, ASKED, f"/portal/applications/{renewal.id}")
    assert (
        f"Rate card none in JPY, the currency of {jpy.number}, is in effect on the start date "
        f"yet: licensing staff price it by hand ({jpy.number} was priced on 2027.JPY)"
    ) in page
    assert "(the card in effect on the start date" not in page

    # A yen card published since is named: staff may still price it by hand.
    ratecards.import_card(JPY_2028, published_by="tests")
    db.session().commit()
    (page,) = pages_read_at(client, vendor, signed_in, ASKED, f"/portal/applications/{renewal.id}")
    assert (
        f"Rate card 2028.JPY (the card in effect on the start date in JPY, the currency of "
        f"{jpy.number}, published since this renewal was priced: licensing staff price it by "
        f"hand; {jpy.number} was priced on 2027.JPY)"
    ) in page


def test_the_resubmission_says_its_difference_with_its_currency_and_none_across_two(
    client: FlaskClient,
    apply: Any,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    example_card: str,
) -> None:
    # Before: "42,800.00 USD, 1,000.00 more than 41,800.00 USD." and, priced again in
    # yen on a card the vendor named, a difference worked out across the two currencies.
    application = apply(vendor, AUTO_USE, STAFF_USE)
    staff, applicant = _actor(licensing_staff), _actor(vendor)

    def resubmitted(card: str | None, revenue: str, day: int) -> str:
        asked, later = NOW + timedelta(days=day), NOW + timedelta(days=day + 1)
        agreements.return_for_information(application.id, "Revenue?", staff, now=asked)
        agreements.update_draft(
            application.id,
            applicant,
            agreements.ApplicationDraft.from_fields(
                {
                    "term_start": date(2027, 1, 1),
                    "term_end": date(2027, 12, 31),
                    "rate_card": card,
                    "uses": [AUTO_USE, {**STAFF_USE, "revenue": revenue}],
                }
            ),
            now=later,
        )
        agreements.submit(application.id, applicant, policy=issuing(), attest=True, now=later)
        db.session().commit()
        signed_in(client, licensing_staff)
        return text_of(client.get(f"/console/applications/{application.id}"))

    page = resubmitted(None, "90000.00", day=0)
    assert (
        "against version 1, the one the question was asked on: 42,800.00 USD, 1,000.00 USD "
        "more than 41,800.00 USD."
    ) in page

    # Yen for every use, reviewed by staff (so the resubmission waits for them).
    reviewed = flat_card("2027.JPY", "JPY", "300000")
    reviewed["rules"][0]["review"] = "staff"
    ratecards.import_card(reviewed, published_by="tests")
    db.session().commit()
    agreements.start_review(application.id, staff, now=NOW + timedelta(days=2))
    page = resubmitted("2027.JPY", "90000", day=2)
    assert (
        "against version 2, the one the question was asked on: 600,000 JPY, where version 2 "
        "was 42,800.00 USD: the currency changed, so no difference is worked out."
    ) in page
    assert "amounts in USD in version 2, JPY in version 3" in page


def test_a_licensee_in_two_currencies_is_told_the_card_in_effect_in_each(
    client: FlaskClient, vendor: Any, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # Before: "Rate card 2028.1 (the card in effect on the start date, submitted today)"
    # and nothing of the yen its other agreement is in, where no yen card is published.
    in_two_currencies(vendor, licensing_staff)
    ratecards.import_card(USD_2028, published_by="tests")
    db.session().commit()
    fields = {"term_start": "2028-01-01", "term_end": "2028-12-31", "uses": [YEN_USE]}
    with time_machine.travel(ASKED, tick=False):
        saved = client.post("/api/v1/applications", json=fields, headers=bearer(vendor))
    assert saved.status_code == 201, saved.get_json()
    url = f"/portal/applications/{saved.get_json()['id']}"

    (page,) = pages_read_at(client, vendor, signed_in, ASKED, url)
    assert (
        "Rate card 2028.1 (the card in effect on the start date, in USD, of the cards in effect "
        "the one published last, submitted today)"
    ) in page
    assert (
        "Your agreements are in JPY and USD. On the start date, in JPY, no rate card is in "
        "effect yet; in USD, rate card 2028.1 is in effect. Naming no card, this application "
        "is priced on the card in effect published last, whatever its currency"
    ) in page

    ratecards.import_card(JPY_2028, published_by="tests")
    db.session().commit()
    (page,) = pages_read_at(client, vendor, signed_in, ASKED, url)
    assert "in JPY, rate card 2028.JPY is in effect; in USD, rate card 2028.1 is in effect." in (
        page
    )
    assert "2028.JPY (the card in effect on the start date, in JPY, of the cards" in page
    assert "Rate card 2028.1 (USD) is in effect too" not in page  # said once, above


def test_a_renewal_naming_a_card_in_another_currency_works_out_no_difference_across_them(
    client: FlaskClient, vendor: Any, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # Before: "On rate card 2028.1 this renewal is 120,000.00 USD: 180,000.00 USD less than
    # CPT-... on rate card 2027.JPY (300,000.00 USD)": yen read as dollars.
    _usd, jpy = in_two_currencies(vendor, licensing_staff)
    ratecards.import_card(USD_2028, published_by="tests")
    db.session().commit()
    renewal = agreements.start_renewal(jpy.id, _actor(vendor), now=ASKED)
    agreements.update_draft(
        renewal.id,
        _actor(vendor),
        agreements.ApplicationDraft.from_fields(
            {
                "term_start": renewal.term_start,
                "term_end": renewal.term_end,
                "rate_card": "2028.1",
                "uses": [YEN_USE],
            }
        ),
        now=ASKED,
    )
    db.session().commit()

    (page,) = pages_read_at(client, vendor, signed_in, ASKED, f"/portal/applications/{renewal.id}")
    assert (
        "On rate card 2028.1 this renewal is 120,000.00 USD, where "
        f"{jpy.number} is 300,000 JPY on rate card 2027.JPY: the currency changed, so no "
        "difference is worked out."
    ) in page
    assert f"amounts in JPY for {jpy.number}, USD for this renewal" in page
    answered = client.get(f"/api/v1/applications/{renewal.id}", headers=bearer(vendor))
    change = answered.get_json()["renewal_change"]
    assert (change["currency"], change["currency_before"]) == ("USD", "JPY")
    assert (change["total_before"], change["total_after"], change["change"]) == (
        "300000",
        "120000.00",
        None,
    )
    assert [(use["before"], use["change"]) for use in change["uses"]] == [("300000", None)]
