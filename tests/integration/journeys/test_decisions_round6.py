"""Round 6: loose ends in decisions and letters (docs/journeys.md, "Round 6:
decisions and letters"). Each test failed before its fix."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application, QuoteVersion
from licensing.agreements.states import APPLICATION
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.permissions.states import PERMISSION_REQUEST
from licensing.royalties.states import REVIEW
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import (
    last_mail,
    submit,  # noqa: F401 - the fixture
)
from tests.integration.royalties.conftest import (
    SOFTWARE,
    active_agreement,  # noqa: F401 - the fixture
    file_report,  # noqa: F401 - the fixture
    flagged_report,
)
from tests.support.factories import bearer

Apply = Callable[..., Application]
Submit = Callable[..., tuple[PermissionRequest, str]]


def test_an_amount_posted_for_a_use_the_application_does_not_have_is_refused_on_the_form(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)  # one use
    staff = signed_in(app.test_client(), licensing_staff)
    # The browser's form has amount-0 only; a crafted post names use 4. It was
    # dropped unread and the application approved as quoted.
    answer = staff.post(
        f"/console/applications/{application.id}/approve",
        data={"amount-3": "6000.00", "reason-3": "Agreed rate."},
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Use 4 is not a use of this application (it has 1 use)" in page
    assert 'id="amount-0"' in page  # the approval form again
    session = db.session()
    session.expire_all()
    assert session.get(Application, application.id).state == "submitted"
    versions = session.scalars(
        select(QuoteVersion).where(QuoteVersion.application_id == application.id)
    ).all()
    assert [version.kind for version in versions] == ["submitted"]


def test_the_api_refuses_an_amount_for_a_use_the_application_does_not_have(
    apply: Apply, vendor: Any, licensing_staff: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)
    answer = app.test_client().post(
        f"/api/v1/applications/{application.id}/approve",
        json={"lines": [{"line": 3, "amount": "6000.00", "reason": "Agreed rate."}]},
        headers=bearer(licensing_staff),
    )
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["errors"] == {
        "lines.0.line": ["Use 4 is not a use of this application (it has 1 use)."]
    }
    db.session().expire_all()
    assert db.session().get(Application, application.id).state == "submitted"


def _staff_actor(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def test_a_permission_request_s_state_reads_in_its_machine_s_words_on_every_page(
    licensing_staff: Any,
    submit: Submit,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    request, token = submit()
    services.ask_for_info(request.id, "Which sections?", _staff_actor(licensing_staff))
    words = PERMISSION_REQUEST.state_text("needs_info")  # "waiting for the requester's ..."
    staff = signed_in(app.test_client(), licensing_staff)
    pages = {
        "the request's page": staff.get(f"/console/permissions/{request.id}"),
        "the queue": staff.get("/console/permissions/"),
        "the status page": app.test_client().get(f"/permissions/status/{token}"),
    }
    for name, answer in pages.items():
        page = html.unescape(answer.get_data(as_text=True))
        # The badges, the queue's metrics and its state filter said "needs info"; the
        # requester's own page says it to them (round 7).
        said = "waiting for your information" if name == "the status page" else words
        assert f">{said}</span>" in page, name
        assert "needs info" not in page.lower(), name
    queue = html.unescape(pages["the queue"].get_data(as_text=True))
    assert f'<option value="needs_info">{words}</option>' in queue
    assert f"<dt>{words[:1].upper()}{words[1:]}</dt>" in queue


def test_the_staff_notice_of_a_reconsideration_says_the_state_in_the_machine_s_words(
    licensing_staff: Any,
    submit: Submit,  # noqa: F811
    app: Flask,
) -> None:
    request, token = submit()
    services.deny(request.id, "A commercial course.", _staff_actor(licensing_staff))
    services.request_reconsideration(token, "It is free to students.", sla_days=10)
    notice = last_mail(licensing_staff.email).body_text
    # It read "State: reconsideration".
    assert "State: being reconsidered" in notice


def _page(client: Any, url: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 200, url
    return html.unescape(answer.get_data(as_text=True))


def test_an_application_s_state_reads_in_its_machine_s_words_on_badges_and_history(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    staff = _staff_actor(licensing_staff)
    rejected = agreements.reject(apply(vendor, STAFF_USE).id, "Revenue not evidenced", staff)
    agreements.request_reconsideration(rejected.id, "Accounts attached.", _staff_actor(vendor))
    words = APPLICATION.state_text("reconsideration_requested")  # "awaiting reconsideration"
    console = signed_in(app.test_client(), licensing_staff)
    portal = signed_in(app.test_client(), vendor)
    pages = {
        "the review page": _page(console, f"/console/applications/{rejected.id}"),
        "the queue": _page(console, "/console/applications?state=reconsideration_requested"),
        "the vendor's page": _page(portal, f"/portal/applications/{rejected.id}"),
        "the vendor's list": _page(portal, "/portal/applications"),
    }
    for name, page in pages.items():
        # Badges said "reconsideration requested", refusals "awaiting reconsideration".
        assert f'state-reconsideration_requested">{words}</span>' in page, name
    history = pages["the review page"]
    history = history[history.index(">History</h2>") :]
    # It read "state: rejected → reconsideration_requested".
    assert f"state: rejected → {words}" in history


def test_a_royalty_report_s_review_state_reads_in_its_machine_s_words(
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    flagged = flagged_report(file_report, vendor, active_agreement(vendor, SOFTWARE))
    words = REVIEW.state_text("flagged")  # "flagged for review"
    console = signed_in(app.test_client(), licensing_staff)
    report = _page(console, f"/console/royalty-reports/{flagged.id}")
    queue = _page(console, "/console/royalty-reports")
    assert f'state-flagged">{words}</span>' in report
    assert f", {words}, filed" in queue  # it read ", flagged, filed"
