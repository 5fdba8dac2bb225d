"""Error handling for the whole app, in one table per audience.

Under /api/ (and /webhooks/) every error is an `application/problem+json`
document; elsewhere it is an HTML page. No client ever sees a stack trace:
unexpected exceptions are logged with the request id and answered with 500.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import Flask, current_app, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound
from werkzeug.routing import BuildError, RequestRedirect
from werkzeug.wrappers import Response

from licensing import db, errors, problems
from licensing.downloads import DOCUMENTS_SCOPE, documents_budget
from licensing.extensions import keep_retry_after, retry_after
from licensing.limits import is_storable, unstorable_text
from licensing.links import app_path, request_full_path, request_path, request_query
from licensing.secret_paths import hide_secrets
from licensing.server_refusals import ServerRefusal

MACHINE_PREFIXES = ("/api/", "/webhooks/")


def wants_problem_json() -> bool:
    return request.path.startswith(MACHINE_PREFIXES)


def _page(
    status: int,
    title: str,
    detail: str,
    form_url: str | None = None,
    again_url: str | None = None,
) -> tuple[str, int]:
    page = render_template(
        "errors/error.html",
        status=status,
        title=title,
        detail=detail,
        form_url=form_url,
        again_url=again_url,
    )
    return page, status


def _form_page() -> str | None:
    """The page of the form just posted, when its address shows it: the address
    itself (sign-in, sign-up, the permission request), or the page an action's
    address extends (`/permissions/status/<token>/answer`): where to fill it in
    again with a fresh token. Never the home page."""
    adapter = current_app.url_map.bind("", url_scheme=request.scheme)
    path = request.path.rstrip("/") or "/"
    for candidate in (request.path, path.rsplit("/", 1)[0]):
        if candidate in ("", "/"):
            continue
        try:
            adapter.match(candidate, method="GET")
        except RequestRedirect:  # the page, with its trailing slash
            return app_path(candidate)
        except (NotFound, MethodNotAllowed):
            continue
        return app_path(candidate)  # escaped, under the mount point (round 49)
    return None


# How a refused step's caller's own steps are read (round 58, refusal58): the API's
# `callers_steps_refused`, which knows each record's `allowed_actions`, installed by
# `licensing.api.register`; pages say a refusal with it as the API does.
_CALLERS_STEPS: list[Callable[[errors.IllegalTransition], list[str]]] = []


def install_callers_steps(read: Callable[[errors.IllegalTransition], list[str]]) -> None:
    _CALLERS_STEPS[:] = [read]


def said_to_the_reader(error: errors.DomainError) -> str:
    """`error`'s sentence as the page's reader is told it: a refused step names the
    steps they may take (`IllegalTransition.tell_the_caller`), not every step its
    state allows; any other error as it is."""
    if isinstance(error, errors.IllegalTransition) and _CALLERS_STEPS:
        error.tell_the_caller(_CALLERS_STEPS[0](error))
    return error.detail


def handle_domain_error(error: errors.DomainError) -> Response | tuple[str, int]:
    if wants_problem_json():
        return problems.from_domain_error(error)
    if isinstance(error, errors.AuthenticationRequired):
        try:
            return _to_sign_in()
        except BuildError:
            pass
    status = problems.status_for(error)
    return _page(status, error.title, said_to_the_reader(error))


def _to_sign_in() -> Response:
    """The sign-in page, to come back here after: without the query, or without
    coming back at all, when that holds text that cannot be stored (a NUL; the
    sign-in page keeps `next` in the session, and would refuse its own address)."""
    if not is_storable(request.path):
        return redirect(url_for("accounts.sign_in"))
    back = request_path() if unstorable_text(request.args) else request_full_path()
    return redirect(url_for("accounts.sign_in", next=back))


def handle_http_exception(error: HTTPException) -> Response | tuple[str, int]:
    if wants_problem_json():
        return problems.from_http_exception(error)
    if error.code == 500:
        return handle_unexpected(error)
    if isinstance(error, CSRFError):
        return _page(
            400,
            "Form expired",
            "The form could not be verified: it was probably open for too long, or the "
            "service restarted meanwhile. Nothing was saved; open the form again and resubmit.",
            form_url=_form_page(),
        )
    if error.code == 404 and (page := _page_without_slash()) is not None:
        return redirect(page, 308)
    if error.code == 413:
        return _page(413, "Too large to send", _too_large())
    title, detail = _in_plain_words(error)
    response = error.get_response()  # with its headers (Allow)
    if error.code == 429:  # the header and the words say one number
        response.headers["Retry-After"] = str(retry_after(error))
        own = getattr(error, "response", None)
        if own is not None and own.get_data():
            return response  # the view's own page (`auth_rate_limit(on_breach=...)`)
    # A document refused for the budget is asked for again by the same address.
    again = request_full_path() if _is_documents_budget(error) else None
    body, _status = _page(error.code or 500, title, detail, again_url=again)
    response.set_data(body)
    response.mimetype = "text/html"
    return response


def _in_plain_words(error: HTTPException) -> tuple[str, str]:
    """The heading and sentence of a page for `error`: Werkzeug's own words for
    a missing page and a rate limit ("Too Many Requests", "If you entered the URL
    manually ...") read as a server's, not the office's."""
    specific = error.description != type(error).description
    if isinstance(error, ServerRefusal):  # the server's limit or rule, in the office's words
        return error.heading, error.description or ""
    if error.code == 404:
        detail = error.description if specific and error.description else _NOT_FOUND
        return "Page not found", detail
    if _is_documents_budget(error):
        return "Too many documents at once", _too_many_documents(error)
    if error.code == 429:
        return "Too many attempts", _too_many(error)
    return error.name, error.description or ""


_NOT_FOUND = (
    "There is no page at this address. If you typed it, check it; if a link led "
    "here, the page may have moved: start again from the home page or the menu."
)


def _too_many(error: HTTPException) -> str:
    """What a 429 page says: when to try again, the number its Retry-After says."""
    return (
        "Too many attempts came from your address in a short time, so this one was "
        f"refused and nothing was saved. Try again in {duration_words(retry_after(error))}."
    )


def _is_documents_budget(error: HTTPException) -> bool:
    """A 429 of the documents budget (`downloads.document_rate_limit`)."""
    limit = getattr(error, "limit", None)
    return error.code == 429 and getattr(limit, "scope", None) == DOCUMENTS_SCOPE


def _too_many_documents(error: HTTPException) -> str:
    """What a 429 of the documents budget says (round 31): a person clicking through
    invoice PDFs read "Too many attempts came from your address ... nothing was
    saved", a sign-in's words; they saved nothing, and the budget is their own."""
    limit, own = documents_budget()
    asked = (
        "You asked for more documents (PDFs and exports) than the office makes for one person"
        if own
        else "More documents were asked for from your address than the office makes for one address"
    )
    return (
        f"{asked} in a short time ({limit}), so this one was not made. Try again in "
        f"{duration_words(retry_after(error))}: open it again then. Nothing else is affected."
    )


def duration_words(seconds: int) -> str:
    """`45` -> `45 seconds`; `60` -> `1 minute`; `150` -> `3 minutes` (rounded up,
    so trying again then is never too early); `7200` -> `2 hours`."""
    count, unit = seconds, "second"
    if seconds >= 3600:
        count, unit = -(-seconds // 3600), "hour"
    elif seconds >= 60:
        count, unit = -(-seconds // 60), "minute"
    return f"{count} {unit}" + ("" if count == 1 else "s")


def _too_large() -> str:
    """What a 413 page says: the limit the form went over (MAX_CONTENT_LENGTH)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        return "What you sent is too large for the service to accept."
    return (
        f"What you sent (with any file) is larger than the {_size(limit)} the service "
        "accepts at once. Choose a smaller file, or send less at a time, and try again."
    )


def _size(count: int) -> str:
    """`5242880` -> `5 MB`; `1536` -> `1.5 KB` (binary units, as the limit is set)."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{count} bytes"


def _page_without_slash() -> str | None:
    """The page a GET meant when its path ends in a slash that the page's route has
    not (`/portal/agreements/`), with the query: the mirror of Werkzeug's
    strict_slashes, which sends `/console` to `/console/`. None for any other 404,
    and never under /api/ or /webhooks/ (their answers are a contract)."""
    path = request.path
    if request.endpoint is not None or request.method not in ("GET", "HEAD"):
        return None  # the route matched and the view said 404, or a form posted
    if len(path) < 2 or not path.endswith("/"):
        return None
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(path[:-1], method=request.method)
    except HTTPException:  # no such page either (or it redirects elsewhere)
        return None
    query = request_query()  # the path escaped, the query as sent (round 49)
    return app_path(path[:-1]) + (f"?{query}" if query else "")


def handle_unexpected(error: BaseException) -> Response | tuple[str, int]:
    original = getattr(error, "original_exception", None) or error
    current_app.logger.error(
        "unhandled error in request %s %s (request id %s)",
        request.method,
        hide_secrets(request.path),
        g.get("request_id", "-"),
        exc_info=original,
    )
    if wants_problem_json():
        return problems.internal_error()
    return _page(
        500,
        "Something went wrong",
        "The error has been logged. Please try again; if it persists, quote request id "
        f"{g.get('request_id', '-')} to the licensing office.",
    )


def handle_contended(error: db.Contended) -> Response:
    """A request that lost to another's changes and could not be run again (round 59,
    `db.retrying`): a 503 with Retry-After, saying nothing was stored and when to try
    again, rather than a 500 (a deadlock's traceback logged as our fault)."""
    return _try_again(error.retry_after, "Busy: please try again", problems.contended_detail)


def _try_again(wait: int, heading: str, detail: Callable[..., str]) -> Response:
    """A 503 with Retry-After `wait`: problem+json under /api/, else a page headed
    `heading` with a link to the page or the form again. `detail(wait, in_words=...)`
    says why and when to try again."""
    if wants_problem_json():
        response = problems.problem(503, problems.title_for(503), detail(wait))
    else:
        again = request_full_path() if request.method in ("GET", "HEAD") else None
        body, _status = _page(
            503,
            heading,
            detail(wait, in_words=duration_words(wait)),
            form_url=None if again else _form_page(),
            again_url=again,
        )
        response = current_app.response_class(body, status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(wait)
    keep_retry_after(wait)  # over a rate limit's own, written after this handler
    return response


def handle_unavailable(error: DBAPIError) -> Response:
    """The database could not be reached, or the connection was lost under the request
    (round 61, outage61: PostgreSQL restarted, a failover): a 503 with Retry-After
    rather than a 500 and a traceback, logged on one line. The page is drawn for a
    caller not signed in: who is signed in is read from the database, which is away
    (the 500 page tried, failed again, and the client got the server's bare 500)."""
    current_app.logger.warning(
        "database unavailable in request %s %s (request id %s): %s",
        request.method,
        hide_secrets(request.path),
        g.get("request_id", "-"),
        str(error.orig).strip().splitlines()[0]
        if str(error.orig).strip()
        else type(error).__name__,
    )
    if "_login_user" not in g:  # Flask-Login's cache of the signed-in user
        g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
    g.setdefault("principal", None)
    detail: Callable[..., str] = problems.unavailable_detail
    if db.done_before(error):  # round 61 (outage61b): part of it was saved, or sent out
        detail = partial(
            problems.unavailable_part_way_detail,
            keyed=problems.IDEMPOTENCY_KEY in request.headers,
        )
    return _try_again(db.UNAVAILABLE_RETRY_AFTER_SECONDS, "Unavailable: please try again", detail)


def handle_database_error(error: DBAPIError) -> Response | tuple[str, int]:
    """A deadlock or serialization failure outside a view's run (`db.retrying` turns
    those inside it into `Contended`), or SQLite's write lock held past the busy
    timeout: the 503 of `handle_contended`. The database away: `handle_unavailable`.
    Any other database error is unexpected."""
    if db.is_unavailable(error):
        return handle_unavailable(error)
    if db.is_contention(error):
        current_app.logger.warning(
            "lost to another transaction in request %s %s (request id %s): %s",
            request.method,
            hide_secrets(request.path),
            g.get("request_id", "-"),
            error.orig,
        )
        return handle_contended(db.Contended(str(error.orig)))
    return handle_unexpected(error)


def register(app: Flask) -> None:
    app.register_error_handler(errors.DomainError, handle_domain_error)
    app.register_error_handler(db.Contended, handle_contended)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
