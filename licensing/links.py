"""Links to pages: the one port through which services point at them.

A service that mails a link, or that returns one for a page to draw (what stays
open with a closed organization links the console's lists narrowed to it,
`accounts.register_open_business`), asks `links()` for it by what the link is
(`links().agreement(agreement_id)`), never by a web endpoint's name, so the
use cases do not know how the web edge spells its routes. The app installs
`PublicUrlLinks` (absolute URLs under `PUBLIC_URL`, built from the app's URL map
without a request, so batch commands mail the same links as pages do); a test
or another edge may install any other `Links` with `install(app, links)`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol
from urllib.parse import quote, quote_from_bytes, unquote, urlsplit

from flask import Flask, current_app, has_request_context, request

EXTENSION = "licensing.links"

# What a path segment may hold unescaped (RFC 3986: unreserved, sub-delims, ":" and
# "@"), and "/" between segments; everything else, "%" included, is escaped.
_PATH_SAFE = "/!$&'()*+,;=:@~"


def request_path() -> str:
    """The request's path, under the script root the app is mounted at, as a link
    writes it: escaped once (round 48). Flask hands `request.path` over unescaped, so a
    link built from it held a raw space (`/console/jobs/invoices overdue?page=2`);
    a name with `%` in it would have read as an escape. `url_for` gives the same
    string for a route's own path; the pager (`web.paging`) and the API's `Link`
    header build their links on this."""
    return app_path(request.path)


def app_path(path: str) -> str:
    """`path`, a path of this app as Flask gives one (unescaped: `request.path`, or a
    part of it), under the script root and escaped once, as `request_path()`."""
    return quote(request.script_root + path, safe=_PATH_SAFE)


def request_full_path() -> str:
    """`request_path()` and the query the request came with (round 49), for a link
    back to this very address (a confirmation's form action, the page to return to
    after signing in or setting up two-step sign-in, an error page's *Open it
    again*); Flask's `request.full_path` is the path unescaped, without the script
    root. The query is kept as sent, its escapes as they are, only what may not
    stand in a URL escaped (a space, a quote, a letter outside ASCII, a `%` that
    begins no escape); no `?` without one."""
    query = request_query()
    return request_path() + (f"?{query}" if query else "")


def request_query() -> str:
    """The request's query as sent, with only what may not stand in a URL escaped."""
    query = quote_from_bytes(request.query_string, safe=_QUERY_SAFE)
    return _BARE_PERCENT.sub("%25", query)


def safe_next(target: str | None) -> str | None:
    """`target` when it is a page of this app to send the browser to (`next=` after
    signing in, a confirmation's way back, round 61), else None. Only a path on
    this site (no scheme, no host, not `//host`), which is also a header's value:
    a control character (a line break would add a header, and Werkzeug refuses it
    with a 500) or a backslash (`/\\host` is `//host` to a browser) is never a page
    of ours."""
    if not target or _NOT_IN_A_PATH.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    # Round 50: a page of this app, not of another mounted on the same host. Under a
    # mount point (`/licensing`), `/other/` or `/licensing/../other/` (a browser
    # resolves the dots, escaped or not) led to another application after signing in.
    if _DOT_SEGMENT.search("/" + unquote(parts.path) + "/"):
        return None
    root = app_path("") if has_request_context() else ""
    if root and parts.path != root and not parts.path.startswith(root + "/"):
        return None
    return target


# C0 controls, DEL, C1 controls and the backslash.
_NOT_IN_A_PATH = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
# A `.` or `..` segment of the path once its escapes are read (round 51): a proxy in
# front reads `/licensing/..%2fother/` as `/licensing/../other/`, that is `/other/`
# (nginx decodes before it resolves dots), and `%5c` as a backslash, which some take
# for a slash; `..;` is `..` to servers that drop a segment's parameters. Round 50
# read each segment's escapes alone, so an escaped slash inside one hid its dots.
_DOT_SEGMENT = re.compile(r"[/\\]\.{1,2}(;[^/\\]*)?(?=[/\\])")


# A query's characters (RFC 3986: a path's, "/" and "?"), and "%" of its escapes.
_QUERY_SAFE = _PATH_SAFE + "?%"
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class Links(Protocol):
    """Absolute URLs, one method per page a use case may point at: in an email, or
    in what it returns for a page to show (the console's lists of one organization's
    records)."""

    # accounts
    def email_verification(self, token: str) -> str: ...
    def invitation(self, token: str) -> str: ...
    def password_reset(self, token: str) -> str: ...
    def password_reset_request(self) -> str: ...
    def vendor_dashboard(self) -> str: ...
    def vendor_organization(self) -> str: ...
    def api_tokens(self, replacing: int | None = None) -> str: ...
    def two_step_sign_in(self) -> str: ...
    def sign_up(self) -> str: ...

    # the public pages
    def price_estimator(self, filled_in: Mapping[str, str] | None = None) -> str: ...

    # applications and agreements
    def application(self, application_id: int) -> str: ...
    def application_review(self, application_id: int) -> str: ...
    def agreement(self, agreement_id: int) -> str: ...

    # invoices: the signed links open them without an account (billing/links.py)
    def invoice(self, invoice_id: int, token: str) -> str: ...
    def invoice_pdf(self, invoice_id: int, token: str) -> str: ...
    def credit_note_pdf(self, invoice_id: int, token: str, credit_note_id: int) -> str: ...
    def invoice_review(self, invoice_id: int) -> str: ...
    def payment_review(self, payment_id: int) -> str: ...
    def vendor_invoice(self, invoice_id: int) -> str: ...
    def vendor_invoices(self, *, overdue: bool = False) -> str: ...
    def statement(self, start: date, end: date, currency: str) -> str: ...

    # educational permission requests
    def permission_confirmation(self, token: str) -> str: ...
    def permission_status(self, token: str) -> str: ...
    def permission_request_review(self, request_id: int) -> str: ...
    def permission_request(self, request_id: int) -> str: ...

    # royalty reports
    def royalty_period(self, agreement_id: int, period_start: date) -> str: ...
    def royalty_report_review(self, report_id: int) -> str: ...

    # the console's lists of one organization's records (what stays open with it)
    def organization_invoices(self, organization_id: int, *, to_pay: bool = False) -> str: ...
    def organization_royalty_periods(self, organization_id: int, *, state: str = "") -> str: ...
    def organization_agreements(
        self, organization_id: int, *, states: Sequence[str] = ()
    ) -> str: ...
    def organization_applications(self, organization_id: int) -> str: ...


class PublicUrlLinks:
    """The web edge's pages under `PUBLIC_URL`, read at each call (tests and
    `make run PORT=...` learn the public address only after the app is built)."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def _url(self, endpoint: str, **values: Any) -> str:
        public = urlsplit(self._app.config["LICENSING"].public_url)
        adapter = self._app.url_map.bind(
            public.netloc, script_name=public.path or "/", url_scheme=public.scheme or "http"
        )
        return adapter.build(endpoint, values, force_external=True)

    def email_verification(self, token: str) -> str:
        return self._url("accounts.verify_email", token=token)

    def invitation(self, token: str) -> str:
        return self._url("accounts.accept_invitation", token=token)

    def password_reset(self, token: str) -> str:
        return self._url("accounts.reset_password", token=token)

    def password_reset_request(self) -> str:
        return self._url("accounts.reset")

    def vendor_dashboard(self) -> str:
        return self._url("portal.dashboard")

    def vendor_organization(self) -> str:
        # The signed-in member's own organization: its members and their roles.
        return self._url("accounts.organization")

    def sign_up(self) -> str:
        return self._url("accounts.sign_up")

    def two_step_sign_in(self) -> str:
        return self._url("two_step.status")

    def api_tokens(self, replacing: int | None = None) -> str:
        if replacing is None:
            return self._url("accounts.tokens")
        # The reminder's link: the page offers a token like the expiring one.
        return self._url("accounts.tokens", replace=replacing) + "#create"

    def price_estimator(self, filled_in: Mapping[str, str] | None = None) -> str:
        # `filled_in`: the estimator's query for a use (a denied request's, round 58).
        return self._url("estimator.estimate", **(filled_in or {}))

    def application(self, application_id: int) -> str:
        return self._url("agreements.application", application_id=application_id)

    def application_review(self, application_id: int) -> str:
        return self._url("agreements_console.application", application_id=application_id)

    def agreement(self, agreement_id: int) -> str:
        return self._url("agreements.agreement", agreement_id=agreement_id)

    def invoice(self, invoice_id: int, token: str) -> str:
        return self._url("billing_documents.linked_invoice", invoice_id=invoice_id, token=token)

    def invoice_pdf(self, invoice_id: int, token: str) -> str:
        return self._url("billing_documents.linked_invoice_pdf", invoice_id=invoice_id, token=token)

    def credit_note_pdf(self, invoice_id: int, token: str, credit_note_id: int) -> str:
        return self._url(
            "billing_documents.linked_credit_note_pdf",
            invoice_id=invoice_id,
            token=token,
            credit_note_id=credit_note_id,
        )

    def invoice_review(self, invoice_id: int) -> str:
        return self._url("billing_console.invoice_detail", invoice_id=invoice_id)

    def payment_review(self, payment_id: int) -> str:
        return self._url("billing_console.payment_detail", payment_id=payment_id)

    def vendor_invoice(self, invoice_id: int) -> str:
        # The vendor's own page, signed in: for a user, not the billing contact's link.
        return self._url("billing.invoice_detail", invoice_id=invoice_id)

    def vendor_invoices(self, *, overdue: bool = False) -> str:
        # The organization's invoices in the portal, signed in, each overdue one
        # marked; `overdue` lists only those (round 50: the reminder's link).
        if overdue:
            return self._url("billing.invoices", overdue="1")
        return self._url("billing.invoices")

    def statement(self, start: date, end: date, currency: str) -> str:
        # The organization's own statement in the portal, signed in (it names no
        # organization: each user sees their own).
        return self._url(
            "billing.statement",
            **{"from": start.isoformat(), "to": end.isoformat()},
            currency=currency,
        )

    def permission_confirmation(self, token: str) -> str:
        return self._url("permissions_public.confirm", token=token)

    def permission_status(self, token: str) -> str:
        return self._url("permissions_public.status", token=token)

    def permission_request_review(self, request_id: int) -> str:
        return self._url("permissions_console.detail", request_id=request_id)

    def permission_request(self, request_id: int) -> str:
        # The vendor portal's page of a request made from an application, signed in.
        return self._url("permissions_portal.portal_detail", request_id=request_id)

    def royalty_period(self, agreement_id: int, period_start: date) -> str:
        return self._url(
            "royalties.portal_period",
            agreement_id=agreement_id,
            period_start=period_start.isoformat(),
        )

    def royalty_report_review(self, report_id: int) -> str:
        return self._url("royalties.console_report", report_id=report_id)

    def organization_invoices(self, organization_id: int, *, to_pay: bool = False) -> str:
        only_to_pay = {"to_pay": 1} if to_pay else {}
        return self._url("billing_console.invoices", organization=organization_id, **only_to_pay)

    def organization_royalty_periods(self, organization_id: int, *, state: str = "") -> str:
        in_state = {"state": state} if state else {}
        return self._url("royalties.console_queue", organization=organization_id, **in_state)

    def organization_agreements(self, organization_id: int, *, states: Sequence[str] = ()) -> str:
        in_states = {"state": list(states)} if states else {}
        return self._url(
            "agreements_console.agreements_list", organization=organization_id, **in_states
        )

    def organization_applications(self, organization_id: int) -> str:
        # Given one organization, the queue lists its undecided applications.
        return self._url("agreements_console.queue", organization=organization_id)


def install(app: Flask, links: Links) -> None:
    """Make `links` the app's port for email links."""
    app.extensions[EXTENSION] = links


def init_app(app: Flask) -> None:
    install(app, PublicUrlLinks(app))


def links() -> Links:
    """The current app's links port."""
    port: Links = current_app.extensions[EXTENSION]
    return port
