"""Billing: the invoices by their paid time (round 56, finance56b).

The invoices and invoice-lines exports of some days by paid date (`by=paid`, the
days' invoices by `paid_at`) read the whole invoices table: at 30,008 invoices a
sequential scan of about 2,400 pages for a month's 450 rows on PostgreSQL (about 20
ms of execution, and 13 ms more for the export's check of its currencies, which
walked the issue-date index whole), on SQLite a scan of every invoice. With an index
on `paid_at` both read the days' invoices only, then sort them into the exports'
order (issue date, id). The rows are byte for byte the same (docs/exports.md,
BENCHMARKS.md).

No data changes, so the downgrade drops it.

Revision ID: billing_0025
Revises: billing_0024
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "billing_0025"
down_revision = "billing_0024"
branch_labels = None
depends_on = None

NAME = "ix_invoices_paid_at"


def upgrade() -> None:
    op.create_index(NAME, "invoices", ["paid_at"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="invoices")
