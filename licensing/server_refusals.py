"""The answers to requests the server (gunicorn) refused before the app read them.

gunicorn reads the request line and header fields itself and refuses a request over
its limits, or malformed, before the app sees it. Its worker
(`licensing.serving.ServiceWorker`) hands each refusal to the app as a request of its
own: a GET of the refused target's first segment (`/api/`, `/portal/`, `/`), marked
with the refusal in its environ. As that request starts, once its id is given
(`licensing.headers`), `refuse` logs the refusal in the app's line and raises it as an
HTTP error: the app's error handlers then answer it as any other refusal, problem+json
under /api/ (with `request_id`, the request having no other trace a client could
quote) and the service's error page elsewhere, with the `X-Request-Id` and security
headers of every answer. No other hook, view or limit runs for it (docs/api.md,
"Refused before the service reads the request"; docs/operations.md).
"""

from __future__ import annotations

from typing import NoReturn

from flask import current_app, g
from werkzeug.exceptions import HTTPException

from licensing.refusal import Refusal
from licensing.secret_paths import hide_secrets


class ServerRefusal(HTTPException):
    """A refusal of the server's, answered by the app's error handlers: its status
    (gunicorn's), the sentence saying which limit or rule (`description`) and the
    heading of its page (`heading`)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(description=detail_of(refusal))
        self.code = refusal.status
        self.heading = _HEADINGS.get(refusal.kind, "Request refused")
        self.refusal = refusal


# The heading of each refusal's page (the API's title is fixed by the status,
# `licensing.problems.TITLES`).
_HEADINGS = {
    "request_line": "Address too long",
    "header_count": "Request too large",
    "header_field": "Request too large",
    "header_fields": "Request too large",
    "malformed_line": "Request not understood",
    "malformed_header": "Request not understood",
    "malformed_body": "Request not understood",
    "transfer_coding": "Request not understood",
    "expectation": "Request not understood",
}

_UNREAD = "so the server refused it before the service read it"


def detail_of(refusal: Refusal) -> str:
    """What a refusal's answer says: the limit or rule, then what to do."""
    kind = refusal.kind
    if kind == "request_line":
        return (
            "The request line (the method, the address with its query, and the HTTP "
            f"version) is longer than the {refusal.line_limit:,} bytes the server reads, "
            f"{_UNREAD}. Send a shorter address: fewer or shorter query arguments."
        )
    if kind == "header_count":
        return (
            f"The request has more than the {refusal.fields_limit:,} header fields the "
            f"server reads, {_UNREAD}. Send fewer header fields."
        )
    if kind == "header_field":
        return (
            "A header field of the request (its name and line end included) is longer than the "
            f"{refusal.field_limit:,} bytes the server reads, {_UNREAD}. Send it shorter."
        )
    if kind == "header_fields":
        return (
            "The request's header fields are larger than the server reads (at most "
            f"{refusal.fields_limit:,} fields, each at most {refusal.field_limit:,} bytes "
            f"with its name), {_UNREAD}."
        )
    what = {
        "malformed_line": "Its request line is not well-formed HTTP",
        "malformed_header": "A header field of the request is not well-formed HTTP",
        "malformed_body": "Its chunked body is not well-formed HTTP",
        "transfer_coding": (
            "Its Transfer-Encoding is not one the server reads (it reads chunked only)"
        ),
        "expectation": "Its Expect header asks for what the server cannot do (only 100-continue)",
    }.get(kind, "It is not a request the server can read")
    return f"{what}, {_UNREAD}. Do not send it again unchanged."


def refuse(refusal: Refusal) -> NoReturn:
    """Log `refusal` in the app's line, with the request's id, and raise it for the
    error handlers to answer (`licensing.headers` calls this as the request the worker
    made for it starts)."""
    current_app.logger.warning(
        "refused by the server before the app read it: %d in request %s %s (request id %s): %s",
        refusal.status,
        refusal.method or "-",
        hide_secrets(refusal.target) or "-",
        g.get("request_id", "-"),
        hide_secrets(refusal.said),
    )
    raise ServerRefusal(refusal)
