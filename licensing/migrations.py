"""Running Alembic from the service (no alembic.ini needed at run time).

Each feature keeps its own branch of revisions rooted at the baseline `0001`
(e.g. `accounts_0001`), with `depends_on` where its tables refer to another
feature's; `upgrade` therefore targets every head ("heads").
"""

from __future__ import annotations

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
    """The newest revision of every branch in migrations/versions."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config(database_url)).get_heads()))
