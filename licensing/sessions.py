"""The cookie session, for pages only.

The API recognises its caller by bearer token alone and never reads the
session cookie (`licensing.accounts.auth`). Flask would still open and verify
the cookie on every API request, and Flask-Login's after-request hook reads the
session, so Flask would then save it and add `Vary: Cookie`: a tenth of a
1-use quote, and a header that tells caches an API answer depends on a cookie
it never reads. Here an API request gets an empty session of its own that is
never read from nor written to the cookie; so do the other routes that serve no
signed-in page (health checks, Stripe's webhook, static files). Pages keep the
signed cookie session (sign-in, CSRF tokens, server-side sign-out) exactly as
before.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from licensing.config import API_PREFIX


class ApiSession(SecureCookieSession):
    """An API request's session: empty, and never saved. Anything written to it
    (a library's bookkeeping) is dropped with the request, like any state the
    API keeps per request; the API has no use for a cookie."""


class PageSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session on pages; `ApiSession` on the API. The
    signer is built once per set of keys rather than twice a request."""

    def __init__(self) -> None:
        self._signer: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if _cookieless(app, request.path):
            return ApiSession()
        return super().open_session(app, request)

    def is_null_session(self, obj: object) -> bool:
        # Flask saves a session (and varies on the cookie) unless it is "null".
        return isinstance(obj, ApiSession) or super().is_null_session(obj)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # Keyed by the keys themselves, so a changed SECRET_KEY (or fallbacks)
        # is never verified with a stale signer.
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._signer is None or self._signer[0] != keys:
            self._signer = (keys, super().get_signing_serializer(app))
        return self._signer[1]


# Routes that never serve a signed-in page: no cookie is read, saved or varied on.
_COOKIELESS_PREFIXES = (API_PREFIX + "/", "/webhooks/")
_COOKIELESS_PATHS = frozenset({"/healthz", "/readyz"})


def _cookieless(app: Flask, path: str) -> bool:
    if path.startswith(_COOKIELESS_PREFIXES) or path in _COOKIELESS_PATHS:
        return True
    return app.static_url_path is not None and path.startswith(app.static_url_path + "/")


def init_app(app: Flask) -> None:
    app.session_interface = PageSessionInterface()
