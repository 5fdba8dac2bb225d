"""Billing: reversing an offline payment that did not stand (a bounced cheque, a
wire recorded against the wrong invoice). Payments may be `reversed`, and each
reversal is its own record referencing the payment (who, when, why).

On SQLite the state CHECK is changed by copying the table (batch mode), which
does not carry a partial index across: `uq_payments_open_card_attempt` is
dropped first and made again after, on both backends alike.

Revision ID: billing_0005
Revises: billing_0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0005"
down_revision = "billing_0004"
branch_labels = None
depends_on = None

OPEN_ATTEMPT_WHERE = "method = 'card' AND state IN ('pending', 'failed')"
STATES = ("pending", "succeeded", "failed", "flagged", "canceled")


def _allow(states: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{state}'" for state in states)
    op.drop_index("uq_payments_open_card_attempt", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(batch.f("ck_payments_state"), type_="check")
        batch.create_check_constraint(batch.f("ck_payments_state"), sa.text(f"state IN ({listed})"))
    op.create_index(
        "uq_payments_open_card_attempt",
        "payments",
        ["invoice_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_ATTEMPT_WHERE),
        postgresql_where=sa.text(OPEN_ATTEMPT_WHERE),
    )


def upgrade() -> None:
    _allow((*STATES, "reversed"))
    op.create_table(
        "payment_reversals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", licensing.db.Money(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("returned_on", sa.Date(), nullable=False),
        sa.Column("reversed_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", licensing.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_reversals_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_reversals_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_reversals_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_payment_reversals_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reversals")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payment_reversals_payment_id")),
    )
    op.create_index(
        op.f("ix_payment_reversals_invoice_id"), "payment_reversals", ["invoice_id"]
    )
    op.create_index(
        op.f("ix_payment_reversals_organization_id"), "payment_reversals", ["organization_id"]
    )


def downgrade() -> None:
    # A reversed payment cannot be told apart once the state is gone: the
    # downgrade refuses rather than guess (reversals are money facts).
    reversed_count = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM payments WHERE state = 'reversed'")
    )
    if reversed_count.scalar_one():
        raise RuntimeError("Payments are reversed: billing_0005 cannot be downgraded.")
    op.drop_index(op.f("ix_payment_reversals_organization_id"), table_name="payment_reversals")
    op.drop_index(op.f("ix_payment_reversals_invoice_id"), table_name="payment_reversals")
    op.drop_table("payment_reversals")
    _allow(STATES)
