"""Round 49: asking for the options to add a passkey (`/account/passkeys/options`,
signed in, the password given recently) had no rate limit of its own, and each call
stores a challenge row. It shares the budget of the other sign-in ceremonies
(`AUTH_RATE_LIMIT`): the call after the budget is a 429 in the JSON the page's
script reads, and stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import PasskeyChallenge, User


def _challenges() -> int:
    return db.session().scalar(select(func.count()).select_from(PasskeyChallenge)) or 0


@pytest.mark.parametrize("config_changes", [{"auth_rate_limit": "4 per minute"}])
def test_the_options_to_add_a_passkey_are_limited_as_the_other_ceremonies(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient], config_changes: dict[str, Any]
) -> None:
    client = signed_in(app.test_client(), vendor)  # the password: one of the four
    answers = [client.post("/account/passkeys/options").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    stored = _challenges()
    refused = client.post("/account/passkeys/options")
    assert refused.status_code == 429
    assert refused.mimetype == "application/json"
    assert "Too many attempts" in refused.get_json()["error"]
    assert int(refused.headers["Retry-After"]) > 0
    assert _challenges() == stored
    # One budget: signing in with a passkey from the same address is refused too.
    assert app.test_client().post("/sign-in/passkey/options").status_code == 429
