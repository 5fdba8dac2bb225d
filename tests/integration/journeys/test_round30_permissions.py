"""Round 30: a teacher's permission request and the staff queue, walked."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.actors import Actor
from licensing.audit import services as audit_services
from licensing.db import utcnow
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.secret_paths import HIDDEN, hide_secrets
from tests.integration.permissions.conftest import (
    config_changes,  # noqa: F401 - the fixture (the form's rate limit off)
    count,
    last_mail,
    request_fields,
    requested_by,
    submit,  # noqa: F401 - the fixture
)
from tests.support.factories import bearer

Submit = Callable[..., tuple[PermissionRequest, str]]
EMAIL = "lena.ortiz@cedar-ridge.example"


def _page(response: Any) -> str:
    # Names isolated for right-to-left text (round 61, `|isolated`) read as their words.
    return html.unescape(re.sub(r"</?bdi>", "", response.get_data(as_text=True)))


def test_the_form_and_the_check_your_email_page_say_when_the_office_aims_to_decide(
    client: FlaskClient,
) -> None:
    # A teacher read that the office "reviews a request and answers with a letter",
    # and nothing of when: the service level was first said after confirming.
    form = _page(client.get("/permissions/request"))
    assert "aims to decide within 10 US business days" in form
    assert "It may email you a question first" in form
    sent = _page(client.get("/permissions/request/sent"))
    assert "which aims to decide within 10 US business days" in sent


def test_a_commercial_purpose_keeps_what_was_typed_and_says_why_beside_the_purpose(
    client: FlaskClient,
) -> None:
    # The refusal was a page of its own whose "go back to the request form" opened it
    # blank: a teacher who chose the commercial purpose by mistake typed it all again.
    fields = request_fields(purpose="commercial")
    response = client.post("/permissions/request", data=fields)
    assert response.status_code == 422
    page = _page(response)
    assert "A commercial use needs a license" in page
    assert 'href="/estimate"' in page
    assert 'href="/sign-up"' in page
    beside = page.split('id="purpose-error">', 1)[1].split("</p>", 1)[0]
    assert beside.startswith("A commercial product, service or publication needs a license")
    for name in ("requester_name", "requester_email", "institution", "duration"):
        assert f'name="{name}" required type="text" value="{fields[name]}"' in page.replace(
            'type="email"', 'type="text"'
        ), name
    assert f"{fields['content_requested']}</textarea>" in page
    assert count(PermissionRequest) == 0


def test_the_status_page_sends_a_corrected_request_filled_in_with_every_field(
    client: FlaskClient,
    submit: Submit,  # noqa: F811
) -> None:
    # "Can I correct my request?": the status page offered only "Withdraw", and after
    # it "send a new request" opened a blank form.
    request, token = submit(audience_size=45, duration="Spring 2027 semester")
    status = _page(client.get(f"/permissions/status/{token}"))
    assert "A request cannot be changed once sent." in status
    found = re.search(r'<a href="([^"]+)" id="correct">send a corrected request</a>', status)
    assert found, status
    assert found.group(1) == f"/permissions/request?again={token}"

    form = client.get(found.group(1))
    page = _page(form)
    assert '<meta name="referrer" content="no-referrer">' in page  # the token is in the address
    # Round 58: it names the request, which the correction replaces once confirmed.
    assert f"The form is filled in with your request {request.reference}" in page
    for value in (
        'value="Lena Ortiz"',
        f'value="{EMAIL}"',
        'value="Cedar Ridge Community College"',
        '<option selected value="faculty">',
        '<option selected value="academic">',
        '<option selected value="course_materials">',
        '<option selected value="lms">',
        'value="45"',
        'value="Spring 2027 semester"',
        "The section guidelines for evaluation and management services.</textarea>",
    ):
        assert value in page, value
    assert 'id="noncommercial" name="noncommercial" type="checkbox" value="y">' in page  # unticked

    # Withdrawn, the page's "send a new request" opens the same filled-in form.
    services.withdraw(token)
    closed = _page(client.get(f"/permissions/status/{token}"))
    assert f'to ask again, <a href="/permissions/request?again={token}">send a new request</a>' in (
        closed
    )
    # A link that does not work opens the form as any visitor sees it, and says nothing.
    blank = _page(client.get("/permissions/request?again=not-a-token"))
    assert 'value="Lena Ortiz"' not in blank
    assert "The form is filled in" not in blank
    assert request.reference not in blank


def test_a_routed_request_s_status_page_offers_no_public_correction(
    app: Flask, vendor: Any
) -> None:
    # A use routed from a license application is the application's, not the form's.
    routed = requested_by(vendor)
    token = services.status_token(routed)
    page = _page(app.test_client().get(f"/permissions/status/{token}"))
    assert "A request cannot be changed once sent." in page
    assert 'id="correct"' not in page


def test_the_type_of_institution_reads_as_the_form_offered_it(
    app: Flask,
    client: FlaskClient,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The form offered "Academic institution"; the status page and the staff page read
    # back the vocabulary's "(academic)".
    request, token = submit()
    expected = "Cedar Ridge Community College (academic institution); faculty"
    assert expected in _page(client.get(f"/permissions/status/{token}"))
    staff = signed_in(app.test_client(), licensing_staff)
    assert expected in _page(staff.get(f"/console/permissions/{request.id}"))


def test_the_queue_gives_the_week_s_decisions_and_the_reader_s_own(
    app: Flask,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A reviewer asked for their week's throughput: the queue gave open counts and a
    # 90-day median, nothing of what was decided this week, nor by whom.
    me = Actor.user(licensing_staff.email, licensing_staff.id, None, frozenset({"licensing"}))
    now = utcnow()
    granted, _ = submit()
    services.approve(granted.id, me, now=now - timedelta(days=2))
    denied, _ = submit()
    services.deny(denied.id, "A fee is charged for the course.", me, now=now - timedelta(days=1))
    by_office, _ = submit()
    services.approve(by_office.id, Actor.SYSTEM, now=now - timedelta(days=3))
    last_week, _ = submit()
    with monkeypatch.context() as clock:  # the audit log's time is the wall clock's
        clock.setattr(audit_services, "utcnow", lambda: now - timedelta(days=8))
        services.approve(last_week.id, me, now=now - timedelta(days=8))
    submit()  # still waiting

    client = signed_in(app.test_client(), licensing_staff)
    page = _page(client.get("/console/permissions/"))
    week = page.split('id="week">', 1)[1].split("</dd>", 1)[0]
    assert week.split()[0] == "3"
    assert "(2 granted, 1 denied; 2 by you)" in " ".join(week.split())

    answer = client.get("/api/v1/permission-requests/metrics", headers=bearer(licensing_staff))
    figures = answer.get_json()
    assert (figures["granted_last_7_days"], figures["denied_last_7_days"]) == (2, 1)
    assert figures["yours_last_7_days"] == 2


def test_the_staff_page_says_what_the_decision_turns_on_and_what_the_requester_confirmed(
    app: Flask,
    submit: Submit,  # noqa: F811
    vendor: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # A reviewer deciding read the request's fields and the buttons: nothing said on
    # what grounds to grant or deny, nor that the requester had attested the use was
    # non-commercial (the form's box is stored, and shown nowhere).
    public, _ = submit()
    routed = requested_by(vendor)
    client = signed_in(app.test_client(), licensing_staff)
    page = " ".join(_page(client.get(f"/console/permissions/{public.id}")).split())
    grounds = page.split('id="grounds">', 1)[1].split("</p>", 1)[0]
    assert grounds.startswith(
        "What to decide: permission covers non-commercial educational use only."
    )
    assert 'The requester confirmed on <time datetime="20' in grounds
    assert "(US Central time)</time> that no fee is charged for access" in grounds
    assert "deny, giving the reason, a use that is commercial" in grounds
    page = " ".join(_page(client.get(f"/console/permissions/{routed.id}")).split())
    assert "rate card routed this use here as non-commercial education" in page

    services.approve(public.id, Actor.SYSTEM)
    decided = _page(client.get(f"/console/permissions/{public.id}"))
    assert 'id="grounds"' not in decided


def test_over_the_shared_rate_limit_the_form_comes_back_kept_saying_when_to_send_it(
    app: Flask, client: FlaskClient
) -> None:
    # The form shares the sign-in budget per address: a teacher on a campus network,
    # where colleagues had been signing in, met "Too many attempts" on a page of its
    # own, and the request typed in full was gone.
    from licensing.extensions import limiter

    app.config["LICENSING"] = app.config["LICENSING"].__class__(
        **{**app.config["LICENSING"].__dict__, "auth_rate_limit": "2 per minute"}
    )
    limiter.reset()
    for _ in range(2):
        client.post("/sign-in", data={"email": "someone@cedar-ridge.example", "password": "x"})
    fields = request_fields()
    refused = client.post("/permissions/request", data=fields)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    page = _page(refused)
    said = " ".join(page.split('id="limited"', 1)[1].split("</div>", 1)[0].split())
    assert "this request was not sent and nothing was stored" in said
    assert "Send it again in " in said
    assert "what you typed is kept below" in said
    assert 'value="Lena Ortiz"' in page
    assert f"{fields['purpose_detail']}</textarea>" in page
    assert '<option selected value="lms">' in page
    assert count(PermissionRequest) == 0
    # Sign-in's own refusal is the plain page, as before.
    assert "Too many attempts" in _page(client.post("/sign-in", data={"email": "a@b.example"}))


def test_the_queue_says_in_what_order_it_lists_the_requests(
    app: Flask,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The officer could not tell why a request came first: the list said nothing of
    # its order (soonest due, as the other queues say theirs).
    submit()
    client = signed_in(app.test_client(), licensing_staff)
    page = _page(client.get("/console/permissions/"))
    said = page.split('id="order">', 1)[1].split("</p>", 1)[0]
    assert said == "By the date the decision is due, soonest first: overdue requests lead."
    ending = _page(client.get("/console/permissions/?ending=1"))
    assert 'id="order">The grant ending soonest first.</p>' in ending


def test_the_expiry_and_withdrawal_emails_say_the_status_page_sends_a_filled_in_request(
    app: Flask,
    client: FlaskClient,
    submit: Submit,  # noqa: F811
) -> None:
    # "To continue, submit a new request with the information we asked for": the
    # teacher looked for a blank form and typed it all again.
    expired, expired_token = submit()
    services.ask_for_info(expired.id, "Which sections?", Actor.SYSTEM)
    services.expire_due(utcnow() + timedelta(days=30))
    body = " ".join(last_mail(EMAIL).body_text.split())
    assert "the request's status page sends one, the form filled in with this request" in body
    assert f"/permissions/status/{expired_token}" in body
    page = _page(client.get(f"/permissions/status/{expired_token}"))
    assert f'<a href="/permissions/request?again={expired_token}">send a new request</a>' in page

    _, withdrawn_token = submit(requester_email="omar@cedar-ridge.example")
    services.withdraw(withdrawn_token)
    body = " ".join(last_mail("omar@cedar-ridge.example").body_text.split())
    assert "submit a new request (the request's status page sends one, the form filled" in body


def test_the_status_token_in_the_corrected_request_s_address_is_hidden_from_the_logs() -> None:
    # The filled-in form's address carries the status token as `again=`: the access
    # log wrote the path whole, query included.
    secret = "Zq3xW9_secretPart-0123456789abcdefghijkLMNOP"
    line = f'GET /permissions/request?again={secret}&x=1 HTTP/1.1 "-"'
    hidden = hide_secrets(line)
    assert secret not in hidden
    assert f"?again={HIDDEN}&x=1" in hidden
    assert hide_secrets("/estimate?regain=1&gain=2") == "/estimate?regain=1&gain=2"
