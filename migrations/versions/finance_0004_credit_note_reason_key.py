"""Finance: each credit note's reason as the credit-notes list searches it (round 58,
financelinks58).

The console's credit-notes list (the Finance page's *Credited* links it) searched the
reason with `ILIKE`, which SQLite runs as `LIKE`: it folds ASCII letters only, so
"émile" did not find "Émile" there (PostgreSQL's `ILIKE` folds every script). The
list's licensee search already compared organizations' stored keys (`accounts_0010`).
`reason_key` is that key of the reason (case folded for every script, NFKC before and
after folding, Turkish's two i's one letter, a Greek letter's accents dropped),
computed in Python (`accounts.models.name_key`, which these lines copy: a migration
keeps the function it ran with) and stored; the model keeps it in step on every write.
The existing rows are keyed here, a batch at a time. No index: the search looks for a
part of a reason (`LIKE '%...%'`), which no B-tree serves.

The downgrade drops the column.

Revision ID: finance_0004
Revises: finance_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "finance_0004"
down_revision = "finance_0003"
branch_labels = None
depends_on = None

TABLE = "credit_notes"
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
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("reason_key", sa.Text(), nullable=True))
    notes = sa.table(
        TABLE, sa.column("id", sa.Integer()), sa.column("reason"), sa.column("reason_key")
    )
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(notes.c.id, notes.c.reason)
            .where(notes.c.id > after)
            .order_by(notes.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            notes.update()
            .where(notes.c.id == sa.bindparam("row_id"))
            .values(reason_key=sa.bindparam("new_key")),
            [{"row_id": row.id, "new_key": name_key(row.reason)} for row in rows],
        )
        after = rows[-1].id
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("reason_key", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("reason_key")
