"""Counting the SQL statements a step sends (the query-count tests: no query per row)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event


@contextmanager
def sent_on(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent while inside, on every connection of `engine`."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def sent_by(app: Flask) -> Any:
    """`sent_on` the app's engine (a test whose app has a connection of its own;
    one on a module's shared connection counts on that connection's engine)."""
    return sent_on(app.extensions["licensing.db"].engine)


def statements_for(app: Flask, client: FlaskClient, url: str, **kwargs: Any) -> int:
    """How many SQL statements `client.get(url)` sends once warm (a first request reads
    what is kept per process); both answers must be 200."""
    warm = client.get(url, **kwargs)
    assert warm.status_code == 200, (url, warm.status_code, warm.get_data(as_text=True)[:500])
    with sent_by(app) as statements:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    return len(statements)


@contextmanager
def loaded(model: type[Any]) -> Iterator[list[Any]]:
    """The instances of `model` the ORM builds from rows while inside (a step that
    reads a whole list in one statement reads it in one statement at any size: the
    rows it loads tell). Expunge the session first to count what is already there."""
    found: list[Any] = []

    def record(target: Any, _context: Any) -> None:
        found.append(target)

    event.listen(model, "load", record)
    try:
        yield found
    finally:
        event.remove(model, "load", record)


def reads_from(statements: list[str], table: str) -> int:
    """How many of `statements` are SELECTs from `table` itself (a join to it from
    another table is not counted): a row a step reads again counts twice (round 68)."""
    found = 0
    for statement in statements:
        text = " ".join(statement.split())
        found += text.upper().startswith("SELECT") and f" FROM {table} " in f"{text} "
    return found
