"""Round 64 (currency64): a licensee holding agreements in two currencies tells their
renewals apart. The ending reminder, the dashboard's and the agreement page's renewal
sentences name the currency a renewal is priced in (its agreement's); a renewal draft
records and answers its currency from the moment it is drawn, its revenue with that
currency's digits; a renewal's change in price says its currency in the sentence. And
a card replacing another is of the same currency: the estimator's note on a replaced
card and a reissue name the correction in the card's own currency, though a card in
another currency was published the same day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import DEVELOPMENT_USE, NOW
from tests.integration.journeys.conftest import (
    ASKED,
    JPY_2027,
    YEN_USE,
    agreement_on_card,
    in_two_currencies,
    pages_read_at,
)
from tests.integration.pricing.conftest import example_document, flat_card
from tests.support.agreements import agreement_of
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.settings import issuing

# The office's day the reminder run and the dashboard are read on: 60 days before the
# 2027 terms end, inside the renewal window.
REMINDED = datetime(2027, 11, 1, 15, tzinfo=UTC)


def _ending_emails(number: str) -> list[str]:
    return [
        " ".join(message.body_text.split())
        for message in db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if message.subject == f"Agreement {number}: ends on December 31, 2027"
    ]


def test_the_ending_reminder_says_the_currency_each_agreement_renews_in(
    vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    # Both emails read "priced on the rate card in effect then", word for word.
    usd, jpy = in_two_currencies(vendor, licensing_staff)

    agreements.expire(now=REMINDED)

    for agreement, currency in ((usd, "USD"), (jpy, "JPY")):
        to_renewers, to_billing = _ending_emails(agreement.number)
        card = f"priced on the rate card in effect then in {currency} (the agreement's currency)"
        assert (
            f"the renewal is a new application for the term from January 1, 2028, {card}. "
            f"Royalty reports for this term are still filed under {agreement.number}"
        ) in to_renewers
        assert f"{card}, and its invoice comes to you." in to_billing


def test_the_dashboard_and_the_agreement_page_say_the_currency_a_renewal_is_priced_in(
    client: FlaskClient, vendor: Any, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    usd, jpy = in_two_currencies(vendor, licensing_staff)

    (dashboard,) = pages_read_at(client, vendor, signed_in, ASKED, "/portal/")
    for agreement, currency in ((usd, "USD"), (jpy, "JPY")):
        assert (
            f"Agreement {agreement.number} ends on December 31, 2027: renew it to stay licensed "
            "Renew it on the agreement's page: the renewal is a new application for the term "
            "from January 1, 2028, priced on the rate card in effect then in "
            f"{currency} (the agreement's currency)."
        ) in dashboard

    # Once expired unrenewed, the Renewal panel and the dashboard say it too.
    agreements.expire(now=datetime(2028, 1, 2, 15, tzinfo=UTC))
    page, dashboard = pages_read_at(
        client,
        vendor,
        signed_in,
        datetime(2028, 1, 5, 17, tzinfo=UTC),
        f"/portal/agreements/{jpy.id}",
        "/portal/",
    )
    assert (
        "A renewal drawn today runs from January 5, 2028, on the rate card in effect then in "
        "JPY (the agreement's currency), for a year at most"
    ) in page
    assert (
        "the renewal is a new application for the term from January 5, 2028, the day it is "
        "drawn, priced on the rate card in effect then in JPY (the agreement's currency); it "
        "does not license"
    ) in dashboard


def test_a_renewal_draft_records_and_answers_its_agreements_currency(
    client: FlaskClient, vendor: Any, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # The draft answered `currency: null` until submitted and read its yen revenue with
    # USD's digits ("1000000.00"); its page named no currency where no JPY card priced it.
    usd, jpy = in_two_currencies(vendor, licensing_staff)

    with time_machine.travel(ASKED, tick=False):
        drawn = client.post(f"/api/v1/agreements/{jpy.id}/renewal", headers=bearer(vendor))
    assert drawn.status_code == 201, drawn.get_json()
    body = drawn.get_json()
    assert (body["currency"], body["uses"][0]["revenue"]) == ("JPY", "1000000")
    renewal = db.session().get(Application, body["id"])
    assert renewal is not None
    assert renewal.currency == "JPY"  # the record says it, not only the answer

    (page,) = pages_read_at(client, vendor, signed_in, ASKED, f"/portal/applications/{renewal.id}")
    # No JPY card is published for 2028: staff price it by hand, in yen.
    assert f"in JPY, the currency of {jpy.number}" in page
    assert "revenue 1,000,000 JPY" in page
    assert "(it was priced with rate card 2027.JPY)" in page  # not "2,027.JPY"

    # Naming a card decides: the draft then says the card's currency.
    with time_machine.travel(ASKED, tick=False):
        named = client.put(
            f"/api/v1/applications/{renewal.id}",
            json={
                "term_start": "2027-12-01",
                "term_end": "2027-12-31",
                "rate_card": "2027.1",
                "uses": [{**YEN_USE, "revenue": "1000000"}],
            },
            headers=bearer(vendor),
        )
    assert named.status_code == 200, named.get_json()
    assert named.get_json()["currency"] == "USD"

    # A renewal drawn before round 64 kept none: it answers its agreement's.
    with time_machine.travel(ASKED, tick=False):
        other = client.post(f"/api/v1/agreements/{usd.id}/renewal", headers=bearer(vendor))
    older = db.session().get(Application, other.get_json()["id"])
    assert older is not None
    older.currency = None
    db.session().flush()
    answered = client.get(f"/api/v1/applications/{older.id}", headers=bearer(vendor))
    assert answered.get_json()["currency"] == "USD"


def test_a_renewals_change_in_price_says_its_currency_in_the_sentence(
    client: FlaskClient, vendor: Any, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    # "On rate card 2028.JPY this renewal is 330,000 JPY: 30,000 more than ...": the
    # difference alone went without its currency.
    _usd, jpy = in_two_currencies(vendor, licensing_staff)
    ratecards.import_card(flat_card("2028.JPY", "JPY", "330000", year=2028), published_by="t")
    db.session().commit()
    actor = Actor.of(accounts.principal_for(vendor))
    renewal = agreements.start_renewal(jpy.id, actor, now=ASKED)

    (page,) = pages_read_at(client, vendor, signed_in, ASKED, f"/portal/applications/{renewal.id}")
    assert (
        f"On rate card 2028.JPY this renewal is 330,000 JPY: 30,000 JPY more than {jpy.number} "
        "on rate card 2027.JPY (300,000 JPY)."
    ) in page


def _correction_and_yen_card_on_one_day(yen_first: bool) -> None:
    """2027.2 correcting 2027.1's development fee (USD) and 2027.JPY for the same days,
    published the same day, at the same instant, in the order given."""
    correction = example_document()
    correction["version"] = "2027.2"
    correction["rules"][2]["model"]["amount"] = "2750.00"
    cards = [correction, JPY_2027]
    with time_machine.travel(datetime(2027, 2, 1, 15, tzinfo=UTC), tick=False):
        for document in reversed(cards) if yen_first else cards:
            ratecards.import_card(document, published_by="tests")
    db.session().commit()


def test_an_estimate_on_a_replaced_card_names_its_successor_in_its_currency(
    client: FlaskClient, example_card: str
) -> None:
    # "Quotes and applications that name no rate card are priced on 2027.JPY": the card
    # published last that day, in yen, was named as 2027.1's successor.
    _correction_and_yen_card_on_one_day(yen_first=False)
    query = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "2027.1",
        "uses-0-use": "development",
        "uses-0-product_type": "software",
        "uses-0-user_type": "provider",
        "uses-0-description": "SDK",
    }
    page = text_of(client.get("/estimate", query_string=query))
    assert (
        "Rate card 2027.1 was replaced by 2027.2 on February 1, 2027. In USD, the card in "
        "effect on the start date is 2027.2: to estimate on it, choose it under Rate card "
        "(“The card in effect on the start date” takes 2027.JPY, in JPY, the card published "
        "last)."
    ) in page
    assert "priced on 2027.JPY" not in page
    # The quote API links the one successor, in USD.
    quoted = client.post(
        "/api/v1/quotes",
        json={
            "organization_type": "commercial",
            "term": {"start": "2027-01-01", "end": "2027-12-31"},
            "rate_card": "2027.1",
            "uses": [{"use": "development", "product_type": "software", "user_type": "provider"}],
        },
    )
    assert quoted.headers["Link"] == '</api/v1/rate-cards/2027.2>; rel="successor-version"'


@pytest.mark.parametrize("yen_first", [False, True], ids=["correction first", "yen card first"])
def test_a_reissue_is_on_the_correction_in_its_currency_with_a_yen_card_of_the_same_day(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    example_card: str,
    yen_first: bool,
) -> None:
    # Held since round 62 (`Catalogue.correction` and `reissue._correction` take the
    # agreement's currency); a tie on the day, in either order, changes nothing.
    old = agreement_on_card(vendor, licensing_staff, "2027.1", DEVELOPMENT_USE)
    pending = _issued(vendor, licensing_staff)
    _correction_and_yen_card_on_one_day(yen_first)

    signed_in(client, licensing_staff)
    console = text_of(client.get(f"/console/agreements/{pending.id}"))
    assert (
        "Rate card 2027.1, which priced this agreement, is replaced by 2027.2 for every day of "
        "its period."
    ) in console
    assert "2027.JPY" not in console
    answered = client.get(f"/api/v1/agreements/{old.id}", headers=bearer(licensing_staff))
    assert answered.get_json()["rate_card_replaced_by"]["versions"] == ["2027.2"]

    staff = Actor.of(accounts.principal_for(licensing_staff))
    new = agreements.reissue(pending.id, "The fee was mistyped.", staff, policy=issuing())
    assert (new.rate_card, new.currency, str(new.total)) == ("2027.2", "USD", "2750.00")


def _issued(vendor: Any, staff: Any) -> Agreement:
    """A second 2027 USD agreement, issued and awaiting acceptance."""
    actor = Actor.of(accounts.principal_for(vendor))
    draft = agreements.ApplicationDraft.from_fields(
        {
            "term_start": date(2027, 1, 1),
            "term_end": date(2027, 12, 31),
            "rate_card": "2027.1",
            "uses": [{**DEVELOPMENT_USE, "product_name": "Second SDK"}],
        }
    )
    application = agreements.create_draft(actor, draft, now=NOW)
    application = agreements.submit(application.id, actor, policy=issuing(), attest=True, now=NOW)
    return agreement_of(application)
