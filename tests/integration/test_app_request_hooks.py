"""The app's own request hooks' runner (`licensing.app.App`) and request class
(`AppRequest`): Flask 3.1's, reading the request once from its context rather
than through the proxies. What they run, and in what order, must not change."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import blinker
import flask.signals
import pytest
import werkzeug.local
import werkzeug.sansio.utils
from flask import Blueprint, Flask, Request, Response, request
from flask.signals import request_tearing_down
from flask.testing import FlaskClient
from werkzeug.exceptions import (
    BadHost,
    HTTPException,
    NotAcceptable,
    NotFound,
    SecurityError,
    UnprocessableEntity,
)
from werkzeug.routing import Map, RequestRedirect
from werkzeug.test import EnvironBuilder

from licensing.api import API_EXTENSION, negotiation
from licensing.api.query import check_query
from licensing.app import App, AppRequest, RememberingMatcher
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


# Round 49: `App.create_url_adapter` binds from the host Flask already read.
_WS = {"HTTP_UPGRADE": "WebSocket"}
_ENVIRONS = [
    {"HTTP_HOST": "127.0.0.1:8000"},
    {"HTTP_HOST": "Example.COM:80"},
    {"HTTP_HOST": "example.com:443", "wsgi.url_scheme": "https"},
    {"HTTP_HOST": "example.com:8443", "wsgi.url_scheme": "https", "QUERY_STRING": "a=1&b=%C3"},
    {"SERVER_NAME": "backend.internal", "SERVER_PORT": "8080"},  # no Host header
    {"HTTP_HOST": "bücher.example"},  # IDNA-encoded by the binding
    {"HTTP_HOST": "bad host!"},  # invalid characters: the empty host, as werkzeug's
    {"HTTP_HOST": "example.com", "SCRIPT_NAME": "/mounted", "PATH_INFO": "/caf\xc3\xa9"},
    {"HTTP_HOST": "example.com", "SCRIPT_NAME": ""},
    {"HTTP_HOST": "example.com", "HTTP_CONNECTION": "keep-alive, Upgrade", "HTTP_UPGRADE": "ws"},
    {"HTTP_HOST": "example.com", "HTTP_CONNECTION": "keep-alive, Upgrade", **_WS},
    {"HTTP_HOST": "example.com", **_WS},  # no Connection: upgrade
    {
        "HTTP_HOST": "h.example",
        "wsgi.url_scheme": "https",
        "HTTP_CONNECTION": "upgrade",
        **_WS,
    },
]


def _environ(**given: str) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/quotes",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    environ.update(given)
    return environ


@pytest.mark.parametrize("server_name", [None, "Example.com:443", "example.com:80"])
@pytest.mark.parametrize("given", _ENVIRONS)
def test_a_requests_url_adapter_is_the_one_flask_and_werkzeug_bind(
    bare: App, given: dict[str, str], server_name: str | None
) -> None:
    bare.config["SERVER_NAME"] = server_name
    ours, theirs = AppRequest(_environ(**given)), AppRequest(_environ(**given))
    adapter = bare.create_url_adapter(ours)
    expected = Flask.create_url_adapter(bare, theirs)
    assert adapter is not None
    assert expected is not None
    assert vars(adapter) == vars(expected)
    assert ours.host == theirs.host


def test_an_untrusted_host_is_refused_before_any_adapter_is_bound(bare: App) -> None:
    bare.config["TRUSTED_HOSTS"] = ["example.com", ".example.org"]
    assert bare.create_url_adapter(AppRequest(_environ(HTTP_HOST="api.example.org"))) is not None
    with pytest.raises(SecurityError):
        bare.create_url_adapter(AppRequest(_environ(HTTP_HOST="example.net")))
    with pytest.raises(SecurityError):
        Flask.create_url_adapter(bare, AppRequest(_environ(HTTP_HOST="example.net")))


def test_a_host_idna_cannot_encode_is_a_bad_host_as_werkzeug_says(bare: App) -> None:
    request_ = AppRequest(_environ(HTTP_HOST="a..b"))  # an empty label
    with pytest.raises(BadHost):
        bare.create_url_adapter(request_)
    with pytest.raises(BadHost):
        Flask.create_url_adapter(bare, AppRequest(_environ(HTTP_HOST="a..b")))


def test_with_host_matching_the_adapter_is_flasks_own(bare: App) -> None:
    bare.url_map.host_matching = True
    given = _environ(HTTP_HOST="example.com:8000")
    adapter = bare.create_url_adapter(AppRequest(given))
    expected = Flask.create_url_adapter(bare, AppRequest(dict(given)))
    assert adapter is not None
    assert expected is not None
    assert vars(adapter) == vars(expected)
    assert bare.create_url_adapter(None) is None  # outside a request, no SERVER_NAME


def test_the_quote_routes_to_its_view_through_the_bound_adapter(app: Flask) -> None:
    with app.test_request_context(
        "/api/v1/quotes", method="POST", base_url="http://Api.Example.com"
    ) as context:
        assert request.endpoint == "quotes.create_quote"
        assert request.host == "api.example.com"
        assert context.url_adapter is not None
        assert context.url_adapter.server_name == "api.example.com"


@pytest.mark.usefixtures("example_card")
def test_a_quote_reads_and_checks_its_host_once(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str | None] = []
    check = werkzeug.sansio.utils.host_is_trusted

    def counted(hostname: str | None, trusted_list: Any = None) -> bool:
        checked.append(hostname)
        return check(hostname, trusted_list)

    environ = EnvironBuilder("/api/v1/quotes", method="POST", json=quote_body()).get_environ()
    answered: list[str] = []
    monkeypatch.setattr(werkzeug.sansio.utils, "host_is_trusted", counted)
    # The app alone: the test client reads the host for its cookies too.
    body = b"".join(app.wsgi_app(environ, lambda status, headers: answered.append(status)))
    assert answered == ["200 OK"], body
    assert checked == ["localhost"]  # Flask's reading; werkzeug's binding read it again


# Round 49: Flask's request signals, sent only while something listens.
_SIGNALS = {
    "request_started": flask.signals.request_started,
    "request_finished": flask.signals.request_finished,
    "request_tearing_down": flask.signals.request_tearing_down,
    "appcontext_tearing_down": flask.signals.appcontext_tearing_down,
    "got_request_exception": flask.signals.got_request_exception,
}


@pytest.mark.usefixtures("example_card")
def test_a_quote_sends_no_signal_nothing_listens_to(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    for signal in _SIGNALS.values():  # as served: nothing connected (the tests connect some)
        monkeypatch.setattr(signal, "receivers", {})
    sent: list[str] = []
    send = blinker.Signal.send

    def counted(signal: blinker.Signal, *args: Any, **kwargs: Any) -> Any:
        sent.append(signal.name if isinstance(signal, blinker.NamedSignal) else "?")
        return send(signal, *args, **kwargs)

    monkeypatch.setattr(blinker.Signal, "send", counted)
    answer = app.test_client().post("/api/v1/quotes", json=quote_body())
    assert answer.status_code == 200
    # (The application context's pushed and popped are Flask's `AppContext`'s.)
    assert [name for name in sent if name.replace("-", "_") in _SIGNALS] == []


def test_each_request_signal_reaches_what_listens_to_it(bare: App) -> None:
    app = bare
    heard: list[tuple[str, Any]] = []

    @app.get("/fine")
    def fine() -> str:
        return "fine"

    @app.get("/broken")
    def broken() -> str:
        raise LookupError("broken")

    def listener(name: str) -> Any:
        def listen(sender: Flask, **extra: Any) -> None:
            assert sender is app
            heard.append((name, extra.get("response", extra.get("exc", extra.get("exception")))))

        return listen

    listeners = {name: listener(name) for name in _SIGNALS}
    for name, signal in _SIGNALS.items():
        signal.connect(listeners[name], app)
    try:
        assert app.test_client().get("/fine").status_code == 200
        assert [name for name, _ in heard] == [
            "request_started",
            "request_finished",
            "request_tearing_down",
            "appcontext_tearing_down",
        ]
        assert isinstance(heard[1][1], Response)
        assert heard[1][1].status_code == 200
        assert heard[2][1] is None
        heard.clear()
        assert app.test_client().get("/broken").status_code == 500
        assert [name for name, _ in heard] == [
            "request_started",
            "got_request_exception",
            "request_finished",
            "request_tearing_down",
            "appcontext_tearing_down",
        ]
        assert isinstance(heard[1][1], LookupError)
        assert heard[3][1] is heard[1][1]  # torn down with the error, as Flask does
        assert heard[4][1] is heard[1][1]
    finally:
        for name, signal in _SIGNALS.items():
            signal.disconnect(listeners[name], app)


# Round 49: the routes' matcher remembers what it matched.
_PATHS = [
    ("/api/v1/quotes", "POST"),
    ("/api/v1/quotes", "GET"),  # not allowed
    ("/api/v1/invoices/12", "GET"),
    ("/api/v1/invoices/99999999999999", "GET"),  # past the ids' range
    ("/api/v1/rate-cards/2027.1", "GET"),
    ("/console/rate-cards", "GET"),  # a redirect to the slash
    ("/no/such/page", "GET"),
    ("/static/app.css", "GET"),
]


def _matched(adapter: Any, path: str, method: str) -> Any:
    try:
        rule, values = adapter.match(path, method, return_rule=True)
    except HTTPException as refused:
        return type(refused), getattr(refused, "new_url", None)
    return rule, values


@pytest.mark.parametrize(("path", "method"), _PATHS)
def test_a_remembered_match_is_the_one_werkzeug_makes(app: Flask, path: str, method: str) -> None:
    ours = app.url_map.bind("localhost")
    plain = Map(  # werkzeug's own matcher, over the same rules
        [rule.empty() for rule in app.url_map.iter_rules()],
        converters=dict(app.url_map.converters),
    )
    assert not isinstance(plain._matcher, RememberingMatcher)
    expected = _matched(Map.bind(plain, "localhost"), path, method)
    assert _matched(ours, path, method) == expected
    assert _matched(ours, path, method) == expected  # the second time, remembered if matched


def test_a_match_answers_values_of_its_own(bare: App) -> None:
    bare.add_url_rule("/things/<int:number>", "thing", lambda number: str(number))
    adapter = bare.url_map.bind("localhost")
    for _ in range(3):  # worked out, then remembered twice
        _, values = adapter.match("/things/7", "GET", return_rule=True)
        assert values == {"number": 7}
        values.pop("number")  # as a URL value preprocessor may


def test_a_rule_added_after_a_match_is_matched(bare: App) -> None:
    bare.add_url_rule("/things/<name>", "named", lambda name: name)
    adapter = bare.url_map.bind("localhost")
    assert adapter.match("/things/new", "GET") == ("named", {"name": "new"})
    bare.add_url_rule("/things/new", "new_thing", lambda: "new")
    assert adapter.match("/things/new", "GET") == ("new_thing", {})


def test_merging_slashes_again_is_matched_anew(bare: App) -> None:
    bare.add_url_rule("/a/b", "ab", lambda: "ab")
    adapter = bare.url_map.bind("localhost")
    matcher = bare.url_map._matcher
    assert isinstance(matcher, RememberingMatcher)
    assert adapter.match("/a/b", "GET") == ("ab", {})
    assert matcher._answers
    bare.url_map.merge_slashes = False  # what a path matches may change: all forgotten
    assert not matcher._answers
    assert not matcher.merge_slashes
    with pytest.raises(NotFound):
        adapter.match("/a//b", "GET")
    bare.url_map.merge_slashes = True
    with pytest.raises(RequestRedirect):  # merged: werkzeug redirects to /a/b
        adapter.match("/a//b", "GET")


def test_the_matches_remembered_are_bounded(bare: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RememberingMatcher, "REMEMBERED", 8)
    bare.add_url_rule("/things/<int:number>", "thing", lambda number: str(number))
    adapter = bare.url_map.bind("localhost")
    matcher = bare.url_map._matcher
    assert isinstance(matcher, RememberingMatcher)
    for number in range(50):
        assert adapter.match(f"/things/{number}", "GET") == ("thing", {"number": number})
    assert len(matcher._answers) == 8
    assert adapter.match("/things/3", "GET") == ("thing", {"number": 3})  # forgotten: worked out
