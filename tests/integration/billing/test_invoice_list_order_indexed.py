"""Round 52: the invoice lists (`/console/invoices`, `GET /api/v1/invoices`) list
newest first, the id last, and read a page in the order of an index on those columns
(billing_0020), where each page read and sorted every invoice. The page's statement
is EXPLAINed with its own values on both backends (`tests/support/plans.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from tests.integration.finance.conftest import issue
from tests.support import factories
from tests.support.plans import plan_of, sent_with_values, sorts, subtree


@pytest.mark.parametrize("path", ["/console/invoices", "/api/v1/invoices"])
def test_an_invoices_page_is_read_in_the_order_of_an_index_with_no_sort_of_the_invoices(
    app: Flask,
    admin: Any,
    signed_in: Callable[..., FlaskClient],
    path: str,
) -> None:
    organization = factories.make_organization(db.session()).id
    for day in range(1, 4):
        issue(organization, "100.00", date(2026, 11, day))
    client = signed_in(app.test_client(), admin)
    headers = factories.bearer(admin) if path.startswith("/api/") else {}

    with sent_with_values(app.extensions["licensing.db"].engine) as caught:
        assert client.get(path, headers=headers).status_code == 200
    (page,) = [
        (sql, values)
        for sql, values in caught
        if "FROM invoices" in sql and "LIMIT" in sql and "count(" not in sql
    ]
    lines = plan_of(*page)
    dialect = db.session().connection().dialect.name
    read = subtree(lines, "Limit") if dialect == "postgresql" else lines

    assert "ix_invoices_created_order" in "\n".join(read), "\n".join(lines)
    assert sorts(read, dialect) == [], "\n".join(lines)
