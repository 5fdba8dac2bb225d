"""Statements sent, as their months read now.

A month's statement is emailed once (`services.send_monthly_statements`), but an entry
can be dated into a month after its statement went: an offline payment received in it
and recorded late, a payment the bank returned on a day in it, a dispute's withdrawal
booked after Stripe made it. The statement of that month then reads differently from
what the licensee was sent. Each sent statement is compared, figure for figure, with
the statement of its month as it reads now: its opening balance (the end of the day
before its first) and its closing balance (the end of its last day), both the
receivables export's (`finance.queries.Receivable.balance_on`), as the statement's are.

No statement is made again to compare it: the ledger of every organization on a page,
in each currency, is read once (`receivables(..., organization_ids=)`: three queries a
currency, whatever the number of rows) and each row's two balances summed from it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.accounts.models import Organization
from licensing.billing.models import (
    CreditNote,
    Invoice,
    LateEntryCheck,
    Payment,
    PaymentReversal,
    Refund,
    SentStatement,
)
from licensing.billing.states import REFUND_SENT
from licensing.db import utcnow
from licensing.finance.queries import Receivable, receivables

ZERO = Decimal(0)

# The statements with an entry dated into their month after they were emailed that
# the billing page reads at most (each is then compared): enough for years of late
# entries; past it the page says so.
LATE_READ = 1000


@dataclass(frozen=True)
class SentReading:
    """A statement sent, and its month's statement as it reads now."""

    sent: SentStatement
    opening: Decimal
    closing: Decimal

    @property
    def changed(self) -> bool:
        """The statement now reads differently from what was last emailed."""
        return (self.opening, self.closing) != (self.sent.last_opening, self.sent.last_closing)


# Statements sent, the newest month first, then by currency and organization.
SENT_ORDER = (
    SentStatement.month.desc(),
    SentStatement.currency,
    SentStatement.organization_id,
    SentStatement.id,
)


def sent_query(
    *,
    organization_id: int | None = None,
    currency: str | None = None,
    first: date | None = None,
    last: date | None = None,
) -> Select[Any]:
    """Statements sent, the newest month first, then by currency: of one organization,
    in one currency, for months from `first` to `last` (each the first of its month)."""
    query = select(SentStatement).order_by(*SENT_ORDER)
    if organization_id is not None:
        query = query.where(SentStatement.organization_id == organization_id)
    if currency is not None:
        query = query.where(SentStatement.currency == currency)
    if first is not None:
        query = query.where(SentStatement.month >= first)
    if last is not None:
        query = query.where(SentStatement.month <= last)
    return query


def _owed(ledger: Sequence[Receivable], day: date) -> Decimal:
    return sum((receivable.balance_on(day) for receivable in ledger), ZERO)


def read_now(session: Session, sent: Sequence[SentStatement]) -> list[SentReading]:
    """Each statement sent with its month's opening and closing balance as they are
    now, in the order given."""
    by_currency: dict[str, list[SentStatement]] = defaultdict(list)
    for each in sent:
        by_currency[each.currency].append(each)
    figures: dict[int, tuple[Decimal, Decimal]] = {}
    for currency, rows in by_currency.items():
        ledger = receivables(
            session,
            currency,
            None,
            max(row.closes_on for row in rows),
            organization_ids=sorted({row.organization_id for row in rows}),
            voided_too=True,
        )
        by_organization: dict[int, list[Receivable]] = defaultdict(list)
        for receivable in ledger:
            by_organization[receivable.organization_id].append(receivable)
        for row in rows:
            own = by_organization[row.organization_id]
            opening = _owed(own, row.month - timedelta(days=1))
            figures[row.id] = (opening, _owed(own, row.closes_on))
    return [SentReading(each, *figures[each.id]) for each in sent]


def _late_entry() -> ColumnElement[bool]:
    """An entry of the statement's organization and currency recorded after it was
    last emailed and dated on or before its month's last day: only such an entry can
    change what its month reads (a void is dated the day it is made, so is never one,
    but an invoice issued by then and voided since is read again all the same).

    A refund sent is one (round 54): an offline refund is dated the day staff say it
    was sent (on or after its credit note's issue), which can be in a month already
    emailed and before the payment it gives back came, and then the month's closing
    balance counts it (`tests/integration/billing/test_statements_sent.py`).
    An offline refund's return is (round 55): dated the day the bank returned it
    (`returned_on`), as a payment's reversal, which staff may record after the month's
    statement was emailed. So is a card refund's return by the card's bank since round
    56: dated on Stripe's day (`returned_on` too), which a late webhook can put in a
    month already emailed."""
    sent = SentStatement
    emailed = func.coalesce(sent.resent_at, sent.sent_at)

    def of(
        record: type[Payment]
        | type[PaymentReversal]
        | type[CreditNote]
        | type[Invoice]
        | type[Refund],
    ) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        return (record.organization_id == sent.organization_id, record.currency == sent.currency)

    return or_(
        exists().where(
            *of(Payment), Payment.created_at > emailed, Payment.received_on <= sent.closes_on
        ),
        exists().where(
            *of(PaymentReversal),
            PaymentReversal.created_at > emailed,
            PaymentReversal.returned_on <= sent.closes_on,
        ),
        exists().where(
            *of(CreditNote), CreditNote.issued_at > emailed, CreditNote.issue_date <= sent.closes_on
        ),
        exists().where(
            *of(Invoice),
            Invoice.issue_date <= sent.closes_on,
            or_(Invoice.finalized_at > emailed, Invoice.voided_at > emailed),
        ),
        exists().where(*of(Refund), *_refund_sent_late(emailed, sent.closes_on)),
        exists().where(
            *of(Refund), Refund.failed_at > emailed, Refund.returned_on <= sent.closes_on
        ),
    )


def _refund_sent_late(emailed: Any, closes_on: Any) -> tuple[ColumnElement[bool], ...]:
    """A refund sent, recorded (confirmed sent: `settled_at`) after `emailed`, dated on
    or before `closes_on` (`sent_on`: an offline refund's day sent; a card refund's
    Stripe's day since round 56, refundlist56, which a success applied late dates into a
    month already emailed)."""
    return (
        Refund.state.in_(REFUND_SENT),
        Refund.settled_at > emailed,
        Refund.sent_on <= closes_on,
    )


# A check looks again at the entries recorded this long before the last check began:
# an entry is stamped when its service records it (`created_at`, `finalized_at`, ...)
# and can be committed after a check that began later than the stamp; no unit of work
# of the service stays open for a day.
CHECK_OVERLAP = timedelta(days=1)
# The one row of `late_entry_checks`.
CHECK_ROW = 1
# Statements marked an UPDATE at most (each id a bound parameter).
MARK_BATCH = 500


# When nothing new is late, the check's moment is moved at most this often (and only
# when an entry was recorded after it), so that a page's reading of the entries
# recorded since stays within a day and this: round 57, the console home moved it, a
# write, on every load.
CHECK_EVERY = timedelta(hours=1)


def _recorded_since(since: datetime) -> list[Select[Any]]:
    """Each kind of entry `_late_entry` names, recorded after `since`: its
    organization, currency, the day it is dated and the moment it was recorded (an
    invoice twice, finalized and voided). Each reads an index on the recorded moment."""
    refund_sent = Refund.state.in_(REFUND_SENT)
    kinds: list[tuple[Any, Any, Any, tuple[ColumnElement[bool], ...]]] = [
        (Payment, Payment.received_on, Payment.created_at, ()),
        (PaymentReversal, PaymentReversal.returned_on, PaymentReversal.created_at, ()),
        (CreditNote, CreditNote.issue_date, CreditNote.issued_at, ()),
        (Invoice, Invoice.issue_date, Invoice.finalized_at, ()),
        (Invoice, Invoice.issue_date, Invoice.voided_at, ()),
        (Refund, Refund.sent_on, Refund.settled_at, (refund_sent,)),
        (Refund, Refund.returned_on, Refund.failed_at, ()),
    ]
    return [
        select(record.organization_id, record.currency, dated, recorded)
        .where(recorded > since, dated.is_not(None), *also)
        .distinct()
        for record, dated, recorded, also in kinds
    ]


def last_checked(session: Session) -> datetime | None:
    """The moment of the last check (`late_entry_checks`), read without a lock; None
    before the first."""
    return session.scalar(select(LateEntryCheck.checked_at).where(LateEntryCheck.id == CHECK_ROW))


def asks_every_statement(checked_at: datetime | None, now: datetime) -> bool:
    """No check before (the first after billing_0026), or one that says it looked more
    than `CHECK_OVERLAP` after `now` (a clock set back): every statement sent is asked
    `_late_entry`, as before round 56."""
    return checked_at is None or checked_at - CHECK_OVERLAP > now


def late_unmarked(session: Session, checked_at: datetime | None, now: datetime) -> list[int]:
    """The ids of the statements sent, not yet marked, that an entry recorded since the
    check at `checked_at`, less `CHECK_OVERLAP`, is late for: of its organization and
    currency, recorded after the statement was last emailed, dated on or before its
    month's last day (`_late_entry`'s rule, entry by entry). Hosts whose clocks are a
    little apart read from the earlier of the two moments. When `asks_every_statement`,
    every statement sent not marked that `_late_entry` finds. Otherwise two reads: the
    entries recorded since (each kind by an index), then the statements of their
    organizations (by the organization's index, a list of ids: a join let both
    databases read every statement sent at some sizes), never every statement sent.
    What a check marks, and what a reading without the check's write counts besides
    the marked (round 57)."""
    sent = SentStatement
    unmarked = sent.late_entry_at.is_(None)
    if checked_at is None or asks_every_statement(checked_at, now):
        return list(session.scalars(select(sent.id).where(unmarked, _late_entry())))
    since = min(checked_at, now) - CHECK_OVERLAP
    entries: dict[tuple[int, str], list[tuple[date, datetime]]] = defaultdict(list)
    for query in _recorded_since(since):
        for organization, currency, dated, recorded in session.execute(query):
            entries[organization, currency].append((dated, recorded))
    if not entries:
        return []
    organizations = sorted({organization for organization, _ in entries})
    columns = (sent.id, sent.organization_id, sent.currency, sent.closes_on)
    statements = session.execute(
        select(*columns, sent.sent_at, sent.resent_at).where(
            sent.organization_id.in_(organizations), unmarked
        )
    )
    return sorted(
        row.id
        for row in statements
        if any(
            dated <= row.closes_on and recorded > (row.resent_at or row.sent_at)
            for dated, recorded in entries.get((row.organization_id, row.currency), ())
        )
    )


def check_due(session: Session, checked_at: datetime, now: datetime) -> bool:
    """Moving the check's moment is worth a write though nothing new is late: it is
    `CHECK_EVERY` old and an entry was recorded after it (so the next readings of the
    entries recorded since read fewer). In a quiet office it is never moved."""
    if now - checked_at < CHECK_EVERY:
        return False
    recorded = (query.exists() for query in _recorded_since(checked_at))
    return bool(session.scalar(select(or_(*recorded))))


def note_late_entries(session: Session, now: datetime | None = None) -> None:
    """Mark (`late_entry_at`) every statement sent that `late_unmarked` finds since the
    last check (a re-send clears the mark: `services.resend_statement`), and move the
    check's moment to `now`, under the check row's lock. Writes in the caller's unit of
    work."""
    now = now or utcnow()
    sent = SentStatement
    check = session.get(LateEntryCheck, CHECK_ROW, with_for_update=True)
    checked_at = check.checked_at if check else None
    if checked_at is None or asks_every_statement(checked_at, now):
        markings: list[tuple[ColumnElement[bool], ...]] = [
            (sent.late_entry_at.is_(None), _late_entry())
        ]
    else:
        ids = late_unmarked(session, checked_at, now)
        markings = [
            (sent.id.in_(ids[at : at + MARK_BATCH]),) for at in range(0, len(ids), MARK_BATCH)
        ]
    for marking in markings:
        session.execute(
            update(sent)
            .where(*marking)
            .values(late_entry_at=now)
            .execution_options(synchronize_session=False)
        )
    if check is not None:
        check.checked_at = now
        return
    try:
        with session.begin_nested():
            session.add(LateEntryCheck(id=CHECK_ROW, checked_at=now))
    except IntegrityError:  # another check wrote the row first: it looked as this one did
        pass


_UNREAD: Any = object()


@dataclass(frozen=True)
class ChangedSinceSent:
    """Every statement sent that now reads differently, the newest month first, with
    each organization's name; `more` when more statements had late entries than were
    read (`LATE_READ`); `unmarked` when some were found late but not yet marked (a
    check would mark them)."""

    readings: list[SentReading]
    names: dict[int, str]
    more: bool
    unmarked: bool = False


def _order(sent: SentStatement) -> tuple[Any, ...]:
    """`SENT_ORDER` in Python."""
    return (-sent.month.toordinal(), sent.currency, sent.organization_id, sent.id)


def changed_since_sent(
    session: Session,
    *,
    named: bool = True,
    now: datetime | None = None,
    checked_at: datetime | None = _UNREAD,
) -> ChangedSinceSent:
    """The statements sent whose month now reads differently, of every organization.
    Only those with a late entry are read again: marked by `note_late_entries`, and
    those an entry recorded since the last check is late for (`late_unmarked`), so the
    statements read do not grow with those sent (round 56: every statement sent was
    asked `_late_entry` on each call). Reads only (round 57: it ran the check first, a
    write on every load of the console home): `services.statements_changed` runs the
    check when it is worth it. `checked_at`: the last check's moment, if read already.
    Without `named` (the console's *Work waiting*, which counts them) the
    organizations' names are not read."""
    now = now or utcnow()
    if checked_at is _UNREAD:
        checked_at = last_checked(session)
    is_marked = SentStatement.late_entry_at.is_not(None)
    # The list's order, after a term no index gives: SQLite otherwise walks every
    # statement sent in the month index's order (no sort) to find the few marked,
    # where the partial index of the marked reads them alone and sorts those.
    marked = sent_query().where(is_marked).order_by(None).order_by(is_marked, *SENT_ORDER)
    candidates = list(session.scalars(marked.limit(LATE_READ + 1)))
    unmarked = late_unmarked(session, checked_at, now)
    if unmarked:
        found = select(SentStatement).where(SentStatement.id.in_(unmarked))
        candidates = sorted({*candidates, *session.scalars(found)}, key=_order)
        candidates = candidates[: LATE_READ + 1]
    more = len(candidates) > LATE_READ
    changed = [each for each in read_now(session, candidates[:LATE_READ]) if each.changed]
    ids = sorted({each.sent.organization_id for each in changed})
    names: dict[int, str] = {}
    if ids and named:
        rows = session.execute(
            select(Organization.id, Organization.legal_name).where(Organization.id.in_(ids))
        )
        names = {row.id: row.legal_name for row in rows}
    return ChangedSinceSent(changed, names, more, bool(unmarked))


@dataclass(frozen=True)
class LateEntry:
    """An entry recorded after its statement was last emailed and dated into (or
    before) its month: why the statement now reads differently."""

    what: str
    amount: Decimal
    dated: date
    recorded: datetime


def late_entries(session: Session, sent: Sequence[SentStatement]) -> dict[int, list[LateEntry]]:
    """The entries behind each statement's change (`_late_entry`'s, by statement id),
    so that billing staff see why it is listed before deciding to send it again: one
    query a kind of entry for the whole page."""
    found: dict[int, list[LateEntry]] = defaultdict(list)
    ids = [each.id for each in sent]
    if not ids:
        return found
    row = SentStatement
    emailed = func.coalesce(row.resent_at, row.sent_at)

    def of(record: Any) -> ColumnElement[bool]:
        return and_(record.organization_id == row.organization_id, record.currency == row.currency)

    kinds: list[tuple[Any, str | ColumnElement[Any], Any, Any, Any]] = [
        (Payment, "Payment received", Payment.amount, Payment.received_on, Payment.created_at),
        (
            PaymentReversal,
            # Round 68: a payment moved to the invoice it pays was taken off, not returned.
            case(
                (
                    PaymentReversal.moved_to_id.is_not(None),
                    "Payment taken off (recorded against the wrong invoice)",
                ),
                else_="Payment returned by the bank",
            ),
            PaymentReversal.amount,
            PaymentReversal.returned_on,
            PaymentReversal.created_at,
        ),
        (CreditNote, "Credit note", CreditNote.amount, CreditNote.issue_date, CreditNote.issued_at),
        (Invoice, "Invoice issued", Invoice.total, Invoice.issue_date, Invoice.finalized_at),
        (Refund, "Refund sent", Refund.amount, Refund.sent_on, Refund.settled_at),
        # Round 55: an offline refund the bank returned, on the bank's day; round 56: a
        # card refund's return, on Stripe's.
        (
            Refund,
            "Refund returned by the bank",
            Refund.amount,
            Refund.returned_on,
            Refund.failed_at,
        ),
    ]
    for record, what, amount, dated, recorded in kinds:
        # `what` is the kind's words, or a column choosing them a row.
        said = literal(what) if isinstance(what, str) else what
        query = (
            select(row.id, amount, dated, recorded, said)
            .join(record, and_(of(record), recorded > emailed, dated <= row.closes_on))
            .where(row.id.in_(ids))
            .order_by(row.id, recorded)
        )
        for sent_id, money, day, moment, words in session.execute(query):
            found[sent_id].append(LateEntry(words, money, day, moment))
    for entries in found.values():
        entries.sort(key=lambda entry: entry.recorded)
    return found
