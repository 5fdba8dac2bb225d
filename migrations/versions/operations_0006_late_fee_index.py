"""Operations: the late fees indexed by organization and id (round 55), for the
overdue run's sweep of late fees no email has named.

Every run of `invoices process-overdue` asks which organizations have a late fee
after the last one their emails named (`overdue._with_unnamed_late_fees`, round 54).
With no index on an invoice's source it read every invoice to find the late fees
(at 30,000 invoices with 2,000 late fees: about 30 ms on SQLite, a sequential scan
on PostgreSQL), each run. `ix_invoices_late_fees` holds only the late fees
(`WHERE source_type = 'late_fee'`), by organization and id: the sweep reads them
from it in its order (each organization's last late fee its last entry), and naming
an organization's fees reads only its own.

Revision ID: operations_0006
Revises: operations_0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "operations_0006"
down_revision = "operations_0005"
branch_labels = None
depends_on = None

INDEX = "ix_invoices_late_fees"
WHERE = "source_type = 'late_fee'"


def upgrade() -> None:
    op.create_index(
        INDEX,
        "invoices",
        ["organization_id", "id"],
        unique=False,
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="invoices")
