"""Billing: a give-back in flight is a payment state of its own, `giving_back`
(round 42). Round 39 audited a give-back's ask (`payment.give_back_asked`) before
Stripe was called and refused an accept while the ask was unanswered, for an hour;
after it, a give-back whose answer was lost could be accepted and its money counted
though Stripe may have refunded it. Now the ask moves the payment to `giving_back`,
and only Stripe's answer moves it on.

The payments' state CHECK allows `giving_back`; a flagged payment whose latest
give-back event is an ask (no answer since: given back, refused, failed, or failed
in flight) is moved to it, as the new code would have left it. The downgrade moves
every payment being given back to `flagged` again: its ask is still the latest
event, so round 39's rule (an accept refused for an hour) holds it as before.

On SQLite the CHECK is changed by copying the table (batch mode), which does not
carry a partial index across: `uq_payments_open_card_attempt` is dropped first and
made again after, on both backends alike (as billing_0015 did).

Revision ID: billing_0017
Revises: billing_0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0017"
down_revision = "billing_0016"
branch_labels = None
depends_on = None

OPEN_ATTEMPT_WHERE = "method = 'card' AND state IN ('pending', 'failed')"
STATES = ("pending", "succeeded", "failed", "flagged", "canceled", "reversed", "given_back")
ASKED = "payment.give_back_asked"
# What answered an ask, up to round 41 (the last one in flight kept its own event).
ANSWERED = (
    "payment.given_back",
    "payment.give_back_refused",
    "payment.give_back_failed",
    "payment.give_back_failed_in_flight",
)


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


def _asked_unanswered() -> None:
    """Flagged payments whose latest give-back event is an ask: `giving_back`."""
    events = sa.table(
        "audit_events",
        sa.column("seq", sa.BigInteger()),
        sa.column("entity_type", sa.String(50)),
        sa.column("entity_id", sa.String(64)),
        sa.column("action", sa.String(100)),
    )
    payments = sa.table("payments", sa.column("id", sa.Integer()), sa.column("state", sa.String()))
    latest = (
        sa.select(events.c.action)
        .where(
            events.c.entity_type == "payment",
            events.c.entity_id == sa.cast(payments.c.id, sa.String()),
            events.c.action.in_((ASKED, *ANSWERED)),
        )
        .order_by(events.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    op.get_bind().execute(
        payments.update()
        .where(payments.c.state == "flagged", latest == ASKED)
        .values(state="giving_back")
    )


def upgrade() -> None:
    _allow((*STATES, "giving_back"))
    _asked_unanswered()


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("UPDATE payments SET state = 'flagged' WHERE state = 'giving_back'")
    )
    _allow(STATES)
