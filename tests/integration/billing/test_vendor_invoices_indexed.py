"""Round 56: the vendor's *Invoices* page and `GET /api/v1/invoices` read the
organization's invoices newest first, and with only `ix_invoices_organization_id`
the database read every invoice of the organization and sorted them for any page
(page 1 too: about 100 ms at 20,000 invoices on SQLite) and counted them row by row.
`ix_invoices_organization_created_order` (operations_0007) holds them in the lists'
order with their state: the page is read in it with no sort, on both databases, and
on SQLite the count reads the index alone (`tests/support/plans.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from licensing import db
from licensing.billing.models import Invoice
from tests.support import factories
from tests.support.plans import analyzed, plan_of, sent_with_values, sorts

INDEX = "ix_invoices_organization_created_order"
# The other organization's invoices: enough that, analyzed, the lists' own order
# (`ix_invoices_created_order`) walked with the organization filtered, which reads
# every organization's invoices newer than the vendor's last, is priced as at size.
OTHERS = 2000


def _crowd(organization_id: int) -> None:
    """`OTHERS` copies of the organization's invoice (each its own number, older
    each), stored as they are, and the invoices analyzed (`analyzed`)."""
    invoices = Invoice.__table__
    first = dict(
        db.session()
        .execute(select(invoices).where(invoices.c.organization_id == organization_id))
        .mappings()
        .first()
        or {}
    )
    assert first
    del first["id"]
    copies = [
        first
        | {
            "number": f"INV-1999-{n:06d}",
            "source_type": "manual",
            "source_id": None,
            "created_at": first["created_at"] - timedelta(hours=n + 1),
        }
        for n in range(OTHERS)
    ]
    db.session().execute(insert(invoices), copies)
    analyzed("invoices")


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
    _crowd(other_vendor.organization_id)
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
