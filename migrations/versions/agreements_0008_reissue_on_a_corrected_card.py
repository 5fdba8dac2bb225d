"""Agreements: reissuing an unaccepted agreement on the rate card that corrected its
own (round 55).

An agreement issued on a card later replaced by a correction, and not yet accepted,
is reissued: a new agreement (new number, new PDF, priced on the correction) names it
(`reissue_of_id`), and it moves to `replaced`, its row and bytes as they were. So:

- the state CHECK allows `replaced`;
- `reissue_of_id` references the agreement reissued;
- an application may have two agreements (the replaced one and its reissue), so the
  unique constraint on `application_id` becomes a unique partial index over the
  agreements not replaced (`uq_agreements_live_application`): still one in force or
  offered per application.

On SQLite the table is copied (batch mode) with `reissue_of_id` before the PDF's bytes,
which stay last (agreements_0006 says why). The downgrade refuses while an agreement
is replaced: one could not be told from an issued agreement once the state is gone.

Revision ID: agreements_0008
Revises: agreements_0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "agreements_0008"
down_revision = "agreements_0007"
branch_labels = None
depends_on = None

STATES = ("issued", "active", "expired", "terminated", "superseded")
LIVE_WHERE = "state != 'replaced'"
# The columns as agreements_0006 left them, and with `reissue_of_id` before the bytes.
_BEFORE = (
    "id",
    "number",
    "organization_id",
    "application_id",
    "quote_id",
    "state",
    "term_start",
    "term_end",
    "rate_card",
    "currency",
    "total",
    "payment_terms_days",
    "late_fee_monthly_percent",
    "pdf_sha256",
    "issued_at",
    "activated_at",
    "ended_at",
    "termination_reason",
    "renewal_of_id",
    "superseded_by_id",
    "amounts_sha256",
    "seal_key_id",
    "seal",
    "pdf",
)
_AFTER = (*_BEFORE[:-1], "reissue_of_id", "pdf")


def _check(states: tuple[str, ...]) -> sa.TextClause:
    return sa.text(f"state IN ({', '.join(f'{state!r}' for state in states)})")


def _batch(columns: tuple[str, ...] | None = None) -> Any:
    """The table's batch: on SQLite copied, with the columns in `columns`' order."""
    if columns is not None and op.get_bind().dialect.name == "sqlite":
        return op.batch_alter_table("agreements", recreate="always", partial_reordering=[columns])
    return op.batch_alter_table("agreements")


def upgrade() -> None:
    with _batch(_AFTER) as batch:
        batch.add_column(sa.Column("reissue_of_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_agreements_reissue_of_id_agreements"),
            "agreements",
            ["reissue_of_id"],
            ["id"],
        )
        batch.drop_constraint(batch.f("ck_agreements_state"), type_="check")
        batch.create_check_constraint(batch.f("ck_agreements_state"), _check((*STATES, "replaced")))
        batch.drop_constraint(batch.f("uq_agreements_application_id"), type_="unique")
    op.create_index(
        "uq_agreements_live_application",
        "agreements",
        ["application_id"],
        unique=True,
        sqlite_where=sa.text(LIVE_WHERE),
        postgresql_where=sa.text(LIVE_WHERE),
    )


def downgrade() -> None:
    replaced = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM agreements WHERE state = 'replaced'")
    )
    if replaced.scalar_one():
        raise RuntimeError(
            "Agreements are replaced by their reissue: agreements_0008 cannot be downgraded."
        )
    op.drop_index("uq_agreements_live_application", table_name="agreements")
    # Dropping `reissue_of_id` leaves the bytes last.
    with _batch() as batch:
        batch.create_unique_constraint(batch.f("uq_agreements_application_id"), ["application_id"])
        batch.drop_constraint(batch.f("ck_agreements_state"), type_="check")
        batch.create_check_constraint(batch.f("ck_agreements_state"), _check(STATES))
        batch.drop_constraint(batch.f("fk_agreements_reissue_of_id_agreements"), type_="foreignkey")
        batch.drop_column("reissue_of_id")
