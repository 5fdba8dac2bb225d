"""Round 50: a security review of what round 49 added (docs/security.md, "Round 50:
what round 49 added, reviewed"). Each fix's test fails without it; the others pin
what was checked and found right, so the next review knows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.serving import SETTINGS
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.mounted import returned_to

SignIn = Callable[..., FlaskClient]


@pytest.mark.parametrize("config_changes", [{"auth_rate_limit": "100 per minute"}])
def test_signing_in_under_a_mount_point_returns_only_to_a_page_under_it(
    app: Flask, vendor: User
) -> None:
    """Round 49 made the return address carry the mount point; `safe_next` took any
    path of the host, so `next=/other/` (or `/licensing/../other/`, which the browser
    resolves) led a person who signed in to another application on the same host."""
    for elsewhere in (
        "/other/",
        "/licensingX/portal/",
        "/licensing/../other/",
        "/licensing/%2e%2e/other/",
        "/licensing/portal/./../../other",
    ):
        assert returned_to(app, vendor, elsewhere) == "/licensing/portal/", elsewhere
    for here in ("/licensing/portal/invoices?page=2", "/licensing"):
        assert returned_to(app, vendor, here) == here
    # Unmounted, a path of the host is the app's own, as before.
    client = app.test_client()
    answer = client.post(
        "/sign-in?next=/portal/invoices",
        data={"email": vendor.email, "password": DEFAULT_PASSWORD},
    )
    assert answer.headers["Location"] == "/portal/invoices"


def test_a_trailing_slash_or_a_line_break_leads_nowhere_off_this_site(app: Flask) -> None:
    """Checked, round 50: the 308 of a path with a trailing slash (round 49 builds it
    with `app_path` and the query as sent) goes only to a page of this app: a path that
    reads as another host (`//host/`, `/\\host/`, escaped or not) is no page here (404),
    and a line break in the query is escaped, never a header of its own."""
    client = app.test_client()

    def sent(path: str, query: str = "") -> tuple[int, str]:
        # As a server hands the path over: the test client reads `//host` as a host.
        answer = client.get("/", environ_overrides={"PATH_INFO": path, "QUERY_STRING": query})
        return answer.status_code, answer.headers.get("Location", "")

    for hostile in (
        "//evil.example/",
        "/\\evil.example/",
        "/%2F%2Fevil.example/",
        "///evil.example/x/",
    ):
        assert sent(hostile)[0] == 404, hostile
    # A page of this app asked for with a doubled slash is sent to the app's own path.
    assert sent("//portal/invoices/") == (308, "/portal/invoices")
    assert sent("/portal/invoices/", "a=\r\nSet-Cookie:x=1") == (
        308,
        "/portal/invoices?a=%0D%0ASet-Cookie:x=1",
    )
    assert sent("/portal/invoices/", "a=%0d%0a") == (308, "/portal/invoices?a=%0d%0a")


def test_no_client_sets_the_mount_point_the_return_addresses_are_built_on() -> None:
    """Checked, round 50: round 49's return addresses start with the script root. gunicorn
    takes a `SCRIPT_NAME` request header as the script root from the addresses it trusts
    for forwarding (`forwarder_headers`); the service's settings trust no address and no
    such header, so a client's `SCRIPT_NAME: //evil.example` is dropped with the other
    headers holding an underscore (and ProxyFix is given no `x_prefix`)."""
    assert SETTINGS["forwarded_allow_ips"] == ""
    assert SETTINGS["forwarder_headers"] == ""


def test_the_lists_and_steps_round_49_added_refuse_whoever_the_roles_table_does_not_name(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    """Checked, round 50: the card payments to review are billing readers' (a vendor
    403); the members' passkeys API is the member's own organization's administrators'
    (a member, a billing member and a read-only token 403; another organization, or a
    person of another organization named under one's own, 404 saying nothing of it);
    the jobs' filters the admins'."""
    session = db.session()
    member = factories.make_vendor(session, vendor.organization)
    billing = factories.make_vendor(session, vendor.organization, role="billing")
    _token, read_only = services.create_api_token(
        vendor.id, "reads", actor=Actor.SYSTEM, scope="read"
    )
    pages = signed_in(app.test_client(), vendor)
    assert pages.get("/console/payments/to-review").status_code == 403
    assert pages.get("/console/jobs?last_run=failed").status_code == 403
    client = app.test_client()
    own = f"/api/v1/organizations/{vendor.organization_id}/members"
    remove = f"{own}/{member.id}/remove-passkeys"
    for headers in (
        {"Authorization": f"Bearer {read_only}"},
        factories.bearer(member),
        factories.bearer(billing),
    ):
        answer = client.post(remove, json={"reason": "Lost"}, headers=headers)
        assert answer.status_code == 403, answer.get_json()
    administrator = factories.bearer(vendor)
    theirs = f"/api/v1/organizations/{other_vendor.organization_id}/members/{other_vendor.id}"
    for path in (
        f"{theirs}/passkeys",
        f"{own}/{other_vendor.id}/passkeys",
        f"{own}/{admin.id}/passkeys",
    ):
        answer = client.get(path, headers=administrator)
        assert answer.status_code == 404, path
        assert other_vendor.organization.legal_name not in answer.get_data(as_text=True)
    answer = client.post(
        f"{theirs}/remove-passkeys", json={"reason": "Lost"}, headers=administrator
    )
    assert answer.status_code == 404
    assert client.get("/api/v1/jobs?state=late", headers=administrator).status_code == 403
