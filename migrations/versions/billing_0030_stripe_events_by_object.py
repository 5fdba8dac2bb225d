"""Billing: the Stripe events indexed by their object's id, and the disputes not
matched by their charge (round 59, indexes59).

*Stripe's events* finds the events about a Stripe id (round 59, stripeevents59): by
the event's own id, its PaymentIntent, or its object's id (a refund's `re_`, a
dispute's `du_`, a refunded charge's `ch_`, and the objects a charge or refund leads
to). `event_id` and `payment_intent_id` had their indexes; `object_id` (billing_0027)
had none, so a search read the whole events table (`bench/indexed_reads.py`: 25 ms and
1,477 buffers at 100,000 events on PostgreSQL). `ix_stripe_events_object_id` is read
by each of the search's selects by object (`billing.queries.stripe_events_about`,
rewritten as a UNION of one select per way an event is about the id: as one `OR` it
read every event, index or not). A search by a charge also reads the disputes not
matched of the charge: `unmatched_disputes.stripe_charge_id` is indexed too
(`payment_disputes.stripe_charge_id` was, billing_0009), so every read of the search is
by an index. The downgrade drops both.

Revision ID: billing_0030
Revises: billing_0029
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "billing_0030"
down_revision = "billing_0029"
branch_labels = None
depends_on = None

# (table, index, column)
INDEXES = (
    ("stripe_events", "ix_stripe_events_object_id", "object_id"),
    ("unmatched_disputes", "ix_unmatched_disputes_stripe_charge_id", "stripe_charge_id"),
)


def upgrade() -> None:
    for table, index, column in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(index, [column], unique=False)


def downgrade() -> None:
    for table, index, _column in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)
