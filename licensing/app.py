"""The application factory: reads like the service's table of contents."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import sys
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

from flask import Flask, Request, Response
from flask.app import _sentinel  # type: ignore[attr-defined]  # do_teardown_request's default
from flask.globals import _cv_app, request_ctx
from flask.json.provider import DefaultJSONProvider
from flask.signals import (
    appcontext_tearing_down,
    request_finished,
    request_started,
    request_tearing_down,
)
from limits.errors import ConfigurationError as LimitsConfigurationError
from werkzeug.exceptions import BadHost
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map, MapAdapter
from werkzeug.routing import Rule as WerkzeugRule
from werkzeug.routing.matcher import StateMachineMatcher
from werkzeug.wsgi import get_host

from licensing import (
    access,
    accounts,
    agreements,
    api,
    audit,
    billing,
    commands,
    db,
    headers,
    job_pages,
    limits,
    links,
    log_context,
    mail,
    permissions,
    royalties,
    sessions,
    signing,
    static_files,
    web,
)
from licensing.accounts import dashboard, passkey_pages, profile, two_step_pages
from licensing.accounts import views as accounts_views
from licensing.agreements import estimator
from licensing.agreements import views as agreements_views
from licensing.api import accounts as accounts_api
from licensing.api import agreements as agreements_api
from licensing.api import applications as applications_api
from licensing.api import audit as audit_api
from licensing.api import exports as exports_api
from licensing.api import invoices as invoices_api
from licensing.api import jobs as jobs_api
from licensing.api import meta as meta_api
from licensing.api import outbox as outbox_api
from licensing.api import permissions as permissions_api
from licensing.api import quotes as quotes_api
from licensing.api import ratecards as ratecards_api
from licensing.api import royalty_reports as royalty_reports_api
from licensing.audit import views as audit_views
from licensing.billing import views as billing_views
from licensing.config import PROJECT_ROOT, Config, ConfigError
from licensing.exports import views as exports_views
from licensing.extensions import csrf, limiter, login_manager
from licensing.finance import views as finance_views
from licensing.mail import viewer as mail_viewer
from licensing.mail import views as mail_views
from licensing.permissions import views as permissions_views
from licensing.ratecards import views as ratecards_views
from licensing.royalties import views as royalties_views
from licensing.web import console, health, public


class JSONProvider(DefaultJSONProvider):
    """JSON with exact decimals: numbers are read as `Decimal`, never float, and
    an absurd literal (`1e999999999`, a 100,000-digit integer) is refused before
    it becomes a number, and an object giving a key twice is refused
    (`licensing.limits`)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", limits.json_decimal)
        kwargs.setdefault("parse_int", limits.json_int)
        kwargs.setdefault("object_pairs_hook", limits.object_of_pairs)
        document = super().loads(s, **kwargs)
        limits.refuse_repeated(document)  # a key given twice (round 55): a 400
        return document


class _Compiled(NamedTuple):
    """What werkzeug's `Rule.compile` makes of a rule, kept by `Rule`."""

    parts: list[Any]
    trace: list[tuple[bool, str]]
    converters: dict[str, Any]
    arguments: frozenset[str]


_CONVERTER_SETS: dict[tuple[tuple[str, type], ...], tuple[tuple[str, type], ...]] = {}


class Rule(WerkzeugRule):
    """A route whose parts are parsed once a process, and whose URL builders are
    compiled when a URL is first built from it.

    Werkzeug parses each rule's text into the parts its matcher walks as the rule
    is bound to a map: for this app's three hundred rules about a quarter of
    building the app, the same work for every app a process builds (the test
    suite builds one per test). What it makes depends only on the rule's text,
    its host or subdomain, the slash merging and the map's converter classes, so
    it is kept under those and handed to the next rule of the same key. Parts and
    trace are copied; the converters are shared (werkzeug's and `RecordId` keep
    nothing but their pattern and bounds, and never read their map).

    Werkzeug compiles two builder functions for every rule as the rule is added
    (an AST each, then `compile`): about 0.15 s of CPU for this app's two hundred
    rules, two fifths of building the app, though a process builds URLs from a
    few dozen rules and a CLI command from none. The builder compiled on first use
    is the one werkzeug would have compiled up front, since everything it reads
    (the rule's parts, defaults and converters) is fixed once the rule is bound.
    Two threads building the first URL at once both compile it; either result is
    the same function.
    """

    _compiled: ClassVar[dict[tuple[Any, ...], _Compiled]] = {}

    def compile(self) -> None:
        host_matching = self.map.host_matching
        # One tuple of the map's converter classes for every key (there are few).
        converters = tuple(self.map.converters.items())
        key = (
            type(self),
            self.rule,
            host_matching,
            self.host if host_matching else self.subdomain,
            self.merge_slashes,
            _CONVERTER_SETS.setdefault(converters, converters),
        )
        known = self._compiled.get(key)
        if known is None:
            named_before = set(self.arguments)
            super().compile()
            # The first rule's own lists, not copies: werkzeug replaces them at a
            # rebind and never changes them in place (each later rule gets copies).
            self._compiled[key] = _Compiled(
                self._parts,
                self._trace,
                self._converters,
                frozenset(self.arguments - named_before),
            )
            return
        self._parts = list(known.parts)
        self._trace = list(known.trace)
        self._converters = dict(known.converters)
        self.arguments.update(known.arguments)
        self._build = self._compile_builder(False).__get__(self, None)
        self._build_unknown = self._compile_builder(True).__get__(self, None)

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        slot = "_build_unknown" if append_unknown else "_build"
        compile_builder = super()._compile_builder

        def build(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            builder = compile_builder(append_unknown).__get__(rule, None)
            setattr(rule, slot, builder)
            return builder(*args, **kwargs)  # type: ignore[no-any-return]

        return build


class RememberingMatcher(StateMachineMatcher):
    """werkzeug's matcher, remembering the rule and values it matched for the
    last few hundred (subdomain, path, method, websocket) it was asked.

    Matching walks the map's state machine in Python, a state per segment with
    each converter's pattern tried: about 5 µs of every request in process, for
    an answer that only the map's rules decide. A match remembered is answered
    with a copy of its values (Flask's URL value preprocessors may change the
    request's). Only matches are remembered: a path that is not found, a method
    not allowed or a redirect is worked out each time, and raised as werkzeug
    raises it. Adding a rule, re-sorting the rules (`update`, which `Map.update`
    calls after any change) and changing `merge_slashes` forget everything; at
    `REMEMBERED` answers (paths with ids are many) the oldest is forgotten first.
    """

    REMEMBERED = 512

    def __init__(self, merge_slashes: bool) -> None:
        self._answers: dict[tuple[str, str, str, bool], tuple[WerkzeugRule, dict[str, Any]]]
        self._answers = {}
        super().__init__(merge_slashes)

    @property
    def merge_slashes(self) -> bool:
        return self._merge_slashes

    @merge_slashes.setter
    def merge_slashes(self, value: bool) -> None:
        self._answers = {}
        self._merge_slashes = value

    def add(self, rule: WerkzeugRule) -> None:
        self._answers = {}
        super().add(rule)

    def update(self) -> None:
        self._answers = {}
        super().update()

    def match(
        self, domain: str, path: str, method: str, websocket: bool
    ) -> tuple[WerkzeugRule, dict[str, Any]]:
        key = (domain, path, method, websocket)
        answers = self._answers  # one dictionary throughout, should another thread forget
        known = answers.get(key)
        if known is not None:
            return known[0], dict(known[1])
        rule, values = super().match(domain, path, method, websocket)
        if len(answers) >= self.REMEMBERED:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # another thread's
                del answers[next(iter(answers))]
        answers[key] = (rule, dict(values))
        return rule, dict(values)


class RouteMap(Map):
    """werkzeug's map, matching through `RememberingMatcher`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        rules = kwargs.pop("rules", args[0] if args else None)
        super().__init__(None, *args[1:], **kwargs)
        self._matcher = RememberingMatcher(self._matcher.merge_slashes)
        for rule in rules or ():
            self.add(rule)


class AppRequest(Request):
    """Flask's request, reading its body's size limit from the app's context
    itself: Flask reads `current_app.config` through the proxy, whose failed
    first look-up of `config` formats an AttributeError (see `App`)."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None:
            return self._max_content_length
        context = _cv_app.get(None)
        if context is None:
            return super(Request, self).max_content_length  # werkzeug's, as Flask's does
        limit: int | None = context.app.config["MAX_CONTENT_LENGTH"]
        return limit

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


class App(Flask):
    """Flask, remembering which hooks and views are plain functions.

    Flask asks `inspect.iscoroutinefunction` of every hook, view and teardown
    function as it calls them, about 15 times an API request (about 4% of a
    1-use quote's CPU time in process); the answer never changes for a given
    callable. Only "plain" is remembered, by the callable's id with a weak
    reference that confirms it is still the same object (a weak-keyed
    dictionary took three times as long to ask), so a per-request callable
    (`after_this_request`) is not kept alive and its entry goes with it.
    Anything else goes Flask's way each time.
    """

    # Its headers handed to the server without checking each value again.
    response_class = headers.AppResponse
    request_class = AppRequest
    url_rule_class = Rule
    url_map_class = RouteMap

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain_callables: dict[int, weakref.ref[Callable[..., Any]]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        known = self._plain_callables.get(id(func))
        if known is not None and known() is func:
            return func
        answer = super().ensure_sync(func)
        if answer is func:
            self._remember_plain(func)
        return answer

    # Flask's request hooks read `request.blueprints` (and dispatching
    # `request_ctx.request`) through the context proxies. A name the proxy class
    # does not define is first looked up on the proxy and fails, the
    # AttributeError formatted in C and dropped, before its `__getattr__`
    # finds the object: about 0.55 µs each in process, seven a request (with
    # `AppRequest.max_content_length` and the API's body check). The four
    # methods below are Flask 3.1's, reading the request once from its context.

    def preprocess_request(self) -> Any:
        req: Request = request_ctx._get_current_object().request  # type: ignore[attr-defined]
        names = (None, *reversed(req.blueprints))
        for name in names:
            if name in self.url_value_preprocessors:
                for url_func in self.url_value_preprocessors[name]:
                    url_func(req.endpoint, req.view_args)
        for name in names:
            if name in self.before_request_funcs:
                for before_func in self.before_request_funcs[name]:
                    answer = self.ensure_sync(before_func)()
                    if answer is not None:
                        return answer
        return None

    def dispatch_request(self) -> Any:
        ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
        req: Request = ctx.request
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = req.url_rule
        assert rule is not None  # matched, or the routing exception was raised
        if getattr(rule, "provide_automatic_options", False) and req.method == "OPTIONS":
            return self.make_default_options_response()
        view_args: dict[str, Any] = req.view_args  # type: ignore[assignment]
        view = self.ensure_sync(self.view_functions[rule.endpoint])
        # Round 59: a view whose unit of work lost a deadlock or a serialization failure
        # is run again, whole (`db.retrying`: only while nothing it did was kept or went
        # out); after the last try the error pages answer 503 with Retry-After. Each try
        # run again starts from the request as the first found it (`_KeptForAgain`).
        kept = _KeptForAgain(ctx)
        return db.retrying(
            lambda: view(**view_args), may_run_again=_body_read_again, before_again=kept.restore
        )

    def send_static_file(self, filename: str) -> Response:
        """A file of static/, kept by the browser a year when the request names its
        content's version, as every page links it (`licensing.static_files`, round 64:
        each page load revalidated every stylesheet and script); otherwise as Flask
        serves it, revalidated each time."""
        response = super().send_static_file(filename)
        folder = self.static_folder
        if folder is None:  # Flask's method refused it already
            return response
        given = request_ctx._get_current_object().request.args.get(  # type: ignore[attr-defined]
            static_files.VERSION_ARGUMENT
        )
        watch = not self.config["LICENSING"].is_production
        return static_files.keep_when_versioned(response, given, folder, filename, watch=watch)

    def process_response(self, response: Response) -> Response:
        ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        for name in (*ctx.request.blueprints, None):
            if name in self.after_request_funcs:
                for func in reversed(self.after_request_funcs[name]):
                    response = self.ensure_sync(func)(response)
        if not self.session_interface.is_null_session(ctx._session):
            self.session_interface.save_session(self, ctx._session, response)
        return response

    def do_teardown_request(
        self,
        exc: BaseException | None = _sentinel,  # type: ignore[assignment]
    ) -> None:
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        req: Request = request_ctx._get_current_object().request  # type: ignore[attr-defined]
        for name in (*req.blueprints, None):
            if name in self.teardown_request_funcs:
                for func in reversed(self.teardown_request_funcs[name]):
                    self.ensure_sync(func)(exc)
        if request_tearing_down.receivers:  # see `full_dispatch_request`
            request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)

    # Flask sends four signals of its own in these steps on every request,
    # though this app connects nothing to them: each send with no receiver is
    # a call with its keywords, a bound `ensure_sync` and an empty generator
    # (about 1.5K instructions, 1% of a 1-use quote for the four). The three
    # methods below (and `do_teardown_request` above) are Flask 3.1's, sending
    # each signal only while something is connected to it, which is when
    # blinker's `send` would call anything; a receiver connected later (a
    # test's `captured_templates`, an APM library) is sent to as before.

    def full_dispatch_request(self) -> Response:
        self._got_first_request = True
        try:
            if request_started.receivers:
                request_started.send(self, _async_wrapper=self.ensure_sync)
            rv = self.preprocess_request()
            if rv is None:
                rv = self.dispatch_request()
        except Exception as e:
            rv = self.handle_user_exception(e)
        return self.finalize_request(rv)

    def finalize_request(self, rv: Any, from_error_handler: bool = False) -> Response:
        response = self.make_response(rv)
        try:
            response = self.process_response(response)
            if request_finished.receivers:
                request_finished.send(self, _async_wrapper=self.ensure_sync, response=response)
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception("Request finalizing failed with an error while handling an error")
        return response

    def do_teardown_appcontext(
        self,
        exc: BaseException | None = _sentinel,  # type: ignore[assignment]
    ) -> None:
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        for func in reversed(self.teardown_appcontext_funcs):
            self.ensure_sync(func)(exc)
        if appcontext_tearing_down.receivers:
            appcontext_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Flask 3.1's adapter for a request, with the host read once.

        Flask reads the request's host (checking it against `TRUSTED_HOSTS`),
        then calls werkzeug's `bind_to_environ`, which reads it again from the
        environ and IDNA-encodes it through the codec machinery: about 10 µs of
        every request in process, a fifth of it the second reading and the same
        again the encoding. This binds the same adapter from the host already
        read (the same text: a host the first reading let through is one the
        second reads alike) and remembers the encoding of the few hosts a
        server is called by. Host or subdomain matching, which this app does
        not use, go Flask's way.
        """
        url_map = self.url_map
        if request is None or url_map.host_matching or self.subdomain_matching:
            return super().create_url_adapter(request)
        if (trusted_hosts := self.config["TRUSTED_HOSTS"]) is not None:
            request.trusted_hosts = trusted_hosts
        environ = request.environ
        host = get_host(environ, request.trusted_hosts)
        request.host = host  # Flask sets the cached property so, as `get_host` read it
        scheme = environ["wsgi.url_scheme"]
        # werkzeug's websocket test, the cheaper half first.
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket" and any(
            value.strip(" \t") == "upgrade"
            for value in environ.get("HTTP_CONNECTION", "").lower().split(",")
        ):
            scheme = "wss" if scheme == "https" else "ws"
        server_name: str | None = self.config["SERVER_NAME"]
        if server_name is None:
            server_name = host
        else:  # bind_to_environ's standard port stripped, as get_host strips it
            server_name = server_name.lower()
            if scheme in {"http", "ws"} and server_name.endswith(":80"):
                server_name = server_name[:-3]
            elif scheme in {"https", "wss"} and server_name.endswith(":443"):
                server_name = server_name[:-4]
        # Map.bind's, with the encoded name remembered.
        name, port_sep, port = server_name.lower().partition(":")
        return MapAdapter(
            url_map,
            f"{_idna(name)}{port_sep}{port}",
            _wsgi_text(environ.get("SCRIPT_NAME"), "/"),
            url_map.default_subdomain or "",
            scheme,
            _wsgi_text(environ.get("PATH_INFO"), "/"),
            environ["REQUEST_METHOD"],
            _wsgi_text(environ.get("QUERY_STRING"), None),
        )

    def _remember_plain(self, func: Callable[..., Any]) -> None:
        table, key = self._plain_callables, id(func)

        def forget(reference: weakref.ref[Callable[..., Any]]) -> None:
            # Only this entry: the id may already name a newer callable's.
            if table.get(key) is reference:
                del table[key]

        with contextlib.suppress(TypeError):  # not weakly referenceable: asked each time
            table[key] = weakref.ref(func, forget)


class _KeptForAgain:
    """What a view's try may change in its request outside the database, as it was
    before the first try, put back before a try run again (`db.retrying`; round 59,
    retrycheck59). Without it a try that lost a deadlock left its traces for the next:
    a flash made before its unit of work failed was shown twice, a value it spent
    from the cookie session (a challenge, a pending step) was gone for the try that
    then succeeded, a value it set or cached in `g` (Flask-Login's user, a page's
    counts) was read by the next try as if already done, and a function it gave
    `after_this_request` ran once for each try.

    - the cookie session's contents (copied: a flash appends to the session's
      list in place), and whether it was to be saved;
    - `g`'s names, but the database session, which the failed try's rollback has
      ended and the request's teardown closes;
    - how many `after_this_request` functions there were;
    - the log lines' fields (`log_context`; round 60): a try's lines carry the request
      id and the caller the first try started with, not a user its lost try
      recognised (a sign-in's), so each try's lines read alike."""

    __slots__ = ("after", "context", "fields", "g", "modified", "names", "session")

    def __init__(self, context: Any) -> None:
        self.context = context
        self.g = _cv_app.get().g
        found = context._session  # not `.session`: that marks it accessed (Vary: Cookie)
        # An API request's session is empty (`sessions.ApiSession`): nothing to copy.
        self.session = _copied(dict(found)) if found else None
        self.modified = bool(getattr(found, "modified", False))
        self.names = dict(self.g.__dict__)
        self.after = len(context._after_request_functions)
        self.fields = log_context.kept()

    def restore(self) -> None:
        found = self.context._session
        before = self.session or {}
        if found is not None and dict(found) != before:
            found.clear()
            found.update(_copied(before))
            if hasattr(found, "modified"):
                found.modified = self.modified
        names = self.g.__dict__
        database_session = names.get("db_session")
        names.clear()
        names.update(self.names)
        if database_session is not None:
            names["db_session"] = database_session
        del self.context._after_request_functions[self.after :]
        log_context.put_back(self.fields)


def _copied(value: Any) -> Any:
    """A cookie session's value copied (its containers; what is in them, the
    session's tagged JSON types, never changes in place)."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def _body_read_again() -> bool:
    """Whether a view run again reads the request's body as the first run did: no
    body was read, or Flask kept what it read (`get_data`, `get_json`, a form, whose
    files are put back at their start). A body the view read from `request.stream`
    itself (a royalty report's upload) is gone: that view is not run again."""
    found = vars(request_ctx._get_current_object().request)  # type: ignore[attr-defined]
    if "stream" not in found or "_cached_data" in found:
        return True
    if "form" not in found and "files" not in found:
        return False
    for upload in found.get("files", {}).values():
        upload.stream.seek(0)
    return True


def _wsgi_text(value: str | None, absent: str | None) -> Any:
    # werkzeug's `_wsgi_decoding_dance`, as `bind_to_environ` reads the environ;
    # `Map.bind`'s default for what is absent (not for what is empty).
    return absent if value is None else value.encode("latin1").decode(errors="replace")


@functools.lru_cache(maxsize=64)
def _idna(name: str) -> str:
    """A host name as `Map.bind` encodes it (about 1.5 µs through the codec);
    the few names a server is called by are remembered, a bounded number."""
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise BadHost() from error


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = App(
        "licensing",
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    app.json = JSONProvider(app)
    app.url_map.converters["int"] = RecordId
    configure(app, config)
    register_request_context(app)
    limits.init_app(app)  # no unstorable text in the path, query or form
    register_extensions(app, config)
    register_blueprints(app)
    commands.register(app)
    return app


# What the settings can refuse as the app is built: our own checks, and
# Flask-Limiter's store ("'redis' prerequisite not available", "unknown storage
# scheme"), refused by the limits library before a request is served.
START_UP_REFUSALS = (ConfigError, LimitsConfigurationError)


def refusal_to_start(error: ConfigError | LimitsConfigurationError) -> str:
    """The one line an operator reads when the settings cannot start the
    service, naming the setting: the console script and the server's workers
    print it instead of a traceback ending in it."""
    if isinstance(error, LimitsConfigurationError):
        return f"the configuration cannot start the service: RATELIMIT_STORAGE_URI: {error}"
    return f"the configuration cannot start the service: {error}"


def freeze_start_up_objects() -> None:
    """Take what the process holds once its app is built (the app, its routes,
    templates, schemas and mappings, the imported modules: some 200,000 objects
    the collector tracks) out of the garbage collector's sight for good, after
    one last collection of the start-up's garbage.

    They live as long as the process, yet every full collection walked them all
    (about 95 ms of CPU a time on this service's machine, blocking the request
    that happened to trigger it); frozen, a full collection walks what was made
    since. Called once by the entry points a server imports (`wsgi.py`, `licensing
    serve`'s workers), never by `create_app`, which tests call for every app they
    build: reference counting still frees a frozen object, but a cycle among
    frozen objects that later became unreachable would never be."""
    gc.collect()
    gc.freeze()


def register_blueprints(app: Flask) -> None:
    """Every page and API blueprint, in the order their routes are matched and the
    API document lists them (`api` and `web` install what all of them share)."""
    api.register(
        app,
        meta_api.blp,
        quotes_api.blp,
        ratecards_api.blp,
        accounts_api.blp,
        audit_api.blp,
        outbox_api.blp,
        jobs_api.blp,
        applications_api.blp,
        agreements_api.blp,
        permissions_api.blp,
        invoices_api.blp,
        royalty_reports_api.blp,
        exports_api.blp,
    )
    web.register(app)
    for blueprint in (
        health.bp,
        public.bp,
        estimator.bp,
        ratecards_views.bp,
        accounts_views.bp,
        accounts_views.console,
        dashboard.bp,
        profile.bp,
        two_step_pages.bp,
        passkey_pages.bp,
        console.bp,
        agreements_views.bp,
        agreements_views.console,
        audit_views.bp,
        mail_views.bp,
        job_pages.bp,
        billing_views.bp,
        billing_views.console,
        billing_views.documents_bp,
        billing_views.webhooks,
        exports_views.bp,
        finance_views.console,
        permissions_views.public,
        permissions_views.portal,
        permissions_views.console,
        royalties_views.bp,
    ):
        app.register_blueprint(blueprint)
    if app.config["LICENSING"].dev_mail_viewer:  # development only: absent otherwise
        app.register_blueprint(mail_viewer.bp)


class RecordId(IntegerConverter):
    """`<int:...>` in every route, bounded to the id columns' range (PostgreSQL
    `integer`), so an id too large to exist is a 404 rather than a database error."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", limits.MAX_RECORD_ID)
        super().__init__(map, *args, **kwargs)
        if not kwargs.get("signed") and kwargs["max"] == limits.MAX_RECORD_ID:
            # Matched by the pattern, not only refused once matched: where one path
            # has a rule for each method (GET a list, POST to it), a rule that
            # matched the path for another method made an id past the range a 405.
            self.regex = _digits_up_to(limits.MAX_RECORD_ID)


@functools.cache  # every `<int:...>` of every rule of every app asks for the same one
def _digits_up_to(limit: int) -> str:
    """A pattern for the whole numbers from 0 to `limit`, as written in a path."""
    digits = str(limit)
    shorter = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    alternatives = shorter
    for place, digit in enumerate(digits):
        lowest = 1 if place == 0 else 0
        rest = len(digits) - place - 1
        if int(digit) > lowest:
            tail = rf"\d{{{rest}}}" if rest else ""
            alternatives.append(f"{digits[:place]}[{lowest}-{int(digit) - 1}]{tail}")
    alternatives.append(digits)
    return f"(?:{'|'.join(alternatives)})"


class _AlembicChatter(logging.Filter):
    """Alembic's words on how it connected ("Context impl SQLiteImpl.", "Will
    assume non-transactional DDL."), said again for every migration context."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or not str(record.msg).startswith(
            ("Context impl ", "Will assume ")
        )


_ALEMBIC_CHATTER = _AlembicChatter()


def _quiet_alembic() -> None:
    """`db upgrade` and `setup` print what they did (each "Running upgrade" step
    and the revision reached), not Alembic's set-up: seven "setup plugin ..."
    lines at its import (round 14) and the chatter above. Its warnings and errors
    still show. Before Alembic is imported (the commands import it on use)."""
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_ALEMBIC_CHATTER)  # once


def configure(app: Flask, config: Config) -> None:
    app.config.update(
        LICENSING=config,
        SECRET_KEY=config.secret_key,
        SECRET_KEY_FALLBACKS=list(config.secret_key_fallbacks),
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.is_production,
        SESSION_COOKIE_NAME="licensing_session",
        REMEMBER_COOKIE_SECURE=config.is_production,
        REMEMBER_COOKIE_HTTPONLY=True,
        PREFERRED_URL_SCHEME="https" if config.is_production else "http",
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session
        RATELIMIT_STORAGE_URI=config.ratelimit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="licensing",
        TESTING=config.environment == "testing",
    )
    app.config.update(config.overrides)
    log_context.configure(
        config.log_level, timestamps=config.log_timestamps
    )  # every line: its request's or job run's id
    _quiet_alembic()
    app.logger.setLevel(config.log_level)
    if config.trusted_proxies:
        # Flask's documented way to wrap its WSGI app, which mypy sees as a method.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=config.trusted_proxies,
            x_proto=config.trusted_proxies,
            x_host=config.trusted_proxies,
        )


def register_extensions(app: Flask, config: Config) -> None:
    db.init_app(app, config.database_url, jit=config.database_jit)
    sessions.init_app(app)  # the cookie session on pages only: the API never reads it
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    access.init_app(app)
    links.init_app(app)  # the pages that emails link to, under PUBLIC_URL
    signing.init_app(app)  # the tokens in signed links, under SECRET_KEY
    accounts.init_app(app)  # who is calling: session on pages, bearer token on the API
    mail.init_app(app)  # deliver queued mail after the response, when configured
    audit.init_app(app)  # seal invoices, credit notes, agreements and letters as issued
    billing.init_app(app)  # invoice agreements as they become active
    agreements.init_app(app)  # seal agreements as they are issued
    royalties.init_app(app)  # overdue reports count against an organization's standing
    permissions.init_app(app)  # uses routed from license applications join the queue


def register_request_context(app: Flask) -> None:
    """A request id for logs and the audit trail, echoed back to the client, and
    the security headers (CSP, HSTS in production, ...) on every response; a request
    the server refused before the app read it is refused as it starts, its id given
    (`licensing.server_refusals`)."""
    headers.init_app(app)
