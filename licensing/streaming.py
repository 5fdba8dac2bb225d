"""Streamed downloads (CSV exports) that own their database session.

A streamed response is read by the client after the view has returned and the
request's session has been closed. A body generator that kept using the
request's session (or `stream_with_context`) left a transaction open after the
request: on SQLite it held the write lock, so every other request waited and
failed with "database is locked"; on PostgreSQL it left a connection "idle in
transaction". So a stream here

- opens a session of its own (`reading_session()`, on `db.read_session()`: on
  SQLite its reads take no write lock, so writers go on while a slow client
  downloads) when the client starts reading, inside an app context of its own;
- always closes it, when the last row is sent, when a row fails, and when the
  client goes away midway (the WSGI server then calls the response's `close()`,
  which closes the generator and runs its `finally`).

Usage, in a view::

    def rows(session: Session) -> Iterator[Sequence[object]]:
        for invoice in session.scalars(select(Invoice).execution_options(yield_per=500)):
            yield (invoice.number, invoice.total)

    return stream_rows(rows, header=("number", "total"), filename="invoices.csv")

`rows` may return a query's result (`session.scalars(...)`) or a generator; it
is closed with the stream, so a generator should read its results in a `with`
block. Read everything the rows need from the request (filters, the caller) *before*
calling `stream_rows`: the request is gone by the time `rows` runs. Inside
`rows`, `db.session()` is the stream's own session too.

A download whose several queries must agree with each other reads through
`reading_session(snapshot=True)`: every query then reads one snapshot
(REPEATABLE READ on PostgreSQL; SQLite's WAL read transaction is one already).
Billing exports do (`licensing.exports.services`: revenue recognition reads
invoice lines, then credit notes), streaming with the request's context kept
for their audit record, after `end_request_session()`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import AnyStr

from flask import Flask, Response, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from licensing import db

# Rows written per chunk sent to the client.
CHUNK_ROWS = 200

# What a spreadsheet would run as a formula when a cell starts with it.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (`'=1+1`)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_cell_read(text: str) -> str:
    """A cell of a CSV file this service wrote with `csv_cell`, as it was before:
    a file downloaded from here and uploaded again means the same values."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS):
        return text[1:]
    return text


@contextmanager
def reading_session(*, snapshot: bool = False) -> Iterator[Session]:
    """A session of the caller's own for a long read, closed on leaving (ending
    its transaction and returning its connection to the pool). It holds no write
    lock on SQLite; with `snapshot`, its queries read one snapshot on PostgreSQL."""
    session = _snapshot_session() if snapshot else db.read_session()
    try:
        yield session
    finally:
        session.close()


def _snapshot_session() -> Session:
    database = db.database()
    bind = database.read_sessionmaker.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        return database.read_sessionmaker(
            bind=bind.execution_options(isolation_level="REPEATABLE READ")
        )
    # SQLite: a WAL read transaction is one snapshot already. The tests bind
    # every session to one connection, rolled back at the end.
    return database.read_sessionmaker()


def end_request_session() -> None:
    """End the request's own transaction before a long stream starts, so the
    response holds nothing of the request's (on SQLite, its write lock) while
    the client reads."""
    db.session().close()


def stream_with_session(
    produce: Callable[[Session], Iterable[AnyStr]],
    *,
    mimetype: str,
    filename: str,
) -> Response:
    """A download whose body `produce(session)` generates while the client reads,
    with a session of its own that is always closed (see the module's docstring)."""
    # current_app is typed as the app it stands for, so its proxy method is unknown.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(
        _owning_session(app, produce),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def stream_rows(
    rows: Callable[[Session], Iterable[Sequence[object]]],
    *,
    header: Sequence[str],
    filename: str,
    cell: Callable[[object], str] = csv_cell,
    chunk_rows: int = CHUNK_ROWS,
) -> Response:
    """A CSV download: `header`, then every row `rows(session)` yields, each value
    written with `cell` (by default safe from spreadsheet formulas), sent in
    chunks of `chunk_rows` rows while the client reads."""

    def produce(session: Session) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        source = rows(session)
        try:
            for count, row in enumerate(source, start=1):
                writer.writerow([cell(value) for value in row])
                if count % chunk_rows == 0:
                    yield _drain(buffer)
            yield _drain(buffer)
        finally:
            # A result read with yield_per holds a server-side cursor on
            # PostgreSQL: close it with the stream, not when it is collected.
            close = getattr(source, "close", None)
            if close is not None:
                close()

    return stream_with_session(produce, mimetype="text/csv", filename=filename)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _owning_session(app: Flask, produce: Callable[[Session], Iterable[AnyStr]]) -> Iterator[AnyStr]:
    # Nothing is opened until the client starts reading; `finally` runs on the
    # last chunk, on an error, and on close() when the client goes away.
    with app.app_context(), reading_session() as session:
        g.db_session = session  # db.session() inside `produce` is this one too
        yield from produce(session)
