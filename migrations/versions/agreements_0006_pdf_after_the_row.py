"""Agreements: on SQLite, the PDF's bytes stored after every other column of the row.

SQLite stores a row's columns in order, and a row longer than a page keeps its first
bytes on the table's page and the rest in a chain of overflow pages. An agreement's
PDF (about 51 KB) stood in the middle of the row, so every column after it
(`pdf_sha256`, `issued_at`, `activated_at`, `ended_at`, `termination_reason`,
`renewal_of_id`, `superseded_by_id`, the seal) could only be read by walking the
PDF's thirteen-odd overflow pages, even by a query that never asked for the PDF
(round 51: a page of 50 agreements read 1,000 times over in a throwaway measurement
took 12-19 ms with the bytes in the middle, 1.0-1.1 ms with them last). The table is
rebuilt with the same columns, constraints and indexes and the PDF last; every row
and its bytes are kept.

PostgreSQL is left as it is: a value that large is stored out of line (TOAST), the
row holding a pointer of 18 bytes, so the columns after it are read from the row
itself; and it cannot move a column without rewriting the table.

The downgrade puts the PDF back where it stood (after `late_fee_monthly_percent`).

Revision ID: agreements_0006
Revises: agreements_0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "agreements_0006"
down_revision = "agreements_0005"
branch_labels = None
# The seal's columns (`amounts_sha256`, `seal_key_id`, `seal`) are added there.
depends_on = ("integrity_0001",)

# The columns as `agreements_0001` and `integrity_0001` left them.
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
    "pdf",
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
)
_AFTER = tuple(name for name in _BEFORE if name != "pdf") + ("pdf",)


def _reorder(columns: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Every column named, so the order is the one given (Alembic leaves the order of
    # columns a tuple does not name undefined).
    with op.batch_alter_table("agreements", recreate="always", partial_reordering=[columns]):
        pass


def upgrade() -> None:
    _reorder(_AFTER)


def downgrade() -> None:
    _reorder(_BEFORE)
