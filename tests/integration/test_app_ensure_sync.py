"""The app remembers which hooks and views are plain functions (Flask asks of
each on every request); what it remembers must never change an answer."""

from __future__ import annotations

import gc
import weakref

import pytest
from flask import Flask
from flask.testing import FlaskClient


def test_a_plain_function_is_called_as_it_is_every_time(app: Flask) -> None:
    def view() -> str:
        return "plain"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view


def test_a_coroutine_function_goes_flasks_way_every_time(app: Flask) -> None:
    async def view() -> str:
        return "async"

    # Without Flask's "async" extra, Flask refuses to run it; never taken for plain.
    for _ in range(2):
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(view)


def test_a_function_made_for_one_request_is_not_kept_alive(app: Flask) -> None:
    def after_this_request(response: object) -> object:
        return response

    assert app.ensure_sync(after_this_request) is after_this_request
    gone = weakref.ref(after_this_request)
    del after_this_request
    gc.collect()
    assert gone() is None


def test_a_callable_that_cannot_be_weakly_referenced_is_answered_too(app: Flask) -> None:
    class Hook:
        __slots__ = ()

        def __call__(self) -> None:
            return None

    hook = Hook()
    assert app.ensure_sync(hook) is hook
    assert app.ensure_sync(hook) is hook


def test_hooks_and_views_still_run_on_every_request(client: FlaskClient) -> None:
    for _ in range(2):
        response = client.get("/api/v1/nowhere")
        assert response.status_code == 404
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_coroutine_function_whose_id_a_plain_one_had_is_not_taken_for_plain(
    app: Flask,
) -> None:
    # Plain functions are remembered by id, with a weak reference to the
    # function itself; an id freed and reused by another callable (CPython
    # reuses memory) must not carry the answer over. Staged directly, as the
    # reuse cannot be made to happen on demand.
    def plain() -> None:
        return None

    async def view() -> None:
        return None

    assert app.ensure_sync(plain) is plain
    remembered = app._plain_callables  # type: ignore[attr-defined]
    remembered[id(view)] = remembered.pop(id(plain))
    with pytest.raises(RuntimeError, match="async"):
        app.ensure_sync(view)


def test_a_plain_function_is_forgotten_when_it_is_gone(app: Flask) -> None:
    def plain() -> None:
        return None

    assert app.ensure_sync(plain) is plain
    freed = id(plain)
    assert freed in app._plain_callables  # type: ignore[attr-defined]
    del plain
    gc.collect()
    assert freed not in app._plain_callables  # type: ignore[attr-defined]
