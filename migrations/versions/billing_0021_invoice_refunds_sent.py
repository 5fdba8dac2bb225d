"""Billing: an invoice counts the refunds sent on its credit notes (round 53).

An invoice's balance was its total less payments and credit notes: a refund sent
(money back out to the licensee) counted nowhere in it. So a payment the bank
returned, or a card payment disputed, after a refund of the same money was sent,
left the balance short by that refund, and the Finance page's *Refunds owed* below
zero (docs/billing.md, "What an invoice owes"). `invoices.amount_refunded` holds the
refunds sent (succeeded) on the invoice's credit notes, kept by the refund services
as `amount_paid` is kept by the payment services; the balance is
`total - amount_paid - amount_credited + amount_refunded`.

Backfilled from the refunds that succeeded. The downgrade drops the column (the
refunds themselves keep every amount).

Revision ID: billing_0021
Revises: billing_0020
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0021"
down_revision = "billing_0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(
            sa.Column(
                "amount_refunded", licensing.db.Money(), nullable=False, server_default="0"
            )
        )
    invoices = sa.table("invoices", sa.column("id", sa.Integer()), sa.column("amount_refunded"))
    refunds = sa.table(
        "refunds",
        sa.column("invoice_id", sa.Integer()),
        sa.column("amount"),
        sa.column("state", sa.String(20)),
    )
    sent = sa.and_(refunds.c.invoice_id == invoices.c.id, refunds.c.state == "succeeded")
    # The same column type on both sides (scaled integers on SQLite, NUMERIC on
    # PostgreSQL), so the sum is stored as it is read.
    total = sa.select(sa.func.sum(refunds.c.amount)).where(sent).scalar_subquery()
    op.get_bind().execute(
        invoices.update().where(sa.exists().where(sent)).values(amount_refunded=total)
    )


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("amount_refunded")
