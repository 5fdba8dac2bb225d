"""kana60: a kana typed decomposed (か and the combining voiced sound mark U+3099, as
macOS file names and some input methods send it) was refused by every form and the
API, naming U+3099. It is composed where it arrives (`limits`: form fields, query
parameters and JSON strings; `printable.composed`), so what is stored, and what the
form shows back, is the composed text; hangul jamo and Latin letters with combining
accents the same way. What nothing composes with is still refused beside its field;
a compatibility ideograph is stored as typed, and a password is never changed."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from licensing import db, limits
from licensing.accounts.models import Organization, User
from tests.support.factories import bearer

VOICED, SEMI_VOICED = "\u3099", "\u309a"
# Each case: as typed, as stored (invented names).
CASES = pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("テスト" + "ハ" + SEMI_VOICED + "ーク", "テストパーク"),
        ("\u1109\u1165\u110b\u116e\u11af \ud14c\uc2a4\ud2b8", "서울 테스트"),  # conjoining jamo
        ("Cafe\u0301 Zu\u0308rich", "Café Zürich"),
        ("樂\uf914 테스트", "樂\uf914 테스트"),  # a Korean reading's ideograph: as typed
    ],
    ids=["kana", "hangul-jamo", "latin", "compatibility-ideograph"],
)
PROFILE_FIELDS = (
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


def _organization(user: User) -> Organization:
    found = db.session().get(Organization, user.organization_id, populate_existing=True)
    assert found is not None
    return found


@CASES
def test_the_profile_page_stores_what_was_typed_composed_and_shows_it_back(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient], typed: str, stored: str
) -> None:
    client = signed_in(app.test_client(), vendor)
    organization = _organization(vendor)
    form = {name: getattr(organization, name) or "" for name in PROFILE_FIELDS}
    response = client.post("/organization/profile", data={**form, "address_line1": typed})
    assert response.status_code in (200, 302, 303)
    assert _organization(vendor).address_line1 == stored
    page = client.get("/organization").get_data(as_text=True)
    assert f'value="{stored}"' in page


@CASES
@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "utf-8"])
def test_the_api_stores_what_was_typed_composed_and_answers_it(
    client: FlaskClient, vendor: User, typed: str, stored: str, ensure_ascii: bool
) -> None:
    response = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        data=json.dumps({"city": typed}, ensure_ascii=ensure_ascii),
        content_type="application/json",
        headers=bearer(vendor),
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["city"] == stored
    assert _organization(vendor).city == stored


def test_a_users_name_typed_decomposed_is_stored_composed(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    client.post("/account/name", data={"full_name": "山田 タ" + VOICED + "イスケ"})
    user = db.session().get(User, vendor.id, populate_existing=True)
    assert user is not None
    assert user.full_name == "山田 ダイスケ"


def test_a_mark_nothing_composes_with_is_refused_beside_the_field_nothing_stored(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient], client: FlaskClient
) -> None:
    typed = "テスト" + "ン" + SEMI_VOICED  # no semi-voiced ン
    organization = _organization(vendor)
    before = organization.snapshot()
    form = {name: getattr(organization, name) or "" for name in PROFILE_FIELDS}
    page_client = signed_in(app.test_client(), vendor)
    response = page_client.post("/organization/profile", data={**form, "address_line1": typed})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="address_line1-error"' in page
    assert "U+309A COMBINING KATAKANA-HIRAGANA SEMI-VOICED SOUND MARK" in page
    assert "join only a kana that has a voiced or semi-voiced form" in page
    api = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        json={"city": typed},
        headers=bearer(vendor),
    )
    assert api.status_code == 422
    (message,) = api.get_json()["errors"]["city"]
    assert "U+309A" in message
    assert _organization(vendor).snapshot() == before


def test_form_fields_and_the_query_are_composed_but_a_password_is_left_as_typed(
    app: Flask,
) -> None:
    typed = "か" + VOICED
    with app.test_request_context(
        f"/account/name?q={typed}",
        method="POST",
        data={"full_name": typed, "password": typed, "new_password": typed, "tags": ["a", typed]},
    ):
        limits.check_request_text()
        assert request.form["full_name"] == "が"
        assert request.form.getlist("tags") == ["a", "が"]
        assert request.form["password"] == request.form["new_password"] == typed
        assert request.args["q"] == "が"
        assert request.values["full_name"] == "が"
