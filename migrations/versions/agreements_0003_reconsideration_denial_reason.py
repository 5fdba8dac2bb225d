"""Applications: staff's reason for denying a reconsideration, kept beside the
rejection's own reason instead of replacing it. Rows denied before this keep what
was stored (the denial's reason in `decision_reason`; the rejection's is in the
audit log and the rejection email).

Revision ID: agreements_0003
Revises: agreements_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agreements_0003"
down_revision = "agreements_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("reconsideration_denial_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("reconsideration_denial_reason")
