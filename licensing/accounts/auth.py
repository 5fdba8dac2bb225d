"""Recognising the caller: the session cookie on pages, a bearer token on the API.

The two never mix. Pages read only the Flask-Login session (and are protected
by CSRF tokens); `/api/` reads only `Authorization: Bearer <token>` and never
the cookie, which is why the API needs no CSRF token: a cross-site request
cannot make a browser send the bearer token. A token that is present but
unknown, revoked or expired is a 401 problem document, on every API route (an
expired one says when it expired). What a read-only token may do is checked
with every route's access declaration (`access.enforce`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import flask_login
from flask import (
    Flask,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask import Response as FlaskResponse
from flask_limiter import RequestLimit
from werkzeug.wrappers import Response

from licensing import access, db
from licensing.access import Principal
from licensing.accounts import passwords, queries
from licensing.accounts.models import User, parse_roles
from licensing.accounts.services import authenticate_token, principal_for
from licensing.config import API_PREFIX, current_config
from licensing.errors import AuthenticationRequired
from licensing.extensions import configured_limit, limiter, login_manager
from licensing.limits import MAX_RECORD_ID
from licensing.links import links, request_full_path

F = TypeVar("F", bound=Callable[..., Any])


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX + "/")


@dataclass(frozen=True)
class OrganizationStanding:
    """A vendor's organization as pages show it beside their own work: its name and
    standing (`services.standing_block_reason` reads these)."""

    id: int
    legal_name: str
    standing: str


@dataclass(frozen=True)
class SessionUser:
    """The user a page's session cookie names, as a request needs it: the
    principal it acts as, and its session id for Flask-Login. Made from one
    Core query (`queries.session_user`) on every signed-in page, rather than an
    ORM `User`, which nothing on a page uses beyond these."""

    principal: Principal
    session_id: str
    organization: OrganizationStanding | None = None
    # Two-step sign-in is required of this account and not yet set up: every
    # page but its set-up leads there (`_require_two_step`).
    two_step_due: bool = False

    # Flask-Login's user protocol: only active users are ever loaded.
    is_authenticated: ClassVar[bool] = True
    is_active: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    def get_id(self) -> str:
        return self.session_id


def load_session_user(session_id: str) -> SessionUser | None:
    """Flask-Login's user loader, on every request: the session stores
    `User.get_id()`, "<id>:<fingerprint of the password hash>:<session
    generation>". A password change or a sign-out moves the user's values on,
    so every session signed in before ends (a copied cookie too); a
    deactivated account's sessions end at once. Read afresh from the database
    on every request (never cached), so that a sign-out, a deactivation or a
    change of roles takes effect on the next request in every process."""
    user_id, fingerprint, generation = [*session_id.split(":"), "", ""][:3]
    if not user_id.isdigit() or not generation.isdigit() or int(user_id) > MAX_RECORD_ID:
        return None
    row = queries.session_user(db.session(), int(user_id))
    if row is None:
        return None
    if passwords.session_fingerprint(row.password_hash) != fingerprint:
        return None
    if str(row.session_generation) != generation:
        return None
    shown = session.get(PASSKEY_SHOWN)
    if type(shown) is int and not queries.holds_passkey(db.session(), row.id, shown):
        # Round 45: signed in with (or after adding) a passkey since removed, by its
        # owner elsewhere or by the office: the session rested on it, and ends.
        return None
    if shown is True and _passkey_removed_since_sign_in(row.id):
        # Round 47: a passkey session signed in before round 45 kept `True`, not
        # which passkey; it ends once any of the person's passkeys is removed.
        return None
    principal = Principal(
        user_id=row.id,
        email=row.email,
        organization_id=row.organization_id,
        roles=parse_roles(row.staff_roles),
        organization_role=row.organization_role,
    )
    organization = None
    if row.organization_id is not None:
        organization = OrganizationStanding(row.organization_id, row.legal_name, row.standing)
    required = (
        bool(row.two_step_required)
        if row.organization_id is not None
        else current_config().two_step_required_for_staff
    )
    due = required and row.two_step_enabled_at is None
    return SessionUser(principal, session_id, organization, two_step_due=due)


def _passkey_removed_since_sign_in(user_id: int) -> bool:
    """Whether a passkey of the person was removed after this session signed in (or
    last had the password typed in it: `PASSWORD_CONFIRMED_AT`, set at every sign-in).
    Asked only of passkey sessions from before round 45 (`PASSKEY_SHOWN` `True`),
    which do not say which passkey they rest on, so any removal ends them: the one
    removed may be theirs. One indexed lookup, on those sessions only."""
    confirmed = session.get(PASSWORD_CONFIRMED_AT)
    since = datetime.fromtimestamp(confirmed, tz=UTC) if type(confirmed) is int else None
    return queries.passkey_removed_since(db.session(), user_id, since)


def principal_from_session() -> Principal | None:
    """Pages only: the user signed in with the session cookie."""
    if not has_request_context() or is_api_request():
        return None
    user = flask_login.current_user
    if isinstance(user, SessionUser):
        return user.principal
    if isinstance(user, User):  # signed in by this very request (`login_user`)
        return principal_for(user)
    return None


def own_standing(principal: Principal) -> OrganizationStanding:
    """The vendor's organization's name and standing: on a page, as read with the
    session user at the start of this request (no further query; a suspension
    shows from the next request on, as everything else read then); otherwise
    read now. NotFound for staff, who have no organization."""
    user = flask_login.current_user if has_request_context() else None
    if isinstance(user, SessionUser) and user.principal == principal and user.organization:
        return user.organization
    organization = queries.own_organization(db.session(), principal)
    return OrganizationStanding(organization.id, organization.legal_name, organization.standing)


def principal_from_bearer_token() -> Principal | None:
    """The API only: `Authorization: Bearer <token>`."""
    if not has_request_context() or not is_api_request():
        return None
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationRequired(access.api_credentials())
    principal = authenticate_token(token.strip(), replacement_page=links().api_tokens)
    if principal is None:
        raise AuthenticationRequired("The API token is not valid, or has been revoked.")
    return principal


def _check_bearer_token_first() -> None:
    """Recognise a bearer token before any view runs, on public API routes too:
    a bad token is refused consistently, and the caller is known (and the
    token's use noted) before a service opens its transaction."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # one lookup
    # HTTP_AUTHORIZATION: the environ's key for what `req.headers` calls Authorization.
    if req.path.startswith(API_PREFIX + "/") and "HTTP_AUTHORIZATION" in req.environ:
        access.current_principal()


# What an account that must set up two-step sign-in may open meanwhile.
_OPEN_BEFORE_TWO_STEP = frozenset({"static", "accounts.sign_out"})
# The page an account was opening when it was taken to set up two-step sign-in,
# offered once the set-up is done (`two_step_pages`): a member signing in from an
# invoice email's link, or back from paying by card, otherwise lost it.
AFTER_TWO_STEP = "two_step_then"
# This session has shown a passkey with user verification (signed in with one, or
# added one): two factors, so a requirement of two-step sign-in is met for it
# (round 44). Its value is the passkey's id (round 45): removing that passkey ends
# the session (`load_session_user`); `PASSKEY_REMOVED_HERE` once its owner removed
# it from here (round 47: until then `True`, which is also what a session signed in
# before round 45 holds; `True` now means only such an old session, which ends once
# any of the person's passkeys is removed after its sign-in). Set only after
# `start_session` (which clears the session) or on a session already signed in, so
# it never outlives the sign-in it belongs to.
PASSKEY_SHOWN = "passkey_shown"
PASSKEY_REMOVED_HERE = "removed here"
# When the password was last typed in this session (each sign-in sets it, a passkey's
# too): the page's recent-password rule (`views.password_recently_confirmed`), and
# the sign-in an old passkey session is measured from.
PASSWORD_CONFIRMED_AT = "password_confirmed_at"  # noqa: S105 - a session key, not a secret


def _require_two_step() -> Response | None:
    """Staff (when the office requires it) and members of an organization that
    requires it are taken to set up two-step sign-in after signing in, and can
    open no page that needs an account until it is on. Public pages (an invoice
    email's link, a permission request's) stay open: anyone may open them without
    an account, so a session with one step gains nothing there."""
    if "_user_id" not in session or is_api_request():
        return None
    user = flask_login.current_user
    if not isinstance(user, SessionUser) or not user.two_step_due:
        return None
    if session.get(PASSKEY_SHOWN):
        return None
    endpoint = request.endpoint or ""
    if endpoint in _OPEN_BEFORE_TWO_STEP or endpoint.startswith(("two_step.", "passkeys.")):
        return None
    declaration = access.declaration_for(current_app, endpoint)
    if declaration is not None and declaration.public:
        return None
    why = (
        "the licensing office requires it of its staff."
        if user.principal.is_staff
        else "your organization requires it of its members."
    )
    if _asks_for_json():
        return _two_step_due_as_json(why)
    if request.method not in ("GET", "HEAD"):
        return _form_held(why)
    if endpoint:
        session[AFTER_TWO_STEP] = request_full_path()  # escaped, mounted (round 49)
    flash("Set up two-step sign-in first: " + why, "info")
    return redirect(url_for("two_step.status"), 303)


# What a page's script reads in a refusal for want of two-step sign-in
# (`static/js/card-payment.js`): a JSON answer it understands, not the set-up's page.
TWO_STEP_DUE = "two_step_required"


def _asks_for_json() -> bool:
    """A page's script (the card payment and its status poll) sends or asks for JSON."""
    best = request.accept_mimetypes.best_match(("text/html", "application/json"))
    return request.is_json or best == "application/json"


def _two_step_due_as_json(why: str) -> Response:
    """403 in JSON: a redirect to the set-up's HTML would reach the script as a page
    it cannot read, and a payment under way would seem to hang."""
    message = (
        f"Set up two-step sign-in first: {why} Nothing you sent was carried out; "
        "set it up on your profile (Two-step sign-in), then try again."
    )
    body = {
        "error": message,
        "outcome": TWO_STEP_DUE,
        "title": "Set up two-step sign-in",
        "message": message,
        "two_step_url": url_for("two_step.status"),
    }
    return Response(current_app.json.dumps(body), status=403, mimetype="application/json")


def _form_held(why: str) -> Response:
    """A form posted while the set-up is due (the requirement came on while it was
    being filled in): nothing is done, and the page says so and posts the same
    fields again once the set-up is done, rather than a redirect that drops them.
    The page the form was on is what the set-up's *Done* offers to continue to."""
    came_from = urlsplit(request.referrer or "")
    if came_from.netloc == request.host and came_from.path:
        session[AFTER_TWO_STEP] = came_from.path + (
            f"?{came_from.query}" if came_from.query else ""
        )
    posted = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name != "csrf_token"  # the page carries a fresh one
    ]
    fields = [(name, value) for name, value in posted if not _is_password_field(name)]
    files = [upload.filename for upload in request.files.values() if upload.filename]
    page = render_template(
        "accounts/two_step_held.html",
        why=why,
        action=request_full_path(),
        fields=fields,
        files=files,
        retype_password=len(fields) < len(posted),
    )
    return Response(page, status=403, mimetype="text/html")


def _is_password_field(name: str) -> bool:
    """A password (the profile's, a token's or the set-up's `password`,
    `current_password`, `new_password` and its repeat, `confirm`) is never written
    into a page: until round 30 the held page kept it in a hidden field, readable in
    the page's source and in anything that saves the page."""
    return "password" in name.lower() or name == "confirm"


def _forget_caller() -> None:
    """Each request recognises its caller afresh. (In production every request
    has its own `g`; the test client shares one app context across requests.)

    The first before-request hook, where nothing has asked for the caller yet:
    as a receiver of `request_started`, just before, it made blinker's dispatch
    run on every request (about 2.5 µs, 2% of a 1-use quote's instructions)."""
    # `g`'s own dictionary, as `g.pop` pops it, without that Python method's two calls.
    context = g._get_current_object().__dict__  # one lookup
    context.pop("principal", None)
    context.pop("_login_user", None)


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_session_user)
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_caller)
    access.register_principal_loader(app, principal_from_session)
    access.register_principal_loader(app, principal_from_bearer_token)
    app.before_request(_check_bearer_token_first)
    app.before_request(_require_two_step)


# --- rate limits ---------------------------------------------------------------------

# A sentence of its own (not a bare limit): the API's 429 adds when to try again
# from Retry-After, and pages say it in words.
_AUTH_LIMIT_MESSAGE = "Too many attempts from your address."


_auth_limit, _auth_limit_off = configured_limit("auth_rate_limit")


def auth_rate_limit(
    on_breach: Callable[[RequestLimit], FlaskResponse | None] | None = None,
) -> Callable[[F], F]:
    """Per client address, one budget (`AUTH_RATE_LIMIT`) shared by every POST
    that tries a password or sends a link: sign-in, sign-up, reset and
    verification requests. Accounts are also locked in the database after
    repeated failures (see `services.sign_in`). `on_breach` may answer the 429
    with a page of the view's own (Flask's response class; a long form, kept:
    the permission request)."""
    # flask-limiter types its decorator as taking a view or a blueprint; on a view
    # it returns the view, wrapped.
    return limiter.shared_limit(  # type: ignore[return-value]
        _auth_limit,
        scope="auth",
        methods=["POST"],
        exempt_when=_auth_limit_off,
        error_message=_AUTH_LIMIT_MESSAGE,
        on_breach=on_breach,
    )
