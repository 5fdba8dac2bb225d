"""Round 52: the console's export form listed its organizations by the stored legal
name's bytes, so "École Alpha" and "alpha beta" came after "Zeta Labs". They are
listed alphabetically in any case and script, accents aside, as staff read a list."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.exports import queries
from tests.support import factories

NAMES = ("Zeta Labs", "École Alpha", "alpha beta", "Ecole Alpha", "Émeraude")


def test_the_export_forms_organizations_are_listed_alphabetically_in_any_case(
    app: Flask, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    made = {name: factories.make_organization(db.session(), legal_name=name).id for name in NAMES}
    listed = [name for _id, name in queries.organization_choices(db.session()) if name in made]
    # Ties without accents ("École Alpha", "Ecole Alpha") by the key: no accent first.
    assert listed == ["alpha beta", "Ecole Alpha", "École Alpha", "Émeraude", "Zeta Labs"]
    page = signed_in(app.test_client(), billing_staff).get("/console/exports")
    html = page.get_data(as_text=True)
    select = html[html.index('id="organization"') :]
    shown = sorted(made, key=lambda name: select.index(f'value="{made[name]}">{name}<'))
    assert shown == listed
