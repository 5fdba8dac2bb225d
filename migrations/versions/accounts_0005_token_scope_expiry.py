"""Accounts: API tokens get a scope, an expiry and an expiry reminder's marker.

- `api_tokens.scope`: `read` (safe methods only) or `write` (everything the user
  may do). Existing tokens become `write`: that is what they did.
- `api_tokens.expires_at`: when a token stops working. Existing tokens get none
  (they keep working; their pages say to replace them with one that expires):
  giving them one now would stop programs nobody was warned about.
- `api_tokens.expiry_reminded_at`: when the owner was told, once, that the token
  expires within a week.

Revision ID: accounts_0005
Revises: accounts_0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "accounts_0005"
down_revision = "accounts_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("scope", sa.String(10), server_default=sa.text("'write'"), nullable=False)
        )
        batch.add_column(sa.Column("expires_at", licensing.db.UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("expiry_reminded_at", licensing.db.UTCDateTime(), nullable=True)
        )
        batch.create_check_constraint(
            batch.f("ck_api_tokens_scope"), sa.text("scope IN ('read', 'write')")
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint(batch.f("ck_api_tokens_scope"), type_="check")
        batch.drop_column("expiry_reminded_at")
        batch.drop_column("expires_at")
        batch.drop_column("scope")
