"""Royalties: the vendor dashboard reads only the periods it shows. Its royalty part
(`royalties.queries.vendor_waiting`) chose the periods due or overdue, and each
agreement's next one, by filtering every period of the organization joined to its
agreement and running a window over those not yet ended. This index leads with the
organization and the period's end, then the keys a period's current report is found
by (agreement, period start), so both choices are read from the index: the ended
periods' keys (each asked of the current report's unique index) or the ones not yet
ended, grouped by agreement. The reports sent back for correction are found from the
reports, by organization and review state (from the periods, SQLite read every filed
report's row for its review state).

Revision ID: royalties_0008
Revises: royalties_0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "royalties_0008"
down_revision = "royalties_0007"
branch_labels = None
depends_on = None

COLUMNS = ["organization_id", "period_end", "agreement_id", "period_start"]


REVIEW_COLUMNS = ["organization_id", "review_state"]


def upgrade() -> None:
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.create_index("ix_reporting_periods_organization_end", COLUMNS, unique=False)
    with op.batch_alter_table("royalty_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_royalty_reports_organization_review", REVIEW_COLUMNS, unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("royalty_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_royalty_reports_organization_review")
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.drop_index("ix_reporting_periods_organization_end")
