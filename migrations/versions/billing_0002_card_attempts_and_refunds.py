"""Billing: at most one open card attempt per invoice; refunds of credit notes.

An invoice's open card attempt is a card payment `pending` or `failed`: its
PaymentIntent may still take money. A partial unique index allows one.
Databases written before this revision may hold several (the double-charge
defect): older `failed` ones are canceled here (their intent was declined and
is never confirmed again by the service); several `pending` ones stop the
upgrade with their ids, to be settled first with
`licensing payments reconcile --older-than-minutes 0`.

Revision ID: billing_0002
Revises: billing_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0002"
down_revision = "billing_0001"
branch_labels = None
depends_on = None

OPEN_ATTEMPT_WHERE = "method = 'card' AND state IN ('pending', 'failed')"


def _close_duplicate_attempts() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            f"SELECT id, invoice_id, state FROM payments WHERE {OPEN_ATTEMPT_WHERE} "  # noqa: S608 - constant
            "ORDER BY invoice_id, id"
        )
    ).all()
    by_invoice: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for payment_id, invoice_id, state in rows:
        by_invoice[invoice_id].append((payment_id, state))
    stuck: list[str] = []
    for invoice_id, attempts in by_invoice.items():
        if len(attempts) < 2:
            continue
        pending = [payment_id for payment_id, state in attempts if state == "pending"]
        if len(pending) > 1:
            stuck.append(f"invoice {invoice_id}: payments {', '.join(map(str, pending))}")
            continue
        keep = pending[0] if pending else attempts[-1][0]
        for payment_id, _state in attempts:
            if payment_id != keep:
                connection.execute(
                    sa.text(
                        "UPDATE payments SET state = 'canceled', note = :note WHERE id = :id"
                    ),
                    {"id": payment_id, "note": f"Superseded by card payment {keep} (billing_0002)."},
                )
    if stuck:
        raise RuntimeError(
            "Several card payments are pending for one invoice; settle them with "
            "`licensing payments reconcile --older-than-minutes 0`, then upgrade again: "
            + "; ".join(stuck)
        )


def upgrade() -> None:
    _close_duplicate_attempts()
    op.create_index(
        "uq_payments_open_card_attempt",
        "payments",
        ["invoice_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_ATTEMPT_WHERE),
        postgresql_where=sa.text(OPEN_ATTEMPT_WHERE),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credit_note_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", licensing.db.Money(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("stripe_refund_id", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", licensing.db.UTCDateTime(), nullable=False),
        sa.Column("settled_at", licensing.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint(
            "method != 'card' OR payment_id IS NOT NULL", name=op.f("ck_refunds_card_has_payment")
        ),
        sa.CheckConstraint(
            "method IN ('card', 'wire', 'ach', 'check')", name=op.f("ck_refunds_method")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'succeeded', 'failed')", name=op.f("ck_refunds_state")
        ),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_notes.id"],
            name=op.f("fk_refunds_credit_note_id_credit_notes"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_refunds_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_refunds_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
        sa.UniqueConstraint("stripe_refund_id", name=op.f("uq_refunds_stripe_refund_id")),
    )
    for column in ("credit_note_id", "invoice_id", "organization_id", "payment_id", "state"):
        op.create_index(op.f(f"ix_refunds_{column}"), "refunds", [column], unique=False)


def downgrade() -> None:
    for column in ("credit_note_id", "invoice_id", "organization_id", "payment_id", "state"):
        op.drop_index(op.f(f"ix_refunds_{column}"), table_name="refunds")
    op.drop_table("refunds")
    op.drop_index("uq_payments_open_card_attempt", table_name="payments")
