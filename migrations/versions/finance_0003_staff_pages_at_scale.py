"""Finance: indexes for the staff console's pages at a busy office's size (round 52).

Measured on a database of 2,000 organizations, 10,000 agreements, 60,000 reporting
periods and 30,000 invoices (BENCHMARKS.md, "Staff pages at a busy office's size"):

- `ix_applications_renewal_of_id` (`applications.renewal_of_id`): the console home's
  *Agreements ending within 90 days* and the renewals-due list ask, for each agreement
  ending soon, whether an application renews it (`NOT EXISTS` on this column). With no
  index each asked read every application: 3.1-3.9 s for the home at 833 agreements
  ending within 90 days, 3 ms with it.
- `ix_reporting_periods_start_end` (`reporting_periods (period_start, period_end)`):
  the royalty queue's period filter offers each period start once with the latest end
  of the periods starting that day. It was a GROUP BY over every period, reading each
  row's end from the table (88-127 ms at 60,000 periods); it is now read one start at
  a time (the next start after the last, then that start's greatest end), two index
  lookups a start. The index leads with `period_start`, so it also serves what
  `ix_reporting_periods_period_start` served (the queue's filter by start), which it
  replaces.

No data changes; the downgrade puts the period-start index back and drops the others.

Revision ID: finance_0003
Revises: finance_0002, royalties_0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "finance_0003"
# After the royalties branch's head as well as finance_0002: it indexes
# reporting_periods and replaces royalties_0002's index on its start. Naming a
# royalties revision in `depends_on` instead (royalties_0001, _0002, _0003 or _0006)
# made Alembic's upgrade from an empty database fail (KeyError '0001' in its
# HeadMaintainer) for about half of the hash seeds tried; following both heads did not
# fail in 26 (applications, the other table, comes before royalties_0001).
down_revision = ("finance_0002", "royalties_0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_applications_renewal_of_id", "applications", ["renewal_of_id"])
    with op.batch_alter_table("reporting_periods", recreate="never") as batch_op:
        batch_op.create_index("ix_reporting_periods_start_end", ["period_start", "period_end"])
        batch_op.drop_index("ix_reporting_periods_period_start")


def downgrade() -> None:
    with op.batch_alter_table("reporting_periods", recreate="never") as batch_op:
        batch_op.create_index("ix_reporting_periods_period_start", ["period_start"])
        batch_op.drop_index("ix_reporting_periods_start_end")
    op.drop_index("ix_applications_renewal_of_id", table_name="applications")
