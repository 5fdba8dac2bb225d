"""Round 42: a rate card with no last day, stored as 9999-12-31, reads "open-ended"
wherever staff, programs and the command line read its period (docs/journeys.md)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing.ratecards import services as ratecards
from tests.integration.pricing.conftest import card_document, example_card  # noqa: F401
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.rate_card_checks import checked_page as checked

OPEN = "9999-12-31"


def open_ended_card() -> dict[str, Any]:
    """The example card from 2028 with no last day."""
    return card_document(
        version="2028.1", title="2028 onwards", effective_from="2028-01-01", effective_to=OPEN
    )


def closed_revision() -> dict[str, Any]:
    return card_document(version="2028.2", effective_from="2028-01-01", effective_to="2028-12-31")


def test_an_open_ended_cards_period_reads_open_ended_on_the_staff_pages(
    example_card: str,  # noqa: F811
    admin: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    # "2028-01-01 to 9999-12-31 (2914635 days)": the stored sentinel, and a length
    # that says nothing.
    staff: FlaskClient = signed_in(app.test_client(), admin)
    first_check = checked(staff, open_ended_card())
    assert "Period from 2028-01-01, open-ended" in first_check
    assert "for terms starting on or after 2028-01-01: no published card prices them now" in (
        first_check
    )
    # The last day only where the arithmetic uses it: the warning of what the
    # contract's proration over it makes of the card's six prorated amounts
    # (test_round42_never_ends.py).
    warning = first_check.index("This card runs open-ended")
    assert OPEN not in first_check[:warning]
    # Round 59 (refusals59): the warning's sentences say that day in words, as pages do.
    assert OPEN not in first_check
    assert first_check.count("December 31, 9999") == 1 + 6
    assert "days)" not in first_check
    ratecards.import_card(open_ended_card(), published_by="tests")

    listed = text_of(staff.get("/console/rate-cards/"))
    assert "from 2028-01-01, open-ended" in listed
    assert OPEN not in listed
    detail = text_of(staff.get("/console/rate-cards/2028.1"))
    assert "Period from 2028-01-01, open-ended" in detail
    # Stored only in the card's document, as published in the format staff write cards
    # in; the proration warning says the day in words.
    assert detail.count(OPEN) == 1
    assert detail.count("December 31, 9999") == 1 + 6
    assert f'"effective_to": "{OPEN}"' in detail

    # Closing it: the check and the comparison say what the end was.
    second_check = checked(staff, closed_revision())
    assert "(from 2028-01-01, open-ended), the card in effect on its first day" in second_check
    assert "Effective to changed from open-ended to 2028-12-31." in second_check
    assert "Period 2028-01-01 to 2028-12-31 (366 days)" in second_check
    assert OPEN not in second_check
    ratecards.import_card(closed_revision(), published_by="tests")
    compared = text_of(staff.get("/console/rate-cards/compare?old=2028.1&new=2028.2"))
    assert "2028.1 (from 2028-01-01, open-ended) → 2028.2 (2028-01-01 to 2028-12-31)" in compared
    assert "Effective to changed from open-ended to 2028-12-31." in compared
    assert OPEN not in compared
    back = text_of(staff.get("/console/rate-cards/compare?old=2028.2&new=2028.1"))
    assert "Effective to changed from 2028-12-31 to open-ended." in back


def test_an_open_ended_cards_period_reads_open_ended_in_the_apis_sentences(
    example_card: str,  # noqa: F811
    admin: Any,
    client: FlaskClient,
) -> None:
    # The API's `effective_to` stays the contract's date; its sentences say the word.
    ratecards.import_card(open_ended_card(), published_by="tests")
    answer = client.post("/api/v1/rate-cards/checks", json=closed_revision(), headers=bearer(admin))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["compared_with"]["effective_to"] == OPEN
    sentences = [d["sentence"] for d in body["differences"]]
    assert "Effective to changed from open-ended to 2028-12-31." in sentences

    # A quote naming the card for a term that starts before it is told what to do.
    refused = client.post(
        "/api/v1/quotes",
        json={
            "organization_type": "commercial",
            "term": {"start": "2027-12-01", "end": "2028-03-31"},
            "rate_card": "2028.1",
            "uses": [
                {
                    "use": "development",
                    "product_type": "software",
                    "user_type": "provider",
                }
            ],
        },
    )
    assert refused.status_code == 422
    words = " ".join(refused.get_json()["errors"]["term"])
    assert "rate card 2028.1, from 2028-01-01, open-ended" in words
    assert "start the term on or after 2028-01-01" in words
    assert OPEN not in words


def test_an_open_ended_card_reads_open_ended_in_the_command_line_and_the_forms_choices(
    example_card: str,  # noqa: F811
    app: Flask,
) -> None:
    from licensing import db
    from licensing.ratecards import queries

    ratecards.import_card(open_ended_card(), published_by="tests")
    listing = app.test_cli_runner().invoke(args=["ratecards", "list"])
    assert listing.exit_code == 0, listing.output
    assert "2028.1       from 2028-01-01, open-ended  USD" in listing.output
    assert OPEN not in listing.output
    with app.app_context():
        labels = queries.choice_labels(queries.all_cards(db.session()))
    assert labels["2028.1"] == "2028.1: from 2028-01-01, open-ended"
