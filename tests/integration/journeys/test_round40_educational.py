"""Round 40: a university teacher's permission requests walked again, each email and
letter read as it arrived (the browser walk: tests/browser/test_educational_request_walk.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from licensing import calendar, db
from licensing.db import utcnow
from licensing.permissions import services
from licensing.permissions.models import PermissionLetter, PermissionRequest
from tests.integration.permissions.conftest import (
    OFFICE,
    config_changes,  # noqa: F401 - the fixture (the form's rate limit off)
    last_mail,
    requested_by,
    submit,  # noqa: F401 - the fixture
)
from tests.support.documents import pdf_text, stored_pdf
from tests.support.pages import without_time_tags
from tests.support.settings import permission_sla_days

Submit = Callable[..., tuple[PermissionRequest, str]]
EMAIL = "lena.ortiz@cedar-ridge.example"


def _one_line(text: str) -> str:
    return " ".join(without_time_tags(text).split())


def test_the_question_email_says_when_the_office_decides_after_the_answer(
    submit: Submit,  # noqa: F811
) -> None:
    # The email said only that an unanswered request "would have to be submitted
    # again": nothing of what the answer leads to, where the status page says it.
    request, _token = submit()
    services.ask_for_info(request.id, "Is the course taught only on campus?", OFFICE)
    body = _one_line(last_mail(EMAIL).body_text)
    assert "Once you answer, we aim to decide within 10 US business days" in body
    assert "our clock stops while we wait for you" in body
    assert "its status page then sends a new request, the form filled in with this one" in body
    assert "would have to be submitted again" not in body


def test_the_grant_email_says_granted_and_where_the_next_request_is_sent_from(
    submit: Submit,  # noqa: F811
) -> None:
    # The status page and the letter say "granted"; the email said "approved", and
    # nothing of how to go on after the permission's last day.
    request, token = submit()
    services.approve(request.id, OFFICE)
    message = last_mail(EMAIL)
    assert message.subject.startswith("Your permission request is granted")
    body = _one_line(message.body_text)
    assert f"Your request {request.reference} is granted." in body
    assert "from 60 days before the permission ends, sends a new request" in body
    assert f"/permissions/status/{token}" in body


def test_the_grant_letter_says_where_to_send_the_next_request(
    submit: Submit,  # noqa: F811
) -> None:
    # "To continue the use after that date, submit a new request": no address, while
    # the status page sends one filled in.
    request, token = submit()
    services.approve(request.id, OFFICE)
    letter = db.session().scalars(select(PermissionLetter)).one()
    text = _one_line(pdf_text(stored_pdf(letter)))
    assert "your request's status page sends one, the form filled in with this request" in text
    assert f"/permissions/status/{token}" in text.replace(" ", "")


def test_a_routed_grant_keeps_its_words_without_the_public_link(vendor: Any) -> None:
    request = requested_by(vendor)
    services.approve(request.id, OFFICE)
    body = _one_line(last_mail(vendor.email).body_text)
    assert "sends a new request" not in body
    letter = db.session().scalars(select(PermissionLetter)).one()
    assert "To continue the use after that date, submit a new request." in _one_line(
        pdf_text(stored_pdf(letter))
    )


def test_the_denial_letter_and_email_name_the_purpose_refused(
    submit: Submit,  # noqa: F811
) -> None:
    # A teacher granted the section guidelines for course handouts and refused them
    # for a review book read a denial letter naming the content alone: the content
    # the grant letter had just granted.
    granted, _ = submit(purpose_detail="Handouts for HIM 310, weeks 4 to 6.")
    services.approve(granted.id, OFFICE)
    refused, _ = submit(
        purpose="exam_preparation", purpose_detail="A review book sold at the campus store."
    )
    services.deny(refused.id, "A book sold at the store is commercial.", OFFICE)
    letter = (
        db.session()
        .scalars(select(PermissionLetter).where(PermissionLetter.request_id == refused.id))
        .one()
    )
    text = _one_line(pdf_text(stored_pdf(letter)))
    assert "Purpose Exam preparation: A review book sold at the campus store." in text
    body = _one_line(last_mail(EMAIL).body_text)
    assert "Content requested: The section guidelines for evaluation and management" in body
    assert "Purpose: Exam preparation: A review book sold at the campus store." in body

    # Reconsidered and denied again: the final email names the use too.
    services.request_reconsideration(
        services.status_token(refused), "It is sold at cost.", sla_days=permission_sla_days()
    )
    services.deny(refused.id, "A book sold at any price is a publication for sale.", OFFICE)
    final = _one_line(last_mail(EMAIL).body_text)
    assert "still not able to grant it" in final
    assert "Purpose: Exam preparation: A review book sold at the campus store." in final


def test_the_home_page_says_what_happens_after_an_educational_request(client: Any) -> None:
    # The home page's education section said only "reviewed by the licensing office":
    # nothing of an account, the confirmation, or when.
    page = _one_line(client.get("/").get_data(as_text=True))
    assert "No account is needed: you send the form and confirm your email address" in page
    assert "aims to decide within 10 US business days, by email with a letter" in page
    assert "says whether it is priced or goes to a permission request" in page


def test_the_approve_form_sets_the_default_last_day_beside_the_duration_asked_for(
    app: Any,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., Any],
    licensing_staff: Any,
) -> None:
    # The teacher asked for the Fall 2027 semester; "Valid until: Default: one year."
    # granted from December 2026 to December 2027, a letter ending before the term does.
    request, _ = submit(duration="Fall 2027 semester")
    client = signed_in(app.test_client(), licensing_staff)
    page = _one_line(client.get(f"/console/permissions/{request.id}").get_data(as_text=True))
    today = calendar.office_date(utcnow())
    until = calendar.day_text(services.default_validity_end(today))
    assert f"Default: one year, until {until}. The requester asked for: Fall 2027 semester;" in (
        page
    )
