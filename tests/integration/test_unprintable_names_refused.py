"""Round 55: text our documents cannot print (a script no embedded font has, such as
Ethiopic) was accepted by the forms and the API and printed as empty boxes in the
agreement, the invoices and the letters. Where such text is typed, it is refused
with a 422 naming each character, on the page beside the field and in the API's
problem; nothing is stored. Scripts the documents print (Bengali since this round)
are accepted as before."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.agreements.models import Application
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.permissions.conftest import count, request_fields
from tests.support.factories import bearer

ETHIOPIC = "\u12a0\u1260\u1260 \u1270\u1230\u1218"  # invented: no font here draws it
NAMED = "\u12a0 (U+12A0 ETHIOPIC SYLLABLE GLOTTAL A)"
BENGALI = "বাংলা সফটওয়্যার"
PROBLEM = "application/problem+json"


def _organization(user: User) -> Organization:
    found = db.session().get(Organization, user.organization_id, populate_existing=True)
    assert found is not None
    return found


def test_the_api_refuses_an_address_no_document_can_print_naming_the_characters(
    client: FlaskClient, vendor: User
) -> None:
    before = _organization(vendor).snapshot()
    response = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        json={"city": ETHIOPIC},
        headers=bearer(vendor),
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    (message,) = response.get_json()["errors"]["city"]
    assert message.startswith(f"Our documents cannot print {NAMED}, ")
    assert "would show an empty box" in message
    assert _organization(vendor).snapshot() == before
    accepted = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        json={"city": BENGALI},
        headers=bearer(vendor),
    )
    assert accepted.status_code == 200
    assert _organization(vendor).city == BENGALI


def test_the_profile_page_shows_the_refusal_beside_the_field(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    organization = _organization(vendor)
    before = organization.snapshot()
    form = {
        name: getattr(organization, name) or ""
        for name in (
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "billing_contact_name",
            "billing_email",
            "tax_id",
        )
    }
    response = client.post("/organization/profile", data={**form, "address_line1": ETHIOPIC})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="address_line1-error"' in page
    assert "Our documents cannot print" in page
    assert "U+12A0 ETHIOPIC SYLLABLE GLOTTAL A" in page
    assert _organization(vendor).snapshot() == before


def test_an_application_whose_product_no_document_can_print_is_refused(
    client: FlaskClient, vendor: User
) -> None:
    body = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "uses": [{**AUTO_USE, "product_name": ETHIOPIC}],
    }
    before = count(Application)
    response = client.post("/api/v1/applications", json=body, headers=bearer(vendor))
    assert response.status_code == 422
    (message,) = response.get_json()["errors"]["uses.0.product_name"]
    assert NAMED in message
    assert count(Application) == before
    body["uses"] = [{**AUTO_USE, "product_name": BENGALI}]
    assert client.post("/api/v1/applications", json=body, headers=bearer(vendor)).status_code == 201


def test_a_permission_request_in_a_script_no_letter_prints_is_refused_on_the_form_and_api(
    client: FlaskClient,
) -> None:
    page = client.post("/permissions/request", data=request_fields(institution=ETHIOPIC))
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert 'id="institution-error"' in text
    assert "U+12A0 ETHIOPIC SYLLABLE GLOTTAL A" in text
    body = {**request_fields(requester_name=ETHIOPIC), "audience_size": 45, "noncommercial": True}
    api = client.post("/api/v1/permission-requests", json=body)
    assert api.status_code == 422
    assert NAMED in api.get_json()["errors"]["requester_name"][0]
    assert count(PermissionRequest) == 0


def test_a_users_name_no_letter_can_print_is_refused_beside_the_field(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # A permission asked from an application is addressed to its requester's name.
    client = signed_in(app.test_client(), vendor)
    name = vendor.full_name
    response = client.post("/account/name", data={"full_name": ETHIOPIC})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="full_name-error"' in page
    assert "U+12A0 ETHIOPIC SYLLABLE GLOTTAL A" in page
    assert db.session().get(User, vendor.id, populate_existing=True).full_name == name  # type: ignore[union-attr]
