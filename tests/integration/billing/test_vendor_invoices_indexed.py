"""Round 56: the vendor's *Invoices* page and `GET /api/v1/invoices` read the
organization's invoices newest first, and with only `ix_invoices_organization_id`
the database read every invoice of the organization and sorted them for any page
(page 1 too: about 100 ms at 20,000 invoices on SQLite) and counted them row by row.
`ix_invoices_organization_created_order` (operations_0007) holds them in the lists'
order with their state: the page is read in it with no sort, on both databases, and
on SQLite the count reads the index alone (`tests/support/plans.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.billing.models import Invoice
from tests.support import factories
from tests.support.plans import plan_of, sent_with_values, sorts

INDEX = "ix_invoices_organization_created_order"


def _statements(app: Flask, url: str, client: FlaskClient, **kwargs: Any) -> list[Any]:
    with sent_with_values(db.session().get_bind()) as caught:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return caught


@pytest.mark.parametrize("where", ["portal", "api"])
def test_a_vendors_page_of_invoices_is_read_in_the_organizations_index_with_no_sort(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    where: str,
) -> None:
    for owner in (vendor, other_vendor, vendor):
        invoice_for(owner)
    db.session().commit()
    if where == "portal":
        caught = _statements(app, "/portal/invoices?page=1", signed_in(app.test_client(), vendor))
    else:
        caught = _statements(
            app, "/api/v1/invoices", app.test_client(), headers=factories.bearer(vendor)
        )
    dialect = db.session().connection().dialect.name
    page = next(
        (sql, values)
        for sql, values in caught
        if "FROM invoices" in sql and "ORDER BY invoices.created_at DESC" in sql
    )
    lines = plan_of(*page)
    assert INDEX in "\n".join(lines), "\n".join(lines)
    assert sorts(lines, dialect) == [], "\n".join(lines)
    if dialect == "sqlite":
        counted = next(
            (sql, values) for sql, values in caught if "count(" in sql and "FROM invoices" in sql
        )
        plan = "\n".join(plan_of(*counted))
        assert f"COVERING INDEX {INDEX}" in plan, plan
