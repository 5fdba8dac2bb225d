"""RFC 9457 problem documents for everything under /api/.

One table maps domain errors to status codes; HTTP errors raised by Flask,
webargs or Flask-Limiter are turned into the same shape, and validation
messages are flattened to field paths such as `uses.0.quantity.end_users`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, g, json, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import RoutingException

from licensing import errors
from licensing.calendar import instant_iso
from licensing.extensions import retry_after
from licensing.server_refusals import ServerRefusal

PROBLEM_MIMETYPE = "application/problem+json"

STATUS_FOR: list[tuple[type[errors.DomainError], int]] = [
    (errors.NotFound, 404),
    (errors.BadRequest, 400),
    (errors.InvalidInput, 422),
    (errors.Conflict, 409),
    (errors.AuthenticationRequired, 401),
    (errors.PermissionDenied, 403),
    (errors.ExternalServiceError, 502),
    (errors.TooManyRequests, 429),
]


# The `title` of every problem document, by its status: one title a status, whether
# a schema, a service or the framework refused the request. The documents' type is
# about:blank, so the title names the kind of problem (as the status does, in the
# service's words) and `detail` says what it was. docs/api.md lists them.
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    414: "Request line too long",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    431: "Header fields too large",
    500: "Internal server error",
    502: "A service we depend on failed",
    503: "Service unavailable",
}


def title_for(status: int) -> str:
    """The title of a problem document with `status` (HTTP's reason phrase, in
    sentence case, for a status the table does not name)."""
    if status in TITLES:
        return TITLES[status]
    phrase = HTTP_STATUS_CODES.get(status, "Error")
    return phrase[:1] + phrase[1:].lower()


def status_for(error: errors.DomainError) -> int:
    for kind, status in STATUS_FOR:
        if isinstance(error, kind):
            return status
    return 400


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """`{"uses": {0: {"use": ["Unknown."]}}}` -> `{"uses.0.use": ["Unknown."]}`."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key)
            path = prefix if name == "_schema" else (f"{prefix}.{name}" if prefix else name)
            for sub_path, texts in flatten_messages(value, path).items():
                flat.setdefault(sub_path, []).extend(texts)
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_body"] = list(messages)
    elif isinstance(messages, list | tuple):
        for item in messages:
            for sub_path, texts in flatten_messages(item, prefix).items():
                flat.setdefault(sub_path, []).extend(texts)
    else:
        flat[prefix or "_body"] = [str(messages)]
    return flat


# webargs nests messages under the request location; the body ("json") is the
# implied location of a field path, other locations keep their name.
_IMPLIED_LOCATIONS = {"json", "json_or_form", "form"}


def validation_errors(messages: Any) -> dict[str, list[str]]:
    if (
        isinstance(messages, Mapping)
        and messages
        and set(messages)
        <= (_IMPLIED_LOCATIONS | {"query", "querystring", "view_args", "path", "headers", "files"})
    ):
        flat: dict[str, list[str]] = {}
        for location, inner in messages.items():
            prefix = "" if location in _IMPLIED_LOCATIONS else str(location)
            flat.update(flatten_messages(inner, prefix))
        return flat
    return flatten_messages(messages)


def from_domain_error(error: errors.DomainError) -> Response:
    status = status_for(error)
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(error, errors.InvalidInput):
        extra["errors"] = error.errors
    if isinstance(error, errors.IllegalTransition):
        extra["state"] = error.state
        extra["allowed_actions"] = error.allowed
    if isinstance(error, errors.AuthenticationRequired):
        headers["WWW-Authenticate"] = 'Bearer realm="licensing"'
    if isinstance(error, errors.TooManyRequests):  # as a rate limit's 429 says it
        wait = retry_after(error)  # the number its detail names
        headers["Retry-After"] = str(wait)
        headers["X-RateLimit-Limit"] = str(error.limit)
        headers["X-RateLimit-Remaining"] = "0"
        headers["X-RateLimit-Reset"] = str(math.ceil(time.time()) + wait)
    if isinstance(error, errors.FileFirst):  # round 60: the period the detail names
        start = error.start.isoformat()
        extra["file_first"] = {
            "start": start,
            "end": error.end.isoformat(),
            "url": url_for(
                "royalty_reports_api.submit_report",
                agreement_id=error.agreement_id,
                period_start=start,
            ),
        }
    # The instants the detail says in the office's words, as a program reads them.
    extra.update({name: instant_iso(moment) for name, moment in error.instants.items()})
    return problem(status, title_for(status), error.detail, headers=headers, **extra)


# The detail of every 422 with field errors, whether a schema or a service refused
# the request (the errors say which fields and why).
INVALID_FIELDS = "The request has invalid fields; see errors."

_HTTP_DETAILS = {
    400: "The request could not be read.",
    404: "There is no such resource.",
    405: "This resource does not accept that method.",
    413: "The request body is too large.",
    415: "Send the request body as application/json.",
    422: INVALID_FIELDS,
    429: "Too many requests; wait before trying again.",
}


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers: dict[str, str] = {}
    for name, value in (data.get("headers") or {}).items():
        headers[name] = value
    if error.response is not None and "Allow" in error.response.headers:
        headers["Allow"] = error.response.headers["Allow"]
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    extra: dict[str, Any] = {}
    messages = data.get("messages") or data.get("errors")
    # Our own raise sites write a specific description; keep it over the generic one.
    specific = error.description and error.description != type(error).description
    detail = error.description if specific else _HTTP_DETAILS.get(status, error.description)
    if messages:
        flat = validation_errors(messages)
        if status == 400 and list(flat) == ["_body"]:
            detail = "; ".join(flat["_body"])
        else:
            extra["errors"] = flat
    if status == 404 and not specific:
        detail = _without_trailing_slash() or detail
    if status == 413 and not specific and request.max_content_length:
        detail = body_too_large(request.max_content_length)
    if isinstance(error, ServerRefusal):  # its only trace a client can quote (round 65)
        extra["request_id"] = g.get("request_id")
    if status == 429:  # the header and the detail say one number
        headers["Retry-After"] = str(retry_after(error))
        detail = _over_the_limit(detail, headers["Retry-After"])
    return problem(status, title_for(status), detail, headers=headers, **extra)


def body_too_large(limit: int) -> str:
    """A 413's detail: the limit the body went over, so a client can tell how much
    to send (`1,000,000 bytes`; `201,326,592 bytes (192 MiB)` for royalty reports)."""
    mebibytes = "" if limit % 1024**2 else f" ({limit // 1024**2} MiB)"
    return (
        f"The request body is too large: this endpoint accepts at most {limit:,} bytes{mebibytes}."
    )


def _without_trailing_slash() -> str | None:
    """For a path that exists without its trailing slash, say so: routes end
    without one, and "no such resource" leaves the caller guessing."""
    path = request.path
    if not path.endswith("/") or path == "/":
        return None
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(path.rstrip("/"), method=request.method)
    except (HTTPException, RoutingException):
        return None  # no such route either, or only for another method
    return f"There is no such resource; paths have no trailing slash: {path.rstrip('/')}"


# How Flask-Limiter describes a limit it was given no message for: "120 per 1 minute".
_BARE_LIMIT = re.compile(r"\d+ per ")


def _over_the_limit(limit: str | None, retry_after: str) -> str:
    """Flask-Limiter's description is the bare limit ("120 per 1 minute"): say
    what it is a limit of and when the client may try again."""
    if not limit or limit == _HTTP_DETAILS[429]:
        return f"Too many requests; try again in {retry_after} seconds."
    if not _BARE_LIMIT.match(limit):  # a route's own sentence (the shared auth limit)
        return f"{limit.rstrip('.')}; try again in {retry_after} seconds."
    return (
        f"Too many requests from your address: the limit is {limit}; "
        f"try again in {retry_after} seconds."
    )


def contended_detail(seconds: int, *, in_words: str | None = None) -> str:
    """What a 503 of a request that lost to another's changes says (round 59,
    `db.Contended`): nothing was stored, and when to try again (the number Retry-After
    says; a page says it `in_words`)."""
    wait = in_words or f"{seconds} seconds"
    return (
        "Other changes to the same records were being made at the same moment, and this "
        f"request could not be completed; nothing was changed. Try again in {wait}."
    )


def unavailable_detail(seconds: int, *, in_words: str | None = None) -> str:
    """What a 503 of a request made while the database could not be reached says
    (round 61, `db.is_unavailable`): it was not completed, nothing of it was kept,
    and when to try again (the number Retry-After says; a page says it `in_words`)."""
    wait = in_words or f"{seconds} seconds"
    return (
        "The service could not reach its database just now, so this request was not "
        f"completed and nothing of it was saved. Try again in {wait}."
    )


# The request header that makes a money-moving POST safe to send again (the API's
# `billing.idempotency.HEADER`), named here for the 503 below.
IDEMPOTENCY_KEY = "Idempotency-Key"


def unavailable_part_way_detail(seconds: int, *, in_words: str | None = None, keyed: bool) -> str:
    """What a 503 says when the database went away part way through a request that
    had already saved part of its work, or asked Stripe (round 61, outage61b: a card
    refund's key and pending refund stored, the refund asked of Stripe, then the
    database gone before Stripe's answer was recorded): not "nothing of it was
    saved", which was untrue; sent again with its `Idempotency-Key` it is answered
    with what was done (`keyed`), else what was done is to be read first."""
    wait = in_words or f"{seconds} seconds"
    said = (
        "The service lost its database part way through this request, after part of it "
        "was done, so it could not answer. "
    )
    if keyed:
        return said + (
            f"Send it again with the same {IDEMPOTENCY_KEY} in {wait}: the answer says "
            "what was done, and nothing is done twice."
        )
    return said + (
        f"In {wait}, look at what was done before sending it again: sent again as it "
        "is, it may be done twice."
    )


def internal_error() -> Response:
    return problem(
        500,
        title_for(500),
        "Something went wrong on our side; it has been logged. Please try again.",
    )
