"""Round 58: a request whose educational use the rate card in effect prices (the
example card's "Commercial training material is priced by staff", for education by
a commercial company) is not sent to the permissions queue to wait there for a
denial: the form comes back as sent, naming the card and its rule beside the type of
institution, with the estimator's link filled in with the use, and the API answers
422 the same way. A use the card routes to the queue, or one with no card in effect,
is sent as before. Nothing is stored when refused."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import calendar
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from licensing.permissions.models import PermissionRequest
from licensing.ratecards import services as ratecards
from tests.integration.permissions.conftest import count, request_fields
from tests.integration.pricing.conftest import example_document

BOOTCAMP = {
    "requester_name": "Dana Whitlock",
    "requester_email": "dana.whitlock@medbill-pros.example",
    "institution": "MedBill Pros Training LLC",
    "organization_type": "commercial",
    "purpose_detail": "A paid six-week coding bootcamp for billing staff.",
    "audience_size": "400",
    "medium": "lms",
}
RULE = "Commercial training material is priced by staff; rule education-commercial"


@pytest.fixture
def card_today(app: Flask) -> str:
    """The contract's example card, moved to a period that holds today."""
    today = calendar.office_date(utcnow())
    document = {
        **example_document(),
        "version": f"{today.year}.7",
        "effective_from": (today - timedelta(days=30)).isoformat(),
        "effective_to": (today + timedelta(days=400)).isoformat(),
    }
    return ratecards.import_card(document, published_by="tests").version


def _stored() -> tuple[int, int, int]:
    return count(PermissionRequest), count(OutboxMessage), count(AuditEvent)


def test_a_commercial_companys_training_comes_back_with_the_cards_rule_and_its_estimate(
    client: FlaskClient, card_today: str
) -> None:
    before = _stored()
    response = client.post("/permissions/request", data=request_fields(**BOOTCAMP))
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "This use needs a license" in page
    assert f"Rate card {card_today} licenses education by a commercial company: {RULE}." in page
    assert 'id="organization_type-error"' in page  # beside the field, and in the summary
    assert 'href="#organization_type"' in page
    assert 'value="MedBill Pros Training LLC"' in page  # what was typed is kept
    assert 'href="/sign-up"' in page
    assert _stored() == before
    # The estimate's link is filled in with the use: it opens priced by that rule.
    found = re.search(r'href="(/estimate\?[^"]+)">Estimate the license fee for this use', page)
    assert found is not None
    query = parse_qs(urlsplit(found.group(1)).query)
    assert query["organization_type"] == ["commercial"]
    assert query["uses-0-use"] == ["education"]
    assert query["uses-0-quantity-end_users"] == ["400"]
    today = calendar.office_date(utcnow())  # no days asked for: the year a grant runs
    assert query["term_start"] == [today.isoformat()]
    assert query["term_end"] == [(today + timedelta(days=364)).isoformat()]
    estimate = html.unescape(client.get(found.group(1)).get_data(as_text=True))
    assert "education-commercial" in estimate
    assert "1,500.00" in estimate


def test_the_estimate_link_carries_the_days_asked_for(client: FlaskClient, card_today: str) -> None:
    first = calendar.office_date(utcnow()) + timedelta(days=14)
    last = first + timedelta(days=60)
    asked = {"medium": "print", "use_from": first.isoformat(), "use_until": last.isoformat()}
    fields = request_fields(**{**BOOTCAMP, **asked})
    page = html.unescape(client.post("/permissions/request", data=fields).get_data(as_text=True))
    found = re.search(r'href="(/estimate\?[^"]+)">Estimate the license fee for this use', page)
    assert found is not None
    query = parse_qs(urlsplit(found.group(1)).query)
    assert query["term_start"] == [first.isoformat()]
    assert query["term_end"] == [last.isoformat()]
    assert query["uses-0-product_type"] == ["print"]
    assert query["uses-0-quantity-copies"] == ["400"]


def test_the_api_refuses_it_naming_the_rule_on_the_type_of_institution(
    client: FlaskClient, card_today: str
) -> None:
    body = {**request_fields(**BOOTCAMP), "audience_size": 400, "noncommercial": True}
    refused = client.post("/api/v1/permission-requests", json=body)
    assert refused.status_code == 422
    assert RULE in refused.get_json()["errors"]["organization_type"][0]
    assert count(PermissionRequest) == 0


def test_an_academic_course_is_sent_as_before_under_the_same_card(
    client: FlaskClient, card_today: str
) -> None:
    response = client.post("/permissions/request", data=request_fields())
    assert response.status_code == 302
    assert count(PermissionRequest) == 1


def test_without_a_card_in_effect_the_office_decides(client: FlaskClient) -> None:
    response = client.post("/permissions/request", data=request_fields(**BOOTCAMP))
    assert response.status_code == 302
    assert count(PermissionRequest) == 1
