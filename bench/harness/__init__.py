"""What the benchmarks in bench/ set up alike, said once: the repository on the
import path, the service on a fresh database, and a PostgreSQL database to measure on
(`--postgresql URL`, or `auto` for a throwaway server started as the test suite
does). A package, not a script: `make bench` runs every `bench/*.py` and not this.

Each script still declares its own `--postgresql` option (with `POSTGRESQL_HELP` or
its own words): `make bench` looks for it in the script to pass `--postgresql auto`."""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POSTGRESQL_HELP = (
    "also on PostgreSQL: an empty database's URL, or 'auto' to start a throwaway "
    "server as the test suite does"
)


def bench_app(database_url: str, *, migrate: bool = True, **config: Any) -> Any:
    """The service on `database_url`, migrated first unless not `migrate`, as the
    benchmarks run it: the
    testing environment, throwaway keys, no quote rate limit; `config` adds to or
    replaces the `Config` fields (`overrides={"WTF_CSRF_ENABLED": False}`)."""
    from licensing import migrations
    from licensing.app import create_app
    from licensing.config import Config

    if migrate:
        migrations.upgrade(database_url)
    fields: dict[str, Any] = {
        "environment": "testing",
        "database_url": database_url,
        "secret_key": "bench-secret-key",
        "audit_hmac_key": "bench-audit-key",
        "quote_rate_limit": "off",
    }
    return create_app(Config(**(fields | config)))


def quiet_migrations() -> None:
    """No Alembic INFO lines between the figures (the app's logging set-up lets them
    through on a second database's migrations)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


@contextmanager
def postgresql(
    given: str | None,
    database: str,
    *,
    unavailable: str | None = "skipped: no PostgreSQL server ({})",
) -> Iterator[tuple[str | None, Any]]:
    """The PostgreSQL database to measure on and the server `auto` started (None for
    a URL given): `given` as it is, or with `auto` a new database `database` on a
    throwaway server, stopped when done. No database when none was asked for, or when
    `auto` starts no server: `unavailable` is printed with why (None: it raises)."""
    if given != "auto":
        yield given, None
        return
    from tests.support.servers import PostgresServer, ServerUnavailable

    try:
        server = PostgresServer().start()
    except ServerUnavailable as why:
        if unavailable is None:
            raise
        print(unavailable.format(why))
        yield None, None
        return
    try:
        yield server.create_database(database), server
    finally:
        server.stop()


def sqlite_then_postgresql(
    given: str | None,
    database: str,
    measure: Callable[[str, str], None],
    *,
    unavailable: str | None = None,
) -> None:
    """`measure(label, url)` on a fresh SQLite file ("SQLite"), then on PostgreSQL
    ("PostgreSQL") where `given` asks for it, as `postgresql` reads it."""
    with postgresql(given, database, unavailable=unavailable) as (url, _server):
        with tempfile.TemporaryDirectory() as directory:
            measure("SQLite", f"sqlite:///{directory}/bench.db")
        if url:
            measure("PostgreSQL", url)
