"""Billing: a flagged card payment whose money went back to the card is
`given_back` (round 36): billing staff give it back through Stripe, or Stripe
reports it refunded in its dashboard. The payments' state CHECK allows it.

On SQLite the CHECK is changed by copying the table (batch mode), which does not
carry a partial index across: `uq_payments_open_card_attempt` is dropped first
and made again after, on both backends alike (as billing_0005 did).

Revision ID: billing_0015
Revises: billing_0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0015"
down_revision = "billing_0014"
branch_labels = None
depends_on = None

OPEN_ATTEMPT_WHERE = "method = 'card' AND state IN ('pending', 'failed')"
STATES = ("pending", "succeeded", "failed", "flagged", "canceled", "reversed")


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
    _allow((*STATES, "given_back"))


def downgrade() -> None:
    # A payment given back cannot be told apart once the state is gone (flagged
    # would ask staff to accept money that went back): refuse rather than guess.
    given_back = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM payments WHERE state = 'given_back'")
    )
    if given_back.scalar_one():
        raise RuntimeError("Payments are given back: billing_0015 cannot be downgraded.")
    _allow(STATES)
