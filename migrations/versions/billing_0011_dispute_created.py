"""Billing: a dispute dated by when the bank's dispute reached Stripe (the Dispute's
`created`), not when its webhook was applied here (a dispute kept unmatched while
Stripe was unreachable was applied hours later by `match-disputes`).

Disputes recorded before this revision keep the moment they were recorded
(`opened_at`): Stripe's `created` was not stored, and asking Stripe again for each
is not a migration's work. For a webhook applied when it came, the two differ by
seconds.

Revision ID: billing_0011
Revises: billing_0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0011"
down_revision = "billing_0010"
branch_labels = None
depends_on = None

TABLE = "payment_disputes"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("disputed_at", licensing.db.UTCDateTime(), nullable=True))
    op.execute(f"UPDATE {TABLE} SET disputed_at = opened_at")  # noqa: S608
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("disputed_at", existing_type=licensing.db.UTCDateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("disputed_at")
