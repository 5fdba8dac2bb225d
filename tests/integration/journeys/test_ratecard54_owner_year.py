"""Round 54: the rate card owner's year (docs/journeys.md): what a corrected card's
own page tells its owner about what it priced."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services
from tests.integration.agreements.conftest import AUTO_USE, draft
from tests.integration.pricing.conftest import corrected_example
from tests.support.agreements import make_active_agreement
from tests.support.settings import issuing

# Quoted in "December", approved on the card's first day, the term's first too.
DECEMBER = datetime(2026, 12, 30, 15, 0, tzinfo=UTC)
NEW_YEARS_DAY = datetime(2027, 1, 1, 15, 0, tzinfo=UTC)  # 09:00 at the office
# 2027.1's data-file rule sends a use to staff review: the application waits.
STAFF_USE = {**AUTO_USE, "product_type": "data_file", "quantity": {}, "revenue": "90000"}


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_corrected_cards_page_says_it_was_replaced_and_lists_what_it_priced(
    client: FlaskClient,
    signed_in: Any,
    admin: Any,
    vendor: Any,
    licensing_staff: Any,
    apply: Any,
) -> None:
    waiting = apply(vendor, STAFF_USE)
    assert waiting.state == "submitted"
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    services.import_card(corrected_example(), published_by="tests")

    signed_in(client, admin)
    words = _words(client.get("/console/rate-cards/2027.1").get_data(as_text=True))
    assert "Replaced by 2027.2 on " in words
    assert "it prices only quotes and applications that name it" in words
    assert "Undecided applications whose latest quote is on 2027.1: 1." in words
    assert (
        "Approving one keeps these prices; to price one on 2027.2, return it to the licensee"
    ) in words
    assert f"{waiting.reference} " in words
    assert "Agreements issued on 2027.1 (awaiting acceptance, active or ended): 1." in words
    assert f"{agreement.number} " in words
    assert f"{agreement.number} {vendor.organization.legal_name} active 33,800.00 USD" in words
    assert "their royalty reports are priced on 2027.1, the agreement's card" in words

    # The correction has priced nothing yet, and is replaced by nothing.
    correction = _words(client.get("/console/rate-cards/2027.2").get_data(as_text=True))
    assert "Replaced by" not in correction
    assert "Undecided applications whose latest quote is on 2027.2: 0." in correction
    assert "Agreements issued on 2027.2 (awaiting acceptance, active or ended): 0." in correction


def test_checking_a_correction_says_what_the_card_it_replaces_priced_keeps_its_prices(
    client: FlaskClient,
    signed_in: Any,
    admin: Any,
    vendor: Any,
    licensing_staff: Any,
    apply: Any,
) -> None:
    # Before publishing the correction, the check said only that "agreements ... keep
    # the card they were priced on": not that one was issued on the wrong card.
    apply(vendor, STAFF_USE)
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    signed_in(client, admin)
    checked = client.post(
        "/console/rate-cards/",
        data={
            "card": (
                io.BytesIO(json.dumps(corrected_example(), default=str).encode()),
                "card.json",
            ),
            "action": "check",
        },
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    words = _words(checked)
    assert (
        "What 2027.1 has priced keeps its prices: 1 undecided application (approving keeps "
        "the quote; returned and resubmitted, it is priced again) and 1 agreement (fees as "
        "issued, royalty reports priced on 2027.1): what 2027.1 priced"
    ) in words
    assert 'href="/console/rate-cards/2027.1#priced"' in checked
    assert services.import_card(corrected_example(), published_by="tests").created
    assert agreement.rate_card == "2027.1"


def test_a_card_in_use_lists_what_it_priced_without_a_replacement(
    client: FlaskClient, signed_in: Any, licensing_staff: Any, vendor: Any, apply: Any
) -> None:
    waiting = apply(vendor, STAFF_USE)
    signed_in(client, licensing_staff)
    page = client.get("/console/rate-cards/2027.1").get_data(as_text=True)
    words = _words(page)
    assert 'id="replaced-card"' not in page
    assert "Undecided applications whose latest quote is on 2027.1: 1. Approving one keeps" in (
        words
    )
    assert "return it to the licensee" not in words
    # Licensing staff follow the reference to the application's review.
    assert f'href="/console/applications/{waiting.id}"' in page


def test_an_application_approved_on_its_terms_first_day_is_not_called_retroactive(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    # Quoted in December for 2027, approved on 1 January: the form told staff "The term
    # began on 2027-01-01, before today: approving it licenses that time retroactively",
    # and the approval email told the vendor the same, of a term that starts that day.
    licensee = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(licensee, draft(STAFF_USE), now=DECEMBER)
    agreements.submit(application.id, licensee, policy=issuing(), attest=True, now=DECEMBER)
    with time_machine.travel(NEW_YEARS_DAY, tick=False):
        signed_in(client, licensing_staff)
        words = _words(client.get(f"/console/applications/{application.id}").get_data(True))
        assert "Approve and issue the agreement" in words
        assert "The term began" not in words
        assert "retroactively" not in words
        officer = Actor.of(accounts.principal_for(licensing_staff))
        agreements.approve(application.id, officer, policy=issuing(), now=NEW_YEARS_DAY)
    (approval,) = [
        message
        for message in db.session().scalars(select(OutboxMessage))
        if "ready to accept" in message.subject
    ]
    assert "The term began" not in approval.body_text
