"""The test harness.

Tiers:
- tests/unit: no app, no database.
- tests/integration: the app against a real database. The `app` fixture runs
  each test on SQLite and on PostgreSQL (a server this session starts itself),
  inside one outer transaction that is rolled back at the end.
- tests/browser: Chromium (Debian's, driven by Playwright) against the app served
  on a loopback port, with a fresh database per test.

Without CI=true, a PostgreSQL or browser test that cannot run here is skipped
with a one-line reason; with CI=true it fails.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, request_started
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import Connection, Engine, event

from licensing import db as db_module
from licensing import migrations
from licensing.app import App, create_app
from licensing.config import Config
from licensing.db import Database, make_engine
from tests.support import kept_app
from tests.support.servers import (
    LiveServer,
    LocalStripe,
    PostgresServer,
    ServerUnavailable,
    SMTPServer,
)

# Timing is never asserted in tests (BENCHMARKS.md measures it): Hypothesis's
# per-example deadline and its too-slow health check failed properties at random
# on a loaded two-core machine, saying nothing about their behaviour.
settings.register_profile("licensing", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("licensing")

IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ("sqlite", "postgresql")
TEST_SECRET_KEY = "test-secret-key-not-for-production"
TEST_AUDIT_KEY = "test-audit-key-not-for-production"


# `xdist_group` kept working under pytest 9 (round 64; the module says how).
pytest_plugins = ["tests.support.xdist_groups", "tests.support.statement_sites"]


def unavailable(reason: str) -> None:
    """Skip locally; fail under CI, where every tier must run."""
    if IN_CI:
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-audit-watch",
        action="store_true",
        help="run the integration tier without its audit watch (tests/support/audited.py)",
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Take what collection left (the imported service, its tests and their
    libraries) out of the garbage collector's sight, as `licensing serve`'s
    workers do with what they hold at start (`freeze_start_up_objects`).

    Each full collection walked all of it, for every test: building an app took
    35 ms of CPU with the collector on and 12 ms with it off, and a file of
    integration tests about a sixth more CPU than with these objects frozen.
    Objects made later, by the tests, are collected as before."""
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid or "tests\\browser\\" in item.nodeid:
            item.add_marker(pytest.mark.browser)
    # Longest first: xdist hands out tests in this order, and a long test (or a
    # group bound to one worker) handed out last keeps one worker busy while the
    # other has nothing left. The order within each kind is kept.
    items.sort(key=_runs_long, reverse=True)


# How many more objects than it frees the collector's youngest generation may
# hold, while a test on an app runs, before it is walked (CPython's default: 700).
YOUNG_OBJECTS_WHILE_A_TEST_RUNS = 20_000

# The fixtures that build an app for the test (and so leave one behind it).
_APP_FIXTURES = frozenset({"app", "committed_app"})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """A test on an app runs with the garbage collector's young walks put off,
    and is followed by one collection of the young generations, once pytest has
    let go of its fixtures (round 65).

    Each test's app is a hundred thousand objects or so tied in cycles (the app,
    its blueprints' records, its URL rules, the matcher's states), which only a
    collection frees. At CPython's thresholds (the young objects walked for every
    700 more made, the older ones every tenth time, every object not frozen once
    enough had survived), a test's app and its requests' objects were walked again
    and again while they lived, and the apps of earlier tests waited for a full
    collection that walked the live one too: building an app took 18 ms of CPU
    with the collector on and 8 ms with it off. Here the youngest generation is
    walked only past `YOUNG_OBJECTS_WHILE_A_TEST_RUNS` (a test that makes many
    objects is still collected as it goes, so memory stays bounded), and after
    the test, with its app dropped, one collection of the two young generations
    frees the app and what its requests left, walking each about once. What
    survives it is collected later, as before; nothing is frozen or kept."""
    fixtures = getattr(item, "fixturenames", ())
    if not _APP_FIXTURES.intersection(fixtures):
        return (yield)
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], YOUNG_OBJECTS_WHILE_A_TEST_RUNS), *threshold[1:])
    try:
        return (yield)
    finally:
        gc.set_threshold(*threshold)
        gc.collect(1)


def _runs_long(item: pytest.Item) -> bool:
    return item.get_closest_marker("browser") is not None or any(
        marker.args == ("schemathesis",) for marker in item.iter_markers("xdist_group")
    )


# --- databases -----------------------------------------------------------------


@event.listens_for(Engine, "connect")
def _unordered_selects_come_back_reversed(dbapi_connection: Any, _record: Any) -> None:
    """Every SQLite connection the suite opens returns a SELECT without an ORDER BY
    in reverse. PostgreSQL returns such rows in whatever order its plan gives, and
    SQLite in insertion order, so a page, export or test that leaned on an unstated
    order passed here and failed on PostgreSQL now and then (round 21: a test took
    the "last" audit event). Reversed, it fails on SQLite every time. Tests only:
    the service states every order it relies on (README, Tests)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA reverse_unordered_selects = ON")


@dataclass
class DatabaseTemplate:
    """A migrated, empty database that fresh test databases are copied from."""

    backend: str
    url: str
    new_url: Callable[[], str]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer().start()
    except ServerUnavailable as exc:
        unavailable(f"PostgreSQL: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> DatabaseTemplate:
    directory = tmp_path_factory.mktemp("sqlite")
    template = directory / "template.db"
    url = f"sqlite:///{template}"
    migrations.upgrade(url)

    def new_url() -> str:
        copy = directory / f"db-{uuid.uuid4().hex}.db"
        shutil.copyfile(template, copy)
        return f"sqlite:///{copy}"

    return DatabaseTemplate("sqlite", new_url(), new_url)


@pytest.fixture(scope="session")
def postgresql_template(postgres_server: PostgresServer) -> DatabaseTemplate:
    template_url = postgres_server.create_database("licensing_template")
    migrations.upgrade(template_url)

    def new_url() -> str:
        return postgres_server.create_database(
            f"licensing_{uuid.uuid4().hex[:12]}", template="licensing_template"
        )

    return DatabaseTemplate("postgresql", new_url(), new_url)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_template(request: pytest.FixtureRequest, backend: str) -> DatabaseTemplate:
    template: DatabaseTemplate = request.getfixturevalue(f"{backend}_template")
    return template


# --- configuration and app ----------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server: SMTPServer) -> Iterator[SMTPServer]:
    """The loopback SMTP server, emptied for this test."""
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()


def make_config(database_url: str, **changes: Any) -> Config:
    values: dict[str, Any] = {
        "environment": "testing",
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "audit_hmac_key": TEST_AUDIT_KEY,
        "public_url": "http://testserver",
        "quote_rate_limit": "off",
        "document_rate_limit": "off",
        "mail_from": "CPT Licensing <licensing@example.test>",
        "overrides": {"WTF_CSRF_ENABLED": False},
    }
    values.update(changes)
    return Config(**values)


@pytest.fixture
def config_changes() -> dict[str, Any]:
    """Override in a test module to change the app's configuration."""
    return {}


def _forget_csrf_token(sender: Flask, **_: Any) -> None:
    """The test's app context outlives each request, and every request shares its
    `g`, where Flask-WTF caches the request's CSRF token: a page after sign-in (which
    starts a new session) was given the token of the session before, and its form was
    refused. Each request starts without it, as each has its own `g` in production."""
    g.pop(sender.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


# One engine per template database and process, kept for the whole session.
_TEMPLATE_ENGINES: dict[tuple[str, str], Engine] = {}


def _engine_of_template(url: str, *, jit: str = "server") -> Engine:
    """The template database's engine as a new `Engine` of its own for one app.

    Each test built its own app and so its own engine, whose SQLAlchemy dialect
    and compiled-statement cache started empty: every statement a test ran was
    compiled again (SQL compilation was about a seventh of an integration test's
    time). The engine returned is an option engine of one kept per process: it
    shares the dialect and the compiled-statement cache (keyed by dialect,
    statement and options, so what runs is the same SQL) and its connection
    pool, but its event listeners are its own, so a listener a test adds to its
    app's engine goes with the test."""
    engine = _TEMPLATE_ENGINES.get((url, jit))
    if engine is None:  # one a JIT setting: it is each connection's startup option
        engine = _TEMPLATE_ENGINES[url, jit] = make_engine(url, jit=jit)
    return engine.execution_options()


_FROZEN_AFTER_AN_APP: list[bool] = []


def _freeze_once_the_first_app_is_built() -> None:
    """What the first app of the process leaves for every later one (each rule's
    parsed parts, the API document, compiled templates) frozen too; the first
    app itself with it, never freed (one a process)."""
    if not _FROZEN_AFTER_AN_APP:
        _FROZEN_AFTER_AN_APP.append(True)
        gc.collect()
        gc.freeze()


@contextmanager
def app_in_transaction(
    database_url: str,
    config_changes: dict[str, Any],
    shared: Connection | None = None,
    *,
    keep: bool = False,
) -> Iterator[Flask]:
    """An app on `database_url` whose every session runs inside one transaction,
    rolled back at the end, with its app context pushed.

    The transaction is an outer one on a connection of its own, or, given the
    `shared` connection of a module's prepared data (`module_connection`), a
    savepoint on it: the test sees the module's data and what it writes goes.
    `keep=True` (the fixture preparing the data) releases the savepoint instead,
    leaving what was made in the module's transaction."""
    config = make_config(database_url, **config_changes)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db_module, "make_engine", _engine_of_template)
        # The process's kept app for this configuration, put back as built, or a new
        # one (round 67: `tests/support/kept_app.py` says what is put back).
        application, lent = kept_app.lend(
            config,
            lambda: create_app(config),
            lambda config: _engine_of_template(config.database_url, jit=config.database_jit),
        )
    _freeze_once_the_first_app_is_built()
    database: Database = application.extensions["licensing.db"]
    try:
        connection = database.engine.connect() if shared is None else shared
        transaction = connection.begin() if shared is None else connection.begin_nested()
    except BaseException:
        if lent:
            kept_app.give_back(application)
        raise
    database.bind_to(connection)
    request_started.connect(_forget_csrf_token, application)
    try:
        with application.app_context():
            yield application
    finally:
        if lent:  # first: a failed rollback below must not keep the app from the next test
            kept_app.give_back(application)
        request_started.disconnect(_forget_csrf_token, application)
        if transaction.is_active:
            if keep and shared is not None:
                transaction.commit()
            else:
                transaction.rollback()
        if shared is None:
            connection.close()
            database.engine.dispose()


# The connection of the module whose prepared data is alive now, by database URL.
_MODULE_CONNECTIONS: dict[str, Connection] = {}


@pytest.fixture(scope="module")
def module_connection(database_template: DatabaseTemplate) -> Iterator[Connection]:
    """One connection, in one transaction rolled back when the module's tests are
    done, for data made once and only read by the tests (a module-scoped fixture
    asks for this and makes its data with `app_in_transaction(..., shared=...)`).

    While it lives, every test of the module gets its `app` on this connection,
    inside a savepoint of its own: what one test writes is gone before the next,
    and no test waits on a lock the prepared data holds (pytest ends a module's
    fixtures before the next module's tests run)."""
    connection = _engine_of_template(database_template.url).connect()
    outer = connection.begin()
    _MODULE_CONNECTIONS[database_template.url] = connection
    yield connection
    del _MODULE_CONNECTIONS[database_template.url]
    outer.rollback()
    connection.close()


@pytest.fixture
def app(database_template: DatabaseTemplate, config_changes: dict[str, Any]) -> Iterator[Flask]:
    """The app on one backend; everything the test writes is rolled back."""
    shared = _MODULE_CONNECTIONS.get(database_template.url)
    with app_in_transaction(database_template.url, config_changes, shared) as application:
        yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def committed_app(
    database_template: DatabaseTemplate, config_changes: dict[str, Any]
) -> Iterator[Flask]:
    """The app on a fresh database of its own, with real commits (for concurrency
    tests and anything that needs several connections)."""
    application = create_app(make_config(database_template.new_url(), **config_changes))
    yield application
    application.extensions["licensing.db"].engine.dispose()


# --- external services -------------------------------------------------------------


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    try:
        server = LocalStripe().start()
    except ServerUnavailable as exc:
        unavailable(f"localstripe: {exc}")
    yield server
    server.stop()


# --- browser -----------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def browser_config_changes() -> dict[str, Any]:
    """Override in a browser test module to change the live server's configuration."""
    return {}


@pytest.fixture
def live_server(
    sqlite_template: DatabaseTemplate,
    smtp_server: SMTPServer,
    browser_config_changes: dict[str, Any],
) -> Iterator[LiveServer]:
    """The app on a fresh SQLite database, served on a loopback port."""
    changes: dict[str, Any] = {
        "smtp_url": smtp_server.url,
        "send_mail_after_request": True,
        "overrides": {},  # CSRF stays on: the browser submits real forms
    }
    changes.update(browser_config_changes)
    server = LiveServer(create_app(make_config(sqlite_template.new_url(), **changes))).start()
    # Links in emails must point at this server, whose port is known only now.
    server.app.config["LICENSING"] = dataclasses.replace(
        server.app.config["LICENSING"], public_url=server.url
    )
    yield server
    server.stop()
    server.app.extensions["licensing.db"].engine.dispose()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


# --- accounts: who is calling ------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """argon2id with its cheapest parameters: the same algorithm and code path,
    a hundred times faster than the production cost (tests make many users)."""
    from argon2 import PasswordHasher, profiles

    from licensing.accounts import passwords

    original = passwords.HASHER
    passwords.HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
    yield
    passwords.HASHER = original


class _CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, kept in memory for every app of this process.

    Each test builds its own app, and each app's Jinja environment compiled
    every template it rendered anew (about 18 ms a template here), a page test
    paying for the page, its layout and its macros. Jinja's bytecode cache is
    made for this: the compiled code is keyed by the template's name and
    checked against its source, so a template edited mid-session is compiled
    again; rendering is the same."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        compiled = self._compiled.get(bucket.key)
        if compiled is not None:
            bucket.bytecode_from_string(compiled)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def _apps_counted() -> Iterator[None]:
    """Every app the process builds is counted: the kept app is lent again only if
    none was built since it (`tests/support/kept_app.py`)."""
    with kept_app.counting_apps():
        yield


@pytest.fixture(scope="session", autouse=True)
def _templates_compiled_once() -> Iterator[None]:
    original = App.jinja_options
    App.jinja_options = {**original, "bytecode_cache": _CompiledTemplates()}
    yield
    App.jinja_options = original


@pytest.fixture
def vendor(app: Flask) -> Any:
    """A vendor user (email confirmed) of an active organization; password
    `factories.DEFAULT_PASSWORD`."""
    from licensing import db
    from tests.support import factories

    return factories.make_vendor(db.session())


@pytest.fixture
def other_vendor(app: Flask) -> Any:
    """A vendor user of another active organization."""
    from licensing import db
    from tests.support import factories

    return factories.make_vendor(db.session())


@pytest.fixture
def licensing_staff(app: Flask) -> Any:
    from licensing import db
    from tests.support import factories

    return factories.make_staff(db.session(), roles=("licensing",))


@pytest.fixture
def billing_staff(app: Flask) -> Any:
    from licensing import db
    from tests.support import factories

    return factories.make_staff(db.session(), roles=("billing",))


@pytest.fixture
def admin(app: Flask) -> Any:
    from licensing import db
    from tests.support import factories

    return factories.make_staff(db.session(), roles=("admin",))


@pytest.fixture
def signed_in(app: Flask) -> Callable[..., FlaskClient]:
    """`signed_in(client, user)`: signs `user` in through the sign-in page (with
    `factories.DEFAULT_PASSWORD` unless `password=` is given); returns the client."""
    from tests.support.factories import DEFAULT_PASSWORD

    def sign_in(client: FlaskClient, user: Any, password: str = DEFAULT_PASSWORD) -> FlaskClient:
        response = client.post("/sign-in", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return client

    return sign_in
