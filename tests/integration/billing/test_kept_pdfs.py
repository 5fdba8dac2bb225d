"""An issued invoice's and credit note's PDF keep their bytes (round 44): the first
draw is kept (`kept_pdfs`) and served to every download after, so a change to the
renderer's words never reaches a document already drawn; an invoice paid or voided
is a new document naming its issued one, which stays as it was."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import undefer

from licensing import db
from licensing.audit import seals
from licensing.billing import documents, links, pdfs, queries, services
from licensing.billing.models import Invoice, KeptPdf, KeptPdfIsImmutable
from licensing.billing.settings import InvoiceTerms
from licensing.mail.models import OutboxMessage
from tests.integration.billing.conftest import activated, send_activation
from tests.support.billing import credited, paid_offline
from tests.support.documents import downloaded_pdf, pdf_text
from tests.support.factories import bearer, billing_clerk, make_organization

LATER = datetime(2027, 1, 22, 15, 0, tzinfo=UTC)
CHANGED = "Words a later round's renderer prints"


def _kept_rows(**by: int) -> list[KeptPdf]:
    session = db.session()
    session.expire_all()
    (column, record_id), *_ = by.items()
    # The bytes too: they are read only where asked for (round 51).
    statement = (
        select(KeptPdf).options(undefer(KeptPdf.pdf)).where(getattr(KeptPdf, column) == record_id)
    )
    return list(session.scalars(statement.order_by(KeptPdf.id)))


def _attachment(invoice: Invoice) -> bytes:
    """The PDF the email that issued `invoice` carries."""
    message = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subject.startswith(f"Invoice {invoice.number}:"))
            .order_by(OutboxMessage.id)
        )
        .first()
    )
    assert message is not None
    [attachment] = message.attachments
    return attachment.content


def _forget_kept(**by: int) -> None:
    """As for a document issued before round 44: no PDF kept yet (a bulk DELETE,
    which the ORM's refusal, a flush event, does not see)."""
    (column, record_id), *_ = by.items()
    db.session().execute(delete(KeptPdf).where(getattr(KeptPdf, column) == record_id))


def test_a_renderer_change_after_the_first_download_does_not_change_the_second_download(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoice = invoice_for(vendor)
    credit = credited(invoice.id, "15.00", "Goodwill")
    _forget_kept(invoice_id=invoice.id)  # issued before round 44: first drawn below
    browser = signed_in(client, vendor)
    urls = (f"/invoices/{invoice.id}.pdf", f"/credit-notes/{credit.id}.pdf")
    first = [downloaded_pdf(browser, url) for url in urls]
    assert [len(_kept_rows(invoice_id=invoice.id)), len(_kept_rows(credit_note_id=credit.id))] == [
        1,
        1,
    ]
    monkeypatch.setattr(documents, "copyright_notice", lambda _start: CHANGED)
    # The renderer now draws other words (so this test can fail) ...
    session = db.session()
    drawn = pdfs.invoice_pdf(session, queries.invoice_for_pdf(session, invoice.id))
    assert CHANGED in pdf_text(drawn)
    # ... and the downloads are the bytes first drawn.
    second = [downloaded_pdf(browser, url) for url in urls]
    assert second == first
    assert all(CHANGED not in pdf_text(content) for content in second)
    assert [row.pdf for row in _kept_rows(invoice_id=invoice.id)] == [first[0]]


def test_the_email_attachment_and_every_download_are_the_same_bytes(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    billing_staff: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The email that issues the invoice keeps the PDF it attaches: the vendor's
    page, the API, the billing contact's link and staff all get those bytes, after
    the renderer changed."""
    invoice = invoice_for(vendor)
    monkeypatch.setattr(documents, "copyright_notice", lambda _start: CHANGED)
    attached = _attachment(invoice)
    [kept] = _kept_rows(invoice_id=invoice.id)
    assert kept.pdf == attached
    assert kept.sha256 == hashlib.sha256(attached).hexdigest()
    assert kept.issued_id is None  # the issued document
    linked = f"/invoice-links/{invoice.id}/{links.token(invoice)}/invoice.pdf"
    assert downloaded_pdf(client, linked) == attached
    assert (
        downloaded_pdf(client, f"/api/v1/invoices/{invoice.id}/pdf", headers=bearer(vendor))
        == attached
    )
    assert downloaded_pdf(signed_in(client, vendor), f"/invoices/{invoice.id}.pdf") == attached
    staff = bearer(billing_staff)
    assert downloaded_pdf(client, f"/api/v1/invoices/{invoice.id}/pdf", headers=staff) == attached
    assert CHANGED not in pdf_text(attached)
    assert len(_kept_rows(invoice_id=invoice.id)) == 1


def test_a_paid_invoice_is_a_new_document_naming_the_issued_one_which_stays_as_issued(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    [issued] = _kept_rows(invoice_id=invoice.id)
    browser = signed_in(client, vendor)
    assert downloaded_pdf(browser, f"/invoices/{invoice.id}.pdf") == issued.pdf
    paid_offline(invoice.id, "40.00", "WIRE-1", received_on=date(2027, 1, 20), now=LATER)
    part_paid = downloaded_pdf(browser, f"/invoices/{invoice.id}.pdf")
    assert "60.00 USD" in pdf_text(part_paid)  # the balance due now
    paid_offline(invoice.id, "60.00", "WIRE-2", received_on=date(2027, 1, 21), now=LATER)
    paid = downloaded_pdf(browser, f"/invoices/{invoice.id}.pdf")
    assert "PAID" in pdf_text(paid)
    rows = _kept_rows(invoice_id=invoice.id)
    assert [row.pdf for row in rows] == [issued.pdf, part_paid, paid]
    assert [row.issued_id for row in rows] == [None, issued.id, issued.id]
    assert rows[0].standing == "open; paid 0.00; credited 0.00; balance due 100.00"
    assert rows[2].standing == "paid 2027-01-22; paid 100.00; credited 0.00; balance due 0.00"
    assert "PAID" not in pdf_text(rows[0].pdf)
    # Each standing again: its bytes as first drawn.
    assert downloaded_pdf(browser, f"/invoices/{invoice.id}.pdf") == paid
    assert len(_kept_rows(invoice_id=invoice.id)) == 3


# 21:30 at the office (US Central, CST) on 21 January, already the 22nd in UTC.
OFFICE_EVENING = datetime(2027, 1, 22, 3, 30, tzinfo=UTC)


def test_an_invoice_paid_in_the_office_s_evening_is_stamped_paid_on_the_office_s_day(
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The PDF's stamp and its kept standing read the day as the invoices export's
    # `paid_date` does (round 46): they took the UTC date, the 22nd.
    invoice = invoice_for(vendor, ("100.00",))
    paid_offline(invoice.id, "100.00", "WIRE-9", received_on=date(2027, 1, 21), now=OFFICE_EVENING)
    paid = downloaded_pdf(signed_in(client, vendor), f"/invoices/{invoice.id}.pdf")
    assert "PAID on January 21, 2027" in pdf_text(paid)
    assert _kept_rows(invoice_id=invoice.id)[-1].standing == (
        "paid 2027-01-21; paid 100.00; credited 0.00; balance due 0.00"
    )


def test_a_void_invoice_is_a_new_document_stamped_void_and_its_issued_one_stays(
    app: Flask, client: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor)
    [issued] = _kept_rows(invoice_id=invoice.id)
    services.void_invoice(invoice.id, reason="Issued in error", now=LATER, actor=billing_clerk())
    headers = bearer(vendor)
    void = downloaded_pdf(client, f"/api/v1/invoices/{invoice.id}/pdf", headers=headers)
    assert "VOID" in pdf_text(void)
    first, second = _kept_rows(invoice_id=invoice.id)
    assert (first.pdf, second.pdf, second.issued_id) == (issued.pdf, void, issued.id)
    assert "VOID" not in pdf_text(first.pdf)


def test_kept_bytes_are_never_changed_or_deleted_through_the_orm(
    app: Flask, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor)
    session = db.session()
    [kept] = _kept_rows(invoice_id=invoice.id)
    kept.pdf = b"%PDF- something else"
    with pytest.raises(KeptPdfIsImmutable, match="cannot change"):
        session.flush()
    session.rollback()
    [kept] = _kept_rows(invoice_id=invoice.id)
    session.delete(kept)
    with pytest.raises(KeptPdfIsImmutable, match="cannot be deleted"):
        session.flush()


def test_a_draft_has_no_pdf_to_keep(app: Flask, vendor: Any) -> None:
    draft = services.create_draft(
        organization_id=vendor.organization_id,
        currency="USD",
        charges=[services.Charge("Internal use, seat block", Decimal("10.00"))],
        standard=InvoiceTerms(payment_terms_days=30, late_fee_monthly_percent=Decimal("1.5")),
        actor=billing_clerk(),
    )
    with pytest.raises(services.Conflict, match="A draft has no PDF"):
        services.kept_invoice_pdf(draft)
    assert _kept_rows(invoice_id=draft.id) == []


def test_concurrent_first_downloads_keep_one_row_and_serve_its_bytes(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first downloads at once (issued before round 44, nothing kept): both draw,
    one row is stored (INSERT ... ON CONFLICT DO NOTHING, the other waiting for its
    commit on PostgreSQL), and both serve the stored bytes."""
    with committed_app.app_context():
        organization = make_organization(db.session())
        invoice = send_activation(activated(organization.id))
        assert invoice is not None
        invoice_id, credit_id = invoice.id, credited(invoice.id, "15.00", "Goodwill").id
        with db.transaction():
            _forget_kept(invoice_id=invoice_id)
            _forget_kept(credit_note_id=credit_id)
    drawing = threading.Barrier(2)
    names = iter(("first", "second", "third", "fourth"))
    lock = threading.Lock()

    def drawn(*_args: Any) -> bytes:
        with lock:
            name = next(names)
        drawing.wait(timeout=30)  # both have looked, found nothing, and draw
        return f"%PDF- drawn by the {name} download".encode()

    monkeypatch.setattr(pdfs, "invoice_pdf", drawn)
    monkeypatch.setattr(pdfs, "credit_note_pdf", drawn)
    served: dict[str, list[bytes]] = {"invoice": [], "credit note": []}
    failures: list[BaseException] = []

    def download() -> None:
        try:
            with committed_app.app_context():
                session = db.session()
                kept = services.kept_invoice_pdf(queries.invoice_for_pdf(session, invoice_id))
                served["invoice"].append(kept.pdf)
            with committed_app.app_context():
                session = db.session()
                credit = queries.credit_note_for_pdf(session, credit_id)
                served["credit note"].append(services.kept_credit_note_pdf(credit).pdf)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=download) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    with committed_app.app_context():
        [invoice_row] = [(row.pdf, row.sha256) for row in _kept_rows(invoice_id=invoice_id)]
        [credit_row] = [row.pdf for row in _kept_rows(credit_note_id=credit_id)]
        # The row stored carries its own seal (round 47), not the other draw's.
        assert seals.verify_documents(db.session()).problems == []
    stored, digest = invoice_row
    assert served["invoice"] == [stored, stored]
    assert served["credit note"] == [credit_row, credit_row]
    assert digest == hashlib.sha256(stored).hexdigest()
