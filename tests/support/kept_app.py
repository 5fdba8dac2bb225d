"""One app a process for the integration tests' `app`, built once and lent to each
test in turn, each on its own connection and transaction (round 67).

Every integration test built its own app (`create_app`: about 9 ms of CPU, four
fifths of it Flask registering 320 URL rules, then a Flask-Limiter timer thread,
an engine, and a collection to free it all after the test). What a test sees of
an app is a pure function of its `Config`, so the app is kept and handed to the
next test whose `Config` is equal, put back first to what `create_app` left:

- **config**: `app.config` restored to its values as built (a test's
  `app.config["LICENSING"] = ...`, `MAX_CONTENT_LENGTH`, `SECRET_KEY_FALLBACKS`);
- **extensions**: an entry added since the build is dropped (the readiness log's
  last word, the pages' kept menus and the API's answer types, made on first use);
- **limiter storage**: Flask-Limiter's in-memory counts emptied, so a rate limit
  counts only the test's own requests;
- **database**: a new option engine of the process's engine (a listener a test
  put on the engine goes with it), a new connection and transaction, sessions
  bound to it, as before;
- **first request**: Flask's `_got_first_request` cleared, so a test may still
  add a route or a hook before its first request;
- the app context, and so `g`, is a new one each test (pushed by the fixture).

Kept as they are, being pure functions of the rules and templates: werkzeug's
remembered matches (`RememberingMatcher`), the plain callables (`App`), Jinja's
loaded templates.

An app is lent again only if nothing else about it changed: its shape (every
hook, view, blueprint, error handler, URL rule, converter, Jinja global and
filter, extension object and its attributes, signal receiver connected for it,
and the app's own attributes) is what it was when built, no other app was built
in the process since (building one re-initialises the process's extensions:
Flask-Limiter's storage, logging's level), and no test holds it. Otherwise a new
one is built, as every test did before."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import flask.signals
from blinker import Signal
from flask import Flask
from limits.storage import MemoryStorage
from sqlalchemy import Engine

from licensing.app import App
from licensing.config import Config
from licensing.db import Database
from licensing.extensions import limiter

# The apps built in this process so far (`counting_apps` counts them).
_BUILT = [0]

# Flask's signals, which a test may connect a receiver to for one app.
_SIGNALS: tuple[Signal, ...] = tuple(
    value for value in vars(flask.signals).values() if isinstance(value, Signal)
)

# An app's attributes that change as it serves: Flask's first-request mark (put
# back) and its template loader, made on first use (a cached property).
_LAZY = frozenset({"_got_first_request", "jinja_loader"})

# Flask's registries of functions, by blueprint name.
_HOOKS = (
    "before_request_funcs",
    "after_request_funcs",
    "teardown_request_funcs",
    "url_value_preprocessors",
    "url_default_functions",
    "template_context_processors",
)


@contextmanager
def counting_apps() -> Iterator[None]:
    """Count every app the process builds (`App.__init__`), wherever from."""
    original = App.__init__

    def counted(self: App, *args: Any, **kwargs: Any) -> None:
        _BUILT[0] += 1
        original(self, *args, **kwargs)

    App.__init__ = counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        App.__init__ = original  # type: ignore[method-assign]


def apps_built() -> int:
    return _BUILT[0]


@dataclass
class Kept:
    """An app built for one `Config`, and what it was as built."""

    app: Flask
    config: Config
    built: int
    settings: dict[str, Any]
    extensions: dict[str, Any]
    shape: tuple[Any, ...]
    in_use: bool = field(default=False)


# At most one app a process: tests of one configuration follow each other
# (a module's, and the SQLite half before the PostgreSQL half).
_KEPT: list[Kept] = []


def lend(
    config: Config, build: Callable[[], Flask], engine: Callable[[Config], Engine]
) -> tuple[Flask, bool]:
    """An app for `config`: the kept one, put back as built on a new `engine(config)`,
    or a new one from `build()` (kept in turn unless the kept one is in use).
    Returns the app and whether it is the kept one (to give back with `give_back`)."""
    kept = _KEPT[0] if _KEPT else None
    if kept is not None and not kept.in_use:
        # Same settings, and the process's extensions still set up for it; then
        # put back, and still the shape it was built with.
        if kept.config == config and kept.built == apps_built() and limiter.enabled:
            _put_back(kept)
        if _may_lend_again(kept, config):
            database: Database = kept.app.extensions["licensing.db"]
            database.__init__(engine(config))  # type: ignore[misc]
            kept.in_use = True
            return kept.app, True
        _KEPT.clear()
        kept = None
    application = build()
    if kept is not None or not _keepable():
        return application, False
    _KEPT.append(
        Kept(
            app=application,
            config=config,
            built=apps_built(),
            settings={name: _copied(value) for name, value in application.config.items()},
            extensions=dict(application.extensions),
            shape=shape_of(application),
            in_use=True,
        )
    )
    return application, True


def give_back(application: Flask) -> None:
    """The test is done with the kept app: the next may have it."""
    for kept in _KEPT:
        if kept.app is application:
            kept.in_use = False
            database: Database = application.extensions["licensing.db"]
            # Not holding the test's closed connection until the next test.
            database.__init__(database.engine)  # type: ignore[misc]


def _keepable() -> bool:
    # Only an in-memory store can be emptied between tests.
    return limiter.enabled and isinstance(limiter._storage, MemoryStorage)


def _may_lend_again(kept: Kept, config: Config) -> bool:
    return (
        kept.config == config
        and kept.built == apps_built()
        and shape_of(kept.app) == kept.shape
        and limiter.enabled
    )


def _put_back(kept: Kept) -> None:
    application = kept.app
    settings = application.config
    for name in [name for name in settings if name not in kept.settings]:
        del settings[name]
    for name, value in kept.settings.items():
        if name not in settings or settings[name] != value:
            settings[name] = _copied(value)
    extensions = application.extensions
    for name in [name for name in extensions if name not in kept.extensions]:
        del extensions[name]
    storage = limiter._storage
    assert storage is not None  # `_keepable`, and no app built since
    storage.reset()
    application._got_first_request = False  # type: ignore[attr-defined]


def _copied(value: Any) -> Any:
    """A setting's value, its containers copied (a test may change a list in place)."""
    if isinstance(value, list | dict | set):
        return copy.deepcopy(value)
    return value


def shape_of(application: Flask) -> tuple[Any, ...]:
    """Everything about an app a test could change other than what `_put_back`
    restores, as identities: equal shapes, the same functions in the same places."""
    app_id = id(application)
    attributes = tuple(
        (name, id(value)) for name, value in vars(application).items() if name not in _LAZY
    )
    # Flask's registries are default dictionaries: a look-up adds an empty entry.
    hooks = tuple(
        (hook, tuple((name, tuple(map(id, funcs))) for name, funcs in registry.items() if funcs))
        for hook in _HOOKS
        for registry in (getattr(application, hook),)
    )
    teardowns = tuple(map(id, application.teardown_appcontext_funcs))
    errors = tuple(
        (name, code, tuple((kind, id(handler)) for kind, handler in handlers.items()))
        for name, codes in application.error_handler_spec.items()
        for code, handlers in codes.items()
        if handlers
    )
    views = tuple((name, id(view)) for name, view in application.view_functions.items())
    blueprints = tuple((name, id(blueprint)) for name, blueprint in application.blueprints.items())
    url_map = application.url_map
    rules = tuple(map(id, url_map._rules))
    converters = tuple((name, id(kind)) for name, kind in url_map.converters.items())
    jinja = application.jinja_env
    templating = (
        tuple((name, id(value)) for name, value in jinja.globals.items()),
        tuple((name, id(value)) for name, value in jinja.filters.items()),
        tuple((name, id(value)) for name, value in jinja.tests.items()),
    )
    extensions = tuple(
        (name, id(value), _contents(value)) for name, value in application.extensions.items()
    )
    receivers = tuple(tuple(sorted(signal._by_sender.get(app_id, ()))) for signal in _SIGNALS)
    others = (
        tuple(map(id, application.url_build_error_handlers)),
        tuple(map(id, application.shell_context_processors)),
        id(application.json),
        id(application.session_interface),
        application.debug,
    )
    return (
        attributes,
        hooks,
        teardowns,
        errors,
        views,
        blueprints,
        rules,
        converters,
        templating,
        extensions,
        receivers,
        others,
    )


def _contents(value: Any) -> tuple[Any, ...]:
    """An extension's contents as identities: a collection's items, an object's
    attributes (the database's are set anew for each test)."""
    if isinstance(value, Database):
        return tuple(sorted(vars(value)))
    if isinstance(value, dict):
        return tuple((key, id(item)) for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(sorted(map(id, value)))
    if hasattr(value, "__dict__"):
        return tuple((key, id(item)) for key, item in vars(value).items())
    return ()
