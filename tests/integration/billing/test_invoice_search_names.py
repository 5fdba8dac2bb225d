"""Round 51: the invoices' search by organization name matched with the database's
ILIKE, which folds ASCII letters only under the C locale (and on SQLite): "MÉDICALE"
did not find "École Médicale"'s invoices. It compares the organization's name key."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice
from tests.support import factories
from tests.support.factories import bearer


def test_billing_staff_find_an_organizations_invoices_by_its_name_in_any_case_and_script(
    app: Flask, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    school = factories.make_organization(db.session(), legal_name="École Médicale du Léman")
    other = factories.make_organization(db.session(), legal_name="Harbor Analytics")
    theirs = invoice_for(school.id)
    invoice_for(other.id)

    found = app.test_client().get(
        "/api/v1/invoices?q=MÉDICALE du léman", headers=bearer(billing_staff)
    )

    assert found.status_code == 200
    assert [each["number"] for each in found.get_json()] == [theirs.number]
