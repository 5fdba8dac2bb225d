"""Links back to the address a request came by (round 49): a confirmation's form
action, the page to return to after signing in or setting up two-step sign-in, and
an error page's *Open it again* and *Open the form again*. Built before from Flask's
`request.full_path` and `request.path`, unescaped and without the script root the app
is mounted at, so a path with a space, a `%`, a quote or a letter outside ASCII (or a
mounted app) led elsewhere; now from `links.request_full_path()` and its siblings,
escaped once under the mount point, as round 48's pager (`test_pager_links.py`)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf.csrf import CSRFError

from licensing import links
from licensing.accounts.models import User
from licensing.web import confirm
from licensing.web.errors import handle_http_exception
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.two_step import secret_shown

SignIn = Callable[..., FlaskClient]

# The app mounted under a path with a space, as a link writes it and as the server
# hands it over.
MOUNT = "/licensing%20office"
MOUNTED = "http://localhost/licensing office"
# A path segment that needs escaping: a space, a `%` (not an escape), a double quote, a
# single quote (kept: RFC 3986 allows it) and a letter outside ASCII, as a browser
# sends them; and a query with the same, whose escapes are kept as sent.
SEGMENT = "a%20b%25c%22d'e%E2%9C%93"
QUERY = "q=a+b%22c&page=2"


def _attribute(page: str, pattern: str) -> str:
    found = re.search(pattern, page)
    assert found is not None, page[:3000]
    return html.unescape(found.group(1))


def test_a_confirmation_posts_back_to_the_escaped_address_under_the_mount_point(
    app: Flask,
) -> None:
    path = f"/console/jobs/{SEGMENT}"
    with app.test_request_context(
        f"{path}?{QUERY}", base_url=MOUNTED, method="POST", data={"reason": "x"}
    ):
        page, status = confirm.ask(
            confirm.Confirmation(
                title="Void it?",
                consequences=["It goes."],
                button="Void",
                cancel_url="/",
                control="void",
            )
        )
    assert status == 200
    action = _attribute(page, r'<form[^>]*method="post"[^>]*action="([^"]*)"')
    assert action == f"{MOUNT}{path}?{QUERY}"
    assert action.isascii()
    assert " " not in action


def test_signing_in_returns_to_the_escaped_address_under_the_mount_point(
    app: Flask, admin: User
) -> None:
    client = app.test_client()
    path = f"/console/jobs/{SEGMENT}"
    sent = client.get(f"{path}?{QUERY}", base_url=MOUNTED)
    assert sent.status_code == 302
    asked = urlsplit(sent.headers["Location"]).query
    [back] = parse_qs(asked)["next"]
    assert back == f"{MOUNT}{path}?{QUERY}"
    signed = client.post(
        f"/sign-in?{asked}", data={"email": admin.email, "password": DEFAULT_PASSWORD}
    )
    assert signed.status_code == 302
    assert signed.headers["Location"] == back


@pytest.mark.parametrize("config_changes", [{"two_step_required_for_staff": True}])
def test_setting_up_two_step_returns_to_the_escaped_address_under_the_mount_point(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), admin)
    path = f"/console/jobs/{SEGMENT}"
    sent = client.get(f"{path}?{QUERY}", base_url=MOUNTED)
    assert sent.status_code == 303
    with client.session_transaction() as session:
        assert session["two_step_then"] == f"{MOUNT}{path}?{QUERY}"
    # A form posted meanwhile is held, its page posting to the same address again.
    held = client.post(f"/account/tokens?{QUERY}", base_url=MOUNTED, data={"name": "x"})
    assert held.status_code == 403
    actions = re.findall(r'<form method="post" action="([^"]*)"', held.get_data(as_text=True))
    assert f"{MOUNT}/account/tokens?{QUERY}" in [html.unescape(a) for a in actions]
    # Once set up, its page continues to the address it was opening.
    page = client.get("/account/two-step/").get_data(as_text=True)
    code = pyotp.TOTP(secret_shown(page)).now()
    done = client.post("/account/two-step/confirm", data={"code": code})
    assert done.status_code == 200
    then = _attribute(
        done.get_data(as_text=True),
        r'<a href="([^"]*)">Done: continue to the page you were opening</a>',
    )
    assert then == f"{MOUNT}{path}?{QUERY}"


def test_an_error_pages_links_back_are_escaped_under_the_mount_point(app: Flask) -> None:
    token = SEGMENT
    with app.test_request_context(
        f"/permissions/status/{token}/answer?{QUERY}", base_url=MOUNTED, method="POST"
    ):
        body, status = handle_http_exception(CSRFError())
    assert status == 400
    form = _attribute(body, r'<a href="([^"]*)">Open the form again</a>')
    assert form == f"{MOUNT}/permissions/status/{token}"


@pytest.mark.parametrize("config_changes", [{"document_rate_limit": "3 per minute"}])
def test_a_document_over_the_budget_is_opened_again_by_its_escaped_address(
    app: Flask,
) -> None:
    client = app.test_client()  # an emailed invoice's link, its token mistyped
    path = f"/invoice-links/1/{SEGMENT}/invoice.pdf"
    for _ in range(3):
        assert client.get(f"{path}?{QUERY}", base_url=MOUNTED).status_code == 404
    refused = client.get(f"{path}?{QUERY}", base_url=MOUNTED)
    assert refused.status_code == 429
    again = _attribute(refused.get_data(as_text=True), r'<a href="([^"]*)">Open it again</a>')
    assert again == f"{MOUNT}{path}?{QUERY}"


def test_a_page_asked_for_with_a_trailing_slash_is_sent_to_its_escaped_address(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), admin)
    path = f"/console/jobs/{SEGMENT}"
    sent = client.get(f"{path}/?{QUERY}", base_url=MOUNTED)
    assert sent.status_code == 308
    assert sent.headers["Location"] == f"{MOUNT}{path}?{QUERY}"


def test_a_query_sent_unescaped_is_escaped_once_and_its_escapes_kept(app: Flask) -> None:
    sent = "q=100%&r=\xe2\x9c\x93 'x\"&s=a%2Fb"  # as the server hands a raw query over
    with app.test_request_context("/console/", environ_overrides={"QUERY_STRING": sent}):
        assert links.request_full_path() == "/console/?q=100%25&r=%E2%9C%93%20'x%22&s=a%2Fb"
    with app.test_request_context("/console/"):
        assert links.request_full_path() == "/console/"  # no `?` without a query
