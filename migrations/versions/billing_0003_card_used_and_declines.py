"""Billing: the card a payment was made on (brand, last four) and when a card
was declined, so that a declined attempt reads "declined" after it is closed.

Existing card payments that failed are marked declined (a `failed` card
payment is a decline), and so are those closed by a new attempt after a
decline or by billing_0002's clean-up (their notes say so).

Revision ID: billing_0003
Revises: billing_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0003"
down_revision = "billing_0002"
branch_labels = None
depends_on = None

CLOSED_AFTER_DECLINE = "Closed before a new card attempt: the card was declined.%"
# billing_0002 canceled duplicate open attempts other than the one kept: each
# was `failed`, a decline (at most one was pending, and that one was kept).
SUPERSEDED = "Superseded by card payment % (billing_0002)."


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("card_brand", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("card_last4", sa.String(length=4), nullable=True))
        batch.add_column(sa.Column("declined_at", licensing.db.UTCDateTime(), nullable=True))
    op.get_bind().execute(
        sa.text(
            "UPDATE payments SET declined_at = COALESCE(last_checked_at, created_at) "
            "WHERE method = 'card' AND (state = 'failed' "
            "OR (state = 'canceled' AND (note LIKE :closed OR note LIKE :superseded)))"
        ),
        {"closed": CLOSED_AFTER_DECLINE, "superseded": SUPERSEDED},
    )


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("declined_at")
        batch.drop_column("card_last4")
        batch.drop_column("card_brand")
