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
charge id filled in, a reminder counted) writes nothing here, nor (round 63, hot63) one
whose records are none of the events the days read, before and after it (a draft made,
a card payment begun), or an issued invoice whose state alone changed (`_moves`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Delete,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    event,
    inspect,
    select,
    true,
    update,
)
from sqlalchemy.orm import NO_VALUE, ORMExecuteState, Session
from sqlalchemy.orm.attributes import set_committed_value

from licensing.accounts.models import parameter_sets, set_columns
from licensing.billing.models import CreditNote, Invoice, Payment, PaymentReversal, Refund
from licensing.billing.queries import bank_days
from licensing.billing.states import DRAFT, RECEIVED, REFUND_SENT

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


# Whether a record's values make it one of the events the days read (round 63, hot63):
# an invoice issued (not a draft: `bank_days` reads `state != 'draft'`), a payment
# received (`collected_between` reads those in `RECEIVED`), a refund sent or returned
# (`refunded_between`, `refund_returned_between`: in `REFUND_SENT`, confirmed). A record
# that is none, before and after its flush, moves no invoice's days: a draft made or
# edited, a card payment begun or failed, a refund asked of Stripe. Each test here is
# wider than the statement's own (a payment received with no day yet counts), so a
# flush that might move the days is always read again. Every credit note and reversal
# counts.
_COUNTS: dict[type, tuple[tuple[str, ...], Callable[[Mapping[str, Any]], bool]]] = {
    Invoice: (("state",), lambda values: values["state"] != DRAFT),
    Payment: (("state",), lambda values: values["state"] in RECEIVED),
    Refund: (
        ("state", "settled_at"),
        lambda values: values["state"] in REFUND_SENT and values["settled_at"] is not None,
    ),
}
# The columns read only for whether the record counts: an invoice that stays issued
# (open, paid, void, written off) or a payment that stays received keeps its event.
_COUNTS_ONLY: dict[type, frozenset[str]] = {
    Invoice: frozenset({"state"}),
    Payment: frozenset({"state"}),
}


def _values(record: Any, names: tuple[str, ...], *, before: bool) -> dict[str, Any] | None:
    """The record's values of `names` before its flush (or as flushed), None where one
    is not known without a query (not loaded: then its days are read again). A record
    stored without a column that has no default was stored with NULL there."""
    state = inspect(record)
    values = {}
    for name in names:
        attribute = state.attrs[name]
        history = attribute.history
        if before and history.deleted:
            value = history.deleted[0]
        elif before and history.added:
            return None  # changed without its old value loaded
        else:
            value = attribute.loaded_value
        if value is NO_VALUE:
            column = state.mapper.columns[name]
            if not state.pending or column.default is not None or column.server_default:
                return None
            value = None
        values[name] = value
    return values


def _moves(record: Any, read: tuple[str, ...], flushed: str) -> bool:
    """Whether the flush of `record` (`flushed`: "stored", "deleted" or "changed") may
    move its invoice's days."""
    changed = set(read)
    if flushed == "changed":
        attributes = inspect(record).attrs
        changed = {name for name in read if attributes[name].history.has_changes()}
        if not changed:
            return False
    if type(record) not in _COUNTS:
        return True
    names, counts = _COUNTS[type(record)]
    after = _values(record, names, before=False)
    if flushed == "stored":
        return after is None or counts(after)
    # A row deleted or changed: as it stood before the flush, and after.
    before = _values(record, names, before=True)
    if before is None or after is None:
        return True
    was, now = counts(before), counts(after)
    if flushed == "deleted":
        return was or now
    return (was or now) and (was != now or bool(changed - _COUNTS_ONLY.get(type(record), set())))


def _touched(session: Session) -> set[int]:
    """The invoices whose bank days the flush may move (its lists as before it)."""
    ids: set[int] = set()
    for records, flushed in (
        (session.new, "stored"),
        (session.deleted, "deleted"),
        (session.dirty, "changed"),
    ):
        for record in records:
            read = _READ.get(type(record))
            if read is None or not _moves(record, read, flushed):
                continue
            invoice_id = record.id if isinstance(record, Invoice) else record.invoice_id
            if invoice_id is not None:
                ids.add(invoice_id)
            if flushed == "changed" and not isinstance(record, Invoice):
                # Moved to another invoice: the one it left moves too.
                for was in inspect(record).attrs.invoice_id.history.deleted:
                    if was is not None:
                        ids.add(was)
    return ids


# The statements read and written, each built once, on first use (round 63, hot63): the
# read after every flush that moved money built `bank_days` again each time, and
# SQLAlchemy then walked the new tree for its cache key (a kept statement keeps its
# key). The invoices are one expanding parameter (`ids`), as the list they were.
_IDS = "ids"


@cache
def _days(every: bool) -> Select[tuple[int, date | None, date | None]]:
    """The days of every invoice, or (`every` false) of the invoices the `ids` name."""
    days = bank_days(None, None if every else bindparam(_IDS, expanding=True))
    return select(days.c.invoice_id, days.c.paid_on, days.c.owing_since)


@cache
def _kept() -> Update:
    """What one invoice keeps (executed with a row of parameters per invoice)."""
    return (
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("invoice"))
        .values(bank_paid_on=bindparam("paid_on"), bank_owing_since=bindparam("owing_since"))
    )


def read(session: Session, ids: Iterable[int] | None) -> dict[int, tuple[date | None, date | None]]:
    """The days of the invoices `ids` (every invoice with None) from their events:
    `(paid_on, owing_since)` by invoice id; a draft has none (None, None)."""
    if ids is None:
        found = session.connection().execute(_days(True))
        return {row.invoice_id: (row.paid_on, row.owing_since) for row in found}
    chosen = sorted(ids)
    if not chosen:
        return {}
    found = session.connection().execute(_days(False), {_IDS: chosen})
    kept = {row.invoice_id: (row.paid_on, row.owing_since) for row in found}
    return {id_: kept.get(id_, (None, None)) for id_ in chosen}


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
            _kept(),
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
