"""Permission requests: the reason for a denial after reconsideration, kept beside
the first denial's reason instead of replacing it. Requests denied again before
this keep what was stored (the second reason in `denial_reason`; the first is in
the first denial letter and the audit log).

Revision ID: permissions_0002
Revises: permissions_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "permissions_0002"
down_revision = "permissions_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("permission_requests") as batch:
        batch.add_column(sa.Column("reconsideration_denial_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("permission_requests") as batch:
        batch.drop_column("reconsideration_denial_reason")
