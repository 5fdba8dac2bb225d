"""Billing: indexes for the monthly statement run's one query (round 40).

`statements_due` (licensing/billing/services/monthly_statements.py) was EXPLAINed on a
PostgreSQL database of 10,000 organizations, 192,000 invoices, 188,667 payments and
187,000 statements sent (docs/operations.md, "The statements' query at size"). Each
run read every statement ever sent to find the month's (`sent_statements.month`, the
last column of the unique index), and its first run of a month read every payment
ever received to find the month's (`payments.received_on`, `payments.settled_at`) and
every credit note (`credit_notes.issue_date`). These indexes let it read the month's
rows only; no data changes, so the downgrade drops them.

Revision ID: billing_0016
Revises: billing_0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "billing_0016"
down_revision = "billing_0015"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_sent_statements_month", "sent_statements", "month"),
    ("ix_payments_received_on", "payments", "received_on"),
    ("ix_payments_settled_at", "payments", "settled_at"),
    ("ix_credit_notes_issue_date", "credit_notes", "issue_date"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
