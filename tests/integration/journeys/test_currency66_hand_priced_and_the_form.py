"""Round 66 (currency66): the last records and sentences that missed a currency.

An agreement issued from a renewal licensing staff priced by hand (no card in its
currency in effect on its first day) kept the renewed agreement's card as its rate card
on its pages, PDF, API and export, though that card is in effect on no day of its term:
it now says no card priced it and which card was in effect in its currency on its first
day when it was issued (stored at issue; worked out from the cards published by then for
one issued before). The application form's option "The card in effect on the start
date" names its currency and card where cards in several are published, and publishing
a card not yet in effect names the card still pricing a term starting today in each."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import delete

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, HandPricedAgreement
from licensing.ratecards import services as ratecards
from tests.integration.journeys.conftest import (
    ASKED,
    ISSUED,
    JPY_2027,
    USD_2028,
    YEN_USE,
    agreement_on_card,
    in_two_currencies,
    pages_read_at,
)
from tests.integration.pricing.conftest import flat_card
from tests.support.agreements import agreement_of
from tests.support.documents import pdf_text, stored_pdf
from tests.support.factories import bearer, make_vendor
from tests.support.pages import text_of
from tests.support.settings import issuing

JPY_2028 = flat_card("2028.JPY", "JPY", "330000", year=2028)


def _actor(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _priced_by_hand(vendor: Any, staff: Any, *, yen_card_first: bool = False) -> Agreement:
    """The vendor's JPY agreement renewed for 2028 where only 2028.1 (USD) is in effect,
    submitted (so priced by hand) and approved by staff at 330,000 JPY; with
    `yen_card_first`, 2028.JPY is published between the submission and the approval."""
    _usd, jpy = in_two_currencies(vendor, staff)
    ratecards.import_card(USD_2028, published_by="tests")
    renewal = agreements.start_renewal(jpy.id, _actor(vendor), now=ASKED)
    agreements.submit(renewal.id, _actor(vendor), policy=issuing(), attest=True, now=ASKED)
    db.session().commit()
    if yen_card_first:
        with time_machine.travel(ASKED + timedelta(hours=1), tick=False):
            ratecards.import_card(JPY_2028, published_by="tests")
    reviewer = _actor(staff)
    agreements.start_review(renewal.id, reviewer, now=ISSUED)
    agreements.approve(
        renewal.id,
        reviewer,
        policy=issuing(),
        modifications=agreements.Modifications(
            lines=[agreements.LineChange(0, Decimal("330000"), "Priced by hand for 2028.")]
        ),
        now=ISSUED,
    )
    db.session().commit()
    return agreement_of(renewal)


def _api(client: FlaskClient, agreement: Agreement, vendor: Any) -> tuple[Any, Any, Any]:
    body = client.get(f"/api/v1/agreements/{agreement.id}", headers=bearer(vendor)).get_json()
    return body["rate_card"], body["priced_by_hand"], body["rate_card_in_effect"]


def _exported(client: FlaskClient, staff: Any, number: str) -> dict[str, str]:
    response = client.get(
        "/api/v1/exports/agreements", query_string={"format": "csv"}, headers=bearer(staff)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    return next(row for row in rows if row["agreement_number"] == number)


def _forget_the_stored_card(agreement: Agreement) -> None:
    """As an agreement issued before agreements_0014 is: no row of its own."""
    table = HandPricedAgreement.__table__
    db.session().execute(delete(table).where(table.c.agreement_id == agreement.id))
    db.session().commit()


def test_an_agreement_priced_by_hand_says_no_card_priced_it_and_none_in_its_currency_was_in_effect(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    signed_in: Any,
    example_card: str,
) -> None:
    # Before: "Rate card 2027.JPY" on its pages, "Royalties are computed with rate card
    # 2027.JPY." in its PDF, and `rate_card` "2027.JPY" in the API and the export: the
    # renewed agreement's card, in effect on no day of the term from January 1, 2028.
    agreement = _priced_by_hand(vendor, licensing_staff)
    renewed = agreement.renewal_of
    assert renewed is not None
    assert agreement.rate_card == "2027.JPY"  # the row as issued: its quote's card

    vendor_page, console_page, review_page = pages_read_at(
        client,
        vendor,
        signed_in,
        ISSUED,
        f"/portal/agreements/{agreement.id}",
    ) + pages_read_at(
        client,
        licensing_staff,
        signed_in,
        ISSUED,
        f"/console/agreements/{agreement.id}",
        f"/console/applications/{agreement.application_id}",
    )
    # Staff's page of the renewal: each quote version, captioned as Schedule A is.
    assert "· priced by hand by licensing staff, on no rate card ·" in review_page
    assert "· rate card 2027.JPY ·" not in review_page
    said = (
        "Rate card none: licensing staff priced it by hand, no rate card in JPY being in "
        f"effect on its start date when it was issued ({renewed.number}, which it renews, "
        "was priced on 2027.JPY)"
    )
    for page in (vendor_page, console_page):
        assert said in page
        assert "Schedule A · priced by hand by licensing staff, on no rate card" in page
        assert "Rate card 2027.JPY" not in page

    document = pdf_text(stored_pdf(agreement))
    flat = " ".join(document.split())
    assert (
        "No rate card priced this agreement: the Licensor set its fees by hand, no rate card in "
        "JPY being in effect on January 1, 2028 when it was issued."
    ) in flat
    assert "computed with rate card" not in flat

    assert _api(client, agreement, vendor) == (None, True, None)
    row = _exported(client, billing_staff, agreement.number)
    assert (row["rate_card"], row["priced"], row["rate_card_in_effect"]) == ("", "by_hand", "")
    usd = _exported(client, billing_staff, renewed.number)
    assert (usd["rate_card"], usd["priced"]) == ("2027.JPY", "rate_card")

    # Issued before agreements_0014 stored it: worked out from the cards published by
    # its issue, so a yen card published since is not the one "in effect when issued".
    _forget_the_stored_card(agreement)
    with time_machine.travel(ISSUED + timedelta(days=1), tick=False):
        ratecards.import_card(JPY_2028, published_by="tests")
    db.session().commit()
    assert _api(client, agreement, vendor) == (None, True, None)
    assert _exported(client, billing_staff, agreement.number)["rate_card_in_effect"] == ""


def test_an_agreement_priced_by_hand_names_the_yen_card_in_effect_when_it_was_issued(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    signed_in: Any,
    example_card: str,
) -> None:
    # 2028.JPY published after the renewal was priced by hand, before its approval.
    agreement = _priced_by_hand(vendor, licensing_staff, yen_card_first=True)
    stored = db.session().get(HandPricedAgreement, agreement.id)
    assert stored is not None
    assert stored.in_effect == "2028.JPY"

    (page,) = pages_read_at(client, vendor, signed_in, ISSUED, f"/portal/agreements/{agreement.id}")
    assert (
        "Rate card none: licensing staff priced it by hand; rate card 2028.JPY, in effect on "
        "its start date in JPY when it was issued, was published after it was priced"
    ) in page
    document = pdf_text(stored_pdf(agreement))
    assert (
        "no rate card in JPY being in effect on January 1, 2028 when they were set; rate card "
        "2028.JPY, in effect on that day when this agreement was issued, was published since."
    ) in " ".join(document.split())
    assert _api(client, agreement, vendor) == (None, True, "2028.JPY")
    row = _exported(client, billing_staff, agreement.number)
    assert (row["priced"], row["rate_card_in_effect"]) == ("by_hand", "2028.JPY")

    _forget_the_stored_card(agreement)  # as one issued before agreements_0014
    assert _api(client, agreement, vendor) == (None, True, "2028.JPY")


def test_the_forms_card_in_effect_option_names_its_currency_and_card(
    client: FlaskClient, vendor: Any, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # Before: "The card in effect on the start date" whatever the currency the vendor is
    # priced in, cards in USD and JPY published.
    ratecards.import_card(JPY_2027, published_by="tests")
    agreement_on_card(vendor, licensing_staff, "2027.JPY", YEN_USE)
    newcomer = make_vendor(db.session())
    db.session().commit()

    (page,) = pages_read_at(client, vendor, signed_in, ASKED, "/portal/applications/new")
    assert "The card in effect on the start date, in JPY (2027.JPY for November 2, 2027)" in page
    assert (
        "Naming no card, this application is priced in JPY, the currency of your agreements: on "
        "November 2, 2027, rate card 2027.JPY is in effect in JPY."
    ) in page
    (page,) = pages_read_at(client, newcomer, signed_in, ASKED, "/portal/applications/new")
    assert (
        "The card in effect on the start date, in any currency the one published last "
        "(2027.JPY, in JPY, for November 2, 2027)"
    ) in page
    assert (
        "on November 2, 2027, rate card 2027.JPY, in JPY. 2027.1 (USD) is in effect too: choose "
        "it to be priced in its currency."
    ) in page

    ratecards.import_card(USD_2028, published_by="tests")  # next year's, in USD alone
    db.session().commit()
    (page,) = pages_read_at(client, vendor, signed_in, ASKED, "/portal/applications/new")
    assert "The card in effect on the start date, in JPY (none yet for January 1, 2028)" in page
    assert "no rate card in JPY is in effect on January 1, 2028 yet." in page


def test_publishing_a_card_names_the_card_still_pricing_today_in_each_currency(
    client: FlaskClient, signed_in: Any, admin: Any, example_card: str
) -> None:
    # Before: "a term starting today (November 2, 2027) is still priced on 2027.JPY", of a
    # USD card, where 2027.1 (USD) is in effect too.
    ratecards.import_card(JPY_2027, published_by="tests")
    db.session().commit()
    with time_machine.travel(ASKED, tick=False):
        signed_in(client, admin)
        page = client.post(
            "/console/rate-cards/",
            data={
                "card": (io.BytesIO(json.dumps(USD_2028).encode()), "card.json"),
                "action": "publish",
            },
            content_type="multipart/form-data",
            follow_redirects=True,
        )
    assert (
        "Rate card 2028.1 published, in effect from January 1, 2028: a term starting today "
        "(November 2, 2027) is still priced in USD, on 2027.1; in JPY, on 2027.JPY."
    ) in text_of(page)
