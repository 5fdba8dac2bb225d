"""Operations: the late-fee email an organization was sent on a day, one a day at
most (round 53: a run stopped by an error and rerun the same day, or a worker
started after the day's run, sent a second). A row per email, unique by
organization and day; `through_invoice_id`, the last late fee it named, is where the
next email starts.

The late fees issued before it were emailed by the code before it (no row, and
round 52's audit events only from its own emails): one row an organization with late
fees, its last late fee's day and id, `named` NULL, so that a rerun on the upgrade
day (the worker runs every job when it starts) does not name the day's fees again.

Revision ID: operations_0004
Revises: operations_0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "operations_0004"
down_revision = "operations_0003"
branch_labels = None
# Its rows name organizations and read the invoices.
depends_on = ("billing_0020",)

TABLE = "late_fee_emails"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("through_invoice_id", sa.Integer(), nullable=False),
        sa.Column("named", sa.Integer(), nullable=True),
        sa.Column("sent_at", licensing.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_late_fee_emails_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_late_fee_emails")),
        sa.UniqueConstraint(
            "organization_id", "day", name=op.f("uq_late_fee_emails_organization_id_day")
        ),
    )
    # The late fees before it count as named: the code before it emailed them.
    op.execute(
        sa.text(
            f"INSERT INTO {TABLE} (organization_id, day, through_invoice_id)"
            " SELECT organization_id, MAX(issue_date), MAX(id) FROM invoices"
            " WHERE source_type = 'late_fee' AND issue_date IS NOT NULL"
            " GROUP BY organization_id"
        )
    )


def downgrade() -> None:
    # The record of the days' emails goes; the audit log keeps each
    # (`organization.late_fees_emailed`).
    op.drop_table(TABLE)
