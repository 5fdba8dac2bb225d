"""Billing: the account that recorded an offline refund's return (round 60, names60).

`refunds.returned_by` (billing_0023, round 55) kept only the address of whoever
recorded that the bank returned a wire, ACH or check refund; billing_0029 gave the
other stored "by" addresses their account (`..._by_id`) and left this one. It gets
`returned_by_id` beside it, as those: no foreign key (recording takes no key share of
the account, so no new lock).

Unlike billing_0029, the rows already returned are backfilled: each takes the account
whose address (stored lower-cased) is the recorded one, where exactly one account has
it (addresses are unique at any one time, so one or none); a return recorded by an
address nobody holds now keeps NULL and is named by its address. Returns are recent
(round 55 on) and recorded by billing staff, whose addresses rarely pass on, so the
account holding the address today is the one that recorded it in all but a rare case
(the docs say so). The downgrade drops the column alone.

Revision ID: billing_0031
Revises: billing_0030
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0031"
down_revision = "billing_0030"
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE refunds SET returned_by_id = (
    SELECT users.id FROM users WHERE users.email = lower(refunds.returned_by)
)
WHERE returned_by IS NOT NULL
  AND (SELECT count(*) FROM users WHERE users.email = lower(refunds.returned_by)) = 1
"""


def upgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("returned_by_id", sa.Integer(), nullable=True))
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("returned_by_id")
