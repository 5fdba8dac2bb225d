"""Billing: each invoice keeps its bank days (round 62, asof62).

The invoices export as of a day reads an invoice's paid day and the day it last began
to owe by the bank's days (round 61, `billing.queries.bank_days`): the running balance
of every money event of every invoice issued by the day, which at 30,000 invoices cost
more than the rest of the export. An invoice no money moved on after the day had then
the days its whole history gives now, so each invoice keeps them
(`bank_paid_on`, `bank_owing_since`, kept after every flush that moves its money by
`billing.bank_days`), and the export reads the events of the invoices money moved on
after the day alone.

The invoices issued before it are filled here with exactly what the service's own
statement gives (`billing.bank_days.keep`, every invoice: `bank_days(None)`), as
billing_0032 fills its classifications with the service's own reading. No index: the
export reads them with the invoice's row.

The downgrade drops the columns.

Revision ID: billing_0033
Revises: billing_0032
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "billing_0033"
down_revision = "billing_0032"
branch_labels = None
depends_on = None

COLUMNS = ("bank_paid_on", "bank_owing_since")


def upgrade() -> None:
    from licensing.billing import bank_days

    with op.batch_alter_table("invoices") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Date(), nullable=True))
    session = Session(bind=op.get_bind())
    try:
        bank_days.keep(session, None)
    finally:
        session.close()


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
