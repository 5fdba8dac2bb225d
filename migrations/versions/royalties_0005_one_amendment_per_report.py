"""Royalty reports: a report is amended at most once, held by the database
(`uq_royalty_reports_amends_id`). Filing amends only the period's current report and
supersedes it in the same transaction, under the agreement's lock; the index refuses
a second amendment that a bug or a hand-made row would otherwise store, after which
the report's pages failed on "the" report that corrected it. Existing rows that
break it are named and the migration refuses to run.

Revision ID: royalties_0005
Revises: royalties_0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from licensing.migrations import refuse_duplicates

revision = "royalties_0005"
down_revision = "royalties_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    refuse_duplicates(
        op.get_bind(),
        "royalty_reports",
        ("amends_id",),
        "amends_id IS NOT NULL",
        "A royalty report is amended by at most one report",
    )
    op.create_index(
        "uq_royalty_reports_amends_id", "royalty_reports", ["amends_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_royalty_reports_amends_id", table_name="royalty_reports")
