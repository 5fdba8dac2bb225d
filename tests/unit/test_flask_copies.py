"""The request steps `licensing.app.App` and `AppRequest` re-implement are Flask's
own (round 41 reads the request once from its context instead of through the
proxies). Flask's pin allows any 3.x: a release that changed one of these steps
fails here, naming it, rather than leave our copy running the old step silently.
When it fails, compare the named method of ours with Flask's new one, carry the
change over, and record the new digest."""

from __future__ import annotations

import hashlib
import inspect

import flask
import flask.wrappers
import pytest
from werkzeug.routing import Map

from licensing.app import App, AppRequest

# SHA-256 (first 16 hex digits) of Flask 3.1's source of each step we copy.
COPIED = {
    "preprocess_request": "74a4cb2d980d5a91",
    "dispatch_request": "62c7e9d15772724a",
    "process_response": "8f4afb5f9ec8c24b",
    "do_teardown_request": "8c25313693d26f09",
    # Round 49: sending Flask's signals only while something is connected.
    "full_dispatch_request": "70d46cf2d53c3b0e",
    "finalize_request": "c1bcdc5b112f8a44",
    "do_teardown_appcontext": "172c4f5e8ac14bf0",
}
MAX_CONTENT_LENGTH = "9a5760c214e021c8"
# Round 49: `App.create_url_adapter` binds a request's adapter as Flask's does
# through werkzeug's `bind_to_environ` and `bind` (Werkzeug 3.1's).
URL_ADAPTER = {
    "create_url_adapter": "066133a70e406d12",
    "bind_to_environ": "9f9d25ed90c51c96",
    "bind": "fa3b9d530d2c0919",
}


def _digest(function: object) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(COPIED))
def test_each_request_step_the_app_copies_is_still_flasks(name: str) -> None:
    assert getattr(App, name) is not getattr(flask.Flask, name)  # ours is in use
    assert _digest(getattr(flask.Flask, name)) == COPIED[name], (
        f"Flask's {name} changed: carry the change into licensing.app.App.{name}"
    )


def test_the_size_limit_the_request_copies_is_still_flasks() -> None:
    assert AppRequest.max_content_length is not flask.wrappers.Request.max_content_length
    assert _digest(flask.wrappers.Request.max_content_length.fget) == MAX_CONTENT_LENGTH, (
        "Flask's Request.max_content_length changed: carry it into AppRequest"
    )


@pytest.mark.parametrize("name", sorted(URL_ADAPTER))
def test_the_url_adapter_the_app_binds_is_still_flasks_and_werkzeugs(name: str) -> None:
    assert App.create_url_adapter is not flask.Flask.create_url_adapter
    original = (
        flask.Flask.create_url_adapter if name == "create_url_adapter" else getattr(Map, name)
    )
    assert _digest(original) == URL_ADAPTER[name], (
        f"{name} changed: carry the change into licensing.app.App.create_url_adapter"
    )
