"""Running Alembic from the service (no alembic.ini needed at run time).

Each feature keeps its own branch of revisions rooted at the baseline `0001`
(e.g. `accounts_0001`), with `depends_on` where its tables refer to another
feature's; `upgrade` therefore targets every head ("heads").
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

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
