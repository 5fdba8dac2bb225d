"""Accounts: two-step sign-in (authenticator codes and recovery codes).

A user's row keeps the nonce their authenticator secret is derived from (with
the key `two_step_key_id` names; the secret itself is never stored), when it was
set up, and the time step of the last code accepted (a code is accepted once).
Recovery codes are stored as SHA-256 digests, one row each. An organization's
administrator may require two-step sign-in of its members.

Revision ID: accounts_0007
Revises: accounts_0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from licensing.db import UTCDateTime

revision = "accounts_0007"
down_revision = "accounts_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("two_step_nonce", sa.String(64), nullable=True))
    op.add_column("users", sa.Column("two_step_key_id", sa.String(16), nullable=True))
    op.add_column("users", sa.Column("two_step_enabled_at", UTCDateTime(), nullable=True))
    op.add_column("users", sa.Column("two_step_last_step", sa.BigInteger(), nullable=True))
    op.add_column(
        "organizations",
        sa.Column("two_step_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    op.create_index(op.f("ix_recovery_codes_user_id"), "recovery_codes", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_recovery_codes_user_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("two_step_required")
    with op.batch_alter_table("users") as batch:
        for column in (
            "two_step_last_step",
            "two_step_enabled_at",
            "two_step_key_id",
            "two_step_nonce",
        ):
            batch.drop_column(column)
