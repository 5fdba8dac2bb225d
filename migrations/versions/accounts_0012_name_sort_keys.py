"""Accounts: the organizations' legal names and the users' addresses as their lists
are ordered (`legal_name_sort_key`, `email_sort_key`), indexed with the id.

The console's and the API's organizations, the export form's and the users list were
ordered by the name's key or the address as stored, byte by byte: "école" came after
"zeta". The sort key is a collation key computed in Python (round 53,
`accounts.models.sort_key`, which these lines copy: a migration keeps the function it
ran with): the letters without their accents and case, then the accents, then the
case, each level ended by a zero byte; stored as bytes, which SQLite and PostgreSQL
compare alike. The rows are keyed a batch at a time, the columns made NOT NULL and
indexed with the id, the lists' last key, so a page is read in the index's order.

Revision ID: accounts_0012
Revises: accounts_0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "accounts_0012"
down_revision = "accounts_0011"
branch_labels = None
depends_on = None

BATCH = 500
SORT_KEY_MAX = 1024
_FILED_AS = {
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "ŀ": "l",
    "ħ": "h",
    "ŧ": "t",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
}


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


def sort_key(name: str) -> bytes:
    letters: list[str] = []
    accents: list[bytes] = []
    for character in unicodedata.normalize("NFD", name_key(name)):
        if unicodedata.combining(character):
            if accents:
                accents[-1] = accents[-1][:-1] + character.encode() + b"\x01"
            continue
        if unicodedata.category(character) == "Cc":
            continue
        filed = _FILED_AS.get(character, character)
        letters.append(filed)
        accents.append((character.encode() if filed != character else b"") + b"\x01")
        accents.extend(b"\x01" for _ in filed[1:])
    case = unicodedata.normalize("NFC", name.strip()).swapcase()
    shown = "".join(c for c in case if unicodedata.category(c) != "Cc")
    key = "".join(letters).encode() + b"\x00" + b"".join(accents) + b"\x00" + shown.encode()
    return key[:SORT_KEY_MAX]


def key_rows(table: str, name: str, key: str) -> None:
    """Set `key` to `sort_key(name)` on every row of `table`, a batch at a time."""
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
            [{"row_id": row.id, "key": sort_key(row[1])} for row in rows],
        )
        after = rows[-1].id


_SORTED = (
    ("organizations", "legal_name", "legal_name_sort_key"),
    ("users", "email", "email_sort_key"),
)


def upgrade() -> None:
    for table, name, key in _SORTED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(key, sa.LargeBinary(), nullable=True))
        key_rows(table, name, key)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(key, existing_type=sa.LargeBinary(), nullable=False)
            batch.create_index(f"ix_{table}_{key}", [key, "id"])


def downgrade() -> None:
    for table, _name, key in reversed(_SORTED):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_{key}")
            batch.drop_column(key)
