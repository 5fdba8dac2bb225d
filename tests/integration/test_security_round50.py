"""Round 50: a security review of what round 49 added (docs/security.md, "Round 50:
what round 49 added, reviewed"). Each fix's test fails without it; the others pin
what was checked and found right, so the next review knows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts.models import User
from tests.support.factories import DEFAULT_PASSWORD

SignIn = Callable[..., FlaskClient]

# The app mounted under a path, beside another application on the same host.
MOUNTED = "http://localhost/licensing"


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
        client = app.test_client()
        answer = client.post(
            "/sign-in",
            query_string={"next": elsewhere},
            data={"email": vendor.email, "password": DEFAULT_PASSWORD},
            base_url=MOUNTED,
        )
        assert answer.status_code == 302, elsewhere
        assert answer.headers["Location"] == "/licensing/portal/", (elsewhere, answer.headers)
    for here in ("/licensing/portal/invoices?page=2", "/licensing"):
        client = app.test_client()
        answer = client.post(
            "/sign-in",
            query_string={"next": here},
            data={"email": vendor.email, "password": DEFAULT_PASSWORD},
            base_url=MOUNTED,
        )
        assert answer.headers["Location"] == here
    # Unmounted, a path of the host is the app's own, as before.
    client = app.test_client()
    answer = client.post(
        "/sign-in?next=/portal/invoices",
        data={"email": vendor.email, "password": DEFAULT_PASSWORD},
    )
    assert answer.headers["Location"] == "/portal/invoices"
