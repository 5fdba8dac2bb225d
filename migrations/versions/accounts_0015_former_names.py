"""Accounts: the names accounts had before a change of name (round 60, names60).

The audit log's *Actor* filter (the console's, and since round 60 the API's) finds who
acted by the name of their account (round 59), which is the name now: someone who
changed their name was found by the new one only, and an auditor holding an email, a
letter or an export of the time, which gives the old one, found nothing.
`user_former_names` keeps each name given up (`user_id`, `full_name`, its key
`full_name_key` searched in any case and script as `users.full_name_key`, and `until`,
the change's moment). No foreign key, as the `..._by_id` columns: a deleted account's
former names stay with its events, which keep its id.

The changes made before it are read from their `user.name_changed` audit events (the
only step that changes a name: `before` holds the name given up), a batch at a time,
and keyed here in Python (`accounts.models.name_key`, copied as finance_0004 copies
it: a migration keeps the function it ran with). The downgrade drops the table.

Revision ID: accounts_0015
Revises: accounts_0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "accounts_0015"
down_revision = "accounts_0014"
branch_labels = None
depends_on = None

TABLE = "user_former_names"
BATCH = 500


def name_key(name: str) -> str:
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", name.strip()).casefold())
    kept: list[str] = []
    letter = ""
    for character in folded:
        if not unicodedata.combining(character):
            letter = character
        elif (letter == "i" and character == "\u0307") or (
            "\u0370" <= letter <= "\u03ff" or "\u1f00" <= letter <= "\u1fff"
        ):
            continue
        kept.append(character)
    return unicodedata.normalize("NFKC", "".join(kept)).replace("\u0131", "i")


def upgrade() -> None:
    former = op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("full_name_key", sa.Text(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_former_names")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_former_names_user_id"), ["user_id"], unique=False)
    events = sa.table(
        "audit_events",
        sa.column("seq", sa.BigInteger()),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
        sa.column("action", sa.String()),
        sa.column("entity_type", sa.String()),
        sa.column("entity_id", sa.String()),
        sa.column("before", sa.Text()),
    )
    connection = op.get_bind()
    after = -1
    while True:
        rows = connection.execute(
            sa.select(events.c.seq, events.c.occurred_at, events.c.entity_id, events.c.before)
            .where(
                events.c.action == "user.name_changed",
                events.c.entity_type == "user",
                events.c.seq > after,
            )
            .order_by(events.c.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        names = []
        for row in rows:
            before = json.loads(row.before) if row.before else None
            given_up = before.get("full_name") if isinstance(before, dict) else None
            if isinstance(given_up, str) and row.entity_id.isdigit():
                names.append(
                    {
                        "user_id": int(row.entity_id),
                        "full_name": given_up,
                        "full_name_key": name_key(given_up),
                        "until": row.occurred_at,
                    }
                )
        if names:
            connection.execute(sa.insert(former), names)
        after = rows[-1].seq


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_former_names_user_id"))
    op.drop_table(TABLE)
