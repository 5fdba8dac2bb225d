"""Billing: who paid a card payment. The vendor user who started
the card attempt, so the confirmation reaches them as well as the billing contact;
empty for offline payments and for the billing contact paying by an invoice's link.

Revision ID: billing_0007
Revises: billing_0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0007"
down_revision = "billing_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("paid_by_user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_payments_paid_by_user_id_users"), "users", ["paid_by_user_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(op.f("fk_payments_paid_by_user_id_users"), type_="foreignkey")
        batch.drop_column("paid_by_user_id")
