"""Round 48: the email that issues an invoice names its kept PDF (`kept_pdfs`) rather
than storing a copy in the outbox; the sender reads the kept bytes when it sends, and
checks them against the SHA-256 taken when the message was queued."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import undefer

from licensing import db
from licensing.billing import pdfs
from licensing.billing.models import Invoice, KeptPdf
from licensing.mail import services as mail
from licensing.mail.models import OutboxAttachment, OutboxMessage
from tests.support.documents import outbox_copy
from tests.support.servers import SMTPServer
from tests.support.settings import delivery


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


def _issuing_email(invoice: Invoice) -> OutboxMessage:
    return (
        db.session()
        .scalars(
            select(OutboxMessage).where(
                OutboxMessage.subject.startswith(f"Invoice {invoice.number}:")
            )
        )
        .one()
    )


def _issued(invoice: Invoice) -> KeptPdf:
    return (
        db.session()
        .scalars(
            select(KeptPdf).options(undefer(KeptPdf.pdf)).where(KeptPdf.invoice_id == invoice.id)
        )
        .one()
    )


def _received_pdf(mailbox: SMTPServer) -> bytes:
    (received,) = mailbox.wait_for(1)
    (attachment,) = list(received.iter_attachments())
    content = attachment.get_content()
    assert isinstance(content, bytes)
    return content


def test_the_issuing_email_names_the_kept_pdf_and_the_smtp_server_receives_its_bytes(
    app: Flask, vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer
) -> None:
    invoice = invoice_for(vendor)
    kept = _issued(invoice)
    (attachment,) = _issuing_email(invoice).attachments
    # No copy in the outbox: the kept row, named, with what was queued.
    assert outbox_copy(attachment) is None
    assert (attachment.kept_kind, attachment.kept_id) == (pdfs.KEPT_SOURCE, kept.id)
    assert (attachment.sha256, attachment.size) == (kept.sha256, len(kept.pdf))
    assert attachment.filename == f"{invoice.number}.pdf"

    assert mail.deliver_due(delivery()).sent == 1
    sent = _received_pdf(mailbox)
    assert hashlib.sha256(sent).hexdigest() == kept.sha256
    assert sent == kept.pdf


def test_a_retried_message_sends_the_kept_bytes_as_the_first_attempt_would_have(
    app: Flask, vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer
) -> None:
    invoice = invoice_for(vendor)
    kept = _issued(invoice)
    mailbox.refuse = True
    try:
        assert mail.deliver_due(delivery()).deferred == 1
    finally:
        mailbox.refuse = False
    later = db.utcnow() + timedelta(hours=2)
    assert mail.deliver_due(delivery(), later).sent == 1
    assert _received_pdf(mailbox) == kept.pdf


def test_a_kept_pdf_whose_bytes_are_not_those_queued_is_not_sent(
    app: Flask, vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer
) -> None:
    """Rewritten under the ORM (raw SQL, which its refusal does not see): the email
    would carry bytes nobody issued, so it is held, with the reason as its error:
    failed at once (round 54; retried for two hours before, as if waiting mended it)."""
    invoice = invoice_for(vendor)
    kept = _issued(invoice)
    db.session().execute(
        update(KeptPdf).where(KeptPdf.id == kept.id).values(pdf=b"%PDF-1.4 rewritten")
    )
    report = mail.deliver_due(delivery())
    assert (report.sent, report.deferred, report.failed) == (0, 0, 1)
    message = _issuing_email(invoice)
    db.session().refresh(message)
    assert message.state == "failed"
    assert message.last_error is not None
    assert "are not those queued" in message.last_error
    assert mailbox.messages == []


def test_the_outbox_page_gives_a_kept_attachments_name_type_and_size(
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    admin: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor)
    kept = _issued(invoice)
    message = _issuing_email(invoice)
    page = signed_in(client, admin).get(f"/console/outbox/{message.id}")
    assert page.status_code == 200
    assert f"{invoice.number}.pdf (application/pdf, {len(kept.pdf)} bytes)" in page.get_data(
        as_text=True
    )


def test_an_attachment_naming_a_kept_row_must_be_given_that_rows_bytes(
    app: Flask, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """The caller's mistake, refused when queued rather than found when sent."""
    invoice = invoice_for(vendor)
    kept = _issued(invoice)
    with pytest.raises(ValueError, match="does not hold the bytes"), db.transaction() as session:
        mail.enqueue(
            session,
            to="ap@northwind.example",
            subject="Your invoice",
            template="reset_password",
            context={"user": {"full_name": "Robin"}, "link": "http://x/y", "expires_at": None},
            attachments=[
                mail.Attachment(
                    "INV.pdf", "application/pdf", b"%PDF other", kept=(pdfs.KEPT_SOURCE, kept.id)
                )
            ],
        )
    assert db.session().scalars(select(OutboxAttachment.id)).all() == [
        attachment.id for attachment in _issuing_email(invoice).attachments
    ]


@pytest.mark.parametrize("kind", ["kept_pdf", "permission_letter", "unregistered"])
def test_an_email_whose_kept_document_is_missing_fails_at_once_and_the_outbox_page_says_why(
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    mailbox: SMTPServer,
    client: FlaskClient,
    admin: Any,
    signed_in: Callable[..., FlaskClient],
    kind: str,
) -> None:
    """An attachment naming a document never stored (or deleted, by hand: the kept
    tables refuse it) has no foreign key to say so (one column names rows of two
    tables, by kind): the sender finds it. Round 53 retried it 8 times over two hours,
    then failed it; now it fails at once, with why, and the other email is sent. A
    kind no package reads failed nothing and crashed the whole send, every run."""
    first, second = invoice_for(vendor), invoice_for(vendor)
    (attachment,) = _issuing_email(first).attachments
    db.session().execute(
        update(OutboxAttachment)
        .where(OutboxAttachment.id == attachment.id)
        .values(kept_kind=kind, kept_id=987654)
    )

    report = mail.deliver_due(delivery())

    assert (report.sent, report.deferred, report.failed) == (1, 0, 1)
    # Round 55: `outbox send`'s line said "1 failed after 8 attempts" of it.
    assert str(report).startswith(
        "1 sent, 0 to retry later, 0 failed after 8 attempts, 1 failed at once (a kept "
        "document it attaches is missing or not the one queued: see the outbox) (last "
        "error: KeptBytesUnavailable: "
    )
    (received,) = mailbox.wait_for(1)
    assert received["Subject"].startswith(f"Invoice {second.number}:")
    message = _issuing_email(first)
    db.session().refresh(message)
    assert (message.state, message.attempts) == ("failed", 1)
    assert message.last_error is not None
    assert f"{first.number}.pdf" in message.last_error
    # A later run leaves it alone: it waits for staff, not a loop.
    later = mail.deliver_due(delivery(), db.utcnow() + timedelta(days=1))
    assert later.attempted == 0

    admin_client = signed_in(client, admin)
    page = admin_client.get(f"/console/outbox/{message.id}").get_data(as_text=True)
    assert "failed" in page
    assert "KeptBytesUnavailable" in page
    assert f"{first.number}.pdf" in page
    listed = admin_client.get("/console/outbox?state=failed").get_data(as_text=True)
    assert f"/console/outbox/{message.id}" in listed
