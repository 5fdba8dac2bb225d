"""The credit-note-lines export reads the agreements and royalty reports of a
batch of credited lines at once (round 16), as the invoice-lines and
revenue-recognition exports do since rounds 14 and 15, and writes what it wrote
before.

A credit note's part reverses a line of the invoice it credits, whose use comes
from the invoice's agreement or royalty report: until round 16 the ledger read
them with statements for each credited invoice's agreement or report, so 100
credit notes cost more statements than 10. Now each batch of credited lines
(1,000) reads its agreements in two statements and its reports in two."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice
from licensing.billing.states import AGREEMENT, ROYALTY_REPORT
from licensing.exports.ledger import Ledger as ExportLedger
from tests.integration.royalties.conftest import PAYER, SMALL_SOFTWARE, SOFTWARE, row
from tests.support.billing import credited
from tests.support.copies import copy_row, invoiced_agreements, invoiced_reports
from tests.support.exports import exporter, unstamped
from tests.support.factories import billing_clerk
from tests.support.settings import invoice_terms
from tests.support.statements import sent_by

SMALL, LARGE = 10, 100
DATASET = "credit_note_lines"
DEVELOPMENT = {**SMALL_SOFTWARE, "use": "development", "product_name": "Scrubber Lite SDK"}

Export = Callable[..., bytes]


@pytest.fixture
def export(client: FlaskClient, billing_staff: User) -> Export:
    """`export(format, **filters)`: the credit-note-lines export's bytes, via the
    API (without the JSON Lines header's `generated_at`, its first line)."""
    fetch = exporter(client, billing_staff, DATASET)

    def body(format_name: str = "csv", **filters: Any) -> bytes:
        return unstamped(fetch(format_name, **filters), format_name)

    return body


@dataclass(frozen=True)
class Credited:
    """An up-front invoice (an agreement for two uses) and a royalty invoice,
    each credited, and a manual invoice credited too."""

    upfront: Invoice
    report_id: int
    organization_id: int


def _invoice_of(source_type: str, source_id: int) -> Invoice:
    return (
        db.session()
        .scalars(
            select(Invoice).where(
                Invoice.source_type == source_type, Invoice.source_id == source_id
            )
        )
        .one()
    )


@pytest.fixture
def credited_invoices(vendor: Any, active_agreement: Any, file_report: Any) -> Credited:
    upfront_agreement = active_agreement(vendor, SMALL_SOFTWARE, DEVELOPMENT)
    upfront = _invoice_of(AGREEMENT, upfront_agreement.id)
    reported = active_agreement(vendor, SOFTWARE, PAYER)
    filing = file_report(
        vendor,
        reported,
        1,
        [row(1, "A", quantity=60), row(2, "P", unit="members", quantity=1000000)],
    )
    royalty = _invoice_of(ROYALTY_REPORT, filing.report.id)
    manual = billing.create_draft(
        organization_id=vendor.organization_id,
        currency="USD",
        charges=[
            billing.Charge("Setup", Decimal("42.42")),
            billing.Charge("Training", Decimal("100.01")),
        ],
        standard=invoice_terms(),
        actor=billing_clerk(),
    )
    manual = billing.finalize_invoice(manual.id, actor=billing_clerk())
    for invoice in (upfront, royalty, manual):
        credited(invoice.id, "10.01", "Fewer seats")
    db.session().commit()
    return Credited(upfront, int(filing.report.id), int(vendor.organization_id))


def _credit_copies() -> None:
    """A credit note on each copy of the up-front and royalty invoices not credited
    yet: on the first of each kind through the service, on the others a copy of its
    note's row, their invoices given what crediting changed on the first's (the
    copies are alike, so the service would have written the same). The export reads
    rows; 97 notes through the service were most of the test's time."""
    session = db.session()
    invoices, notes = Invoice.__table__, CreditNote.__table__
    for prefix in ("INV-2027-8%", "INV-2027-9%"):  # royalty copies, up-front copies
        first, *others = session.scalars(
            select(Invoice.id)
            .where(Invoice.number.like(prefix))
            .where(~Invoice.credit_notes.any())
            .order_by(Invoice.id)
        ).all()
        this = invoices.c.id == first  # type: ignore[attr-defined]
        before = session.execute(select(invoices).where(this)).one()._mapping
        note = credited(first, "3.33", "Fewer seats")
        after = session.execute(select(invoices).where(this)).one()._mapping
        changed = {key: value for key, value in after.items() if value != before[key]}
        for invoice_id in others:
            copy_row(
                notes,  # type: ignore[arg-type]
                notes.c.id == note.id,  # type: ignore[attr-defined]
                invoice_id=invoice_id,
                number=f"CN-2027-X{invoice_id:07d}",
            )
        if others and changed:
            session.execute(
                update(invoices).where(invoices.c.id.in_(others)).values(changed)  # type: ignore[attr-defined]
            )
    session.commit()


def _copies(credited_invoices: Credited, count: int, start: int) -> None:
    """`count` more credited invoices: half up-front ones, half royalty ones."""
    invoiced_agreements(credited_invoices.upfront, count // 2, start)
    invoiced_reports(credited_invoices.report_id, count - count // 2, start)
    _credit_copies()


def _statements(app: Flask, export: Export, format_name: str) -> int:
    export(format_name)  # warm: the token is read once
    with sent_by(app) as statements:
        export(format_name)
    assert statements, "nothing counted: the listener is on another engine"
    return len(statements)


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_a_credit_note_lines_export_runs_no_query_per_credited_invoice(
    app: Flask, credited_invoices: Credited, export: Export, format_name: str
) -> None:
    _copies(credited_invoices, SMALL - 3, 0)  # and the three credited first
    at_small = _statements(app, export, format_name)
    _copies(credited_invoices, LARGE - SMALL, SMALL)
    at_large = _statements(app, export, format_name)
    assert export().decode().count("\r\n") > LARGE  # the header and the parts
    assert at_large == at_small, (
        f"{at_small} statements at {SMALL} credit notes, {at_large} at {LARGE}"
    )


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_the_export_writes_the_bytes_the_per_record_reading_wrote(
    credited_invoices: Credited, export: Export, format_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credit notes on a manual invoice, an up-front one and a royalty one, and on
    30 more up-front and royalty invoices (half with their uses the other way
    round or no due on a report's first line), under filters, and with the
    ledger's cache emptied midway: the same bytes read a batch at a time as read
    agreement by agreement and report by report (the reading before round 16)."""
    _copies(credited_invoices, 30, 0)
    given: list[dict[str, str]] = [
        {},
        {"use": "development"},
        {"use": "distribution"},
        {"organization": str(credited_invoices.organization_id)},
        {"currency": "USD"},
    ]
    batched = [export(format_name, **filters) for filters in given]
    with monkeypatch.context() as patched:
        patched.setattr("licensing.exports.ledger._CACHE_LIMIT", 4)
        emptied = export(format_name)
    monkeypatch.setattr(ExportLedger, "remember_agreements", lambda self, ids: None)
    monkeypatch.setattr(ExportLedger, "remember_reports", lambda self, ids: None)
    one_by_one = [export(format_name, **filters) for filters in given]
    for filters, now, before in zip(given, batched, one_by_one, strict=True):
        assert now == before, filters
    assert emptied == batched[0]
    assert b"development" in batched[1]
    assert b"distribution" in batched[2]
    for kind in (b"fee", b"royalty", b"manual"):
        assert kind in batched[0], kind
