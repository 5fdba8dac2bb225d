"""Round 55: the receivables export sums each invoice's payments, bank returns, credit
notes and refunds in one grouped read of each, joined to the invoices, where it asked
each of the four for every invoice (on PostgreSQL at 30,000 invoices, 279,600 buffers
and 0.74-0.78 s against 3,800 buffers and 0.36-0.42 s; BENCHMARKS.md). Its figures are
held by the export's own tests (test_receivables_sums.py, the month end, statements).

Round 58 (plans58b): on PostgreSQL the plan is priced on rows that decide it
(`_crowd`: 2,000 invoices, payments, credit notes and refunds, ANALYZEd in the test's
transaction), not on the counts earlier tests left in `pg_class`."""

from __future__ import annotations

import re
from datetime import date

from flask import Flask
from sqlalchemy import func, select

from licensing import db
from licensing.billing.models import CreditNote, Invoice, Payment, Refund
from licensing.exports.datasets import receivables
from licensing.exports.filters import ExportFilter
from tests.integration.finance.conftest import refunded_credit
from tests.support import factories
from tests.support.plans import analyzed, copied, plan_of, sent

MONEY_TABLES = ("payments", "payment_reversals", "credit_notes", "refunds")


def _asked_again_for_each_invoice(plan: list[str]) -> set[str]:
    """The tables the plan reads inside a subquery run once for each row outside it
    (SQLite's `CORRELATED SCALAR SUBQUERY`, PostgreSQL's `SubPlan`). A hashed
    `SubPlan` is run once and its rows hashed (round 55, statements55: the invoices
    that may owe on the day, `moving_or_owing_all`, read as one set of ids)."""
    found: set[str] = set()
    hashed = set(re.findall(r"hashed (SubPlan \d+)", "\n".join(plan)))
    inside_at: int | None = None
    for line in plan:
        depth = len(line) - len(line.lstrip(" -\u003e"))
        if inside_at is not None and depth <= inside_at:
            inside_at = None
        header = line.strip(" -\u003e")
        if "CORRELATED" in line or (header.startswith("SubPlan") and header not in hashed):
            inside_at = depth
            continue
        if inside_at is not None:
            found.update(table for table in MONEY_TABLES if f" {table} " in f"{line} ")
    return found


def _crowd() -> None:
    """An invoice paid, credited and refunded (`refunded_credit`), 2,000 copies of it
    and of each of its payment, credit note and refund (each copy numbered anew), and
    the tables the export reads analyzed (`analyzed`, PostgreSQL only)."""
    refunded_credit(factories.make_organization(db.session()).id)
    for model in (Invoice, Payment, CreditNote, Refund):
        first = db.session().scalars(select(func.min(model.id))).one()
        table = model.__table__
        copied(
            table,
            first,
            2000,
            (lambda n: {"number": f"COPY-{n}"}) if "number" in table.c else (lambda n: {}),
        )
    analyzed("invoices", *MONEY_TABLES, "payment_disputes")


def test_the_receivables_export_reads_each_kind_of_money_once_not_once_an_invoice(
    app: Flask,
) -> None:
    _crowd()
    as_of = date(2027, 3, 31)
    statement = receivables._statement(ExportFilter(as_of=as_of), as_of)
    plan = plan_of(*sent(statement, containing="payment_disputes"), sorts_priced_out=False)
    assert _asked_again_for_each_invoice(plan) == set(), "\n".join(plan)
    # The disputes are still asked per invoice (few, and through their own index).
    assert any("payment_disputes" in line for line in plan)
