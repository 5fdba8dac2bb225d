"""Finance reconciles an export row by row, so its order is total: invoices issued
on one day come in the order they were issued (the id breaks the tie), each in line
order, in JSON Lines and in either CSV writer alike. SQLite keeps tied rows in id
order whatever the ORDER BY says; the rewritten invoice shows a missing tie-breaker
on PostgreSQL (`CI=true`; `tests/support/ties.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from licensing import db
from licensing.billing.models import Invoice
from tests.integration.billing.conftest import invoice_for as invoice_for
from tests.support.ties import rewritten


def _issued_on_one_day(vendor: Any, invoice_for: Callable[..., Invoice]) -> list[int]:
    """The ids of three invoices issued on one day, the first stored after the others."""
    issued = [invoice_for(vendor) for _ in range(3)]
    assert len({invoice.issue_date for invoice in issued}) == 1
    ids = [invoice.id for invoice in issued]
    rewritten(db.session(), issued[0], through={"number": "INV-MOVED"})
    db.session().commit()
    return ids


def test_invoices_issued_on_one_day_are_exported_in_the_order_they_were_issued(
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    export_json: Callable[..., list[dict[str, Any]]],
) -> None:
    issued = _issued_on_one_day(vendor, invoice_for)
    rows = export_json("invoices", organization=vendor.organization_id)
    assert [row["invoice_id"] for row in rows] == issued


def test_the_lines_of_invoices_issued_on_one_day_are_exported_invoice_by_invoice(
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    export_json: Callable[..., list[dict[str, Any]]],
) -> None:
    issued = _issued_on_one_day(vendor, invoice_for)
    rows = export_json("invoice_lines", organization=vendor.organization_id)
    assert [(row["invoice_id"], row["line_position"]) for row in rows] == [
        (invoice_id, line) for invoice_id in issued for line in (1, 2)
    ]
