"""Accounts: the audit log indexed by action and seq (round 59, indexes59).

The console's organization page reads the accounts moved out of or into it on each
load (`accounts.queries.moves_touching`: the `user.moved` events, newest first by
seq). The log had an index on the action (`ix_audit_events_action`, accounts_0001;
attention59 took it to have none), which gives one action's events in no useful
order: PostgreSQL reads the moves through it and sorts them, but SQLite, once it has
statistics (`ANALYZE`: an average of the rows per action, not how rare one is), walked
the whole log in seq order (`uq_audit_events_seq`) testing each event, to spare the
sort. `ix_audit_events_action_seq` (action, seq) gives one action's events in seq
order, so both databases read the moves alone and sort nothing; it serves every read
by the action that `ix_audit_events_action` served (its leading column), which is
dropped, so an audited step writes no more index entries than before. It is larger
on PostgreSQL (an entry a row, where the action's index keeps one per action and
page: `bench/indexed_reads.py`). On the accounts branch, which made the audit log.
The downgrade creates `ix_audit_events_action` again and drops the new index.

Revision ID: accounts_0014
Revises: accounts_0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "accounts_0014"
down_revision = "accounts_0013"
branch_labels = None
depends_on = None

ADDED = "ix_audit_events_action_seq"
DROPPED = "ix_audit_events_action"


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(ADDED, ["action", "seq"], unique=False)
        batch_op.drop_index(DROPPED)


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(DROPPED, ["action"], unique=False)
        batch_op.drop_index(ADDED)
