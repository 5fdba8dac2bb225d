"""What a server says once as it starts, whichever way it was started
(`licensing serve`, or `gunicorn wsgi:app` reading `gunicorn.conf.py`): a
development key generated, the database lacks migrations this code needs, or
production is served from SQLite.

Said by the server's first worker to boot, once its app is built and logging set
up (`licensing.serving.app_for_a_worker`): gunicorn's master, which imports none
of the app, leaves a flag file at start that the first worker removes (round 36;
before, the master ran this module in a fresh interpreter that built a second
app, about a second of every start, and the development keys' lines were bare
text, said by each process that built the app). A reload (`kill -HUP`) leaves the
flag again, so the first worker it starts says them once more (round 40). A
command run on its own (`licensing outbox send`) says its development keys itself
(`licensing.cli`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from licensing.config import Config

log = logging.getLogger("licensing.serve")
# The development keys' lines keep the logger they had (`licensing.config`).
config_log = logging.getLogger("licensing.config")


def warn_about_sqlite_in_production() -> None:
    """Production accepts an explicit SQLite DATABASE_URL (a one-person trial), but
    serving it with several workers or hosts queues every write behind one lock, and
    the documented backups are PostgreSQL's: say so where the operator looks."""
    config = current_app.config["LICENSING"]
    if config.is_production and config.database_url.startswith("sqlite"):
        log.warning(
            "DATABASE_URL is a SQLite file in production: one writer at a time for "
            "every worker and host, and the backups docs/operations.md describes are "
            "PostgreSQL's. Serve production from PostgreSQL "
            "(postgresql://user:password@host/database)."
        )


def warn_when_schema_behind() -> None:
    """Say at start when the database lacks migrations this code needs: the server
    still starts (a rolling upgrade starts new code before `licensing db upgrade`),
    but its `/readyz` answers 503 and pages on new tables would fail until then."""
    from sqlalchemy.exc import SQLAlchemyError

    from licensing import db, migrations

    try:
        missing = migrations.missing(db.database().engine)
    except SQLAlchemyError as error:
        log.warning("The database cannot be read: %s", type(error).__name__)
        return
    if missing:
        log.warning(
            "%s. Serving meanwhile: /readyz answers 503 (schema behind) until it is run.",
            migrations.behind_message(missing).capitalize(),
        )


def development_keys(config: Config) -> None:
    """The development keys this configuration generated (`Config.start_warnings`),
    logged in the app's format now that logging is set up."""
    for warning in config.start_warnings:
        config_log.warning("%s", warning)


def limits_in_memory() -> str | None:
    """The limiter's store when it is each process's memory (limits on), else None."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    storage = str(current_app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    return storage if storage.startswith("memory://") else None


def limits_per_worker(workers: int | None) -> None:
    """Say that several workers each count the rate limits alone, when they do."""
    storage = limits_in_memory()
    if storage is None or workers is None or workers <= 1:
        return
    log.warning(
        "Rate limits are counted per worker: %d workers each keep their own counts "
        "in memory (RATELIMIT_STORAGE_URI=%s), so a client may make up to %d times "
        "what a limit allows. Set RATELIMIT_STORAGE_URI to a store the workers share "
        "(redis://HOST:6379/0 or memcached://HOST:11211) to count them together, or "
        "leave out --workers to serve with one (docs/security.md, Rate limits).",
        workers,
        storage,
        workers,
    )


def at_server_start(app: Flask, *, workers: int | None = None) -> None:
    """Everything a server says once as it starts (the module's docstring). Said by
    a worker about to serve: a check that fails is logged, and the worker serves
    (when the master ran them in an interpreter of their own, a failure there
    stopped nothing either). `workers`: how many the master starts, when the
    command that started it has not said what that means for the rate limits."""
    with app.app_context():
        development_keys(app.config["LICENSING"])
        try:
            limits_per_worker(workers)
            warn_when_schema_behind()
            warn_about_sqlite_in_production()
        except Exception:  # a warning's check never stops the server
            log.exception("The start-up checks could not run; serving anyway")
