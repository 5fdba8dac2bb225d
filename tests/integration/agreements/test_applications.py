"""Applications and agreements through the services: auto-approval, staff review,
modifications, reconsideration windows, expiry, acceptance and renewal."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from licensing import calendar, db, signals
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Agreement, Application, ImmutableRecordChanged
from licensing.agreements.settings import IssuingPolicy
from licensing.audit.models import AuditEvent
from licensing.errors import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from licensing.mail.models import OutboxMessage
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support import factories
from tests.support.agreements import agreement_of, renewal_window
from tests.support.documents import stored_pdf
from tests.support.settings import issuing

Apply = Callable[..., Application]


def _p(user: Any) -> Actor:
    """`user` as the use cases take the one acting."""
    return Actor.of(accounts.principal_for(user))


def _accept(agreement: Agreement, vendor: Any, **changes: Any) -> Agreement:
    given = {
        "signer_name": "Robin Castellanos",
        "signer_title": "Chief Executive",
        "authority_confirmed": True,
        "pdf_sha256": agreement.pdf_sha256,
        "ip_address": "198.51.100.7",
        "user_agent": "pytest",
        **changes,
    }
    return services.accept(agreement.id, _p(vendor), services.AcceptanceInput(**given), now=NOW)


def _actions(application_id: int) -> list[str]:
    return list(
        db.session().scalars(
            select(AuditEvent.action)
            .where(
                AuditEvent.entity_type == "application", AuditEvent.entity_id == str(application_id)
            )
            .order_by(AuditEvent.seq)
        )
    )


def test_a_draft_is_saved_and_changed_before_submission(apply: Apply, vendor: Any) -> None:
    application = apply(vendor, submit=False)
    assert application.state == "draft"
    assert application.quotes == []
    changed = services.update_draft(
        application.id,
        _p(vendor),
        services.ApplicationDraft.from_fields(
            {"uses": [{**AUTO_USE, "product_name": "Scrubber Lite"}]}
        ),
    )
    assert [use.product_name for use in changed.uses] == ["Scrubber Lite"]
    assert _actions(application.id) == ["application.created", "application.updated"]


def test_submission_needs_the_attestation_and_a_complete_application(
    apply: Apply, vendor: Any
) -> None:
    application = apply(vendor, submit=False)
    with pytest.raises(InvalidInput) as refused:
        services.submit(application.id, _p(vendor), policy=issuing(), attest=False)
    assert "attest" in refused.value.errors
    services.update_draft(
        application.id,
        _p(vendor),
        services.ApplicationDraft.from_fields({"uses": [{**AUTO_USE, "product_name": ""}]}),
    )
    with pytest.raises(InvalidInput) as incomplete:
        services.submit(application.id, _p(vendor), policy=issuing(), attest=True)
    assert {"term_start", "term_end", "uses.0.product_name"} <= set(incomplete.value.errors)
    assert db.session().get(Application, application.id).state == "draft"


def test_every_auto_reviewed_line_in_good_standing_is_approved_at_submission(
    apply: Apply, vendor: Any
) -> None:
    application = apply(vendor, AUTO_USE)
    assert application.state == "approved"
    agreement = agreement_of(application)
    assert agreement.state == "issued"
    assert agreement.number == "CPT-2027-000001"
    assert agreement.total == Decimal("33800.00")
    snapshot = application.quotes[0].snapshot
    assert snapshot["rate_card"] == "2027.1"
    assert snapshot["lines"][0]["amount"] == "33800.00"
    assert "application.auto_approved" in _actions(application.id)


def test_approving_and_issuing_audit_the_total_with_the_currencys_two_digits(
    apply: Apply, vendor: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = factories.staff_actor()
    services.start_review(application.id, staff, now=NOW)
    db.session().expire_all()  # the total read back from its column, as a new request reads it
    services.approve(application.id, staff, policy=issuing(), now=NOW)

    def total(action: str, entity_id: int) -> str:
        event = (
            db.session()
            .scalars(
                select(AuditEvent).where(
                    AuditEvent.action == action, AuditEvent.entity_id == str(entity_id)
                )
            )
            .one()
        )
        assert event.after is not None
        value: str = json.loads(event.after)["total"]
        return value

    # Audit payloads are exported: never the column's four places ("8000.0000").
    assert total("application.approved", application.id) == "8000.00"
    assert total("agreement.issued", agreement_of(application).id) == "8000.00"


@pytest.mark.parametrize("config_changes", [{"auto_approve": False}])
def test_auto_approval_can_be_switched_off(apply: Apply, vendor: Any) -> None:
    assert apply(vendor, AUTO_USE).state == "submitted"


def test_submission_follows_the_issuing_policy_it_is_given_not_the_app_configuration(
    apply: Apply, vendor: Any
) -> None:
    held = IssuingPolicy(
        auto_approve=False, payment_terms_days=45, late_fee_monthly_percent=Decimal("2")
    )
    application = apply(vendor, AUTO_USE, submit=False)
    submitted = services.submit(application.id, _p(vendor), policy=held, attest=True, now=NOW)
    assert submitted.state == "submitted"

    terms = dataclasses.replace(held, auto_approve=True)
    approved = apply(vendor, AUTO_USE, submit=False)
    services.submit(approved.id, _p(vendor), policy=terms, attest=True, now=NOW)
    agreement = agreement_of(approved)
    assert (agreement.payment_terms_days, agreement.late_fee_monthly_percent) == (
        45,
        Decimal("2"),
    )


def test_an_organization_not_in_good_standing_cannot_apply(apply: Apply) -> None:
    session = db.session()
    owing = factories.make_vendor(
        session, organization=factories.make_organization(session, standing="pending_payment")
    )
    with pytest.raises(Conflict, match="overdue invoice"):
        apply(owing, submit=False)


def test_a_line_needing_review_goes_to_staff_who_are_emailed(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, AUTO_USE, STAFF_USE)
    assert application.state == "submitted"
    waiting = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "application_waiting"))
        .all()
    )
    assert any(licensing_staff.email in message.recipients for message in waiting)


def test_staff_return_the_vendor_resubmits_and_staff_approve_with_a_modified_amount(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    staff = _p(licensing_staff)
    application = apply(vendor, AUTO_USE, STAFF_USE)
    services.start_review(application.id, staff, now=NOW)
    returned = services.return_for_information(
        application.id, "What revenue in Canada?", staff, now=NOW
    )
    assert returned.state == "returned"
    # Monday 2026-11-02 + 5 business days (Veterans Day, the 11th, is a holiday) = 2026-11-10.
    assert returned.resubmit_by.date().isoformat() in ("2026-11-10", "2026-11-11")
    services.update_draft(
        application.id,
        _p(vendor),
        services.ApplicationDraft.from_fields(
            {
                "term_start": returned.term_start,
                "term_end": returned.term_end,
                "uses": [AUTO_USE, {**STAFF_USE, "revenue": "90000.00"}],
            }
        ),
        now=NOW + timedelta(days=1),  # before its deadline (round 58: a late change is refused)
    )
    resubmitted = services.submit(
        application.id,
        _p(vendor),
        policy=issuing(),
        attest=True,
        response="About 10000",
        now=NOW + timedelta(days=1),
    )
    assert resubmitted.state == "submitted"
    services.start_review(application.id, staff, now=NOW)
    approved = services.approve(
        application.id,
        staff,
        policy=issuing(),
        modifications=services.Modifications(
            lines=[services.LineChange(1, Decimal("7500.00"), "pilot rate for the first year")]
        ),
        now=NOW,
    )
    assert approved.state == "approved"
    kinds = [(q.version, q.kind) for q in approved.quotes]
    assert kinds == [(1, "submitted"), (2, "submitted"), (3, "modified")]
    submitted, modified = approved.quotes[1], approved.quotes[2]
    assert submitted.total == Decimal("42800.00")  # 33800.00 + 10% of 90000.00
    assert modified.total == Decimal("41300.00")  # 33800.00 + 7500.00
    assert modified.modifications[0]["reason"] == "pilot rate for the first year"
    agreement = agreement_of(approved)
    assert agreement.total == Decimal("41300.00")
    text = "\n".join(
        page.extract_text() for page in PdfReader(io.BytesIO(stored_pdf(agreement))).pages
    )
    assert "pilot rate for the first year" in " ".join(text.split())  # however it wraps
    assert "41,300.00" in text or "41300.00" in text
    assert "CPT © 2026 American Medical Association. All rights reserved." in text
    assert "CPT® is a registered trademark of the American Medical Association." in text
    assert "Royalty report of usage and revenue from January 1, 2027 to March 31, 2027" in text
    assert "1.5% of the overdue" in text
    assert "Distribution of licensed products" in text  # the use category's standard terms
    actions = _actions(application.id)
    for action in (
        "application.submitted",
        "application.review_started",
        "application.returned",
        "application.resubmitted",
        "application.approved",
        "application.quote_stored",
    ):
        assert action in actions


def test_a_modification_needs_a_reason_and_an_unpriced_line_needs_an_amount(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    staff = _p(licensing_staff)
    application = apply(vendor, STAFF_USE)
    with pytest.raises(InvalidInput) as no_reason:
        services.approve(
            application.id,
            staff,
            policy=issuing(),
            modifications=services.Modifications(
                lines=[services.LineChange(0, Decimal("1.00"), " ")]
            ),
        )
    assert "lines.0.reason" in no_reason.value.errors
    assert db.session().get(Application, application.id).state == "submitted"


def test_the_vendor_never_sees_internal_notes(
    apply: Apply, vendor: Any, licensing_staff: Any, client: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)
    services.add_note(application.id, "Their Canadian revenue looks low.", _p(licensing_staff))
    headers = factories.bearer(vendor)
    body = client.get(f"/api/v1/applications/{application.id}", headers=headers).get_data(
        as_text=True
    )
    assert "Canadian revenue looks low" not in body
    assert (
        client.get(f"/api/v1/applications/{application.id}/notes", headers=headers).status_code
        == 403
    )
    staff_notes = client.get(
        f"/api/v1/applications/{application.id}/notes", headers=factories.bearer(licensing_staff)
    ).get_json()
    assert [note["body"] for note in staff_notes] == ["Their Canadian revenue looks low."]
    vendor_page = signed_in(app.test_client(), vendor).get(f"/portal/applications/{application.id}")
    assert vendor_page.status_code == 200
    assert "Canadian revenue looks low" not in vendor_page.get_data(as_text=True)
    staff_page = signed_in(app.test_client(), licensing_staff).get(
        f"/console/applications/{application.id}"
    )
    assert "Canadian revenue looks low" in staff_page.get_data(as_text=True)


def test_an_escalated_application_is_decided_by_a_second_reviewer(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    first = _p(licensing_staff)
    second = _p(factories.make_staff(db.session(), roles=("licensing",)))
    application = apply(vendor, STAFF_USE)
    services.start_review(application.id, first)
    services.escalate(application.id, "Unusual territory", first)
    with pytest.raises(Conflict, match="second reviewer"):
        services.reject(application.id, "No", first)
    assert services.approve(application.id, second, policy=issuing()).state == "approved"


def test_reconsideration_inside_the_14_days_is_granted_and_outside_refused(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    staff = _p(licensing_staff)
    inside = apply(vendor, STAFF_USE)
    services.reject(inside.id, "Revenue not evidenced", staff, now=NOW)
    asked = services.request_reconsideration(
        inside.id, "Audited accounts attached", _p(vendor), now=NOW + timedelta(days=13, hours=23)
    )
    assert asked.state == "reconsideration_requested"
    assert services.grant_reconsideration(inside.id, staff, now=NOW).state == "in_review"

    outside = apply(vendor, STAFF_USE)
    services.reject(outside.id, "Revenue not evidenced", staff, now=NOW)
    with pytest.raises(Conflict, match="14 days"):
        services.request_reconsideration(
            outside.id, "Too late", _p(vendor), now=NOW + timedelta(days=14, seconds=1)
        )
    report = services.expire(now=NOW + timedelta(days=15))
    assert outside.reference in report.windows_closed
    assert services.expire(now=NOW + timedelta(days=16)).windows_closed == []


def test_a_denied_reconsideration_is_final(apply: Apply, vendor: Any, licensing_staff: Any) -> None:
    staff = _p(licensing_staff)
    application = apply(vendor, STAFF_USE)
    services.reject(application.id, "No", staff, now=NOW)
    services.request_reconsideration(application.id, "Please", _p(vendor), now=NOW)
    assert (
        services.deny_reconsideration(application.id, "Still no", staff, now=NOW).state
        == "rejected"
    )
    with pytest.raises(Conflict, match="once"):
        services.request_reconsideration(application.id, "Again", _p(vendor), now=NOW)


def test_a_returned_application_lapses_after_5_business_days_and_only_once(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    services.return_for_information(
        application.id, "Send the revenue", _p(licensing_staff), now=NOW
    )
    assert services.expire(now=NOW + timedelta(days=3)).lapsed == []
    assert services.expire(now=NOW + timedelta(days=12)).lapsed == [application.reference]
    assert services.expire(now=NOW + timedelta(days=13)).lapsed == []
    assert db.session().get(Application, application.id).state == "lapsed"
    with pytest.raises(IllegalTransition):
        services.submit(application.id, _p(vendor), policy=issuing(), attest=True)


def test_acceptance_records_the_signer_and_the_pdf_digest_and_signals_billing(
    apply: Apply, vendor: Any
) -> None:
    development = {**AUTO_USE, "use": "development", "product_name": "Scrubber SDK"}
    agreement = agreement_of(apply(vendor, AUTO_USE, development))
    received: list[signals.ActivatedAgreement] = []

    def receiver(sender: signals.ActivatedAgreement, **kwargs: Any) -> None:
        received.append(sender)

    signals.agreement_activated.connect(receiver)
    try:
        with pytest.raises(InvalidInput) as missing:
            _accept(agreement, vendor, authority_confirmed=False, signer_title="")
        assert {"authority_confirmed", "signer_title"} <= set(missing.value.errors)
        with pytest.raises(Conflict, match="SHA-256"):
            _accept(agreement, vendor, pdf_sha256="0" * 64)
        accepted = _accept(agreement, vendor)
    finally:
        signals.agreement_activated.disconnect(receiver)
    assert accepted.state == "active"
    assert accepted.acceptance.signer_name == "Robin Castellanos"
    assert accepted.acceptance.pdf_sha256 == hashlib.sha256(stored_pdf(accepted)).hexdigest()
    assert accepted.acceptance.ip_address == "198.51.100.7"
    # Only the flat development fee is due up front; per-user royalties are not.
    assert [(c.line_index, c.amount) for c in received[0].charges] == [(1, Decimal("2500.00"))]
    assert received[0].number == accepted.number
    with pytest.raises(IllegalTransition):
        _accept(accepted, vendor)


def test_another_organization_cannot_accept(apply: Apply, vendor: Any, other_vendor: Any) -> None:
    agreement = agreement_of(apply(vendor, AUTO_USE))
    with pytest.raises(NotFound):
        _accept(agreement, other_vendor)


def test_an_issued_pdf_never_changes(apply: Apply, vendor: Any) -> None:
    agreement = agreement_of(apply(vendor, AUTO_USE))
    agreement.pdf = b"%PDF-forged"
    with pytest.raises(ImmutableRecordChanged):
        db.session().flush()
    db.session().rollback()


def test_agreement_numbers_are_sequential_per_year(apply: Apply, vendor: Any) -> None:
    numbers = [agreement_of(apply(vendor, AUTO_USE)).number for _ in range(3)]
    assert numbers == ["CPT-2027-000001", "CPT-2027-000002", "CPT-2027-000003"]


def test_agreements_past_their_term_expire_and_staff_terminate_with_a_reason(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    ending = _accept(agreement_of(apply(vendor, AUTO_USE)), vendor)
    report = services.expire(now=NOW.replace(year=2028, month=1, day=2))
    assert ending.number in report.expired
    assert db.session().get(Agreement, ending.id).state == "expired"
    other = agreement_of(apply(vendor, AUTO_USE))
    with pytest.raises(InvalidInput):
        services.terminate(other.id, " ", _p(licensing_staff))
    with pytest.raises(PermissionDenied):
        services.terminate(other.id, "Breach", _p(vendor))
    assert (
        services.terminate(other.id, "Breach of clause 3", _p(licensing_staff)).state
        == "terminated"
    )


def test_a_renewal_is_prefilled_and_supersedes_the_old_agreement_when_its_term_starts(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    old = _accept(agreement_of(apply(vendor, AUTO_USE)), vendor)
    renewal = services.start_renewal(old.id, _p(vendor), now=renewal_window(old))
    assert renewal.state == "draft"
    assert renewal.renewal_of_id == old.id
    assert renewal.term_start.isoformat() == "2028-01-01"
    assert [use.product_name for use in renewal.uses] == ["Scrubber Pro"]
    with pytest.raises(Conflict, match="already renews"):
        services.start_renewal(old.id, _p(vendor), now=renewal_window(old))
    # No 2028 card is published here: the renewal is priced once staff publish one.
    services.update_draft(
        renewal.id,
        _p(vendor),
        services.ApplicationDraft.from_fields(
            {"term_start": old.term_start, "term_end": old.term_end, "uses": [AUTO_USE]}
        ),
    )
    submitted = services.submit(renewal.id, _p(vendor), policy=issuing(), attest=True, now=NOW)
    new = agreement_of(submitted)
    _accept(new, vendor)
    linked = db.session().get(Agreement, old.id)
    assert (linked.state, linked.superseded_by_id, linked.ended_at) == ("active", new.id, None)
    # The renewal's term was moved to start with the old one's (2027-01-01): the old
    # agreement gives way when the renewal's term starts, not at its own term's end.
    assert services.expire(now=datetime(2027, 1, 1, 5, 0, tzinfo=UTC)).superseded == []
    report = services.expire(now=datetime(2027, 1, 1, 7, 0, tzinfo=UTC))
    assert report.superseded == [old.number]
    assert report.expired == []
    ended = db.session().get(Agreement, old.id)
    assert ended.state == "superseded"
    assert ended.ended_at == calendar.end_of_office_day(date(2026, 12, 31))


def test_a_renewal_accepted_after_the_old_term_ended_supersedes_it_at_once(
    apply: Apply, vendor: Any
) -> None:
    # Accepted before the expiry run reached the old agreement: nothing is left to
    # wait for, and the old one ends when its term did.
    old = _accept(agreement_of(apply(vendor, AUTO_USE)), vendor)
    draft = services.start_renewal(old.id, _p(vendor), now=renewal_window(old))
    services.update_draft(
        draft.id,
        _p(vendor),
        services.ApplicationDraft.from_fields(
            {"term_start": old.term_start, "term_end": old.term_end, "uses": [AUTO_USE]}
        ),
    )
    new = agreement_of(
        services.submit(draft.id, _p(vendor), policy=issuing(), attest=True, now=NOW)
    )
    late = datetime(2028, 1, 1, 9, 0, tzinfo=UTC)
    services.accept(
        new.id,
        _p(vendor),
        services.AcceptanceInput(
            signer_name="Robin Castellanos",
            signer_title="Chief Executive",
            authority_confirmed=True,
            pdf_sha256=new.pdf_sha256,
            ip_address="198.51.100.7",
            user_agent="pytest",
        ),
        now=late,
    )
    ended = db.session().get(Agreement, old.id)
    assert (ended.state, ended.superseded_by_id) == ("superseded", new.id)
    assert ended.ended_at == late


def test_a_use_routed_to_permissions_is_sent_once(apply: Apply, licensing_staff: Any) -> None:
    session = db.session()
    academic = factories.make_vendor(
        session, organization=factories.make_organization(session, organization_type="academic")
    )
    received: list[signals.RoutedUse] = []

    def receiver(sender: signals.RoutedUse, **kwargs: Any) -> None:
        received.append(sender)

    signals.use_routed_to_permissions.connect(receiver)
    try:
        education = {
            **AUTO_USE,
            "use": "education",
            "product_name": "Coding 101",
            "quantity": {"students": 40},
        }
        application = apply(academic, AUTO_USE, education)
    finally:
        signals.use_routed_to_permissions.disconnect(receiver)
    assert [(r.line_index, r.product_name, r.audience_size) for r in received] == [
        (1, "Coding 101", 40)
    ]
    assert application.state == "approved"


def test_a_routed_use_becomes_a_permission_request_in_the_queue_for_its_organization(
    apply: Apply,
) -> None:
    session = db.session()
    academic = factories.make_vendor(
        session, organization=factories.make_organization(session, organization_type="academic")
    )
    education = {
        **AUTO_USE,
        "use": "education",
        "product_name": "Coding 101",
        "quantity": {"students": 40},
    }
    application = apply(academic, AUTO_USE, education)
    requests = session.scalars(
        select(PermissionRequest).where(PermissionRequest.application_id == application.id)
    ).all()
    assert [(r.state, r.organization_id, r.application_line) for r in requests] == [
        ("submitted", academic.organization_id, 1)
    ]
    assert requests[0].requester_email == academic.email
    # The request follows the user who submitted it (their address and name may change).
    assert requests[0].requester_user_id == academic.id
    assert requests[0].audience_size == 40
    # The use in the application form's words (round 37: "(education, saas for provider
    # users)").
    assert (
        f"From license application {application.reference}, use 2 (Education or training "
        "material; SaaS for provider users)."
    ) in requests[0].purpose_detail


def test_an_illegal_step_through_the_api_is_409_naming_the_allowed_actions(
    apply: Apply, vendor: Any, licensing_staff: Any, client: Any
) -> None:
    application = apply(vendor, AUTO_USE)  # approved
    response = client.post(
        f"/api/v1/applications/{application.id}/reject",
        json={"reason": "too late"},
        headers=factories.bearer(licensing_staff),
    )
    assert response.status_code == 409
    assert response.get_json()["detail"] == (
        "An application that is approved cannot be rejected: no further step is possible."
    )
    assert response.get_json()["allowed_actions"] == []


def test_the_snapshot_is_json_with_exact_amounts(apply: Apply, vendor: Any) -> None:
    application = apply(vendor, AUTO_USE)
    stored = json.loads(application.quotes[0].snapshot_json)
    assert stored["total"] == "33800.00"
    application.quotes[0].total = Decimal("1.00")
    with pytest.raises(ImmutableRecordChanged):
        db.session().flush()
    db.session().rollback()


def test_the_cli_command_reports_what_it_did(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["applications", "expire", "--now", "2026-11-02T00:00:00+00:00"]
    )
    assert result.exit_code == 0, result.output
    assert "0 applications lapsed" in result.output


def test_the_dashboard_lists_what_waits_on_the_vendor(
    apply: Apply, vendor: Any, licensing_staff: Any, client: Any, signed_in: Any
) -> None:
    returned = apply(vendor, STAFF_USE)
    services.return_for_information(returned.id, "Send the revenue", _p(licensing_staff), now=NOW)
    issued = agreement_of(apply(vendor, AUTO_USE))
    page = signed_in(client, vendor).get("/portal/").get_data(as_text=True)
    assert f"{returned.reference} needs more information" in page
    assert f"Agreement {issued.number} waits for your acceptance" in page


def _mail(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
    )


def test_the_vendor_is_emailed_at_each_decision_and_staff_when_something_waits(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    staff = _p(licensing_staff)
    application = apply(vendor, STAFF_USE)
    services.return_for_information(application.id, "Send the revenue", staff, now=NOW)
    services.submit(application.id, _p(vendor), policy=issuing(), attest=True, now=NOW)
    services.reject(application.id, "Not evidenced", staff, now=NOW)
    services.request_reconsideration(application.id, "Evidence attached", _p(vendor), now=NOW)
    services.grant_reconsideration(application.id, staff, now=NOW)
    services.approve(application.id, staff, policy=issuing(), now=NOW)
    to_vendor = [m.subject for m in _mail("application_update") if vendor.email in m.recipients]
    assert [subject.split(": ", 1)[1] for subject in to_vendor] == [
        "more information needed",
        "rejected",
        "reconsideration granted",
        f"approved: agreement {agreement_of(application).number} is ready to accept",
    ]
    to_staff = [m.subject for m in _mail("application_waiting")]
    assert len(to_staff) == 3  # submitted, resubmitted, reconsideration requested
    assert all(licensing_staff.email in m.recipients for m in _mail("application_waiting"))


def test_a_negative_approval_amount_is_refused_as_below_zero_not_as_unreadable(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    # "-5" was refused with 'Enter an amount such as "1250.00".', as if it were not
    # a number at all.
    application = apply(vendor, STAFF_USE)
    services.start_review(application.id, _p(licensing_staff), now=NOW)
    staff = signed_in(app.test_client(), licensing_staff)
    refused = staff.post(
        f"/console/applications/{application.id}/approve",
        data={"amount-0": "-5", "reason-0": "A discount"},
    )
    assert refused.status_code == 422
    page = html.unescape(refused.get_data(as_text=True))
    assert "The amount must be 0 or more." in page
    assert 'such as "1250.00"' not in page
    assert db.session().get(Application, application.id).state == "in_review"


def test_the_console_approval_form_shows_field_messages_and_approves_with_its_changes(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, AUTO_USE, STAFF_USE)
    services.start_review(application.id, _p(licensing_staff), now=NOW)
    staff = signed_in(app.test_client(), licensing_staff)
    url = f"/console/applications/{application.id}/approve"
    refused = staff.post(
        url, data={"amount-1": "lots", "reason-1": "pilot", "term_end": "next year"}
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Enter an amount such as &#34;1250.00&#34;." in page or 'such as "1250.00"' in page
    assert "Enter a date as YYYY-MM-DD." in page
    assert db.session().get(Application, application.id).state == "in_review"
    # The use case's own rule (a reason for each change), shown beside use 1's inputs.
    no_reason = staff.post(url, data={"amount-1": "7,500.00", "reason-1": " "})
    assert no_reason.status_code == 422
    assert db.session().get(Application, application.id).state == "in_review"
    same_term = application.term_start.isoformat()
    approved = staff.post(
        url,
        data={"amount-1": "7,500.00", "reason-1": " pilot rate ", "term_start": same_term},
    )
    assert approved.status_code == 302
    done = db.session().get(Application, application.id)
    db.session().refresh(done)
    assert done.state == "approved"
    modified = done.quotes[-1]
    assert modified.kind == "modified"
    assert [(m["line"], m["reason"]) for m in modified.modifications] == [(1, "pilot rate")]
    assert modified.total == Decimal("33800.00") + Decimal("7500.00")
