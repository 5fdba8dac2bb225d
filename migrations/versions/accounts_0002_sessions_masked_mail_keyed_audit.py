"""Server-side sign-out, masked secrets in the outbox, a keyed audit chain.

- `users.session_generation`: part of every session's user id; sign-out and a
  new password move it on, ending every session of the account.
- `outbox_messages.masked_text`/`masked_html`: what staff read of a message
  that carries a one-time link (the secret masked).
- `audit_events.key_id`: which audit key signed the row (HMAC); rows written
  before have none and keep their plain SHA-256.

Revision ID: accounts_0002
Revises: accounts_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "accounts_0002"
down_revision = "accounts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_generation", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("masked_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("masked_html", sa.Text(), nullable=True))
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("key_id")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("masked_html")
        batch.drop_column("masked_text")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
