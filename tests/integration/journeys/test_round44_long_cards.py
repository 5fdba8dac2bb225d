"""Round 44: an open-ended card where it is priced. A quote on a card that runs
open-ended or longer than `LONG_CARD_DAYS` says what the contract's proration made
of its prorated amounts (the API in each line's explanation, the estimator and an
application's pages above the price); publishing such a card says it; the terms the
service proposes start on the day they are proposed for; the threshold is
configuration (docs/journeys.md)."""

from __future__ import annotations

import dataclasses
import html
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import card_effect, services
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import (  # noqa: F401 - the fixture
    AUTO_USE,
    DEVELOPMENT_USE,
    NOW,
    apply,
)
from tests.integration.pricing.conftest import (  # noqa: F401 - the fixture
    card_document,
    development_estimate,
    example_card,
)
from tests.support.factories import bearer
from tests.support.long_cards import OPEN, agreement_of_2027, card_2028, submitted_on_2028
from tests.support.pages import term_shown, text_of, without_time_tags

# Their cards start on 1 January 2028: from 2 January 2028 the term the service
# proposes began on the office's today (round 47).
pytestmark = pytest.mark.usefixtures("in_december_2026")


def development_quote(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organization_type": "commercial",
        "term": {"start": "2028-01-01", "end": "2028-12-31"},
        "uses": [{"use": "development", "product_type": "software", "user_type": "provider"}],
    }
    body.update(changes)
    return body


API_SENTENCE = (
    "Rate card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over all "
    "of it: the development flat fee of 5000.00 USD is 0.63 USD for this term of 366 days."
)
# Round 59: pages say its day in words (the estimator's and an application's notice).
PAGE_SENTENCE = (
    "Rate card 2028.1 runs to December 31, 9999 (2,911,713 days) and the contract prorates "
    "over all of it: the development flat fee of 5,000.00 USD is 0.63 USD for this term of "
    "366 days."
)


def test_a_quote_on_an_open_ended_card_says_why_its_fee_is_cents(client: FlaskClient) -> None:
    # A one-year development use on an open-ended card was 0.63 with no word why.
    ratecards.import_card(card_2028(), published_by="tests")
    answer = client.post("/api/v1/quotes", json=development_quote())
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    (line,) = body["lines"]
    # The contract's amount and fields, unchanged: the warning is a step of the working.
    assert (line["amount"], body["total"], body["proration"]) == ("0.63", "0.63", "2/15911")
    assert set(body) == {"rate_card", "currency", "proration", "lines", "total", "requires_review"}
    assert line["explanation"][-1] == API_SENTENCE
    assert line["explanation"][:-1] == [
        "flat 5000.00 x 2/15911 (prorated) = 10000/15911 (about 0.628496)",
        "no adjustment applies",
        "amount: 10000/15911 (about 0.628496) rounded half-up to 0.63 USD",
    ]


RUNS_LONG = "Rate card 2028.1 runs"


def test_a_quote_is_warned_of_each_prorated_amount_of_its_rules_and_no_others(
    client: FlaskClient,
) -> None:
    ratecards.import_card(card_2028(), published_by="tests")
    body = development_quote(
        term={"start": "2028-03-01", "end": "2028-03-31"},
        uses=[
            {"use": "development", "product_type": "software", "user_type": "provider"},
            {
                "use": "distribution",
                "product_type": "saas",
                "user_type": "provider",
                "quantity": {"end_users": 10},
            },
            {"use": "education", "product_type": "print", "user_type": "academic"},
        ],
        organization_type="academic",
    )
    answer = client.post("/api/v1/quotes", json=body)
    assert answer.status_code == 200, answer.get_json()
    lines = answer.get_json()["lines"]
    warned = [[s for s in line["explanation"] if s.startswith(RUNS_LONG)] for line in lines]
    assert warned[0] == [
        "Rate card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over "
        "all of it: the development flat fee of 5000.00 USD is 0.05 USD for this term of 31 days."
    ]
    assert warned[1] == [
        "Rate card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over "
        "all of it: the distribution-software minimum of 1000.00 USD is 0.01 USD for this term "
        "of 31 days."
    ]
    assert lines[2]["route"] == "permission_request"
    assert warned[2] == []


def test_a_quote_answered_by_either_writer_carries_the_warning(
    app: Flask, client: FlaskClient
) -> None:
    # The one-pass writer answers a compact, sorted provider; jsonify any other.
    ratecards.import_card(card_2028(), published_by="tests")
    compact = client.post("/api/v1/quotes", json=development_quote())
    app.json.sort_keys = False  # type: ignore[attr-defined]
    other = client.post("/api/v1/quotes", json=development_quote())
    assert compact.status_code == other.status_code == 200
    assert compact.get_json() == other.get_json()
    assert other.get_json()["lines"][0]["explanation"][-1] == API_SENTENCE


def test_a_quote_on_a_card_within_the_threshold_says_nothing_more_and_the_threshold_is_set(
    app: Flask, client: FlaskClient
) -> None:
    # A two-year card: 2,500.00 x 366/731. Not long at ten years; long at 700 days.
    ratecards.import_card(card_2028("2029-12-31", fee="2500.00"), published_by="tests")
    plain = client.post("/api/v1/quotes", json=development_quote()).get_json()
    assert plain["lines"][0]["amount"] == "1251.71"
    assert not any("runs to" in step for step in plain["lines"][0]["explanation"])
    app.config["LICENSING"] = dataclasses.replace(app.config["LICENSING"], long_card_days=700)
    warned = client.post("/api/v1/quotes", json=development_quote()).get_json()
    assert warned["lines"][0]["amount"] == "1251.71"
    assert warned["lines"][0]["explanation"][-1] == (
        "Rate card 2028.1 runs to 2029-12-31 (731 days) and the contract prorates over all of "
        "it: the development flat fee of 2500.00 USD is 1251.71 USD for this term of 366 days."
    )
    # The estimator reads the setting too.
    page = text_of(client.get("/estimate?" + urlencode(development_estimate())))
    assert "Rate card 2028.1 runs longer than 700 days, and this price is prorated over all" in page


def test_the_estimator_says_why_a_fee_on_an_open_ended_card_is_cents(
    client: FlaskClient,
) -> None:
    ratecards.import_card(card_2028(), published_by="tests")
    query = development_estimate()
    page = text_of(client.get("/estimate?" + urlencode(query)))
    assert "Estimated total: 0.63 USD" in page
    assert "Rate card 2028.1 runs open-ended, and this price is prorated over all of it:" in page
    assert PAGE_SENTENCE in page
    # A card with a last day: nothing.
    ratecards.import_card(
        {**card_2028("2028-12-31", fee="2500.00"), "version": "2028.2"}, published_by="tests"
    )
    normal = text_of(client.get("/estimate?" + urlencode({**query, "rate_card": "2028.2"})))
    assert "Estimated total: 2,500.00 USD" in normal
    assert "prorated over all of it" not in normal


def test_an_applications_pages_say_why_a_fee_on_an_open_ended_card_is_cents(
    app: Flask,
    example_card: str,  # noqa: F811
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    ratecards.import_card(card_2028(), published_by="tests")
    application = submitted_on_2028(vendor)
    portal: FlaskClient = signed_in(app.test_client(), vendor)
    page = text_of(portal.get(f"/portal/applications/{application.id}"))
    assert "Rate card 2028.1 runs open-ended, and this price is prorated over all of it:" in page
    assert PAGE_SENTENCE in page
    assert (
        "the distribution-software minimum of 1,000.00 USD is 0.13 USD for this term of 366 days."
    ) in page
    console: FlaskClient = signed_in(app.test_client(), licensing_staff)
    review = text_of(console.get(f"/console/applications/{application.id}"))
    assert PAGE_SENTENCE in review
    # Nothing stored changed: the snapshot's working is the contract's alone.
    assert application.quotes
    assert "runs to 9999-12-31" not in application.quotes[-1].snapshot_json


# --- item 2: publishing such a card says it ------------------------------------------------

PUBLISH_SENTENCE = (
    "Prorated over its period to 9999-12-31, the development flat fee of 5,000.00 USD would "
    "be 0.63 USD for a one-year term from 2028-01-01."
)


def publish_from_the_page(staff: FlaskClient, document: dict[str, Any]) -> str:
    """Upload `document` with *Publish*; the card's page it leads to, with its messages."""
    published = staff.post(
        "/console/rate-cards/",
        data={
            "card": (io.BytesIO(json.dumps(document).encode()), "card.json"),
            "action": "publish",
        },
        content_type="multipart/form-data",
    )
    assert published.status_code == 302, published.get_data(as_text=True)
    page = staff.get(published.headers["Location"]).get_data(as_text=True)
    return page


def flashes(page: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", html.unescape(text))
        # A flash says its days in words (round 58): read each <time> as its words.
        for text in re.findall(
            r'<p class="flash flash-\w+">(.*?)</p>', without_time_tags(page), re.S
        )
    ]


def test_publishing_an_open_ended_card_says_what_its_prorated_amounts_come_to(
    app: Flask, admin: Any, signed_in: Any
) -> None:
    # The message said "Rate card 2028.1 published, ..." and nothing of the cents.
    staff: FlaskClient = signed_in(app.test_client(), admin)
    said = flashes(publish_from_the_page(staff, card_2028()))
    assert said[0].startswith("Rate card 2028.1 published")
    assert said[1].startswith(
        "Rate card 2028.1 runs open-ended: its prorated amounts are spread over all of it. "
        "Prorated over its period to December 31, 9999, the development flat fee of 5,000.00 "
        "USD would be 0.63 USD for a one-year term from January 1, 2028."
    )
    assert (
        "the distribution-software minimum of 1,000.00 USD would be 0.13 USD for a one-year "
        "term from January 1, 2028."
    ) in said[1]
    (event,) = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "rate_card.published")
    )
    recorded = event.after_data["proration_warnings"]
    assert recorded[0] == (
        "Prorated over its period to 9999-12-31, the development flat fee of 5000.00 USD would "
        "be 0.63 USD for a one-year term from 2028-01-01."
    )
    assert len(recorded) == 6


def test_publishing_a_card_within_the_threshold_says_published_alone(
    app: Flask, admin: Any, signed_in: Any
) -> None:
    staff: FlaskClient = signed_in(app.test_client(), admin)
    said = flashes(publish_from_the_page(staff, card_2028("2029-12-31")))
    assert len(said) == 1
    assert said[0].startswith("Rate card 2028.1 published")
    (event,) = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "rate_card.published")
    )
    assert "proration_warnings" not in event.after_data


def test_publishing_a_card_longer_than_the_configured_threshold_says_it(
    app: Flask, admin: Any, signed_in: Any
) -> None:
    app.config["LICENSING"] = dataclasses.replace(app.config["LICENSING"], long_card_days=700)
    staff: FlaskClient = signed_in(app.test_client(), admin)
    page = publish_from_the_page(staff, card_2028("2029-12-31", fee="2500.00"))
    # The card's own page reads the setting too (it said "longer than ten years").
    assert '<h2 id="proration-warning-title">This card runs longer than 700 days:' in page
    said = flashes(page)
    assert said[1].startswith(
        "Rate card 2028.1 runs longer than 700 days: its prorated amounts are spread over all "
        "of it. Prorated over its period to December 31, 2029, the development flat fee of "
        "2,500.00 USD would be 1,251.71 USD for a one-year term from January 1, 2028."
    )


def test_the_publish_api_and_the_command_line_say_it_too(
    app: Flask, client: FlaskClient, admin: Any, tmp_path: Path
) -> None:
    checked = client.post("/api/v1/rate-cards/checks", json=card_2028(), headers=bearer(admin))
    answer = client.post("/api/v1/rate-cards", json=card_2028(), headers=bearer(admin))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "created"
    # What the check warned of, said again as the card is published.
    assert body["proration_warnings"] == checked.get_json()["proration_warnings"]
    assert body["proration_warnings"][0]["prorated"] == "0.63"
    again = client.post("/api/v1/rate-cards", json=card_2028(), headers=bearer(admin))
    assert again.get_json()["status"] == "unchanged"
    assert again.get_json()["proration_warnings"] == []

    path = tmp_path / "card.json"
    path.write_text(json.dumps({**card_2028(), "version": "2028.2"}))
    printed = app.test_cli_runner().invoke(args=["ratecards", "import", str(path)])
    assert printed.exit_code == 0, printed.output
    assert printed.output.splitlines()[:2] == [
        "Published rate card 2028.2.",
        "Warning: Prorated over its period to 9999-12-31, the development flat fee of "
        "5000.00 USD would be 0.63 USD for a one-year term from 2028-01-01.",
    ]


# --- item 3: a proposed term starts on the day it is proposed for ----------------------------


def test_a_new_application_and_the_estimator_on_a_card_in_effect_since_long_ago_start_today(
    app: Flask, vendor: Any, signed_in: Any
) -> None:
    # An open-ended card in effect since 2020 proposed 2020-01-01 to 2020-12-31.
    ratecards.import_card(
        card_document(version="2020.1", effective_from="2020-01-01", effective_to=OPEN),
        published_by="tests",
    )
    today = calendar.office_date(utcnow())
    year_on = (today.replace(year=today.year + 1) - timedelta(days=1)).isoformat()
    client: FlaskClient = signed_in(app.test_client(), vendor)
    new = client.get("/portal/applications/new").get_data(as_text=True)
    assert term_shown(new) == (today.isoformat(), year_on)
    estimate = app.test_client().get("/estimate").get_data(as_text=True)
    assert term_shown(estimate) == (today.isoformat(), year_on)


def test_a_new_application_on_a_card_ending_this_year_starts_today_and_ends_with_it(
    app: Flask, vendor: Any, signed_in: Any
) -> None:
    today = calendar.office_date(utcnow())
    last = today + timedelta(days=20)
    ratecards.import_card(
        card_document(
            version="now.1",
            effective_from=(today - timedelta(days=300)).isoformat(),
            effective_to=last.isoformat(),
        ),
        published_by="tests",
    )
    client: FlaskClient = signed_in(app.test_client(), vendor)
    new = client.get("/portal/applications/new").get_data(as_text=True)
    assert term_shown(new) == (today.isoformat(), last.isoformat())


JULY_2028 = datetime(2028, 7, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("effective_to", "term_end"),
    [
        # Drawn on 2028-07-01 it started on 2028-01-01, half a year gone.
        (OPEN, date(2029, 6, 30)),
        # Never past the card's last day, from that day either.
        ("2028-12-31", date(2028, 12, 31)),
    ],
)
def test_a_renewal_drawn_after_its_agreement_ended_starts_on_the_day_it_is_drawn(
    apply: Any,  # noqa: F811
    vendor: Any,
    effective_to: str,
    term_end: date,
) -> None:
    agreement = agreement_of_2027(apply, vendor)
    ratecards.import_card(card_2028(effective_to), published_by="tests")
    actor = Actor.of(accounts.principal_for(vendor))
    renewal = services.start_renewal(agreement.id, actor, now=JULY_2028)
    assert (renewal.term_start, renewal.term_end) == (date(2028, 7, 1), term_end)


def test_the_cards_check_prices_a_late_renewal_from_the_day_of_the_check(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # On 2028-07-01 the check priced the renewal over 2028-01-01 to 2028-12-31
    # (36,300.00), while a renewal drawn that day runs 2028-07-01 to 2028-12-31:
    # 33,800.00 + 2,500.00 x 184/366 = 35,056.83.
    agreement = agreement_of_2027(apply, vendor)
    card = ratecards.validate(card_2028("2028-12-31", fee="2500.00"))

    def priced(on: date) -> Any:
        effect = card_effect.effect(db.session(), card, today=on)
        (record,) = [r for r in effect.records if r.reference == agreement.number]
        return record.then

    assert priced(date(2028, 7, 1)) == Decimal("35056.83")
    # Checked before the agreement ends: from the day after it, as before.
    assert priced(date(2027, 12, 1)) == Decimal("36300.00")
