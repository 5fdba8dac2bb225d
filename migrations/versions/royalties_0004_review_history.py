"""Royalty reports: every step of a report's review kept, each with its when, who
and note (`royalty_report_review_steps`, appended by the review use case). The
report's own fields keep the latest step only, so a report marked reviewed and then
sent back, or sent back twice, lost the earlier notes everywhere but the audit log.

Backfilled from the audit log, which holds every step: each
`royalty_report.reviewed` and `royalty_report.correction_requested` event carries
the staff member (`actor`), the time (`occurred_at`, the step's own transaction) and
the note as written. A report with no such event (an audit log restored without
them) gets what its fields hold: its latest correction request and, when it is
marked reviewed, its latest review; any earlier step of such a report is not
recoverable.

Revision ID: royalties_0004
Revises: royalties_0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "royalties_0004"
down_revision = "royalties_0003"
branch_labels = None
# The backfill reads the audit log.
depends_on = ("accounts_0001",)

# The review steps as the audit log names them, and the step each is.
_EVENTS = {
    "royalty_report.reviewed": "reviewed",
    "royalty_report.correction_requested": "correction_requested",
}
_STEP = (
    "CASE e.action "
    + " ".join(f"WHEN '{action}' THEN '{step}'" for action, step in _EVENTS.items())
    + " END"
)
_ANY_STEP_EVENT = (
    "SELECT 1 FROM audit_events AS e"
    " WHERE e.entity_type = 'royalty_report'"
    " AND e.entity_id = CAST(r.id AS VARCHAR(64))"
    " AND e.action IN ({actions})".format(actions=", ".join(f"'{action}'" for action in _EVENTS))
)


def upgrade() -> None:
    op.create_table(
        "royalty_report_review_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=30), nullable=False),
        sa.Column("taken_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("taken_by", sa.String(length=320), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "step IN ('reviewed', 'correction_requested')",
            name=op.f("ck_royalty_report_review_steps_step"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["royalty_reports.id"],
            name=op.f("fk_royalty_report_review_steps_report_id_royalty_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_royalty_report_review_steps")),
    )
    op.create_index(
        op.f("ix_royalty_report_review_steps_report_id"),
        "royalty_report_review_steps",
        ["report_id"],
        unique=False,
    )
    # Every step from the audit log, in the order taken (ids follow `seq`).
    op.execute(
        "INSERT INTO royalty_report_review_steps (report_id, step, taken_at, taken_by, note)"
        f" SELECT r.id, {_STEP}, e.occurred_at, e.actor, e.note"
        " FROM audit_events AS e JOIN royalty_reports AS r"
        " ON e.entity_id = CAST(r.id AS VARCHAR(64))"
        " WHERE e.entity_type = 'royalty_report'"
        " AND e.action IN ({actions})"
        " ORDER BY e.seq".format(actions=", ".join(f"'{action}'" for action in _EVENTS))
    )
    # A report the audit log says nothing of: what its fields hold, the correction
    # request first (a review after it kept it, royalties_0003).
    op.execute(
        "INSERT INTO royalty_report_review_steps (report_id, step, taken_at, taken_by, note)"
        " SELECT r.id, 'correction_requested', r.correction_requested_at,"
        " COALESCE(r.correction_requested_by, 'unknown'), r.correction_note"
        " FROM royalty_reports AS r"
        " WHERE r.correction_requested_at IS NOT NULL"
        f" AND NOT EXISTS ({_ANY_STEP_EVENT})"
        " ORDER BY r.id"
    )
    op.execute(
        "INSERT INTO royalty_report_review_steps (report_id, step, taken_at, taken_by, note)"
        " SELECT r.id, 'reviewed', r.reviewed_at, COALESCE(r.reviewed_by, 'unknown'),"
        " r.review_note"
        " FROM royalty_reports AS r"
        " WHERE r.review_state = 'reviewed' AND r.reviewed_at IS NOT NULL"
        f" AND NOT EXISTS ({_ANY_STEP_EVENT})"
        " ORDER BY r.id"
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_royalty_report_review_steps_report_id"), table_name="royalty_report_review_steps"
    )
    op.drop_table("royalty_report_review_steps")
