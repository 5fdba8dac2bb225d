"""Billing: withdrawing an invoice's emailed links. Each withdrawal is a record of its
own (who, when, why); a link's secret covers how many there have been, so the links
sent before stop working. No invoice is edited.

Revision ID: billing_0006
Revises: billing_0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0006"
down_revision = "billing_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_link_revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revoked_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", licensing.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_link_revocations_invoice_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_link_revocations")),
        sa.UniqueConstraint(
            "invoice_id",
            "generation",
            name=op.f("uq_invoice_link_revocations_invoice_id_generation"),
        ),
    )
    op.create_index(
        op.f("ix_invoice_link_revocations_invoice_id"),
        "invoice_link_revocations",
        ["invoice_id"],
    )


def downgrade() -> None:
    # Dropping the records would bring withdrawn links back to life: refuse.
    withdrawn = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM invoice_link_revocations"))
    if withdrawn.scalar_one():
        raise RuntimeError("Invoice links were withdrawn: billing_0006 cannot be downgraded.")
    op.drop_index(
        op.f("ix_invoice_link_revocations_invoice_id"), table_name="invoice_link_revocations"
    )
    op.drop_table("invoice_link_revocations")
