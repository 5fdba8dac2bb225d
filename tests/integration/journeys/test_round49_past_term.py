"""Round 49: an application for a term that has already ended. On 2028-01-04 a
vendor's draft for 2027 was approved automatically at submission, and accepting it
said the agreement was "accepted and active" a year after its term ended. A term
wholly past licenses past use only: it goes to staff review whatever the card's
rule says, staff are told so, and the agreement accepted goes straight to
`expired`, its reports due (docs/journeys.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from licensing.royalties.services.obligations import agreement_periods
from tests.integration.agreements.conftest import (  # noqa: F401 - the fixture
    AUTO_USE,
    apply,
    draft,
)
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import (
    accept,
    accepted_on_the_page,
    accepted_through_the_api,
    agreement_of,
)
from tests.support.factories import bearer
from tests.support.long_cards import agreement_of_2027, card_2028
from tests.support.page_days import in_words
from tests.support.pages import text_of
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]
# Tuesday 2028-01-04, 15:00 UTC (09:00 at the office): the 2027 term ended on
# 2027-12-31, four days before.
JANUARY = datetime(2028, 1, 4, 15, 0, tzinfo=UTC)
TERM = {"term_start": "2027-01-01", "term_end": "2027-12-31"}
WHY = (
    "The term ended on 2027-12-31, before today: a license for it covers past use only, "
    "so licensing staff review the application (it is not approved automatically), and "
    "once accepted its agreement is expired at once, its royalty reports due."
)


def _submitted_through_the_api(
    client: FlaskClient, vendor: Any, *, past_term: str | None = WHY
) -> dict[str, Any]:
    """A 2027 draft created and submitted through the API on the clock set; the
    draft's `past_term` is checked on the way (`past_term`, or null)."""
    headers = bearer(vendor)
    created = client.post(
        "/api/v1/applications", json={**TERM, "uses": [AUTO_USE]}, headers=headers
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["past_term"] == past_term  # told before submitting
    submitted = client.post(
        f"/api/v1/applications/{created.get_json()['id']}/submit",
        json={"attest": True},
        headers=headers,
    )
    assert submitted.status_code == 200, submitted.get_json()
    answer: dict[str, Any] = submitted.get_json()
    return answer


def _submitted_in_january(vendor: Any, staff: Any) -> Agreement:
    """The 2027 application submitted on 2028-01-04 and approved by `staff`."""
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(vendor_actor, draft(AUTO_USE), now=JANUARY)
    agreements.submit(application.id, vendor_actor, policy=issuing(), attest=True, now=JANUARY)
    return _approved(application.id, staff)


def _approved(application_id: int, staff: Any) -> Agreement:
    actor = Actor.of(accounts.principal_for(staff))
    agreements.approve(application_id, actor, policy=issuing(), now=JANUARY)
    application = db.session().get(Application, application_id)
    assert application is not None
    return agreement_of(application)


def test_a_term_already_over_goes_to_staff_review_and_the_vendor_is_told_why(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    # AUTO_USE is `review: auto` on the card: a 2027 term in 2027 is approved at once.
    with time_machine.travel(JANUARY, tick=False):
        answer = _submitted_through_the_api(client, vendor)
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/applications/{answer['id']}"))
        signed_in(client, licensing_staff)
        review = text_of(client.get(f"/console/applications/{answer['id']}"))
    assert answer["state"] == "submitted"  # was "approved"
    assert answer["past_term"] == WHY
    assert in_words(WHY) in page  # round 59: the page says its day in words
    assert db.session().scalars(select(Agreement)).all() == []
    # Staff are told on the review page (beside the approval form), the periods counted.
    assert (
        in_words(
            "The term ended on 2027-12-31, before today: approving it licenses past use only, "
            "and the agreement is expired as soon as the licensee accepts it. The royalty "
            "reports of all 4 periods (2027-01-01 to 2027-12-31) are reportable at once: they "
            "can be filed as soon as the licensee accepts, their royalties invoiced with them."
        )
        in review
    )
    # The submission's audit event says why it waits for staff.
    submitted = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.entity_type == "application",
                AuditEvent.entity_id == str(answer["id"]),
                AuditEvent.action == "application.submitted",
            )
        )
        .one()
    )
    assert submitted.note == WHY
    staff_email = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.subject.contains("a new application")))
        .one()
    )
    assert "Its term ended on December 31, 2027, before the submission" in staff_email.body_text


def test_the_same_term_before_it_ends_is_still_approved_automatically(
    client: FlaskClient,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    # On the term's last day it is not over yet: nothing changes.
    with time_machine.travel(datetime(2027, 12, 31, 15, 0, tzinfo=UTC), tick=False):
        answer = _submitted_through_the_api(client, vendor, past_term=None)
    assert answer["state"] == "approved"
    assert answer["past_term"] is None


def test_accepting_an_agreement_for_a_term_already_over_expires_it_with_its_reports_due(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    with time_machine.travel(JANUARY, tick=False):
        answer = _submitted_through_the_api(client, vendor)
        agreement = _approved(answer["id"], licensing_staff)
        # The hourly run leaves it open to acceptance: it was issued after its term,
        # where one whose term ran out while it waited is expired unaccepted.
        assert agreements.expire(now=JANUARY).expired == []
        signed_in(client, vendor)
        page = text_of(accepted_on_the_page(client, agreement))
    db.session().refresh(agreement)
    assert agreement.state == "expired"  # was "active", a year after its term
    assert agreement.activated_at is not None
    assert agreement.ended_at == agreement.activated_at  # never before the acceptance
    told = (
        f"The term ended on December 31, 2027, before this acceptance: the license covers past "
        f"use only, from January 1, 2027 to December 31, 2027, so the agreement is expired at "
        f"once. Its royalty reports are due now: file them under {agreement.number}."
    )
    assert f"Agreement {agreement.number} is accepted. {told}" in page
    assert "accepted and active" not in page
    # One email says it (the expiry's own is not sent as well).
    emails = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.subject.contains(agreement.number)))
        .all()
    )
    subjects = [m.subject for m in emails]
    assert f"Agreement {agreement.number}: accepted for a term already ended" in subjects
    assert not [s for s in subjects if s.endswith(("accepted and active", "expired"))]
    (email,) = [m for m in emails if m.subject.endswith("already ended")]
    assert told in " ".join(email.body_text.split())
    # Audited: accepted, then expired by the signer, saying why.
    steps = (
        db.session()
        .scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "agreement", AuditEvent.entity_id == str(agreement.id))
            .order_by(AuditEvent.id)
        )
        .all()
    )
    assert [e.action for e in steps][-2:] == ["agreement.accepted", "agreement.expired"]
    assert steps[-1].note == agreements.EXPIRED_ON_ACCEPTANCE
    # Every period is reportable at once, and due from the acceptance (round 50: three
    # were `overdue` by the contract's due dates).
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    _, periods = agreement_periods(agreement.id, vendor_actor, now=JANUARY)
    assert [p.state for p in periods] == ["due", "due", "due", "due"]
    # The expiry run has nothing more to do.
    assert agreements.expire(now=JANUARY).expired == []


def test_accepting_through_the_api_answers_the_agreement_expired(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    agreement = _submitted_in_january(vendor, licensing_staff)
    with time_machine.travel(JANUARY, tick=False):
        accepted = accepted_through_the_api(client, agreement, vendor)
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["state"] == "expired"
    assert accepted.get_json()["ended_at"] is not None


def test_an_agreement_whose_term_ran_out_while_it_waited_still_expires_unaccepted(
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    # Issued in 2027 for 2027 and never accepted: the run expires it, as before.
    issued_on = datetime(2027, 6, 1, 15, 0, tzinfo=UTC)
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(vendor_actor, draft(AUTO_USE), now=issued_on)
    with time_machine.travel(issued_on, tick=False):
        agreements.submit(
            application.id, vendor_actor, policy=issuing(), attest=True, now=issued_on
        )
    agreement = agreement_of(application)
    assert agreement.number in agreements.expire(now=JANUARY).expired


def test_an_approval_of_a_term_already_over_tells_the_vendor_it_covers_past_use_only(
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    agreement = _submitted_in_january(vendor, licensing_staff)
    (approval,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.subject.contains("ready to accept"))
    )
    body = " ".join(approval.body_text.split())
    assert (
        "The term ended on December 31, 2027, before this approval: the license covers past use "
        "only, from January 1, 2027 to December 31, 2027, and the agreement is expired as soon "
        "as you accept it. The royalty reports of all 4 periods (January 1, 2027 to December "
        "31, 2027) are reportable at once: they can be filed as soon as you accept it" in body
    )
    accepted = accept(agreement, vendor, now=JANUARY)
    assert accepted.state == "expired"
    assert calendar.office_date(accepted.ended_at or JANUARY) == date(2028, 1, 4)


def test_a_renewal_drawn_after_the_old_term_ended_is_not_a_term_already_over(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # Drawn late, a renewal starts on the office's day (round 44), so it is approved
    # automatically as before, and accepted it is active.
    old = agreement_of_2027(apply, vendor)
    ratecards.import_card(card_2028("2028-12-31", "2500.00"), published_by="tests")
    actor = Actor.of(accounts.principal_for(vendor))
    renewal = agreements.start_renewal(old.id, actor, now=JANUARY)
    assert renewal.term_start == date(2028, 1, 4)
    with time_machine.travel(JANUARY, tick=False):
        submitted = agreements.submit(renewal.id, actor, policy=issuing(), attest=True, now=JANUARY)
    assert submitted.state == "approved"
    assert accept(agreement_of(submitted), vendor, now=JANUARY).state == "active"
