"""Billing: disputes Stripe told of whose card payment the service could not find
(a charge no payment kept, Stripe not reachable to name its PaymentIntent), kept
for billing staff to see and matched again once the payment is known.

Revision ID: billing_0010
Revises: billing_0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0010"
down_revision = "billing_0009"
branch_labels = None
depends_on = None

TABLE = "unmatched_disputes"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stripe_dispute_id", sa.String(length=255), nullable=False),
        sa.Column("stripe_charge_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", licensing.db.Money(), nullable=False),
        sa.Column("why", sa.String(length=300), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("dispute_object", sa.Text(), nullable=False),
        sa.Column("told_at", licensing.db.UTCDateTime(), nullable=True),
        sa.Column("first_seen_at", licensing.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", licensing.db.UTCDateTime(), nullable=False),
        sa.Column("matched_at", licensing.db.UTCDateTime(), nullable=True),
        sa.Column("dispute_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["payment_disputes.id"],
            name=op.f("fk_unmatched_disputes_dispute_id_payment_disputes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_disputes")),
        sa.UniqueConstraint(
            "stripe_dispute_id", name=op.f("uq_unmatched_disputes_stripe_dispute_id")
        ),
    )
    op.create_index(op.f(f"ix_{TABLE}_matched_at"), TABLE, ["matched_at"])


def downgrade() -> None:
    # Nothing else records these disputes: dropping a waiting one would lose it.
    waiting = op.get_bind().execute(
        sa.text(f"SELECT COUNT(*) FROM {TABLE} WHERE matched_at IS NULL")  # noqa: S608
    )
    if waiting.scalar_one():
        raise RuntimeError("Disputes wait to be matched: billing_0010 cannot be downgraded.")
    op.drop_index(op.f(f"ix_{TABLE}_matched_at"), table_name=TABLE)
    op.drop_table(TABLE)
