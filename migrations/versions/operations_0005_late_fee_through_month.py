"""Operations: a late-fee invoice says the month it charges through, and the database
refuses one that does not (round 54).

Between `licensing db upgrade` and the reload, the worker still runs the code before
the upgrade. Past operations_0004 that code (round 52's) issued the day's late fees
and emailed them, leaving no `late_fee_emails` row (it knew none), so the new code
found them after the last row and emailed them a second time: at the reload (the
worker runs every job when it starts) or the next day. The old code's late-fee
INSERT has no `late_fee_through_month`: the CHECK refuses it, its transaction (the
fees, the email, the audit event) is undone, and the new code issues and names them
once. Other invoices are untouched, so the old code's web processes still issue
theirs meanwhile.

The late fees before it are given theirs from their lines (one a month charged),
counted over their parent's late fees up to each: exact, but for a month whose fee
came to nothing (no line), which this counts too few. The downgrade drops both.

Revision ID: operations_0005
Revises: operations_0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "operations_0005"
down_revision = "operations_0004"
branch_labels = None
# The invoices as billing_0021 leaves them (SQLite rebuilds the table).
depends_on = ("billing_0021",)

COLUMN = "late_fee_through_month"
CHECK = "late_fee_through_month"


def upgrade() -> None:
    op.add_column("invoices", sa.Column(COLUMN, sa.Integer(), nullable=True))
    op.execute(
        sa.text(
            f"UPDATE invoices SET {COLUMN} = ("
            " SELECT COUNT(*) FROM invoice_lines JOIN invoices AS fees"
            " ON fees.id = invoice_lines.invoice_id"
            " WHERE fees.source_type = 'late_fee'"
            " AND fees.parent_invoice_id = invoices.parent_invoice_id"
            " AND fees.id <= invoices.id"
            ") WHERE source_type = 'late_fee'"
        )
    )
    with op.batch_alter_table("invoices") as batch:
        batch.create_check_constraint(CHECK, f"source_type <> 'late_fee' OR {COLUMN} IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint(op.f(f"ck_invoices_{CHECK}"), type_="check")
        batch.drop_column(COLUMN)
