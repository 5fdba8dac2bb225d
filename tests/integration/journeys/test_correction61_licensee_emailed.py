"""Round 61 (correction61): publishing a rate card correction emails the licensees of the
agreements it corrects; a correction for part of a card's period corrects the
agreements whose term falls in that part, and only those, on the pages, in the API's
`rate_card_replaced_by` and in the email alike; and the API's publishing answer says
what a correction replaces (docs/journeys.md)."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.audit.models import AuditEvent
from licensing.mail import services as mail
from licensing.ratecards import queries, services
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import issued_agreement, make_active_agreement
from tests.support.factories import bearer
from tests.support.openapi import answered_as_documented, served_document
from tests.support.servers import SMTPServer, message_text
from tests.support.settings import delivery

FIRST_HALF = (date(2027, 1, 1), date(2027, 6, 30))
SECOND_HALF = (date(2027, 7, 1), date(2027, 12, 31))


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


def _correction(version: str = "2027.2", start: str | None = None) -> dict[str, Any]:
    """2027.1 (from `start` unless for all its days), its software price above 1,000 end
    users corrected from 12.00 to 10.00."""
    document = example_document()
    document["version"] = version
    document["rules"][5]["model"]["tiers"][2]["unit_price"] = "10.00"
    if start is not None:
        document["effective_from"] = start
    return document


def _words(text: str) -> str:
    """A page's or an email's text as read: tags dropped, spaces collapsed."""
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
    return words.replace(" ,", ",").replace(" .", ".")


def _sent(mailbox: SMTPServer) -> list[EmailMessage]:
    """Every email the outbox had queued, delivered to the loopback server."""
    mail.deliver_due(delivery())
    return list(mailbox.messages)


def _published_day(version: str) -> date:
    card = queries.by_version(db.session(), version)
    assert card is not None
    return calendar.office_date(card.published_at)


def _told_of(mailbox: SMTPServer, number: str) -> list[EmailMessage]:
    return [m for m in _sent(mailbox) if str(m["Subject"]).startswith(f"Agreement {number}: its")]


def test_publishing_a_correction_emails_the_licensee_of_an_accepted_agreement_once(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
    mailbox: SMTPServer,
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    _sent(mailbox)
    mailbox.clear()

    result = services.import_card(_correction(), published_by="tests")
    # Before: no email at all; the licensee read it only on the agreement's page.
    assert result.agreements_told == (agreement.number,)
    told = _told_of(mailbox, agreement.number)
    # Those who do its licensing (the vendor), and its billing contact, whose invoices
    # are priced on the wrong card: one email each.
    billing = agreement.organization.billing_email
    assert sorted(str(m["To"]) for m in told) == sorted([vendor.email, billing])
    (email,) = [m for m in told if vendor.email in str(m["To"])]
    assert email["Subject"] == f"Agreement {agreement.number}: its rate card 2027.1 was corrected"
    body = " ".join(message_text(email).split())
    day = calendar.day_text(_published_day("2027.2"))
    changed = (
        f"Rate card 2027.1, on which this agreement was priced, was corrected on {day}, by "
        "rate card 2027.2, published for the same days."
    )
    prices = (
        "You accepted this agreement, so its prices stay as agreed: its invoices, and your "
        "royalty reports for every period of its term, are priced on 2027.1. They change "
        "only if the licensing office issues a credit note against an invoice."
    )
    assert changed in body
    assert prices in body
    assert (
        f"To ask about the correction and your prices, contact the licensing office at "
        f"{mail.sender_address()} (or reply to this email), naming agreement "
        f"{agreement.number}."
    ) in body
    assert f"/portal/agreements/{agreement.id}#card-corrected" in body
    # The page says what the email said, in the same words.
    signed_in(client, vendor)
    page = _words(client.get(f"/portal/agreements/{agreement.id}").get_data(as_text=True))
    assert changed in page
    assert prices in page

    # Published again unchanged, it stores and sends nothing.
    mailbox.clear()
    again = services.import_card(_correction(), published_by="tests")
    assert not again.created
    assert again.agreements_told == ()
    assert _told_of(mailbox, agreement.number) == []
    # The publishing's audit event records what it replaced; round 62: whom it told, the
    # telling's own event (one a batch, after the card is stored).
    event = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.action == "rate_card.published", AuditEvent.entity_id == "2027.2"
            )
        )
        .one()
    )
    assert event.after_data["replaces"] == [
        {"version": "2027.1", "first": "2027-01-01", "last": "2027-12-31", "whole": True}
    ]
    telling = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.action == "rate_card.licensees_told", AuditEvent.entity_id == "2027.2"
            )
        )
        .one()
    )
    assert telling.after_data == {
        "agreements_emailed": [agreement.number],
        "agreements_not_emailed": [],
    }


def test_an_agreement_awaiting_acceptance_is_told_the_office_may_reissue_it(
    vendor: Any, licensing_staff: Any, example_card: str, mailbox: SMTPServer
) -> None:
    issued = issued_agreement(vendor, licensing_staff, AUTO_USE)
    _sent(mailbox)
    mailbox.clear()
    services.import_card(_correction(), published_by="tests")
    # Only those who do its licensing: nothing is invoiced before acceptance.
    (email,) = _told_of(mailbox, issued.number)
    assert str(email["To"]) == vendor.email
    assert (
        "This agreement's prices stay as issued on 2027.1 unless the licensing office "
        "reissues it on 2027.2: a new agreement, with a new number, for the same uses and "
        "term, which replaces this one, and which you would then accept instead."
    ) in " ".join(message_text(email).split())


def test_a_correction_of_part_of_the_card_corrects_only_the_agreements_whose_term_falls_in_it(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
    mailbox: SMTPServer,
) -> None:
    first = make_active_agreement(vendor, licensing_staff, AUTO_USE, term=FIRST_HALF)
    second = make_active_agreement(vendor, licensing_staff, AUTO_USE, term=SECOND_HALF)
    year = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    _sent(mailbox)
    mailbox.clear()

    # 2027.3 corrects 2027.1 from July 1: 2027.1 is not replaced (it still prices the
    # first half), so before, no agreement on it was told anything anywhere.
    result = services.import_card(_correction("2027.3", "2027-07-01"), published_by="tests")
    assert queries.catalogue(db.session()).replacement("2027.1") is None
    assert result.agreements_told == (second.number, year.number)
    assert _told_of(mailbox, first.number) == []
    day = calendar.day_text(_published_day("2027.3"))
    whole_term = (
        f"Rate card 2027.1, on which this agreement was priced, was corrected on {day}, by "
        "rate card 2027.3, published for part of its period: every day of this agreement's "
        "term."
    )
    part_of_term = (
        f"Rate card 2027.1, on which this agreement was priced, was corrected on {day}, by "
        "rate card 2027.3, published for part of its period: this agreement's term from "
        "July 1, 2027 to December 31, 2027."
    )
    said = {
        number: " ".join(message_text(_told_of(mailbox, number)[0]).split())
        for number in (second.number, year.number)
    }
    assert whole_term in said[second.number]
    assert part_of_term in said[year.number]

    # The pages and the API say the same of each.
    signed_in(client, vendor)
    for agreement, sentence in ((second, whole_term), (year, part_of_term)):
        page = _words(client.get(f"/portal/agreements/{agreement.id}").get_data(as_text=True))
        assert sentence in page
    page = client.get(f"/portal/agreements/{first.id}").get_data(as_text=True)
    assert 'id="card-corrected"' not in page

    def replaced_by(agreement: Any) -> Any:
        answer = client.get(f"/api/v1/agreements/{agreement.id}", headers=bearer(vendor))
        body = answered_as_documented(
            served_document(client), "get", "/api/v1/agreements/{agreement_id}", answer
        )
        return body["rate_card_replaced_by"]

    assert replaced_by(first) is None
    published_on = _published_day("2027.3").isoformat()
    assert replaced_by(second) == {
        "versions": ["2027.3"],
        "published_on": published_on,
        "days": [{"version": "2027.3", "first": "2027-07-01", "last": "2027-12-31"}],
        "whole_term": True,
        "whole_card": False,
    }
    assert replaced_by(year) == {**replaced_by(second), "whole_term": False}

    # The office's page: the second half's agreement priced on the correction, the
    # year's told why no one card prices it at the corrected prices.
    signed_in(client, licensing_staff)
    console = _words(client.get(f"/console/agreements/{second.id}").get_data(as_text=True))
    assert "Priced on a replaced rate card" in console
    assert (
        f"was corrected by 2027.3 on {day} for part of its period: every day of this "
        "agreement's term."
    ) in console
    assert "On 2027.3 its uses come to" in console
    console = _words(client.get(f"/console/agreements/{year.id}").get_data(as_text=True))
    assert "runs across both (2027.1 from" in console
    console = _words(client.get(f"/console/agreements/{first.id}").get_data(as_text=True))
    assert "Priced on a replaced rate card" not in console
    # The card's page says which days were corrected, and which agreements.
    card_page = client.get("/console/rate-cards/2027.1").get_data(as_text=True)
    words = _words(card_page)
    assert (
        f"Corrected by 2027.3 on {day} for part of its period: from July 1, 2027 to "
        "December 31, 2027 on 2027.3."
    ) in words
    assert f"{first.number} " in words
    assert words.count("its term is outside the corrected days: not corrected") == 1
    assert f'/console/agreements/{second.id}#kept-prices"' in card_page
    assert f'/console/agreements/{first.id}#kept-prices"' not in card_page


def test_the_api_publishing_answer_says_what_a_correction_replaces(
    client: FlaskClient, admin: Any, example_card: str
) -> None:
    document = served_document(client)

    def published(card: dict[str, Any]) -> Any:
        answer = client.post("/api/v1/rate-cards", json=card, headers=bearer(admin))
        return answered_as_documented(document, "post", "/api/v1/rate-cards", answer)

    # Before: the answer named the card published and nothing of what it replaced.
    body = published(_correction())
    assert body["replaces"] == [
        {"version": "2027.1", "first": "2027-01-01", "last": "2027-12-31", "whole": True}
    ]
    assert body["replaces_sentence"].startswith(
        "It replaces 2027.1 for every day of its period: quotes, estimates, applications "
        "and renewals naming no card are priced on 2027.2 from now on."
    )
    assert body["agreements_told"] == []
    # A correction of part of 2027.2's period: which days.
    body = published(_correction("2027.3", "2027-10-01"))
    assert body["replaces"] == [
        {"version": "2027.2", "first": "2027-10-01", "last": "2027-12-31", "whole": False}
    ]
    assert body["replaces_sentence"].startswith(
        "It replaces 2027.2 from 2027-10-01 to 2027-12-31, part of its period:"
    )
    # A new year's card replaces nothing; published again, nothing either.
    next_year = example_document()
    next_year.update(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31")
    body = published(next_year)
    assert (body["status"], body["replaces"], body["replaces_sentence"]) == ("created", [], "")
    body = published(_correction())
    assert (body["status"], body["replaces"]) == ("unchanged", [])
    declared = document["components"]["schemas"]["ImportResult"]["properties"]
    assert {"replaces", "replaces_sentence", "agreements_told"} <= set(declared)


def test_the_import_command_says_whose_licensees_were_emailed(
    app: Flask, vendor: Any, licensing_staff: Any, example_card: str, tmp_path: Path
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE, term=SECOND_HALF)
    path = tmp_path / "card.json"
    path.write_text(json.dumps(_correction("2027.3", "2027-07-01")))
    imported = app.test_cli_runner().invoke(args=["ratecards", "import", str(path)])
    assert imported.exit_code == 0, imported.output
    assert imported.output.splitlines() == [
        "Published rate card 2027.3.",
        "It replaces 2027.1 from 2027-07-01 to 2027-12-31, part of its period: quotes, "
        "estimates, applications and renewals naming no card for terms in those days are "
        "priced on 2027.3 from now on. What 2027.1 priced keeps its prices, listed on its "
        "page; the agreements on it whose terms fall in those days are corrected by 2027.3.",
        "The licensees of 1 agreement it corrects were emailed that their rate card was "
        f"corrected: {agreement.number}.",
    ]
