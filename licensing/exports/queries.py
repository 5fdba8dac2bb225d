"""Query pieces the datasets share: the licensee joined and the filter's
organization, currency, state and dates on any dataset's columns, filters on
invoices, amounts at the currency's digits, the day money moved (a payment's
paid date, a refund's sent date), and a dataset's count (`db.count_rows`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from licensing.accounts.models import Organization, User
from licensing.billing.models import CreditNote, Invoice, Payment, PaymentReversal, Refund
from licensing.billing.queries import paid_between
from licensing.billing.states import DRAFT
from licensing.calendar import office_date
from licensing.db import Statement, count_rows
from licensing.exports.base import BATCH, CountFunction, ExportContext
from licensing.exports.filters import ISSUED, PAID, RECORDED, ExportFilter
from licensing.money import minor_units


@lru_cache(maxsize=64)
def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def amount(value: Decimal | None, currency: str) -> Decimal | None:
    """Exactly the currency's digits (stored amounts may carry four)."""
    return None if value is None else value.quantize(_exponent(currency))


def places(currency: str) -> int:
    return minor_units(currency)


def day_of(moment: Any) -> date | None:
    return None if moment is None else office_date(moment)


def streamed(statement: Statement) -> Statement:
    """Fetched in batches from a server-side cursor: memory stays flat."""
    return statement.execution_options(yield_per=BATCH)


def each_batch(session: Session, statement: Statement) -> Iterator[Sequence[Any]]:
    """The statement's rows a batch at a time (see `each`)."""
    with session.connection().execute(streamed(statement)) as result:
        yield from result.partitions()


def text_batches(session: Session, statement: Statement) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The rows of a statement that selects only text (columns SQLAlchemy hands
    on as the driver returns them, such as the CSV the database writes), a
    batch at a time, as the driver's own tuples.

    The first batch comes through SQLAlchemy's result, which opened the
    server-side cursor (and read ahead into its buffer, which a batch of the
    full size empties); the rest straight from the driver's cursor, without a
    `Row` made for each result: a tenth of the client's time in an export of
    invoice lines (measured on SQLite and PostgreSQL). The cursor is closed as
    in `each_batch`."""
    with session.connection().execute(streamed(statement)) as result:
        batch: Sequence[Any] = result.fetchmany(BATCH)
        while len(batch) == BATCH:
            yield batch
            batch = result.cursor.fetchmany(BATCH)
        if batch:
            yield batch


def each(session: Session, statement: Statement) -> Iterator[Any]:
    """The statement's rows from a server-side cursor, which is closed when the
    rows run out or when the export stops midway (the generator is closed).

    Executed on the session's connection (Core): the statements select columns,
    never entities, so the ORM's result processing would only cost time (a fifth
    of an export of invoice lines, profiled)."""
    with session.connection().execute(streamed(statement)) as result:
        for rows in result.partitions():  # a batch at a time: fewer calls per row
            yield from rows


def licensee(record: Any) -> tuple[Any, Any]:
    """What a statement selects for `columns.LICENSEE` beside a record the
    organization owns (with `of_licensee`, which joins the organization)."""
    return record.organization_id, Organization.legal_name


def person_name(user_id: Any, address: Any) -> ColumnElement[Any]:
    """The name of the person a record says acted (round 60: the `..._name` columns
    beside an address), found as the console names them: the account the record kept
    (`user_id`), else, for a row from before it kept one, the account holding the
    address now; NULL where none (the system, a deleted account). Two correlated
    lookups by the users' primary key and unique address, no join that could repeat
    the record's row."""
    by_account = select(User.full_name).where(User.id == user_id).scalar_subquery()
    by_address = (
        select(User.full_name)
        .where(user_id.is_(None), User.email == func.lower(address))
        .scalar_subquery()
    )
    return func.coalesce(by_account, by_address)


def of_licensee(
    statement: Statement, record: Any, given: ExportFilter, *, by_state: bool = False
) -> Statement:
    """`statement` joined to the organization that owns `record` (for its name),
    kept to the filter's organization, currency and, `by_state`, state, on the
    record's own columns (`record` is a model with `organization_id`,
    `currency` and `state`, or an alias of one)."""
    statement = statement.join(Organization, Organization.id == record.organization_id)
    if given.organization_id is not None:
        statement = statement.where(record.organization_id == given.organization_id)
    if given.currency:
        statement = statement.where(record.currency == given.currency)
    if by_state and given.state:
        statement = statement.where(record.state == given.state)
    return statement


def on_days(statement: Statement, day: Any, given: ExportFilter) -> Statement:
    """A date column within the filter's days, both included."""
    if given.date_from:
        statement = statement.where(day >= given.date_from)
    if given.date_to:
        statement = statement.where(day <= given.date_to)
    return statement


def _within(moment: Any, given: ExportFilter) -> list[ColumnElement[bool]]:
    """A time stamp within the filter's days at the office (UTC bounds)."""
    bounds: list[ColumnElement[bool]] = []
    if given.starts():
        bounds.append(moment >= given.starts())
    if given.ends():
        bounds.append(moment < given.ends())
    return bounds


def at_times(statement: Statement, moment: Any, given: ExportFilter) -> Statement:
    """A time stamp within the filter's days at the office (UTC bounds)."""
    return statement.where(*_within(moment, given))


def issued_invoices(statement: Statement, given: ExportFilter) -> Statement:
    """Issued invoices (drafts are not documents yet) of the filter's licensees."""
    statement = of_licensee(statement.where(Invoice.state != DRAFT), Invoice, given, by_state=True)
    if given.date_basis == ISSUED:
        statement = on_days(statement, Invoice.issue_date, given)
    elif given.date_basis == PAID:
        if given.date_from or given.date_to:
            statement = statement.where(Invoice.paid_at.is_not(None))
        statement = at_times(statement, Invoice.paid_at, given)
    elif given.date_basis == RECORDED:
        # A nightly pull: issued, paid, voided, written off as uncollectible or
        # reopened (its payment reversed) on the days. The last two stamp their time
        # since billing_0014 (round 33); round 32 read them in the audit log.
        changed = (
            Invoice.finalized_at,
            Invoice.paid_at,
            Invoice.voided_at,
            Invoice.written_off_at,
            Invoice.reopened_at,
        )
        statement = recorded_on_days(statement, changed, given, also=_amounts_changed(given))
    return statement


def _amounts_changed(given: ExportFilter) -> list[ColumnElement[bool]]:
    """Round 51: an invoice whose amounts changed on the filter's days without a step
    of its own: a payment counted against it (`settled_at`, whatever the payment's
    kind: a part paid by wire, a card, a flagged one accepted, money a dispute won
    reinstated), a payment taken back (its reversal's `created_at`: a bounced check,
    a dispute's withdrawal, on an invoice that stays open) or a credit note issued
    on it (`issued_at`), and since round 53 a refund sent or failed (`settled_at`,
    `failed_at`: the invoice's `amount_refunded`). Until round 51 the pull missed a
    partial payment and a credit note, and the ledger kept the invoice's `amount_paid`,
    `amount_credited` and `balance_due` as they were the night it was issued."""
    # Uncorrelated: each set of invoices can be read once (PostgreSQL hashes it), where a
    # correlated EXISTS under the OR was a probe for every invoice.
    return [
        Invoice.id.in_(select(record.invoice_id).where(*_within(moment, given)))
        for record, moment in (
            (Payment, Payment.settled_at),
            (PaymentReversal, PaymentReversal.created_at),
            (CreditNote, CreditNote.issued_at),
            # Round 53: a refund sent, or one sent and failed, changes `amount_refunded`
            # (and, after a payment returned, `balance_due`). Refunds are few and their
            # times not indexed (as `billing_0016` left them): read whole, once.
            (Refund, Refund.settled_at),
            (Refund, Refund.failed_at),
        )
    ]


def recorded_on_days(
    statement: Statement,
    moments: Sequence[Any],
    given: ExportFilter,
    *,
    also: Sequence[ColumnElement[bool]] = (),
) -> Statement:
    """Records written or changed on the filter's days at the office: any of the time
    stamps `moments` (when recorded, applied, reversed, failed...) within them
    (`by=recorded`), or any of the conditions `also` (a related record's stamp).
    Every step a pull sees stamps its time on the record (round 33)."""
    if not (given.date_from or given.date_to):
        return statement
    return statement.where(or_(*(and_(*_within(moment, given)) for moment in moments), *also))


def made_on_days(statement: Statement, day: Any, settled_at: Any, given: ExportFilter) -> Statement:
    """Money moved on the filter's days (`paid_between`), when it names any."""
    if given.date_from or given.date_to:
        statement = statement.where(paid_between(day, settled_at, given.date_from, given.date_to))
    return statement


def made_on(day: date | None, settled_at: datetime | None) -> date | None:
    """The day money moved, in Python as `paid_between` reads it in SQL: the day
    recorded (offline), else the office day Stripe settled it (card)."""
    return day or day_of(settled_at)


def organization_choices(session: Any) -> list[tuple[int, str]]:
    """Every organization by name, for the console's filter: alphabetically in any
    case and script, accents after their letter (round 52 sorted them in Python;
    round 53: by the stored `legal_name_sort_key` and its index, in SQL)."""
    rows = session.execute(
        select(Organization.id, Organization.legal_name).order_by(
            Organization.legal_name_sort_key, Organization.id
        )
    ).all()
    return [(row.id, row.legal_name) for row in rows]


def counter(
    statement: Callable[[ExportFilter], Statement], *, use_by_row: bool = False
) -> CountFunction:
    """A dataset's `count`: its statement's rows, counted by the database; unknown
    (None) when the dataset finds a line's use row by row and the filter names one."""

    def count(context: ExportContext, given: ExportFilter) -> int | None:
        if use_by_row and given.use:
            return None
        return count_rows(context.session, statement(given))

    return count
