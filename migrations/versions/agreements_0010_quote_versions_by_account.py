"""Agreements: the account that made each quote version (round 58).

A quote version kept only the address of who made it (`created_by`), and pages named
the person holding that address now: an address changed since, or given up and taken
by another account, named the wrong person. `created_by_id` keeps the account's id as
the audit log keeps an actor's (`audit_events.actor_user_id`, also without a foreign
key: a record of who acted, and storing a version takes no key share of the account).
Versions made before keep NULL and are named by their address, as before: which
account held an address when a version was made is not recorded anywhere else for
certain (the quote's audit event is one of several in that transaction).

Revision ID: agreements_0010
Revises: agreements_0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agreements_0010"
down_revision = "agreements_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("application_quotes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("application_quotes", schema=None) as batch_op:
        batch_op.drop_column("created_by_id")
