"""Accounts: browsers remembered for two-step sign-in.

A browser whose owner ticked "Don't ask for a code on this browser" holds a
random token in a cookie; the table keeps only its SHA-256 digest, with the
user, a short label of the browser, when it was made, last used and expires.

Revision ID: accounts_0008
Revises: accounts_0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from licensing.db import UTCDateTime

revision = "accounts_0008"
down_revision = "accounts_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remembered_browsers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(60), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_remembered_browsers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remembered_browsers")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_remembered_browsers_token_hash")),
    )
    op.create_index(op.f("ix_remembered_browsers_user_id"), "remembered_browsers", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_remembered_browsers_user_id"), table_name="remembered_browsers")
    op.drop_table("remembered_browsers")
