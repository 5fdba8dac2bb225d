"""The site's navigation, in one table, filtered by who is looking.

A link appears only when its page exists and the viewer's principal is admitted
by the page's access declaration, so the menu never offers a page that would
refuse the viewer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, request, session, url_for
from werkzeug.exceptions import HTTPException

from licensing import access, static_files
from licensing.web import scope
from licensing.web.memo import per_app


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str


PUBLIC = "Public"
VENDOR = "Vendor portal"
STAFF = "Staff console"

MENU: dict[str, tuple[NavItem, ...]] = {
    PUBLIC: (
        NavItem("public.home", "Home"),
        NavItem("estimator.estimate", "Price estimator"),
        NavItem("permissions_public.new_request", "Educational permission"),
        NavItem("api-docs.openapi_swagger_ui", "API"),
    ),
    VENDOR: (
        NavItem("portal.dashboard", "Dashboard"),
        NavItem("agreements.applications", "Applications"),
        NavItem("agreements.agreements", "Agreements"),
        NavItem("billing.invoices", "Invoices"),
        # The statement the office emails monthly: the licensee's accountant opens it
        # for any range (it was linked only from the invoices' page).
        NavItem("billing.statement", "Statement of account"),
        NavItem("royalties.portal_reports", "Royalty reports"),
        NavItem("permissions_portal.requests", "Permissions"),
        NavItem("accounts.organization", "Organization"),
    ),
    STAFF: (
        # The console home: staff land there after signing in and came back only by URL.
        NavItem("console.home", "Work waiting"),
        NavItem("agreements_console.queue", "Applications"),
        NavItem("permissions_console.queue", "Permissions"),
        NavItem("agreements_console.agreements_list", "Agreements"),
        NavItem("billing_console.invoices", "Invoices"),
        # Round 56 (refundlist56): every refund in one place, a clerk's "did we send it?
        # did it bounce?" answered without finding the invoice first.
        # Round 57 (creditlist57): every credit note in one list, which the Finance
        # page's *Credited* links.
        NavItem("billing_console.credit_notes", "Credit notes"),
        NavItem("billing_console.refunds", "Refunds"),
        # Round 57 (payments57): every payment in one list, which the Finance page's
        # *Collected* and *Reversed* link.
        NavItem("billing_console.payments", "Payments"),
        NavItem("royalties.console_queue", "Royalty reports"),
        NavItem("finance_console.dashboard", "Finance"),
        NavItem("accounts_console.organizations", "Organizations"),
        NavItem("ratecards_console.index", "Rate cards"),
        NavItem("exports_console.exports", "Exports"),
        NavItem("audit_console.audit_log", "Audit log"),
        NavItem("mail_console.outbox", "Outbox"),
        # Round 44: the periodic jobs, late or failing, as /readyz and `jobs status` say.
        NavItem("jobs_console.jobs", "Jobs"),
        NavItem("accounts_console.users", "Users"),
    ),
}


@dataclass(frozen=True)
class Link:
    url: str
    label: str
    current: bool


def visible_menu() -> dict[str, list[Link]]:
    """The menu of the sections and pages the viewer may open, the current page marked."""
    current = request.endpoint
    return {
        section: [Link(url, label, endpoint == current) for endpoint, url, label in entries]
        for section, entries in _menu_for(access.current_principal()).items()
    }


# Entries of a menu section: (endpoint, URL, label).
MenuEntries = tuple[tuple[str, str, str], ...]
# Distinct menus kept per app: one per admission (vendor, or a set of staff roles,
# or nobody) and script root, a handful in practice; the bound only stops growth.
_CACHED_MENUS = 64


def _menu_for(principal: access.Principal | None) -> dict[str, MenuEntries]:
    """The menu for viewers admitted like `principal`, made once per process: it
    depends only on the routes' declarations, which are fixed once the app is
    made, on the principal's admission (`Principal.admission`: whether a vendor,
    which roles), read afresh from the database on every request, and on the
    script root the URLs start with. A change of roles shows in the next page.
    (With a `url_defaults` function, which may read the request, it is made each
    time.)"""
    if current_app.url_default_functions:
        return _make_menu(principal)
    admission = principal.admission if principal is not None else None
    key = (request.script_root, admission)
    return per_app("licensing.navigation", key, lambda: _make_menu(principal), most=_CACHED_MENUS)


def _make_menu(principal: access.Principal | None) -> dict[str, MenuEntries]:
    menu: dict[str, MenuEntries] = {}
    for section, items in MENU.items():
        if section == VENDOR and not (principal and principal.is_vendor):
            continue
        if section == STAFF and not (principal and principal.is_staff):
            continue
        entries = tuple(
            (item.endpoint, url_for(item.endpoint), item.label)
            for item in items
            if _admitted(item.endpoint, principal)
        )
        if entries:
            menu[section] = entries
    return menu


def _admitted(endpoint: str, principal: access.Principal | None) -> bool:
    declaration = access.declaration_for(current_app, endpoint)
    return declaration is not None and declaration.admits(principal)


def register(app: Flask) -> None:
    @app.context_processor
    def _navigation() -> dict[str, object]:
        return {
            "navigation": visible_menu,
            "principal": access.current_principal,
            "link_to": link_to,
            "may_open": may_open,
            "may_follow": may_follow,
            "asset_url": asset_url,
            "apply_url": apply_url,
            "sign_in_to_apply_url": sign_in_to_apply_url,
            "carried_back": carried_back,
            "just_signed_in": just_signed_in,
        }


# Set as a session starts (`accounts.views.start_session`): the page the user lands
# on next says where they are (round 61).
SIGNED_IN_LANDING = "signed_in_landing"


def just_signed_in() -> bool:
    """Whether this page is the first since signing in (asked once, by base.html):
    its main heading then takes the focus, so a screen reader reads where the user
    landed (the organization's dashboard, the office's work) after the title."""
    if SIGNED_IN_LANDING not in session:
        return False
    return bool(session.pop(SIGNED_IN_LANDING))


def carried_back(organization_id: int) -> dict[str, int]:
    """A record page's link back to its list: the narrowing it was opened with. Its
    forms post with it too, and the action's redirect to the record (or its
    confirmation's way back) keeps it, so the link back still lists that
    organization's records after a payment is recorded or a decision taken."""
    return scope.carried_back(request.args, organization_id)


def record_url(endpoint: str, organization_id: int, **values: Any) -> str:
    """A record's console page as an action on it returns there (or a confirmation's
    way back leads there): with the narrowing it was opened with (`carried_back`)."""
    return url_for(endpoint, **{**values, **carried_back(organization_id)})


def link_to(endpoint: str, **values: Any) -> str | None:
    """The URL of a page, or None when the page does not exist in this build."""
    if endpoint not in current_app.view_functions:
        return None
    if values or endpoint.startswith("."):
        return url_for(endpoint, **values)
    return _fixed_url(endpoint)


# Fixed URLs kept per app: the layout's dozen, and the bound only stops growth.
_CACHED_URLS = 256


def _fixed_url(endpoint: str, **values: Any) -> str:
    """The URL of a route with no arguments (or a static file), built once per
    process and script root: every page's layout links the same dozen, and
    werkzeug builds each in about 10 µs. Such a URL depends on nothing else
    unless a `url_defaults` function adds to it (none is registered; should one
    be, every URL is built each time)."""
    if not has_request_context() or current_app.url_default_functions:
        return url_for(endpoint, **values)
    key = (request.script_root, endpoint, tuple(sorted(values.items())))
    return per_app(
        "licensing.fixed_urls", key, lambda: url_for(endpoint, **values), most=_CACHED_URLS
    )


def asset_url(filename: str) -> str:
    """The URL of a file under static/ (the templates name them literally), with its
    content's version (`?v=3f2a9c0d51be`), which a browser keeps a year without
    asking again (`licensing.static_files`, round 64). A file not found is linked
    plainly (and answered 404, as before)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one lookup
    folder = app.static_folder
    watch = not app.config["LICENSING"].is_production
    version = folder and static_files.content_version(folder, filename, watch=watch)
    if not version:
        return _fixed_url("static", filename=filename)
    return _fixed_url("static", filename=filename, **{static_files.VERSION_ARGUMENT: version})


# A record id no page has, stood in for the real ones while a URL pattern is built.
_PLACEHOLDER = 987654321


def url_pattern(endpoint: str, parameter: str) -> Callable[[int], str] | None:
    """The URL of `endpoint` for a record id (its `parameter`), as a function built
    once per page: werkzeug builds a URL in about 10 µs, and a list page needs one or
    two for each of its rows. None when the page does not exist in this build."""
    url = link_to(endpoint, **{parameter: _PLACEHOLDER})
    if url is None:
        return None
    before, found, after = url.partition(str(_PLACEHOLDER))
    if not found or str(_PLACEHOLDER) in after:

        def build(record_id: int) -> str:
            values: dict[str, Any] = {parameter: record_id}
            return url_for(endpoint, **values)

        return build
    return lambda record_id: f"{before}{int(record_id)}{after}"


def apply_url(carry: str = "") -> str | None:
    """Where "Apply for a license" leads: a vendor to a new application (carrying
    `carry`, an estimate's query string, so the application starts with its
    uses), anyone signed out to sign-up (which leads on to that application once
    the new account signs in), staff nowhere."""
    principal = access.current_principal()
    if principal is None:
        sign_up = link_to("accounts.sign_up")
        if sign_up is None or not carry or link_to("agreements.new_application") is None:
            return sign_up
        return url_for("accounts.sign_up", next=_new_application(carry))
    if not principal.is_vendor or not may_open("agreements.new_application"):
        return None  # staff, and a billing member, apply for nothing
    return _new_application(carry)


def _new_application(carry: str) -> str:
    url = url_for("agreements.new_application")
    return f"{url}?{carry}" if carry else url


def sign_in_to_apply_url(carry: str) -> str | None:
    """For a visitor with an account: sign in, then the new application carrying
    the estimate's uses (the sign-in page follows a local `next`)."""
    if access.current_principal() is not None or link_to("accounts.sign_in") is None:
        return None
    if link_to("agreements.new_application") is None:
        return None
    return url_for("accounts.sign_in", next=_new_application(carry))


def may_follow(url: str) -> bool:
    """Whether the viewer may open the page of `url`, a link of this app's under its
    public address (`links()`, which a service gives a page to show): a link of a
    page they may not open is better left out than followed to a refusal."""
    prefix = urlsplit(current_app.config["LICENSING"].public_url).path.rstrip("/")
    path = urlsplit(url).path
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(path or "/")
    except HTTPException:  # not a page of this app's
        return False
    return may_open(endpoint)


def may_open(endpoint: str) -> bool:
    """Whether the page exists and the viewer may open it (its access declaration)."""
    declaration = access.declaration_for(current_app, endpoint)
    return (
        endpoint in current_app.view_functions
        and declaration is not None
        and declaration.admits(access.current_principal())
    )
