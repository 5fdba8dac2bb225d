"""The HTTP response for an issued document (agreement, invoice, credit note,
letter, report), for pages and the API alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from flask import Response
from flask_limiter.util import get_remote_address

from licensing import access
from licensing.extensions import configured_limit, limiter
from licensing.filenames import content_disposition

F = TypeVar("F", bound=Callable[..., Any])


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
    response.headers["Content-Disposition"] = content_disposition(disposition, filename)
    if sha256 is not None:
        response.headers["X-Content-SHA256"] = sha256
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- what a download costs the office ---------------------------------------------------

_document_limit, _document_limit_off = configured_limit("document_rate_limit")
# The budget's name among the limiter's, by which the 429 page knows what was refused.
DOCUMENTS_SCOPE = "documents"


def documents_budget() -> tuple[str, bool]:
    """The documents budget as configured ("30 per minute"), and whether it is the
    caller's own (signed in, or a token) rather than their client address's (an
    emailed link)."""
    return _document_limit(), access.current_principal() is not None


def _document_limit_message() -> str:
    """The 429's detail on the API (Retry-After's seconds follow it): what the budget
    is and whose, so a finance script's author knows how to pace it (round 31)."""
    limit, own = documents_budget()
    whose = "each user" if own else "each client address"
    return (
        f"Too many documents and exports asked for at once: the limit is {limit} for "
        f"{whose}, PDFs and exports on pages and the API sharing it"
    )


def _caller_key() -> str:
    """Per signed-in user (or token's owner), else per client address (an emailed
    invoice link): many colleagues behind one office address each keep their own."""
    principal = access.current_principal()
    if principal is not None:
        return f"user:{principal.user_id}"
    return f"address:{get_remote_address()}"


# The one place that says which downloads are outside the budget, and why: each is
# stored bytes (or a stored text) sent as they are, nothing rendered on request.
# `tests/integration/test_documents_budget_routes.py` walks the URL map: a route that
# makes a PDF, a CSV, an export or a template is in the budget or named here (round 33).
NOT_RENDERED: dict[str, str] = {
    "agreements.agreement_pdf": "the agreement's stored PDF",
    "agreements_api.get_agreement_pdf": "the agreement's stored PDF",
    "permissions_public.letter": "a decision letter's stored PDF",
    "permissions_console.console_letter": "a decision letter's stored PDF",
    "permissions_api.get_letter": "a decision letter's stored PDF",
    "permissions_api.status_letter": "a decision letter's stored PDF",
    "billing_documents.kept_invoice_document": "an invoice's kept PDF, stored bytes",
    "invoices_api.kept_document_pdf": "an invoice's kept PDF, stored bytes",
    "invoices_api.credit_note_kept_document_pdf": "a credit note's kept PDF, stored bytes",
    "ratecards_console.download": "a published rate card's stored JSON",
    "api-docs.openapi_json": "the API document, built once",
}

# The attribute `document_rate_limit` sets on the view it wraps (kept by every outer
# `functools.wraps`), by which the test over the URL map knows a route is counted.
IN_DOCUMENTS_BUDGET = "in_documents_budget"


def document_rate_limit() -> Callable[[F], F]:
    """One budget per caller (`DOCUMENT_RATE_LIMIT`) shared by every download made
    on request: a PDF rendered when asked (invoice, credit note, statement of
    account, the finance monthly report), an export, a royalty report's rows and a
    period's template. Each takes a worker for a while; without a limit one caller
    (or one emailed link) could keep every worker rendering. Round 30; round 33
    marks the view so that a test finds any document route left outside."""
    limit = limiter.shared_limit(
        _document_limit,
        scope=DOCUMENTS_SCOPE,
        key_func=_caller_key,
        exempt_when=_document_limit_off,
        error_message=_document_limit_message,
    )

    def counted(view: F) -> F:
        limited: F = limit(view)  # type: ignore[assignment]
        setattr(limited, IN_DOCUMENTS_BUDGET, True)
        return limited

    return counted
