"""Billing: statements marked when a late entry is found, and the last check (round 56).

The console's *Work waiting* and the changed list found the statements sent with an
entry dated into their month after they were emailed by one correlated query over every
statement sent: 3.6 s on SQLite at 1,000 organizations with 24 statements each, none
late, on every load of the home page for billing staff. Now a check reads only the
entries recorded since a day before its last (`late_entry_checks`, one row, and the
indexes on the moments entries are recorded that the other tables lacked) and marks
the statements they fall into (`sent_statements.late_entry_at`, a partial index of
the marked); only the
marked are read again. No row is written here: the first check after the upgrade,
finding no row, runs the old query once over every statement sent and marks them.

The downgrade drops the table, the column and the indexes.

Revision ID: billing_0026
Revises: billing_0025
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from licensing.db import UTCDateTime

revision = "billing_0026"
down_revision = "billing_0025"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_payments_created_at", "payments", "created_at"),
    ("ix_invoices_finalized_at", "invoices", "finalized_at"),
    ("ix_invoices_voided_at", "invoices", "voided_at"),
)
MARKED = "ix_sent_statements_late_entry_at"
MARKED_WHERE = "late_entry_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("sent_statements") as batch:
        batch.add_column(sa.Column("late_entry_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "late_entry_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_late_entry_checks")),
    )
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])
    # Of the marked alone: a check's `late_entry_at IS NULL` reads by organization.
    op.create_index(
        MARKED,
        "sent_statements",
        ["late_entry_at"],
        sqlite_where=sa.text(MARKED_WHERE),
        postgresql_where=sa.text(MARKED_WHERE),
    )


def downgrade() -> None:
    op.drop_index(MARKED, table_name="sent_statements")
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_table("late_entry_checks")
    with op.batch_alter_table("sent_statements") as batch:
        batch.drop_column("late_entry_at")
