"""The staff queue: review, questions, decisions with letters, assignment, metrics;
the clock-driven expiries; requests routed from license applications."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.errors import Conflict, IllegalTransition
from licensing.mail import services as mail
from licensing.mail.smtp import Delivery, SMTPTransport
from licensing.permissions import queries, services
from licensing.permissions.models import LetterIsImmutable, PermissionLetter, PermissionRequest
from tests.integration.permissions.conftest import OFFICE, last_mail, routed_use, send_routed
from tests.support.documents import outbox_copy, pdf_text, stored_pdf
from tests.support.factories import bearer, make_staff
from tests.support.servers import SMTPServer
from tests.support.settings import permission_sla_days

Submit = Callable[..., tuple[PermissionRequest, str]]
MONDAY = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # a Monday with no holiday that week


def _state(request_id: int) -> str:
    found = db.session().get(PermissionRequest, request_id)
    assert found is not None
    db.session().refresh(found)
    return found.state


def test_staff_ask_the_requester_answers_and_staff_approve_with_a_condition_through_the_api(
    client: FlaskClient, submit: Submit, licensing_staff: Any
) -> None:
    request, token = submit()
    headers = bearer(licensing_staff)
    # Days from the office's today: written in as 2027-01-10 to 2027-06-30, the grant
    # would have ended already (422) from 1 July 2027 (round 47).
    today = calendar.office_date(db.utcnow())
    granted = (today + timedelta(days=36), today + timedelta(days=207))
    url = f"/api/v1/permission-requests/{request.id}/actions"
    asked = client.post(
        url,
        json={"action": "ask_for_info", "message": "How many sections will use it?"},
        headers=headers,
    )
    assert asked.status_code == 200, asked.get_json()
    assert asked.get_json()["state"] == "needs_info"
    assert "How many sections" in last_mail(request.requester_email).body_text
    answered = client.post(
        f"/api/v1/permission-status/{token}/answers", json={"body": "Two sections."}
    )
    assert answered.status_code == 200
    assert answered.get_json()["state"] == "in_review"
    approved = client.post(
        url,
        json={
            "action": "approve",
            "conditions": ["Show the notice on every slide that quotes the content."],
            "valid_from": granted[0].isoformat(),
            "valid_until": granted[1].isoformat(),
        },
        headers=headers,
    )
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert body["state"] == "approved"
    assert body["conditions"] == ["Show the notice on every slide that quotes the content."]
    [letter] = body["letters"]
    assert letter["kind"] == "grant"
    pdf = client.get(f"/api/v1/permission-status/{token}/letters/{letter['id']}")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert "Show the notice on every slide" in text
    assert "American Medical Association. All rights reserved." in text
    assert "CPT® is a registered trademark of the American Medical Association." in text
    assert calendar.day_text(granted[1]) in text  # the letter says it in words (round 56)
    assert "Lena Ortiz" in text
    assert "granted" in last_mail(request.requester_email).subject


def test_a_letter_is_never_stored_by_a_cache_wherever_it_is_fetched(
    client: FlaskClient, submit: Submit, licensing_staff: Any
) -> None:
    """The letter names the requester; the public API's link has no credentials
    for a shared cache to key on, so every route says private, no-store."""
    request, token = submit()
    services.approve(request.id, OFFICE, conditions="Cite the source.")
    letter = db.session().scalars(select(PermissionLetter)).one()
    fetched = {
        "api, by link": client.get(f"/api/v1/permission-status/{token}/letters/{letter.id}"),
        "api, staff": client.get(
            f"/api/v1/permission-requests/{request.id}/letters/{letter.id}",
            headers=bearer(licensing_staff),
        ),
        "page, by link": client.get(f"/permissions/status/{token}/letters/{letter.id}"),
    }
    for where, response in fetched.items():
        assert response.status_code == 200, where
        assert response.data == stored_pdf(letter), where
        assert response.headers.get("Cache-Control") == "private, no-store", where


def test_the_portal_and_the_console_download_a_routed_request_s_letter_and_no_other_vendor(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    organization = vendor.organization
    # A term from the office's today: the default 2027 term would have ended already,
    # and the approval refused, from 1 January 2028 (round 47).
    today = calendar.office_date(db.utcnow())
    term = {"term_start": today + timedelta(days=30), "term_end": today + timedelta(days=394)}
    request = send_routed(routed_use(organization.id, organization.legal_name, **term))
    services.approve(request.id, OFFICE, conditions="Cite the source.")
    letter = db.session().scalars(select(PermissionLetter)).one()
    path = f"/{request.id}/letters/{letter.id}"

    fetched = {
        "console": signed_in(app.test_client(), licensing_staff).get(f"/console/permissions{path}"),
        "portal": signed_in(app.test_client(), vendor).get(f"/portal/permissions{path}"),
    }
    theirs = signed_in(app.test_client(), other_vendor).get(f"/portal/permissions{path}")

    for where, response in fetched.items():
        assert response.status_code == 200, where
        assert response.data == stored_pdf(letter), where
        assert response.headers.get("Cache-Control") == "private, no-store", where
    assert theirs.status_code == 404


def test_an_illegal_step_is_a_409_naming_the_allowed_actions(
    client: FlaskClient, submit: Submit, licensing_staff: Any
) -> None:
    request, _token = submit()
    services.approve(request.id, OFFICE, conditions="Cite the source.")
    response = client.post(
        f"/api/v1/permission-requests/{request.id}/actions",
        json={"action": "deny", "reason": "Changed our mind"},
        headers=bearer(licensing_staff),
    )
    assert response.status_code == 409
    assert response.get_json()["state"] == "approved"
    assert response.get_json()["allowed_actions"] == []
    assert _state(request.id) == "approved"


def test_a_denial_without_a_reason_is_one_message_absent_null_empty_or_blank(
    client: FlaskClient, submit: Submit, licensing_staff: Any
) -> None:
    """Round 50: `null` was "Field may not be null." (the schema's), the other three
    the service's words; all four are the service's now, and nothing is decided."""
    request, _token = submit()
    for body in ({}, {"reason": None}, {"reason": ""}, {"reason": " \t "}):
        response = client.post(
            f"/api/v1/permission-requests/{request.id}/actions",
            json={"action": "deny", **body},
            headers=bearer(licensing_staff),
        )
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["errors"] == {"reason": ["The reason is required."]}, body
    assert _state(request.id) == "submitted"


def test_the_console_shows_an_illegal_step_as_a_clear_message(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    request, _token = submit()
    client = signed_in(app.test_client(), licensing_staff)
    assert client.post(f"/console/permissions/{request.id}/review").status_code == 302
    again = client.post(f"/console/permissions/{request.id}/review")
    assert again.status_code == 409
    text = again.get_data(as_text=True)
    assert (
        "A permission request that is in review cannot be taken into review: of the steps "
        "you may take, it can only be approved, put on hold for more information or denied."
        in text  # round 58 (refusal58): not "or withdrawn", the requester's step
    )


def test_staff_work_the_queue_in_the_console(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    first, _ = submit()
    second, _ = submit(requester_name="Tomas Lindqvist", institution="Harborlight University")
    client = signed_in(app.test_client(), licensing_staff)
    queue = client.get("/console/permissions/").get_data(as_text=True)
    assert first.reference in queue
    assert second.reference in queue
    found = client.get("/console/permissions/?q=harborlight").get_data(as_text=True)
    assert second.reference in found
    assert first.reference not in found
    assigned = client.post(
        "/console/permissions/assign",
        data={"request_ids": [str(first.id), str(second.id)], "assignee_id": licensing_staff.id},
    )
    assert assigned.status_code == 302
    mine = client.get("/console/permissions/?assignee=me").get_data(as_text=True)
    assert first.reference in mine
    assert second.reference in mine
    assert first.reference not in client.get("/console/permissions/?assignee=none").get_data(
        as_text=True
    )
    noted = client.post(f"/console/permissions/{first.id}/notes", data={"body": "Course verified."})
    assert noted.status_code == 302
    asked = client.post(
        f"/console/permissions/{first.id}/ask", data={"message": "Which textbook edition?"}
    )
    assert asked.status_code == 302
    detail = client.get(f"/console/permissions/{first.id}").get_data(as_text=True)
    assert "Course verified." in detail
    assert "internal note" in detail
    assert "Which textbook edition?" in detail
    empty = client.post(f"/console/permissions/{second.id}/deny", data={"reason": ""})
    assert empty.status_code == 422
    # Round 50: the service's words, as the API says them (it said "This field is required.").
    assert "The reason is required." in empty.get_data(as_text=True)


def test_a_bulk_selection_with_an_unknown_request_is_the_queue_again_with_a_422(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    """Like the applications queue: a request deleted (or never there) since the page
    was drawn refuses the whole selection on the form, not with a 404 page."""
    chosen, _ = submit()
    client = signed_in(app.test_client(), licensing_staff)
    refused = client.post(
        "/console/permissions/assign",
        data={
            "request_ids": [str(chosen.id), "987654"],
            "assignee_id": licensing_staff.id,
            "filters": "",
        },
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "There is no permission request 987654." in page
    assert f'aria-label="Select {chosen.reference}" checked>' in page  # the selection kept
    stored = db.session().get(PermissionRequest, chosen.id, populate_existing=True)
    assert stored is not None
    assert stored.assignee_id is None


def test_overdue_requests_are_highlighted_and_counted(
    app: Flask, submit: Submit, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    late, _ = submit()
    on_time, _ = submit(requester_name="Ana Brooks")
    with db.transaction() as session:
        stored = session.get(PermissionRequest, late.id)
        stored.submitted_at = datetime.now(UTC) - timedelta(days=30)
        stored.sla_due_at = calendar.business_deadline(stored.submitted_at, 10)
    client = signed_in(app.test_client(), licensing_staff)
    page = client.get("/console/permissions/?overdue=1").get_data(as_text=True)
    assert late.reference in page
    assert on_time.reference not in page
    assert 'class="overdue"' in page
    metrics = client.get(
        "/api/v1/permission-requests/metrics", headers=bearer(licensing_staff)
    ).get_json()
    assert metrics["overdue"] == 1
    assert metrics["open_by_state"]["submitted"] == 2


def test_metrics_give_the_median_days_to_decision_over_the_last_90_days(
    app: Flask, submit: Submit
) -> None:
    decided = []
    for days in (2, 4, 9):
        request, _ = submit()
        services.approve(request.id, OFFICE, now=request.submitted_at + timedelta(days=days))
        decided.append(request)
    old, _ = submit()
    services.deny(old.id, "Out of scope", OFFICE, now=old.submitted_at + timedelta(days=1))
    with db.transaction() as session:  # decided long ago: outside the window
        stored = session.get(PermissionRequest, old.id)
        stored.decided_at = datetime.now(UTC) - timedelta(days=120)
        stored.submitted_at = stored.decided_at - timedelta(days=30)
    open_one, _ = submit()
    services.ask_for_info(open_one.id, "Which course?", OFFICE)
    result = services.metrics(db.session(), now=datetime.now(UTC) + timedelta(days=10))
    assert result.median_days_to_decision == Decimal("4.0")
    assert result.decided_last_90_days == 3
    assert result.open_by_state == {
        "submitted": 0,
        "in_review": 0,
        "needs_info": 1,
        "reconsideration": 0,
    }


def test_an_unanswered_question_expires_after_5_business_days_and_not_before(
    app: Flask, submit: Submit
) -> None:
    request, token = submit()
    services.ask_for_info(request.id, "Which course?", OFFICE, now=MONDAY)
    stored = db.session().get(PermissionRequest, request.id)
    # Asked on Monday 1 March: the fifth business day is Monday 8 March, until
    # the end of that day at the office.
    assert calendar.office_date(stored.answer_due_at) == date(2027, 3, 8)
    friday = services.expire_due(datetime(2027, 3, 5, 23, 0, tzinfo=UTC))
    assert friday.expired_unanswered == []
    assert _state(request.id) == "needs_info"
    last_minute = services.expire_due(datetime(2027, 3, 9, 5, 59, tzinfo=UTC))
    assert last_minute.expired_unanswered == []
    assert _state(request.id) == "needs_info"
    report = services.expire_due(datetime(2027, 3, 9, 6, 1, tzinfo=UTC))
    assert report.expired_unanswered == [request.reference]
    assert _state(request.id) == "expired"
    assert "expired" in last_mail(request.requester_email).subject
    # Idempotent: a second run (another host, a retry) changes nothing.
    assert services.expire_due(datetime(2027, 3, 9, 7, 0, tzinfo=UTC)).expired_unanswered == []
    with pytest.raises(IllegalTransition):
        services.answer(token, "Too late?", now=datetime(2027, 3, 9, 8, 0, tzinfo=UTC))


def test_a_denial_may_be_reconsidered_within_14_days_and_not_after(
    app: Flask, submit: Submit
) -> None:
    within, within_token = submit()
    late, late_token = submit(requester_name="Ana Brooks")
    services.deny(within.id, "The audience is a paying public.", OFFICE, now=MONDAY)
    services.deny(late.id, "The audience is a paying public.", OFFICE, now=MONDAY)
    day_14 = MONDAY + timedelta(days=14) - timedelta(minutes=1)
    reopened = services.request_reconsideration(
        within_token, "The course is free to students.", sla_days=permission_sla_days(), now=day_14
    )
    assert reopened.state == "reconsideration"
    report = services.expire_due(MONDAY + timedelta(days=14, minutes=1))
    assert report.windows_closed == [late.reference]
    with pytest.raises(Conflict, match="14-day window to request reconsideration closed"):
        services.request_reconsideration(
            late_token,
            "Please look again.",
            sla_days=permission_sla_days(),
            now=MONDAY + timedelta(days=15),
        )
    assert _state(late.id) == "denied"
    # A second denial, after reconsideration, is final.
    services.deny(within.id, "Still a paying audience.", OFFICE, now=MONDAY + timedelta(days=15))
    with pytest.raises(Conflict, match="final"):
        services.request_reconsideration(
            within_token, "Again?", sla_days=permission_sla_days(), now=MONDAY + timedelta(days=16)
        )
    letters = (
        db.session()
        .scalars(
            select(PermissionLetter)
            .where(PermissionLetter.request_id == within.id)
            .order_by(PermissionLetter.id)
        )
        .all()
    )
    assert [letter.kind for letter in letters] == ["denial", "denial"]
    first = pdf_text(stored_pdf(letters[0]))
    assert "The audience is a paying public." in first
    assert "reconsider" in first
    # It read "until 2027-03-15"; the email and the status page say the deadline to the
    # minute at the office, as the letter now does.
    until = calendar.deadline_text(MONDAY + timedelta(days=14))
    assert f"until {until}" in " ".join(first.split())
    assert "final" in pdf_text(stored_pdf(letters[1]))


def test_under_reconsideration_the_requester_still_sees_the_denial_and_its_letter(
    client: FlaskClient, submit: Submit
) -> None:
    # The status page said "No decision yet." and dropped the denial letter once
    # reconsideration was asked for: the requester lost the letter they appealed.
    request, token = submit()
    services.deny(request.id, "The audience is a paying public.", OFFICE)
    services.request_reconsideration(
        token, "The course is free to students.", sla_days=permission_sla_days()
    )
    page = client.get(f"/permissions/status/{token}").get_data(as_text=True)
    assert "No decision yet on your request for reconsideration" in page
    assert "The audience is a paying public." in page
    letter = db.session().scalars(select(PermissionLetter)).one()
    assert f"/permissions/status/{token}/letters/{letter.id}" in page


def test_the_staff_page_offers_only_the_actions_staff_can_take(
    client: FlaskClient, submit: Submit, licensing_staff: Any, signed_in: Any
) -> None:
    # It listed the requester's steps too ("..., start review, withdraw"), and said
    # "no further action" while a question waited on the requester.
    request, _ = submit()
    signed_in(client, licensing_staff)
    page = client.get(f"/console/permissions/{request.id}").get_data(as_text=True)
    assert (
        "You may start the review, ask the requester for more information, approve the "
        "request or deny it." in page
    )
    assert "; decision due by the end of " in page  # at the office, as the requester reads
    services.ask_for_info(request.id, "Which sections?", OFFICE)
    page = client.get(f"/console/permissions/{request.id}").get_data(as_text=True)
    assert "no further action" not in page
    assert "Waiting on the requester's answer, due by " in page


def test_a_request_back_under_reconsideration_ages_until_now_not_until_its_denial(
    app: Flask, submit: Submit
) -> None:
    request, token = submit()
    submitted = request.submitted_at
    services.deny(request.id, "A paying audience.", OFFICE, now=submitted + timedelta(days=1))
    services.request_reconsideration(
        token,
        "The course is free to students.",
        sla_days=permission_sla_days(),
        now=submitted + timedelta(days=2),
    )
    reopened = db.session().get(PermissionRequest, request.id, populate_existing=True)
    later = submitted + timedelta(days=28)
    level = queries.service_level(reopened, later, target_days=permission_sla_days())
    assert level.running
    # Round 37: counted from the request for a reconsideration (its due date is set
    # from it), as an application's reconsideration is, not from the first submission.
    assert level.age_days == calendar.business_days_between(
        calendar.office_date(submitted + timedelta(days=2)), calendar.office_date(later)
    )
    assert reopened.decided_at is None  # undecided again, until the second decision


def test_the_expire_command_reports_what_it_closed(app: Flask, submit: Submit) -> None:
    request, _ = submit()
    services.ask_for_info(
        request.id, "Which course?", OFFICE, now=datetime.now(UTC) - timedelta(days=30)
    )
    result = app.test_cli_runner().invoke(args=["permissions", "expire"])
    assert result.exit_code == 0, result.output
    assert f"1 unanswered request(s) expired ({request.reference})" in result.output
    again = app.test_cli_runner().invoke(args=["permissions", "expire"])
    assert "0 unanswered request(s) expired" in again.output


def test_the_expire_command_acts_as_of_the_time_given_with_now(app: Flask, submit: Submit) -> None:
    request, _ = submit()
    asked = datetime.now(UTC)
    services.ask_for_info(request.id, "Which course?", OFFICE, now=asked)
    runner = app.test_cli_runner()
    today = runner.invoke(args=["permissions", "expire", "--now", asked.isoformat()])
    assert today.exit_code == 0, today.output
    assert "0 unanswered request(s) expired" in today.output
    later = (asked + timedelta(days=30)).isoformat()
    result = runner.invoke(args=["permissions", "expire", "--now", later])
    assert result.exit_code == 0, result.output
    assert f"1 unanswered request(s) expired ({request.reference})" in result.output
    expired = db.session().get(PermissionRequest, request.id, populate_existing=True)
    assert expired.state == "expired"
    refused = runner.invoke(args=["permissions", "expire", "--now", "2027-03-01T12:00:00"])
    assert refused.exit_code == 2
    assert "give a time zone" in refused.output


def test_an_issued_letter_never_changes(app: Flask, submit: Submit) -> None:
    request, _ = submit()
    services.approve(request.id, OFFICE, conditions="Cite the source.")
    letter = db.session().scalars(select(PermissionLetter)).one()
    letter.pdf = b"%PDF-forged"
    with pytest.raises(LetterIsImmutable):
        db.session().flush()
    db.session().rollback()


def test_the_decision_email_carries_the_letter_the_requester_keeps(
    app: Flask, submit: Submit
) -> None:
    # The letter was only on the status page, whose link stops working a year after
    # the request closes: a grant valid longer left its holder without proof.
    granted, _ = submit()
    services.approve(
        granted.id,
        OFFICE,
        valid_until=calendar.office_date(datetime.now(UTC)) + timedelta(days=730),
    )
    denied, _ = submit(requester_email="omar@cedar-ridge.example")
    services.deny(denied.id, "The use is part of a product sold for profit.", OFFICE)
    for request, kind in ((granted, "G"), (denied, "D")):
        letter = (
            db.session()
            .scalars(select(PermissionLetter).where(PermissionLetter.request_id == request.id))
            .one()
        )
        assert letter.number.endswith(f"-{kind}1")
        message = last_mail(request.requester_email)
        (attachment,) = message.attachments
        assert attachment.filename == f"{letter.number}.pdf"
        assert attachment.content_type == "application/pdf"
        assert attachment.content == stored_pdf(letter)
        assert "attached" in message.body_text


def test_the_decision_email_names_its_letter_and_the_smtp_server_receives_its_issued_bytes(
    app: Flask, submit: Submit, mailbox: SMTPServer
) -> None:
    # Round 48: the outbox kept a second copy of every letter; it names the letter,
    # stored as issued and never changed, and reads its bytes when it sends.
    request, _ = submit()
    services.approve(request.id, OFFICE)
    letter = (
        db.session()
        .scalars(select(PermissionLetter).where(PermissionLetter.request_id == request.id))
        .one()
    )
    (attachment,) = last_mail(request.requester_email).attachments
    assert outbox_copy(attachment) is None
    assert (attachment.kept_kind, attachment.kept_id) == (services.LETTER_SOURCE, letter.id)
    assert (attachment.sha256, attachment.size) == (letter.sha256, len(stored_pdf(letter)))
    to_the_mailbox = Delivery(SMTPTransport.from_url(mailbox.url), "office@cpt.example")
    assert mail.deliver_due(to_the_mailbox).sent >= 1
    (received,) = mailbox.to(request.requester_email)[-1:]
    (sent,) = [part.get_content() for part in received.iter_attachments()]
    assert hashlib.sha256(sent).hexdigest() == letter.sha256


def test_a_use_routed_from_an_application_becomes_a_request_for_that_organization(
    client: FlaskClient, vendor: Any, other_vendor: Any, licensing_staff: Any
) -> None:
    organization = vendor.organization
    use = routed_use(organization.id, organization.legal_name, requester_email=vendor.email)
    request = send_routed(use)
    assert request.state == "submitted"  # a verified vendor: no confirmation step
    assert request.source == "application"
    assert request.organization_id == organization.id
    assert request.application_reference == "APP-2027-000041"
    assert request.institution == organization.legal_name
    assert "/permissions/status/" in last_mail(vendor.email).body_text
    # Sending the same use again does not make a second request.
    assert send_routed(use).id == request.id
    own = client.get(f"/api/v1/permission-requests/{request.id}", headers=bearer(vendor))
    assert own.status_code == 200
    assert own.get_json()["reference"] == request.reference
    listed = client.get("/api/v1/permission-requests", headers=bearer(vendor)).get_json()
    assert [item["id"] for item in listed] == [request.id]
    theirs = client.get(f"/api/v1/permission-requests/{request.id}", headers=bearer(other_vendor))
    assert theirs.status_code == 404
    assert client.get("/api/v1/permission-requests", headers=bearer(other_vendor)).get_json() == []


@pytest.mark.parametrize("assignee", ["me", "none", "1"])
def test_a_vendor_filtering_their_requests_by_assignee_is_told_it_is_a_staff_filter(
    client: FlaskClient, vendor: Any, assignee: str
) -> None:
    organization = vendor.organization
    send_routed(routed_use(organization.id, organization.legal_name))
    refused = client.get(f"/api/v1/permission-requests?assignee={assignee}", headers=bearer(vendor))
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["errors"] == {
        "query.assignee": [
            "assignee is a staff filter: vendors are never assigned permission requests."
        ]
    }


def test_public_requests_are_reached_by_their_link_only(
    client: FlaskClient, submit: Submit, vendor: Any, licensing_staff: Any
) -> None:
    request, _ = submit()
    assert (
        client.get(f"/api/v1/permission-requests/{request.id}", headers=bearer(vendor)).status_code
        == 404
    )
    staff = client.get(f"/api/v1/permission-requests/{request.id}", headers=bearer(licensing_staff))
    assert staff.status_code == 200


def test_bulk_assignment_through_the_api_is_audited_and_refuses_non_staff(
    client: FlaskClient, submit: Submit, licensing_staff: Any, vendor: Any
) -> None:
    first, _ = submit()
    second, _ = submit()
    other = make_staff(db.session(), roles=("billing",))
    headers = bearer(licensing_staff)
    refused = client.post(
        "/api/v1/permission-requests/assignments",
        json={"request_ids": [first.id], "assignee_id": other.id},
        headers=headers,
    )
    assert refused.status_code == 422
    assert "assignee_id" in refused.get_json()["errors"]
    done = client.post(
        "/api/v1/permission-requests/assignments",
        json={"request_ids": [first.id, second.id], "assignee_id": licensing_staff.id},
        headers=headers,
    )
    assert done.status_code == 200
    assert {item["assignee_id"] for item in done.get_json()} == {licensing_staff.id}
    mine = client.get("/api/v1/permission-requests?assignee=me", headers=headers).get_json()
    assert {item["id"] for item in mine} == {first.id, second.id}


def test_an_api_bulk_assignment_naming_an_unknown_request_is_a_422_naming_it_as_for_applications(
    client: FlaskClient, submit: Submit, licensing_staff: Any
) -> None:
    """Not a 404: the address exists; the body names a request that does not. The
    bulk assignment of applications refuses an unknown one the same way."""
    chosen, _ = submit()
    refused = client.post(
        "/api/v1/permission-requests/assignments",
        json={"request_ids": [chosen.id, 987654], "assignee_id": licensing_staff.id},
        headers=bearer(licensing_staff),
    )
    assert refused.status_code == 422
    problem = refused.get_json()
    assert problem["detail"] == "Nothing was assigned."
    assert problem["errors"] == {"request_ids": ["There is no permission request 987654."]}
    stored = db.session().get(PermissionRequest, chosen.id, populate_existing=True)
    assert stored is not None
    assert stored.assignee_id is None
