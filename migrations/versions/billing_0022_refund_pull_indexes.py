"""Billing: indexes for the refunds' nightly pulls (round 54).

`exports refunds --by recorded` brings every refund recorded (`created_at`), sent
(`settled_at`) or failed (`failed_at`) on the days, and since round 53 `exports
invoices --by recorded` brings every invoice with a refund sent or failed on the
days (its `amount_refunded` changed). None of the three times had an index, so each
night's pull read every refund ever recorded to find the day's: at 50,000 refunds
64-98 ms a statement on SQLite and 14-17 ms on PostgreSQL, both sequential scans
(docs/journeys.md, round 54). An index on each time lets either database read the
day's rows only (PostgreSQL ORs the three ranges as a bitmap, SQLite as a
multi-index OR).

No data changes, so the downgrade drops them.

Revision ID: billing_0022
Revises: billing_0021
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "billing_0022"
down_revision = "billing_0021"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_refunds_created_at", "refunds", ["created_at"]),
    ("ix_refunds_settled_at", "refunds", ["settled_at"]),
    ("ix_refunds_failed_at", "refunds", ["failed_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
