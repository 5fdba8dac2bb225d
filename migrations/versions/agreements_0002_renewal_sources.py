"""Applications: where a renewal's proposed figures came from, kept when it is drawn
(a royalty report, or the renewed application's estimate), so the pages and the API
say so as it was rather than from the reports as they stand later.

Revision ID: agreements_0002
Revises: agreements_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agreements_0002"
down_revision = "agreements_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("renewal_sources_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("renewal_sources_json")
