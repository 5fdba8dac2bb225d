"""Round 18: next year's rate card, from the draft to the year's turn (what the
licensing office tripped on)."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.ratecards import cli as ratecards_cli
from licensing.ratecards.models import RateCardRecord
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import renewal_window
from tests.support.page_days import in_words
from tests.support.pages import without_time_tags


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without_time_tags(page))).split())


def _versions() -> list[str]:
    return sorted(db.session().scalars(select(RateCardRecord.version)))


def _upload(client: FlaskClient, document: dict[str, Any], action: str) -> Any:
    return client.post(
        "/console/rate-cards/",
        data={
            "card": (io.BytesIO(json.dumps(document, default=str).encode()), "card.json"),
            "action": action,
        },
        content_type="multipart/form-data",
    )


def _next_card() -> dict[str, Any]:
    """2027.2: the sample 2027 card with the development fee raised."""
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][2]["model"]["amount"] = "2750.00"
    return document


def test_an_admin_checks_a_draft_card_without_publishing_it(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    ratecards_cli.load_samples()
    signed_in(client, admin)
    checked = _upload(client, _next_card(), "check")
    assert checked.status_code == 200
    assert _versions() == ["2026.1", "2027.1"]  # nothing stored
    words = _words(checked.get_data(as_text=True))
    assert "The card is valid. Nothing is published yet" in words
    # which quotes it would take, and what changed from the card it follows
    assert (
        "terms starting 2027-01-01 to 2027-12-31, priced on 2027.1 until now: 2027.1 would then "
        "price only quotes that name it" in words
    )
    assert "Differences from 2027.1" in words
    assert "2,500.00 USD" in words
    assert "2,750.00 USD" in words
    # the whole card as its page will show it: rules and discounts
    assert "Rules, in order" in words
    assert "Discounts" in words
    assert "nonprofit Organization type: Non-profit organization or Academic institution 20%" in (
        words
    )
    # publishing what was checked, without choosing the file again
    document = re.search(
        r'name="document" type="hidden" value="([^"]*)"', checked.get_data(as_text=True)
    )
    assert document is not None
    published = client.post(
        "/console/rate-cards/checked", data={"document": html.unescape(document.group(1))}
    )
    assert published.status_code == 302
    assert published.headers["Location"].endswith("/console/rate-cards/2027.2")
    assert _versions() == ["2026.1", "2027.1", "2027.2"]


def test_a_check_lists_a_cards_problems_and_refuses_a_changed_version(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    ratecards_cli.load_samples()
    signed_in(client, admin)
    broken = _next_card()
    broken["rules"][5]["model"]["tiers"][0]["unit_price"] = "-1"
    refused = _upload(client, broken, "check")
    assert refused.status_code == 422
    assert "rules.5.model.tiers.0.unit_price" in refused.get_data(as_text=True)
    changed = _next_card()
    changed["version"] = "2027.1"
    conflict = _upload(client, changed, "check")
    assert conflict.status_code == 422
    assert "already published with different content" in _words(conflict.get_data(as_text=True))
    assert _versions() == ["2026.1", "2027.1"]


def test_next_years_first_card_is_compared_with_this_years(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    from licensing.ratecards import services

    services.import_card(
        json.loads(
            (ratecards_cli.SAMPLES_DIR / "2026.1.json").read_text(),
        ),
        published_by="tests",
    )
    signed_in(client, admin)
    words = _words(_upload(client, example_document(), "check").get_data(as_text=True))
    assert "no published card prices them now" in words
    assert "Differences from 2026.1" in words
    assert "the last card before it" in words


def test_a_published_card_downloads_as_a_file_to_draft_the_next_from(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    ratecards_cli.load_samples()
    signed_in(client, admin)
    page = client.get("/console/rate-cards/2027.1").get_data(as_text=True)
    assert 'href="/console/rate-cards/2027.1/card.json"' in page
    download = client.get("/console/rate-cards/2027.1/card.json")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="rate-card-2027.1.json"'
    )
    drafted = json.loads(download.get_data(as_text=True))
    drafted["version"] = "2027.2"
    assert _upload(client, drafted, "check").status_code == 200


def test_publishing_a_checked_card_refuses_what_is_not_a_card(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    signed_in(client, admin)
    assert client.post("/console/rate-cards/checked", data={"document": "{"}).status_code == 422
    assert client.post("/console/rate-cards/checked", data={}).status_code == 422
    assert client.post("/console/rate-cards/checked", data={"document": "[]"}).status_code == 422
    assert _versions() == []


# --- a card corrected after renewals were drawn -------------------------------------


def _card_2028(version: str, end_user_price: str) -> dict[str, Any]:
    document = example_document()
    document.update(version=version, effective_from="2028-01-01", effective_to="2028-12-31")
    document["rules"][5]["model"]["tiers"][2]["unit_price"] = end_user_price
    return document


def test_a_renewal_drawn_before_a_card_is_corrected_is_priced_on_the_correction(
    client: FlaskClient, signed_in: Any, apply: Any, vendor: Any
) -> None:
    from licensing.accounts import services as accounts
    from licensing.actors import Actor
    from licensing.agreements import services as agreements
    from licensing.ratecards import services
    from tests.integration.agreements.conftest import AUTO_USE, NOW
    from tests.support.agreements import accept, agreement_of
    from tests.support.settings import issuing

    agreement = accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)
    # The office publishes 2028.1 with a mistake (120.00 for 12.00 above 1,000 users) ...
    services.import_card(_card_2028("2028.1", "120.00"), published_by="tests")
    actor = Actor.of(accounts.principal_for(vendor))
    renewal = agreements.start_renewal(agreement.id, actor, now=renewal_window(agreement))
    assert (renewal.term_start.isoformat(), renewal.term_end.isoformat()) == (
        "2028-01-01",
        "2028-12-31",
    )
    # ... and corrects it under 2028.2 before the vendor submits the renewal.
    services.import_card(_card_2028("2028.2", "12.00"), published_by="tests")
    signed_in(client, vendor)
    draft = _words(client.get(f"/portal/applications/{renewal.id}").get_data(as_text=True))
    assert (
        "Rate card 2028.2 (the card in effect on the start date, in USD, the currency of "
        f"{agreement.number}, submitted today)"
    ) in draft
    submitted = agreements.submit(renewal.id, actor, policy=issuing(), attest=True, now=NOW)
    snapshot = submitted.quotes[-1].snapshot
    assert snapshot["rate_card"] == "2028.2"
    assert snapshot["total"] == "33800.00"


def test_the_estimator_and_the_application_form_say_which_card_a_correction_replaced(
    client: FlaskClient, signed_in: Any, vendor: Any
) -> None:
    from licensing.ratecards import services

    ratecards_cli.load_samples()
    services.import_card(_next_card(), published_by="tests")
    # Each card's currency after it since round 61 (cards in several currencies).
    replaced = "2027.1: 2027-01-01 to 2027-12-31 (replaced by 2027.2), in USD</option>"
    assert replaced in client.get("/estimate").get_data(as_text=True)
    signed_in(client, vendor)
    form = client.get("/portal/applications/new").get_data(as_text=True)
    assert replaced in form
    assert "2027.2: 2027-01-01 to 2027-12-31, in USD</option>" in form
    assert "2026.1: 2026-01-01 to 2026-12-31, in USD</option>" in form


# --- a vendor's quote in December for a year from mid-December ----------------------

FIT = (
    "the term 2026-12-15 to 2027-12-14 must lie wholly inside the period of rate card 2026.1, "
    "2026-01-01 to 2026-12-31: end it by 2026-12-31, or start it on 2027-01-01 to be priced "
    "on rate card 2027.1 (2027-01-01 to 2027-12-31)"
)


def test_a_term_across_the_year_names_the_next_card_to_start_on(client: FlaskClient) -> None:
    ratecards_cli.load_samples()
    body = {
        "organization_type": "commercial",
        "term": {"start": "2026-12-15", "end": "2027-12-14"},
        "uses": [
            {
                "use": "distribution",
                "product_type": "saas",
                "user_type": "provider",
                "quantity": {"end_users": 2500},
            }
        ],
    }
    answer = client.post("/api/v1/quotes", json=body)
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["term"] == [FIT]
    page = client.get(
        "/estimate",
        query_string={
            "organization_type": "commercial",
            "term_start": "2026-12-15",
            "term_end": "2027-12-14",
            "uses-0-use": "distribution",
            "uses-0-product_type": "saas",
            "uses-0-user_type": "provider",
            "uses-0-quantity-end_users": "2500",
        },
    )
    words = _words(page.get_data(as_text=True))
    assert in_words(FIT) in words  # its days in words on the page (round 58)
    assert "keep the term within" not in words


# --- an application priced on a card corrected since ----------------------------------


def test_staff_reviewing_an_application_priced_on_a_corrected_card_are_told_so(
    client: FlaskClient, signed_in: Any, vendor: Any, licensing_staff: Any, apply: Any
) -> None:
    from licensing.ratecards import services
    from tests.integration.agreements.conftest import AUTO_USE

    staff_use = {**AUTO_USE, "product_type": "data_file", "quantity": {}, "revenue": "90000"}
    application = apply(vendor, staff_use)  # 2027.1's data rule asks for staff review
    assert application.state == "submitted"
    signed_in(client, licensing_staff)
    page = f"/console/applications/{application.id}"
    assert 'id="replaced-card"' not in client.get(page).get_data(as_text=True)
    services.import_card(_next_card(), published_by="tests")
    words = _words(client.get(page).get_data(as_text=True))
    assert (
        "Rate card 2027.1, which priced this application, has been replaced by 2027.2 since. "
        "Approving keeps the prices of 2027.1. To price it on 2027.2, return it to the "
        "licensee: resubmitted, it is priced again on the card in effect" in words
    )
    # What the note says holds: returned and resubmitted, it is priced on 2027.2.
    from licensing.accounts import services as accounts
    from licensing.actors import Actor
    from licensing.agreements import services as agreements
    from tests.support.settings import issuing

    officer = Actor.of(accounts.principal_for(licensing_staff))
    agreements.start_review(application.id, officer)
    agreements.review(
        application.id, "return", officer, policy=issuing(), reason="Priced again on 2027.2."
    )
    licensee = Actor.of(accounts.principal_for(vendor))
    again = agreements.submit(application.id, licensee, policy=issuing(), attest=True)
    assert again.quotes[-1].snapshot["rate_card"] == "2027.2"


def test_the_api_names_the_card_that_replaced_a_corrected_one(client: FlaskClient) -> None:
    from licensing.ratecards import services

    ratecards_cli.load_samples()
    services.import_card(_next_card(), published_by="tests")
    listing = {card["version"]: card for card in client.get("/api/v1/rate-cards").get_json()}
    assert listing["2027.1"]["replaced_by"] == ["2027.2"]
    assert listing["2027.2"]["replaced_by"] == []
    assert listing["2026.1"]["replaced_by"] == []
    assert client.get("/api/v1/rate-cards/2027.1").get_json()["replaced_by"] == ["2027.2"]
