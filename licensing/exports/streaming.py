"""The session an export reads from: its own, short-lived, and always closed.

A streamed response outlives the request that started it, and its client may
stop reading at any point. So the export never reads through the request's
session: it opens a session of its own when the first byte is wanted and closes
it (ending its transaction and returning the connection to the pool) when the
stream ends, fails or is closed midway (the WSGI server closes the response
when the client goes away; the generator's `finally` runs then).

While it streams, writers are not kept waiting: on PostgreSQL a reading
transaction blocks no writer; on SQLite a read outside a unit of work begins
DEFERRED, as a WAL reader, never taking the write lock. Either way the
export reads one snapshot (REPEATABLE READ on PostgreSQL; a WAL read
transaction on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from licensing import db


@contextmanager
def reading_session() -> Iterator[Session]:
    database = db.database()
    bind = database.sessionmaker.kw.get("bind")
    if isinstance(bind, Engine):
        options: dict[str, object] = {}
        if bind.dialect.name == "postgresql":
            # One snapshot for every query of the export (revenue recognition
            # reads invoice lines, then credit notes): a credit note committed
            # in between cannot make the file disagree with itself.
            options["isolation_level"] = "REPEATABLE READ"
        session = database.sessionmaker(bind=bind.execution_options(**options))
    else:  # the tests bind every session to one connection, rolled back at the end
        session = database.sessionmaker()
    try:
        yield session
    finally:
        session.close()


def end_request_session() -> None:
    """End the request's own transaction before a long stream starts, so the
    response holds nothing of the request's (on SQLite, its write lock) while
    the client reads."""
    db.session().close()
