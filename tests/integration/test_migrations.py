"""Alembic migrations build the schema the models describe, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, column, insert, inspect, text
from sqlalchemy import table as sql_table
from sqlalchemy.exc import IntegrityError

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


def _insert(connection: Connection, table: str, **values: object) -> int:
    """A row as the migrated schema stands (no model: it may differ from the models)."""
    rows = sql_table(table, *(column(name) for name in values), column("id"))
    return int(connection.execute(insert(rows).values(values).returning(rows.c.id)).scalar_one())


def _organization_and_user(connection: Connection, role: str) -> tuple[int, int]:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    organization_id = _insert(
        connection,
        "organizations",
        legal_name="Kestrel Health Software",
        organization_type="commercial",
        address_line1="1 Quay Street",
        city="Portland",
        country="US",
        billing_contact_name="Rosa Lindqvist",
        billing_email="ap@kestrel.example",
        standing="active",
        created_at=now,
    )
    user_id = _insert(
        connection,
        "users",
        email=f"{role}-{organization_id}@kestrel.example",
        password_hash="x",
        full_name="Rosa Lindqvist",
        organization_id=organization_id,
        organization_role=role,
        staff_roles="",
        failed_login_count=0,
        is_active=True,
        created_at=now,
    )
    return organization_id, user_id


def test_the_database_refuses_an_organization_role_it_does_not_know(
    database_template: DatabaseTemplate,
) -> None:
    """The CHECK on both backends (SQLite had none before accounts_0006): a role the
    services would never store is refused by the database too, and `billing` kept."""
    engine = make_engine(database_template.new_url())
    try:
        with engine.connect() as connection, connection.begin():
            _organization_and_user(connection, "billing")
        with (
            engine.connect() as connection,
            connection.begin(),
            pytest.raises(IntegrityError, match=r"(?i)check"),
        ):
            _organization_and_user(connection, "owner")
    finally:
        engine.dispose()


def test_sqlite_keeps_every_row_that_refers_to_a_user_when_accounts_0006_adds_the_checks(
    tmp_path: Path,
) -> None:
    """accounts_0006 recreates `users` on SQLite. With foreign keys on, dropping the
    old table would delete its rows first, and `idempotent_requests` (ON DELETE
    CASCADE) would lose its rows without a word: the migration turns them off."""
    url = f"sqlite:///{tmp_path}/upgrade.db"
    migrations.upgrade(url)
    migrations.downgrade(url, "accounts_0005")
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            _, user_id = _organization_and_user(connection, "member")
            _insert(
                connection,
                "idempotent_requests",
                user_id=user_id,
                key_hash="k" * 64,
                request_hash="r" * 64,
                response_status=201,
                response_body="{}",
                created_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
            )
        migrations.upgrade(url)
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT user_id FROM idempotent_requests")).all()
            checks = {check["name"] for check in inspect(connection).get_check_constraints("users")}
            keys_on = connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
    finally:
        engine.dispose()
    assert kept == [(user_id,)]
    assert {"ck_users_organization_role", "ck_users_role_in_organization"} <= checks
    assert keys_on == 1
