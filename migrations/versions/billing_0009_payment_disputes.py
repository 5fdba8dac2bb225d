"""Billing: card payments disputed by the licensee's bank (chargebacks), as Stripe's
`charge.dispute.*` webhooks report them. The money a dispute moves is booked with
records that already exist (a payment reversal when Stripe withdraws it, a new
payment when a dispute won reinstates it); this table says which, and where the
dispute stands. Card payments keep the id of the charge that took the money, which
a dispute names.

Revision ID: billing_0009
Revises: billing_0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0009"
down_revision = "billing_0008"
branch_labels = None
depends_on = None

TABLE = "payment_disputes"


def upgrade() -> None:
    # The charge a card payment took the money with: disputes name it.
    op.add_column("payments", sa.Column("stripe_charge_id", sa.String(length=255)))
    op.create_index(op.f("ix_payments_stripe_charge_id"), "payments", ["stripe_charge_id"])
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stripe_dispute_id", sa.String(length=255), nullable=False),
        sa.Column("stripe_charge_id", sa.String(length=255), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", licensing.db.Money(), nullable=False),
        sa.Column("evidence_due_by", licensing.db.UTCDateTime(), nullable=True),
        sa.Column("opened_at", licensing.db.UTCDateTime(), nullable=False),
        sa.Column("closed_at", licensing.db.UTCDateTime(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("reversal_id", sa.Integer(), nullable=True),
        sa.Column("reinstated_on", sa.Date(), nullable=True),
        sa.Column("reinstatement_id", sa.Integer(), nullable=True),
        sa.Column("owed_again_on", sa.Date(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_disputes_amount_positive")),
        sa.CheckConstraint(
            "state IN ('open', 'won', 'lost')", name=op.f("ck_payment_disputes_state")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_disputes_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_payment_disputes_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_disputes_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["reinstatement_id"],
            ["payments.id"],
            name=op.f("fk_payment_disputes_reinstatement_id_payments"),
        ),
        sa.ForeignKeyConstraint(
            ["reversal_id"],
            ["payment_reversals.id"],
            name=op.f("fk_payment_disputes_reversal_id_payment_reversals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_disputes")),
        sa.UniqueConstraint(
            "reinstatement_id", name=op.f("uq_payment_disputes_reinstatement_id")
        ),
        sa.UniqueConstraint("reversal_id", name=op.f("uq_payment_disputes_reversal_id")),
        sa.UniqueConstraint(
            "stripe_dispute_id", name=op.f("uq_payment_disputes_stripe_dispute_id")
        ),
    )
    for column in (
        "evidence_due_by",
        "invoice_id",
        "organization_id",
        "payment_id",
        "state",
        "stripe_charge_id",
    ):
        op.create_index(op.f(f"ix_{TABLE}_{column}"), TABLE, [column])


def downgrade() -> None:
    # The disputes say why card payments read reversed and what reinstated them.
    recorded = op.get_bind().execute(sa.text(f"SELECT COUNT(*) FROM {TABLE}"))  # noqa: S608
    if recorded.scalar_one():
        raise RuntimeError("Disputes are recorded: billing_0009 cannot be downgraded.")
    op.drop_table(TABLE)
    op.drop_index(op.f("ix_payments_stripe_charge_id"), table_name="payments")
    op.drop_column("payments", "stripe_charge_id")
