"""Royalty reports: the latest request for a corrected report (when, who, its note)
kept apart from the review's fields, which a later "Mark reviewed" overwrote (the
audit log kept both). Backfilled: a report waiting for its correction from the
review's fields (they are the request's); one marked reviewed since from its latest
`royalty_report.correction_requested` audit event.

Revision ID: royalties_0003
Revises: royalties_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "royalties_0003"
down_revision = "royalties_0002"
branch_labels = None
# The backfill reads the audit log.
depends_on = ("accounts_0001",)

# The latest correction request of the report being updated, from its history.
_LATEST_REQUEST = (
    "SELECT {column} FROM audit_events AS e"
    " WHERE e.entity_type = 'royalty_report'"
    " AND e.entity_id = CAST(royalty_reports.id AS VARCHAR(64))"
    " AND e.action = 'royalty_report.correction_requested'"
    " ORDER BY e.seq DESC LIMIT 1"
)


def upgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite adds and drops a column in place: a
    # batch would copy the table, which other tables' foreign keys refer to).
    op.add_column(
        "royalty_reports",
        sa.Column("correction_requested_at", licensing.db.UTCDateTime(timezone=True)),
    )
    op.add_column("royalty_reports", sa.Column("correction_requested_by", sa.String(320)))
    op.add_column("royalty_reports", sa.Column("correction_note", sa.Text()))
    op.execute(
        "UPDATE royalty_reports SET correction_requested_at = reviewed_at,"
        " correction_requested_by = reviewed_by, correction_note = review_note"
        " WHERE review_state = 'correction_requested'"
    )
    op.execute(
        "UPDATE royalty_reports SET"
        f" correction_requested_at = ({_LATEST_REQUEST.format(column='e.occurred_at')}),"
        f" correction_requested_by = ({_LATEST_REQUEST.format(column='e.actor')}),"
        f" correction_note = ({_LATEST_REQUEST.format(column='e.note')})"
        " WHERE review_state <> 'correction_requested'"
        f" AND EXISTS ({_LATEST_REQUEST.format(column='1')})"
    )


def downgrade() -> None:
    for column in ("correction_note", "correction_requested_by", "correction_requested_at"):
        op.drop_column("royalty_reports", column)
