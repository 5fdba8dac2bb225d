"""Billing: a failed Stripe event applied again or marked looked at (round 58, replay58).

An event stored `failed` after Stripe stopped sending it (three days) stayed counted on
the console's home for good. Billing staff now apply it again from the console (fetched
from Stripe) or mark it looked at with a note: the kind `looked_at` joins the CHECK,
and the note, who wrote it and when are kept (`looked_at_note`, `looked_at_by`,
`looked_at_at`; none for every event stored before). The downgrade turns an event
looked at back into a failed one (its note is dropped with the columns).

Revision ID: billing_0028
Revises: billing_0027
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from licensing.db import UTCDateTime

revision = "billing_0028"
down_revision = "billing_0027"
branch_labels = None
depends_on = None

KINDS_BEFORE = ("applied", "no_change", "ignored", "not_matched", "failed")
KINDS = (*KINDS_BEFORE, "looked_at")


def _check(kinds: tuple[str, ...]) -> sa.TextClause:
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    return sa.text(f"kind IN ({listed})")


def upgrade() -> None:
    with op.batch_alter_table("stripe_events") as batch:
        batch.add_column(sa.Column("looked_at_note", sa.String(1000), nullable=True))
        batch.add_column(sa.Column("looked_at_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("looked_at_at", UTCDateTime(timezone=True), nullable=True))
        batch.drop_constraint(batch.f("ck_stripe_events_kind"), type_="check")
        batch.create_check_constraint(batch.f("ck_stripe_events_kind"), _check(KINDS))


def downgrade() -> None:
    op.execute("UPDATE stripe_events SET kind = 'failed' WHERE kind = 'looked_at'")
    with op.batch_alter_table("stripe_events") as batch:
        batch.drop_constraint(batch.f("ck_stripe_events_kind"), type_="check")
        batch.create_check_constraint(batch.f("ck_stripe_events_kind"), _check(KINDS_BEFORE))
        batch.drop_column("looked_at_at")
        batch.drop_column("looked_at_by")
        batch.drop_column("looked_at_note")
