"""Billing: an agreement's up-front invoice and a royalty report's invoice are at
most one each, held by the database (`uq_invoices_one_per_source`, partial: late
fees and manual invoices may share a source). The code already issues one under
the source's row lock; the index refuses a second that a bug, a second host or a
hand-made row would otherwise store, after which every look-up of "the" invoice
failed. Existing rows that break it are named and the migration refuses to run.

Revision ID: billing_0008
Revises: billing_0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from licensing.migrations import refuse_duplicates

revision = "billing_0008"
down_revision = "billing_0007"
branch_labels = None
depends_on = None

ONE_PER_SOURCE_WHERE = "source_type IN ('agreement', 'royalty_report')"


def upgrade() -> None:
    refuse_duplicates(
        op.get_bind(),
        "invoices",
        ("source_type", "source_id"),
        ONE_PER_SOURCE_WHERE,
        "An agreement and a royalty report have at most one invoice each",
    )
    op.create_index(
        "uq_invoices_one_per_source",
        "invoices",
        ["source_type", "source_id"],
        unique=True,
        sqlite_where=sa.text(ONE_PER_SOURCE_WHERE),
        postgresql_where=sa.text(ONE_PER_SOURCE_WHERE),
    )


def downgrade() -> None:
    op.drop_index("uq_invoices_one_per_source", table_name="invoices")
