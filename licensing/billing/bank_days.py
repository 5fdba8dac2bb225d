"""Each invoice keeps its bank days (round 62, asof62): `Invoice.bank_paid_on` and
`bank_owing_since`, the first day of its last stretch owing nothing and of its last
stretch owing, by the bank's days over every money event dated so far
(`billing.queries.bank_days(None)`).

The invoices export as of a day D read those days from every event up to D of every
invoice issued by D (round 61): at 30,000 invoices its window over them all cost more
than the rest of the export. An invoice no money moved on after D (no event dated
after D: `billing.queries.money_moved(D + 1)`) had on D the days it keeps now, so the
export now reads the events of the invoices money moved on after D alone, and what the
others keep (`exports.datasets.invoices`). The same answers: the kept days are the
same statement over the same events.

Kept in one place, whatever step moved the money: after every flush that stores,
changes or deletes what the bank days read (an invoice issued, a payment received,
settled or its state changed, a reversal, a credit note, a refund sent or returned),
the days of the invoices it touched are read again in that statement and written to
their rows, in the flush's transaction. Every such step locks the invoice before it
writes (docs/architecture.md, the lock order), so the invoice's row is written under
the lock its step holds already. A step that touches none of those columns (a payment's
charge id filled in, a reminder counted) writes nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from sqlalchemy import (
    Delete,
    Insert,
    Table,
    Update,
    bindparam,
    event,
    inspect,
    select,
    true,
    update,
)
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.attributes import set_committed_value

from licensing.accounts.models import parameter_sets, set_columns
from licensing.billing.models import CreditNote, Invoice, Payment, PaymentReversal, Refund
from licensing.billing.queries import bank_days

# What the bank days read of each record: a record stored or deleted, or one of these
# changed, moves its invoice's days.
_READ: dict[type, tuple[str, ...]] = {
    Invoice: ("state", "total", "issue_date"),
    Payment: ("invoice_id", "state", "amount", "received_on", "settled_at"),
    PaymentReversal: ("invoice_id", "amount", "returned_on"),
    CreditNote: ("invoice_id", "amount", "issue_date"),
    Refund: ("invoice_id", "state", "amount", "sent_on", "settled_at", "returned_on", "failed_at"),
}
_KEPT = "licensing.billing.bank_days"
_TABLE = cast(Table, Invoice.__table__)


def install() -> None:
    """Keep the days after every flush of every session, and after every bulk UPDATE
    or DELETE through a session of what they read (once, however many apps)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_flush_postexec", _after_flush_postexec)
        event.listen(Session, "do_orm_execute", _after_bulk_change)


def _touched(session: Session) -> set[int]:
    """The invoices whose bank days the flush may move (its lists as before it)."""
    ids: set[int] = set()
    for records, every in ((session.new, True), (session.deleted, True), (session.dirty, False)):
        for record in records:
            read = _READ.get(type(record))
            if read is None:
                continue
            if not every:
                attributes = inspect(record).attrs
                if not any(attributes[name].history.has_changes() for name in read):
                    continue
            invoice_id = record.id if isinstance(record, Invoice) else record.invoice_id
            if invoice_id is not None:
                ids.add(invoice_id)
            if not every and not isinstance(record, Invoice):
                # Moved to another invoice: the one it left moves too.
                for was in inspect(record).attrs.invoice_id.history.deleted:
                    if was is not None:
                        ids.add(was)
    return ids


def read(session: Session, ids: Iterable[int] | None) -> dict[int, tuple[date | None, date | None]]:
    """The days of the invoices `ids` (every invoice with None) from their events:
    `(paid_on, owing_since)` by invoice id; a draft has none (None, None)."""
    chosen = None if ids is None else sorted(ids)
    days = bank_days(None, chosen)
    found = session.connection().execute(
        select(days.c.invoice_id, days.c.paid_on, days.c.owing_since)
    )
    kept = {row.invoice_id: (row.paid_on, row.owing_since) for row in found}
    return kept if chosen is None else {id_: kept.get(id_, (None, None)) for id_ in chosen}


def keep(session: Session, ids: Iterable[int] | None) -> dict[int, tuple[date | None, date | None]]:
    """Write the days of the invoices `ids` (every invoice with None: a bulk load, a
    repair) to their rows; returns what it wrote."""
    if ids is not None and not (ids := set(ids)):
        return {}
    days = read(session, ids)
    if ids is None:
        # Every invoice: those with no event at all (drafts) keep none.
        none = update(_TABLE).values(bank_paid_on=None, bank_owing_since=None)
        session.connection().execute(none)
    if days:
        session.connection().execute(
            update(_TABLE)
            .where(_TABLE.c.id == bindparam("invoice"))
            .values(bank_paid_on=bindparam("paid_on"), bank_owing_since=bindparam("owing_since")),
            [
                {"invoice": id_, "paid_on": paid_on, "owing_since": owing_since}
                for id_, (paid_on, owing_since) in days.items()
            ],
        )
    return days


def _after_flush(session: Session, _context: Any) -> None:
    ids = _touched(session)
    if ids:
        session.info.setdefault(_KEPT, {}).update(keep(session, ids))


def _after_bulk_change(state: ORMExecuteState) -> Any:
    """A bulk `update(Payment)...` or `delete(Refund)...` (an import, a mended day)
    goes round the flush: the days of the invoices of the rows it chose, before and
    after it (a row moved to another invoice), are kept once it has run. An UPDATE of
    the invoices that sets nothing the days read (a reminder counted) is left alone."""
    statement = state.statement
    entity = state.bind_mapper.class_ if state.bind_mapper is not None else None
    read = _READ.get(entity) if entity is not None else None
    if entity is None or read is None:
        return None
    column = Invoice.id if entity is Invoice else entity.invoice_id
    if state.is_insert and isinstance(statement, Insert):
        # Rows inserted in bulk (a load): their invoices, named in the rows.
        result = state.invoke_statement()
        named = {rows.get(column.key) for rows in parameter_sets(state.parameters)}
        _refresh(state.session, keep(state.session, {id_ for id_ in named if id_ is not None}))
        return result
    if not (state.is_update or state.is_delete) or not isinstance(statement, Update | Delete):
        return None
    if isinstance(statement, Update) and entity is Invoice:
        given = set_columns(statement)
        for rows in parameter_sets(state.parameters):
            given |= set(rows)
        if not given & set(read):
            return None
    where = statement.whereclause
    chosen = select(column).where(true() if where is None else where)
    session = state.session
    ids = set(session.execute(chosen).scalars())
    result = state.invoke_statement()
    if entity is not Invoice and state.is_update:
        ids |= set(session.execute(chosen).scalars())
    _refresh(session, keep(session, ids))
    return result


def _after_flush_postexec(session: Session, _context: Any) -> None:
    """The invoices in the session read what was written (not marked changed)."""
    written = session.info.pop(_KEPT, None)
    if written:
        _refresh(session, written)


def _refresh(session: Session, written: dict[int, tuple[date | None, date | None]]) -> None:
    for id_, (paid_on, owing_since) in written.items():
        invoice = session.identity_map.get(inspect(Invoice).identity_key_from_primary_key((id_,)))
        if invoice is not None:
            set_committed_value(invoice, "bank_paid_on", paid_on)
            set_committed_value(invoice, "bank_owing_since", owing_since)
