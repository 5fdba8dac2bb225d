"""Reading the documents the service renders (agreements, invoices, letters, reports)."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import object_session

from licensing import db


def pdf_text(content: bytes) -> str:
    """The text of every page of a PDF, a page a block, in order."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def stored_pdf(record: Any) -> bytes:
    """The PDF a row stores (an agreement, a decision letter, a kept PDF), read by a
    statement of its own: the column is deferred, and reading it on a row loaded
    without it raises (round 51)."""
    model = type(record)
    session = object_session(record) or db.session()
    return bytes(session.execute(select(model.pdf).where(model.id == record.id)).scalar_one())


def outbox_copy(attachment: Any) -> bytes | None:
    """The bytes an outbox attachment holds of its own (None when it names a kept
    document instead), read by a statement of its own as `stored_pdf` reads a PDF."""
    session = object_session(attachment) or db.session()
    column = type(attachment).stored
    copy = session.execute(select(column).where(type(attachment).id == attachment.id)).scalar()
    return None if copy is None else bytes(copy)


def downloaded_pdf(client: FlaskClient, url: str, **kwargs: Any) -> bytes:
    """A PDF downloaded with its `X-Content-SHA256` (a kept document's: round 44)
    checked against its bytes."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    content = response.get_data()
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(content).hexdigest()
    return content
