"""Reading the documents the service renders (agreements, invoices, letters, reports)."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_text(content: bytes) -> str:
    """The text of every page of a PDF, a page a block, in order."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
