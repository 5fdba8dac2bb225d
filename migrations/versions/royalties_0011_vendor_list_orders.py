"""The vendor's list orders: its periods read in the order of two indexes, and the
index no statement reads dropped.

The vendor's list (`/portal/royalty-reports`) sorted the keys of every period of
the organization, each with its current report, to show a page of 50 (round 54:
66 ms of CPU at page 400 of 32,000 periods; page 1 sorted them all too). It is now
read in three parts, each in an index's order and stopped at the page's end
(`queries._vendor_keys`): the reports sent back for correction (a handful, through
`ix_royalty_reports_organization_review`), the periods still to file, the longest
late first (`ix_reporting_periods_organization_late_order`: organization, filed,
late from, agreement number, id), and the filed ones newest first
(`ix_reporting_periods_organization_due_order`: organization, filed, due date,
agreement number, id, walked backwards).

The vendor's agreements by number, the round's other list order, is agreements_0009's.

`ix_reporting_periods_organization_end` (royalties_0008) is dropped: round 55's
EXPLAIN of every statement over the periods at 8,000 periods of 41 organizations
(the pages, the open business, the reminders and the standing hold), on SQLite and
PostgreSQL, found none reading it once the open business and the reminders read
`filed` (docs/journeys.md, round 55). The downgrade creates it again and drops the
three new ones.

Revision ID: royalties_0011
Revises: royalties_0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "royalties_0011"
down_revision = "royalties_0010"
branch_labels = None
depends_on = None

DROPPED = "ix_reporting_periods_organization_end"
DROPPED_COLUMNS = ["organization_id", "period_end", "agreement_id", "period_start"]
LATE_ORDER = "ix_reporting_periods_organization_late_order"
LATE_COLUMNS = ["organization_id", "filed", "late_from", "agreement_number", "id"]
DUE_ORDER = "ix_reporting_periods_organization_due_order"
DUE_COLUMNS = ["organization_id", "filed", "due_on", "agreement_number", "id"]


def upgrade() -> None:
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.create_index(LATE_ORDER, LATE_COLUMNS, unique=False)
        batch_op.create_index(DUE_ORDER, DUE_COLUMNS, unique=False)
        batch_op.drop_index(DROPPED)


def downgrade() -> None:
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.create_index(DROPPED, DROPPED_COLUMNS, unique=False)
        batch_op.drop_index(DUE_ORDER)
        batch_op.drop_index(LATE_ORDER)
