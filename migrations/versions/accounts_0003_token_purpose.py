"""Accounts: a new staff member's first-password link has a purpose of its own,
`welcome`, so the password page is worded by what the link is for rather than by
whether the account ever signed in (a reset for such an account read "Welcome").

Links already issued keep working: the page accepts `reset_password` and
`welcome` alike. Existing `reset_password` links that were staff welcomes become
`welcome`: they are the ones that live longer than a reset's hour (a welcome has
always been valid for 7 days, a reset for one hour). Downgrading turns `welcome`
links back into `reset_password` ones, which that schema's page welcomed by the
account never having signed in.

Revision ID: accounts_0003
Revises: accounts_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "accounts_0003"
down_revision = "accounts_0002"
branch_labels = None
depends_on = None

RESET_VALIDITY = timedelta(hours=1)

_tokens = sa.table(
    "one_time_tokens",
    sa.column("id", sa.Integer()),
    sa.column("purpose", sa.String(20)),
    sa.column("created_at", licensing.db.UTCDateTime()),
    sa.column("expires_at", licensing.db.UTCDateTime()),
)


def _allow(purposes: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{purpose}'" for purpose in purposes)
    with op.batch_alter_table("one_time_tokens") as batch:
        batch.drop_constraint(batch.f("ck_one_time_tokens_purpose"), type_="check")
        batch.create_check_constraint(
            batch.f("ck_one_time_tokens_purpose"), sa.text(f"purpose IN ({listed})")
        )


def upgrade() -> None:
    _allow(("verify_email", "reset_password", "welcome", "invitation"))
    connection = op.get_bind()
    resets = connection.execute(
        sa.select(_tokens.c.id, _tokens.c.created_at, _tokens.c.expires_at).where(
            _tokens.c.purpose == "reset_password"
        )
    )
    # Computed here rather than in SQL: date arithmetic differs between backends.
    welcomes = [row.id for row in resets if row.expires_at - row.created_at > RESET_VALIDITY]
    if welcomes:
        connection.execute(
            sa.update(_tokens).where(_tokens.c.id.in_(welcomes)).values(purpose="welcome")
        )


def downgrade() -> None:
    op.get_bind().execute(
        sa.update(_tokens).where(_tokens.c.purpose == "welcome").values(purpose="reset_password")
    )
    _allow(("verify_email", "reset_password", "invitation"))
