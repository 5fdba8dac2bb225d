"""Billing: indexes for the invoices' nightly pull and the invoice lists' order (round 52).

Since round 51 `exports invoices --by recorded` also brings back an invoice whose
amounts changed on the days: a payment counted against it (`payments.settled_at`,
indexed by billing_0016), a payment taken back (`payment_reversals.created_at`) or a
credit note issued on it (`credit_notes.issued_at`). The last two had no index, so
every night's pull read every reversal and every credit note ever recorded to find
the day's (docs/exports.md). These indexes let it read the day's rows only.

The invoice lists (`/console/invoices`, `/portal/invoices`, `GET /api/v1/invoices`)
list newest first (`created_at`, then the id) with no index on that order: each page
read and sorted every invoice (5-7 ms of CPU a page at 20,000 narrow invoices on
SQLite, more with real addresses and memos). An index on the order lets a page be read
in order and stop after its rows.

No data changes, so the downgrade drops them.

Revision ID: billing_0020
Revises: billing_0019
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "billing_0020"
down_revision = "billing_0019"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_payment_reversals_created_at", "payment_reversals", ["created_at"]),
    ("ix_credit_notes_issued_at", "credit_notes", ["issued_at"]),
    ("ix_invoices_created_order", "invoices", ["created_at", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
