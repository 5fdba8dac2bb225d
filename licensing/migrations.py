"""Running Alembic from the service (no alembic.ini needed at run time).

Each feature keeps its own branch of revisions rooted at the baseline `0001`
(e.g. `accounts_0001`), with `depends_on` where its tables refer to another
feature's; `upgrade` therefore targets every head ("heads").
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from licensing.config import PROJECT_ROOT
from licensing.db import make_engine

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(database_url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Kept as an attribute, not an ini option, so that '%' in passwords is safe.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> tuple[str, ...]:
    """The revisions the database is at (one per branch head), sorted."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    finally:
        engine.dispose()


def missing(engine: Engine) -> tuple[str, ...]:
    """The revisions this code needs that the database behind `engine` has not
    had, sorted; () when it has them all (or a newer release migrated it). A
    database never migrated lacks every head."""
    with engine.connect() as connection:
        recorded = MigrationContext.configure(connection).get_current_heads()
    return behind(recorded)


def behind_message(revisions: Collection[str]) -> str:
    """What an operator reads when the database is behind the code."""
    return f"the database lacks revision(s) {', '.join(revisions)}: run `licensing db upgrade`"


def heads(database_url: str) -> tuple[str, ...]:
    """The revisions a fully upgraded database records, sorted: every branch head
    that no other head requires. Alembic leaves a revision out of the version
    table once a revision that lists it in `depends_on` is applied."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    branch_heads = set(script.get_heads())
    required: set[str] = set()
    for head in branch_heads:
        required |= _requirements(script, head)
    return tuple(sorted(branch_heads - required))


def behind(recorded: Collection[str]) -> tuple[str, ...]:
    """The revisions this code needs that a database recording `recorded` has not
    reached, sorted; () when it has them all. Also () when it records a revision
    this code does not know: a newer release migrated it, and the older processes
    keep serving through a rolling upgrade (migrations are additive)."""
    return _behind(frozenset(recorded))


@functools.lru_cache(maxsize=8)
def _behind(recorded: frozenset[str]) -> tuple[str, ...]:
    script = _script()
    known = {revision.revision for revision in script.walk_revisions()}
    if not recorded <= known:
        return ()
    applied = set(recorded)
    for revision in recorded:
        applied |= _requirements(script, revision)
    return tuple(name for name in heads("") if name not in applied)


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(""))


def _requirements(script: ScriptDirectory, revision: str) -> set[str]:
    """Every revision `revision` needs before it, through parents and `depends_on`."""
    needed: set[str] = set()
    pending = [revision]
    while pending:
        current_revision = script.get_revision(pending.pop())
        if current_revision is None:
            continue
        for name in _names(current_revision.down_revision) + _names(current_revision.dependencies):
            for parent in script.get_revisions(name):
                if parent is not None and parent.revision not in needed:
                    needed.add(parent.revision)
                    pending.append(parent.revision)
    return needed


def _names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class RowsBreakUniqueness(RuntimeError):
    """A migration about to make something unique found rows that are not."""


def refuse_duplicates(
    connection: Connection, table: str, columns: Sequence[str], where: str, rule: str
) -> None:
    """Raise, naming every row that breaks it, when `columns` are not unique among
    `table`'s rows matching `where`. Run before a unique index is made, so that an
    operator reads which rows to resolve rather than the database's bare error."""
    keys = ", ".join(columns)
    joined = " AND ".join(f"t.{name} = d.{name}" for name in columns)
    # The names and condition are the migration's own, never input.
    picked = ", ".join(f"t.{name}" for name in columns)
    rows = connection.execute(
        text(
            f"SELECT {picked}, t.id FROM {table} t "  # noqa: S608
            f"JOIN (SELECT {keys} FROM {table} WHERE {where} GROUP BY {keys} "
            f"HAVING COUNT(*) > 1) d ON {joined} ORDER BY {picked}, t.id"
        )
    ).all()
    if not rows:
        return
    groups: dict[tuple[object, ...], list[int]] = {}
    for row in rows:
        groups.setdefault(tuple(row[:-1]), []).append(row[-1])
    listed = "; ".join(
        f"{', '.join(f'{name} {value}' for name, value in zip(columns, key, strict=True))}: "
        f"{table} ids {', '.join(str(i) for i in ids)}"
        for key, ids in groups.items()
    )
    raise RowsBreakUniqueness(
        f"{rule}, but {len(groups)} cannot be made so until resolved ({listed}). "
        "This migration changed nothing; see docs/operations.md, "
        "'A migration refuses duplicate rows'."
    )
