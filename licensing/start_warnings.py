"""What a server says once as it starts, whichever way it was started
(`licensing serve`, or `gunicorn wsgi:app` reading `gunicorn.conf.py`): the
database lacks migrations this code needs, or production is served from SQLite.

gunicorn's master must import none of the app (`licensing.serving`), so its
`on_starting` hook runs `python -m licensing.start_warnings` (this module) in
a fresh interpreter with the server's environment: it creates the app, logs
what it finds under `licensing.serve`, and exits 0 whatever it found. A
setting that cannot start the service is left to the workers, which name it."""

from __future__ import annotations

import logging

from flask import current_app

log = logging.getLogger("licensing.serve")


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


def main() -> None:
    from licensing.app import START_UP_REFUSALS, create_app

    try:
        app = create_app()
    except START_UP_REFUSALS:
        return  # each worker names the setting, and the master stops
    with app.app_context():
        warn_when_schema_behind()
        warn_about_sqlite_in_production()


if __name__ == "__main__":
    main()
