"""Round 53: what a licensing reviewer's week found on the console's application and
agreement pages (docs/journeys.md, "Round 53: a licensing reviewer's week").

- The approval form offered no note, though the use case and the API take one on the
  approval (kept with the `application.approved` event, never sent to the vendor).
- An issued agreement's console page said "issued" and no more: not that it waits on
  the licensee, since when, what accepting invoices, nor when it expires unaccepted.
- The queue did not tell a renewal from a first license: its row now names the
  agreement it renews."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import DEVELOPMENT_USE, NOW, STAFF_USE
from tests.support.agreements import agreement_of, make_active_agreement, renewal_window
from tests.support.pages import text_of
from tests.support.settings import issuing

NOTE = "Approved after the revenue statement for last year came in."


def _staff(client: FlaskClient, signed_in: Any, licensing_staff: Any) -> FlaskClient:
    """Signed in at the travelled instant (a session from the real time is refused
    there as not yet begun)."""
    return signed_in(client, licensing_staff)


def _approved_event(application: Application) -> AuditEvent:
    return (
        db.session()
        .scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "application.approved")
            .where(AuditEvent.entity_id == str(application.id))
            .order_by(AuditEvent.id)
        )
        .one()
    )


def test_the_approval_form_offers_a_note_kept_with_the_approval_and_not_emailed_to_the_vendor(
    apply: Any, vendor: Any, client: FlaskClient, signed_in: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        staff = _staff(client, signed_in, licensing_staff)
        page = staff.get(f"/console/applications/{application.id}")
        assert 'name="note"' in page.get_data(as_text=True)
        assert "Note on the approval (optional)" in text_of(page)
        assert "it is not sent to the vendor" in text_of(page)
        done = staff.post(
            f"/console/applications/{application.id}/approve",
            data={"note": NOTE},
            follow_redirects=True,
        )
    assert done.status_code == 200
    assert "the agreement is issued as CPT-2027-" in text_of(done)
    assert _approved_event(application).note == NOTE
    assert NOTE in text_of(done)  # the history beside the approval
    emailed = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    approval = [m for m in emailed if vendor.email in m.to and "approved" in m.subject]
    assert len(approval) == 1
    assert NOTE not in approval[0].body_text


def test_a_note_too_long_is_the_form_again_with_its_message_and_nothing_approved(
    apply: Any, vendor: Any, client: FlaskClient, signed_in: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        staff = _staff(client, signed_in, licensing_staff)
        refused = staff.post(
            f"/console/applications/{application.id}/approve", data={"note": "x" * 5001}
        )
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert 'id="note-error"' in body
    assert 'aria-invalid="true" aria-describedby="approval-note-hint note-error"' in body
    db.session().refresh(application)
    assert application.state == "submitted"


def test_an_issued_agreement_says_it_waits_on_the_licensee_since_when_and_until_when(
    apply: Any, vendor: Any, client: FlaskClient, signed_in: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        staff = _staff(client, signed_in, licensing_staff)
        staff.post(f"/console/applications/{application.id}/approve", data={})
    agreement = agreement_of(application)
    with time_machine.travel(NOW + timedelta(days=4), tick=False):
        staff = _staff(client, signed_in, licensing_staff)
        page = text_of(staff.get(f"/console/agreements/{agreement.id}"))
    name = vendor.organization.legal_name
    assert "Waiting for the licensee's acceptance" in page
    assert f"{name} has not accepted it: issued November 3, 2026" in page
    assert ", 3 days ago." in page
    # Royalties on revenue above the minimum: nothing up front.
    assert (
        "Nothing is invoiced when they accept: royalties on usage are invoiced with their "
        "royalty reports."
    ) in page
    assert (
        "Not accepted by the end of December 31, 2027, the last day of its term, it expires" in page
    )


def test_an_issued_agreement_with_a_flat_fee_says_what_accepting_invoices(
    apply: Any, vendor: Any, client: FlaskClient, signed_in: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, DEVELOPMENT_USE)  # approved automatically
    agreement = agreement_of(application)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        staff = _staff(client, signed_in, licensing_staff)
        page = text_of(staff.get(f"/console/agreements/{agreement.id}"))
    assert "When they accept, an invoice for" in page
    assert "is issued at once, due in 30 days." in page
    assert "issued November 2, 2026" in page
    assert "1 day ago." in page


def test_an_active_agreement_says_nothing_of_waiting(
    apply: Any, vendor: Any, client: FlaskClient, signed_in: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, DEVELOPMENT_USE)
    agreement = agreement_of(application)
    with db.transaction() as session:  # put in a state by hand: only its page is read
        session.get(Agreement, agreement.id).state = "active"
    staff = _staff(client, signed_in, licensing_staff)
    page = text_of(staff.get(f"/console/agreements/{agreement.id}"))
    assert "Waiting for the licensee's acceptance" not in page


def test_a_nul_in_the_approval_note_is_the_form_again_beside_the_note(
    apply: Any, vendor: Any, client: FlaskClient, signed_in: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        staff = _staff(client, signed_in, licensing_staff)
        refused = staff.post(
            f"/console/applications/{application.id}/approve", data={"note": "after\x00call"}
        )
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert 'id="note-error"' in body
    assert "after\ufffdcall</textarea>" in body  # what was typed, to correct
    db.session().refresh(application)
    assert application.state == "submitted"


def test_the_queue_names_the_agreement_a_renewal_renews_and_nothing_for_a_first_license(
    apply: Any, vendor: Any, licensing_staff: Any, staff: FlaskClient
) -> None:
    first = apply(vendor, STAFF_USE)
    agreement = make_active_agreement(vendor, licensing_staff, STAFF_USE, now=NOW)
    actor = Actor.of(accounts.principal_for(vendor))
    drawn = renewal_window(agreement)  # the first day the service lets a renewal be drawn
    renewal = agreements.start_renewal(agreement.id, actor, now=drawn)
    agreements.submit(renewal.id, actor, policy=issuing(), attest=True, now=drawn)
    page = staff.get("/console/applications")
    assert page.status_code == 200
    rows = {
        reference: row
        for row in page.get_data(as_text=True).split("<tr")
        for reference in (first.reference, renewal.reference)
        if f">{reference}</a>" in row
    }
    assert f"renewal of {agreement.number}" in rows[renewal.reference]
    assert "renewal of" not in rows[first.reference]


def test_an_agreement_issued_after_its_term_says_it_stays_open_until_accepted_or_terminated(
    apply: Any, vendor: Any, client: FlaskClient, signed_in: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)  # the 2027 term, approved in 2028
    later = NOW.replace(year=2028, month=2)
    with time_machine.travel(later, tick=False):
        staff = _staff(client, signed_in, licensing_staff)
        staff.post(f"/console/applications/{application.id}/approve", data={})
        page = text_of(staff.get(f"/console/agreements/{agreement_of(application).id}"))
    assert "Its term was over when it was issued: it stays open to acceptance" in page
    assert "expires unaccepted" not in page


def test_the_decision_field_is_labelled_by_where_its_reason_goes(
    apply: Any, vendor: Any, client: FlaskClient, signed_in: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = _staff(client, signed_in, licensing_staff)
    page = staff.get(f"/console/applications/{application.id}").get_data(as_text=True)
    assert "Reason or message to the vendor" not in page
    assert (
        '<label for="review-reason">Reason: emailed to the vendor, or for an escalation to '
        "licensing staff</label>"
    ) in page
    assert "escalating emails it to licensing staff for the second review" in page


def test_the_agreements_console_page_names_its_application_once(
    apply: Any,
    vendor: Any,
    client: FlaskClient,
    signed_in: Any,
    licensing_staff: Any,
    billing_staff: Any,
) -> None:
    agreement = agreement_of(apply(vendor, DEVELOPMENT_USE))
    reference = agreement.application.reference
    licensing = _staff(client, signed_in, licensing_staff)
    # Above its history (whose issuing event names it too).
    page = _above_history(licensing.get(f"/console/agreements/{agreement.id}"))
    assert page.count(reference) == 1
    assert f'href="/console/applications/{agreement.application_id}"' in page
    billing = signed_in(client, billing_staff)
    page = _above_history(billing.get(f"/console/agreements/{agreement.id}"))
    # Billing staff may not open the application: its reference, unlinked, once.
    assert page.count(reference) == 1
    assert f"/console/applications/{agreement.application_id}" not in page


def _above_history(response: Any) -> str:
    page: str = response.get_data(as_text=True)
    return page.split("<h2>History</h2>")[0]
