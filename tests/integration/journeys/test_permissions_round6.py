"""Round 6 of the requester journeys: the educational permission request walked as
a teacher, a university department and a visitor from the price estimator."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from licensing import calendar, db
from licensing.actors import Actor
from licensing.permissions import services
from licensing.permissions.models import PermissionLetter, PermissionRequest
from tests.integration.permissions.conftest import (
    last_mail,
    request_fields,
    routed_use,
    send_routed,
    submit,  # noqa: F401 - the fixture
)
from tests.integration.pricing.conftest import (
    example_card,  # noqa: F401 - the fixture
)
from tests.support.documents import stored_pdf
from tests.support.pages import text_of
from tests.support.settings import permission_sla_days

Submit = Callable[..., tuple[PermissionRequest, str]]


def _letter_text(request: PermissionRequest) -> str:
    letter = (
        db.session()
        .scalars(select(PermissionLetter).where(PermissionLetter.request_id == request.id))
        .one()
    )
    return " ".join(
        " ".join((page.extract_text() or "").split())
        for page in PdfReader(io.BytesIO(stored_pdf(letter))).pages
    )


def test_the_grant_letter_names_the_course_or_work_the_permission_is_for(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    # The letter said only "Purpose: Course materials": which course, textbook or
    # study was granted was on the status page but not in the requester's proof.
    request, _token = submit(purpose_detail="Handouts for course MBC-110, unit 4.")
    services.approve(request.id, Actor.SYSTEM)
    assert "Course materials: Handouts for course MBC-110, unit 4." in _letter_text(request)


@pytest.mark.usefixtures("in_december_2026")  # 2027's days, before 2028
def test_a_routed_use_s_grant_letter_keeps_the_rate_card_s_working_out_of_the_letter(
    app: Flask, vendor: Any
) -> None:
    # A request routed from an application describes its purpose with the rate card's
    # working ("Rule EDU-1 routes ..."), for staff: the letter names the product in
    # its permitted use instead.
    organization = vendor.organization
    request = send_routed(routed_use(organization.id, organization.legal_name))
    services.approve(request.id, Actor.SYSTEM)
    letter = _letter_text(request)
    assert "Rule EDU-1" not in letter
    assert "Coding fundamentals workbook" in letter


def test_an_audience_written_with_a_thousands_separator_is_read_as_the_number(
    app: Flask, client: FlaskClient
) -> None:
    # "1,200" was refused as "not a whole number" on this form alone: the estimator
    # and the license application read "2,500" as the count it is.
    response = client.post("/permissions/request", data=request_fields(audience_size="1,200"))
    assert response.status_code == 302, response.get_data(as_text=True)
    stored = db.session().scalars(select(PermissionRequest)).one()
    assert stored.audience_size == 1200
    refused = client.post("/permissions/request", data=request_fields(audience_size="1.5"))
    assert refused.status_code == 422
    assert "Give the audience size as a whole number." in refused.get_data(as_text=True)


def test_the_estimator_s_link_to_a_permission_request_carries_what_the_visitor_entered(
    client: FlaskClient,
    example_card: str,  # noqa: F811
) -> None:
    # "Request permission for this educational use" opened a blank form: the visitor
    # typed their institution type, medium, audience and course a second time. (The
    # medium is theirs to choose since round 58.)
    query = {
        "organization_type": "academic",
        "term_start": "2027-01-15",
        "term_end": "2027-06-30",
        "rate_card": "",
        "uses-0-use": "education",
        "uses-0-product_type": "print",
        "uses-0-user_type": "academic",
        "uses-0-quantity-copies": "40",
        "uses-0-description": "Handouts for a nursing course <b>",
    }
    page = client.get("/estimate?" + urlencode(query)).get_data(as_text=True)
    found = re.search(r'href="(/permissions/request[^"]*)">Request permission for this', page)
    assert found, page
    form = client.get(html.unescape(found.group(1))).get_data(as_text=True)
    assert '<option selected value="academic">' in form
    # Not the medium (round 58): a product type is not how the audience receives it.
    assert 'selected value="print"' not in form
    assert 'name="audience_size" required type="text" value="40"' in form
    assert "Handouts for a nursing course &lt;b&gt;</textarea>" in form
    assert 'value="2027-01-15 to 2027-06-30"' in form
    # Only a suggestion: nothing is stored until the form is sent.
    assert db.session().scalars(select(PermissionRequest)).first() is None


def test_the_final_denial_email_gives_the_reconsideration_s_reason_and_says_it_is_final(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    # The email after a reconsideration repeated the first denial's reason ("Reason: A
    # workshop that charges a registration fee ...") while its letter and the status
    # page gave the second: the requester read the reason they had already answered.
    request, token = submit()
    services.deny(request.id, "A workshop that charges a fee is a commercial use.", Actor.SYSTEM)
    services.request_reconsideration(
        token, "The workshop is free for members.", sla_days=permission_sla_days()
    )
    services.deny(request.id, "Members pay dues that include the workshops.", Actor.SYSTEM)
    body = last_mail(request.requester_email).body_text
    assert "Reason: Members pay dues that include the workshops." in body
    assert "A workshop that charges a fee" not in body
    assert "This decision is final." in body
    assert "ask us to reconsider" not in body


def test_a_denial_gives_the_addresses_of_the_estimator_and_the_license_application(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    # A use denied as commercial "needs a license instead: the price estimator and the
    # license application are on our website", said the letter, with no address; the
    # email said nothing of it. Both now give the two pages.
    request, _token = submit()
    services.deny(request.id, "Registration fees make the workshop commercial.", Actor.SYSTEM)
    body = last_mail(request.requester_email).body_text
    letter = _letter_text(request)
    for text in (body, letter):
        assert "http://testserver/estimate" in text
        assert "http://testserver/sign-up" in text


def test_after_reconsideration_the_first_denial_letter_is_marked_as_reconsidered(
    app: Flask,
    client: FlaskClient,
    submit: Submit,  # noqa: F811
) -> None:
    # A request granted on reconsideration listed, under "Decision", "Download the
    # decision letter ...-D1" above the grant letter, nothing saying which one stands.
    request, token = submit()
    services.deny(request.id, "A fee is charged for the course.", Actor.SYSTEM)
    services.request_reconsideration(
        token, "The course is free of charge.", sla_days=permission_sla_days()
    )
    services.approve(request.id, Actor.SYSTEM)
    page = client.get(f"/permissions/status/{token}").get_data(as_text=True)
    letters = re.findall(r'<li><a href="[^"]*/letters/\d+">(.*?)</li>', page, re.S)
    assert len(letters) == 2, letters
    denial, grant = (" ".join(html.unescape(re.sub(r"<[^>]+>", " ", li)).split()) for li in letters)
    assert denial.startswith(f"Download the denial letter {request.reference}-D1 (PDF)")
    assert "the first decision, since reconsidered" in denial
    assert grant.startswith(f"Download the grant letter {request.reference}-G2 (PDF)")
    assert "reconsidered" not in grant


def test_the_approval_email_says_what_is_permitted_when_staff_narrow_the_use(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    # Staff granted "the introduction only" of what was asked, and the email read
    # "Your request ... is approved. Permission is granted from ... until ...": the
    # narrower use was only inside the attached PDF.
    request, _token = submit()
    services.approve(
        request.id, Actor.SYSTEM, permitted_use="The introduction to the section only."
    )
    body = last_mail(request.requester_email).body_text
    assert "Permitted use: The introduction to the section only." in body
    assert "Purpose: Course materials: Slides for the medical billing" in body


def test_a_decided_request_reads_as_decided_not_as_due_in_the_queue_and_on_its_page(
    app: Flask,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    # With the state filter on "Any", an approved request's row still read "Decision
    # due 2026-12-16", and its page "decision due by the end of ...": staff could not
    # tell a decided request from one still waiting without opening it.
    request, _token = submit()
    services.approve(request.id, Actor.SYSTEM)
    db.session().refresh(request)
    assert request.sla_due_at is not None
    assert request.decided_at is not None
    due_day = calendar.office_date(request.sla_due_at).isoformat()
    decided_day = calendar.office_date(request.decided_at).isoformat()
    staff = signed_in(app.test_client(), licensing_staff)
    queue = staff.get("/console/permissions/?q=&state=&assignee=").get_data(as_text=True)
    row = queue[queue.index(request.reference) :].split("</tr>", 1)[0]
    assert f"decided {decided_day}" in row
    assert due_day not in row
    response = staff.get(f"/console/permissions/{request.id}")
    detail = response.get_data(as_text=True)
    assert "decision due by" not in detail
    # Round 57: the request's facts say the day in words; the queue's cell keeps ISO.
    decided_words = calendar.day_text(calendar.office_date(request.decided_at))
    assert f"decided {decided_words}" in text_of(response)


def test_a_withdrawn_request_s_page_says_it_closed_without_a_decision(
    app: Flask,
    client: FlaskClient,
    submit: Submit,  # noqa: F811
) -> None:
    # Under "Decision" a withdrawn or expired request said "No decision yet.", as if
    # one were still to come, below "It cannot be reopened".
    _request, token = submit()
    services.withdraw(token)
    page = client.get(f"/permissions/status/{token}").get_data(as_text=True)
    decision = page[page.index("<h2>Decision</h2>") :].split("<h2", 2)[1]
    assert "No decision yet" not in decision
    assert "None: the request was withdrawn before a decision." in decision


def test_a_grant_on_reconsideration_says_in_its_letter_that_it_replaces_the_denial(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    # The grant letter issued after a reconsideration read as a first decision: the
    # requester kept a denial letter and a grant with nothing in the grant to say it
    # supersedes the denial.
    request, token = submit()
    services.deny(request.id, "A fee is charged for the course.", Actor.SYSTEM)
    services.request_reconsideration(
        token, "The course is free of charge.", sla_days=permission_sla_days()
    )
    services.approve(request.id, Actor.SYSTEM)
    grant = (
        db.session()
        .scalars(
            select(PermissionLetter).where(
                PermissionLetter.request_id == request.id, PermissionLetter.kind == "grant"
            )
        )
        .one()
    )
    text = " ".join(
        " ".join((page.extract_text() or "").split())
        for page in PdfReader(io.BytesIO(stored_pdf(grant))).pages
    )
    assert (
        f"This letter follows your request for reconsideration and replaces the denial "
        f"letter {request.reference}-D1." in text
    )
