"""Issue 15, item 2: the invoice email reaches a billing contact who has no account:
the PDF is attached, and its signed link opens the invoice and its PDF."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.billing import links
from licensing.billing.models import Invoice
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.support.servers import SMTPServer, message_text
from tests.support.settings import delivery


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


def test_an_attachment_is_stored_with_its_message_and_sent_with_it(
    app: Any, mailbox: SMTPServer
) -> None:
    with db.transaction() as session:
        mail.enqueue(
            session,
            to="finance@northwind.example",
            subject="Your document",
            template="reset_password",
            context={"user": {"full_name": "Robin"}, "link": "http://x/y", "expires_at": None},
            attachments=[mail.Attachment("INV-1.pdf", "application/pdf", b"%PDF-1.4 test")],
        )
    assert mail.deliver_due(delivery()).sent == 1
    received = mailbox.wait_for(1)[0]
    (attachment,) = list(received.iter_attachments())
    assert attachment.get_filename() == "INV-1.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"
    assert "http://x/y" in message_text(received)


def test_the_invoice_email_attaches_the_pdf_and_links_without_sign_in(
    client: FlaskClient, invoice_for: Callable[..., Invoice], vendor: Any, mailbox: SMTPServer
) -> None:
    invoice = invoice_for(vendor)
    billing_email = vendor.organization.billing_email
    message = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "invoice_issued"))
        .one()
    )
    assert message.to == [billing_email]
    (attachment,) = message.attachments
    assert attachment.filename == f"{invoice.number}.pdf"
    assert attachment.content.startswith(b"%PDF")
    link = links.invoice_url(invoice)
    assert link in message.body_text
    path = link.split("://", 1)[1].split("/", 1)[1]

    page = client.get(f"/{path}")  # nobody signed in
    assert page.status_code == 200
    assert invoice.number in page.get_data(as_text=True)
    pdf = client.get(f"/{path}/invoice.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    wrong = client.get(f"/invoice-links/{invoice.id}/not-the-token")
    assert wrong.status_code == 404
    assert client.get(f"/invoice-links/{invoice.id}/not-the-token/invoice.pdf").status_code == 404


def test_the_invoice_links_secret_is_masked_in_the_outbox_and_erased_once_sent(
    client: FlaskClient, invoice_for: Callable[..., Invoice], vendor: Any, mailbox: SMTPServer
) -> None:
    """Round 30: the signed link opens the invoice and its pay page without an account,
    and stayed whole in the stored email: staff reading the outbox, and any copy of
    the database, held a working link to every invoice emailed."""
    invoice = invoice_for(vendor)
    secret = links.token(invoice)
    message = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "invoice_issued"))
        .one()
    )
    assert secret in message.body_text  # until it is delivered
    assert secret not in message.display_text
    assert "[hidden]" in message.display_text
    assert mail.deliver_due(delivery()).sent == 1
    assert secret in message_text(mailbox.wait_for(1)[0])  # the billing contact has it
    db.session().refresh(message)
    assert secret not in message.body_text
    assert secret not in (message.body_html or "")
