"""Round 42: a vendor renewing on next year's card reads what changed in the price
and why, on the renewal's page, the reviewer's page and through the API
(docs/journeys.md)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import time_machine
from flask import Flask

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
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
from tests.support.pages import text_of
from tests.support.settings import issuing


def next_years_card() -> dict[str, Any]:
    """2028.1: the development fee up from 2,500.00 to 2,750.00, and per-user software
    distribution now reviewed by staff."""
    card = card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31")
    for rule in card["rules"]:
        if rule["id"] == "development":
            rule["model"] = {**rule["model"], "amount": "2750.00"}
        if rule["id"] == "distribution-software":
            rule["review"] = "staff"
    return card


def renewal_of_both_uses(apply: Any, vendor: Any) -> tuple[Any, Any]:  # noqa: F811
    """The vendor's 2027 agreement (Scrubber Pro and its SDK) and its renewal's draft,
    drawn once 2028.1 is published."""
    agreement = accept(
        agreement_of(apply(vendor, AUTO_USE, DEVELOPMENT_USE)), vendor, signer_name="Samira"
    )
    ratecards.import_card(next_years_card(), published_by="tests")
    actor = Actor.of(accounts.principal_for(vendor))
    return agreement, services.start_renewal(agreement.id, actor, now=renewal_window(agreement))


def test_a_renewals_page_says_what_changed_in_the_price_and_why(
    apply: Any,  # noqa: F811
    vendor: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    # The renewal's page gave its price on 2028.1 alone: nothing said it was 250.00
    # more than the agreement, nor that the card's development fee went up.
    agreement, renewal = renewal_of_both_uses(apply, vendor)
    page = text_of(signed_in(app.test_client(), vendor).get(f"/portal/applications/{renewal.id}"))
    assert f"What changed from {agreement.number}" in page
    assert (
        f"On rate card 2028.1 this renewal is 36,550.00 USD: 250.00 USD more than "
        f"{agreement.number} on rate card 2027.1 (36,300.00 USD)."
    ) in page
    assert (
        "2. Scrubber Pro SDK 2,500.00 2,750.00 250.00 more Changed rule development: charge "
        "now flat fee of 2,750.00 USD a year (prorated) (was flat fee of 2,500.00 USD a year "
        "(prorated))."
    ) in page
    assert (
        "1. Scrubber Pro 33,800.00 33,800.00 no change Changed rule distribution-software: "
        "review from automatic approval to staff review."
    ) in page


def test_a_renewals_changed_quantities_added_and_dropped_uses_are_said(
    apply: Any,  # noqa: F811
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    agreement, renewal = renewal_of_both_uses(apply, vendor)
    actor = Actor.of(accounts.principal_for(vendor))
    more_users = {**AUTO_USE, "quantity": {"end_users": 3000}}
    printed = {**AUTO_USE, "product_name": "Scrubber Print", "product_type": "print"}
    printed["quantity"] = {"copies": 10}
    services.update_draft(
        renewal.id,
        actor,
        services.ApplicationDraft.from_fields(
            {
                "term_start": renewal.term_start,
                "term_end": renewal.term_end,
                "uses": [more_users, printed],
            }
        ),
    )
    page = text_of(signed_in(app.test_client(), vendor).get(f"/portal/applications/{renewal.id}"))
    # 500 more end users at 12.00 each.
    assert "1. Scrubber Pro 33,800.00 39,800.00 6,000.00 more" in page
    assert "End users from 2,500 to 3,000." in page
    assert "2. Scrubber Print — 155.00 — Not licensed before." in page
    assert "No longer licensed by this renewal: Scrubber Pro SDK." in page

    # The reviewer reads the same beside the quote once it is submitted.
    services.submit(renewal.id, actor, policy=issuing(), attest=True, now=NOW)
    review = text_of(
        signed_in(app.test_client(), licensing_staff).get(f"/console/applications/{renewal.id}")
    )
    assert f"What changed from {agreement.number}" in review
    assert "End users from 2,500 to 3,000." in review


def test_an_application_that_renews_nothing_shows_no_change(
    apply: Any,  # noqa: F811
    vendor: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    application = apply(vendor, AUTO_USE, submit=False)
    page = text_of(
        signed_in(app.test_client(), vendor).get(f"/portal/applications/{application.id}")
    )
    assert "What changed from" not in page


def test_the_api_gives_a_renewals_change_from_its_agreement(
    apply: Any,  # noqa: F811
    vendor: Any,
    client: Any,
) -> None:
    agreement, renewal = renewal_of_both_uses(apply, vendor)
    answer = client.get(f"/api/v1/applications/{renewal.id}", headers=bearer(vendor))
    assert answer.status_code == 200, answer.get_json()
    change = answer.get_json()["renewal_change"]
    assert change == {
        "agreement": agreement.number,
        "rate_card_before": "2027.1",
        "rate_card_after": "2028.1",
        "currency": "USD",
        "currency_before": "USD",  # round 65: the agreement's
        "total_before": "36300.00",
        "total_after": "36550.00",
        "change": "250.00",
        "uses": [
            {
                "use_index": 0,
                "product_name": "Scrubber Pro",
                "before": "33800.00",
                "after": "33800.00",
                "change": "0.00",
                "reasons": [
                    "Changed rule distribution-software: review from auto to staff.",
                ],
            },
            {
                "use_index": 1,
                "product_name": "Scrubber Pro SDK",
                "before": "2500.00",
                "after": "2750.00",
                "change": "250.00",
                "reasons": [
                    "Changed rule development: charge now flat fee of 2750.00 USD a year "
                    "(prorated) (was flat fee of 2500.00 USD a year (prorated)).",
                ],
            },
        ],
        "dropped": [],
    }
    plain = client.get(
        f"/api/v1/applications/{agreement.application_id}", headers=bearer(vendor)
    ).get_json()
    assert plain["renewal_change"] is None


@pytest.mark.usefixtures("in_december_2026")  # 2027's days, before 2028
def test_the_cards_check_says_which_renewals_it_would_send_to_staff_review(
    apply: Any,  # noqa: F811
    vendor: Any,
    admin: Any,
    signed_in: Any,
    client: Any,
    app: Flask,
) -> None:
    # The check said distribution-software now needs review, and listed the renewal
    # it would price with its change, but not that the renewal would wait on staff.
    agreement = accept(
        agreement_of(apply(vendor, AUTO_USE, DEVELOPMENT_USE)), vendor, signer_name="Samira"
    )
    answer = client.post("/api/v1/rate-cards/checks", json=next_years_card(), headers=bearer(admin))
    assert answer.status_code == 200, answer.get_json()
    (record,) = answer.get_json()["effect"]["records"]
    assert (record["reference"], record["change"], record["staff_review"]) == (
        agreement.number,
        "250.00",
        True,
    )
    page = signed_in(app.test_client(), admin).post(
        "/console/rate-cards/",
        data={
            "card": (io.BytesIO(json.dumps(next_years_card()).encode()), "card.json"),
            "action": "check",
        },
        content_type="multipart/form-data",
    )
    assert f"{agreement.number} (renewal) staff review on 2028.1" in text_of(page)

    # A card that keeps every rule automatic says nothing of review.
    automatic = next_years_card()
    for rule in automatic["rules"]:
        if rule["id"] == "distribution-software":
            rule["review"] = "auto"
    kept = client.post("/api/v1/rate-cards/checks", json=automatic, headers=bearer(admin))
    assert kept.get_json()["effect"]["records"][0]["staff_review"] is False


@pytest.mark.usefixtures("in_december_2026")  # 2027's days, before 2028
def test_the_year_end_walked_through_the_api(
    apply: Any,  # noqa: F811
    vendor: Any,
    admin: Any,
    client: Any,
) -> None:
    # The administrator's program drafts 2028.1 from 2027.1's document, checks it,
    # publishes it; the vendor's program renews and reads what changed.
    agreement = accept(
        agreement_of(apply(vendor, AUTO_USE, DEVELOPMENT_USE)), vendor, signer_name="Samira"
    )
    staff = bearer(admin)
    document = client.get("/api/v1/rate-cards/2027.1").get_json()["document"]
    document.update(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31")
    for rule in document["rules"]:
        if rule["id"] == "development":
            rule["model"]["amount"] = "2750.00"
    checked = client.post("/api/v1/rate-cards/checks", json=document, headers=staff).get_json()
    assert checked["status"] == "new"
    assert checked["compared_with"]["version"] == "2027.1"
    assert [r["reference"] for r in checked["effect"]["records"]] == [agreement.number]
    published = client.post("/api/v1/rate-cards", json=document, headers=staff)
    assert published.get_json()["status"] == "created", published.get_json()
    assert published.get_json()["rate_card"]["effective_from"] == "2028-01-01"

    mine = bearer(vendor)
    with time_machine.travel(renewal_window(agreement), tick=False):
        drawn = client.post(f"/api/v1/agreements/{agreement.id}/renewal", headers=mine)
    assert drawn.status_code == 201, drawn.get_json()
    renewal = drawn.get_json()
    assert (renewal["term_start"], renewal["term_end"]) == ("2028-01-01", "2028-12-31")
    read = client.get(f"/api/v1/applications/{renewal['id']}", headers=mine).get_json()
    change = read["renewal_change"]
    assert (change["total_before"], change["total_after"], change["change"]) == (
        "36300.00",
        "36550.00",
        "250.00",
    )
    assert change["uses"][1]["reasons"] == [
        "Changed rule development: charge now flat fee of 2750.00 USD a year (prorated) "
        "(was flat fee of 2500.00 USD a year (prorated))."
    ]
    assert change["uses"][0]["reasons"] == []


def test_a_renewal_moved_by_a_new_discount_alone_names_the_discount(
    apply: Any,  # noqa: F811
    vendor: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    agreement = accept(agreement_of(apply(vendor, DEVELOPMENT_USE)), vendor, signer_name="Sam")
    card = card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31")
    card["adjustments"].insert(
        0,
        {
            "id": "commercial-2028",
            "when": {"organization_type": "commercial"},
            "discount_percent": "10",
        },
    )
    ratecards.import_card(card, published_by="tests")
    actor = Actor.of(accounts.principal_for(vendor))
    renewal = services.start_renewal(agreement.id, actor, now=renewal_window(agreement))
    page = text_of(signed_in(app.test_client(), vendor).get(f"/portal/applications/{renewal.id}"))
    row = page[page.index("1. Scrubber Pro SDK 2,500.00") :]
    assert row.startswith("1. Scrubber Pro SDK 2,500.00 2,250.00 250.00 less")
    assert "commercial-2028" in row[:300]
    assert "See the working above." not in page
