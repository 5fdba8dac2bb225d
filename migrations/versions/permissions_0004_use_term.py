"""Permission requests: the first and last day of the use, as the requester gives
them (optional), so that a grant's default validity covers the term asked for
instead of one year from the decision (round 42: a Fall 2027 term asked for in
December 2026 and granted by default ended before the term did).

Requests made before this keep no dates: their default stays one year from the
decision, as it was.

Revision ID: permissions_0004
Revises: permissions_0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "permissions_0004"
down_revision = "permissions_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("permission_requests") as batch:
        batch.add_column(sa.Column("use_from", sa.Date(), nullable=True))
        batch.add_column(sa.Column("use_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("permission_requests") as batch:
        batch.drop_column("use_until")
        batch.drop_column("use_from")
