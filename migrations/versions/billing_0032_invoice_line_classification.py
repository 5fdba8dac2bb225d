"""Billing: each invoice line's kind and classification, stored when it is issued (round
61, classified61).

The Finance page's *License revenue by classification* and the console's *Invoice
lines* list narrowed to a use, product type, user type or organization type (every link
from a revenue cell), and the `invoice_lines` and `credit_note_lines` exports' same
filters, found each line's classification in Python, from the quote its amount was
priced by (`finance.classification`): a list of a year at 30,000 invoices classified
60,000 lines a page. An issued invoice never changes, nor does what it was priced from,
so the line keeps its classification from the day it is issued: `kind` (`fee`,
`royalty`, `other`) and the four axes (`use`, `product_type`, `user_type`,
`organization_type`, each a vocabulary value or `unclassified`), written by
`finance.classification.store_classification` when the invoice is issued, NULL on a
draft's lines.

The lines issued before it (of every invoice not a draft, void ones too) are filled
here, a batch of invoices at a time, with exactly what the Python classification gives
today: an agreement's up-front invoice's line N is the N-th licensed line of the quote
snapshot with an up-front part, kept when the amounts agree; a royalty invoice's line N
is the N-th report line with a due, classified as its agreement line was priced;
anything else `unclassified`. The snapshot's lines are read by the service's own pure
reading (`finance.classification.snapshot_lines`, the pricing core's `Quote`), as
royalties_0002 reads its periods. No index: the lists reach the lines through their
invoices (by day, `ix_invoice_lines_invoice_id`) and test the columns there.

The downgrade drops the columns.

Revision ID: billing_0032
Revises: billing_0031
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

from licensing.db import Money

revision = "billing_0032"
down_revision = "billing_0031"
branch_labels = None
depends_on = None

COLUMNS = ("kind", "use", "product_type", "user_type", "organization_type")
WIDTH = 40
BATCH = 500
UNCLASSIFIED = "unclassified"
KINDS = {"agreement": "fee", "royalty_report": "royalty"}

_invoices = sa.table(
    "invoices",
    sa.column("id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("source_type", sa.String),
    sa.column("source_id", sa.Integer),
)
_lines = sa.table(
    "invoice_lines",
    sa.column("id", sa.Integer),
    sa.column("invoice_id", sa.Integer),
    sa.column("position", sa.Integer),
    sa.column("amount", Money()),
    *(sa.column(name, sa.String) for name in COLUMNS),
)
_agreements = sa.table(
    "agreements",
    sa.column("id", sa.Integer),
    sa.column("application_id", sa.Integer),
    sa.column("quote_id", sa.Integer),
    sa.column("organization_id", sa.Integer),
)
_quotes = sa.table("application_quotes", sa.column("id"), sa.column("snapshot_json", sa.Text))
_organizations = sa.table(
    "organizations", sa.column("id", sa.Integer), sa.column("organization_type", sa.String)
)
_uses = sa.table(
    "application_uses",
    sa.column("application_id", sa.Integer),
    sa.column("position", sa.Integer),
    sa.column("use", sa.String),
    sa.column("product_type", sa.String),
    sa.column("user_type", sa.String),
)
_reports = sa.table(
    "royalty_reports", sa.column("id", sa.Integer), sa.column("agreement_id", sa.Integer)
)
_report_lines = sa.table(
    "royalty_report_lines",
    sa.column("report_id", sa.Integer),
    sa.column("line", sa.Integer),
    sa.column("due", Money()),
)

# What each axis is in the order COLUMNS[1:] name them.
_Axes = tuple[str, str, str, str]
NOT_CLASSIFIED: _Axes = (UNCLASSIFIED,) * 4


def upgrade() -> None:
    with op.batch_alter_table("invoice_lines") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(WIDTH), nullable=True))
    _backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("invoice_lines") as batch:
        for name in COLUMNS:
            batch.drop_column(name)


def _backfill(connection: sa.Connection) -> None:
    """Every issued invoice's lines, classified as `finance.classification.classify` does."""
    agreements: dict[int, list[tuple[_Axes, Decimal]]] = {}  # each agreement's licensed lines
    for batch in _invoice_batches(connection):
        needed = {invoice.source_id for invoice in batch if invoice.source_type == "agreement"}
        reports = _reports_of(connection, batch)
        needed |= {agreement_id for agreement_id, _ in reports.values()}
        agreements.update(_agreement_lines(connection, needed - set(agreements)))
        invoices = {invoice.id: invoice for invoice in batch}
        rows = []
        for line in connection.execute(
            sa.select(_lines.c.id, _lines.c.invoice_id, _lines.c.position, _lines.c.amount)
            .where(_lines.c.invoice_id.in_([invoice.id for invoice in batch]))
            .order_by(_lines.c.id)
        ):
            invoice = invoices[line.invoice_id]
            axes = _classified(invoice, line, agreements, reports)
            rows.append(
                {
                    "line_id": line.id,
                    "kind": KINDS.get(invoice.source_type, "other"),
                    **dict(zip(COLUMNS[1:], axes, strict=True)),
                }
            )
        if rows:
            connection.execute(
                _lines.update()
                .where(_lines.c.id == sa.bindparam("line_id"))
                .values({name: sa.bindparam(name) for name in COLUMNS}),
                rows,
            )


def _classified(
    invoice: Any,
    line: Any,
    agreements: dict[int, list[tuple[_Axes, Decimal]]],
    reports: dict[int, tuple[int, list[int]]],
) -> _Axes:
    """The line's four axes (`classify_up_front_lines`, `classify_royalty_lines`)."""
    if invoice.source_type == "agreement":
        charged = [each for each in agreements.get(invoice.source_id, []) if each[1] > 0]
        if 1 <= line.position <= len(charged):
            axes, up_front = charged[line.position - 1]
            if up_front == line.amount:
                return axes
    elif invoice.source_type == "royalty_report" and invoice.source_id in reports:
        agreement_id, numbers = reports[invoice.source_id]
        licensed = agreements.get(agreement_id, [])
        if 1 <= line.position <= len(numbers) and 1 <= numbers[line.position - 1] <= len(licensed):
            return licensed[numbers[line.position - 1] - 1][0]
    return NOT_CLASSIFIED


def _invoice_batches(connection: sa.Connection) -> Iterator[list[Any]]:
    after = 0
    while True:
        batch = connection.execute(
            sa.select(_invoices.c.id, _invoices.c.source_type, _invoices.c.source_id)
            .where(_invoices.c.id > after, _invoices.c.state != "draft")
            .order_by(_invoices.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield list(batch)
        after = batch[-1].id


def _reports_of(connection: sa.Connection, batch: list[Any]) -> dict[int, tuple[int, list[int]]]:
    """Each royalty invoice's report: its agreement and its line numbers with a due."""
    ids = [each.source_id for each in batch if each.source_type == "royalty_report"]
    if not ids:
        return {}
    found = {
        report.id: (report.agreement_id, [])
        for report in connection.execute(
            sa.select(_reports.c.id, _reports.c.agreement_id).where(_reports.c.id.in_(ids))
        )
    }
    for report_id, number in connection.execute(
        sa.select(_report_lines.c.report_id, _report_lines.c.line)
        .where(_report_lines.c.report_id.in_(ids), _report_lines.c.due != Decimal(0))
        .order_by(_report_lines.c.report_id, _report_lines.c.line)
    ):
        found[report_id][1].append(number)
    return found


def _agreement_lines(
    connection: sa.Connection, ids: set[int]
) -> dict[int, list[tuple[_Axes, Decimal]]]:
    """Each agreement's licensed lines (Schedule A order): the axes and up-front part."""
    from licensing.finance.classification import snapshot_lines

    found: dict[int, list[tuple[_Axes, Decimal]]] = {}
    if not ids:
        return found
    for agreement in connection.execute(
        sa.select(
            _agreements.c.id,
            _agreements.c.application_id,
            _quotes.c.snapshot_json,
            _organizations.c.organization_type,
        )
        .join(_quotes, _quotes.c.id == _agreements.c.quote_id)
        .join(_organizations, _organizations.c.id == _agreements.c.organization_id)
        .where(_agreements.c.id.in_(ids))
    ):

        def stored_uses(application_id: int = agreement.application_id) -> list[Any]:
            return [
                (row.use, row.product_type, row.user_type)
                for row in connection.execute(
                    sa.select(_uses.c.use, _uses.c.product_type, _uses.c.user_type)
                    .where(_uses.c.application_id == application_id)
                    .order_by(_uses.c.position)
                )
            ]

        found[agreement.id] = [
            (
                (
                    line.classification.use,
                    line.classification.product_type,
                    line.classification.user_type,
                    line.classification.organization_type,
                ),
                line.up_front,
            )
            for line in snapshot_lines(
                json.loads(agreement.snapshot_json), agreement.organization_type, stored_uses
            )
        ]
    return found
