"""The revenue-recognition export reads the agreements of a batch of lines at
once (round 15), as the invoice-lines export does since round 14, and writes
what it wrote before.

An up-front fee is recognized over its agreement's term, and its line's use
comes from the agreement's quote and application: until round 15 the ledger
read them with two statements for each agreement, so 10 agreements' invoices
cost 20 statements more than none, 100 cost 200. Now each batch of invoice
lines (1,000), and each batch of credited lines, reads its agreements in two."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice
from licensing.exports.ledger import Ledger as ExportLedger
from tests.integration.exports.conftest import Ledger, at
from tests.support.billing import credited
from tests.support.copies import invoiced_agreements
from tests.support.exports import (
    FILTERS,
    exporter,
    statements_per_export,
    unstamped,
)

SMALL, LARGE = 10, 100

Export = Callable[..., bytes]


@pytest.fixture
def export(client: FlaskClient, billing_staff: User) -> Export:
    """`export(format, **filters)`: the revenue-recognition export's bytes, via the API."""
    return exporter(client, billing_staff, "revenue_recognition")


def _credit_copies(ledger: Ledger, every: int) -> None:
    """A credit note on every `every`th copy of the agreement's invoice (its
    reversal follows the agreement's term too)."""
    session = db.session()
    copies = session.scalars(
        select(Invoice.id)
        .where(Invoice.number.like("INV-2027-9%"), Invoice.id != ledger.agreement_invoice.id)
        .order_by(Invoice.id)
    ).all()
    for invoice_id in copies[::every]:
        credited(invoice_id, "10.00", "Fewer seats", now=at(date(2027, 11, 20)))
    session.commit()


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_a_revenue_recognition_export_runs_no_query_per_agreement(
    ledger: Ledger, export: Export, format_name: str
) -> None:
    invoiced_agreements(ledger.agreement_invoice, SMALL, 0)
    at_small = statements_per_export(export, format_name)
    invoiced_agreements(ledger.agreement_invoice, LARGE - SMALL, SMALL)
    at_large = statements_per_export(export, format_name)
    lines = export("csv").decode().count("\r\n")
    assert lines > LARGE  # the header, the ledger's lines, the copies' months
    assert at_large == at_small, (
        f"{at_small} statements at {SMALL} agreements' invoices, {at_large} at {LARGE}"
    )


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_the_export_writes_the_bytes_the_per_agreement_reading_wrote(
    ledger: Ledger, export: Export, format_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's lines and 30 more agreements' invoices, half with their uses
    the other way round, a third of them credited: the same bytes read a batch
    at a time as read agreement by agreement (the reading before round 15)."""
    invoiced_agreements(ledger.agreement_invoice, 30, 0)
    _credit_copies(ledger, 3)
    given = [
        {name: str(ledger.org_a) if value == "ORG" else value for name, value in f.items()}
        for f in FILTERS
        if f.get("by") != "paid"  # recognized by period only
    ] + [{"from": "2027-03-01", "to": "2027-09-30"}]
    batched = [unstamped(export(format_name, **filters), format_name) for filters in given]
    monkeypatch.setattr(ExportLedger, "remember_agreements", lambda self, ids: None)
    one_by_one = [unstamped(export(format_name, **filters), format_name) for filters in given]
    for filters, now, before in zip(given, batched, one_by_one, strict=True):
        assert now == before, filters
    assert b"development" in batched[1]
    assert b"distribution" in batched[2]
    assert b"credit_note" in batched[0]
    assert b"straight_line_days" in batched[0]


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_a_ledger_emptied_midway_writes_the_same_bytes(
    ledger: Ledger, export: Export, format_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's cache bounds its memory: full, it is emptied before a batch's
    agreements are read (here after four agreements, the batch holding 30), and
    the credit notes' agreements are read again in their own batch."""
    invoiced_agreements(ledger.agreement_invoice, 30, 0)
    _credit_copies(ledger, 3)
    unbounded = unstamped(export(format_name), format_name)
    monkeypatch.setattr("licensing.exports.ledger._CACHE_LIMIT", 4)
    assert unstamped(export(format_name), format_name) == unbounded
