"""The royalty_report_lines export: every line of every report, superseded ones
marked, and its dues reconcile with the royalty invoices and credit notes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from licensing import db
from licensing.billing.models import CreditNote, Invoice
from tests.integration.exports.conftest import export_json  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import PAYER, SOFTWARE, row


def test_the_royalty_lines_export_reconciles_with_invoices_and_credit_notes(
    vendor: Any,
    active_agreement: Any,
    file_report: Any,
    export_json: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, PAYER)
    first = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=60), row(2, "P", unit="members", quantity=1000000)],
    )
    file_report(vendor, agreement, 2, [row(2, "Q", unit="members", quantity=5)])
    file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=90), row(2, "P", unit="members", quantity=1000000)],
        amends=first.report.id,
        reason="restated",
    )
    rows = export_json("royalty_report_lines")
    assert len(rows) == 6  # two lines on each of three reports
    assert [r["report_state"] for r in rows].count("superseded") == 2
    dues = sum((Decimal(r["due"]) for r in rows), Decimal(0))
    session = db.session()
    invoiced = session.scalar(
        select(func.coalesce(func.sum(Invoice.total), 0)).where(
            Invoice.source_type == "royalty_report"
        )
    )
    credited = session.scalar(
        select(func.coalesce(func.sum(CreditNote.amount), 0))
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .where(Invoice.source_type == "royalty_report")
    )
    assert dues == Decimal(invoiced) - Decimal(credited)
    only_current = export_json("royalty_report_lines", state="submitted")
    assert len(only_current) == 4
    assert {r["period_start"] for r in export_json("royalty_report_lines", to="2027-03-31")} == {
        "2027-01-01"
    }


def test_royalties_are_recognized_over_the_period_they_report_with_their_use(
    vendor: Any,
    active_agreement: Any,
    file_report: Any,
    export_json: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)])  # 1850.00
    rows = [
        r
        for r in export_json("revenue_recognition")
        if r["kind"] == "royalty" and r["invoice_number"] == filed.invoice_number
    ]
    assert [r["period"] for r in rows] == ["2027-01", "2027-02", "2027-03"]
    assert {r["use"] for r in rows} == {"distribution"}
    assert sum((Decimal(r["amount"]) for r in rows), Decimal(0)) == Decimal("1850.00")
    # 31, 28 and 31 of the quarter's 90 days, rounded cumulatively.
    assert [r["amount"] for r in rows] == ["637.22", "575.56", "637.22"]


def test_the_database_writes_the_same_csv_as_the_python_writer_for_royalty_lines(
    vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    from licensing.exports.datasets import invoice_lines, royalty_report_lines
    from licensing.exports.filters import ExportFilter
    from tests.support.exports import both

    agreement = active_agreement(vendor, SOFTWARE, PAYER)
    file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=60), row(2, "P", unit="members", quantity=1000000)],
    )
    for dataset in (invoice_lines.DATASET, royalty_report_lines.DATASET):
        for use in (None, "distribution", "development"):
            if use and dataset is royalty_report_lines.DATASET:
                continue
            fast, reference = both(ExportFilter(use=use), dataset)
            assert fast == reference
            assert fast.count(b"\r\n") > 1 or use == "development"
