"""Round 48: organizations that left, everywhere a card is checked. Closing an
organization withdraws its undecided applications (through the application's state
machine, audited), so none waits in the review queue, the console home's counts or
the card check for a decision no one may take; the check leaves out a closed
organization's application as it leaves out its renewal, and marks a suspended one's
(docs/journeys.md)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements import card_effect, services
from licensing.agreements.models import Agreement, Application
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from licensing.pricing import RateCard
from licensing.pricing.ratecard import OPEN_ENDED
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import (  # noqa: F401 - the fixture
    STAFF_USE,
    apply,
)
from tests.integration.pricing.conftest import card_document
from tests.integration.pricing.conftest import example_card as example_card
from tests.support import factories
from tests.support.agreements import agreement_of
from tests.support.documents import pdf_text, stored_pdf
from tests.support.factories import bearer
from tests.support.long_cards import FEE_SENTENCE, MINIMUM_SENTENCE, agreement_of_2027, card_2028
from tests.support.pages import confirmation_carried, text_of
from tests.support.rate_card_checks import checked_page
from tests.support.settings import issuing

# Written around 2027's agreements and 2028's cards: on a fixed day before them, as
# the other journeys of those years (round 47: at the real time the ending reminders
# failed from 1 January 2028, under TRAVEL_TO=2028-01-04T03:30Z).
pytestmark = pytest.mark.usefixtures("in_december_2026")


def _correction() -> dict[str, Any]:
    """2027.2 for 2027.1's days: it takes the applications waiting on a decision."""
    document = card_document(version="2027.2")
    by_id = {rule["id"]: rule for rule in document["rules"]}
    by_id["distribution-data"]["model"]["percent"] = "12"
    return document


def _card() -> RateCard:
    return ratecards.validate(_correction())


def _standing(user: Any, action: str, actor: Actor = Actor.SYSTEM) -> None:
    organization = db.session().get(Organization, user.organization_id)
    assert organization is not None
    accounts.change_standing(
        db.session(), organization, action, reason="The licensee stopped trading.", actor=actor
    )
    db.session().commit()


def _closed_before_round_48(user: Any) -> None:
    """Closed as before round 48, when closing left its applications undecided."""
    organization = db.session().get(Organization, user.organization_id)
    assert organization is not None
    organization.standing = "closed"
    db.session().commit()


def _api_effect(app: Flask, admin: Any) -> dict[str, Any]:
    """The API check's `effect` for 2027.2."""
    answer = app.test_client().post(
        "/api/v1/rate-cards/checks", json=_correction(), headers=bearer(admin)
    )
    assert answer.status_code == 200, answer.get_json()
    effect: dict[str, Any] = answer.get_json()["effect"]
    return effect


def _application_references(effect: card_effect.CardEffect) -> dict[str, bool]:
    return {
        record.reference: record.licensee_suspended
        for record in effect.records
        if record.kind == "application"
    }


# --- item 1: undecided applications of a closed organization -------------------------------


def test_closing_an_organization_withdraws_its_undecided_applications_audited(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    # Staff may not approve a closed organization's application (round 23), yet it
    # waited in the review queue and the console home's count for that decision.
    submitted = apply(vendor, STAFF_USE)
    draft = apply(vendor, STAFF_USE, submit=False)
    elsewhere = apply(other_vendor, STAFF_USE)
    console: FlaskClient = signed_in(app.test_client(), licensing_staff)
    home = text_of(console.get("/console/"))
    assert re.search(r"Applications awaiting review\s+2\b", home)

    closing = console.post(
        f"/console/organizations/{vendor.organization_id}/standing",
        data={"action": "close", "reason": "The licensee stopped trading."},
    )
    assert closing.status_code == 200
    assert (
        f"Application {submitted.reference} is submitted: closing withdraws it, since a "
        "closed organization's application is not approved."
    ) in text_of(closing)
    # Round 54: the confirming post carries what the confirmation listed (the draft is
    # withdrawn too, unlisted: nothing was asked of the office yet).
    # (Round 55: signed.)
    closed = console.post(
        f"/console/organizations/{vendor.organization_id}/standing",
        data={
            "action": "close",
            "reason": "The licensee stopped trading.",
            "confirmed": "yes",
            "confirmation": confirmation_carried(closing),
        },
    )
    assert closed.status_code in (200, 302, 303), closed.get_data(as_text=True)

    db.session().expire_all()
    states = {
        application.reference: application.state
        for application in db.session().scalars(select(Application).order_by(Application.id))
    }
    assert states == {
        submitted.reference: "withdrawn",
        draft.reference: "withdrawn",
        elsewhere.reference: "submitted",
    }
    events = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.action == "application.withdrawn",
                AuditEvent.entity_id.in_([str(submitted.id), str(draft.id)]),
            )
        )
        .all()
    )
    assert len(events) == 2
    name = db.session().get(Organization, vendor.organization_id).legal_name  # type: ignore[union-attr]
    for event in events:
        assert event.actor_user_id == licensing_staff.id
        assert event.note == f"{name}'s account was closed: The licensee stopped trading."
        assert event.after_data == {"state": "withdrawn"}

    told = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subject.contains("standing is now closed"))
            .order_by(OutboxMessage.id)
        )
        .all()
    )
    # Round 49: naming them.
    withdrawn = (
        "Its 2 applications not yet decided, drafts included, are withdrawn, since no closed "
        f"organization's application is approved: {submitted.reference} and {draft.reference}."
    )
    assert [withdrawn in " ".join(message.body_text.split()) for message in told] == (
        [True, False]  # the licensing readers; the billing contact applies for nothing
    )

    queue = text_of(console.get("/console/applications"))
    assert submitted.reference not in queue
    assert elsewhere.reference in queue
    assert re.search(r"Applications awaiting review\s+1\b", text_of(console.get("/console/")))


def test_closing_refuses_to_withdraw_an_application_submitted_after_its_confirmation(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    # Round 54: the confirmation listed one application; the vendor submitted another
    # before the press, which closing withdrew too, though no one was shown it.
    listed = apply(vendor, STAFF_USE)
    console: FlaskClient = signed_in(app.test_client(), licensing_staff)
    url = f"/console/organizations/{vendor.organization_id}/standing"
    form = {"action": "close", "reason": "The licensee stopped trading."}
    shown = confirmation_carried(console.post(url, data=form))
    appeared = apply(vendor, STAFF_USE)

    refused = console.post(url, data={**form, "confirmed": "yes", "confirmation": shown})

    assert refused.status_code == 409
    name = db.session().get(Organization, vendor.organization_id).legal_name  # type: ignore[union-attr]
    assert (
        f"Not closed: {name} submitted application {appeared.reference} after the closing "
        "was shown to confirm, and closing would withdraw it unlisted. Nothing changed"
    ) in text_of(refused)
    db.session().expire_all()
    assert db.session().get(Organization, vendor.organization_id).standing == "active"  # type: ignore[union-attr]
    states = {a.id: a.state for a in db.session().scalars(select(Application))}
    assert states == {listed.id: "submitted", appeared.id: "submitted"}
    withdrawals = select(AuditEvent).where(AuditEvent.action == "application.withdrawn")
    assert db.session().scalars(withdrawals).all() == []
    closings = select(OutboxMessage).where(OutboxMessage.subject.contains("standing is now"))
    assert db.session().scalars(closings).all() == []
    # Asked again, the confirmation lists both, and closing withdraws both.
    again = console.post(url, data=form)
    assert appeared.reference in text_of(again)
    both = confirmation_carried(again)
    done = console.post(url, data={**form, "confirmed": "yes", "confirmation": both})
    assert done.status_code in (302, 303)
    db.session().expire_all()
    assert {a.state for a in db.session().scalars(select(Application))} == {"withdrawn"}


def test_the_cards_check_leaves_out_a_closed_organizations_application_and_marks_a_suspended_one(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    other_vendor: Any,
    admin: Any,
    signed_in: Any,
) -> None:
    # The check counted the undecided application of an organization closed before
    # round 48 (closing then left it undecided) into the card's effect.
    third = factories.make_vendor(db.session())
    db.session().commit()
    active = apply(vendor, STAFF_USE)
    suspended = apply(other_vendor, STAFF_USE)
    closed = apply(third, STAFF_USE)
    _standing(other_vendor, "suspend")
    _closed_before_round_48(third)
    assert db.session().get(Application, closed.id).state == "submitted"  # type: ignore[union-attr]

    effect = card_effect.effect(db.session(), _card())
    assert _application_references(effect) == {
        active.reference: False,
        suspended.reference: True,
    }
    assert effect.count == 2
    records = {r["reference"]: r["licensee_suspended"] for r in _api_effect(app, admin)["records"]}
    assert records == {active.reference: False, suspended.reference: True}
    page = checked_page(signed_in(app.test_client(), admin), _correction())
    assert (
        f"{suspended.reference} staff review on 2027.2 licensee suspended: not approved until "
        "reinstated"
    ) in page
    assert closed.reference not in page


# --- item 2: the suspended organizations' share of the check's totals ----------------------


def test_the_cards_check_says_the_suspended_organizations_share_of_its_totals(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    other_vendor: Any,
    admin: Any,
    signed_in: Any,
) -> None:
    # The totals, and the sums per organization, counted a suspended licensee's
    # records as any other's, without saying which part of them may not take the
    # price until it is reinstated.
    apply(vendor, STAFF_USE)
    held = apply(other_vendor, STAFF_USE)
    apply(other_vendor, STAFF_USE)
    _standing(other_vendor, "suspend")
    names = {
        user.organization_id: db.session().get(Organization, user.organization_id).legal_name  # type: ignore[union-attr]
        for user in (vendor, other_vendor)
    }

    effect = card_effect.effect(db.session(), _card())
    suspended = [record for record in effect.records if record.licensee_suspended]
    assert held.reference in {record.reference for record in suspended}
    assert len(suspended) == 2
    share = effect.suspended
    assert share.records == 2
    assert share.now == sum(record.now for record in suspended)
    assert share.then == sum(record.then or 0 for record in suspended)
    assert share.now < effect.now  # a part of the totals, not beside them
    assert {row.organization: row.suspended for row in effect.organizations} == {
        names[vendor.organization_id]: False,
        names[other_vendor.organization_id]: True,
    }

    found = _api_effect(app, admin)
    assert found["suspended"] == {
        "records": 2,
        "now": f"{share.now:.2f}",
        "then": f"{share.then:.2f}",
        "change": f"{share.change:.2f}",
    }
    assert {row["organization"]: row["suspended"] for row in found["organizations"]} == {
        names[vendor.organization_id]: False,
        names[other_vendor.organization_id]: True,
    }

    page = checked_page(signed_in(app.test_client(), admin), _correction())
    assert "Of which suspended licensees 2 records:" in page
    assert f"{names[other_vendor.organization_id]} suspended 2" in page
    assert f"{names[vendor.organization_id]} suspended" not in page


def test_a_check_without_suspended_licensees_says_no_share(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    admin: Any,
    signed_in: Any,
) -> None:
    apply(vendor, STAFF_USE)
    effect = card_effect.effect(db.session(), _card())
    assert effect.suspended == card_effect.Share()
    assert _api_effect(app, admin)["suspended"] == {
        "records": 0,
        "now": "0.00",
        "then": "0.00",
        "change": "0.00",
    }
    assert "Of which suspended licensees" not in checked_page(
        signed_in(app.test_client(), admin), _correction()
    )


# --- item 3: the renewal's approval email on a long card -----------------------------------


def _renewal_approved(applying: Any, vendor: Any, effective_to: str) -> tuple[Agreement, str]:
    """The vendor's 2027 agreement renewed on 2028.1 (to `effective_to`), the renewal
    approved at once: its agreement, and the approval email's text, lines made one."""
    agreement = agreement_of_2027(applying, vendor)
    ratecards.import_card(card_2028(effective_to), published_by="tests")
    actor = Actor.of(accounts.principal_for(vendor))
    december = datetime(2027, 12, 1, 15, 0, tzinfo=UTC)
    renewal = services.start_renewal(agreement.id, actor, now=december)
    terms = dataclasses.replace(issuing(), auto_approve=True)
    approved = services.submit(renewal.id, actor, policy=terms, attest=True, now=december)
    assert approved.state == "approved"
    renewed = agreement_of(approved)
    message = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subject.contains(f"agreement {renewed.number} is ready to accept"))
            .order_by(OutboxMessage.id.desc())
        )
        .first()
    )
    assert message is not None
    return renewed, " ".join(message.body_text.split())


def test_a_renewals_approval_email_on_an_open_ended_card_says_what_its_proration_makes(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # It stated the amount invoiced on acceptance, in cents, and nothing of why; the
    # agreement it links to says it in Schedule A.
    renewed, body = _renewal_approved(apply, vendor, OPEN_ENDED.isoformat())
    assert (renewed.term_start, renewed.term_end) == (date(2028, 1, 1), date(2028, 12, 31))
    assert f"invoiced with your royalty reports. {MINIMUM_SENTENCE} {FEE_SENTENCE} Read it" in (
        body
    )
    schedule = " ".join(pdf_text(stored_pdf(renewed)).split())
    assert MINIMUM_SENTENCE in schedule  # the same sentences, one source
    assert FEE_SENTENCE in schedule


def test_a_renewals_approval_email_on_a_yearly_card_is_as_before(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    _renewed, body = _renewal_approved(apply, vendor, "2028-12-31")
    assert "invoiced with your royalty reports. Read it and accept it online" in body
    assert "prorates over all of it" not in body
