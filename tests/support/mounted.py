"""The app mounted under a path (`/licensing`), beside another application on the same
host: where signing in there returns to (the security reviews of rounds 50 and 51)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.support.factories import DEFAULT_PASSWORD

MOUNTED = "http://localhost/licensing"


def returned_to(app: Flask, user: Any, after: str) -> str:
    """Where signing in to the mounted app with `next=after` leads."""
    answer = app.test_client().post(
        "/sign-in",
        query_string={"next": after},
        data={"email": user.email, "password": DEFAULT_PASSWORD},
        base_url=MOUNTED,
    )
    assert answer.status_code == 302, after
    return answer.headers["Location"]
