"""Alembic environment: one schema for SQLite and PostgreSQL.

The database URL comes from `licensing.migrations` (the `licensing db upgrade`
command) or, when `alembic` is run by hand, from DATABASE_URL via Config.
"""

from __future__ import annotations

from alembic import context
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from licensing import models
from licensing.config import Config
from licensing.db import make_engine

config = context.config
target_metadata = models.Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url")
    return url or Config.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                _sqlite_foreign_keys_off(connection)
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things: batch mode rebuilds the table.
                render_as_batch=sqlite,
                compare_type=True,
                on_version_apply=(_sqlite_references_intact,) if sqlite else (),
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def _sqlite_foreign_keys_off(connection: Connection) -> None:
    """Batch mode rebuilds a table by copying it and dropping the old one. With
    SQLite's foreign keys on, that drop is refused while other rows refer to the
    table, or (ON DELETE CASCADE) deletes those rows without a word. So every
    migration on SQLite runs with them off, on this connection only (the engine is
    disposed after the run), and `_sqlite_references_intact` checks each step.
    The pragma is ignored inside a transaction: it is set before one begins."""
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    driver_connection.execute("PRAGMA foreign_keys = OFF")


def _sqlite_references_intact(*, ctx: MigrationContext, step: object, **_: object) -> None:
    """After each migration, inside its transaction: a reference it left dangling
    stops it there (rolled back), as the foreign keys would have."""
    assert ctx.connection is not None
    dangling = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        raise RuntimeError(
            f"{step}: references left dangling (table, rowid, parent): {dangling[:5]}"
        )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
