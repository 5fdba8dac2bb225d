"""What an invoice's or credit note's PDF reads from the database (issue 16): the
statement that loads the record for its PDF brings its lines and the first day it
bills, so rendering issues none; a request's statements do not grow with the
invoice's lines (no N+1); and the first day billed, read in SQL, is the one the
copyright year has always been taken from (its source's, a late fee's parent's,
else its own date)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import Date, literal, select

from licensing import db
from licensing.actors import Actor
from licensing.billing import links, pdfs, queries
from licensing.billing.models import Invoice
from licensing.billing.services.invoices import Charge, create_invoice
from licensing.billing.states import LATE_FEE, MANUAL
from tests.integration.agreements.conftest import NOW, SMALL_USE
from tests.integration.agreements.conftest import apply as apply
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SOFTWARE,
    active_agreement,
    file_report,
    row,
)
from tests.support.agreements import accepted_with_invoice
from tests.support.billing import credited
from tests.support.factories import bearer
from tests.support.statements import sent_by

FEW, MANY = 2, 40
LATE = datetime(2027, 3, 20, 15, 0, tzinfo=UTC)


def _amounts(count: int) -> tuple[str, ...]:
    return tuple(f"{100 + index}.00" for index in range(count))


def _fresh() -> Any:
    """The session with nothing loaded, as a new request finds it."""
    session = db.session()
    session.expunge_all()
    return session


def _copyright_line(content: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return next(line for line in text.splitlines() if "CPT ©" in line)


def _invoice(session: Any, organization_id: int, source_type: str, **fields: Any) -> Invoice:
    """An invoice made by the billing service itself (a late fee, a manual one)."""
    with db.transaction():
        return create_invoice(
            session,
            organization_id=organization_id,
            currency="USD",
            charges=[Charge("Late fee, month 1 overdue", Decimal("15.00"), "1.5% x 1000.00")],
            source_type=source_type,
            payment_terms_days=0,
            late_fee_monthly_percent=Decimal(0),
            now=LATE,
            actor=Actor.SYSTEM,
            **fields,
        )


def _late_fee(session: Any, parent: Invoice) -> Invoice:
    return _invoice(
        session,
        parent.organization_id,
        LATE_FEE,
        source_id=parent.id,
        parent_invoice_id=parent.id,
        late_fee_through_month=1,  # a late fee says it (operations_0005)
    )


def test_an_invoice_loaded_for_its_pdf_is_rendered_without_a_statement(
    app: Flask, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    invoice_id = invoice_for(vendor, _amounts(MANY)).id
    invoice = queries.invoice_for_pdf(_fresh(), invoice_id)
    with sent_by(app) as statements:
        content = pdfs.invoice_pdf(db.session(), invoice)
    assert statements == []
    assert content.startswith(b"%PDF")


def test_a_credit_note_loaded_for_its_pdf_is_rendered_without_a_statement(
    app: Flask, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    credit_id = credited(invoice_for(vendor).id, "15.00", "Goodwill").id
    credit = queries.credit_note_for_pdf(_fresh(), credit_id)
    with sent_by(app) as statements:
        content = pdfs.credit_note_pdf(db.session(), credit)
    assert statements == []
    assert content.startswith(b"%PDF")


@pytest.mark.parametrize("lines", [FEW, MANY])
def test_an_invoice_loaded_otherwise_reads_its_lines_and_period_in_two_statements(
    app: Flask, vendor: Any, invoice_for: Callable[..., Invoice], lines: int
) -> None:
    invoice_id = invoice_for(vendor, _amounts(lines)).id
    invoice = _fresh().get(Invoice, invoice_id)
    assert invoice is not None
    with sent_by(app) as statements:
        pdfs.invoice_pdf(db.session(), invoice)
    assert len(statements) == 2, statements  # the lines, then the first day billed


def _pdf_statements(app: Flask, client: FlaskClient, url: str, **kwargs: Any) -> int:
    """The statements of the second request for `url` (the first fills caches),
    which finds nothing loaded (the tests' requests share the test's session)."""
    assert client.get(url, **kwargs).status_code == 200, url
    _fresh()
    with sent_by(app) as statements:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    assert response.mimetype == "application/pdf"
    return len(statements)


def test_no_pdf_request_issues_more_statements_for_an_invoice_of_more_lines(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    few, many = (invoice_for(vendor, _amounts(count)) for count in (FEW, MANY))
    credits = [credited(invoice.id, "15.00", "Goodwill") for invoice in (few, many)]
    headers = bearer(vendor)
    counts: dict[str, list[int]] = {}
    for invoice, credit in zip((few, many), credits, strict=True):
        linked = f"/invoice-links/{invoice.id}/{links.token(invoice)}"
        urls = {
            "page": (f"/invoices/{invoice.id}.pdf", {}),
            "api": (f"/api/v1/invoices/{invoice.id}/pdf", {"headers": headers}),
            "link": (f"{linked}/invoice.pdf", {}),
            "credit page": (f"/credit-notes/{credit.id}.pdf", {}),
            "credit api": (f"/api/v1/credit-notes/{credit.id}/pdf", {"headers": headers}),
            "credit link": (f"{linked}/credit-notes/{credit.id}.pdf", {}),
        }
        browser = signed_in(client, vendor)
        for name, (url, kwargs) in urls.items():
            counts.setdefault(name, []).append(_pdf_statements(app, browser, url, **kwargs))
    for name, (at_few, at_many) in counts.items():
        assert at_few == at_many, (name, counts)


def test_a_royalty_invoice_is_dated_from_its_report_s_period(
    vendor: Any,
    active_agreement: Callable[..., Any],  # noqa: F811
    file_report: Callable[..., Any],  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    assert filed.invoice_number is not None
    invoice_id = _fresh().scalar(select(Invoice.id).where(Invoice.number == filed.invoice_number))
    assert invoice_id is not None
    loaded = queries.invoice_for_pdf(_fresh(), invoice_id)
    assert loaded.source_type == "royalty_report"
    assert loaded.issue_date == date(2027, 4, 2)
    assert loaded.billed_from == date(2027, 1, 1)  # the first quarter's first day
    assert queries.period_start(db.session(), loaded) == date(2027, 1, 1)
    plain = _fresh().get(Invoice, invoice_id)
    assert plain is not None
    assert queries.period_start(db.session(), plain) == date(2027, 1, 1)


def test_a_late_fee_is_dated_from_its_parent_s_period_and_on_a_manual_invoice_from_its_own_day(
    vendor: Any, apply: Callable[..., Any]
) -> None:
    _, agreement_invoice = accepted_with_invoice(apply(vendor, SMALL_USE), vendor, now=NOW)
    assert agreement_invoice is not None
    session = db.session()
    organization_id = vendor.organization_id
    manual = _invoice(session, organization_id, MANUAL)
    on_agreement = _late_fee(session, agreement_invoice)
    on_manual = _late_fee(session, manual)
    # The service charges no late fee on a late fee; the model allows one.
    on_late_fee = _late_fee(session, on_agreement)
    term_start, fee_day = date(2027, 1, 1), LATE.date()
    expected = {
        agreement_invoice.id: term_start,
        on_agreement.id: term_start,
        on_late_fee.id: term_start,
        manual.id: fee_day,
        on_manual.id: fee_day,
    }
    for invoice_id, first_day in expected.items():
        loaded = queries.invoice_for_pdf(_fresh(), invoice_id)
        assert queries.period_start(db.session(), loaded) == first_day, invoice_id
        plain = _fresh().get(Invoice, invoice_id)
        assert plain is not None
        assert queries.period_start(db.session(), plain) == first_day, invoice_id


def test_a_draft_with_no_period_is_dated_from_the_office_s_day_it_was_created(
    vendor: Any,
) -> None:
    # 21:30 at the office on New Year's Eve, already 2027 in UTC: the copyright year a
    # draft's documents would print is the office's, 2026 (it took the UTC date).
    evening = datetime(2027, 1, 1, 3, 30, tzinfo=UTC)
    with db.transaction():
        draft = create_invoice(
            db.session(),
            organization_id=vendor.organization_id,
            currency="USD",
            charges=[Charge("Reprint", Decimal("15.00"), "15.00")],
            source_type=MANUAL,
            payment_terms_days=30,
            late_fee_monthly_percent=Decimal(0),
            now=evening,
            actor=Actor.SYSTEM,
            finalize=False,
        )
    plain = _fresh().get(Invoice, draft.id)
    assert plain is not None
    assert plain.issue_date is None
    assert queries.period_start(db.session(), plain) == date(2026, 12, 31)


def test_a_source_registered_after_the_statements_were_built_is_read_by_the_next_pdf(
    vendor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    manual = _invoice(db.session(), vendor.organization_id, MANUAL)
    assert queries.invoice_for_pdf(_fresh(), manual.id).billed_from is None  # built now
    # The registry and the statements kept per process, as they were after this test.
    monkeypatch.setattr(queries, "_PERIOD_STARTS", dict(queries._PERIOD_STARTS))
    monkeypatch.setattr(queries, "_BUILT", dict(queries._BUILT))
    new_year = date(2030, 1, 1)
    queries.period_start_for(MANUAL)(
        lambda _id: select(literal(new_year, Date())).scalar_subquery()
    )
    assert queries.invoice_for_pdf(_fresh(), manual.id).billed_from == new_year
    plain = _fresh().get(Invoice, manual.id)
    assert plain is not None
    assert queries.period_start(db.session(), plain) == new_year


def test_a_late_fee_on_an_agreement_invoice_carries_the_agreement_s_copyright_year(
    app: Flask,
    vendor: Any,
    apply: Callable[..., Any],
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # Issued in 2026 for a 2027 term: "CPT © 2026" on the invoice and its late fee.
    _, invoice = accepted_with_invoice(apply(vendor, SMALL_USE), vendor, now=NOW)
    assert invoice is not None
    late = _late_fee(db.session(), invoice)
    browser = signed_in(client, vendor)
    for invoice_id in (invoice.id, late.id):
        line = _copyright_line(browser.get(f"/invoices/{invoice_id}.pdf").data)
        assert "CPT © 2026 " in line, (invoice_id, line)
