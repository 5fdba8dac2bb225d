"""Round 62 (asof62): the invoices export as of a day read every money event up to the
day of every invoice issued by it, to find each one's paid day and the day it last
began to owe by the bank's days (round 61, `billing.queries.bank_days`): at 30,000
invoices more than the rest of the export. Each invoice now keeps those days from its
whole history (`Invoice.bank_paid_on`, `bank_owing_since`, kept after every flush and
bulk change that moves its money: `billing.bank_days`), and the export reads the events
of the invoices money moved on after the day alone; any other had on the day the days
it keeps.

The answers are the same: over generated histories (payments entered late or dated
later than entered, parts, returns by the bank, credit notes, refunds, write-offs,
voids, a bank day mended in bulk), every invoice keeps after every step what its events
give, and the export as of every other day from issue to April, with the state filter
and by paid day too, is byte for byte what reading every invoice's events gives (the
round-61 reading: every invoice taken as moved). On both databases.

Round 63 (exports63): the three histories are lived once a module and backend, side by
side (each its own licensee and invoices), on `module_connection`, every invoice's kept
days checked against its events after every step as they are lived (under the audit
watch, as a test's steps are); each test reads them in a savepoint of its own. The
export is compared once a day and filter over all three histories' invoices together
(its rows are per invoice: one walk checks what three did, with half the exports).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import Connection, delete, insert, select, update

from licensing import db
from licensing.billing import bank_days
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice, Payment
from licensing.errors import DomainError
from licensing.exports.datasets import invoices, receivables
from licensing.exports.filters import ExportFilter
from tests.conftest import DatabaseTemplate, app_in_transaction
from tests.support.audited import unaudited_state_changes
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.exports import written
from tests.support.factories import billing_clerk
from tests.support.monthly_statements import IN_JANUARY, invoice, organization

# The module runs on one worker: the histories made once a module and backend
# (`module_connection`) was made again on each worker its tests were handed to
# (round 64: the CI spread them over both).
pytestmark = pytest.mark.xdist_group("invoices_as_of_bounded")

ISSUED = date(2027, 1, 15)
INVOICES = 8
STEPS = 70
DAYS = [ISSUED - timedelta(days=1) + timedelta(days=7 * n) for n in range(12)]


@contextmanager
def _on(day: date) -> Iterator[datetime]:
    now = datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        yield now


def _kept(ids: list[int] | None = None) -> dict[int, tuple[date | None, date | None]]:
    chosen = select(Invoice.id, Invoice.bank_paid_on, Invoice.bank_owing_since)
    if ids is not None:
        chosen = chosen.where(Invoice.id.in_(ids))
    rows = db.session().execute(chosen.order_by(Invoice.id))
    return {row.id: (row.bank_paid_on, row.bank_owing_since) for row in rows}


def _given() -> dict[int, tuple[date | None, date | None]]:
    """What every invoice's events give, read afresh: one reading of every invoice's
    events (`bank_days.read(None)`, not the reading of the invoices named that each
    step keeps with), so a step that moved the wrong invoice's days, or missed one, or
    a reading of some invoices that differs from the whole's, shows. (Round 62 read
    each invoice alone after each step: eight statements a step where one answers.)"""
    given = bank_days.read(db.session(), None)
    return {id_: given.get(id_, (None, None)) for id_ in _kept()}


def _step(rng: random.Random, chosen: Invoice, today: date) -> None:
    """One step a clerk takes on `today` on the invoice, chosen at random; a step the
    invoice refuses (paid beyond its balance, written off when paid) is left out."""
    session = db.session()
    payments = session.scalars(
        select(Payment)
        .where(Payment.invoice_id == chosen.id, Payment.state == "succeeded")
        .order_by(Payment.id)
    ).all()
    notes = session.scalars(select(CreditNote).where(CreditNote.invoice_id == chosen.id)).all()
    kind = rng.choice(
        ("pay", "pay", "pay", "part", "return", "credit", "refund", "write_off", "void", "mend")
    )
    with _on(today) as now:
        if kind in ("pay", "part"):
            amount = "1000.00" if kind == "pay" else rng.choice(("400.00", "600.00", "250.00"))
            # The bank had it up to five days before it was entered, or (mended) later.
            received = max(ISSUED, today - timedelta(days=rng.randint(0, 5)))
            paid_offline(
                chosen.id, amount, f"W-{chosen.id}-{now:%m%d}-{rng.random()}", received_on=received
            )
        elif kind == "return" and payments:
            returned = rng.choice(payments)
            earliest = returned.received_on or ISSUED
            on = earliest + timedelta(days=rng.randint(0, max(0, (today - earliest).days)))
            reversed_offline(returned.id, "Returned by the bank", returned_on=on, now=now)
        elif kind == "credit":
            credited(chosen.id, rng.choice(("200.00", "1000.00")), "Seats returned", now=now)
        elif kind == "refund" and notes:
            note = rng.choice(notes)
            refunded_offline(note.id, "200.00", f"RF-{note.id}-{now:%m%d}", sent_on=today, now=now)
        elif kind == "write_off":
            billing.mark_uncollectible(
                chosen.id, reason="The licensee stopped answering", now=now, actor=billing_clerk()
            )
        elif kind == "void" and rng.random() < 0.3:
            billing.void_invoice(
                chosen.id, reason="Issued in error", now=now, actor=billing_clerk()
            )
        elif kind == "mend" and payments:
            # A bank day set in bulk after it was booked (an import, a day mended).
            mended = rng.choice(payments)
            session.execute(
                update(Payment)
                .where(Payment.id == mended.id)
                .values(received_on=today + timedelta(days=rng.randint(-4, 4)))
            )


def _lived(seed: int, after_each: Callable[[list[int]], None]) -> list[int]:
    """One history: a licensee's invoices and the steps taken on them, `after_each`
    given the invoices' ids after every step; the ids."""
    rng = random.Random(seed)
    owner = organization(f"Generated Licensee {seed}")
    made = [invoice(owner.id, "1000.00", IN_JANUARY) for _ in range(INVOICES)]
    ids = [each.id for each in made]
    days = sorted(ISSUED + timedelta(days=rng.randint(0, 70)) for _ in range(STEPS))
    for today in days:
        try:
            _step(rng, rng.choice(made), today)
        except DomainError:
            db.session().rollback()
        after_each(ids)
    return ids


SEEDS = (1, 2, 3)


@dataclass
class Histories:
    """The histories lived, by seed: their invoices, how many steps each was checked
    after, and every step after which an invoice kept days its events did not give."""

    invoices: dict[int, list[int]] = field(default_factory=dict)
    checked: dict[int, int] = field(default_factory=dict)
    differed: dict[int, list[dict[int, Any]]] = field(default_factory=dict)
    unaudited: list[Any] = field(default_factory=list)


@pytest.fixture(scope="module")
def prepared_histories(
    database_template: DatabaseTemplate, module_connection: Connection
) -> Histories:
    """Every seed's history lived once a module and backend (each took 1-3 s of a
    test's set-up, and a test lived it again for each seed it read), each invoice's
    kept days compared with what its events give after every step, as they are lived;
    under the audit watch, as a test's steps are."""
    lived = Histories()
    with app_in_transaction(database_template.url, {}, module_connection, keep=True) as made_on:
        with unaudited_state_changes(made_on) as watch:
            for seed in SEEDS:
                lived.checked[seed] = 0
                lived.differed[seed] = []

                def same(_ids: list[int], seed: int = seed) -> None:
                    # Every invoice of the database: the histories lived before too.
                    kept, given = _kept(), _given()
                    if kept != given:
                        lived.differed[seed].append(
                            {
                                id_: (kept[id_], given[id_])
                                for id_ in kept
                                if kept[id_] != given[id_]
                            }
                        )
                    lived.checked[seed] += 1

                lived.invoices[seed] = _lived(seed, same)
        lived.unaudited = list(watch.gaps)
    return lived


@pytest.fixture
def histories(prepared_histories: Histories, app: Flask) -> Histories:
    """The module's histories, read by a test whose `app` runs in a savepoint of the
    module's connection."""
    return prepared_histories


def _read_every_invoices_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """The round-61 reading: every invoice taken as moved after the day, so its amounts
    and days are read from its events up to the day."""
    monkeypatch.setattr(
        invoices, "money_moved", lambda _after: select(Invoice.id.label("invoice_id"))
    )


FILTERS: tuple[Callable[[date], ExportFilter], ...] = (
    lambda day: ExportFilter(as_of=day),
    lambda day: ExportFilter(as_of=day, state="paid"),
    lambda day: ExportFilter(as_of=day, state="uncollectible"),
    lambda day: ExportFilter(
        as_of=day, date_basis="paid", date_from=ISSUED, date_to=ISSUED + timedelta(days=20)
    ),
)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_invoice_keeps_the_days_its_events_give_after_every_step(
    histories: Histories, seed: int
) -> None:
    """Checked after each step as the module's histories were lived (its fixture)."""
    assert histories.differed[seed] == []
    assert histories.checked[seed] == STEPS
    assert histories.unaudited == []
    # Paid and owing invoices both among them, so both days were kept.
    kept = _kept(histories.invoices[seed]).values()
    assert any(paid for paid, _ in kept)
    assert any(owing for _, owing in kept)


def test_the_export_as_of_each_day_is_what_every_invoices_events_give(
    histories: Histories, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every seed's invoices in each export: each day and filter written once for
    all three histories, both ways."""
    bounded = {
        (day, n): written(invoices.DATASET, given(day), by_database=True)
        for day in DAYS
        for n, given in enumerate(FILTERS)
    }
    with monkeypatch.context() as patched:
        _read_every_invoices_events(patched)
        whole = {
            (day, n): written(invoices.DATASET, given(day), by_database=True)
            for day in DAYS
            for n, given in enumerate(FILTERS)
        }
    assert bounded == whole
    # The histories reach paid, open and written off on some day.
    states = b"".join(bounded.values())
    assert all(state in states for state in (b",paid,", b",open,", b",uncollectible,"))
    # Every history's invoices are rows of the last day's export.
    assert bounded[DAYS[-1], 0].count(b"\n") >= 1 + INVOICES * len(SEEDS)


def test_a_bulk_load_and_a_bulk_delete_keep_the_days_of_the_invoices_they_name(
    app: Flask,
) -> None:
    owner = organization("Loaded Licensee")
    loaded = invoice(owner.id, "1000.00", IN_JANUARY)
    assert _kept()[loaded.id] == (None, ISSUED)
    db.session().execute(
        insert(Payment),
        [
            {
                "invoice_id": loaded.id,
                "organization_id": owner.id,
                "method": "wire",
                "state": "succeeded",
                "currency": "USD",
                "amount": Decimal("1000.00"),
                "recorded_by": "clerk@example.org",
                "received_on": date(2027, 1, 20),
            }
        ],
    )
    assert _kept()[loaded.id] == (date(2027, 1, 20), ISSUED)  # paid from the 20th; owed before
    db.session().execute(delete(Payment).where(Payment.invoice_id == loaded.id))
    assert _kept()[loaded.id] == (None, ISSUED)


def _csv(dataset: Any, given: ExportFilter) -> list[dict[str, str]]:
    text = written(dataset, given, by_database=False).decode("utf-8")
    return list(
        csv.DictReader(io.StringIO(text.split("\n", 1)[1] if text.startswith("#") else text))
    )


def test_the_receivables_state_is_the_invoices_state_as_of_the_same_day(
    histories: Histories,
) -> None:
    """Round 62: the receivables' `state` was today's while its balances were the
    day's; it is now the state the invoices export as of the day gives each row (every
    history's invoices)."""
    states = set()
    for day in DAYS:
        then = {
            row["invoice_number"]: row["state"]
            for row in _csv(invoices.DATASET, ExportFilter(as_of=day))
        }
        for given in (ExportFilter(as_of=day), ExportFilter(owed_back_on=day)):
            for row in _csv(receivables.DATASET, given):
                assert row["state"] == then[row["invoice_number"]], (day, row)
                states.add(row["state"])
    assert states >= {"open", "uncollectible"}
