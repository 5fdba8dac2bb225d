"""Round 52: the invoice lists (`/console/invoices`, `GET /api/v1/invoices`) list
newest first, the id last, and read a page in the order of an index on those columns
(billing_0020), where each page read and sorted every invoice. The page's statement
is EXPLAINed with its own values on both backends (`tests/support/plans.py`).

Round 58 (plans58b): the plan is priced on rows that decide it, 2,000 invoices beside
the three, ANALYZEd in the test's transaction (`plans.analyzed`), not on the counts
earlier tests left in `pg_class` (an empty table's plan is priced on those)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.billing.models import Invoice
from tests.integration.finance.conftest import issue
from tests.support import factories
from tests.support.plans import analyzed, copied, plan_of, sent_with_values, sorts, subtree


@pytest.mark.parametrize("path", ["/console/invoices", "/api/v1/invoices"])
def test_an_invoices_page_is_read_in_the_order_of_an_index_with_no_sort_of_the_invoices(
    app: Flask,
    admin: Any,
    signed_in: Callable[..., FlaskClient],
    path: str,
) -> None:
    organization = factories.make_organization(db.session()).id
    for day in range(1, 4):
        last = issue(organization, "100.00", date(2026, 11, day))
    # Older invoices than the three, copies of the last under numbers of their own: a
    # page of the newest is then read from the index's end, as at size.
    copied(
        Invoice.__table__,
        last.id,
        2000,
        lambda n: {
            "number": f"COPY-{n}",
            "created_at": last.created_at - timedelta(days=10, minutes=n),
        },
    )
    analyzed("invoices")
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
