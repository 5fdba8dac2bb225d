"""Flask extensions, created unbound and initialised in `create_app`."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect


class _Limiter(Limiter):
    """Flask-Limiter's limiter, answering at once for a request that one of its
    request filters exempts from every limit.

    Flask-Limiter reaches the same outcome (no limit checked, none reported)
    only after resolving the route's limits and exemption scopes, twice a
    request: a tenth of a 1-use quote with QUOTE_RATE_LIMIT off. Meta limits
    would still apply to such a request, so with any configured (none are) the
    check goes the usual way. Should Flask-Limiter rename the hook, this merely
    stops saving time.
    """

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        filters = getattr(self, "_request_filters", ())
        if not getattr(self, "_meta_limits", True) and any(exempt() for exempt in filters):
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


limiter = _Limiter(key_func=get_remote_address)
csrf = CSRFProtect()
# Page sessions; the accounts package registers the user loader.
login_manager = LoginManager()


def configured_limit(setting: str) -> tuple[Callable[[], str], Callable[[], bool]]:
    """The limit named by a `Config` attribute, read per request, and whether it
    is "off". Pass both to `limiter.limit(limit, exempt_when=off)`.

    flask-limiter parses the limit even when the route is exempt, so "off" is
    given as a valid limit that is never applied.
    """

    def off() -> bool:
        return str(getattr(current_app.config["LICENSING"], setting)).strip().lower() == "off"

    def limit() -> str:
        return "1 per day" if off() else str(getattr(current_app.config["LICENSING"], setting))

    return limit, off
