"""Permission requests: the request a corrected one corrects (`corrects_id`), sent
from the first one's status page ("send a corrected request") while it was open.
When the correction is confirmed, it replaces the first request: that one is
withdrawn, and the correction keeps its reviewer (round 58: the two stood side by
side in the queue, the first one assigned and days old, the correction unassigned,
with nothing on either page saying one replaced the other, until the requester
remembered to withdraw the first).

Requests made before this correct nothing.

Revision ID: permissions_0006
Revises: permissions_0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "permissions_0006"
down_revision = "permissions_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("permission_requests") as batch:
        batch.add_column(sa.Column("corrects_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_permission_requests_corrects_id_permission_requests"),
            "permission_requests",
            ["corrects_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_permission_requests_corrects_id"), ["corrects_id"])


def downgrade() -> None:
    with op.batch_alter_table("permission_requests") as batch:
        batch.drop_index(batch.f("ix_permission_requests_corrects_id"))
        batch.drop_constraint(
            batch.f("fk_permission_requests_corrects_id_permission_requests"), type_="foreignkey"
        )
        batch.drop_column("corrects_id")
