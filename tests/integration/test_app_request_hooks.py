"""The app's own request hooks' runner (`licensing.app.App`) and request class
(`AppRequest`): Flask 3.1's, reading the request once from its context rather
than through the proxies. What they run, and in what order, must not change."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import werkzeug.local
from flask import Blueprint, Flask, Request, Response, request
from flask.signals import request_tearing_down
from flask.testing import FlaskClient
from werkzeug.exceptions import NotAcceptable, UnprocessableEntity

from licensing.api import API_EXTENSION, negotiation
from licensing.api.query import check_query
from licensing.app import App, AppRequest
from tests.integration.pricing.conftest import (
    example_card,  # noqa: F401 - the fixture
    quote_body,
)


@pytest.fixture
def bare() -> App:
    """The app class alone, none of the service's hooks registered."""
    return App(__name__)


def test_blueprint_and_app_hooks_run_in_flasks_order(bare: App) -> None:
    app = bare
    calls: list[str] = []
    part = Blueprint("hooked", __name__)

    @part.url_value_preprocessor
    def preprocess(endpoint: str | None, values: dict[str, Any] | None) -> None:
        calls.append(f"preprocess {endpoint} {values}")

    @part.before_request
    def part_before() -> None:
        calls.append("blueprint before")

    @part.after_request
    def part_after(response: Response) -> Response:
        calls.append("blueprint after")
        return response

    @part.teardown_request
    def part_teardown(error: BaseException | None) -> None:
        calls.append(f"blueprint teardown {error}")

    @part.get("/hooked/<int:number>")
    def hooked(number: int) -> str:
        calls.append(f"view {number}")
        return "seen"

    @app.before_request
    def app_before() -> None:
        calls.append("app before")

    @app.after_request
    def app_after(response: Response) -> Response:
        calls.append("app after")
        return response

    @app.teardown_request
    def app_teardown(error: BaseException | None) -> None:
        calls.append(f"app teardown {error}")

    app.register_blueprint(part)

    def torn_down(sender: Flask, **extra: Any) -> None:
        calls.append("signal")

    with (
        request_tearing_down.connected_to(torn_down, app),
        app.test_request_context("/hooked/7"),
    ):
        app.preprocess_request()
        answer = app.dispatch_request()
        response = app.process_response(app.make_response(answer))
        # popping the request's context tears it down
    assert response.get_data() == b"seen"
    assert calls == [
        "preprocess hooked.hooked {'number': 7}",
        "app before",
        "blueprint before",
        "view 7",
        "blueprint after",
        "app after",
        "blueprint teardown None",
        "app teardown None",
        "signal",
    ]


def test_a_before_request_answer_stops_the_rest(bare: App) -> None:
    app = bare
    part = Blueprint("stopped", __name__)
    later: list[str] = []

    @part.before_request
    def answer_first() -> str:
        return "early"

    @part.before_request
    def never() -> None:
        later.append("ran")

    @part.get("/stopped")
    def view() -> str:
        later.append("view")
        return "late"

    app.register_blueprint(part)
    with app.test_request_context("/stopped"):
        assert app.preprocess_request() == "early"
    assert later == []


def test_teardown_is_told_of_the_error_being_handled(bare: App) -> None:
    app = bare
    seen: list[BaseException | None] = []
    app.teardown_request_funcs.setdefault(None, []).append(seen.append)
    with app.test_request_context("/"):
        try:
            raise ValueError("while handling")
        except ValueError:
            app.do_teardown_request()
    assert isinstance(seen[0], ValueError)  # (the context's pop tears down again)


def test_the_request_is_the_apps_own_and_its_size_limit_is_the_configs(app: Flask) -> None:
    assert app.request_class is AppRequest
    app.config["MAX_CONTENT_LENGTH"] = 1234
    with app.test_request_context("/", method="POST", data=b"{}"):
        assert isinstance(request._get_current_object(), AppRequest)  # type: ignore[attr-defined]
        assert request.max_content_length == 1234
        request.max_content_length = 10  # one request's own limit, as Flask allows
        assert request.max_content_length == 10


def test_outside_any_app_the_size_limit_is_werkzeugs_as_flasks_is() -> None:
    assert AppRequest.from_values("/").max_content_length is None
    assert Request.from_values("/").max_content_length is None


def test_a_body_over_the_configs_size_limit_is_still_refused(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10
    with app.test_request_context("/", method="POST", data=b"x" * 100):
        from werkzeug.exceptions import RequestEntityTooLarge

        with pytest.raises(RequestEntityTooLarge):
            request.get_data()


@pytest.fixture
def proxy_fallbacks() -> Iterator[Counter[str]]:
    """Attribute names the context proxies had to fall back to `__getattr__`
    for (their first look-up failed, an AttributeError formatted and dropped),
    by the function that asked."""
    found: Counter[str] = Counter()
    original = werkzeug.local.LocalProxy.__dict__["__getattr__"]

    class Counted:
        def __get__(self, proxy: Any, owner: Any = None) -> Any:
            asker = sys._getframe(1).f_code.co_qualname

            def lookup(name: str) -> Any:
                found[f"{asker}: {name}"] += 1
                return original.__get__(proxy, owner)(name)

            return lookup

    werkzeug.local.LocalProxy.__getattr__ = Counted()  # type: ignore[method-assign,assignment]
    try:
        yield found
    finally:
        werkzeug.local.LocalProxy.__getattr__ = original  # type: ignore[method-assign]


# What the app's own code asked through a proxy's fallback on every quote
# before this round: Flask's hooks' runners, its request's size limit, the API's
# body check (and flask-smorest's view wrapper, below).
_ASKED_DIRECTLY = {
    "Flask.preprocess_request: blueprints",
    "Flask.dispatch_request: request",
    "Flask.process_response: blueprints",
    "Flask.do_teardown_request: blueprints",
    "Request.max_content_length: config",
    "_check_request: extensions",
}


@pytest.mark.usefixtures("example_card")
def test_a_quote_asks_nothing_of_a_proxys_fallback_in_the_apps_own_steps(
    client: FlaskClient, proxy_fallbacks: Counter[str]
) -> None:
    body = quote_body()
    for _ in range(2):
        assert client.post("/api/v1/quotes", json=body).status_code == 200
    assert _ASKED_DIRECTLY.isdisjoint(proxy_fallbacks), proxy_fallbacks
    # flask-smorest's view wrapper asked `current_app.ensure_sync` (`base.Blueprint.doc`).
    assert not [asked for asked in proxy_fallbacks if asked.endswith(": ensure_sync")]


def test_the_fallbacks_are_counted(app: Flask, proxy_fallbacks: Counter[str]) -> None:
    from flask import current_app

    with app.test_request_context("/"):
        assert current_app.config is app.config
    assert proxy_fallbacks["test_the_fallbacks_are_counted: config"] == 1


def test_a_request_without_a_query_string_has_its_arguments_left_unparsed(app: Flask) -> None:
    spec = app.extensions[API_EXTENSION].spec
    with app.test_request_context("/api/v1/quotes", method="POST"):
        req = request._get_current_object()  # type: ignore[attr-defined]
        check_query(req, spec)
        assert "args" not in req.__dict__  # werkzeug's cached property, never read
    with (
        app.test_request_context("/api/v1/quotes?nonsense=1", method="POST"),
        pytest.raises(UnprocessableEntity),
    ):
        check_query(request._get_current_object(), spec)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("accept", "refused"),
    [(None, False), ("*/*", False), ("application/json", False), ("text/csv", True)],
)
def test_accept_is_read_from_the_environ_as_the_headers_read_it(
    app: Flask, accept: str | None, refused: bool
) -> None:
    headers = {} if accept is None else {"Accept": accept}
    with app.test_request_context("/api/v1/quotes", method="POST", headers=headers):
        req = request._get_current_object()  # type: ignore[attr-defined]
        assert req.environ.get("HTTP_ACCEPT") == req.headers.get("Accept")
        if refused:
            with pytest.raises(NotAcceptable):
                negotiation.check_accept(req)
        else:
            negotiation.check_accept(req)
