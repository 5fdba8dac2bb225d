"""Round 55: text our documents cannot print (a script no embedded font has, such as
Ethiopic) was accepted by the forms and the API and printed as empty boxes in the
agreement, the invoices and the letters. Where such text is typed, it is refused
with a 422 naming each character, on the page beside the field and in the API's
problem; nothing is stored. Scripts the documents print (Bengali since this round)
are accepted as before.

Round 57: a Hanja in a Korean name that no CID font's encoding maps was accepted and
printed as an empty box; it is refused the same way, each case below run with it too,
and a rare one the Korean encoding lacks but the Chinese maps is stored (and drawn in
the Chinese font: tests/unit/test_hanja_in_korean_text.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
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
# Round 57: U+9FA6, an ideograph in none of the encodings; 亍 (U+4E8D) the Chinese
# encoding's, not the Korean one's. Invented names.
HANJA_REFUSED = "김\u9fa6수 테스트"
HANJA_NAMED = "\u9fa6 (U+9FA6 CJK UNIFIED IDEOGRAPH-9FA6)"
HANJA_RARE = "金\u4e8d洙 테스트"
# pdffonts59: 〚 (U+301A), a bracket in none of the encodings; 〜 (U+301C) the Japanese
# encoding's alone, drawn in its font beside Chinese. Invented names.
SIGN_REFUSED = "北京测试\u301a上海\u301b有限公司"
SIGN_NAMED = "\u301a (U+301A LEFT WHITE SQUARE BRACKET)"
SIGN_OTHER_FONT = "北京测试\u301c上海（有限公司）"  # noqa: RUF001 (CJK punctuation, meant)
# Each case: the text refused, the character it names first, a text accepted.
CASES = pytest.mark.parametrize(
    ("refused", "named", "accepted"),
    [
        (ETHIOPIC, NAMED, BENGALI),
        (HANJA_REFUSED, HANJA_NAMED, HANJA_RARE),
        (SIGN_REFUSED, SIGN_NAMED, SIGN_OTHER_FONT),
    ],
    ids=["ethiopic", "hanja", "cjk-sign"],
)


def _organization(user: User) -> Organization:
    found = db.session().get(Organization, user.organization_id, populate_existing=True)
    assert found is not None
    return found


@CASES
def test_the_api_refuses_an_address_no_document_can_print_naming_the_characters(
    client: FlaskClient, vendor: User, refused: str, named: str, accepted: str
) -> None:
    before = _organization(vendor).snapshot()
    response = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        json={"city": refused},
        headers=bearer(vendor),
    )
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    (message,) = response.get_json()["errors"]["city"]
    assert message.startswith(f"Our documents cannot print {named}")
    assert "would show an empty box" in message
    assert _organization(vendor).snapshot() == before
    saved = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        json={"city": accepted},
        headers=bearer(vendor),
    )
    assert saved.status_code == 200
    assert _organization(vendor).city == accepted


@CASES
def test_the_profile_page_shows_the_refusal_beside_the_field(
    app: Flask,
    vendor: User,
    signed_in: Callable[..., FlaskClient],
    refused: str,
    named: str,
    accepted: str,
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
    response = client.post("/organization/profile", data={**form, "address_line1": refused})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="address_line1-error"' in page
    assert "Our documents cannot print" in page
    assert named.split(" (")[1].rstrip(")") in page
    assert _organization(vendor).snapshot() == before
    client.post("/organization/profile", data={**form, "address_line1": accepted})
    assert _organization(vendor).address_line1 == accepted


@CASES
def test_an_application_whose_product_no_document_can_print_is_refused(
    client: FlaskClient, vendor: User, refused: str, named: str, accepted: str
) -> None:
    body = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "uses": [{**AUTO_USE, "product_name": refused}],
    }
    before = count(Application)
    response = client.post("/api/v1/applications", json=body, headers=bearer(vendor))
    assert response.status_code == 422
    (message,) = response.get_json()["errors"]["uses.0.product_name"]
    assert named in message
    assert count(Application) == before
    body["uses"] = [{**AUTO_USE, "product_name": accepted}]
    assert client.post("/api/v1/applications", json=body, headers=bearer(vendor)).status_code == 201


@CASES
def test_a_permission_request_in_a_script_no_letter_prints_is_refused_on_the_form_and_api(
    client: FlaskClient, refused: str, named: str, accepted: str
) -> None:
    page = client.post("/permissions/request", data=request_fields(institution=refused))
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert 'id="institution-error"' in text
    assert named.split(" (")[1].rstrip(")") in text
    body = {**request_fields(requester_name=refused), "audience_size": 45, "noncommercial": True}
    api = client.post("/api/v1/permission-requests", json=body)
    assert api.status_code == 422
    assert named in api.get_json()["errors"]["requester_name"][0]
    assert count(PermissionRequest) == 0
    body = {**request_fields(requester_name=accepted), "audience_size": 45, "noncommercial": True}
    assert client.post("/api/v1/permission-requests", json=body).status_code == 201


@CASES
def test_a_users_name_no_letter_can_print_is_refused_beside_the_field(
    app: Flask,
    vendor: User,
    signed_in: Callable[..., FlaskClient],
    refused: str,
    named: str,
    accepted: str,
) -> None:
    # A permission asked from an application is addressed to its requester's name.
    client = signed_in(app.test_client(), vendor)
    name = vendor.full_name
    response = client.post("/account/name", data={"full_name": refused})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="full_name-error"' in page
    assert named.split(" (")[1].rstrip(")") in page
    assert db.session().get(User, vendor.id, populate_existing=True).full_name == name  # type: ignore[union-attr]
    client.post("/account/name", data={"full_name": accepted})
    assert db.session().get(User, vendor.id, populate_existing=True).full_name == accepted  # type: ignore[union-attr]
