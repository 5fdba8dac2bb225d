"""Round 57: a Hanja no CID font's encoding maps, typed in a Korean name, was accepted
and printed as an empty box; one the Korean encoding lacks but the Chinese maps was
accepted and printed as a box too. Now the first is refused where it is typed (the
field's message naming it, nothing stored) and the second is stored and drawn in the
Chinese font (tests/unit/test_hanja_in_korean_text.py); common Hanja are kept as
before."""

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

UNMAPPED = "\u9fa6"  # an ideograph no encoding maps
NAMED = "\u9fa6 (U+9FA6 CJK UNIFIED IDEOGRAPH-9FA6)"
REFUSED = f"김{UNMAPPED}수 테스트"  # invented
RARE = "金\u4e8d洙 테스트"  # 亍: the Chinese encoding's, not the Korean's
COMMON = "金民秀 테스트"


def _organization(user: User) -> Organization:
    found = db.session().get(Organization, user.organization_id, populate_existing=True)
    assert found is not None
    return found


def test_the_api_refuses_a_hanja_no_font_draws_and_stores_a_rare_one_the_chinese_font_draws(
    client: FlaskClient, vendor: User
) -> None:
    before = _organization(vendor).snapshot()
    path = f"/api/v1/organizations/{vendor.organization_id}"
    response = client.patch(path, json={"city": REFUSED}, headers=bearer(vendor))
    assert response.status_code == 422
    (message,) = response.get_json()["errors"]["city"]
    assert message.startswith(f"Our documents cannot print {NAMED}:")
    assert _organization(vendor).snapshot() == before
    for accepted in (RARE, COMMON):
        response = client.patch(path, json={"city": accepted}, headers=bearer(vendor))
        assert response.status_code == 200
        assert _organization(vendor).city == accepted


def test_the_profile_page_refuses_a_hanja_no_font_draws_beside_the_field(
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
    response = client.post("/organization/profile", data={**form, "billing_contact_name": REFUSED})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="billing_contact_name-error"' in page
    assert "U+9FA6 CJK UNIFIED IDEOGRAPH-9FA6" in page
    assert _organization(vendor).snapshot() == before
    saved = client.post("/organization/profile", data={**form, "billing_contact_name": RARE})
    assert saved.status_code in (200, 302, 303)
    assert _organization(vendor).billing_contact_name == RARE


def test_an_application_whose_korean_product_holds_a_hanja_no_font_draws_is_refused(
    client: FlaskClient, vendor: User
) -> None:
    body = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "uses": [{**AUTO_USE, "product_name": REFUSED}],
    }
    before = count(Application)
    response = client.post("/api/v1/applications", json=body, headers=bearer(vendor))
    assert response.status_code == 422
    assert NAMED in response.get_json()["errors"]["uses.0.product_name"][0]
    assert count(Application) == before
    body["uses"] = [{**AUTO_USE, "product_name": RARE}]
    assert client.post("/api/v1/applications", json=body, headers=bearer(vendor)).status_code == 201


def test_a_permission_request_from_a_korean_name_with_a_hanja_no_letter_prints_is_refused(
    client: FlaskClient,
) -> None:
    page = client.post("/permissions/request", data=request_fields(requester_name=REFUSED))
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert 'id="requester_name-error"' in text
    assert "U+9FA6 CJK UNIFIED IDEOGRAPH-9FA6" in text
    body = {**request_fields(institution=REFUSED), "audience_size": 45, "noncommercial": True}
    api = client.post("/api/v1/permission-requests", json=body)
    assert api.status_code == 422
    assert NAMED in api.get_json()["errors"]["institution"][0]
    assert count(PermissionRequest) == 0
    body = {**request_fields(requester_name=RARE), "audience_size": 45, "noncommercial": True}
    assert client.post("/api/v1/permission-requests", json=body).status_code == 201
    assert count(PermissionRequest) == 1


def test_a_users_korean_name_with_a_hanja_no_letter_prints_is_refused_beside_the_field(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    response = client.post("/account/name", data={"full_name": REFUSED})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="full_name-error"' in page
    assert "U+9FA6 CJK UNIFIED IDEOGRAPH-9FA6" in page
    client.post("/account/name", data={"full_name": RARE})
    assert db.session().get(User, vendor.id, populate_existing=True).full_name == RARE  # type: ignore[union-attr]
