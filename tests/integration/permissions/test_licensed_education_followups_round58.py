"""Round 58, after the educator's walk (permwalk58): a denial's email links the
estimator filled in with the use refused (it opened blank); a request in the queue
from before the form refused a use the rate card licenses says so on the console's
request page, its denial's reason filled in; and the estimator's link to the form
leaves the medium for the requester to choose (a product type says what the product
is, not how the audience receives it: a course on a learning-management system
arrived as "Print")."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import calendar
from licensing.db import utcnow
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.ratecards import services as ratecards
from tests.integration.permissions.conftest import OFFICE, last_mail
from tests.integration.pricing.conftest import (
    example_card,  # noqa: F401 - the fixture
    example_document,
)

Submit = Callable[..., tuple[PermissionRequest, str]]

BOOTCAMP = {
    "requester_name": "Dana Whitlock",
    "requester_email": "dana.whitlock@medbill-pros.example",
    "institution": "MedBill Pros Training LLC",
    "organization_type": "commercial",
    "purpose_detail": "A paid six-week coding bootcamp for billing staff.",
    "audience_size": 400,
    "medium": "lms",
}
RULE = "Commercial training material is priced by staff; rule education-commercial"


def _card_in_effect_today() -> str:
    """The contract's example card, moved to a period that holds today."""
    today = calendar.office_date(utcnow())
    document = {
        **example_document(),
        "version": f"{today.year}.7",
        "effective_from": (today - timedelta(days=30)).isoformat(),
        "effective_to": (today + timedelta(days=400)).isoformat(),
    }
    return ratecards.import_card(document, published_by="tests").version


def _estimate_link(body: str) -> str:
    found = re.search(r"estimate its fee at http://testserver(/estimate\S*) and apply", body)
    assert found, body
    return found.group(1)


def test_a_denials_email_links_the_estimator_filled_in_with_the_use_refused(
    app: Flask, client: FlaskClient, submit: Submit
) -> None:
    # Sent before any card was in effect (the form then sends it); denied by hand.
    request, _ = submit(**BOOTCAMP)
    version = _card_in_effect_today()
    services.deny(request.id, "A paid bootcamp is a commercial use.", OFFICE)
    link = _estimate_link(last_mail(request.requester_email).body_text)
    query = parse_qs(urlsplit(link).query)
    today = calendar.office_date(utcnow())
    assert query == {
        "organization_type": ["commercial"],
        "uses-0-use": ["education"],
        "uses-0-product_type": ["electronic_publication"],
        "uses-0-user_type": ["academic"],
        "uses-0-quantity-end_users": ["400"],
        "uses-0-description": ["A paid six-week coding bootcamp for billing staff."],
        # No days asked for: the year a grant would have run.
        "term_start": [today.isoformat()],
        "term_end": [(today + timedelta(days=364)).isoformat()],
    }
    # It opens the estimate priced by the card's rule, nothing typed again.
    estimate = html.unescape(client.get(link).get_data(as_text=True))
    assert version in estimate
    assert "education-commercial" in estimate
    assert "1,500.00" in estimate


def test_a_denials_email_carries_the_days_asked_for_and_printed_copies(
    app: Flask, submit: Submit
) -> None:
    first = calendar.office_date(utcnow()) + timedelta(days=10)
    last = first + timedelta(days=90)
    request, _ = submit(medium="print", audience_size=60, use_from=first, use_until=last)
    services.deny(request.id, "The handouts are sold.", OFFICE)
    query = parse_qs(urlsplit(_estimate_link(last_mail().body_text)).query)
    assert query["organization_type"] == ["academic"]
    assert query["uses-0-product_type"] == ["print"]
    assert query["uses-0-quantity-copies"] == ["60"]
    assert query["term_start"] == [first.isoformat()]
    assert query["term_end"] == [last.isoformat()]


def test_a_request_queued_before_the_form_refused_a_licensed_use_says_so_to_the_officer(
    app: Flask,
    submit: Submit,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    bootcamp, _ = submit(**BOOTCAMP)  # queued with no card in effect: the office decides
    course, _ = submit()  # an academic institution's course
    version = _card_in_effect_today()
    client = signed_in(app.test_client(), licensing_staff)
    page = html.unescape(client.get(f"/console/permissions/{bootcamp.id}").get_data(as_text=True))
    flagged = re.search(r'<p class="flash flash-warning" id="licensed">(.*?)</p>', page, re.S)
    assert flagged, page
    said = " ".join(re.sub(r"<[^>]+>", "", flagged.group(1)).split())
    assert said.startswith(
        f"Licensed, not permitted: Rate card {version} licenses education by a commercial "
        f"company: {RULE}. The request form now refuses such a use;"
    )
    # The estimate the denial's email links, filled in with the use.
    found = re.search(r'href="(/estimate\?[^"]+)">the estimate of this use', flagged.group(1))
    assert found
    assert parse_qs(urlsplit(found.group(1)).query)["uses-0-quantity-end_users"] == ["400"]
    # The denial's reason is ready: the officer reads it and denies.
    reason = re.search(r'<textarea[^>]*name="reason"[^>]*>\s*(.*?)</textarea>', page, re.S)
    assert reason
    assert reason.group(1).startswith(f"Rate card {version} licenses education by a commercial")
    denied = client.post(f"/console/permissions/{bootcamp.id}/deny", data={"reason": reason[1]})
    assert denied.status_code == 302
    body = last_mail(bootcamp.requester_email).body_text
    assert f"Reason: Rate card {version} licenses education" in body
    assert "uses-0-use=education" in _estimate_link(body)
    # The card routes an academic course to the queue: nothing is said there.
    other = client.get(f"/console/permissions/{course.id}").get_data(as_text=True)
    assert 'id="licensed"' not in other
    # Nor once decided.
    decided = client.get(f"/console/permissions/{bootcamp.id}").get_data(as_text=True)
    assert 'id="licensed"' not in decided


def test_without_a_card_in_effect_the_request_page_flags_nothing(
    app: Flask,
    submit: Submit,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    bootcamp, _ = submit(**BOOTCAMP)
    client = signed_in(app.test_client(), licensing_staff)
    page = client.get(f"/console/permissions/{bootcamp.id}").get_data(as_text=True)
    assert 'id="licensed"' not in page


@pytest.mark.parametrize("product_type", ["print", "electronic_publication", "saas"])
def test_the_estimators_link_leaves_the_medium_for_the_requester_to_choose(
    client: FlaskClient,
    product_type: str,
    example_card: str,  # noqa: F811
) -> None:
    query = {
        "organization_type": "academic",
        "term_start": "2027-01-15",
        "term_end": "2027-06-30",
        "uses-0-use": "education",
        "uses-0-product_type": product_type,
        "uses-0-user_type": "academic",
        "uses-0-quantity-copies": "40",
        "uses-0-quantity-end_users": "40",
        "uses-0-description": "Slides for a nursing course",
    }
    page = client.get("/estimate?" + urlencode(query)).get_data(as_text=True)
    found = re.search(r'href="(/permissions/request[^"]*)">Request permission for this', page)
    assert found, page
    link = html.unescape(found.group(1))
    assert "medium" not in parse_qs(urlsplit(link).query)
    form = client.get(link).get_data(as_text=True)
    medium = re.search(r'<select[^>]*name="medium".*?</select>', form, re.S)
    assert medium
    assert "selected" not in medium.group(0)  # "Choose…", and the hint says the choices
    assert "a course on a learning-management system" in form
    assert '<option selected value="academic">' in form  # the rest is carried as before
