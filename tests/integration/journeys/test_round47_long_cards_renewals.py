"""Round 47: long cards in the agreement, and renewals of organizations that left. An
agreement priced on a card that runs open-ended or longer than `LONG_CARD_DAYS` says
in Schedule A what the contract's proration made of each prorated amount, as its
quote did, and so does the reminder that an agreement is ending, of the renewal's
price; agreements issued before keep their bytes (docs/journeys.md)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements import card_effect, services
from licensing.agreements.models import Agreement
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import (  # noqa: F401 - the fixture
    AUTO_USE,
    DEVELOPMENT_USE,
    NOW,
    apply,
)
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories
from tests.support.agreements import agreement_of
from tests.support.documents import downloaded_pdf, pdf_text, stored_pdf
from tests.support.factories import bearer
from tests.support.long_cards import (
    FEE_SENTENCE,
    MINIMUM_SENTENCE,
    agreement_of_2027,
    card_2028,
    submitted_on_2028,
)
from tests.support.pages import text_of
from tests.support.rate_card_checks import checked_page
from tests.support.settings import issuing

# Written around 2027's agreements and 2028's cards: on a fixed day before them, as
# the other journeys of those years (round 47: at the real time the ending reminders
# failed from 1 January 2028, under TRAVEL_TO=2028-01-04T03:30Z).
pytestmark = pytest.mark.usefixtures("in_december_2026")


def flat(text: str) -> str:
    """Text with its line breaks and runs of spaces made one space (a PDF's lines)."""
    return re.sub(r"\s+", " ", text)


def issued_on_2028(vendor: Any, **policy: Any) -> Agreement:
    """The vendor's application for 2028 (Scrubber Pro and its SDK), approved at once
    under the app configuration's issuing policy with `policy`'s fields changed."""
    terms = dataclasses.replace(issuing(), auto_approve=True, **policy)
    return agreement_of(submitted_on_2028(vendor, terms))


# --- item 1: the agreement PDF and the renewal email ---------------------------------------


def test_an_agreement_on_an_open_ended_card_prints_the_quotes_warning_in_schedule_a(
    app: Flask,
    example_card: str,  # noqa: F811
    vendor: Any,
    signed_in: Any,
) -> None:
    # The quote said why the SDK's fee came to 0.63; the agreement printed 0.63 alone.
    ratecards.import_card(card_2028(), published_by="tests")
    agreement = issued_on_2028(vendor)
    portal: FlaskClient = signed_in(app.test_client(), vendor)
    text = flat(
        pdf_text(downloaded_pdf(portal, f"/portal/agreements/{agreement.id}/agreement.pdf"))
    )
    assert FEE_SENTENCE in text
    assert MINIMUM_SENTENCE in text
    assert "Rate card 2028.1 runs open-ended, and these fees are prorated over all of it" in text
    # Each after its own use's working, in Schedule A.
    schedule = text[text.index("Schedule A: licensed uses") : text.index("Schedule B:")]
    sdk = schedule.index("Scrubber Pro SDK (rule development)")
    assert schedule.index(MINIMUM_SENTENCE) < sdk < schedule.index(FEE_SENTENCE)


def test_an_agreement_on_a_yearly_card_says_nothing_of_proration(
    app: Flask,
    example_card: str,  # noqa: F811
    vendor: Any,
    signed_in: Any,
) -> None:
    ratecards.import_card(card_2028("2028-12-31"), published_by="tests")
    agreement = issued_on_2028(vendor)
    text = flat(pdf_text(stored_pdf(agreement)))
    assert "prorates over all of it" not in text
    assert "prorated over all of it" not in text


def test_an_agreement_issued_before_keeps_its_bytes_and_a_new_one_says_it(
    app: Flask,
    example_card: str,  # noqa: F811
    vendor: Any,
    signed_in: Any,
) -> None:
    # A card of twelve years is long at the default threshold (3,653 days), not at
    # 36,525: the first agreement is issued under the larger threshold, as one issued
    # before the warning was printed, and is served as issued under the default.
    ratecards.import_card(card_2028("2039-12-31"), published_by="tests")
    before = issued_on_2028(vendor, long_card_days=36525)
    issued_bytes = stored_pdf(before)
    assert "prorates over all of it" not in flat(pdf_text(issued_bytes))
    portal: FlaskClient = signed_in(app.test_client(), vendor)
    served = downloaded_pdf(portal, f"/portal/agreements/{before.id}/agreement.pdf")
    assert served == issued_bytes
    assert before.pdf_sha256 == db.session().get(Agreement, before.id).pdf_sha256

    after = issued_on_2028(vendor)
    text = flat(pdf_text(stored_pdf(after)))
    assert "Rate card 2028.1 runs longer than ten years, and these fees are prorated" in text
    assert "Rate card 2028.1 runs to 2039-12-31 (4,383 days)" in text


def _reminders(number: str) -> list[OutboxMessage]:
    return [
        message
        for message in db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if message.subject.endswith(f"Agreement {number}: ends on December 31, 2027")
    ]


def test_the_ending_reminder_says_what_the_long_card_makes_of_the_renewals_fees(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # "The renewal is ... priced on the rate card in effect then" said nothing of the
    # cents an open-ended card's proration would make of its fees.
    agreement = agreement_of_2027(apply, vendor)
    ratecards.import_card(card_2028(), published_by="tests")
    report = services.expire(now=datetime(2027, 11, 1, 15, 0, tzinfo=UTC))
    assert report.ending_reminded == [agreement.number]
    to_renewers, to_contact = _reminders(agreement.number)
    for message in (to_renewers, to_contact):
        body = flat(message.body_text)
        assert "priced on the rate card in effect then" in body
        assert MINIMUM_SENTENCE in body
        assert FEE_SENTENCE in body
    assert (
        "priced on the rate card in effect then in USD (the agreement's currency). "
        f"{MINIMUM_SENTENCE} {FEE_SENTENCE} Royalty "
        "reports for this term"
    ) in flat(to_renewers.body_text)


def test_the_ending_reminder_on_a_yearly_card_is_as_before(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    agreement = agreement_of_2027(apply, vendor)
    ratecards.import_card(card_2028("2028-12-31"), published_by="tests")
    services.expire(now=datetime(2027, 11, 1, 15, 0, tzinfo=UTC))
    (to_renewers, _to_contact) = _reminders(agreement.number)
    assert (
        "priced on the rate card in effect then in USD (the agreement's currency). Royalty "
        "reports for this term"
    ) in flat(to_renewers.body_text)
    assert "prorates over all of it" not in to_renewers.body_text


# --- item 2: renewals of organizations that left -------------------------------------------


def _organizations_that_left(applying: Any, vendor: Any, other_vendor: Any) -> dict[str, Agreement]:
    """A 2027 agreement (to 2027-12-31) of an active organization, of one suspended
    and of one closed since, by the standing of its organization."""
    third = factories.make_vendor(db.session())
    found = {
        "active": agreement_of_2027(applying, vendor),
        "suspended": agreement_of_2027(applying, other_vendor),
        "closed": agreement_of_2027(applying, third),
    }
    for action, user in (("suspend", other_vendor), ("close", third)):
        organization = db.session().get(Organization, user.organization_id)
        accounts.change_standing(
            db.session(), organization, action, reason="The office stopped it.", actor=Actor.SYSTEM
        )
    db.session().commit()
    return found


def test_the_cards_check_leaves_out_a_closed_organizations_renewal_and_marks_a_suspended_one(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    other_vendor: Any,
    admin: Any,
    signed_in: Any,
) -> None:
    # The check priced the renewal of an organization whose account is closed into
    # the card's effect on current licensees.
    found = _organizations_that_left(apply, vendor, other_vendor)
    card = ratecards.validate(card_2028("2028-12-31"))
    for today in (date(2027, 12, 1), date(2028, 7, 1)):  # before the card, and in it
        effect = card_effect.effect(db.session(), card, today=today)
        priced = {
            record.reference: record.licensee_suspended
            for record in effect.records
            if record.kind == "renewal"
        }
        assert priced == {found["active"].number: False, found["suspended"].number: True}
    with time_machine.travel(datetime(2027, 12, 1, 15, 0, tzinfo=UTC), tick=False):
        answer = app.test_client().post(
            "/api/v1/rate-cards/checks", json=card_2028("2028-12-31"), headers=bearer(admin)
        )
        page = checked_page(signed_in(app.test_client(), admin), card_2028("2028-12-31"))
    assert answer.status_code == 200, answer.get_json()
    records = {
        r["reference"]: r["licensee_suspended"] for r in answer.get_json()["effect"]["records"]
    }
    assert records == {found["active"].number: False, found["suspended"].number: True}
    assert (
        f"{found['suspended'].number} (renewal) licensee suspended: nothing drawn until reinstated"
    ) in page
    assert found["closed"].number not in page


def _renewals_due(app: Flask, staff: Any, signed_in: Any) -> str:
    with time_machine.travel(datetime(2027, 11, 15, 15, 0, tzinfo=UTC), tick=False):
        console: FlaskClient = signed_in(app.test_client(), staff)
        page = console.get("/console/agreements/renewals-due")
        home = text_of(console.get("/console/"))
    assert page.status_code == 200
    assert "Agreements ending within 90 days 2" in flat(home)  # the home's count too
    return page.get_data(as_text=True)


def test_the_renewals_due_leave_out_a_closed_organization_and_mark_a_suspended_one(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    # The list asked officers to follow up the renewal of a closed organization, and
    # of a suspended one as if it could draw it.
    found = _organizations_that_left(apply, vendor, other_vendor)
    html = _renewals_due(app, licensing_staff, signed_in)
    rows = {
        standing: re.search(rf"{agreement.number}</a>.*?</tr>", html, re.S)
        for standing, agreement in found.items()
    }
    assert rows["closed"] is None
    assert rows["active"] is not None
    assert rows["suspended"] is not None
    suspended, active = rows["suspended"].group(0), rows["active"].group(0)
    assert 'class="badge state-suspended">suspended</span>' in suspended
    assert "state-suspended" not in active
    assert "The licensee is suspended: it draws no renewal, and is not emailed that it ends" in (
        flat(suspended)
    )
    assert "The licensee has not been emailed that it ends" in flat(active)


def test_the_ending_reminder_goes_to_neither_a_closed_nor_a_suspended_organization(
    apply: Any,  # noqa: F811
    vendor: Any,
    other_vendor: Any,
) -> None:
    # Round 23's rule, now the renewal lists' (`queries.organization_renews`): a
    # renewal drawn now, so in good standing; the suspended one once reinstated.
    found = _organizations_that_left(apply, vendor, other_vendor)
    report = services.expire(now=datetime(2027, 11, 1, 15, 0, tzinfo=UTC))
    assert report.ending_reminded == [found["active"].number]
