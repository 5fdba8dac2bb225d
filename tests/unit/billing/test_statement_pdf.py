"""The statement of account's PDF, read back: opening, every movement by its
document number, closing; split over pages; the same bytes for the same data."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pypdf import PdfReader

from licensing.billing.documents import render_statement_pdf
from licensing.billing.statements import Movement, Statement, running_lines
from licensing.finance.queries import Receivable
from tests.support.documents import pdf_text

ISSUER = "Harborlight Licensing Office|100 Quay Street|Riverton, IL 60000"
START = date(2027, 1, 1)
END = date(2027, 12, 31)
AS_OF = datetime(2028, 1, 4, 15, 30, tzinfo=UTC)


def _statement(invoices: int) -> Statement:
    ledger, movements = [], []
    for index in range(invoices):
        day = START + timedelta(days=index % 300)
        number = f"INV-2027-{index + 1:06d}"
        ledger.append(Receivable(index, 7, Decimal("1200.00"), day, day + timedelta(days=30)))
        movements.append(
            Movement(day, "issued", number, "Invoice issued", Decimal("1200.00"), index)
        )
        paid = Movement(day, "paid", number, "Payment received (wire)", Decimal("-1000.00"), index)
        movements.append(paid)
    movements.append(
        Movement(
            date(2027, 12, 1), "credited", "CN-2027-000001", "Credit note", Decimal("-50.25"), 0
        )
    )
    opening, lines = running_lines(ledger, movements, START)
    closing = lines[-1].balance
    return Statement(
        7,
        "Quayside Diagnostics Ltd",
        ("1 Harbour Row", "Leeds, LS1 4AB", "GB"),
        "USD",
        START,
        END,
        opening,
        closing,
        tuple(lines),
        AS_OF,
    )


def test_the_pdf_reads_back_the_opening_balance_each_movement_and_the_closing_balance() -> None:
    text = pdf_text(render_statement_pdf(_statement(2), issuer=ISSUER))
    assert "Statement of account" in text
    assert "Quayside Diagnostics Ltd" in text
    assert "1 Harbour Row" in text
    # Days in words where a person reads them (round 56); the ledger's Date column
    # keeps YYYY-MM-DD, its opening and closing rows too.
    assert "Opening balance on January 1, 2027" in text
    assert "2027-01-01\nOpening balance" in text
    assert "INV-2027-000001" in text
    assert "INV-2027-000002" in text
    assert "CN-2027-000001" in text
    # Each day on one line of its cell, as an auditor reads it.
    assert "2027-01-02\nINV-2027-000002" in text
    assert "2027-12-01\nCN-2027-000001" in text
    assert "Closing balance on December 31, 2027" in text
    assert "2027-12-31\nClosing balance" in text
    assert "349.75 USD" in text  # 2 x (1,200.00 - 1,000.00) - 50.25
    # The office's time (UTC until round 27), in words since round 56.
    assert "January 4, 2028 at 9:30 AM (US Central time)" in text
    assert "royalties for periods not yet reported or not yet invoiced" in text


def test_a_long_statement_splits_over_pages_and_keeps_every_movement() -> None:
    content = render_statement_pdf(_statement(120), issuer=ISSUER)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]
    assert len(pages) > 3
    text = pdf_text(content)
    assert all(f"INV-2027-{index:06d}" in text for index in range(1, 121))
    assert f"Page 1 of {len(pages)}" in text
    # The table's header is repeated on each page it continues on.
    assert all("Charges" in page for page in pages if "INV-2027-" in page)


def test_the_same_statement_gives_the_same_bytes() -> None:
    statement = _statement(3)
    assert render_statement_pdf(statement, issuer=ISSUER) == render_statement_pdf(
        statement, issuer=ISSUER
    )
