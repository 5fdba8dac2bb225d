"""The public request form, email confirmation by link, the status page, and bad input."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.services import ONE_LINE, principal_for
from licensing.actors import Actor
from licensing.api.permissions import PermissionRequestInputSchema
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from licensing.permissions import forms, services
from licensing.permissions.models import PermissionMessage, PermissionRequest
from licensing.permissions.states import SUBMITTED, UNCONFIRMED
from tests.integration.permissions.conftest import (
    OFFICE,
    count,
    last_mail,
    link_in,
    request_fields,
    request_input,
    token_in,
)
from tests.support.factories import DEFAULT_PASSWORD, make_staff
from tests.support.settings import permission_sla_days

EMAIL = "lena.ortiz@cedar-ridge.example"


def _stored() -> tuple[int, int, int]:
    return count(PermissionRequest), count(OutboxMessage), count(AuditEvent)


def test_a_request_is_stored_unconfirmed_and_the_requester_is_emailed_a_confirmation_link(
    client: FlaskClient,
) -> None:
    response = client.post("/permissions/request", data=request_fields())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/permissions/request/sent")
    stored = db.session().scalars(select(PermissionRequest)).one()
    assert stored.state == UNCONFIRMED
    assert stored.reference.startswith("PR-")
    assert stored.noncommercial_attested_at is not None
    message = last_mail(EMAIL)
    assert "Confirm your permission request" in message.subject
    assert "/permissions/confirm/" in message.body_text
    # Only the digest of the link is stored.
    raw = token_in(message, "/permissions/confirm/")
    assert raw not in (stored.confirm_token_hash or "")


def test_following_the_confirmation_link_queues_the_request_and_emails_the_status_link(
    client: FlaskClient, licensing_staff: Any
) -> None:
    client.post("/permissions/request", data=request_fields())
    confirm = link_in(last_mail(EMAIL), "/permissions/confirm/")
    response = client.get(confirm)
    assert response.status_code == 302
    status_path = response.headers["Location"]
    assert "/permissions/status/" in status_path
    stored = db.session().scalars(select(PermissionRequest)).one()
    db.session().refresh(stored)
    assert stored.state == SUBMITTED
    assert stored.sla_due_at is not None
    assert stored.sla_due_at > stored.submitted_at
    received = last_mail(EMAIL)
    assert "We received your permission request" in received.subject
    assert link_in(received, "/permissions/status/") == status_path
    assert "new request" in last_mail(licensing_staff.email).subject
    page = client.get(status_path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert stored.reference in text
    assert "submitted" in text
    # Following the link again changes nothing and still opens the page.
    again = client.get(confirm)
    assert again.status_code == 302
    assert again.headers["Location"] == status_path


def test_the_status_token_is_stored_only_as_a_digest(
    submit: Callable[..., tuple[PermissionRequest, str]],
) -> None:
    request, token = submit()
    assert token not in (request.status_token_hash or "")
    assert len(request.status_token_hash or "") == 64


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"noncommercial": ""}, "noncommercial", "Confirm that the use is non-commercial"),
        ({"requester_email": "lena at cedar-ridge"}, "requester_email", "not an email address"),
        ({"content_requested": "x" * 4001}, "content_requested", "At most 4,000 characters."),
        ({"purpose_detail": "x" * 2001}, "purpose_detail", "At most 2,000 characters."),
        ({"audience_size": "forty"}, "audience_size", "whole number"),
        ({"role": "dean"}, "role", "Choose one of"),
        ({"requester_name": ""}, "requester_name", "required"),
    ],
)
def test_bad_input_is_shown_beside_the_field_and_nothing_is_stored(
    client: FlaskClient, changes: dict[str, str], field: str, message: str
) -> None:
    before = _stored()
    response = client.post("/permissions/request", data=request_fields(**changes))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert message in text
    assert f'id="{field}-error"' in text
    assert _stored() == before


def test_one_submission_lists_every_problem_including_the_address_and_the_attestation(
    client: FlaskClient,
) -> None:
    # The address and the attestation used to be checked only once every other
    # field was right, so a requester corrected the form twice.
    fields = request_fields(role="", requester_email="lena at cedar-ridge")
    del fields["noncommercial"]
    before = _stored()
    response = client.post("/permissions/request", data=fields)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    for field in ("role", "requester_email", "noncommercial"):
        assert f'id="{field}-error"' in text, field
        assert f'href="#{field}"' in text, field
    assert "not an email address" in text
    assert "Confirm that the use is non-commercial" in text
    assert _stored() == before


def test_the_check_your_email_page_says_what_to_do_about_a_mistyped_address(
    client: FlaskClient,
) -> None:
    # It used to end at "check your spam folder": a requester who saw their typo
    # in the confirmation message above had no way onward.
    page = client.get("/permissions/request/sent").get_data(as_text=True)
    assert "Mistyped your address?" in page
    assert '<a href="/permissions/request">send the request again</a>' in page
    assert "the request with the wrong address is never sent to the office" in page


def test_a_commercial_purpose_is_sent_to_the_estimator_and_the_license_application(
    client: FlaskClient,
) -> None:
    before = _stored()
    response = client.post("/permissions/request", data=request_fields(purpose="commercial"))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "A commercial use needs a license" in text
    assert 'href="/estimate"' in text
    assert 'href="/sign-up"' in text
    assert _stored() == before


def test_the_api_refuses_a_commercial_purpose_and_a_missing_attestation(
    client: FlaskClient,
) -> None:
    body = {**request_fields(), "audience_size": 45, "noncommercial": True}
    commercial = client.post("/api/v1/permission-requests", json={**body, "purpose": "commercial"})
    assert commercial.status_code == 422
    assert "/estimate" in commercial.get_json()["errors"]["purpose"][0]
    unattested = client.post("/api/v1/permission-requests", json={**body, "noncommercial": False})
    assert unattested.status_code == 422
    assert "noncommercial" in unattested.get_json()["errors"]
    assert count(PermissionRequest) == 0
    created = client.post("/api/v1/permission-requests", json=body)
    assert created.status_code == 201
    assert created.get_json()["state"] == "unconfirmed"


def test_a_wrong_status_link_is_a_clear_404_and_changes_nothing(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    request, token = submit()
    before = _stored()
    for path in (
        "/permissions/status/not-the-token",
        f"/permissions/status/{token[:-2]}xx",
        "/permissions/confirm/not-the-token",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "This link is not valid" in response.get_data(as_text=True)
    posted = client.post("/permissions/status/not-the-token/withdraw")
    assert posted.status_code == 404
    api = client.get("/api/v1/permission-status/not-the-token")
    assert api.status_code == 404
    assert "not valid" in api.get_json()["detail"]
    assert _stored() == before
    assert db.session().get(PermissionRequest, request.id).state == SUBMITTED


def test_an_expired_confirmation_link_is_refused_and_the_request_stays_unconfirmed(
    client: FlaskClient, app: Flask
) -> None:
    created = services.submit_request(request_input())
    raw = token_in(last_mail(EMAIL), "/permissions/confirm/")
    with pytest.raises(services.LinkExpired):
        services.confirm_email(
            raw, sla_days=permission_sla_days(), now=utcnow() + timedelta(hours=49)
        )
    stored = db.session().get(PermissionRequest, created.id)
    db.session().refresh(stored)
    assert stored.state == UNCONFIRMED


def test_a_confirmation_link_followed_after_the_expiry_job_says_it_expired(
    client: FlaskClient, app: Flask
) -> None:
    """Once `permissions expire` has closed an unconfirmed request, its link must
    still say "expired, submit again", not send the requester to a status page
    that was never issued (which answered "this link is not valid")."""
    created = services.submit_request(request_input())
    raw = token_in(last_mail(EMAIL), "/permissions/confirm/")
    services.expire_due(utcnow() + timedelta(hours=49))
    page = client.get(f"/permissions/confirm/{raw}")
    assert page.status_code == 403
    assert "This confirmation link expired on" in page.get_data(as_text=True)
    assert "(US Central time)" in page.get_data(as_text=True)  # at the office, not UTC
    api = client.post("/api/v1/permission-confirmations", json={"token": raw})
    assert api.status_code == 403
    assert "Submit the request again" in api.get_json()["detail"]
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "403" in paths["/api/v1/permission-confirmations"]["post"]["responses"]
    stored = db.session().get(PermissionRequest, created.id)
    db.session().refresh(stored)
    assert (stored.state, stored.status_token_hash) == ("expired", None)


def test_an_expired_status_link_is_a_403_and_changes_nothing(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    request, token = submit()
    services.withdraw(token)
    with db.transaction() as session:
        stored = session.get(PermissionRequest, request.id)
        stored.status_expires_at = utcnow() - timedelta(minutes=1)
    before = _stored()
    response = client.get(f"/permissions/status/{token}")
    assert response.status_code == 403
    assert "This link expired on" in response.get_data(as_text=True)
    assert client.get(f"/api/v1/permission-status/{token}").status_code == 403
    assert _stored() == before
    # The document lists it (round 31: a client generated from it saw only `default`).
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "403" in paths["/api/v1/permission-status/{token}"]["get"]["responses"]


def test_a_closed_request_without_a_decision_offers_a_new_request(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    # "The request expired without an answer." (or "You withdrew this request.")
    # ended the page: the way to ask again was nowhere on it.
    expired, expired_token = submit()
    services.ask_for_info(expired.id, "Which sections?", OFFICE)
    services.expire_due(utcnow() + timedelta(days=30))
    _, withdrawn_token = submit(requester_email="omar@cedar-ridge.example")
    services.withdraw(withdrawn_token)
    for token in (expired_token, withdrawn_token):
        page = client.get(f"/permissions/status/{token}").get_data(as_text=True)
        # Filled in with the closed request (round 30), to correct or send as it is.
        assert f'<a href="/permissions/request?again={token}">send a new request</a>' in page
    assert db.session().get(PermissionRequest, expired.id).state == "expired"


def test_the_requester_withdraws_before_a_decision_and_cannot_twice(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    request, token = submit()
    response = client.post(f"/permissions/status/{token}/withdraw", data={"confirmed": "yes"})
    assert response.status_code == 302
    assert db.session().get(PermissionRequest, request.id).state == "withdrawn"
    again = client.post(f"/permissions/status/{token}/withdraw", data={"confirmed": "yes"})
    assert again.status_code == 409
    assert (
        "A permission request that is withdrawn cannot be withdrawn: no further step is possible."
        in html.unescape(again.get_data(as_text=True))
    )
    api = client.post(f"/api/v1/permission-status/{token}/withdrawal")
    assert api.status_code == 409
    assert api.get_json()["allowed_actions"] == []


def test_internal_notes_are_never_shown_to_the_requester(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]], app: Flask
) -> None:
    request, token = submit()
    make_staff(db.session())
    services.add_note(request.id, "Checked with the dean's office: a genuine course.", OFFICE)
    services.ask_for_info(request.id, "Which unit of the course uses the content?", OFFICE)
    page = client.get(f"/permissions/status/{token}").get_data(as_text=True)
    assert "Which unit of the course" in page
    assert "dean's office" not in page
    status = client.get(f"/api/v1/permission-status/{token}").get_json()
    assert [m["body"] for m in status["messages"]] == ["Which unit of the course uses the content?"]
    stored = db.session().scalars(select(PermissionMessage)).all()
    assert sorted(m.internal for m in stored) == [False, True]


def test_the_public_form_is_rate_limited_per_client_address(
    app: Flask, client: FlaskClient
) -> None:
    from licensing.extensions import limiter

    app.config["LICENSING"] = app.config["LICENSING"].__class__(
        **{**app.config["LICENSING"].__dict__, "auth_rate_limit": "2 per minute"}
    )
    limiter.reset()
    statuses = [
        client.post("/permissions/request", data=request_fields(audience_size="x")).status_code
        for _ in range(3)
    ]
    assert statuses == [422, 422, 429]


def test_the_form_and_the_api_body_make_the_same_request_command(app: Flask) -> None:
    fields = request_fields(requester_name="  Lena Ortiz ", duration=" Spring 2027 semester")
    with app.test_request_context(method="POST", data=fields):
        form = forms.PermissionRequestForm()
        assert form.validate(), form.errors
        from_page = form.command()
    body = {**fields, "audience_size": 45, "noncommercial": True}
    from_api = services.PermissionRequestInput.from_fields(
        PermissionRequestInputSchema().load(body)
    )
    assert from_page == from_api == request_input()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"institution": "   "}, "institution"),
        ({"audience_size": "0"}, "audience_size"),
        ({"audience_size": "9" * 40}, "audience_size"),
        ({"medium": "smoke signals"}, "medium"),
    ],
)
def test_the_form_refuses_the_shapes_the_api_refuses(
    app: Flask, changes: dict[str, str], field: str
) -> None:
    with app.test_request_context(method="POST", data=request_fields(**changes)):
        form = forms.PermissionRequestForm()
        assert not form.validate()
        assert field in form.errors
    body = {**request_fields(), "audience_size": 45, "noncommercial": True, **changes}
    if field == "audience_size":
        body["audience_size"] = int(changes["audience_size"])
    assert field in PermissionRequestInputSchema().validate(body)


def test_the_api_and_the_page_refuse_an_empty_or_long_text_in_the_same_sentences(
    client: FlaskClient,
) -> None:
    """Round 16: the API said marshmallow's "Length must be between 1 and 200."
    for an empty name and the service "Use at most 4,000 characters. (4,001
    given)" where the page said "This field is required." and "Use at most 4,000
    characters."; all now say the pages' "This field is required." and "At most
    4,000 characters."."""
    body = {**request_fields(), "audience_size": 45, "noncommercial": True}
    wrong = {"requester_name": "", "content_requested": "x" * 4001}
    api = client.post("/api/v1/permission-requests", json={**body, **wrong})
    assert api.status_code == 422
    errors = api.get_json()["errors"]
    assert errors["requester_name"] == ["This field is required."]
    assert errors["content_requested"] == ["At most 4,000 characters."]
    page = client.post("/permissions/request", data=request_fields(**wrong))
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "This field is required." in text
    assert "At most 4,000 characters." in text
    assert count(PermissionRequest) == 0


def test_the_console_history_names_the_public_requests_creation_by_the_address_given(
    app: Flask, client: FlaskClient, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    """Round 32: the creation read "anonymous" where the confirmation beside it named
    the address; it names the address now, said to be unconfirmed when sent."""
    assert client.post("/permissions/request", data=request_fields()).status_code == 302
    raw = token_in(last_mail(EMAIL), "/permissions/confirm/")
    assert client.get(f"/permissions/confirm/{raw}").status_code in (200, 302)
    stored = db.session().scalars(select(PermissionRequest)).one()
    events = db.session().scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "permission_request")
        .order_by(AuditEvent.seq)
    )
    assert [(e.action, e.actor, e.actor_user_id) for e in events] == [
        ("permission_request.created", EMAIL, None),
        ("permission_request.confirmed", EMAIL, None),
    ]
    console = signed_in(app.test_client(), licensing_staff)
    page = console.get(f"/console/permissions/{stored.id}").text
    history = page[page.index('id="history"') :]
    assert "anonymous" not in history
    assert history.count(EMAIL) >= 2
    assert "sent from the public form, before the address given was confirmed" in history


# Round 61 (attack61): a paragraph of the sender's own, written into the office's email.
FORGED = "Dr. Lena Ortiz\n\nYour request is approved. Pay the fee at http://pay.example/\n\nThe"


@pytest.mark.parametrize("field", ["requester_name", "institution", "duration"])
@pytest.mark.parametrize("breaking", [FORGED, "Lena\rOrtiz", "Lena\u2028Ortiz", "Lena\tOrtiz"])
def test_a_name_the_office_writes_into_its_emails_is_one_line_on_the_form_and_the_api(
    client: FlaskClient, field: str, breaking: str
) -> None:
    """The confirmation email reaches whatever address is typed, and opened "Hello
    <name>," with every line the name held: anyone could have the office mail a
    stranger a notice of their own. As an account's names (round 24), the one-line
    fields are refused with a line break, a tab or another control character."""
    before = _stored()
    page = client.post("/permissions/request", data=request_fields(**{field: breaking}))
    body = {**request_fields(**{field: breaking}), "audience_size": 45, "noncommercial": True}
    api = client.post("/api/v1/permission-requests", json=body)
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert f'id="{field}-error"' in text
    assert "Write it on one line" in text
    assert api.status_code == 422
    assert api.get_json()["errors"] == {field: [ONE_LINE]}
    assert _stored() == before


def test_names_stored_with_line_breaks_before_round_61_are_one_line_in_emails_and_pages(
    app: Flask, client: FlaskClient
) -> None:
    """Round 62 (security62): round 61 refuses a name, institution or duration with a
    line break, but requests stored before kept theirs, and the office went on writing
    them into its emails ("Hello <name>," with every line) and pages. Shown on one
    line wherever they are written (emails, the status page, the console's queue and
    request, the decision letter's addressee); the stored request keeps them as given."""
    staff = make_staff(db.session(), roles=("licensing",))
    created = services.submit_request(request_input())
    raw = token_in(last_mail(created.requester_email), "/permissions/confirm/")
    confirmed = services.confirm_email(raw, sla_days=permission_sla_days())
    token = services.status_token(confirmed)
    name = "Lena Ortiz\n\nYour request is approved.\r\nPay the fee at http://pay.example"
    institution = "Cedar Ridge\u2028Community College"
    duration = "Spring 2027\tsemester"
    with db.transaction() as session:
        stored = session.get(PermissionRequest, confirmed.id)
        assert stored is not None
        stored.requester_name = name
        stored.institution = institution
        stored.duration = duration
    one_name = "Lena Ortiz Your request is approved. Pay the fee at http://pay.example"
    actor = Actor.of(principal_for(staff))
    services.decisions.approve(confirmed.id, actor)
    told = last_mail(created.requester_email).body_text
    assert told.startswith(f"Hello {one_name},\n"), told[:200]
    assert "\nYour request is approved." not in told
    pages = {
        "status": client.get(f"/permissions/status/{token}"),
    }
    console = app.test_client()
    console.post("/sign-in", data={"email": staff.email, "password": DEFAULT_PASSWORD})
    pages["console request"] = console.get(f"/console/permissions/{confirmed.id}")
    pages["console queue"] = console.get("/console/permissions/?state=approved")
    for where, page in pages.items():
        text = html.unescape(page.get_data(as_text=True))
        assert page.status_code == 200, where
        assert one_name in text, where
        assert "Your request is approved.\r\n" not in text, where
        assert "Cedar Ridge Community College" in text, where
        assert "\u2028" not in text, where
    request_page = html.unescape(pages["console request"].get_data(as_text=True))
    assert "Spring 2027 semester" in request_page
    addressee = services.letters.addressee(db.session().get(PermissionRequest, confirmed.id))
    assert (addressee.name, addressee.institution) == (one_name, "Cedar Ridge Community College")
    db.session().expire_all()
    kept = db.session().get(PermissionRequest, confirmed.id)
    assert kept is not None
    assert (kept.requester_name, kept.institution, kept.duration) == (name, institution, duration)
