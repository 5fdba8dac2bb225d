"""Round 49: a security review of what rounds 39-48 added (docs/security.md,
"Round 49: what rounds 39-48 added, reviewed"). Each fix's test fails without it;
the others pin what was checked and found right, so the next review knows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts.models import User
from tests.support import factories
from tests.support.passkey_records import passkey_id, passkey_names
from tests.support.passkeys import add_passkey, authenticator

SignIn = Callable[..., FlaskClient]


def test_a_passkey_id_with_a_fraction_names_no_passkey_and_removes_none(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    """An id is a whole number: marshmallow's int() cut `"passkey_id": 2.9` to 2 and
    the admin's typo removed passkey 2, ending every session of the account. Each
    `record_id` field of the API read so (an organization, an invoice, an assignee)."""
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, authenticator(), "Phone").status_code == 302
    assert add_passkey(owner, authenticator(), "Laptop").status_code == 302
    phone = passkey_id(vendor, "Phone")
    client, token = app.test_client(), factories.bearer(admin)
    url = f"/api/v1/users/{vendor.id}/remove-passkeys"
    for typed in (f"{phone}.9", f"{phone}.5e0", f"{phone}1e-1"):
        answer = client.post(
            url,
            data=f'{{"reason": "Phone lost", "passkey_id": {typed}}}',
            headers={**token, "Content-Type": "application/json"},
        )
        assert answer.status_code == 422, (typed, answer.get_json())
        assert answer.get_json()["errors"] == {"passkey_id": ["Not a valid integer."]}
    assert passkey_names(vendor) == ["Phone", "Laptop"]
    # The same number written with a point is that number.
    answer = client.post(
        url,
        data=f'{{"reason": "Phone lost", "passkey_id": {phone}.0}}',
        headers={**token, "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.get_json()
    assert passkey_names(vendor) == ["Laptop"]


# Six passkey sign-ins of two requests each: more than the default 10 a minute.
@pytest.mark.parametrize("config_changes", [{"auth_rate_limit": "100 per minute"}])
def test_a_passkey_sign_in_leads_only_to_a_page_of_this_site(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    """Checked, round 49: the passkey's sign-in takes `next` as the password's does
    (`safe_next`): another host, `//host`, `/\\host`, a line break or a tab lead to
    the person's home; a path here leads there."""
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device).status_code == 302
    for hostile in ("//evil.example/", "/\\evil.example", "https://evil.example/", "/%0d%0aX:1"):
        client = app.test_client()
        options = client.post("/sign-in/passkey/options").get_json()
        answer = client.post(
            f"/sign-in/passkey?next={hostile}", data={"credential": device.sign_in(options)}
        )
        assert answer.status_code == 302, hostile
        assert answer.headers["Location"] == "/portal/", (hostile, answer.headers["Location"])
    client = app.test_client()
    options = client.post("/sign-in/passkey/options").get_json()
    answer = client.post(
        "/sign-in/passkey?next=/portal/invoices", data={"credential": device.sign_in(options)}
    )
    assert answer.headers["Location"] == "/portal/invoices"


def test_the_routes_rounds_39_to_48_added_refuse_whoever_the_roles_table_does_not_name(
    app: Flask,
    vendor: User,
    other_vendor: User,
    billing_staff: User,
    signed_in: SignIn,
) -> None:
    """Checked, round 49: the jobs (API and console) are the admins'; the office's
    passkey removal the admins'; a remainder's accept billing staff's; a vendor
    administrator reads and removes only their own organization's members' passkeys
    (another organization's person is a 404, nothing removed)."""
    assert add_passkey(signed_in(app.test_client(), other_vendor), authenticator()).status_code == (
        302
    )
    client = app.test_client()
    for caller, paths in (
        (vendor, ("/api/v1/jobs", "/api/v1/jobs/outbox%20send", "/api/v1/jobs/outbox%20send/runs")),
        (billing_staff, ("/api/v1/jobs", "/api/v1/jobs/outbox%20send/runs")),
        (vendor, (f"/api/v1/users/{other_vendor.id}/passkeys",)),
    ):
        for path in paths:
            assert client.get(path, headers=factories.bearer(caller)).status_code == 403, path
    steps = (
        (vendor, f"/api/v1/users/{other_vendor.id}/remove-passkeys", {"reason": "x"}),
        (billing_staff, f"/api/v1/users/{other_vendor.id}/remove-passkeys", {"reason": "x"}),
        (vendor, "/api/v1/payments/1/accept-remainder", {"reason": "x"}),
    )
    for caller, path, body in steps:
        answer = client.post(path, json=body, headers=factories.bearer(caller))
        assert answer.status_code == 403, path
    pages = signed_in(app.test_client(), vendor)
    assert pages.get("/console/jobs").status_code == 403
    assert pages.get("/console/jobs/outbox%20send").status_code == 403
    theirs = f"/organization/members/{other_vendor.id}/passkeys"
    assert pages.get(theirs).status_code == 404
    removed = pages.post(f"{theirs}/remove", data={"passkey": "all", "reason": "Lost"})
    assert removed.status_code == 404
    billing = signed_in(app.test_client(), billing_staff)
    assert billing.get("/console/jobs").status_code == 403
    assert passkey_names(other_vendor) == ["Work laptop"]
