"""Accounts: each organization's legal name as it is looked up by (`legal_name_key`).

Organizations were found by name with the database's `lower()`, which folds ASCII
letters only on SQLite and on PostgreSQL under the C locale: "ÉCOLE Médicale" did
not find "école médicale". The key is the name case folded for every script and in
its compatibility form (NFKC, before and after folding), computed in Python, where
both databases get the same answer, and stored; the service keeps it in step on every
write of the name (`accounts.models.name_key`, which these lines copy: a migration
keeps the function it ran with). The existing rows are keyed here, a batch at a time.
A hash index on PostgreSQL (a key may outgrow a B-tree entry: NFKC makes one
character up to 18), a plain one on SQLite.

Revision ID: accounts_0010
Revises: accounts_0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "accounts_0010"
down_revision = "accounts_0009"
branch_labels = None
depends_on = None

TABLE = "organizations"
INDEX = "ix_organizations_legal_name_key"
BATCH = 500


def name_key(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("legal_name_key", sa.Text(), nullable=True))
    organizations = sa.table(
        TABLE, sa.column("id", sa.Integer()), sa.column("legal_name"), sa.column("legal_name_key")
    )
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(organizations.c.id, organizations.c.legal_name)
            .where(organizations.c.id > after)
            .order_by(organizations.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            organizations.update()
            .where(organizations.c.id == sa.bindparam("row_id"))
            .values(legal_name_key=sa.bindparam("key")),
            [{"row_id": row.id, "key": name_key(row.legal_name)} for row in rows],
        )
        after = rows[-1].id
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("legal_name_key", existing_type=sa.Text(), nullable=False)
    op.create_index(INDEX, TABLE, ["legal_name_key"], postgresql_using="hash")


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("legal_name_key")
