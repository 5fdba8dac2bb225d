"""Round 67: an integration test's `app` is the process's kept app, lent again to
each test whose configuration is the same and put back as `create_app` left it
(`tests/support/kept_app.py`). The tests here run in order on one worker (one
xdist group): each leaves state behind on its app, in every place an app carries
state between requests, and the next one fails if any of it reached it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import event

from licensing import db
from licensing.app import create_app
from licensing.web.memo import per_app
from tests.conftest import make_config
from tests.support import kept_app

pytestmark = pytest.mark.xdist_group("app_lent_again")

# The app each test of the module had, by database: a test after another on the
# same worker is lent the same app, or a new one where the module says so.
_APPS: dict[str, list[Flask]] = {}
_NOTED: list[str] = []


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"auth_rate_limit": "1 per minute"}


def _sign_in(client: FlaskClient) -> int:
    data = {"email": "nobody@example.test", "password": "not-the-password-at-all"}
    return client.post("/sign-in", data=data).status_code


def _noted(*_: Any) -> None:
    _NOTED.append("statement")


def _lent(app: Flask, backend: str) -> Flask | None:
    """The app the test before this one had, if it ran in this process."""
    seen = _APPS.setdefault(backend, [])
    before = seen[-1] if seen else None
    seen.append(app)
    return before


def test_a_test_leaves_state_on_its_app_everywhere_an_app_keeps_it(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    _lent(app, backend)
    # Flask-Limiter's counts: the budget of one sign-in a minute spent.
    assert _sign_in(client) == 422
    assert _sign_in(client) == 429
    # The settings, a setting that is a list changed in place among them.
    licensing = app.config["LICENSING"]
    app.config["LICENSING"] = dataclasses.replace(licensing, public_url="https://elsewhere.test")
    app.config["MAX_CONTENT_LENGTH"] = 10
    app.config["SECRET_KEY_FALLBACKS"].append("a-fallback-left-behind")
    app.config["LEFT_BEHIND"] = True
    # A value kept on the app for its next requests (as the pages' menus are).
    assert per_app("tests.left_behind", "key", lambda: "the first test's", most=4) == (
        "the first test's"
    )
    # A listener on the app's engine; a name on `g`.
    event.listen(db.database().engine, "before_cursor_execute", _noted)
    g.left_behind = True


def test_the_next_test_is_lent_the_same_app_as_create_app_left_it(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    before = _lent(app, backend)
    if before is not None:  # run after the test above, in this process
        assert app is before
    assert app.config["LICENSING"].public_url == "http://testserver"
    assert app.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert "a-fallback-left-behind" not in app.config["SECRET_KEY_FALLBACKS"]
    assert "LEFT_BEHIND" not in app.config
    assert per_app("tests.left_behind", "key", lambda: "this test's", most=4) == "this test's"
    assert not event.contains(db.database().engine, "before_cursor_execute", _noted)
    assert "left_behind" not in g
    # The whole budget is this test's: the first attempt is not refused.
    _NOTED.clear()
    assert _sign_in(client) == 422
    assert _NOTED == []
    assert _sign_in(client) == 429


def test_a_test_adds_a_hook_and_a_route_before_its_first_request(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    """Flask allows setting an app up only until its first request: a kept app
    that served the tests before this one is as new to this test."""
    _lent(app, backend)

    @app.before_request
    def refuse_everything() -> tuple[str, int]:
        return "refused by a hook a test left behind", 418

    app.add_url_rule("/left-behind", "left_behind", lambda: "a route a test left behind")
    assert client.get("/healthz").status_code == 418


def test_an_app_a_test_changed_is_not_lent_again(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    before = _lent(app, backend)
    assert app is not before
    assert client.get("/left-behind").status_code == 404
    assert client.get("/healthz").status_code == 200


def test_a_test_builds_an_app_of_its_own(app: Flask, backend: str) -> None:
    """Building an app sets up the process's extensions again (Flask-Limiter's
    storage): the kept app is not lent after it."""
    _lent(app, backend)
    other = create_app(make_config(app.config["LICENSING"].database_url))
    other.extensions["licensing.db"].engine.dispose()


def test_the_test_after_another_app_was_built_has_a_new_one(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    before = _lent(app, backend)
    assert app is not before
    assert _sign_in(client) == 422
    assert _sign_in(client) == 429


def test_the_test_after_it_is_lent_the_new_one(app: Flask, backend: str) -> None:
    before = _lent(app, backend)
    if before is not None:
        assert app is before
    assert kept_app.apps_built() > 0
