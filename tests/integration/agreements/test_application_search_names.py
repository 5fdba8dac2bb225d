"""Round 51: the applications queue's search by organization name matched with the
database's ILIKE, which folds ASCII letters only under the C locale (and on SQLite):
"ÉCOLE" did not find "école médicale"'s application. It compares the name key."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.agreements.models import Application
from tests.support import factories
from tests.support.uses import STAFF_USE


def test_licensing_staff_find_an_application_by_its_organizations_name_in_any_case_and_script(
    app: Flask,
    licensing_staff: User,
    apply: Callable[..., Application],
    signed_in: Callable[..., FlaskClient],
) -> None:
    school = factories.make_organization(db.session(), legal_name="école médicale du Léman")
    theirs = apply(factories.make_vendor(db.session(), organization=school), STAFF_USE)
    other = apply(factories.make_vendor(db.session()), STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)

    page = staff.get("/console/applications?q=ÉCOLE MÉDICALE").get_data(as_text=True)

    assert theirs.state == other.state == "submitted"
    assert theirs.reference in page
    assert other.reference not in page


def test_licensing_staff_find_an_application_by_a_product_name_in_any_case_and_script(
    app: Flask,
    licensing_staff: User,
    apply: Callable[..., Application],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 53: a product name was searched with `ILIKE`, which folds ASCII letters
    alone on SQLite and PostgreSQL under the C locale: "MÜLLER" did not find *Müller
    Kodierhilfe*. Any case of its letters finds it now, as an organization's name."""
    named = {**STAFF_USE, "product_name": "Müller Kodierhilfe"}
    theirs = apply(factories.make_vendor(db.session()), named)
    other = apply(factories.make_vendor(db.session()), STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)

    for typed in ("müller", "MÜLLER", "MüLLER kodier"):
        page = staff.get(f"/console/applications?q={typed}").get_data(as_text=True)
        assert theirs.reference in page, typed
        assert other.reference not in page, typed
    # Accents are letters, as in the organizations' search.
    assert theirs.reference not in staff.get("/console/applications?q=muller").get_data(
        as_text=True
    )
