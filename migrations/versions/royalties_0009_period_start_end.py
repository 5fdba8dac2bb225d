"""Royalties: the queue's period filter reads each start and its latest end from an index (round 52).

Measured on a database of 2,000 organizations, 10,000 agreements and 60,000 reporting
periods (BENCHMARKS.md, "Staff pages at a busy office's size"): the royalty queue's
period filter offers each period start once with the latest end of the periods
starting that day. It was a GROUP BY over every period, reading each row's end from the
table (88-127 ms at 60,000 periods); it is now read one start at a time (the next start
after the last, then that start's greatest end), two lookups a start in
`ix_reporting_periods_start_end (period_start, period_end)`. The index leads with
`period_start`, so it also serves what `ix_reporting_periods_period_start` served (the
queue's filter by start), which it replaces.

(Written as `finance_0003` on its branch, with the renewal question's index on
`applications.renewal_of_id`; at the round's merge that index is `agreements_0007`'s,
and the period index follows the royalties branch's own head.)

No data changes; the downgrade puts the period-start index back.

Revision ID: royalties_0009
Revises: royalties_0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "royalties_0009"
down_revision = "royalties_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reporting_periods", recreate="never") as batch_op:
        batch_op.create_index("ix_reporting_periods_start_end", ["period_start", "period_end"])
        batch_op.drop_index("ix_reporting_periods_period_start")


def downgrade() -> None:
    with op.batch_alter_table("reporting_periods", recreate="never") as batch_op:
        batch_op.create_index("ix_reporting_periods_period_start", ["period_start"])
        batch_op.drop_index("ix_reporting_periods_start_end")
