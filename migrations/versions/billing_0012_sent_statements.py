"""Billing: the monthly statements of account sent to each organization's billing
contact, one per organization, currency and month (the unique constraint is what
makes the monthly run send each once, on any number of hosts).

Revision ID: billing_0012
Revises: billing_0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0012"
down_revision = "billing_0011"
branch_labels = None
depends_on = None

TABLE = "sent_statements"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("opening", licensing.db.Money(), nullable=False),
        sa.Column("closing", licensing.db.Money(), nullable=False),
        sa.Column("sent_to", sa.String(length=254), nullable=False),
        sa.Column("sent_at", licensing.db.UTCDateTime(), nullable=False),
        sa.Column("resends", sa.Integer(), nullable=False),
        sa.Column("resent_at", licensing.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("resends >= 0", name=op.f("ck_sent_statements_resends_not_negative")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_sent_statements_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_statements")),
        sa.UniqueConstraint(
            "organization_id",
            "currency",
            "month",
            name=op.f("uq_sent_statements_organization_id_currency_month"),
        ),
    )
    op.create_index(op.f(f"ix_{TABLE}_organization_id"), TABLE, ["organization_id"])


def downgrade() -> None:
    # The record of what was sent goes; the audit log keeps each send.
    op.drop_index(op.f(f"ix_{TABLE}_organization_id"), table_name=TABLE)
    op.drop_table(TABLE)
