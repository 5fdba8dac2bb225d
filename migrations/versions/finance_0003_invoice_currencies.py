"""Finance: the invoices by currency, for the Finance page's filter (round 57,
homeread57).

The Finance page's currency filter lists the currencies of issued invoices with
`SELECT DISTINCT currency`: on every view a scan of the whole invoices table (20-50
ms at 30,000 invoices, finance56b). With an index on (currency, state) the page reads
one index entry a currency (`finance.queries.currencies`, a loose index scan); the
currencies listed are the same (docs/finance-dashboard.md, BENCHMARKS.md).

No data changes, so the downgrade drops it.

Revision ID: finance_0003
Revises: finance_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "finance_0003"
down_revision = "finance_0002"
branch_labels = None
depends_on = None

NAME = "ix_invoices_currency_state"


def upgrade() -> None:
    op.create_index(NAME, "invoices", ["currency", "state"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="invoices")
