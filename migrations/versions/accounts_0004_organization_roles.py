"""Accounts: roles inside a vendor organization, `administrator` or `member`.

Every vendor user could invite, remove colleagues and redirect the invoices; now
only an organization's administrators manage it. Existing vendor users all become
administrators: that is what each of them could do until now, so nobody loses an
ability silently on the day of the upgrade, and every organization starts with an
active administrator (the rule the services keep from then on). Each organization
then narrows it by making colleagues members. Staff keep no organization role.

Invitations carry the role the colleague joins with; those already sent join as
members (the role a new invitation defaults to): an invitation is not an
account, and whoever sent it can make the colleague an administrator once joined.

Revision ID: accounts_0004
Revises: accounts_0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "accounts_0004"
down_revision = "accounts_0003"
branch_labels = None
depends_on = None

ROLES = "organization_role IN ('administrator', 'member')"

_users = sa.table(
    "users",
    sa.column("organization_id", sa.Integer()),
    sa.column("organization_role", sa.String(20)),
)
_tokens = sa.table(
    "one_time_tokens",
    sa.column("purpose", sa.String(20)),
    sa.column("organization_role", sa.String(20)),
)


def _checks_in_place() -> bool:
    """PostgreSQL adds and drops CHECK constraints in place. SQLite cannot, and
    recreating `users` drops a table that other tables' rows refer to, which SQLite
    refuses: there the columns are added and dropped in place, without the checks
    (the services keep the roles; production runs on PostgreSQL)."""
    return op.get_bind().dialect.name != "sqlite"


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("organization_role", sa.String(20), nullable=True))
    with op.batch_alter_table("one_time_tokens", recreate="never") as batch:
        batch.add_column(sa.Column("organization_role", sa.String(20), nullable=True))
    connection = op.get_bind()
    connection.execute(
        sa.update(_users)
        .where(_users.c.organization_id.is_not(None))
        .values(organization_role="administrator")
    )
    connection.execute(
        sa.update(_tokens).where(_tokens.c.purpose == "invitation").values(organization_role="member")
    )
    if _checks_in_place():
        op.create_check_constraint(op.f("ck_users_organization_role"), "users", sa.text(ROLES))
        op.create_check_constraint(
            op.f("ck_users_role_in_organization"),
            "users",
            sa.text("(organization_id IS NULL) = (organization_role IS NULL)"),
        )
        op.create_check_constraint(
            op.f("ck_one_time_tokens_organization_role"), "one_time_tokens", sa.text(ROLES)
        )


def downgrade() -> None:
    if _checks_in_place():
        op.drop_constraint(
            op.f("ck_one_time_tokens_organization_role"), "one_time_tokens", type_="check"
        )
        op.drop_constraint(op.f("ck_users_role_in_organization"), "users", type_="check")
        op.drop_constraint(op.f("ck_users_organization_role"), "users", type_="check")
    with op.batch_alter_table("one_time_tokens", recreate="never") as batch:
        batch.drop_column("organization_role")
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("organization_role")
