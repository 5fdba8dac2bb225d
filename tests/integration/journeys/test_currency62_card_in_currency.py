"""Round 62 (currency62): a caller that knows the currency it prices in asks for the
card in effect in that currency. A USD licensee's renewal, its next application, an
application returned and resubmitted, staff re-pricing a changed term and a reissue on
a correction are priced on the USD card, never on a JPY or EUR card published later
for the same days; where nothing names a currency (the estimator, the quote API
without `rate_card`, a new vendor's application) the contract's rule stands (the card
published last, whatever its currency) and the page or answer says which currency was
used and which other cards are in effect."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import card_effect
from licensing.agreements import services as agreements
from licensing.agreements.commands import Modifications
from licensing.agreements.models import Agreement, Application
from licensing.pricing import Quote, parse_rate_card
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, NOW, STAFF_USE
from tests.integration.journeys.conftest import USD_2028
from tests.integration.pricing.conftest import (
    example_document,
    flat_card,
    quote_body,
)
from tests.support.agreements import (
    agreement_of,
    issued_agreement,
    make_active_agreement,
    renewal_window,
)
from tests.support.factories import bearer
from tests.support.settings import issuing

Apply = Callable[..., Application]


JPY_2027 = flat_card("2027.JPY", "JPY", "300000")
EUR_2027 = flat_card("2027.EUR", "EUR", "2300.00")
JPY_2028 = flat_card("2028.JPY", "JPY", "300000", year=2028)


def _publish(*documents: dict[str, Any]) -> None:
    for document in documents:
        ratecards.import_card(document, published_by="tests")
    db.session().commit()


def _actor(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _latest_quote(application_id: int) -> Quote:
    application = db.session().get(Application, application_id)
    assert application is not None
    db.session().refresh(application)
    return Quote.from_snapshot(application.quotes[-1].snapshot)


def _renew(client: FlaskClient, vendor: Any, agreement: Agreement) -> int:
    with time_machine.travel(renewal_window(agreement), tick=False):
        drawn = client.post(f"/api/v1/agreements/{agreement.id}/renewal", headers=bearer(vendor))
    assert drawn.status_code == 201, drawn.get_json()
    return int(drawn.get_json()["id"])


def _submit(client: FlaskClient, vendor: Any, application_id: int) -> Any:
    submitted = client.post(
        f"/api/v1/applications/{application_id}/submit",
        json={"attest": True},
        headers=bearer(vendor),
    )
    assert submitted.status_code == 200, submitted.get_json()
    return submitted.get_json()


def test_a_usd_renewal_is_priced_on_the_usd_card_though_a_jpy_card_was_published_after_it(
    client: FlaskClient, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    assert agreement.currency == "USD"
    _publish(USD_2028, JPY_2028)  # the yen card published last, for the same days

    renewal = _renew(client, vendor, agreement)
    body = _submit(client, vendor, renewal)

    quote = _latest_quote(renewal)
    assert (quote.rate_card, quote.currency, quote.total) == ("2028.1", "USD", Decimal("33800.00"))
    assert body["total"] == "33800.00"


def test_a_usd_renewal_with_only_a_jpy_card_for_its_year_goes_to_staff_to_price(
    client: FlaskClient, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    _publish(JPY_2028)

    renewal = _renew(client, vendor, agreement)
    body = _submit(client, vendor, renewal)

    quote = _latest_quote(renewal)
    assert body["total"] is None  # to be priced by hand, in USD
    assert (quote.rate_card, quote.currency) == ("2027.1", "USD")
    assert (
        "no rate card in USD is published yet for a term starting 2028-01-01"
        in (quote.lines[0].explanation[0])
    )


def test_a_usd_licensees_next_application_stays_in_usd_when_an_eur_card_is_published_beside(
    client: FlaskClient, vendor: Any, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    _publish(EUR_2027)
    fields = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "uses": [{**DEVELOPMENT_USE, "product_name": "Scrubber Pro SDK 2"}],
    }
    saved = client.post("/api/v1/applications", json=fields, headers=bearer(vendor))
    assert saved.status_code == 201, saved.get_json()
    application_id = saved.get_json()["id"]

    # Its page says the currency and why, before it is submitted.
    signed_in(client, vendor)
    page = html.unescape(client.get(f"/portal/applications/{application_id}").get_data(True))
    assert (
        "2027.1 (the card in effect on the start date, in USD, the currency of your agreements"
        in (page)
    )
    assert 'id="other-currencies"' not in page

    body = _submit(client, vendor, application_id)
    quote = _latest_quote(application_id)
    assert (quote.rate_card, quote.currency, body["total"]) == ("2027.1", "USD", "2500.00")


def test_a_returned_application_is_priced_again_in_the_currency_it_was_priced_in(
    client: FlaskClient, apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    assert _latest_quote(application.id).currency == "USD"
    staff = _actor(licensing_staff)
    agreements.start_review(application.id, staff)
    agreements.return_for_information(application.id, "Which territories?", staff)
    db.session().commit()
    _publish(JPY_2027)

    _submit(client, vendor, application.id)

    quote = _latest_quote(application.id)
    assert (quote.rate_card, quote.currency) == ("2027.1", "USD")


def test_staff_changing_the_term_reprice_it_in_its_currency_not_on_a_later_jpy_card(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = _actor(licensing_staff)
    agreements.start_review(application.id, staff, now=NOW)
    db.session().commit()
    _publish(JPY_2027)

    agreements.approve(
        application.id,
        staff,
        policy=issuing(),
        modifications=Modifications(
            term_start=date(2027, 1, 1), term_end=date(2027, 6, 30), term_reason="A half-year pilot"
        ),
        now=NOW,
    )

    quote = _latest_quote(application.id)
    assert (quote.rate_card, quote.currency) == ("2027.1", "USD")
    assert agreement_of(application).currency == "USD"


def test_an_unaccepted_usd_agreement_is_reissued_on_the_usd_correction_not_a_later_jpy_card(
    vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    old = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    correction = example_document()
    correction["version"] = "2027.2"
    correction["rules"][2]["model"]["amount"] = "2750.00"
    _publish(correction, JPY_2027)

    new = agreements.reissue(
        old.id, "2027.2 corrects the development fee.", _actor(licensing_staff), policy=issuing()
    )

    assert (new.rate_card, new.currency, new.total) == ("2027.2", "USD", Decimal("2750.00"))


def test_a_jpy_cards_check_counts_no_usd_renewal_it_would_not_price(
    vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    session = db.session()

    yen = card_effect.effect(session, parse_rate_card(JPY_2028), today=date(2027, 11, 1))
    dollars = card_effect.effect(session, parse_rate_card(USD_2028), today=date(2027, 11, 1))

    assert [record.reference for record in yen.records] == []
    assert [record.reference for record in dollars.records] == [agreement.number]


def test_naming_no_card_a_quote_is_priced_on_the_card_published_last_and_says_the_others(
    client: FlaskClient, example_card: str
) -> None:
    _publish(EUR_2027, JPY_2027)  # the yen card published last
    body = quote_body()
    body.pop("rate_card", None)

    answered = client.post("/api/v1/quotes", json=body)

    assert answered.status_code == 200
    assert (answered.get_json()["rate_card"], answered.get_json()["currency"]) == (
        "2027.JPY",
        "JPY",
    )
    assert answered.headers["Link"] == (
        '</api/v1/rate-cards/2027.EUR>; rel="alternate"; title="EUR", '
        '</api/v1/rate-cards/2027.1>; rel="alternate"; title="USD"'
    )
    named = client.post("/api/v1/quotes", json={**body, "rate_card": "2027.1"})
    assert named.get_json()["currency"] == "USD"
    assert "Link" not in named.headers


def test_the_estimator_says_which_currency_it_used_and_which_cards_it_could_use(
    client: FlaskClient, example_card: str
) -> None:
    _publish(JPY_2027)
    query = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "",
        "uses-0-use": "development",
        "uses-0-product_type": "software",
        "uses-0-user_type": "provider",
        "uses-0-description": "SDK",
    }
    text = " ".join(
        html.unescape(client.get("/estimate", query_string=query).get_data(True)).split()
    )
    assert (
        "This estimate is in JPY, on rate card 2027.JPY: of the cards in effect on the start "
        "date, the one published last. Rate card 2027.1 (USD) is in effect too: to estimate in "
        "USD, choose it under Rate card."
    ) in text.replace('<a href="#rate_card">', "").replace("</a>", "")
    chosen = client.get("/estimate", query_string={**query, "rate_card": "2027.1"})
    assert 'id="other-currencies"' not in chosen.get_data(as_text=True)


def test_a_new_vendors_application_names_the_cards_in_other_currencies_it_may_choose(
    client: FlaskClient, vendor: Any, signed_in: Any, example_card: str
) -> None:
    _publish(JPY_2027)
    fields = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": [DEVELOPMENT_USE]}
    saved = client.post("/api/v1/applications", json=fields, headers=bearer(vendor))
    signed_in(client, vendor)
    page = client.get(f"/portal/applications/{saved.get_json()['id']}").get_data(True)
    text = " ".join(html.unescape(page).split())
    assert (
        "Priced in JPY, on the card in effect on the start date published last. Rate card "
        "2027.1 (USD) is in effect too: to be priced in USD, change the application and choose "
        "it under Rate card."
    ) in text


def test_the_error_summary_names_the_revenue_field_with_its_currency(
    app: Flask, client: FlaskClient, vendor: Any, signed_in: Any
) -> None:
    _publish(JPY_2027)
    signed_in(client, vendor)
    fields = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "2027.JPY",
        **{
            f"uses-0-{name}": value
            for name, value in DEVELOPMENT_USE.items()
            if name not in ("languages", "quantity")
        },
        "uses-0-languages": "en",
        "uses-0-revenue": "1234.5",
        "save": "1",
    }
    page = client.post("/portal/applications/new", data=fields)
    assert page.status_code == 422
    text = html.unescape(page.get_data(as_text=True))
    label = "Use 1 \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} Expected annual revenue (JPY)"
    assert f'<a href="#uses-0-revenue">{label}: JPY has no minor unit' in text
