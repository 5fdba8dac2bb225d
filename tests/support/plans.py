"""A statement's plan as the database would run it, with its own values: the SQL a
statement sends (caught as it runs) EXPLAINed on the same connection. On PostgreSQL
sorting and sequential scans are priced out (`enable_sort`, `enable_seqscan`), as at
a size where reading an index in order wins: the plan then has a Sort, or a scan of
a table, only where no index can serve (round 51's royalty queue test, shared)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Table, event, insert, select

from licensing import db


@contextmanager
def sent_with_values(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements sent on `engine` while inside, each with its values."""
    caught: list[tuple[str, Any]] = []

    def note(*args: Any) -> None:
        caught.append((str(args[2]), args[3]))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield caught
    finally:
        event.remove(engine, "before_cursor_execute", note)


def sent(statement: Any, *, containing: str = "") -> tuple[str, Any]:
    """The SQL `statement` sends when run in the test's session, and its values (the
    first statement sent whose SQL has `containing`)."""
    session = db.session()
    with sent_with_values(session.get_bind()) as caught:
        session.execute(statement).all()
    return next((sql, values) for sql, values in caught if containing in sql)


def plan_of(sql: str, values: Any, *, sorts_priced_out: bool = True) -> list[str]:
    """The plan's lines: SQLite's `EXPLAIN QUERY PLAN` details, each prefixed by its
    depth in the tree (two spaces a level), or PostgreSQL's `EXPLAIN` as printed.
    Without `sorts_priced_out` PostgreSQL may sort (a question for one row, first by
    id, would otherwise walk the whole primary key in order rather than sort the few
    rows an index finds)."""
    connection = db.session().connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL enable_sort = {'off' if sorts_priced_out else 'on'}")
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return [str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {sql}", values)]
    rows = list(connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", values))
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return lines


def subtree(lines: list[str], starting: str) -> list[str]:
    """The lines of the plan's node whose text starts with `starting` and every
    line under it (deeper indented), that node included."""
    for index, line in enumerate(lines):
        text = line.lstrip(" ->")
        if text.startswith(starting):
            indent = len(line) - len(line.lstrip(" ->"))
            below = [line]
            for after in lines[index + 1 :]:
                if len(after) - len(after.lstrip(" ->")) <= indent:
                    break
                below.append(after)
            return below
    raise AssertionError(f"no node {starting!r} in the plan:\n" + "\n".join(lines))


def sorts(lines: list[str], dialect: str) -> list[str]:
    """The lines that sort rows: SQLite's temporary B-trees, PostgreSQL's Sort nodes."""
    word = "Sort" if dialect == "postgresql" else "TEMP B-TREE"
    return [line for line in lines if word in line and "Sort Key" not in line]


def analyzed(*tables: str) -> None:
    """On PostgreSQL, ANALYZE `tables` in the test's transaction, so that the plan is
    priced on the test's own rows rather than on whatever statistics the database has
    at that moment: none (never analyzed), an empty table's, or those an earlier
    test's ANALYZE or autovacuum left (a count ANALYZE writes in place outlives the
    test's rollback; round 57 found plans that changed index with each). SQLite's
    planner, without statistics, is left as it is.

    Name only the tables the statement reads (round 58): the counts this writes stay
    after the test, so a bare `ANALYZE` wrote a count into every table, and a later
    test that prices its plan on an empty table read them (the late-fee sweep chose
    another index). A plan test therefore prices its plan on rows of its own that
    decide it, ANALYZEd here, and never on what the tables hold when it starts."""
    connection = db.session().connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {', '.join(tables)}")


def copied(table: Table, of_id: int, count: int, vary: Callable[[int], dict[str, Any]]) -> None:
    """`count` copies of `table`'s row `of_id` (each with an id of its own), the `n`th
    changed by `vary(n)` (a unique column given a value of its own, a day moved off
    the one the statement asks for): rows a plan test prices its plan on (round 58,
    plans58b), inserted in one statement, ANALYZEd then by `analyzed`."""
    session = db.session()
    first = dict(session.execute(select(table).where(table.c.id == of_id)).one()._mapping)
    del first["id"]
    session.execute(insert(table), [first | vary(n) for n in range(count)])
