"""Round 56: an organization whose profile holds text saved before round 55 refused
what no document prints (a city in Ethiopic) could not save its profile until that
field was written again, and the page said only "Our documents cannot print ...
Write it in a script they print", as if the reader had typed it. Now the field is
named with why (saved before the check, nothing saved until it is written again),
on the page as first shown and after a save refused, what else was typed kept; the
API's problem says the same of a field sent back unchanged."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from licensing import db
from licensing.accounts.forms import ContactForm, OrganizationForm
from licensing.accounts.models import Organization, User
from tests.support.factories import bearer

ETHIOPIC = "\u12a0\u1260"  # invented: no font here draws it
NAMED = "\u12a0 (U+12A0 ETHIOPIC SYLLABLE GLOTTAL A) or \u1260 (U+1260 ETHIOPIC SYLLABLE BA)"
STORED = f"Saved before our documents were checked: they cannot print {NAMED}"


def _organization(user: User) -> Organization:
    found = db.session().get(Organization, user.organization_id, populate_existing=True)
    assert found is not None
    return found


def _saved_before_round_55(user: User, **fields: str) -> Organization:
    """The organization with `fields` stored as they were before the check."""
    organization = _organization(user)
    for name, value in fields.items():
        setattr(organization, name, value)
    db.session().commit()
    return organization


def _field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="error" id="{name}-error">(.*?)</p>', page, re.S)
    assert found is not None, f"no message beside {name}"
    return found[1]


def _input_value(page: str, name: str) -> str:
    found = re.search(rf'<input[^>]* id="{name}"[^>]* value="([^"]*)"', page)
    assert found is not None
    return found[1]


def test_the_profile_page_names_the_stored_field_to_write_again_before_anything_is_typed(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    _saved_before_round_55(vendor, city=ETHIOPIC)
    page = signed_in(app.test_client(), vendor).get("/organization").get_data(as_text=True)
    assert _field_error(page, "city").startswith(str(escape(STORED)))
    assert 'id="address_line1-error"' not in page  # only the field that holds it


def test_a_save_refused_for_a_stored_field_says_why_and_keeps_what_else_was_typed(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    organization = _saved_before_round_55(vendor, city=ETHIOPIC)
    before = organization.snapshot()
    form = {name: getattr(organization, name) or "" for name in ContactForm.FIELDS}
    client = signed_in(app.test_client(), vendor)
    response = client.post(
        "/organization/profile",
        data={**form, "billing_contact_name": "Noor Haddad", "postal_code": "97209"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    message = _field_error(page, "city")
    assert message.startswith(str(escape(STORED)))
    assert "nothing is saved until this field is written again" in message
    assert f'<a href="#city">City: {escape(STORED)}' in page  # the summary names it too
    assert _input_value(page, "billing_contact_name") == "Noor Haddad"
    assert _input_value(page, "postal_code") == "97209"
    assert _organization(vendor).snapshot() == before

    written_again = {**form, "city": "Addis Ababa", "billing_contact_name": "Noor Haddad"}
    assert client.post("/organization/profile", data=written_again).status_code == 302
    saved = _organization(vendor)
    assert (saved.city, saved.billing_contact_name) == ("Addis Ababa", "Noor Haddad")


def test_text_typed_now_is_refused_in_the_words_of_typed_text(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    organization = _saved_before_round_55(vendor, city=ETHIOPIC)
    form = {name: getattr(organization, name) or "" for name in ContactForm.FIELDS}
    response = signed_in(app.test_client(), vendor).post(
        "/organization/profile", data={**form, "city": f"{ETHIOPIC} Ababa"}
    )
    assert response.status_code == 422
    message = _field_error(response.get_data(as_text=True), "city")
    assert message.startswith(f"Our documents cannot print {escape(NAMED)}")


def test_the_console_names_a_legal_name_saved_before_the_check(
    app: Flask, vendor: User, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    organization = _saved_before_round_55(vendor, legal_name=f"{ETHIOPIC} Trading")
    form = {name: getattr(organization, name) or "" for name in OrganizationForm.FIELDS}
    client = signed_in(app.test_client(), licensing_staff)
    path = f"/console/organizations/{organization.id}"
    shown = client.get(path).get_data(as_text=True)
    assert _field_error(shown, "legal_name").startswith(str(escape(STORED)))
    response = client.post(f"{path}/profile", data={**form, "region": "AA"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert _field_error(page, "legal_name").startswith(str(escape(STORED)))
    assert _input_value(page, "region") == "AA"


def test_the_api_says_a_field_sent_back_unchanged_was_saved_before_the_check(
    client: FlaskClient, vendor: User
) -> None:
    _saved_before_round_55(vendor, city=ETHIOPIC)
    response = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        json={"city": ETHIOPIC, "billing_contact_name": "Noor Haddad"},
        headers=bearer(vendor),
    )
    assert response.status_code == 422
    (message,) = response.get_json()["errors"]["city"]
    assert message.startswith(STORED)
    assert _organization(vendor).billing_contact_name != "Noor Haddad"
