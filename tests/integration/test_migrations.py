"""Alembic migrations build the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from licensing import migrations, models
from licensing.db import make_engine
from tests.conftest import DatabaseTemplate


def test_an_empty_database_upgrades_to_head(database_template: DatabaseTemplate) -> None:
    url = database_template.new_url() if database_template.backend == "postgresql" else None
    if url is None:
        import tempfile

        url = f"sqlite:///{tempfile.mkdtemp()}/empty.db"
    else:
        # A database copied from the template is already migrated: start from nothing.
        migrations.downgrade(url, "base")
        assert migrations.current(url) == ()
    migrations.upgrade(url)
    assert migrations.current(url) == migrations.heads(url)


def test_migrated_schema_matches_the_models(database_template: DatabaseTemplate) -> None:
    engine = make_engine(database_template.url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, models.Base.metadata)
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert differences == []
    assert set(models.Base.metadata.tables) <= tables


def test_migrations_downgrade_to_base_and_back(database_template: DatabaseTemplate) -> None:
    url = database_template.new_url()
    migrations.downgrade(url, "base")
    migrations.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert set(models.Base.metadata.tables) <= tables
