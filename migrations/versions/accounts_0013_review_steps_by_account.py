"""Accounts: the staff member's account on each royalty report review step (round 58).

A review step (marked reviewed, sent back for correction) kept only the address of
who took it (`taken_by`), and the report's page named the person holding that address
now: an address changed since, or given up and taken by another account, named the
wrong person. `taken_by_id` keeps the account's id as the audit log keeps an actor's
(`audit_events.actor_user_id`, also without a foreign key). Steps taken before keep
NULL and are named by their address, as before. On the accounts branch (who acted, by
account), after the royalties branch's last revision.

Revision ID: accounts_0013
Revises: accounts_0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "accounts_0013"
down_revision = "accounts_0012"
branch_labels = None
# The table is royalties_0004's.
depends_on = ("royalties_0011",)


def upgrade() -> None:
    with op.batch_alter_table("royalty_report_review_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taken_by_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("royalty_report_review_steps", schema=None) as batch_op:
        batch_op.drop_column("taken_by_id")
