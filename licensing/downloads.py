"""The HTTP response for an issued document (agreement, invoice, credit note,
letter, report), for pages and the API alike."""

from __future__ import annotations

from typing import Literal

from flask import Response


def pdf_response(
    content: bytes,
    filename: str,
    *,
    disposition: Literal["inline", "attachment"] = "inline",
    sha256: str | None = None,
) -> Response:
    """`content` as a PDF named `filename`, shown in the browser (`inline`) or saved
    (`attachment`). Every document names its licensee or requester, so no shared
    cache may keep it. `sha256`: the stored digest, sent as `X-Content-SHA256` so
    a reader can check the bytes against what was accepted."""
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    if sha256 is not None:
        response.headers["X-Content-SHA256"] = sha256
    response.headers["Cache-Control"] = "private, no-store"
    return response
