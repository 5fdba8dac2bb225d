"""Billing: the account that recorded a payment or refund, reversed a payment,
withdrew an invoice's links or marked a Stripe event looked at (round 59, names59).

Each kept only the address of who acted (`payments.recorded_by`,
`refunds.recorded_by`, `payment_reversals.reversed_by`,
`invoice_link_revocations.revoked_by`, `stripe_events.looked_at_by`), and pages showed
it bare: an address changed and given to someone else since would read as theirs.
Each gets the account's id beside it (`..._by_id`), as a credit note's issuer and an
application's decision keep theirs (agreements_0011): no foreign key, as
`audit_events.actor_user_id` has none (recording takes no key share of the account, so
no new lock). Rows from before keep NULL and are named by their address; no backfill
(which account held an address then is not certain). The downgrade drops the columns
alone.

Revision ID: billing_0029
Revises: billing_0028
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0029"
down_revision = "billing_0028"
branch_labels = None
depends_on = None

# (table, column): the account beside each stored address.
COLUMNS = (
    ("payments", "recorded_by_id"),
    ("refunds", "recorded_by_id"),
    ("payment_reversals", "reversed_by_id"),
    ("invoice_link_revocations", "revoked_by_id"),
    ("stripe_events", "looked_at_by_id"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
