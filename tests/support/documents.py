"""Reading the documents the service renders (agreements, invoices, letters, reports)."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from flask.testing import FlaskClient
from pypdf import PdfReader


def pdf_text(content: bytes) -> str:
    """The text of every page of a PDF, a page a block, in order."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def downloaded_pdf(client: FlaskClient, url: str, **kwargs: Any) -> bytes:
    """A PDF downloaded with its `X-Content-SHA256` (a kept document's: round 44)
    checked against its bytes."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    content = response.get_data()
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(content).hexdigest()
    return content
