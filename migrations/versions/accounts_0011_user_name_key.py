"""Accounts: each user's full name as people are searched by (`full_name_key`), and
the organizations' names keyed again for Turkish and Greek.

The staff console's and the API's list of users, and the permission requests'
search of a requester's account, compared names with the database's `lower()`, which
folds ASCII letters only on SQLite and on PostgreSQL under the C locale: "MÜLLER" did
not find *Jana Müller*. The key is `accounts_0010`'s (the name case folded for every
script and in its compatibility form, NFKC before and after folding), with round 52's
two additions: Turkish's two i's are one letter ("YILMAZ" finds *Yılmaz*, "istanbul"
*İstanbul*) and a Greek letter's accents are dropped (Greek capitals are written
without them). It is computed in Python and stored; the service keeps it in step on
every write of the name (`accounts.models.name_key`, which these lines copy: a
migration keeps the function it ran with). The users are keyed here and the
organizations keyed again (a name with a Turkish or Greek letter has another key
now), a batch at a time. No index on the users' key: the searches look for a part of
the name (`LIKE '%...%'`), which no B-tree serves.

Revision ID: accounts_0011
Revises: accounts_0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "accounts_0011"
down_revision = "accounts_0010"
branch_labels = None
depends_on = None

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


def key_rows(table: str, name: str, key: str) -> None:
    """Set `key` to `name_key(name)` on every row of `table`, a batch at a time."""
    rows_of = sa.table(table, sa.column("id", sa.Integer()), sa.column(name), sa.column(key))
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(rows_of.c.id, rows_of.c[name])
            .where(rows_of.c.id > after)
            .order_by(rows_of.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            rows_of.update()
            .where(rows_of.c.id == sa.bindparam("row_id"))
            .values({key: sa.bindparam("key")}),
            [{"row_id": row.id, "key": name_key(row[1])} for row in rows],
        )
        after = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("full_name_key", sa.Text(), nullable=True))
    key_rows("users", "full_name", "full_name_key")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("full_name_key", existing_type=sa.Text(), nullable=False)
    key_rows("organizations", "legal_name", "legal_name_key")


def downgrade() -> None:
    # The organizations keep round 52's keys: accounts_0010's code would find a
    # Turkish or Greek name in fewer ways, never a wrong one.
    with op.batch_alter_table("users") as batch:
        batch.drop_column("full_name_key")
