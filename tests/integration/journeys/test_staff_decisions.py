"""Round 5: the staff decisions the earlier walks did not reach (approve with
changes, reconsideration, the rate card comparison), as each party reads them."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import time_machine
from flask import Flask
from sqlalchemy import select

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.audit.models import AuditEvent
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import (
    last_mail,
    submit,  # noqa: F401 - the fixture
)
from tests.integration.pricing.conftest import example_document
from tests.support.factories import bearer

Apply = Callable[..., Application]


def test_the_approval_email_says_what_the_office_changed_in_the_quote_and_why(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)  # quoted 8,000.00 USD
    staff = signed_in(app.test_client(), licensing_staff)
    approved = staff.post(
        f"/console/applications/{application.id}/approve",
        data={
            "amount-0": "6000.00",
            "reason-0": "Agreed rate for a small user base.",
            "term_start": "2027-01-01",
            "term_end": "2027-06-30",
            "term_reason": "A six-month pilot.",
        },
    )
    assert approved.status_code == 302, approved.get_data(as_text=True)[:2000]

    # The vendor read "total 6,000.00 USD" where they were quoted 8,000.00, with no
    # word that the office had changed the quote, nor why.
    body = last_mail(vendor.email).body_text
    assert "The licensing office changed the quote before approving it:" in body
    assert (
        "- Amount of use 1: from 8,000.00 USD to 6,000.00 USD. Agreed rate for a small user base."
        in body
    )
    assert "- Term end: from 2027-12-31 to 2027-06-30. A six-month pilot." in body


def test_an_approval_as_quoted_says_nothing_about_changes(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    assert staff.post(f"/console/applications/{application.id}/approve").status_code == 302
    body = last_mail(vendor.email).body_text
    assert "total 8,000.00 USD" in body
    assert "changed the quote" not in body


def test_the_rate_card_comparison_lists_each_difference_in_words(
    example_card: str, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    revision = example_document()
    revision["version"] = "2027.2"
    revision["adjustments"][0]["discount_percent"] = "12.5"
    ratecards.import_card(revision, published_by="tests")
    staff = signed_in(app.test_client(), licensing_staff)

    page = html.unescape(
        staff.get(f"/console/rate-cards/compare?old={example_card}&new=2027.2").get_data(
            as_text=True
        )
    )
    # Each item read "Change(kind='changed', subject='adjustment', key='nonprofit', ...)".
    assert "Change(" not in page
    assert (
        "<li>Changed adjustment nonprofit: now 12.5% discount for organization type: "
        "Non-profit organization or Academic institution (was 20% discount for organization "
        "type: Non-profit organization or Academic institution).</li>"
    ) in page


def test_staff_read_the_requesters_answer_and_grounds_in_the_email_and_the_audit_log(
    licensing_staff: Any,  # first: the staff notices go to the licensing staff there are
    submit: Any,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    request, token = submit()
    staff = signed_in(app.test_client(), licensing_staff)
    requester = app.test_client()
    console = f"/console/permissions/{request.id}"
    staff.post(f"{console}/ask", data={"message": "How many students take the course?"})
    requester.post(f"/permissions/status/{token}/answer", data={"body": "About 30 students."})
    # The notice said only "the requester answered": staff had to open the console
    # to learn what, and the audit log's row for the step had no trace of it.
    answered = last_mail(licensing_staff.email)
    assert "the requester answered" in answered.subject
    assert "They wrote: About 30 students." in answered.body_text
    assert _audit_note("permission_request.answered") == "About 30 students."

    staff.post(f"{console}/deny", data={"reason": "The course is sold commercially."})
    requester.post(
        f"/permissions/status/{token}/reconsideration", data={"body": "It is free to students."}
    )
    asked = last_mail(licensing_staff.email)
    assert "reconsideration requested" in asked.subject
    assert "They wrote: It is free to students." in asked.body_text
    assert _audit_note("permission_request.reconsideration_requested") == "It is free to students."


def _audit_note(action: str) -> str | None:
    event = (
        db.session()
        .scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))
        .one()
    )
    return event.note


def test_the_staff_notice_counts_one_use_in_the_singular(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    one = apply(vendor, STAFF_USE)
    # It read "submitted APP-000001 (1 uses, quoted 8,000.00 USD)."
    notice = last_mail(licensing_staff.email).body_text
    assert f"{one.reference} (1 use, quoted 8,000.00 USD)." in notice
    apply(vendor, STAFF_USE, STAFF_USE)
    assert "(2 uses, quoted" in last_mail(licensing_staff.email).body_text


def _dashboard(app: Flask, signed_in: Any, vendor: Any) -> str:
    client = signed_in(app.test_client(), vendor)
    return html.unescape(client.get("/portal/").get_data(as_text=True))


def test_the_vendor_s_dashboard_offers_reconsideration_of_a_rejection_until_the_window_closes(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    staff = Actor.of(accounts.principal_for(licensing_staff))
    rejected = services.reject(apply(vendor, STAFF_USE).id, "Revenue not evidenced", staff)
    assert rejected.reconsider_by is not None
    offer = f"{rejected.reference} was rejected: you may ask for reconsideration"

    # It said "Nothing is waiting" while the application page offered reconsideration.
    page = _dashboard(app, signed_in, vendor)
    assert offer in page
    deadline = calendar.deadline_text(rejected.reconsider_by)
    assert f"Ask by {deadline}" in page
    assert f'href="/portal/applications/{rejected.id}#rejected"' in page
    assert "Nothing is waiting" not in page

    with time_machine.travel(rejected.reconsider_by + timedelta(minutes=1), tick=True):
        closed = _dashboard(app, signed_in, vendor)
    assert offer not in closed
    assert "Nothing is waiting" in closed


def test_the_dashboard_stops_offering_reconsideration_once_the_vendor_asks(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    staff = Actor.of(accounts.principal_for(licensing_staff))
    rejected = services.reject(apply(vendor, STAFF_USE).id, "Revenue not evidenced", staff)
    services.request_reconsideration(
        rejected.id, "Audited accounts are attached.", Actor.of(accounts.principal_for(vendor))
    )

    page = _dashboard(app, signed_in, vendor)
    assert "you may ask for reconsideration" not in page
    assert f"{rejected.reference} is being reviewed" in page


def test_a_denied_reconsideration_keeps_the_rejection_s_reason_beside_the_denial_s(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    staff = Actor.of(accounts.principal_for(licensing_staff))
    rejected = services.reject(apply(vendor, STAFF_USE).id, "Revenue not evidenced", staff)
    services.request_reconsideration(
        rejected.id, "Audited accounts are attached.", Actor.of(accounts.principal_for(vendor))
    )
    services.deny_reconsideration(rejected.id, "The accounts are unsigned.", staff)

    # The denial's reason replaced the rejection's: both pages read only the denial.
    vendor_page = html.unescape(
        signed_in(app.test_client(), vendor)
        .get(f"/portal/applications/{rejected.id}")
        .get_data(as_text=True)
    )
    staff_page = html.unescape(
        signed_in(app.test_client(), licensing_staff)
        .get(f"/console/applications/{rejected.id}")
        .get_data(as_text=True)
    )
    for page in (vendor_page, staff_page):
        assert "Revenue not evidenced" in page
        assert "Reconsideration denied" in page
        assert "The accounts are unsigned." in page

    answer = app.test_client().get(f"/api/v1/applications/{rejected.id}", headers=bearer(vendor))
    assert answer.status_code == 200
    assert answer.json["decision_reason"] == "Revenue not evidenced"
    assert answer.json["reconsideration_denial_reason"] == "The accounts are unsigned."


def test_a_denial_after_reconsideration_keeps_the_first_denial_s_reason_beside_its_own(
    licensing_staff: Any,
    submit: Any,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    request, token = submit()
    staff = signed_in(app.test_client(), licensing_staff)
    requester = app.test_client()
    console = f"/console/permissions/{request.id}"
    staff.post(f"{console}/deny", data={"reason": "The course is sold commercially."})
    requester.post(
        f"/permissions/status/{token}/reconsideration", data={"body": "It is free to students."}
    )
    staff.post(f"{console}/deny", data={"reason": "The fee is charged per seat."})

    # The second denial's reason replaced the first's: both pages read only it.
    for page in (
        html.unescape(requester.get(f"/permissions/status/{token}").get_data(as_text=True)),
        html.unescape(staff.get(console).get_data(as_text=True)),
    ):
        assert "The course is sold commercially." in page
        assert "Reconsideration denied" in page
        assert "The fee is charged per seat." in page

    answer = requester.get(f"/api/v1/permission-status/{token}").json
    assert answer["denial_reason"] == "The course is sold commercially."
    assert answer["reconsideration_denial_reason"] == "The fee is charged per seat."
