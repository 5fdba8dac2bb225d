"""Accounts: a third role inside a vendor organization, `billing`.

A vendor's accounts-payable clerk reads and pays the invoices, and sees the
agreements and royalty reports they are for, but applies for nothing, accepts
nothing and reports nothing (docs/accounts.md, "Roles"). The role columns of
`users` and `one_time_tokens` (an invitation's role) accept the new value.

PostgreSQL replaces the CHECK constraints in place. SQLite had none
(`accounts_0004`: recreating `users` was refused while other rows refer to it);
it gets them now, by recreating the two tables with foreign keys off for the copy.
That is safe only with them off: with them on, dropping the old `users` deletes
its rows first, and `idempotent_requests.user_id` is ON DELETE CASCADE, so the
copy would silently empty that table. Foreign keys are switched off outside a
transaction (SQLite ignores the pragma inside one), every reference is checked
after the copy (`PRAGMA foreign_key_check`), and they are switched on again.

Revision ID: accounts_0006
Revises: accounts_0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "accounts_0006"
down_revision = "accounts_0005"
branch_labels = None
depends_on = None

ROLES = "organization_role IN ('administrator', 'member', 'billing')"
ROLES_BEFORE = "organization_role IN ('administrator', 'member')"
ROLE_IN_ORGANIZATION = "(organization_id IS NULL) = (organization_role IS NULL)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate_with_checks(ROLES)
        return
    _replace_checks(ROLES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Back to accounts_0005's SQLite schema, which had no role checks.
        with op.batch_alter_table("one_time_tokens", recreate="always") as batch:
            batch.drop_constraint(batch.f("ck_one_time_tokens_organization_role"), type_="check")
        with op.batch_alter_table("users", recreate="always") as batch:
            batch.drop_constraint(batch.f("ck_users_role_in_organization"), type_="check")
            batch.drop_constraint(batch.f("ck_users_organization_role"), type_="check")
        return
    _replace_checks(ROLES_BEFORE)


def _replace_checks(roles: str) -> None:
    for table in ("users", "one_time_tokens"):
        name = f"ck_{table}_organization_role"
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, sa.text(roles))


def _recreate_with_checks(roles: str) -> None:
    # Recreated with SQLite's foreign keys off (migrations/env.py), so the rows that
    # refer to users survive the copy.
    with op.batch_alter_table("users", recreate="always") as batch:
        batch.create_check_constraint(batch.f("ck_users_organization_role"), sa.text(roles))
        batch.create_check_constraint(
            batch.f("ck_users_role_in_organization"), sa.text(ROLE_IN_ORGANIZATION)
        )
    with op.batch_alter_table("one_time_tokens", recreate="always") as batch:
        batch.create_check_constraint(batch.f("ck_one_time_tokens_organization_role"), sa.text(roles))
