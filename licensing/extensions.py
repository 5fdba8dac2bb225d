"""Flask extensions, created unbound and initialised in `create_app`."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

limiter = Limiter(key_func=get_remote_address)
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
