"""Agreements: the account that took an application's decision, issued a credit note
and published a rate card (round 58).

An application kept only the address of who decided it (`decided_by`), and the
review page's *Rejected* and *Reconsideration denied*, and the list of rejections open
to reconsideration, named the person holding that address now: an address changed
since, or given up and taken by another account, named the wrong person.
`decided_by_id` keeps the account's id as a quote version keeps its maker's
(agreements_0010) and the audit log an actor's (`audit_events.actor_user_id`), also
without a foreign key: a record of who acted, and deciding takes no key share of the
account. Decisions taken before keep NULL and are named by their address, as before:
the decision's audit event keeps the user id, but a denied reconsideration's
overwrote the rejection's, and which event a row's address came from is not worth a
backfill's guess (a rejection read from its history is named by the event's id).

A credit note kept only the address of who issued it (`issued_by`), shown on its page
and the credit notes' list: `credit_notes.issued_by_id` keeps the account the same
way (the seal keeps the address, as issued; the id is not sealed). The one revision
this round's decisions were given, so it waits for the billing branch's last
(`depends_on`); notes issued before keep NULL and are named by their address. A rate
card's `published_by` likewise: `rate_cards.published_by_id` (NULL from the command
line, `cli`, and for cards published before).

Revision ID: agreements_0011
Revises: agreements_0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agreements_0011"
down_revision = "agreements_0010"
branch_labels = None
# credit_notes is billing_0001's and rate_cards ratecards_0001's: after each branch's
# last revision.
depends_on = ("billing_0027", "ratecards_0001")


def upgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_by_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_by_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("rate_cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_by_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rate_cards", schema=None) as batch_op:
        batch_op.drop_column("published_by_id")
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.drop_column("issued_by_id")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("decided_by_id")
