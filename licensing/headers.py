"""Security headers on every response, and the request id.

The Content-Security-Policy allows scripts and styles from this service only:
no inline script or style anywhere (templates load theirs from static/), no
`unsafe-inline`, no `unsafe-eval`. Stripe.js is the one script that must come
from elsewhere; only the card payment page allows it, by calling
`allow_stripe_js()` while it renders.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import flask
from flask import Flask, Response, g, request
from flask.globals import app_ctx, request_ctx
from werkzeug.datastructures import Headers
from werkzeug.datastructures.headers import _str_header_value

from licensing import log_context, server_refusals
from licensing.extensions import kept_retry_after
from licensing.refusal import REFUSAL

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# A client's X-Request-Id is kept only when it is this plain (no spaces, no
# control characters, nothing a log line or header could be split on).
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


BASE_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    # Swagger UI's stylesheet draws its icons as data: SVGs.
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-src": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

REAL_STRIPE_JS = "https://js.stripe.com"


def checked_value(value: str) -> str:
    """A header value as werkzeug's `Headers.add` checks it (no newline), so
    a value checked once may be appended without the check on every response."""
    return _str_header_value(value)


HSTS = checked_value("max-age=31536000; includeSubDomains")


def request_id(incoming: str) -> str:
    """The client's id when it matches the strict pattern, else a new one."""
    return incoming if incoming and REQUEST_ID.fullmatch(incoming) else new_request_id()


# The hex digit after the variant bits: "10" then the digit's two low bits.
_RFC_4122_VARIANT = str.maketrans("0123456789abcdef", "89ab89ab89ab89ab")


def new_request_id() -> str:
    """`uuid.uuid4().hex`, written from the same 16 random bytes directly: the
    version digit "4", and the variant's two bits in the 17th digit. `uuid.UUID`
    builds it through an integer in Python, 3 µs more on every request that
    brings no id of its own (a hundredth of a 1-use quote)."""
    digits = os.urandom(16).hex()
    variant = digits[16].translate(_RFC_4122_VARIANT)
    return f"{digits[:12]}4{digits[13:16]}{variant}{digits[17:]}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def stripe_sources(stripe_js_url: str) -> dict[str, list[str]]:
    """What Stripe.js needs beyond our own origin: its script, its card frames
    and its API. A stand-in (localstripe in the tests) serves all three itself."""
    js = _origin(stripe_js_url)
    if js == REAL_STRIPE_JS:
        return {
            "script-src": [js],
            "frame-src": [js, "https://hooks.stripe.com"],
            "connect-src": ["https://api.stripe.com"],
        }
    return {"script-src": [js], "frame-src": [js], "connect-src": [js]}


def content_security_policy(extra: dict[str, list[str]] | None = None) -> str:
    policy = {name: list(sources) for name, sources in BASE_POLICY.items()}
    for name, sources in (extra or {}).items():
        kept = [s for s in policy[name] if s != "'none'"]
        policy[name] = kept + [s for s in sources if s not in kept]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy.items())


def allow_stripe_js() -> None:
    """Let this response load Stripe.js (the card payment page only)."""
    g.csp_allow_stripe = True


# The policies depend on the configuration only, so each is built once per
# process rather than on every response.
DEFAULT_POLICY = checked_value(content_security_policy())


@functools.lru_cache(maxsize=8)
def stripe_policy(stripe_js_url: str) -> str:
    return checked_value(content_security_policy(stripe_sources(stripe_js_url)))


def _start_request() -> None:
    context = g._get_current_object()  # one context lookup
    # The WSGI environ's key for the header: what `request.headers` would look up.
    environ = request._get_current_object().environ  # type: ignore[attr-defined]
    context.request_id = request_id(environ.get("HTTP_X_REQUEST_ID", ""))
    # Every line logged from here to the request's teardown carries its id.
    context.log_context = log_context.start_request(context.request_id)
    # `g` outlives a request when a caller holds the app context (tests, CLI).
    context.csp_allow_stripe = False
    # A request the server refused before the app read it, asked by its worker for
    # the app's answer (round 65): refused here, its id given, before any other hook.
    # A look-up in the environ, not a hook of its own on every request.
    if REFUSAL in environ:
        server_refusals.refuse(environ[REFUSAL])


# The headers every response carries whatever the request: (name, lower-case
# name, value), each value checked once here.
_FIXED_HEADERS = (
    ("X-Content-Type-Options", "x-content-type-options", checked_value("nosniff")),
    # frame-ancestors, for older browsers
    ("X-Frame-Options", "x-frame-options", checked_value("DENY")),
)
_REFERRER_POLICY = ("Referrer-Policy", checked_value("same-origin"))
# What follows the request id and the policy, in order, as appended.
_FIXED_TAIL = (*((name, value) for name, _lowered, value in _FIXED_HEADERS), _REFERRER_POLICY)
_OUR_NAMES = frozenset(
    {"x-request-id", "content-security-policy", "referrer-policy", "strict-transport-security"}
    | {lowered for _name, lowered, _value in _FIXED_HEADERS}
)
# The answers that ask a client to wait before trying again (RFC 9110, 10.2.3).
_RETRY_STATUSES = frozenset({429, 503})


def _finish_headers(response: Response) -> Response:
    """After every other after-request hook: the security headers, then
    Retry-After only where it means what it says (`_retry_after_only_when_refused`).

    One hook reading the response's header names once, for both (they were
    two hooks, each searching the header list). In the usual case, where the
    view set none of our headers, ours are appended as they are: their values
    were checked as `Headers.add` checks them when they were made (a request id
    is plain or our own hex), and checking the 195-character policy again on
    every response was a tenth of the hook.
    """
    app_context = app_ctx._get_current_object()  # type: ignore[attr-defined]  # one lookup
    config = app_context.app.config["LICENSING"]
    # `g`'s own dictionary: what `g.get` reads, without a Python call for each name.
    context = app_context.g.__dict__
    headers = response.headers
    listed = getattr(headers, "_list", None)  # werkzeug's list of (name, value)
    present = {name.lower() for name, _value in (listed if type(listed) is list else headers)}
    policy = (
        stripe_policy(config.stripe_js_url) if context.get("csp_allow_stripe") else DEFAULT_POLICY
    )
    request_id = context.get("request_id") or new_request_id()
    private = "cache-control" not in present and _private(context)
    if (
        present.isdisjoint(_OUR_NAMES)
        and type(listed) is list
        and "\n" not in request_id  # what the check would refuse (ours never hold one)
        and "\r" not in request_id
    ):
        listed.extend(
            (
                ("X-Request-Id", request_id),
                ("Content-Security-Policy", policy),
                *_FIXED_TAIL,
            )
        )
        if private:
            listed.append(_NO_STORE)
        if config.is_production:
            listed.append(("Strict-Transport-Security", HSTS))
    else:
        _set_security_headers(
            headers, present, request_id, policy, config.is_production, private=private
        )
    if "retry-after" in present or response.status_code == 429:
        _retry_after_only_when_refused(response)
    return response


def _set_security_headers(
    headers: Headers,
    present: set[str],
    request_id: str,
    policy: str,
    production: bool,
    *,
    private: bool,
) -> None:
    """Ours through `Headers`' own methods: a header the view set is replaced
    in place, as assignment does (its Referrer-Policy kept), the rest added."""
    ours = (
        ("X-Request-Id", "x-request-id", request_id),
        ("Content-Security-Policy", "content-security-policy", policy),
        *_FIXED_HEADERS,
    )
    for name, lowered, value in ours:
        if lowered in present:
            headers[name] = value
        else:
            headers.add(name, value)
    # A page whose URL carries a secret may ask for less (no-referrer).
    if "referrer-policy" not in present:
        headers.add(*_REFERRER_POLICY)
    if private:
        headers.add(*_NO_STORE)
    if production:
        headers["Strict-Transport-Security"] = HSTS


_NO_STORE = ("Cache-Control", "no-store")


def _private(context: dict[str, Any]) -> bool:
    """Whether the answer is for one caller only: a signed-in page or an API answer
    to a token (the principal loaded for it), or a page opened by an emailed link
    (its `<token>`). No cache may keep those: after signing out on a shared
    computer, the browser's cache could still show the invoices and agreements."""
    if context.get("principal") is not None:
        return True
    found = request_ctx._get_current_object()  # type: ignore[attr-defined]  # one lookup
    arguments = found.request.view_args
    return arguments is not None and "token" in arguments


def _retry_after_only_when_refused(response: Response) -> Response:
    """Flask-Limiter writes Retry-After on every answer of a rate-limited route, a
    200 or a 422 too; a client reads it as "wait, then retry", which only a 429
    (or a 503) means. Its X-RateLimit-* headers stay. On a 429 it wrote the header
    again from a later clock, and on a 503 its own window's: put back the number the
    answer's words say."""
    if response.status_code not in _RETRY_STATUSES:
        response.headers.pop("Retry-After", None)
    elif (told := kept_retry_after()) is not None:  # a 429's, or a 503's (round 59)
        response.headers["Retry-After"] = str(told)
    return response


class AppResponse(flask.Response):
    """Flask's response, handing the server a copy of its headers without
    checking each value a second time.

    werkzeug's `get_wsgi_headers` copies the headers through `Headers.add`,
    which searches every value for a newline with a regular expression, though
    each was checked the same way when it was set (or, for ours, when it was
    made): on an API answer, seven headers and the 195-character policy, about
    6% of a 1-use quote's instructions. When werkzeug would change nothing (a
    final status that keeps its body, no Location or Content-Location to make
    absolute, Content-Length already set) the copy is made as a list; any other
    response goes werkzeug's way.
    """

    def get_wsgi_headers(self, environ: WSGIEnvironment) -> Headers:
        headers = self.headers
        listed = getattr(headers, "_list", None)  # werkzeug's list of (name, value)
        status = self.status_code
        if type(headers) is Headers and type(listed) is list and status >= 200:
            names = {name.lower() for name, _value in listed}
            if (
                status not in (204, 304)
                and "content-length" in names
                and "location" not in names
                and "content-location" not in names
            ):
                copy = Headers()
                copy._list = listed.copy()
                return copy
        return super().get_wsgi_headers(environ)


def _end_request(_error: BaseException | None) -> None:
    # `g`'s own dictionary, as `g.pop` pops it, without that Python method's call.
    context = g._get_current_object()  # one lookup
    log_context.end_request(context.__dict__.pop("log_context", None))


def init_app(app: Flask) -> None:
    app.before_request(_start_request)
    app.teardown_request(_end_request)
    # Flask runs the last registered after-request hook first; at the front of
    # the list this one runs last, after Flask-Limiter's has written its headers.
    app.after_request_funcs.setdefault(None, []).insert(0, _finish_headers)
