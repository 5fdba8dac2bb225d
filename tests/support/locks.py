"""Whether a writer would have to wait, asked without a clock."""

from __future__ import annotations

import sqlite3

from flask import Flask
from sqlalchemy import text


def write_lock_is_free(app: Flask, table: str) -> bool:
    """True if a writer to `table` can start now, without queueing behind any
    other connection: SQLite's write lock taken with no busy timeout at all,
    PostgreSQL's row-writer lock on the table taken with NOWAIT. Either is
    refused at once, not after a wait, when another connection holds the lock."""
    engine = app.extensions["licensing.db"].engine
    if engine.dialect.name == "sqlite":
        connection = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                return False
            raise
        finally:
            connection.close()
        return True
    with engine.connect() as connection, connection.begin() as transaction:
        try:
            connection.execute(text(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE NOWAIT"))
        except Exception as exc:  # psycopg's LockNotAvailable, wrapped by SQLAlchemy
            if "could not obtain lock" in str(exc):
                return False
            raise
        finally:
            transaction.rollback()
    return True
