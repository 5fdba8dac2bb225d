"""Permissions: each request's requester name and institution as they are searched by.

The staff queue's search (the console's and `GET /api/v1/permission-requests?q=`)
compared names with the database's `lower()`, which folds ASCII letters only on
SQLite and on PostgreSQL under the C locale: "ÉCOLE" did not find *École normale
supérieure*. `requester_name_key` and `institution_key` are `accounts_0011`'s key
(case folded for every script, NFKC before and after folding, Turkish's two i's one
letter, a Greek letter's accents dropped), computed in Python
(`accounts.models.name_key`, which these lines copy: a migration keeps the function
it ran with) and stored; the service keeps them in step on every write. The existing
rows are keyed here, a batch at a time. No index: the search looks for a part of a
name (`LIKE '%...%'`), which no B-tree serves.

Revision ID: permissions_0005
Revises: permissions_0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "permissions_0005"
down_revision = "permissions_0004"
branch_labels = None
depends_on = None

TABLE = "permission_requests"
KEYED = {"requester_name": "requester_name_key", "institution": "institution_key"}
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
        for key in KEYED.values():
            batch.add_column(sa.Column(key, sa.Text(), nullable=True))
    requests = sa.table(
        TABLE,
        sa.column("id", sa.Integer()),
        *(sa.column(name) for name in (*KEYED, *KEYED.values())),
    )
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(requests.c.id, *(requests.c[name] for name in KEYED))
            .where(requests.c.id > after)
            .order_by(requests.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            requests.update()
            .where(requests.c.id == sa.bindparam("row_id"))
            .values({key: sa.bindparam(f"new_{key}") for key in KEYED.values()}),
            [
                {
                    "row_id": row.id,
                    **{f"new_{key}": name_key(row._mapping[name]) for name, key in KEYED.items()},
                }
                for row in rows
            ],
        )
        after = rows[-1].id
    with op.batch_alter_table(TABLE) as batch:
        for key in KEYED.values():
            batch.alter_column(key, existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        for key in reversed(KEYED.values()):
            batch.drop_column(key)
