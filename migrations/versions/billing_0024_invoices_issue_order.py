"""Billing: the invoices in their exports' order, by issue date (round 56).

The invoices and invoice-lines exports of a month by issue date (`--by issued`, the
default, ordered by issue date then id) read the whole invoices table: at 30,006
invoices a sequential scan of 2,510 buffers for 60 rows on PostgreSQL (10-17 ms of
execution) and, on SQLite, every organization's invoices through their organization
index and a sort. With `(issue_date, id)` both read the month's rows only, already in
the export's order (PostgreSQL 18 buffers, 0.5 ms; SQLite no sort). A whole export
(no days) keeps its plan on PostgreSQL and costs the same on SQLite, which walks the
index for it (round 52's worry, measured: 387-398 ms of CPU either way); the rows are
byte for byte the same (docs/exports.md, BENCHMARKS.md).

No data changes, so the downgrade drops it.

Revision ID: billing_0024
Revises: billing_0023
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "billing_0024"
down_revision = "billing_0023"
branch_labels = None
depends_on = None

NAME = "ix_invoices_issue_order"


def upgrade() -> None:
    op.create_index(NAME, "invoices", ["issue_date", "id"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="invoices")
