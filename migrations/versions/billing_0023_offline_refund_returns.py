"""Billing: an offline refund the bank returns (round 55).

A card refund the card's bank returns is recorded from Stripe (`failed_at`); a wire,
ACH or check refund the office sent that bounced had no step at all, so every balance,
statement, Finance figure and export said the money left when it came back
(docs/billing.md, "An offline refund the bank returns"). Billing staff now record it:
the refund moves `succeeded` -> `failed` (REFUND's `return`), `failed_at` stamps when
it was recorded (the nightly pulls find it by that), and these columns say on which
day the bank returned it (`returned_on`: every dated sum counts the return on that
day, as a payment reversal's), why, and who recorded it. NULL for every other refund:
a card refund's return is dated by `failed_at`.

No rows change. The downgrade refuses while any refund has a `returned_on`: without
it the return would be dated the day it was recorded, moving figures between periods.

Revision ID: billing_0023
Revises: billing_0022
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0023"
down_revision = "billing_0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("returned_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("return_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("returned_by", sa.String(254), nullable=True))


def downgrade() -> None:
    returned = op.get_bind().execute(
        sa.text("SELECT count(*) FROM refunds WHERE returned_on IS NOT NULL")
    )
    if returned.scalar_one():
        raise RuntimeError(
            "billing_0023 cannot be downgraded while offline refunds are recorded as "
            "returned by the bank: their day of return would be lost."
        )
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("returned_by")
        batch.drop_column("return_reason")
        batch.drop_column("returned_on")
