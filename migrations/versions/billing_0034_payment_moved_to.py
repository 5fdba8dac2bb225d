"""Billing: a payment moved to the invoice it pays names the payment it became.

Round 68 (journeyF68) let billing staff move a wire, ACH or check recorded against the
wrong invoice: the payment is reversed on the day it was received and the same money
recorded against the right invoice. The reversal now names that new payment
(`moved_to_id`), so a move is known by its record rather than by its reason's words,
and the correction references what it corrected. No reversal before this revision was
a move (the step is new with it), so nothing is filled.

The downgrade drops the column.

Revision ID: billing_0034
Revises: billing_0033
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0034"
down_revision = "billing_0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_reversals") as batch:
        batch.add_column(sa.Column("moved_to_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_payment_reversals_moved_to_id_payments"), "payments", ["moved_to_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_reversals") as batch:
        batch.drop_constraint(op.f("fk_payment_reversals_moved_to_id_payments"), type_="foreignkey")
        batch.drop_column("moved_to_id")
