"""Billing: every Stripe event listed, its outcome whole (round 58, stripeevents58).

`stripe_events.outcome` was `String(200)` and the webhook stored `outcome[:200]`, so a
long outcome ("flagged: ..." with its reason, a dispute's several steps) read cut off.
It is `String(2000)` now, and stored whole. The console's list of every event reads
what the webhook did by kind (`kind`: applied, no_change, ignored, not_matched,
failed), how many times Stripe delivered it (`deliveries`, `last_received_at`: a
replay is counted, not only acknowledged) and the Stripe id of the event's object
(`object_id`: a refund event's refund is linked by it), newest first by kind or not.

The upgrade reads each stored outcome's kind from its leading words, as
`billing.models.stripe_event_kind` does; every event stored before counts one
delivery (replays were not counted) and has no object id (the events stored before
name only their PaymentIntent). The downgrade cuts outcomes back to 200 characters
(as they were stored before) and drops the columns and indexes.

Revision ID: billing_0027
Revises: billing_0026
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from licensing.db import UTCDateTime

revision = "billing_0027"
down_revision = "billing_0026"
branch_labels = None
depends_on = None

KINDS = ("applied", "no_change", "ignored", "not_matched", "failed")
# As `billing.models.stripe_event_kind` reads an outcome (no outcome stored before
# this revision begins "failed:": the webhook stored none that failed).
KIND_OF_OUTCOME = """
UPDATE stripe_events SET kind = CASE
    WHEN outcome LIKE 'ignored%' THEN 'ignored'
    WHEN outcome LIKE 'not matched%' THEN 'not_matched'
    WHEN outcome LIKE 'no change%' THEN 'no_change'
    WHEN TRIM(outcome) = '' THEN 'no_change'
    ELSE 'applied'
END
"""
INDEXES = (
    ("ix_stripe_events_received_order", ["received_at", "id"]),
    ("ix_stripe_events_kind_received", ["kind", "received_at"]),
)


def upgrade() -> None:
    with op.batch_alter_table("stripe_events") as batch:
        batch.alter_column(
            "outcome", existing_type=sa.String(200), type_=sa.String(2000), existing_nullable=False
        )
        batch.add_column(sa.Column("object_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="applied"))
        batch.add_column(sa.Column("deliveries", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_received_at", UTCDateTime(timezone=True), nullable=True))
        listed = ", ".join(f"'{kind}'" for kind in KINDS)
        batch.create_check_constraint(
            batch.f("ck_stripe_events_kind"), sa.text(f"kind IN ({listed})")
        )
    op.execute(KIND_OF_OUTCOME)
    for name, columns in INDEXES:
        op.create_index(name, "stripe_events", columns)


def downgrade() -> None:
    for name, _columns in INDEXES:
        op.drop_index(name, table_name="stripe_events")
    op.execute("UPDATE stripe_events SET outcome = SUBSTR(outcome, 1, 200)")
    with op.batch_alter_table("stripe_events") as batch:
        batch.drop_constraint(batch.f("ck_stripe_events_kind"), type_="check")
        batch.drop_column("last_received_at")
        batch.drop_column("deliveries")
        batch.drop_column("kind")
        batch.drop_column("object_id")
        batch.alter_column(
            "outcome", existing_type=sa.String(2000), type_=sa.String(200), existing_nullable=False
        )
