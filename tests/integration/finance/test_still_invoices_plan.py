"""Round 60 (balances60): the invoices nothing moves on after a day
(`billing.queries.still_from_all`) were `id NOT IN (SELECT ... UNION ...)` of the ids
money moved on, and those something moves on (`moving_from_all`) an `OR` with
`id IN (...)`; an invoice's credit notes by a day (`finance.queries._credited_by`)
an `IN` in a CASE. PostgreSQL can make none of them a join: it runs each as a SubPlan,
hashed only while the ids it estimates fit in `work_mem` (times
`hash_mem_multiplier`), and otherwise scans the ids again for every invoice. At
100,000 invoices with `work_mem` at 512kB (the ids a tenth of the memory they may
hash in at the default, as at a busier office or on an estimate ten times too high),
the balance lists at a past end ran past 90 s a statement where they took 1-2 s.

Now `NOT EXISTS` a kind of money (an anti-join), one `IN` over the union of the
moving ids at the top of the WHERE (a semi-join) and a correlated `EXISTS` (hashed,
or the credit notes' index once an invoice): nothing is scanned again once a row.

The plan is priced on rows of the test's own, ANALYZEd in its transaction (plans58's
way, `plans.analyzed`): 6,000 invoices with a payment after the day (more moved ids
than 64kB of `work_mem` hashes) and 1,000 on which nothing moves, all owing on the
day. With `work_mem` at its least, every statement of the balance lists and of the
Finance page that reads them is EXPLAINed: no SubPlan reads rows without an index
bounded by the row it is asked for. On the base it fails on the `NOT IN`'s SubPlan.

Round 60 (balances60b): the same of the other statements reading which invoices may
owe from a day (`billing.queries.moving_or_owing_all`, `owes OR id IN (...)`): the
receivables export, as of a day and owed back, the monthly statements' run and the
Finance page's receivables read. On the base it fails on the OR's SubPlan."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice, Payment
from licensing.billing.services.monthly_statements import statements_due
from licensing.exports.datasets import receivables as receivables_export
from licensing.exports.filters import ExportFilter
from licensing.finance.queries import receivables
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.plans import analyzed, copied, sent_with_values

from .conftest import at, issue

DAY = date(2027, 2, 28)
# Invoices with a payment after DAY (moved), and invoices nothing moves on (still).
MOVED = 6000
STILL = 1000
# The views: the invoice list narrowed to a balance at DAY's end, and the Finance page
# with its balances at period ends and its aging on DAY.
VIEWS = (
    "/console/invoices?owing_on=2027-02-28&currency=USD&page=2",
    "/console/invoices?owed_back_on=2027-02-28&currency=USD",
    "/console/invoices?owing_on=2027-02-28&aging=1_30",
    "/console/finance/?from=2027-01&to=2027-02&currency=USD&as_of=2027-02-28",
)
# Every statement reading which invoices money moved on from a day reads the credit
# notes issued from it, whatever its shape.
MOVED_FROM = "credit_notes.issue_date >="
# Tables of few rows at any office (the payment disputes the receivables export reads
# in an `IN`, `billing.queries.disputed_on`): hashed whatever the size, not checked.
FEW = {"payment_disputes"}


def _ledger() -> None:
    """USD: an invoice of 100.00 issued 10 January 2027 and paid 40.00 on 10 March
    (after DAY), with 5,999 copies of it and its payment; one of 100.00 issued the
    same day and never paid, with 999 copies. All owe 100.00 at the end of DAY."""
    session = db.session()
    organization = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    moving = issue(organization, "100.00", date(2027, 1, 10))
    after = paid_offline(
        moving.id, "40.00", "W-1", received_on=date(2027, 3, 10), now=at(date(2027, 3, 10))
    )
    still = issue(organization, "100.00", date(2027, 1, 10))
    for first, count, start in ((moving, MOVED - 1, 800000), (still, STILL - 1, 900000)):
        copied(
            Invoice.__table__,
            first.id,
            count,
            lambda n, first=first, start=start: {
                "number": f"INV-2027-{start + n}",
                "created_at": first.created_at - timedelta(minutes=n + 1),
            },
        )
    copies = session.scalars(
        select(Invoice.id)
        .where(Invoice.number.like("INV-2027-8%"), Invoice.id != moving.id)
        .order_by(Invoice.id)
    ).all()
    copied(
        Payment.__table__,
        after.id,
        MOVED - 1,
        lambda n: {"invoice_id": copies[n], "reference": f"W-1-{n}"},
    )
    analyzed("invoices", "payments", "payment_reversals", "credit_notes", "refunds")


def _subplans_scanning_again(lines: list[str]) -> list[str]:
    """Each SubPlan of the plan (`SubPlan N` and the nodes under it) that reads its
    rows without an index condition naming the outer row (`invoices...id`, or for a
    group of them the group's `organization_id`): run once for each row of its parent,
    it reads them all again each time. The outer id may be cast, as where the audit
    log's `entity_id` (text) names an invoice: `= ((invoices.id)::character varying)
    ::text` (round 64: a plan reading the log by its action index, the invoice's id in
    the Filter, was not taken as bounded). A hashed one says
    `hashed SubPlan N` where it is used and is run once; `work_mem` at its least
    leaves PostgreSQL no room to hash a large one."""
    found = []
    for index, line in enumerate(lines):
        name = line.strip()
        if not re.fullmatch(r"SubPlan \d+", name):
            continue
        if any(f"hashed {name})" in other for other in lines):
            continue
        indent = len(line) - len(line.lstrip())
        below = []
        for after in lines[index + 1 :]:
            if len(after) - len(after.lstrip()) <= indent:
                break
            below.append(after)
        bounded = any(
            re.search(r"(Index Cond|Filter): .*= \(*invoices(_\d+)?\.(id|organization_id)\b", each)
            for each in below
        )
        read = set(re.findall(r"(?:Scan|Scan using \w+) on (\w+)", "\n".join(below)))
        if not bounded and not read <= FEW:
            found.append("\n".join([line, *below]))
    return found


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # PostgreSQL's plan
def test_the_balances_read_the_invoices_nothing_moves_on_with_no_subquery_scanned_once_a_row(
    app: Flask, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    _ledger()
    with time_machine.travel(datetime(2027, 3, 15, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        with sent_with_values(app.extensions["licensing.db"].engine) as caught:
            answers = [staff.get(view) for view in VIEWS]
    assert [answer.status_code for answer in answers] == [200] * len(VIEWS)
    owing = " ".join(re.sub(r"<[^>]+>", " ", answers[0].get_data(as_text=True)).split())
    assert f"{MOVED + STILL:,} invoices listed owed {(MOVED + STILL) * 100:,}.00" in owing

    statements = [(sql, values) for sql, values in caught if MOVED_FROM in sql]
    # The list's totals and page (three lists) and the Finance page's still balances
    # at its period ends, owing on the aging's day and its ledger statements.
    assert len(statements) >= 8, [sql[:80] for sql, _ in statements]
    _assert_no_subplan_scanned_again(statements)


def _assert_no_subplan_scanned_again(statements: list[tuple[str, object]]) -> None:
    """EXPLAIN each statement with `work_mem` at its least: no `NOT IN`'s SubPlan, and
    no SubPlan reading its rows again once a row of its parent. VERBOSE, so that a
    SubPlan used in an output column shows where it is used whether hashed (round 60:
    the credited flag's `EXISTS`, hashed over a few credit notes, read as unbounded)."""
    connection = db.session().connection()
    connection.exec_driver_sql("SET LOCAL work_mem = '64kB'")
    for sql, values in statements:
        lines = [
            str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN (VERBOSE) {sql}", values)
        ]
        plan = "\n".join(lines)
        assert "NOT (SubPlan" not in plan, plan
        assert "NOT (hashed SubPlan" not in plan, plan
        assert _subplans_scanning_again(lines) == [], plan


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # PostgreSQL's plan
def test_the_reads_of_the_invoices_that_may_owe_from_a_day_scan_no_subquery_once_a_row(
    app: Flask,
) -> None:
    _ledger()
    session = db.session()
    after = DAY + timedelta(days=1)
    with (
        time_machine.travel(datetime(2027, 3, 15, 15, tzinfo=UTC), tick=False),
        sent_with_values(app.extensions["licensing.db"].engine) as caught,
    ):
        owing = session.execute(receivables_export._statement(ExportFilter(as_of=DAY), DAY)).all()
        owed_back = session.execute(
            receivables_export._statement(ExportFilter(as_of=DAY), DAY, owed_back=True)
        ).all()
        due = statements_due(session, DAY.replace(day=1))
        ledger = receivables(session, "USD", after, DAY)
        credited = receivables(session, "USD", after, DAY, credited_only=True)
    # Every invoice owes 100.00 at DAY's end; none is credited; one organization owes.
    assert len(owing) == MOVED + STILL
    assert owed_back == []
    assert (len(due.to_read), len(ledger), credited) == (1, MOVED + STILL, [])

    read = [
        (sql, values)
        for sql, values in caught
        if MOVED_FROM in sql or "credit_notes.issue_date <=" in sql
    ]
    # The export twice, the monthly run, the receivables read and its credited ones.
    assert len(read) >= 5, [sql[:80] for sql, _ in read]
    _assert_no_subplan_scanned_again(read)
