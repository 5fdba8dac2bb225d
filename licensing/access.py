"""Who may call each route, declared in one place and enforced before every request.

Every view function carries an `Access` declaration, set with one of the
decorators below (put it under `@bp.route`, above the other decorators):

    @bp.route("/quotes", methods=["POST"])
    @access.public
    def create_quote(): ...

    @bp.route("/applications/<int:application_id>")
    @access.allow(vendor=True, staff=("licensing",))
    def application_detail(application_id): ...

    @bp.route("/organization/invitations", methods=["POST"])
    @access.allow(vendor=access.ADMINISTRATOR)
    def invite(): ...

`enforce()` runs before every request and refuses a request whose caller does not
fit the declaration; a route without one is refused outright (and a test walks
the URL map so that none ships). Whether a vendor may see a *particular* record
is decided by the queries, which scope every vendor read to the vendor's own
organization and answer "not found" for anyone else's.

The caller is a `Principal`, produced by the loaders that the accounts package
registers (session cookie on pages, bearer token on the API).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from licensing import limits, log_context
from licensing.config import API_PREFIX
from licensing.errors import AuthenticationRequired, PermissionDenied
from licensing.links import links

# What a caller without credentials is told: a person signs in; a program
# calling the API sends a token, which its user creates on the API tokens page.
SIGN_IN = "Sign in to continue."
API_CREDENTIALS = (
    "Send your API token as `Authorization: Bearer <token>`; "
    "create one on the API tokens page ({tokens_page}) after signing in."
)

STAFF_ROLES = ("licensing", "billing", "admin")

# What a read-only API token is told when it asks to change something, given the
# API tokens page's address under PUBLIC_URL: the program's log is read by an
# operator, who follows a link there rather than guessing the host.
READ_ONLY_REFUSAL = (
    "This API token is read-only (scope `read`): it may only read (GET and HEAD, and "
    "the few POSTs that store nothing). To make changes, create a token with scope "
    "`write` on the API tokens page ({tokens_page}) after signing in."
)

# A vendor user's role in their organization. Administrators manage it: invite and
# remove colleagues, change their roles, withdraw invitations, and keep its address
# and billing contact (where invoices go); members do the work (apply, accept
# agreements, report usage, pay); billing members (an accounts-payable clerk) read
# the invoices and what they are for, and pay them, but take no licensing step.
# Every organization keeps an active administrator. docs/accounts.md has the table.
ADMINISTRATOR = "administrator"
MEMBER = "member"
BILLING = "billing"
ORGANIZATION_ROLES = (ADMINISTRATOR, MEMBER, BILLING)
# The roles that do the organization's licensing work: apply, accept or renew an
# agreement, report usage, ask for educational permission. A billing member pays
# for that work and reads it, but does not commit the organization to it.
LICENSING_WORK = frozenset({ADMINISTRATOR, MEMBER})
# How pages and emails name a role after an article ("a billing member").
ROLE_TITLES = {ADMINISTRATOR: "administrator", MEMBER: "member", BILLING: "billing member"}

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: int
    email: str
    organization_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    via_token: bool = False
    # The API token's id (round 50: a step taken with it names it to the owner).
    token_id: int | None = None
    # A `read` API token: only safe methods and routes that store nothing.
    read_only: bool = False
    # A vendor user's role in their organization (`ORGANIZATION_ROLES`); None for staff.
    organization_role: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.organization_id is None and bool(self.roles)

    @property
    def is_vendor(self) -> bool:
        return self.organization_id is not None

    def has_role(self, *roles: str) -> bool:
        """Admins hold every staff role."""
        return self.is_staff and ("admin" in self.roles or bool(self.roles & set(roles)))

    @property
    def is_staff_admin(self) -> bool:
        """Staff with the admin role: who alone read members' sign-in security values
        (a lockout's end, a password's or passkey's steps), round 59 and 60."""
        return self.is_staff and "admin" in self.roles

    @property
    def is_administrator(self) -> bool:
        """A vendor user who manages their organization."""
        return self.is_vendor and self.organization_role == ADMINISTRATOR

    @property
    def admission(self) -> tuple[bool, frozenset[str], str | None]:
        """All that `Access.admits` reads of a principal: whether it belongs to an
        organization, its roles, and its role in the organization. Principals alike
        in these are admitted to the same routes, so what depends only on that (the
        navigation) is kept per admission rather than made for every request."""
        return (self.organization_id is not None, self.roles, self.organization_role)


@dataclass(frozen=True)
class Access:
    """A route's declaration: who may call it."""

    public: bool = False
    vendor: bool = False
    # With `vendor`: only the organization's users with one of these roles (an
    # administrator's routes, the licensing work's); None admits every user of the
    # organization, billing members too.
    vendor_roles: frozenset[str] | None = None
    staff: frozenset[str] = frozenset()
    # Any signed-in user, vendor or staff (their own account pages, tokens).
    any_user: bool = False
    # A POST (or other unsafe method) that stores and changes nothing, such as a
    # price estimate or a report's preview: a read-only API token may call it
    # (`stores_nothing`).
    stores_nothing: bool = False

    def admits(self, principal: Principal | None) -> bool:
        # Reads only `principal.admission` (is_vendor, is_staff, has_role derive
        # from it): the navigation is cached by it.
        if self.public:
            return True
        if principal is None:
            return False
        if self.any_user:
            return True
        if self.vendor and principal.is_vendor:
            return self.vendor_roles is None or principal.organization_role in self.vendor_roles
        return bool(self.staff) and principal.has_role(*self.staff)

    def refuses_for_organization_role(self, principal: Principal) -> bool:
        """Whether `principal` is a vendor user refused only for their role in the
        organization (a member calling an administrator's route, a billing member
        a licensing step)."""
        return (
            self.vendor
            and principal.is_vendor
            and self.vendor_roles is not None
            and principal.organization_role not in self.vendor_roles
        )

    def describe(self) -> str:
        """Who may call the route, in words (the API document's descriptions and
        403s): "vendor users (their own organization's records), or staff with the
        licensing role (and admins)"."""
        if self.public:
            return "anyone"
        parts = []
        if self.any_user:
            parts.append("any signed-in user, vendor or staff")
        if self.vendor and self.vendor_roles:
            roles = " or ".join(
                f"{ROLE_TITLES[role]}s" for role in ORGANIZATION_ROLES if role in self.vendor_roles
            )
            parts.append(f"vendor users who are their organization's {roles}")
        elif self.vendor:
            parts.append("vendor users (their own organization's records)")
        if self.staff == {"admin"}:
            parts.append("admins")
        elif self.staff:
            roles = " or ".join(sorted(self.staff - {"admin"}))
            parts.append(f"staff with the {roles} role (and admins)")
        return ", or ".join(parts)


ACCESS_ATTRIBUTE = "__access__"


def _declare(declaration: Access) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        setattr(view, ACCESS_ATTRIBUTE, declaration)
        return view

    return decorator


def allow(
    *,
    vendor: bool | str | Iterable[str] = False,
    staff: Iterable[str] = (),
    any_user: bool = False,
) -> Callable[[F], F]:
    """`vendor=True` admits every user of the record's organization; a role of
    `ORGANIZATION_ROLES` (`vendor=ADMINISTRATOR`), or several (`vendor=LICENSING_WORK`),
    only its users with one of them."""
    roles = frozenset(staff)
    unknown = roles - set(STAFF_ROLES)
    if unknown:
        raise ValueError(f"unknown staff roles {sorted(unknown)}")
    vendor_roles = _organization_roles(vendor)
    if not (vendor or roles or any_user):
        raise ValueError("allow() needs vendor, staff roles or any_user")
    return _declare(
        Access(vendor=bool(vendor), vendor_roles=vendor_roles, staff=roles, any_user=any_user)
    )


def _organization_roles(vendor: bool | str | Iterable[str]) -> frozenset[str] | None:
    if isinstance(vendor, bool):
        return None
    found = frozenset({vendor} if isinstance(vendor, str) else vendor)
    if not found:
        raise ValueError(
            "vendor=() names no organization role, so it would admit no vendor user: "
            "name at least one of ORGANIZATION_ROLES, or omit vendor to admit none"
        )
    unknown = found - set(ORGANIZATION_ROLES)
    if unknown:
        raise ValueError(f"unknown organization roles {sorted(unknown)}")
    return found


def public(view: F) -> F:
    return _declare(Access(public=True))(view)


def vendor(view: F) -> F:
    return _declare(Access(vendor=True))(view)


def administrator(view: F) -> F:
    """An organization's administrators only (its members are refused, told whom to ask)."""
    return allow(vendor=ADMINISTRATOR)(view)


def licensing_work(view: F) -> F:
    """An organization's administrators and members: a step of its licensing work
    (apply, accept, report usage). Its billing members are refused, told whom to ask."""
    return allow(vendor=LICENSING_WORK)(view)


def any_user(view: F) -> F:
    return _declare(Access(any_user=True))(view)


def staff(*roles: str) -> Callable[[F], F]:
    return allow(staff=roles)


def stores_nothing(view: F) -> F:
    """Mark a route whose unsafe method (a POST) only reads: it computes an answer
    and stores nothing, so a read-only API token may call it. Put it directly above
    the route's access declaration (it adds to that declaration)."""
    declaration = getattr(view, ACCESS_ATTRIBUTE, None)
    if not isinstance(declaration, Access):
        raise ValueError("stores_nothing goes above the route's access declaration")
    setattr(view, ACCESS_ATTRIBUTE, replace(declaration, stores_nothing=True))
    return view


# Methods that only read (RFC 9110 "safe"): a read-only API token may use these
# on any route its user may call.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def read_only_token_refusal(method: str, declaration: Access, principal: Principal | None) -> str:
    """Why a read-only token may not make this request, or "" when it may."""
    if principal is None or not principal.read_only:
        return ""
    if method in SAFE_METHODS or declaration.stores_nothing:
        return ""
    return READ_ONLY_REFUSAL.format(tokens_page=links().api_tokens())


# Endpoints registered by libraries (static files, the OpenAPI document) whose
# view functions we do not write: declared here by endpoint name.
_ENDPOINT_DECLARATIONS: dict[str, Access] = {}


def declare_endpoint(endpoint: str, declaration: Access) -> None:
    _ENDPOINT_DECLARATIONS[endpoint] = declaration


def declaration_for(app: Flask, endpoint: str) -> Access | None:
    if endpoint in _ENDPOINT_DECLARATIONS:
        return _ENDPOINT_DECLARATIONS[endpoint]
    view = app.view_functions.get(endpoint)
    found = getattr(view, ACCESS_ATTRIBUTE, None)
    return found if isinstance(found, Access) else None


PrincipalLoader = Callable[[], "Principal | None"]
RoleRefusal = Callable[[Principal, Access], str]


def register_role_refusal(app: Flask, refusal: RoleRefusal) -> None:
    """What a vendor user refused for their role in the organization is told, given
    the route's declaration (the accounts package names the organization's
    administrators to ask)."""
    app.extensions["licensing.role_refusal"] = refusal


def register_principal_loader(app: Flask, loader: PrincipalLoader) -> None:
    """Add a way to recognise the caller; the first loader that answers wins."""
    app.extensions.setdefault("licensing.principal_loaders", []).append(loader)


def current_principal() -> Principal | None:
    if "principal" not in g:
        g.principal = None
        for loader in current_app.extensions.get("licensing.principal_loaders", []):
            found = loader()
            if found is not None:
                g.principal = found
                log_context.set_user(found.user_id)  # the request's later lines name it
                break
    principal: Principal | None = g.principal
    return principal


def caller_is_staff() -> bool:
    """Whether the request's caller is office staff: answers leave out what only the
    office reads (a reviewer's address, a service level) for anyone else."""
    principal = current_principal()
    return principal is not None and principal.is_staff


def require_principal() -> Principal:
    principal = current_principal()
    if principal is None:
        raise _authentication_required()
    return principal


def api_credentials() -> str:
    """What an API caller without a usable token is told, with the full address
    of the API tokens page (under PUBLIC_URL, as the emails give it)."""
    return API_CREDENTIALS.format(tokens_page=links().api_tokens())


def _authentication_required() -> AuthenticationRequired:
    on_api = request.path.startswith(API_PREFIX + "/")
    return AuthenticationRequired(api_credentials() if on_api else SIGN_IN)


class MissingDeclaration(PermissionDenied):
    """A route without an access declaration: refused, never served."""


def enforce() -> None:
    """`before_request`: refuse callers the route's declaration does not admit."""
    # Every request runs this: one proxy lookup each of the request and the app.
    req = request._get_current_object()  # type: ignore[attr-defined]
    endpoint = req.endpoint
    if endpoint is None:  # 404 and 405 are answered by their handlers
        return
    if (
        req.method == "OPTIONS"
        and req.path.startswith(API_PREFIX + "/")
        and getattr(req.url_rule, "provide_automatic_options", False)
    ):
        return  # the methods allowed, answered without calling a view (`api.negotiation`)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    declaration = declaration_for(app, endpoint)
    if declaration is None:
        app.logger.error("route %s has no access declaration", endpoint)
        raise MissingDeclaration("This route is not available.")
    if declaration.public:
        # A token sent to a public route is a caller too (a read-only one is
        # refused writes); without one, nobody need be looked up.
        if req.path.startswith(API_PREFIX + "/") and "HTTP_AUTHORIZATION" in req.environ:
            _refuse_read_only_writes(req.method, declaration, current_principal())
        return
    principal = current_principal()
    if principal is None:
        raise _authentication_required()
    if not declaration.admits(principal):
        refusal = app.extensions.get("licensing.role_refusal")
        if refusal is not None and declaration.refuses_for_organization_role(principal):
            raise PermissionDenied(refusal(principal, declaration))
        raise PermissionDenied(
            account_refusal(declaration, principal, on_api=req.path.startswith(API_PREFIX + "/"))
        )
    _refuse_read_only_writes(req.method, declaration, principal)


def account_refusal(declaration: Access, principal: Principal, *, on_api: bool) -> str:
    """What a caller of the wrong kind is told (a vendor on a console route, staff
    without its role, staff on a vendor's route): who the route is for, then what
    they can do instead. A vendor refused for their role in the organization is
    answered by the role refusal, which names whom to ask."""
    said = f"This {'endpoint' if on_api else 'page'} is for {declaration.describe()}."
    if principal.is_vendor:
        return f"{said} Your organization's own records are in the vendor portal."
    if principal.is_staff and not declaration.staff:
        return (
            f"{said} A staff account belongs to no organization: the console shows "
            "every organization's records."
        )
    held = ", ".join(sorted(principal.roles)) or "none"
    return (
        f"{said} Your staff roles: {held}. An admin gives a role on the console's "
        "Users page, if your work needs it."
    )


def _refuse_read_only_writes(method: str, declaration: Access, principal: Principal | None) -> None:
    """A read-only API token's scope, enforced here for every route at once."""
    refusal = read_only_token_refusal(method, declaration, principal)
    if refusal:
        raise PermissionDenied(refusal)


def refuse_read_only_token_write() -> None:
    """A read-only token's write is refused for its scope before any check of what
    the request carries (from `refuse_before_text`); the API's body checks
    already run after `enforce`. Only a request with a token that is known is
    answered here: on a public route an unknown or expired one keeps the answer
    it had (the refusal of its text)."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    if (
        req.method in SAFE_METHODS
        or req.endpoint is None
        or not req.path.startswith(API_PREFIX + "/")
        or "HTTP_AUTHORIZATION" not in req.environ
    ):
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    declaration = declaration_for(app, req.endpoint)
    if declaration is None:
        return
    try:
        principal = current_principal()
    except AuthenticationRequired:
        g.pop("principal", None)  # not recognised: looked up again where it was
        return
    _refuse_read_only_writes(req.method, declaration, principal)


def refuse_before_text() -> None:
    """Who before what, for text that cannot be stored: a route that needs a caller
    refuses one it does not admit (401 or the sign-in page for nobody, 403 for the
    wrong one, a read-only token's write) before `limits.check_request_text`
    refuses what the request carries, as every other check of a request comes
    after `enforce`. A public route has no "who": only a read-only token's write is
    told its scope there, and an unknown token still hears about its text."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    if req.endpoint is None:  # 404 and 405: the text is refused as before
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    declaration = declaration_for(app, req.endpoint)
    if declaration is None or declaration.public:
        refuse_read_only_token_write()
        return
    enforce()


def init_app(app: Flask) -> None:
    app.before_request(enforce)
    limits.register_refusal_first(app, refuse_before_text)
