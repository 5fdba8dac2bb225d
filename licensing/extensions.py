"""Flask extensions, created unbound and initialised in `create_app`."""

from __future__ import annotations

import functools
import inspect
import logging
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, g, session
from flask.globals import request_ctx
from flask_limiter import Limiter
from flask_limiter.util import get_qualified_name, get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from licensing import db
from licensing.sessions import ApiSession

F = TypeVar("F", bound=Callable[..., Any])


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
        if db.running_again():
            # Round 59: a view run again after a deadlock (`db.retrying`) calls its
            # limit's decorator again; the request was counted on its first try.
            return
        if not getattr(self, "_meta_limits", True):
            # A loop, not any() over a generator: one closed early is thrown a
            # GeneratorExit, on every exempt request.
            for exempt in getattr(self, "_request_filters", ()):
                if exempt():
                    return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    # Flask-Limiter keeps what a request's limit checks found (the limit to
    # report in the headers, deductions to make once the response is known) on
    # the request context, made on first use; its after-request hook reads it
    # and its teardown resets it, making it first when the request had none.
    # A request that made none (the quote with QUOTE_RATE_LIMIT off: the filter
    # above answered before any check) has no headers to send, nothing to
    # deduct and nothing to reset, so these return at once: three context
    # lookups and a context built only to be emptied, on every such request.
    # They override the methods the hooks call (name-mangled, as Flask-Limiter
    # spells them); should it rename them, this merely stops saving time.

    def _has_request_state(self) -> bool:
        context = request_ctx._get_current_object()  # type: ignore[attr-defined]
        state = getattr(context, "_limiter_request_context", None)
        return state is not None and self in state

    def _Limiter__check_conditional_deductions(self, response: Any) -> None:
        if self._has_request_state():
            super()._Limiter__check_conditional_deductions(response)  # type: ignore[misc]

    @property
    def current_limit(self) -> Any:
        return super().current_limit if self._has_request_state() else None

    def _Limiter__release_context(self, _: BaseException | None = None) -> None:
        if self._has_request_state():
            super()._Limiter__release_context(_)  # type: ignore[misc]


limiter = _Limiter(key_func=get_remote_address)

# Flask-Limiter's line when a limit is hit: `ratelimit LIMIT (KEY) exceeded at
# endpoint: SCOPE`, KEY being what the limit counts by.
_HIT_LINE = "ratelimit %s (%s) exceeded at endpoint: %s"
# What the line says instead of a client address.
CLIENT_ADDRESS = "by client address: see the access line"


def counted_by(key: str) -> str:
    """A limit's key as the app's log may show it: a user's id (`user:42`, which
    every line of a signed-in request carries anyway), never a client address
    (`127.0.0.1`, `address:...`, `ip:...`): the app's log holds no address
    (docs/security.md); the access line, which ends with the same request id,
    has it."""
    kind, _, value = key.partition(":")
    if kind == "user" and value.isdigit():
        return key
    return CLIENT_ADDRESS


class _HitLineWithoutAddress(logging.Filter):
    """Rewrites Flask-Limiter's hit line before any handler writes it (round 33:
    it named the client's address in the app's log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _HIT_LINE and isinstance(record.args, tuple) and len(record.args) == 3:
            limit, key, scope = record.args
            record.args = (limit, counted_by(str(key)), scope)
        return True


def _hide_addresses_in_limiter_lines() -> None:
    flask_limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, _HitLineWithoutAddress) for f in flask_limiter_log.filters):
        flask_limiter_log.addFilter(_HitLineWithoutAddress())


_hide_addresses_in_limiter_lines()


class _CSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF protection, finding an exempt blueprint's request (every
    API request: the API takes no cookie) from one context lookup.

    Its before-request hook calls `protect(apply_exemptions=True)`, which asks
    the request and app proxies five times before finding the blueprint exempt:
    about 3% of a 1-use quote's instructions. The test is Flask-WTF's own (the
    request's blueprint, as the app registered it, among those exempted), and
    answers the same: nothing checked, nothing marked. Any other request,
    exempt views included, goes through Flask-WTF as before. Should Flask-WTF
    rename its set of exempt blueprints, this merely stops saving time.
    """

    def protect(self, apply_exemptions: bool = False) -> None:
        if apply_exemptions:
            context = request_ctx._get_current_object()  # type: ignore[attr-defined]
            req = context.request
            exempt = getattr(self, "_exempt_blueprints", ())
            if req.endpoint and context.app.blueprints.get(req.blueprint) in exempt:
                return
        super().protect(apply_exemptions=apply_exemptions)


csrf = _CSRFProtect()

# When a client refused with a 429 may try again, in seconds, when nothing says.
DEFAULT_RETRY_AFTER = 60
_RETRY_AFTER = "licensing_retry_after"


def retry_after(error: Exception | None = None) -> int:
    """Seconds until a refused client may try again: what the 429's Retry-After
    header and its words (the API's problem detail, the page) both say.

    Computed once a request and kept: Flask-Limiter writes Retry-After again
    after the error handler, from the clock a moment later, which said a second
    less than the detail (or an hour against the detail's default minute, for an
    hourly limit); `headers` puts this number back on the 429 (`kept_retry_after`).
    A domain error's own `retry_after` or a Retry-After already on the error's
    response wins, then the breached limit's reset, rounded up so that trying again
    then is never too early.
    """
    kept = kept_retry_after()
    if kept is None:
        kept = _given_retry_after(error) or _until_the_limit_resets() or DEFAULT_RETRY_AFTER
        setattr(g, _RETRY_AFTER, kept)
    return kept


def keep_retry_after(seconds: int) -> None:
    """Tell this request's client `seconds` (a 503's, round 59), whatever a rate limit
    on the route would write after the error handler (`headers` puts it back)."""
    setattr(g, _RETRY_AFTER, seconds)


def kept_retry_after() -> int | None:
    """The number `retry_after` told this request's client, if it told one."""
    kept: int | None = g.get(_RETRY_AFTER)
    return kept


def _given_retry_after(error: Exception | None) -> int | None:
    told = getattr(error, "retry_after", None)  # a domain error's (`TooManyRequests`)
    if isinstance(told, int) and told > 0:
        return told
    response = getattr(error, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    return int(value) if value and value.isdigit() and int(value) > 0 else None


def _until_the_limit_resets() -> int | None:
    breached = limiter.current_limit
    if breached is None:
        return None
    # The window's own reset time: `reset_at` is already a second past it, rounded.
    resets_at = float(breached.window[0])
    return max(1, math.ceil(resets_at - time.time()))


class _LoginManager(LoginManager):  # type: ignore[misc]  # Flask-Login is untyped
    """Flask-Login's manager, whose after-request hook returns at once on an
    API request.

    The hook manages the remember-me cookie from marks in the session
    ("_remember", "_user_id"). An API request's session (`sessions.ApiSession`)
    is never read from nor saved to a cookie, and while it is empty, as the
    API leaves it, the hook could at most add a mark and take it out again:
    three context lookups for nothing on every API request. Any other session
    goes through the hook as before. It overrides the method the hook calls;
    should Flask-Login rename it, this merely stops saving time.
    """

    def _update_remember_cookie(self, response: Response) -> Response:
        current = session._get_current_object()  # type: ignore[attr-defined]
        if isinstance(current, ApiSession) and not current:
            return response
        updated: Response = super()._update_remember_cookie(response)
        return updated


# Page sessions; the accounts package registers the user loader.
login_manager = _LoginManager()


def is_rate_limited(view: Callable[..., Any]) -> bool:
    """Whether a limit of `limiter` (its own, or a shared one) was put on `view`:
    what the API's document reads to list the route's 429. Flask-Limiter marks a
    decorated view by its qualified name, which `functools.wraps` keeps on every
    wrapper above it; it has no public way to ask."""
    return get_qualified_name(view) in limiter._marked_for_limiting


def configured_limit(setting: str) -> tuple[Callable[[], str], Callable[[], bool]]:
    """The limit named by a `Config` attribute, read per request, and whether it
    is "off". Pass both to `limiter.limit(limit, exempt_when=off)`.

    flask-limiter parses the limit even when the route is exempt, so "off" is
    given as a valid limit that is never applied.
    """

    def off() -> bool:
        # The app itself rather than its proxy: asked once or twice a request.
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        return _is_off(getattr(app.config["LICENSING"], setting))

    def limit() -> str:
        return "1 per day" if off() else str(getattr(current_app.config["LICENSING"], setting))

    return limit, off


@functools.lru_cache(maxsize=32)
def _is_off(limit: object) -> bool:
    # A setting's few values, read on every request of a limited route.
    return str(limit).strip().lower() == "off"


def limit_unless_off(limit: Callable[[], str], off: Callable[[], bool]) -> Callable[[F], F]:
    """`limiter.limit(limit, exempt_when=off)` for a view with no other limit
    of its own, calling the view directly while `off()`.

    Flask-Limiter's wrapper would look the request's endpoint up, resolve the
    view's limits and only then find them exempt (a few proxy lookups and a
    dozen calls a request, a twentieth of a 1-use quote). The limit is still
    registered with the limiter as before, and applies exactly as before
    whenever it is not off. The view must not be a coroutine function (Flask-
    Limiter's wrapper would make it synchronous; this one calls it as it is).
    """

    def decorate(view: F) -> F:
        if inspect.iscoroutinefunction(view):
            raise TypeError("limit_unless_off wraps plain views only")
        limited = limiter.limit(limit, exempt_when=off)(view)

        # Flask-Limiter's wrapper marks itself (`wraps` copies the mark), so a
        # limit stacked outside this one would leave the checks to it; hence
        # "no other limit of its own".
        @functools.wraps(limited)
        def limited_unless_off(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **kwargs) if off() else limited(*args, **kwargs)

        return limited_unless_off  # type: ignore[return-value]

    return decorate
