"""Round 62 (correction62): publishing a rate card correction at a busy office's size.
The licensees are told after the card is stored, in units of work of a batch each (not
inside the publishing's own transaction), once per agreement per correction even when
the telling stops part-way and is finished by `licensing ratecards tell`; the email and
the agreement's page say what the correction changes for the agreement's uses; and a
second correction of the same days emails again only the licensees whose uses it prices
otherwise than the correction they were told of, which the API's publishing answer lists
too (api64: `agreements_not_emailed`; docs/journeys.md)."""

from __future__ import annotations

import html
import importlib
import re
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.agreements.models import CorrectionNotice
from licensing.audit.models import AuditEvent
from licensing.mail import services as mail
from licensing.ratecards import services
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import make_active_agreement
from tests.support.factories import bearer
from tests.support.openapi import answered_as_documented, served_document
from tests.support.servers import SMTPServer, message_text
from tests.support.settings import delivery

reissue = importlib.import_module("licensing.agreements.services.reissue")

# What 2027.2 changes: the software price above 1,000 end users, 12.00 to 10.00.
SOFTWARE_CHANGED = (
    "What 2027.2 changes for this agreement's uses, against 2027.1: Use 1: rule "
    "distribution-software: charge now "
)


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


def _correction(version: str = "2027.2", *, development: str | None = None) -> dict[str, Any]:
    """2027.1 for the same days, its software price above 1,000 end users 10.00 (12.00),
    and its development fee `development` where given."""
    document = example_document()
    document["version"] = version
    document["rules"][5]["model"]["tiers"][2]["unit_price"] = "10.00"
    if development is not None:
        document["rules"][2]["model"]["amount"] = development
    return document


def _words(text: str) -> str:
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
    return words.replace(" ,", ",").replace(" .", ".")


def _told(mailbox: SMTPServer, number: str) -> list[EmailMessage]:
    mail.deliver_due(delivery())
    return [m for m in mailbox.messages if str(m["Subject"]).startswith(f"Agreement {number}: its")]


def _telling_events(version: str) -> list[dict[str, Any]]:
    return [
        event.after_data
        for event in db.session().scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "rate_card.licensees_told", AuditEvent.entity_id == version)
            .order_by(AuditEvent.id)
        )
    ]


def test_the_email_and_the_page_say_what_the_correction_changes_for_the_agreements_uses(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
    mailbox: SMTPServer,
) -> None:
    software = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    development = make_active_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    mail.deliver_due(delivery())
    mailbox.clear()

    services.import_card(_correction(), published_by="tests")

    # Before: the email said the card was corrected and nothing of what changed.
    (email, *_billing) = _told(mailbox, software.number)
    body = " ".join(message_text(email).split())
    changed = (
        f"{SOFTWARE_CHANGED}per end user, graduated: the first 100 at 18.50 USD each, the next "
        "900 at 15.50 USD each, above 1,000 at 10.00 USD each (was per end user, graduated: "
        "the first 100 at 18.50 USD each, the next 900 at 15.50 USD each, above 1,000 at "
        "12.00 USD each)."
    )
    assert changed in body
    (email, *_billing) = _told(mailbox, development.number)
    unchanged = "2027.2 prices this agreement's uses by the same rules and discounts as 2027.1."
    assert unchanged in " ".join(message_text(email).split())
    # The page says it in the same words.
    signed_in(client, vendor)
    page = _words(client.get(f"/portal/agreements/{software.id}").get_data(as_text=True))
    assert changed in page
    page = _words(client.get(f"/portal/agreements/{development.id}").get_data(as_text=True))
    assert unchanged in page


def test_publishing_tells_in_batches_and_a_telling_stopped_part_way_is_finished_once(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
    mailbox: SMTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agreements = [make_active_agreement(vendor, licensing_staff, AUTO_USE) for _ in range(5)]
    numbers = [agreement.number for agreement in agreements]
    mail.deliver_due(delivery())
    mailbox.clear()
    monkeypatch.setattr(reissue, "TELL_BATCH", 2)
    # The process stops after the first batch is told (its unit committed).
    batches = reissue._tell_batch
    calls: list[int] = []

    def stopping(published: Any, after: int) -> Any:
        calls.append(after)
        if len(calls) == 2:
            raise RuntimeError("the process ended")
        return batches(published, after)

    monkeypatch.setattr(reissue, "_tell_batch", stopping)
    with pytest.raises(RuntimeError):
        services.import_card(_correction(), published_by="tests")
    # The card is published, and the first batch's licensees were told, in its own unit.
    assert services.queries.by_version(db.session(), "2027.2") is not None
    assert _telling_events("2027.2") == [
        {"agreements_emailed": numbers[:2], "agreements_not_emailed": []}
    ]
    monkeypatch.setattr(reissue, "_tell_batch", batches)

    # The command finishes it: the other three, in batches of two, nobody twice.
    finished = app.test_cli_runner().invoke(args=["ratecards", "tell", "2027.2"])
    assert finished.exit_code == 0, finished.output
    assert finished.output.strip() == (
        "The licensees of 3 agreements it corrects were emailed that their rate card was "
        f"corrected: {numbers[2]}, {numbers[3]} and {numbers[4]}."
    )
    assert [event["agreements_emailed"] for event in _telling_events("2027.2")] == [
        numbers[:2],
        numbers[2:4],
        numbers[4:],
    ]
    for number in numbers:
        # Its licensing reader and its billing contact, once each.
        assert len(_told(mailbox, number)) == 2
    notices = db.session().scalar(select(func.count()).select_from(CorrectionNotice))
    assert notices == 5
    again = app.test_cli_runner().invoke(args=["ratecards", "tell", "2027.2"])
    assert again.output.strip() == (
        "Every licensee rate card 2027.2 corrects was told of it already."
    )
    missing = app.test_cli_runner().invoke(args=["ratecards", "tell", "2099.9"])
    assert missing.exit_code == 1
    assert "There is no published rate card '2099.9'." in missing.output


def test_a_second_correction_of_the_same_days_emails_only_those_whose_uses_it_prices_otherwise(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
    mailbox: SMTPServer,
) -> None:
    software = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    development = make_active_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    first = services.import_card(_correction(), published_by="tests")
    assert first.agreements_told == (software.number, development.number)
    mail.deliver_due(delivery())
    mailbox.clear()

    # 2027.3 corrects 2027.2 for the same days: the development fee 2500.00 to 2000.00.
    second = services.import_card(
        _correction("2027.3", development="2000.00"), published_by="tests"
    )
    # Before: both emailed again, the software licensee told nothing new.
    assert second.agreements_told == (development.number,)
    assert second.agreements_not_emailed == (software.number,)
    assert _told(mailbox, software.number) == []
    (email, *_billing) = _told(mailbox, development.number)
    body = " ".join(message_text(email).split())
    assert (
        "What 2027.3 changes for this agreement's uses, against 2027.1: Use 1: rule "
        "development: charge now flat fee of 2,000.00 USD a year (prorated) (was flat fee of "
        "2,500.00 USD a year (prorated))."
    ) in body
    assert _telling_events("2027.3") == [
        {"agreements_emailed": [development.number], "agreements_not_emailed": [software.number]}
    ]
    # Its page names the newer card all the same.
    signed_in(client, vendor)
    page = _words(client.get(f"/portal/agreements/{software.id}").get_data(as_text=True))
    assert "by rate card 2027.3, published for the same days." in page
    assert "What 2027.3 changes for this agreement's uses, against 2027.1: Use 1:" in page
    # The message says who was not emailed, and why.
    assert services.emailed(second.agreements_told, second.agreements_not_emailed) == (
        "The licensees of 1 agreement it corrects were emailed that their rate card was "
        f"corrected: {development.number}. The licensees of 1 agreement it corrects were not "
        "emailed again: it prices their uses by the same rules and discounts as the "
        f"correction they were told of, and their pages name it: {software.number}."
    )


def test_the_api_publishing_answer_lists_the_licensees_told_without_an_email(
    client: FlaskClient,
    admin: Any,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,
    mailbox: SMTPServer,
) -> None:
    """api64: the page's message and the command line named the agreements told without
    an email; the API's answer listed only those emailed (round 62 left it)."""
    software = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    development = make_active_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    document = served_document(client)

    def published(card: dict[str, Any]) -> Any:
        answer = client.post("/api/v1/rate-cards", json=card, headers=bearer(admin))
        return answered_as_documented(document, "post", "/api/v1/rate-cards", answer)

    first = published(_correction())
    assert first["agreements_told"] == [software.number, development.number]
    assert first["agreements_not_emailed"] == []
    mail.deliver_due(delivery())
    mailbox.clear()
    # Neither a vendor nor licensing staff may publish: refused, nothing stored or told.
    second_card = _correction("2027.3", development="2000.00")
    for caller in (vendor, licensing_staff):
        refused = client.post("/api/v1/rate-cards", json=second_card, headers=bearer(caller))
        assert refused.status_code == 403, refused.get_json()
        assert refused.mimetype == "application/problem+json"
        assert "agreements_not_emailed" not in refused.get_json()
    assert services.queries.by_version(db.session(), "2027.3") is None
    assert _telling_events("2027.3") == []

    second = published(second_card)
    # Before: {"agreements_told": [development]} and nothing of the software licensee.
    assert second["agreements_told"] == [development.number]
    assert second["agreements_not_emailed"] == [software.number]
    assert _told(mailbox, software.number) == []
    assert _telling_events("2027.3") == [
        {"agreements_emailed": [development.number], "agreements_not_emailed": [software.number]}
    ]
    # Published again, unchanged: nobody is told, either way.
    again = published(second_card)
    assert (again["status"], again["agreements_told"], again["agreements_not_emailed"]) == (
        "unchanged",
        [],
        [],
    )
    declared = document["components"]["schemas"]["ImportResult"]
    assert "agreements_not_emailed" in declared["required"]
    assert declared["properties"]["agreements_not_emailed"]["items"] == {"type": "string"}
