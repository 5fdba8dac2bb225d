"""Reading royalty reports for pages and the API: the staff queue and the rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    Exists,
    Integer,
    Row,
    ScalarSelect,
    Select,
    String,
    and_,
    bindparam,
    case,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased, selectinload

from licensing import db
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.billing import queries as billing_queries
from licensing.billing.models import CreditNote, Invoice
from licensing.billing.states import COLLECTIBLE as COLLECTIBLE_INVOICE
from licensing.billing.states import DRAFT as DRAFT_INVOICE
from licensing.billing.states import ROYALTY_REPORT
from licensing.billing.states import VOID as VOID_INVOICE
from licensing.calendar import business_days_between, business_deadline, office_date
from licensing.finance.queries import DUE_SOON, ON_TRACK, PAST_TARGET, QueueHealth
from licensing.finance.queries import health as finance_health
from licensing.money import filed_amount

from . import lateness
from .models import ReportingPeriod, RoyaltyReport, RoyaltyReportRow
from .periods import REPORT_DUE_DAYS, Period
from .rows import COLUMNS
from .services import REPORTING_STATES, PeriodStatus
from .states import (
    CORRECTION_REQUESTED,
    DUE,
    FLAGGED,
    OVERDUE,
    OWING,
    QUEUE_STATES,
    SUBMITTED,
    TO_FILE,
    UPCOMING,
)

ROWS_PER_READ = 2000
# A select of any columns (the queue's helpers add joins and conditions to several).
AnySelect = Select[*tuple[Any, ...]]


def report_rows(session: Session, report_id: int) -> Iterator[tuple[object, ...]]:
    """A report's rows as submitted, in the template's columns, read in batches (for
    `licensing.streaming.stream_rows`, which owns the session and closes it). Revenue
    reads with the currency's minor-unit digits, as filed (`money.filed_amount`)."""
    currency = session.scalars(
        select(Agreement.currency)
        .join(RoyaltyReport, RoyaltyReport.agreement_id == Agreement.id)
        .where(RoyaltyReport.id == report_id)
    ).one()
    rows = session.scalars(
        select(RoyaltyReportRow)
        .where(RoyaltyReportRow.report_id == report_id)
        .order_by(RoyaltyReportRow.row_number)
        .execution_options(yield_per=ROWS_PER_READ)
    )
    with rows:
        for row in rows:
            yield (
                row.line,
                row.customer_id,
                row.customer_name,
                row.country,
                row.unit,
                row.quantity,
                None if row.revenue is None else filed_amount(row.revenue, currency),
            )


def rows_to_amend(
    session: Session, report: RoyaltyReport, limit: int
) -> list[dict[str, str]] | None:
    """The report's rows as filed, as the rows form shows them, to start its
    amendment from; None when it has more than `limit` rows (the form's bound)."""
    if report.row_count > limit:
        return None
    return [
        {
            column: "" if value is None else str(value)
            for column, value in zip(COLUMNS, values, strict=True)
        }
        for values in report_rows(session, report.id)
    ]


@dataclass(frozen=True)
class QueueFilter:
    state: str | None = None
    agreement: str | None = None
    organization_id: int | None = None
    period_start: date | None = None


# --- the staff queue: stored periods, read a page at a time --------------------------
#
# Every reporting agreement's periods are rows of `reporting_periods` (written when
# it starts to report, `schedule.record_periods`; deleted when it is terminated),
# with its number and organization for the order and filters. A period's state is
# derived here from its dates, the office's today and its current report (a LEFT
# JOIN), exactly as `services.period_state` derives it in Python. So the queue, its
# count, filters, order and summaries are SQL, and the queue reads its page in the
# order of an index, stopping after it (docs/list-pages.md).


def _current_report() -> ColumnElement[bool]:
    return and_(
        RoyaltyReport.agreement_id == ReportingPeriod.agreement_id,
        RoyaltyReport.period_start == ReportingPeriod.period_start,
        RoyaltyReport.state == SUBMITTED,
    )


def _reporting(statement: AnySelect, actor: Actor) -> AnySelect:
    """`statement` over the periods of the agreements that report and that `actor`
    may see, each with its current report (if any)."""
    statement = statement.select_from(ReportingPeriod).outerjoin(RoyaltyReport, _current_report())
    return _seen_by(statement, actor, ReportingPeriod.organization_id)


def _seen_by(
    statement: AnySelect, actor: Actor, organization_id: InstrumentedAttribute[int]
) -> AnySelect:
    if actor.sees_every_organization:
        return statement
    if actor.is_vendor:
        return statement.where(organization_id == actor.organization_id)
    return statement.where(false())  # a link actor sees no organization's periods


def period_state_of(today: BindParameter[date]) -> ColumnElement[str]:
    """A period's state in SQL:
    `services.period_state` (upcoming until it ends, due to the day it is late from
    inclusive, overdue after; submitted once reported). It is late from its due date,
    or from a later acceptance's office day (a back report: `lateness.late_from`)."""
    return case(
        (RoyaltyReport.id.is_not(None), SUBMITTED),
        (ReportingPeriod.period_end >= today, UPCOMING),
        (lateness.late_before(today), OVERDUE),
        else_=DUE,
    )


def _unfiled() -> ColumnElement[bool]:
    """A period with no current report, from the period's own `filed` (royalties_0010),
    where round 53's queue and lists asked a LEFT JOIN of the current report (round 54):
    a filter or count over the periods reads no report."""
    return ReportingPeriod.filed == false()


def _filed() -> ColumnElement[bool]:
    return ReportingPeriod.filed == true()


def _in_state(state: str | None, today: BindParameter[date]) -> ColumnElement[bool]:
    """Periods in `state`; with none chosen, every period but the upcoming ones. Read
    from the period's columns alone (`filed`, its dates), so a count needs no join."""
    unreported = _unfiled()
    late = lateness.late_before(today)
    if state == SUBMITTED:
        return _filed()
    if state == OWING:  # periods62: filed, and still owed on its invoices
        return and_(_filed(), owing())
    if state == UPCOMING:
        return and_(unreported, ReportingPeriod.period_end >= today)
    if state == DUE:
        return and_(unreported, ReportingPeriod.period_end < today, ~late)
    if state == OVERDUE:
        return and_(unreported, late)
    if state == TO_FILE:  # due or overdue
        return and_(unreported, ReportingPeriod.period_end < today)
    return or_(_filed(), ReportingPeriod.period_end < today)


# The queue's and the vendor's list's statements are kept per process, one for each
# shape of request (who looks, and which filters are set); the values (today, the
# filters', the vendor's organization) are bound per request. Built per request,
# the statements and their SQLAlchemy cache keys were most of the page's own work.
_LIST_TODAY = bindparam("periods_today", type_=Date())
_SEEN_ORGANIZATION = bindparam("periods_seen_organization", type_=Integer())
_CHOSEN_AGREEMENT = bindparam("periods_agreement", type_=String())
_CHOSEN_ORGANIZATION = bindparam("periods_organization", type_=Integer())
_CHOSEN_PERIOD = bindparam("periods_period_start", type_=Date())
# Who sees which periods: staff and the system every organization's, a vendor
# its own (bound), a link actor none.
EVERY, OWN, NONE = "every", "own", "none"
LIKE_ESCAPE = "/"


def _sight(actor: Actor) -> str:
    if actor.sees_every_organization:
        return EVERY
    return OWN if actor.is_vendor else NONE


def _sight_parameters(actor: Actor) -> dict[str, Any]:
    return {_SEEN_ORGANIZATION.key: actor.organization_id} if _sight(actor) == OWN else {}


def _reporting_in_sight(statement: AnySelect, sight: str) -> AnySelect:
    """`_reporting` for a statement kept per process: the vendor's organization bound."""
    statement = statement.select_from(ReportingPeriod).outerjoin(RoyaltyReport, _current_report())
    if sight == OWN:
        return statement.where(ReportingPeriod.organization_id == _SEEN_ORGANIZATION)
    return statement if sight == EVERY else statement.where(false())


def _contained(text: str) -> str:
    """A LIKE pattern for `text` anywhere, its wildcards escaped (as
    `contains(..., autoescape=True)` writes it, but as a bound value)."""
    escaped = (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", f"{LIKE_ESCAPE}%")
        .replace("_", f"{LIKE_ESCAPE}_")
    )
    return f"%{escaped}%"


class QueueShape(NamedTuple):
    """What a queue statement depends on besides bound values."""

    sight: str
    state: str | None
    agreement: bool
    organization: bool
    period: bool


def _chosen(statement: AnySelect, shape: QueueShape) -> AnySelect:
    statement = statement.where(_in_state(shape.state, _LIST_TODAY))
    if shape.agreement:
        statement = statement.where(
            ReportingPeriod.agreement_number.like(_CHOSEN_AGREEMENT, escape=LIKE_ESCAPE)
        )
    if shape.organization:
        statement = statement.where(ReportingPeriod.organization_id == _CHOSEN_ORGANIZATION)
    if shape.period:
        statement = statement.where(ReportingPeriod.period_start == _CHOSEN_PERIOD)
    return statement


def _queue_request(
    actor: Actor, chosen: QueueFilter, today: date
) -> tuple[QueueShape, dict[str, Any]]:
    """The shape of the queue `chosen` asks for, and the values to bind."""
    # Part of the number, in any case: numbers are upper case (CPT-2027-000001).
    agreement = (chosen.agreement or "").strip().upper()
    state = chosen.state if chosen.state in QUEUE_STATES else None
    shape = QueueShape(
        _sight(actor),
        state,
        bool(agreement),
        chosen.organization_id is not None,
        chosen.period_start is not None,
    )
    values: dict[str, Any] = {_LIST_TODAY.key: today, **_sight_parameters(actor)}
    if shape.agreement:
        values[_CHOSEN_AGREEMENT.key] = _contained(agreement)
    if shape.organization:
        values[_CHOSEN_ORGANIZATION.key] = chosen.organization_id
    if shape.period:
        values[_CHOSEN_PERIOD.key] = chosen.period_start
    return shape, values


# What every period row carries, whatever else a statement reads beside it
# (`_status` and `_upcoming` read them by these names).
_PERIOD_COLUMNS = (
    ReportingPeriod.agreement_id,
    ReportingPeriod.agreement_number,
    ReportingPeriod.organization_id,
    Organization.legal_name,
    ReportingPeriod.period_index,
    ReportingPeriod.period_start,
    ReportingPeriod.period_end,
)


def _period_rows(sight: str, today: BindParameter[date]) -> AnySelect:
    """Each period a `PeriodStatus` shows: agreement (and when it was accepted),
    organization, state, current report and its invoice's number (a vendor's
    organization bound, as `_reporting_in_sight`)."""
    return (
        _reporting_in_sight(
            select(
                *_PERIOD_COLUMNS,
                period_state_of(today).label("state"),
                RoyaltyReport,
                Invoice.number.label("invoice_number"),
                _first_filed_at().label("first_filed_at"),
                Agreement.activated_at.label("accepted_at"),
                _royalty_as_amended().label("royalty_as_amended"),
                ReportingPeriod.id.label("period_id"),
            ),
            sight,
        )
        .join(Agreement, Agreement.id == ReportingPeriod.agreement_id)
        .join(Organization, Organization.id == ReportingPeriod.organization_id)
        .outerjoin(Invoice, Invoice.id == RoyaltyReport.invoice_id)
    )


def _first_filed_at() -> ColumnElement[Any]:
    """For a period its current report amends, when the period was first filed
    (its earliest report), read in the page's own query; NULL otherwise."""
    return _over_the_periods_reports(lambda filed: func.min(filed.submitted_at))


def _royalty_as_amended() -> ColumnElement[Any]:
    """For a period its current report amends, the period's royalty as amended: the
    sum of what each of its reports charged or credited (the first filing's due, then
    each amendment's change), read in the page's own query; NULL otherwise (the
    current report's own due is the period's royalty; round 52)."""
    return _over_the_periods_reports(lambda filed: db.money_sum(filed.total_due))


def _over_the_periods_reports(
    aggregate: Callable[[Any], ColumnElement[Any]],
) -> ColumnElement[Any]:
    """`aggregate` over every report of the current report's period (superseded ones
    too), where the current report is an amendment; NULL otherwise."""
    filed = aliased(RoyaltyReport)
    over = (
        select(aggregate(filed))
        .where(
            filed.agreement_id == RoyaltyReport.agreement_id,
            filed.period_start == RoyaltyReport.period_start,
        )
        .scalar_subquery()
    )
    return case((RoyaltyReport.amends_id.is_not(None), over))


@dataclass(frozen=True)
class Listing:
    """A list's rows in order, how to count them cheaply, and the values both are
    executed with: the web layer pages them (`paging.read_page`), reading only the
    page's rows."""

    rows: AnySelect
    count: AnySelect
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # Choose the page's periods by their ids first, then read their rows (`_keyed`).
    keys_first: bool = False
    # Or choose them with this statement of the page's ids, bound with the page's
    # offset and size (`PAGE_OFFSET`, `PAGE_SIZE`): the vendor's list (round 55).
    keys: AnySelect | None = None
    # A page may be read after (or before) a period's key in the list's order,
    # rather than counted from the first (`around`, round 56): the staff queue
    # (`QUEUE`: both ways), the vendor's list (`VENDOR`: after a period only).
    seeks: str | None = None

    @property
    def seeks_backwards(self) -> bool:
        return self.seeks == QUEUE

    def statuses(
        self, session: Session, page_keys: tuple[str, str] | None = None
    ) -> Callable[[AnySelect, dict[str, int]], list[PeriodStatus]]:
        """Reads a window of `rows` (the page's) into statuses. `page_keys`: the names
        the window's LIMIT and OFFSET are bound by (`paging.LIMIT`, `paging.OFFSET`),
        which `keys` is given as its own."""

        def read(window: AnySelect, parameters: dict[str, int]) -> list[PeriodStatus]:
            bound = {**self.parameters, **parameters}
            if self.keys is not None and page_keys is not None:
                size, offset = (parameters[key] for key in page_keys)
                bound |= {PAGE_SIZE.key: size, PAGE_OFFSET.key: offset}
                chosen = _keyed_by(self.rows, self.keys)
            else:
                chosen = _keyed(self.rows, window) if self.keys_first else window
            return [_status(row) for row in session.execute(chosen, bound)]

        return read

    def around(
        self, session: Session
    ) -> Callable[[int, bool, int], list[PeriodStatus] | None] | None:
        """For a list that `seeks`: reads the `size` periods after the period of an
        id in the list's order (or, `backwards`, the `size` before it), looking its
        key up first; None when that period is not to be found (the page is then
        read by its number). None for a list that does not seek."""
        if not self.seeks:
            return None

        def read(period_id: int, backwards: bool, size: int) -> list[PeriodStatus] | None:
            if self.seeks == VENDOR:
                return None if backwards else self._vendors_after(session, period_id, size)
            key = session.execute(_QUEUE_KEY, {_SEEK_FROM.key: period_id}).first()
            if key is None:
                return None
            bound = {**self.parameters, **dict(zip(_SEEK_AT, key, strict=True)), SEEK_SIZE: size}
            found = [_status(row) for row in session.execute(_sought(self.rows, backwards), bound)]
            return found[::-1] if backwards else found

        return read

    def _vendors_after(
        self, session: Session, period_id: int, size: int
    ) -> list[PeriodStatus] | None:
        """The vendor's list: the `size` periods after one of the organization's."""
        bound = {**self.parameters, _SEEK_FROM.key: period_id}
        key = session.execute(_vendor_key(), bound).first()
        if key is None:
            return None
        part, *values = key
        bound |= dict(zip(_VENDOR_AT, values, strict=True)) | {SEEK_SIZE: size}
        chosen = _keyed_by(self.rows, _vendor_keys_after(part))
        return [_status(row) for row in session.execute(chosen, bound)]


# The staff queue's order, one index's (`ix_reporting_periods_late_order`), every
# column ascending and ending in the id: a page read by key starts at the row after
# its key in the index, where OFFSET read and joined every row before the page (the
# queue's page 400 of 20,000 periods, round 56). A period's key is looked up by its
# id (`_QUEUE_KEY`): the pager's links carry the id, not the key's values.
_QUEUE_ORDER = (ReportingPeriod.late_from, ReportingPeriod.agreement_number, ReportingPeriod.id)
_SEEK_FROM = bindparam("seek_from", type_=Integer())
_QUEUE_KEY = select(*_QUEUE_ORDER).where(ReportingPeriod.id == _SEEK_FROM)
_SEEK_AT = ("seek_late_from", "seek_number", "seek_id")
SEEK_SIZE = "seek_size"
QUEUE, VENDOR = "queue", "vendor"


@cache
def _sought(rows: AnySelect, backwards: bool) -> AnySelect:
    """`rows` (a shape of the staff queue, kept per process) after a key bound as
    `_SEEK_AT`, the first `SEEK_SIZE` of them; or, `backwards`, the last before it,
    nearest first (the caller turns them round). A row value compared in the index's
    own order: both databases read it as the index's range."""
    keyed = tuple_(*_QUEUE_ORDER)
    at = tuple_(
        *(
            bindparam(name, type_=column.type)
            for name, column in zip(_SEEK_AT, _QUEUE_ORDER, strict=True)
        )
    )
    size = bindparam(SEEK_SIZE, type_=Integer())
    if backwards:
        return (
            rows.where(keyed < at)
            .order_by(None)
            .order_by(*(column.desc() for column in _QUEUE_ORDER))
            .limit(size)
        )
    return rows.where(keyed > at).limit(size)


def _keyed(rows: AnySelect, window: AnySelect) -> AnySelect:
    """`rows` for the periods `window` (a page of them: its order, LIMIT and OFFSET)
    chooses, read by id: the order is sorted over ids and the columns it names, not
    over whole rows with their report, agreement and invoice (round 52: the vendor's
    list at page 400 of 2,000 agreements' periods sorted every one of them whole,
    about 290 ms on SQLite; choosing the ids first, about 70 ms)."""
    keys = window.with_only_columns(ReportingPeriod.id, maintain_column_froms=True).subquery()
    return rows.join(keys, keys.c.id == ReportingPeriod.id)


def _keyed_by(rows: AnySelect, keys: AnySelect) -> AnySelect:
    """`rows` for the periods whose ids `keys` selects (a page of them), in `rows`'
    own order: sorting the page's rows, not the list's."""
    chosen = keys.subquery()
    return rows.join(chosen, chosen.c.id == ReportingPeriod.id)


def staff_queue_listing(actor: Actor, chosen: QueueFilter, today: date) -> Listing:
    """The reports due, overdue and submitted across
    organizations (or of the state chosen), the longest late first (by the day each
    is late from, `lateness.late_from`: a back report from its acceptance's day, not
    among the reports overdue since its due date), then by agreement number."""
    shape, values = _queue_request(actor, chosen, today)
    rows, count = _queue_statements(shape)
    return Listing(rows, count, values, seeks=QUEUE)


@cache
def _queue_statements(shape: QueueShape) -> tuple[AnySelect, AnySelect]:
    """The queue's rows and count for one shape of request (a handful of shapes:
    who looks, the state chosen, and which filters are set), kept per process."""
    # The order of `ix_reporting_periods_late_order`: a page is read in it and stops.
    rows = _chosen(_period_rows(shape.sight, _LIST_TODAY), shape).order_by(*_QUEUE_ORDER)
    count = _chosen(_periods_counted(shape.sight), shape)
    return rows, count


def vendor_periods_listing(actor: Actor, today: date, *, state: str | None = None) -> Listing:
    """Every period of the vendor's agreements: the reports sent back for correction
    first (round 54), then the ones not filed, the longest
    late first (by the day each is late from, `lateness.late_from`, as the staff
    queue since round 51: a back report accepted yesterday is not among the reports
    overdue since their due dates), then those filed, newest first (by due date);
    each then by agreement number. `state` `OWING` (periods62): only the filed periods
    the licensee still owes on, in the same order (few: read by their ids first)."""
    sight = _sight(actor)
    if state == OWING:
        rows, count = _vendor_owing_statements(sight)
        return Listing(
            rows, count, {_LIST_TODAY.key: today, **_sight_parameters(actor)}, keys_first=True
        )
    rows, count = _vendor_periods_statements(sight)
    return Listing(
        rows,
        count,
        {_LIST_TODAY.key: today, **_sight_parameters(actor)},
        keys_first=True,
        keys=_vendor_keys(sight) if sight == OWN else None,
        seeks=VENDOR if sight == OWN else None,
    )


# The page a statement of a page's keys is bound with: its size, and how many rows
# of the list come before it.
PAGE_SIZE = bindparam("keys_page_size", type_=Integer())
PAGE_OFFSET = bindparam("keys_page_offset", type_=Integer())


@cache
def _vendor_keys(sight: str) -> AnySelect:
    """The ids of a page of the vendor's list (`_vendor_list_order`), read in three
    parts, each in an index's order and stopped at the page's end, the page taken
    from their union: the reports sent back for correction (a handful, by their
    organization and review state), the periods still to file, the longest late
    first (`ix_reporting_periods_organization_late_order`), and the filed ones not
    sent back, newest first (`ix_reporting_periods_organization_due_order`, walked
    backwards). Each part reads at most the page's end of rows (its offset and
    size), where the list's statement sorted every period of the organization,
    each with its current report, for any page (round 54: 66 ms of CPU at page 400
    of 32,000 periods); the union's sort holds those few (round 55, royalties_0011).
    The parts are disjoint and their union is every period of the organization: a
    period is sent back, not filed, or filed and not sent back."""
    page = _vendor_page_keys(sight, {0: (), 1: (), 2: ()}, PAGE_OFFSET + PAGE_SIZE)
    return page.limit(PAGE_SIZE).offset(PAGE_OFFSET)


def _vendor_page_keys(
    sight: str, parts: Mapping[int, tuple[ColumnElement[bool], ...]], end: ColumnElement[int]
) -> AnySelect:
    """The ids of the vendor's list's `parts` (0 sent back, 1 to file, 2 filed), each
    narrowed by its conditions and read in its index's order to `end` rows, in the
    list's order (no LIMIT: the caller's)."""
    asked: tuple[ColumnElement[bool], ...] = (RoyaltyReport.review_state == CORRECTION_REQUESTED,)
    if sight == OWN:  # through the reports' index of organization and review state
        asked += (RoyaltyReport.organization_id == _SEEN_ORGANIZATION,)
    sent_back = _in_sight(
        select(ReportingPeriod.id).join(RoyaltyReport, _current_report()).where(*asked),
        sight,
    ).correlate(None)
    at = RoyaltyReport.reviewed_at
    every = {
        0: lambda *also: _in_sight(
            select(literal(0).label("part"), at.label("at"), *_keys_of(ReportingPeriod.due_on))
            .select_from(ReportingPeriod)
            .join(RoyaltyReport, _current_report())
            .where(*asked, *also)
            .order_by(at, *_newest_first())
            .limit(end),
            sight,
        ),
        1: lambda *also: _in_sight(
            select(literal(1).label("part"), _no_time(), *_keys_of(ReportingPeriod.late_from))
            .where(_unfiled(), *also)
            .order_by(*_QUEUE_ORDER)
            .limit(end),
            sight,
        ),
        2: lambda *also: _in_sight(
            select(literal(2).label("part"), _no_time(), *_keys_of(ReportingPeriod.due_on))
            .where(_filed(), ReportingPeriod.id.not_in(sent_back.scalar_subquery()), *also)
            .order_by(*_newest_first())
            .limit(end),
            sight,
        ),
    }
    chosen = [every[part](*also) for part, also in sorted(parts.items())]
    union = union_all(*(select(part.subquery()) for part in chosen)).subquery()
    waiting = union.c.part == 1
    return select(union.c.id).order_by(
        union.c.part,
        union.c.at,
        case((waiting, union.c.day)),
        case((waiting, union.c.number)),
        case((~waiting, union.c.day)).desc(),
        case((~waiting, union.c.number)).desc(),
        union.c.id,
    )


# A period's place in the vendor's list (`_vendor_list_order`), looked up by its id
# among the organization's: its part (0 sent back, 1 to file, 2 filed), when it was
# sent back, the day it sorts by (late from, or due), its number and id.
@cache
def _vendor_key() -> AnySelect:
    return _in_sight(
        select(
            case((RoyaltyReport.review_state == CORRECTION_REQUESTED, 0), (_filed(), 2), else_=1),
            RoyaltyReport.reviewed_at,
            case((_unfiled(), ReportingPeriod.late_from), else_=ReportingPeriod.due_on),
            ReportingPeriod.agreement_number,
            ReportingPeriod.id,
        )
        .select_from(ReportingPeriod)
        .outerjoin(RoyaltyReport, _current_report())
        .where(ReportingPeriod.id == _SEEK_FROM),
        OWN,
    )


_VENDOR_AT = ("seek_at", "seek_day", "seek_number", "seek_id")


@cache
def _vendor_keys_after(part: int) -> AnySelect:
    """The ids of the `SEEK_SIZE` periods after a period of the vendor's list whose
    key is bound as `_VENDOR_AT` and whose part is `part`: the rest of its part from
    its key on, in its index's order (the periods to file by a row value; the filed
    ones, walked backwards, from their due date and number on), then the parts
    after it from their start, each stopped at the page's size, as `_vendor_keys`
    reads the parts from the list's start (round 55) and stops at the page's end."""
    at, day, number, period_id = (
        bindparam(name, type_=column.type)
        for name, column in zip(
            _VENDOR_AT,
            (
                RoyaltyReport.reviewed_at,
                ReportingPeriod.due_on,
                ReportingPeriod.agreement_number,
                ReportingPeriod.id,
            ),
            strict=True,
        )
    )
    due, agreement_number = ReportingPeriod.due_on, ReportingPeriod.agreement_number
    newest_first_after = or_(
        due < day,
        and_(due == day, agreement_number < number),
        and_(due == day, agreement_number == number, ReportingPeriod.id > period_id),
    )
    after = {
        0: or_(
            RoyaltyReport.reviewed_at > at,
            and_(RoyaltyReport.reviewed_at == at, newest_first_after),
        ),
        1: tuple_(ReportingPeriod.late_from, agreement_number, ReportingPeriod.id)
        > tuple_(day, number, period_id),
        # The row value bounds the index's walk; the rest skips the key's own ties.
        2: and_(
            tuple_(due, agreement_number) <= tuple_(day, number),
            or_(due != day, agreement_number != number, ReportingPeriod.id > period_id),
        ),
    }
    size = bindparam(SEEK_SIZE, type_=Integer())
    parts = {
        later: (after[later],) if later == part else () for later in (0, 1, 2) if later >= part
    }
    return _vendor_page_keys(OWN, parts, size).limit(size)


def _keys_of(day: InstrumentedAttribute[date]) -> tuple[ColumnElement[Any], ...]:
    """A part's keys in the vendor's order: the day it sorts by, the number, the id."""
    return (
        day.label("day"),
        ReportingPeriod.agreement_number.label("number"),
        ReportingPeriod.id.label("id"),
    )


def _no_time() -> ColumnElement[Any]:
    return null().cast(RoyaltyReport.reviewed_at.type).label("at")


def _newest_first() -> tuple[Any, ...]:
    return (
        ReportingPeriod.due_on.desc(),
        ReportingPeriod.agreement_number.desc(),
        ReportingPeriod.id,
    )


def _vendor_list_order() -> tuple[Any, ...]:
    """The vendor's order of periods (`vendor_periods_listing`), over `_period_rows`:
    the reports sent back for correction first, the one sent back longest ago first
    (its corrected report is due soonest: `correction_due_on` counts from the
    review), then those not filed, the longest late first, then the filed ones,
    newest first. The dashboard names the periods waiting in it too (round 53).

    Round 54: a report sent back is filed, so it sorted among the filed ones by its
    due date: behind every period still to file on the list, and on the dashboard
    into "N more" whenever five others waited, though the office waits on it."""
    filed = _filed()
    sent_back = RoyaltyReport.review_state == CORRECTION_REQUESTED
    return (
        case((sent_back, 0), (filed, 2), else_=1),
        case((sent_back, RoyaltyReport.reviewed_at)),
        case((~filed, ReportingPeriod.late_from)),
        case((~filed, ReportingPeriod.agreement_number)),
        case((filed, ReportingPeriod.due_on)).desc(),
        case((filed, ReportingPeriod.agreement_number)).desc(),
        ReportingPeriod.id,
    )


@cache
def _vendor_periods_statements(sight: str) -> tuple[AnySelect, AnySelect]:
    rows = _period_rows(sight, _LIST_TODAY).order_by(*_vendor_list_order())
    return rows, _periods_counted(sight)


@cache
def _vendor_owing_statements(sight: str) -> tuple[AnySelect, AnySelect]:
    rows, count = _vendor_periods_statements(sight)
    chosen = _in_state(OWING, _LIST_TODAY)
    return rows.where(chosen), count.where(chosen)


def _periods_counted(sight: str) -> AnySelect:
    """How many periods `sight` sees, to be narrowed by the periods' own columns: no
    join of the current report (round 54; a LEFT JOIN on a unique key, so the count
    is the same)."""
    return _in_sight(select(func.count()).select_from(ReportingPeriod), sight)


# The dashboard's two statements, built once per process: every vendor's dashboard
# runs them, and building them (window function, subqueries) cost more than running
# them. Today and the organization are bound per request.
_TODAY = bindparam("waiting_today", type_=Date())
_ORGANIZATION = bindparam("waiting_organization", type_=Integer())


_NAMED = bindparam("waiting_named", type_=Integer())


class VendorWaitingStatements(NamedTuple):
    """The dashboard's statements: the whole answer (`vendor_waiting`), and the
    first few of each with the count of all (`vendor_waiting_named`)."""

    waiting: AnySelect
    upcoming: AnySelect
    named_waiting: AnySelect
    named_upcoming: AnySelect
    # The same, for an organization with no report waiting: no agreement to leave out.
    named_next: AnySelect


@cache
def _vendor_waiting_statements() -> VendorWaitingStatements:
    """The periods waiting on the vendor and each agreement's next one, each chosen
    first from the keys alone and only then joined to what the dashboard shows.

    Round 51 filtered every period of the organization joined to its agreement and
    ran a window over all those not yet ended (`row_number()` per agreement): 2,000
    agreements of a few years each are tens of thousands of periods for the few the
    dashboard names. Round 52 started both from `ix_reporting_periods_organization_end`
    (royalties_0008: organization, period end, then the keys a current report is
    found by; dropped by royalties_0011, round 55), reading the ended periods' keys
    or the ones not yet ended, and asking the current report's unique index of each;
    a report sent back is found by its review state. Only the periods chosen are
    joined to their agreement, organization and invoice.

    Round 53: a period records whether it was filed (`ReportingPeriod.filed`,
    royalties_0010), so both choices read only the periods not filed, from
    `ix_reporting_periods_organization_unfiled`, where round 52 asked the current
    report's index of every ended period (22,000 probes at 2,000 agreements for the 20
    waiting). The periods waiting are in the vendor's list's order, the longest late
    first (`_vendor_list_order`); the next ones in the agreements' order."""
    in_order = (Agreement.term_start, Agreement.id, ReportingPeriod.period_start)
    unfiled = select(ReportingPeriod.id, ReportingPeriod.agreement_id).where(
        ReportingPeriod.organization_id == _ORGANIZATION,
        ReportingPeriod.filed == false(),
        ReportingPeriod.period_end < _TODAY,
    )
    # Staff sent the current report back: the vendor owes a corrected one.
    # Read from the reports (`ix_royalty_reports_organization_review`, royalties_0008):
    # from the periods, it read every filed report's row for its review state.
    sent_back = (
        select(ReportingPeriod.id)
        .select_from(RoyaltyReport)
        .join(ReportingPeriod, _current_report())
        .where(
            RoyaltyReport.organization_id == _ORGANIZATION,
            RoyaltyReport.review_state == CORRECTION_REQUESTED,
            ReportingPeriod.organization_id == _ORGANIZATION,
        )
    )
    chosen = select(unfiled.subquery().c.id).union_all(sent_back)
    waiting = _period_rows(EVERY, _TODAY).where(ReportingPeriod.id.in_(chosen))
    # Each agreement's first period not yet ended and not reported: the earliest
    # start of those, per agreement, then that period's row (its unique key).
    nexts = (
        select(
            ReportingPeriod.agreement_id.label("agreement_id"),
            func.min(ReportingPeriod.period_start).label("period_start"),
        )
        .where(
            ReportingPeriod.organization_id == _ORGANIZATION,
            ReportingPeriod.filed == false(),
            ReportingPeriod.period_end >= _TODAY,
        )
        .group_by(ReportingPeriod.agreement_id)
        .subquery("next_periods")
    )
    upcoming = (
        select(*_PERIOD_COLUMNS)
        .select_from(ReportingPeriod)
        .join(
            nexts,
            and_(
                nexts.c.agreement_id == ReportingPeriod.agreement_id,
                nexts.c.period_start == ReportingPeriod.period_start,
            ),
        )
        .join(Agreement, Agreement.id == ReportingPeriod.agreement_id)
        .join(Organization, Organization.id == ReportingPeriod.organization_id)
    )
    # The dashboard names the first few and counts all (a window over the rows
    # chosen, which are few): the next reports only of the agreements with no report
    # waiting (the page says what waits on those already).
    waited_on = select(unfiled.subquery().c.agreement_id)
    everything = func.count().over()
    longest_late_first = _vendor_list_order()
    return VendorWaitingStatements(
        waiting.order_by(*longest_late_first),
        upcoming.order_by(*in_order),
        waiting.add_columns(everything.label("total")).order_by(*longest_late_first).limit(_NAMED),
        upcoming.add_columns(everything.label("total"))
        .where(ReportingPeriod.agreement_id.not_in(waited_on))
        .order_by(*in_order)
        .limit(_NAMED),
        upcoming.add_columns(everything.label("total")).order_by(*in_order).limit(_NAMED),
    )


def any_periods(organization_id: ColumnElement[int], _now: ColumnElement[datetime]) -> Exists:
    """Whether the organization has any reporting period, as SQL: `vendor_waiting`
    finds nothing for an organization without one, and the vendor dashboard asks
    this with the other features' conditions before reading the periods."""
    return (
        select(ReportingPeriod.id)
        .where(ReportingPeriod.organization_id == organization_id)
        .exists()
    )


def vendor_waiting(actor: Actor, today: date) -> tuple[list[PeriodStatus], list[PeriodStatus]]:
    """The whole answer of the vendor's dashboard: the periods due or overdue or whose
    report staff sent back for correction, in the vendor's list's order (those sent
    back first, the longest waiting first, since round 54; then those not filed, the
    longest late first; since round 53, in the agreements' order before), and the
    next upcoming period of each agreement (whether or not others wait), in the
    agreements' order (by term start) and period order. Only
    a vendor has a dashboard of its own periods. The dashboard itself names the first
    few (`vendor_waiting_named`)."""
    if not actor.is_vendor or actor.organization_id is None:
        return [], []
    session = db.session()
    statements = _vendor_waiting_statements()
    bound = {_TODAY.key: today, _ORGANIZATION.key: actor.organization_id}
    return (
        [_status(row) for row in session.execute(statements.waiting, bound)],
        [_upcoming(row) for row in session.execute(statements.upcoming, bound)],
    )


@dataclass(frozen=True)
class VendorWaiting:
    """What the vendor's dashboard shows of its royalty reports: the first `named` of
    `vendor_waiting`'s waiting periods and how many there are, and the first `named`
    next periods of the agreements with none waiting and how many those are."""

    waiting: list[PeriodStatus]
    waiting_count: int
    upcoming: list[PeriodStatus]
    upcoming_count: int


def vendor_waiting_named(actor: Actor, today: date, named: int) -> VendorWaiting:
    """`vendor_waiting` for the dashboard, bounded by what it names: two statements,
    each reading `named` rows and the count of all (round 52: it read and listed every
    period waiting and every agreement's next one, 2,000 lines for a vendor with 2,000
    agreements)."""
    if not actor.is_vendor or actor.organization_id is None:
        return VendorWaiting([], 0, [], 0)
    session = db.session()
    statements = _vendor_waiting_statements()
    bound = {_TODAY.key: today, _ORGANIZATION.key: actor.organization_id, _NAMED.key: named}
    waiting = session.execute(statements.named_waiting, bound).all()
    # Nothing waiting (as for most vendors, most days): no agreement's next report is
    # left out, and the ended periods are not read a second time to say which.
    nexts = statements.named_upcoming if waiting else statements.named_next
    upcoming = session.execute(nexts, bound).all()
    return VendorWaiting(
        [_status(row) for row in waiting],
        waiting[0].total if waiting else 0,
        [_upcoming(row) for row in upcoming],
        upcoming[0].total if upcoming else 0,
    )


def _upcoming(row: Row[Any]) -> PeriodStatus:
    return PeriodStatus(
        row.agreement_id,
        row.agreement_number,
        row.organization_id,
        row.legal_name,
        Period(row.period_index, row.period_start, row.period_end),
        UPCOMING,
        None,
        None,
    )


def _status(row: Row[Any]) -> PeriodStatus:
    return PeriodStatus(
        row.agreement_id,
        row.agreement_number,
        row.organization_id,
        row.legal_name,
        Period(row.period_index, row.period_start, row.period_end),
        row.state,
        row.RoyaltyReport,
        row.invoice_number,
        row.first_filed_at,
        row.accepted_at,
        row.royalty_as_amended,
        row.period_id,
    )


class AgreementNames(NamedTuple):
    agreement_number: str
    organization_name: str


@dataclass(frozen=True)
class QueueChoices:
    """What the queue's filters offer: the organizations and periods that have
    reporting periods (whatever is chosen), and the names of the flagged reports'
    agreements."""

    organizations: list[tuple[int, str]]
    periods: list[Period]
    agreements: dict[int, AgreementNames]


def queue_choices(actor: Actor, flagged: Iterable[RoyaltyReport]) -> QueueChoices:
    session = db.session()
    return QueueChoices(
        _organizations(session, actor), _periods(session, actor), _names(session, actor, flagged)
    )


def _organizations(session: Session, actor: Actor) -> list[tuple[int, str]]:
    reporting = _seen_by(
        select(ReportingPeriod.id).where(ReportingPeriod.organization_id == Organization.id),
        actor,
        ReportingPeriod.organization_id,
    )
    found = session.execute(
        select(Organization.id, Organization.legal_name).where(reporting.exists())
    )
    return sorted(
        ((row.id, row.legal_name) for row in found), key=lambda o: (o[1].casefold(), o[0])
    )


def _periods(session: Session, actor: Actor) -> list[Period]:
    """Each period start once, with the latest end of the periods that start on it
    (a quarter's end, unless every agreement's term ends inside that quarter)."""
    found = session.execute(_period_starts_statement(_sight(actor)), _sight_parameters(actor))
    return [Period(0, row.day, row.end) for row in found]


def _in_sight(statement: AnySelect, sight: str) -> AnySelect:
    """`statement` over the periods `sight` sees (a vendor's organization bound)."""
    if sight == OWN:
        return statement.where(ReportingPeriod.organization_id == _SEEN_ORGANIZATION)
    return statement if sight == EVERY else statement.where(false())


@cache
def _period_starts_statement(sight: str) -> AnySelect:
    """The starts one at a time, each the least start after the one before (a
    recursive CTE), and each start's greatest end: two lookups in
    `ix_reporting_periods_start_end` a start, where a GROUP BY read every period
    (60,000 at 10,000 agreements: round 52, royalties_0009). Kept per sight."""
    first = _in_sight(select(func.min(ReportingPeriod.period_start).label("day")), sight)
    starts = first.cte("period_starts", recursive=True)
    following = _in_sight(
        select(func.min(ReportingPeriod.period_start)).where(
            ReportingPeriod.period_start > starts.c.day
        ),
        sight,
    ).scalar_subquery()
    starts = starts.union_all(select(following).where(starts.c.day.is_not(None)))
    latest_end = _in_sight(
        select(func.max(ReportingPeriod.period_end)).where(
            ReportingPeriod.period_start == starts.c.day
        ),
        sight,
    ).scalar_subquery()
    return (
        select(starts.c.day, latest_end.label("end"))
        .where(starts.c.day.is_not(None))
        .order_by(starts.c.day)
    )


def _names(
    session: Session, actor: Actor, reports: Iterable[RoyaltyReport]
) -> dict[int, AgreementNames]:
    ids = {report.agreement_id for report in reports}
    if not ids:
        return {}
    found = session.execute(
        _seen_by(
            select(Agreement.id, Agreement.number, Organization.legal_name)
            .join(Organization, Organization.id == Agreement.organization_id)
            .where(Agreement.id.in_(ids), Agreement.state.in_(REPORTING_STATES)),
            actor,
            Agreement.organization_id,
        )
    )
    return {row.id: AgreementNames(row.number, row.legal_name) for row in found}


@dataclass(frozen=True)
class Waiting:
    """The reports waiting on licensees (due or overdue), counted by the database."""

    count: int
    overdue: int
    due_soon: int  # due (not overdue) and at least half the due days old
    # The earliest day one of them is late from (`lateness.late_from`): the queue's
    # first (it lists the longest late first), the console home's "Oldest", and the
    # oldest's age against the due days (`lateness.days_toward_due`). Round 52: the
    # home named the earliest due date, a back report's months before the day it is
    # late from.
    first_late_from: date | None


# The console home's and the Finance page's summary statement, kept per process
# as the dashboard's are (one for each sight): today and the last day a report may
# be late from and still be half its due days old are bound per request, as is a
# vendor's organization.
_WAITING_TODAY = bindparam("summary_today", type_=Date())
_WAITING_HALF_WAY = bindparam("summary_half_way", type_=Date())


@cache
def _waiting_statement(sight: str) -> AnySelect:
    # Late from the due date, or a later acceptance's day (a back report, round 50).
    overdue = lateness.late_before(_WAITING_TODAY)
    statement = select(
        func.count(),
        func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        func.coalesce(
            func.sum(
                case((and_(~overdue, ReportingPeriod.late_from <= _WAITING_HALF_WAY), 1), else_=0)
            ),
            0,
        ),
        func.min(ReportingPeriod.late_from),
    )
    # Round 54: `filed` where it LEFT JOINed every period's current report.
    return _in_sight(statement.select_from(ReportingPeriod), sight).where(
        _unfiled(), ReportingPeriod.period_end < _WAITING_TODAY
    )


def waiting_reports(actor: Actor, today: date, session: Session | None = None) -> Waiting:
    """One aggregate query: the console home's and the Finance page's summaries."""
    bound = {
        _WAITING_TODAY.key: today,
        # Age * 2 >= the due days, the Finance bands' "due soon": late from at most
        # half the due days (rounded down) after today (`lateness.days_toward_due`).
        _WAITING_HALF_WAY.key: today + timedelta(days=REPORT_DUE_DAYS // 2),
        **_sight_parameters(actor),
    }
    statement = _waiting_statement(_sight(actor))
    count, late, soon, first_late_from = (session or db.session()).execute(statement, bound).one()
    return Waiting(int(count), int(late), int(soon), first_late_from)


def flagged_reports(session: Session | None = None) -> list[RoyaltyReport]:
    """Current reports waiting for staff review, oldest first."""
    current = session or db.session()
    return list(
        current.scalars(
            select(RoyaltyReport)
            .where(
                RoyaltyReport.state == SUBMITTED,
                RoyaltyReport.review_state.in_((FLAGGED, CORRECTION_REQUESTED)),
            )
            .order_by(RoyaltyReport.submitted_at, RoyaltyReport.id)
        )
    )


@billing_queries.amended_invoice_for(ROYALTY_REPORT)
def _amended_reports_invoice(report_id: ColumnElement[int | None]) -> ScalarSelect[int]:
    """An amendment's royalty invoice amends the invoice of the report it amends
    (round 36: the API and the invoice's pages say which, as the export does)."""
    amended = aliased(RoyaltyReport)
    return (
        select(amended.invoice_id)
        .join(RoyaltyReport, RoyaltyReport.amends_id == amended.id)
        .where(RoyaltyReport.id == report_id)
        .scalar_subquery()
    )


@billing_queries.period_start_for(ROYALTY_REPORT)
def _reported_period_start(report_id: ColumnElement[int | None]) -> ScalarSelect[date]:
    """A royalty invoice bills its report's period (for the copyright year it prints)."""
    return select(RoyaltyReport.period_start).where(RoyaltyReport.id == report_id).scalar_subquery()


def report_queue_health(session: Session, now: datetime) -> QueueHealth:
    """Reports waiting on licensees, for the Finance page: age in days toward the 30
    days a report is due in (`lateness.days_toward_due`: since the period ended, or
    for a back report counted to reach them on the acceptance's day), against those
    30 days (overdue: past target)."""
    today = office_date(now)
    waiting = waiting_reports(Actor.SYSTEM, today, session)
    bands = {
        ON_TRACK: waiting.count - waiting.overdue - waiting.due_soon,
        DUE_SOON: waiting.due_soon,
        PAST_TARGET: waiting.overdue,
    }
    first = waiting.first_late_from
    oldest = lateness.days_toward_due(first, today) if first is not None else 0
    return QueueHealth(
        "royalty_reports",
        "Royalty reports due or overdue (licensees)",
        REPORT_DUE_DAYS,
        bands,
        oldest,
    )


@dataclass(frozen=True)
class ReviewLevel:
    """A flagged report's review against its service level (round 53): its age in US
    business days since it was filed, the target, when the review is due (the end of
    the office day `target_days` business days after filing) and whether that passed."""

    age_days: int
    target_days: int
    due_at: datetime
    overdue: bool


def review_level(report: RoyaltyReport, now: datetime, *, target_days: int) -> ReviewLevel | None:
    """`ReviewLevel` of a report waiting for staff review (`flagged`); None for any
    other (one sent back for correction waits on the licensee, with its own due day)."""
    if report.state != SUBMITTED or report.review_state != FLAGGED:
        return None
    return _review_level(report.submitted_at, now, target_days)


def _review_level(filed: datetime, now: datetime, target_days: int) -> ReviewLevel:
    due_at = business_deadline(filed, target_days)
    age = business_days_between(office_date(filed), office_date(now))
    return ReviewLevel(age, target_days, due_at, now > due_at)


def review_queue_health(session: Session, now: datetime, *, target_days: int) -> QueueHealth:
    """Flagged reports waiting for staff review, for the Finance page's queue health:
    each one's age since filing against ROYALTY_REVIEW_SLA_DAYS (`review_level`)."""
    ages = []
    for (filed,) in session.execute(
        select(RoyaltyReport.submitted_at).where(
            RoyaltyReport.state == SUBMITTED, RoyaltyReport.review_state == FLAGGED
        )
    ):
        level = _review_level(filed, now, target_days)
        ages.append((level.age_days, level.overdue))
    return finance_health("royalty_review", "Flagged royalty reports to review", target_days, ages)


def reports_of(session: Session, organization_id: int, limit: int = 100) -> list[RoyaltyReport]:
    """An organization's filed royalty reports, newest period first."""
    return list(
        session.scalars(
            select(RoyaltyReport)
            .where(RoyaltyReport.organization_id == organization_id)
            .order_by(RoyaltyReport.period_start.desc(), RoyaltyReport.id.desc())
            .limit(limit)
        )
    )


def report_count_of(session: Session, organization_id: int) -> int:
    """How many royalty reports the organization filed (`reports_of` reads the newest)."""
    statement = select(func.count(RoyaltyReport.id)).where(
        RoyaltyReport.organization_id == organization_id
    )
    return int(session.scalar(statement) or 0)


def credits_of(session: Session, report: RoyaltyReport) -> list[CreditNote]:
    """The credit notes the report issued, each with the invoice it credits (round 56:
    the report's page names the invoice and what is left to pay on it), in issue
    order."""
    if not report.credit_notes:
        return []
    return list(
        session.scalars(
            select(CreditNote)
            .where(CreditNote.number.in_(report.credit_notes))
            .options(selectinload(CreditNote.invoice))
            .order_by(CreditNote.id)
        )
    )


def refunds_owed_of(session: Session, report: RoyaltyReport) -> list[CreditNote]:
    """The report's credit notes that credit a paid amount (`refund_due` above zero),
    with their refunds: what the report's page says is owed back (round 52)."""
    if not report.credit_notes:
        return []
    return list(
        session.scalars(
            select(CreditNote)
            .where(CreditNote.number.in_(report.credit_notes), CreditNote.refund_due > Decimal(0))
            .options(selectinload(CreditNote.refunds), *billing_queries.owed_back_options())
            .order_by(CreditNote.id)
        )
    )


class PeriodDocument(NamedTuple):
    """What one report of a period issued, as a list links it: its invoice, or its
    credit notes, each `(number, id)` (id None: a note not found by its number)."""

    invoice: tuple[str, int] | None
    credit_notes: list[tuple[str, int | None]]


def period_documents(
    session: Session, statuses: Iterable[PeriodStatus]
) -> dict[int, list[PeriodDocument]]:
    """The invoices and credit notes of each of a page's filed periods, by its current
    report's id, in filing order: the first report's, then each amendment's (round 56:
    an amended period's row showed its royalty as amended beside the amendment's
    invoice alone, not the first report's that charged the rest of it). In at most two
    queries for the page, whatever its size: the amended periods' reports with their
    invoices' numbers, and the credit notes' ids."""
    issued: dict[int, list[tuple[int | None, str | None, list[str]]]] = {}
    amended: dict[tuple[int, date], int] = {}
    for status in statuses:
        report = status.report
        if report is None:
            continue
        if report.amends_id is None:  # its own invoice, read with the page's rows
            issued[report.id] = [(report.invoice_id, status.invoice_number, report.credit_notes)]
        else:
            amended[(report.agreement_id, report.period_start)] = report.id
    if amended:
        filed = aliased(RoyaltyReport)
        rows = session.execute(
            select(
                filed.agreement_id,
                filed.period_start,
                filed.invoice_id,
                Invoice.number,
                filed.credit_notes_json,
            )
            .outerjoin(Invoice, Invoice.id == filed.invoice_id)
            .where(tuple_(filed.agreement_id, filed.period_start).in_(list(amended)))
            .order_by(filed.id)
        )
        for agreement_id, period_start, invoice_id, number, notes in rows:
            issued.setdefault(amended[(agreement_id, period_start)], []).append(
                (invoice_id, number, json.loads(notes or "[]"))
            )
    numbers = {note for reports in issued.values() for *_, notes in reports for note in notes}
    ids: dict[str, int] = {}
    if numbers:
        found = session.execute(
            select(CreditNote.number, CreditNote.id).where(CreditNote.number.in_(numbers))
        )
        ids = dict(found.all())
    documents: dict[int, list[PeriodDocument]] = {}
    for report_id, reports in issued.items():
        documents[report_id] = [
            PeriodDocument(
                (number, invoice_id) if invoice_id is not None and number is not None else None,
                [(note, ids.get(note)) for note in notes],
            )
            for invoice_id, number, notes in reports
            if (invoice_id is not None and number is not None) or notes
        ]
    return documents


@dataclass(frozen=True)
class ChargedInvoice:
    """An invoice a report of the period issued (the first filing's, or an
    amendment's): what it charges (`total`), what of it the licensee paid and kept
    paid (`paid`: payments less the refunds sent back) and what is still to pay."""

    id: int
    number: str
    report_id: int
    state: str
    total: Decimal
    balance_due: Decimal
    paid: Decimal = Decimal(0)

    @property
    def counted(self) -> bool:
        """Whether it charges anything: a void invoice charges nothing (as the
        agreement's `charged_to_date` leaves it out)."""
        return self.state != VOID_INVOICE


# A credit note's state in a period's answer (periods62). Credit notes are issued and
# immutable, with no state column; what the office asks of one is whether it took its
# amount off a balance (`applied`), still owes money back (`refund_due`), has sent it or
# is sending it (`refunded`), or counts nothing because its invoice was voided (`void`).
APPLIED, REFUND_DUE, REFUNDED, VOID_NOTE = "applied", "refund_due", "refunded", "void"
CREDIT_NOTE_STATES = (APPLIED, REFUND_DUE, REFUNDED, VOID_NOTE)


@dataclass(frozen=True)
class ChargedCreditNote:
    """A credit note that lowered what the period charged: one a report of the period
    issued (against the agreement's royalty invoices, newest first, so maybe against
    another period's invoice), or billing staff's own against one of the period's
    invoices (`report_id` None)."""

    id: int
    number: str
    report_id: int | None
    invoice_id: int
    invoice_number: str
    invoice_state: str
    amount: Decimal
    refund_outstanding: Decimal
    refunded: Decimal = Decimal(0)

    @property
    def counted(self) -> bool:
        """A note against a void invoice takes nothing off: the void took the whole."""
        return self.invoice_state != VOID_INVOICE

    @property
    def state(self) -> str:
        """`CREDIT_NOTE_STATES`, derived from its invoice and refunds (periods62)."""
        if not self.counted:
            return VOID_NOTE
        if self.refund_outstanding > 0:
            return REFUND_DUE
        return REFUNDED if self.refunded > 0 else APPLIED


@dataclass(frozen=True)
class PeriodCharges:
    """What a period was charged (apiperiods61): the invoices and credit notes its
    reports issued, and staff's credit notes against those invoices. Summed over the
    agreement's periods, `net_charged` with the up-front invoice's net is the
    agreement's `charged_to_date`. The API's period answer and the pages' period
    lists and pages read these figures alike (periods62)."""

    invoices: tuple[ChargedInvoice, ...] = ()
    credit_notes: tuple[ChargedCreditNote, ...] = ()

    @property
    def net_charged(self) -> Decimal:
        charged = sum((each.total for each in self.invoices if each.counted), Decimal(0))
        credited = sum((each.amount for each in self.credit_notes if each.counted), Decimal(0))
        return charged - credited

    @property
    def paid(self) -> Decimal:
        """What the licensee paid on the period's invoices and kept paid (payments less
        the refunds sent back to it; periods62)."""
        return sum((each.paid for each in self.invoices), Decimal(0))

    @property
    def balance_due(self) -> Decimal:
        """What the licensee still owes on the period's invoices."""
        return sum((each.balance_due for each in self.invoices), Decimal(0))

    @property
    def refund_outstanding(self) -> Decimal:
        """What the office still owes back on the period's credit notes, not yet sent."""
        return sum((each.refund_outstanding for each in self.credit_notes), Decimal(0))

    @property
    def owing(self) -> bool:
        """Whether the licensee still owes on it: the lists' `owing` filter (periods62)."""
        return self.balance_due > 0


NOTHING_CHARGED = PeriodCharges()
# A period of an agreement, as the charges of several agreements' periods are keyed.
PeriodKey = tuple[int, date]


def period_charges(
    session: Session, agreement_id: int, starts: Iterable[date]
) -> dict[date, PeriodCharges]:
    """What each of the agreement's periods starting on `starts` (a page of its list)
    was charged, by its first day; a period without a report is absent
    (`charges_of_periods` for one agreement)."""
    charged = charges_of_periods(session, ((agreement_id, start) for start in starts))
    return {start: charges for (_agreement, start), charges in charged.items()}


def charges_of_periods(
    session: Session, periods: Iterable[PeriodKey]
) -> dict[PeriodKey, PeriodCharges]:
    """What each period `(agreement_id, period_start)` was charged (a page of the API's
    list of one agreement, or of the portal's or console's lists of many: periods62);
    a period without a report is absent. Three statements for the page, whatever its
    size: the reports (of the page's periods, and their agreements' others that issued
    credit notes, which a staff credit note is told from), their invoices, and the
    credit notes with their refunds outstanding and sent, in SQL."""
    wanted = set(periods)
    if not wanted:
        return {}
    agreements = sorted({agreement_id for agreement_id, _start in wanted})
    reports = session.execute(
        select(
            RoyaltyReport.id,
            RoyaltyReport.agreement_id,
            RoyaltyReport.period_start,
            RoyaltyReport.invoice_id,
            RoyaltyReport.credit_notes_json,
        )
        .where(
            or_(
                tuple_(RoyaltyReport.agreement_id, RoyaltyReport.period_start).in_(sorted(wanted)),
                and_(
                    RoyaltyReport.agreement_id.in_(agreements),
                    RoyaltyReport.credit_notes_json.not_in(("[]", "")),
                ),
            ),
        )
        .order_by(RoyaltyReport.id)
    ).all()
    raised_by: dict[str, tuple[int, PeriodKey]] = {}  # every report-issued note, by number
    invoiced: dict[int, PeriodKey] = {}  # the page's invoices, by id
    for report in reports:
        key = (report.agreement_id, report.period_start)
        for number in json.loads(report.credit_notes_json or "[]"):
            raised_by[number] = (report.id, key)
        if key in wanted and report.invoice_id is not None:
            invoiced[report.invoice_id] = key
    if not invoiced and not any(key in wanted for _id, key in raised_by.values()):
        return {}
    found: dict[PeriodKey, tuple[list[ChargedInvoice], list[ChargedCreditNote]]] = {}
    if invoiced:
        for invoice in session.scalars(
            select(Invoice)
            .where(Invoice.id.in_(sorted(invoiced)), Invoice.state != DRAFT_INVOICE)
            .order_by(Invoice.id)
        ):
            found.setdefault(invoiced[invoice.id], ([], []))[0].append(
                ChargedInvoice(
                    invoice.id,
                    invoice.number or "",
                    invoice.source_id or 0,
                    invoice.state,
                    invoice.total,
                    invoice.balance_due,
                    invoice.amount_paid - invoice.amount_refunded,
                )
            )
    page_notes = [number for number, (_id, key) in raised_by.items() if key in wanted]
    notes = session.execute(
        select(
            CreditNote.id,
            CreditNote.number,
            CreditNote.invoice_id,
            CreditNote.amount,
            billing_queries.refund_outstanding().label("refund_outstanding"),
            billing_queries.refunds_on_their_way().label("refunded"),
            Invoice.number.label("invoice_number"),
            Invoice.state.label("invoice_state"),
        )
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .where(
            or_(
                CreditNote.number.in_(sorted(page_notes)),
                CreditNote.invoice_id.in_(sorted(invoiced)),
            )
        )
        .order_by(CreditNote.id)
    )
    for note in notes:
        raised = raised_by.get(note.number)
        if raised is not None and raised[1] not in wanted:
            continue  # another period's report issued it, against this one's invoice
        key = raised[1] if raised is not None else invoiced[note.invoice_id]
        found.setdefault(key, ([], []))[1].append(
            ChargedCreditNote(
                note.id,
                note.number,
                raised[0] if raised is not None else None,
                note.invoice_id,
                note.invoice_number or "",
                note.invoice_state,
                note.amount,
                note.refund_outstanding,
                note.refunded,
            )
        )
    return {
        key: PeriodCharges(tuple(invoices), tuple(credits))
        for key, (invoices, credits) in found.items()
    }


def owing() -> ColumnElement[bool]:
    """A stored period on whose invoices the licensee still owes (`PeriodCharges.owing`,
    in SQL, periods62): any of its reports' invoices collectible with a balance above
    zero (`Invoice.balance_due`). Uncorrelated, read from the collectible invoices,
    few beside the periods (`ix_invoices_state`)."""
    period = aliased(ReportingPeriod, name="owing_period")
    filed = aliased(RoyaltyReport, name="owing_report")
    owed = billing_queries.owed_of(Invoice)
    owing_ids = (
        select(period.id)
        .join(
            filed,
            and_(
                filed.agreement_id == period.agreement_id,
                filed.period_start == period.period_start,
            ),
        )
        .join(Invoice, Invoice.id == filed.invoice_id)
        .where(
            Invoice.state.in_(sorted(COLLECTIBLE_INVOICE)),
            owed > literal(Decimal(0), owed.type),
        )
        .correlate(None)
    )
    return ReportingPeriod.id.in_(owing_ids)


def owing_starts(session: Session, agreement_id: int) -> set[date]:
    """The first days of the agreement's periods on whose invoices the licensee still
    owes, as the portal's list and the console's queue choose them (`state=owing`:
    `_in_state(OWING)`, filed and `owing()`), for the API's list of one agreement's
    periods (api64). One statement, over the agreement's stored periods."""
    chosen = _in_state(OWING, _LIST_TODAY)  # the owing branch reads no day
    statement = select(ReportingPeriod.period_start).where(
        ReportingPeriod.agreement_id == agreement_id, chosen
    )
    return set(session.scalars(statement))
