"""Remembered browsers in tests: a browser (a test client) that ticked "Don't ask
for a code on this browser" when it last signed in with a code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.accounts.views import BROWSER_COOKIE
from licensing.db import utcnow
from tests.support.two_step import code_for, password_step, turn_on

CHROME_ON_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def with_two_step(user: Any) -> None:
    """Two-step sign-in on for `user`, set up a few minutes ago (so the code used
    then is not the one now). In the app's context."""
    with time_machine.travel(utcnow() - timedelta(minutes=3), tick=False):
        turn_on(user)


def remembered(client: FlaskClient, user: Any) -> FlaskClient:
    """`client` signs in as `user` with a code, ticking the box, and signs out; it
    keeps the cookie of a remembered browser."""
    client.environ_base["HTTP_USER_AGENT"] = CHROME_ON_LINUX
    first = password_step(client, user)
    assert first.headers["Location"].endswith("/sign-in/code")
    done = client.post("/sign-in/code", data={"code": code_for(user.id), "remember": "y"})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    assert client.get_cookie(BROWSER_COOKIE) is not None
    client.post("/sign-out")
    return client


def asks_for_the_code(client: FlaskClient, user: Any) -> bool:
    """Whether the right password leads to the code page (not straight in)."""
    answer = password_step(client, user)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    return bool(answer.headers["Location"].endswith("/sign-in/code"))
