"""Royalties: the staff queue lists the reports longest late first, by the day each
is late from (`reporting_periods.late_from`, royalties_0006), then agreement number
and id, where it listed them by due date: a back report accepted today (due from the
acceptance) sorted before reports overdue for months. The queue's index follows its
order, so a page is still read in index order and stops after its rows; the index on
the due date served only that order and goes.

Revision ID: royalties_0007
Revises: royalties_0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "royalties_0007"
down_revision = "royalties_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reporting_periods_late_order", ["late_from", "agreement_number", "id"], unique=False
        )
        batch_op.drop_index("ix_reporting_periods_queue_order")


def downgrade() -> None:
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reporting_periods_queue_order", ["due_on", "agreement_number", "id"], unique=False
        )
        batch_op.drop_index("ix_reporting_periods_late_order")
