"""Reading applications and agreements, always through vendor isolation.

A vendor reaches only their own organization's records (anything else is
NotFound, exactly as for a record that does not exist); staff see all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Exists,
    Label,
    Result,
    ScalarSelect,
    Select,
    Subquery,
    and_,
    bindparam,
    case,
    func,
    literal,
    nulls_last,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import (
    InstrumentedAttribute,
    Session,
    aliased,
    contains_eager,
    joinedload,
    selectinload,
    with_expression,
)

from licensing import calendar, db, references
from licensing.access import Principal
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User, by_name, parse_roles
from licensing.accounts.queries import (
    ScopedStatement,
    assignee_filter_people,
    id_column,
    listed_name,
    scoped,
    scoped_to,
    seen_by,
)
from licensing.accounts.states import CLOSED, GOOD_STANDING
from licensing.agreements.models import (
    Agreement,
    AgreementContact,
    Application,
    ApplicationNote,
    ApplicationUse,
)
from licensing.agreements.states import (
    ACTIVE,
    APPLICATION,
    AWAITING_STAFF,
    AWAITING_VENDOR,
    DRAFT,
    EXPIRED,
    ISSUED,
    LAPSED,
    RECONSIDERATION_REQUESTED,
    REJECTED,
    REPLACED,
    RETURNED,
    TERMINATED,
    UNDECIDED,
    WITHDRAWN,
)
from licensing.audit.models import AuditEvent
from licensing.billing import queries as billing_queries
from licensing.billing.models import ONE_PER_SOURCE, Invoice
from licensing.billing.states import AGREEMENT as INVOICE_FOR_AGREEMENT
from licensing.billing.states import DRAFT as INVOICE_DRAFT
from licensing.billing.states import VOID as INVOICE_VOID
from licensing.db import Money, MoneySumType, Statement, count_of, count_rows, money_sum
from licensing.errors import NotFound
from licensing.links import links
from licensing.words import counted, humanize

__all__ = ["AWAITING_STAFF", "AWAITING_VENDOR"]

T = TypeVar("T")

# The staff queue's orders: by age, amount, state, assignee or organization.
SORTS = {
    "oldest": "Oldest first",
    "newest": "Newest first",
    "amount_high": "Largest amount first",
    "amount_low": "Smallest amount first",
    "state": "State",
    "assignee": "Assignee",
    "organization": "Organization",
}
ASSIGNEE_FILTERS = ("me", "nobody")


def _get(
    session: Session,
    model: type[T],
    record_id: int,
    principal: Principal | None,
    lock: bool,
    fresh: bool = False,
) -> T:
    statement = select(model).where(id_column(model) == record_id)
    if lock:
        statement = statement.with_for_update(of=model)
    if fresh:  # as it is now, over what the session holds (one statement, no refresh)
        statement = statement.execution_options(populate_existing=True)
    found = session.scalars(scoped(statement, model, principal)).one_or_none()
    if found is None:
        raise NotFound(f"There is no {model.__name__.lower()} {record_id}.")
    return found


def get_application(
    session: Session,
    application_id: int,
    principal: Principal | None = None,
    *,
    lock: bool = False,
    fresh: bool = False,
) -> Application:
    """`fresh`: read as it is now, over the session's copy (a page shown after a
    refused step)."""
    return _get(session, Application, application_id, principal, lock, fresh)


def sign_up_draft(
    session: Session, user_id: int, organization_id: int | None
) -> Application | None:
    """Round 67: the draft an estimate was kept in when `user_id` signed their
    organization up (`services.keep_estimate`), while it is the organization's only
    application, theirs, and unchanged since: what confirming the address and an
    estimate's application link lead to. None otherwise."""
    if organization_id is None:
        return None
    found = session.scalars(
        select(Application).where(Application.organization_id == organization_id).limit(2)
    ).all()
    if len(found) != 1:
        return None
    (draft,) = found
    if draft.state != DRAFT or draft.created_by_id != user_id:
        return None
    return draft if draft.updated_at == draft.created_at else None


def get_agreement(
    session: Session, agreement_id: int, principal: Principal | None = None, *, lock: bool = False
) -> Agreement:
    return _get(session, Agreement, agreement_id, principal, lock)


def stored_pdf(session: Session, agreement: Agreement) -> bytes:
    """`agreement`'s issued bytes, as stored: the one column no other read loads
    (`Agreement.pdf` is deferred and raises when read unloaded; round 51)."""
    return bytes(
        session.execute(select(Agreement.pdf).where(Agreement.id == agreement.id)).scalar_one()
    )


# Which invoices bill an agreement, as a condition on `Invoice` given the
# agreement's id column: its up-front invoice here; the royalties package adds its
# reports' invoices (`charged_under`), being above this package.
ChargedUnder = Callable[[InstrumentedAttribute[int]], ColumnElement[bool]]
_CHARGED_UNDER: list[ChargedUnder] = [
    lambda agreement_id: (
        (Invoice.source_type == INVOICE_FOR_AGREEMENT) & (Invoice.source_id == agreement_id)
    )
]


# The records of an agreement's audit trail that packages above this one keep (round
# 66): the royalties package adds its reports (`in_trail`).
TrailRecords = Callable[[Session, int], list[tuple[str, int]]]
_TRAIL: list[TrailRecords] = []


def in_trail(records: TrailRecords) -> TrailRecords:
    """Add another package's records (given the agreement's id) to an agreement's trail."""
    if records not in _TRAIL:
        _TRAIL.append(records)
    return records


def trail_records(session: Session, agreement: Agreement) -> list[tuple[str, int]]:
    """The agreement, its application and the records registered with `in_trail`,
    as (entity type, id) pairs: whose events its page's history reads together."""
    found = [("agreement", agreement.id), ("application", agreement.application_id)]
    for records in _TRAIL:
        found.extend(records(session, agreement.id))
    return found


def charged_under(condition: ChargedUnder) -> ChargedUnder:
    """Count another kind of invoice in what an agreement has been charged."""
    if condition not in _CHARGED_UNDER:
        _CHARGED_UNDER.append(condition)
    return condition


def _charged_to_date() -> ColumnElement[Decimal]:
    """What an agreement's invoices have charged so far, less what was credited
    against them: issued invoices (not drafts, not void) that bill the agreement,
    late fees aside. A correlated subquery: one statement for a whole list.

    Each kind of invoice is read by a select of its own, all of them put together
    (UNION ALL) and summed, each with the partial index's condition as written
    (`ONE_PER_SOURCE`): SQLite then finds an agreement's invoices through the index on
    their source. Until round 52 the kinds were one OR with bound source types, which
    SQLite cannot prove the index's condition of, so it read every invoice for each
    agreement summed (docs/list-pages.md)."""
    billed = union_all(
        *(
            select(Invoice.total, Invoice.amount_credited)
            .where(
                condition(Agreement.id),
                ONE_PER_SOURCE,
                Invoice.state.not_in((INVOICE_DRAFT, INVOICE_VOID)),
            )
            .correlate(Agreement)
            for condition in _CHARGED_UNDER
        )
    ).subquery("billed")
    net = money_sum(billed.c.total - billed.c.amount_credited)
    return (
        select(func.coalesce(net, literal(Decimal(0), Money()), type_=MoneySumType()))
        .correlate(Agreement)
        .scalar_subquery()
    )


def charged_to_date_column() -> ColumnElement[Decimal]:
    """Each agreement's charged to date as a column of a statement over `Agreement`
    (the lists' figure, for a select that reads columns, such as the exports)."""
    return _charged_to_date()


def with_charged_to_date(statement: Select[Any]) -> Select[Any]:
    """`statement` (of agreements) loading each one's `charged_to_date`."""
    return statement.options(
        with_expression(Agreement.charged_to_date, _charged_to_date())
    ).execution_options(populate_existing=True)


def get_agreement_charged(
    session: Session, agreement_id: int, *, renewal: bool = False
) -> Agreement:
    """The agreement the caller may see, with what it has been charged to date (and,
    given `renewal`, the application that renews it: `with_live_renewal`)."""
    statement = with_charged_to_date(select(Agreement).where(Agreement.id == agreement_id))
    if renewal:
        statement = with_live_renewal(statement)
    found: Agreement | None = session.scalars(scoped(statement, Agreement, None)).one_or_none()
    if found is None:
        raise NotFound(f"There is no agreement {agreement_id}.")
    return found


@dataclass(frozen=True)
class QueueFilter:
    """The staff queue's filter and order (also the vendor's list, scoped)."""

    states: Sequence[str] = ()
    assignee: str | int | None = None  # a user id, "me" or "nobody"
    organization_id: int | None = None
    sort: str = "oldest"
    search: str = ""  # a reference (APP-000042, 42), an organization or a product


_RECEIVED = func.coalesce(Application.submitted_at, Application.created_at)
# The staff queue's review clock, as its age, overdue mark and answer-by count it
# (`review_levels`): from the submission moved later by the days it waited on the
# vendor (`review_clock_from`, round 37), else from the vendor's request for a
# reconsideration, else from the submission. Sorting a reconsideration by its first
# submission put one asked for today among the month-old ones, above older work it
# showed younger than; a resubmission, by its first, arrived overdue.
#
# A reconsideration restarts the clock at its request (which the vendor sees, "will
# answer by ...", so it never moves); a return after its grant gives the wait back
# from there (round 38): the request clears `review_clock_from` and the resubmission
# stores the request moved later. So `review_clock_from` counts when it is not
# before the request: one set before it (by a resubmission before the rejection,
# stored before round 38 cleared it) belongs to the review the rejection ended.
_GIVEN_BACK = and_(
    Application.review_clock_from.is_not(None),
    or_(
        Application.reconsideration_requested_at.is_(None),
        Application.review_clock_from >= Application.reconsideration_requested_at,
    ),
)
_REVIEW_CLOCK = case(
    (_GIVEN_BACK, Application.review_clock_from),
    else_=func.coalesce(
        Application.reconsideration_requested_at,
        Application.submitted_at,
        Application.created_at,
    ),
)


def review_clock() -> ColumnElement[datetime]:
    """Where each application's review clock runs from, as SQL (the console home's
    overdue count): what the queue sorts by and `review_levels` counts from."""
    return _REVIEW_CLOCK


def review_clock_from(application: Reviewed) -> datetime | None:
    """Where `application`'s review clock runs from (None before submission), by
    `_REVIEW_CLOCK`'s rule."""
    given_back = application.review_clock_from
    requested = application.reconsideration_requested_at
    if given_back is not None and (requested is None or given_back >= requested):
        return given_back
    return requested or application.submitted_at


# Each order's keys, built once: (expression, descending, nulls last). Expressions
# are immutable, and building all seven orders per request (to use one) was a fifth
# of building the list's statements.
_Sorted = ColumnElement[Any] | InstrumentedAttribute[Any]
_Key = tuple[_Sorted, bool, bool]
_BY_ID: _Key = (Application.id, False, False)
_OLDEST_FIRST: _Key = (_REVIEW_CLOCK, False, False)
_ORDER_KEYS: dict[str, tuple[_Key, ...]] = {
    "oldest": (_OLDEST_FIRST, _BY_ID),
    "newest": ((_REVIEW_CLOCK, True, False), _BY_ID),
    # The vendor's own list (not offered to staff): newest received first.
    "received_newest": ((_RECEIVED, True, False), _BY_ID),
    "amount_high": ((Application.total, True, True), _BY_ID),
    "amount_low": ((Application.total, False, True), _BY_ID),
    "state": ((Application.state, False, False), _OLDEST_FIRST, _BY_ID),
    "assignee": ((User.full_name, False, True), _OLDEST_FIRST, _BY_ID),
    "organization": ((Organization.legal_name, False, False), _OLDEST_FIRST, _BY_ID),
}


def _order_keys(sort: str) -> tuple[_Key, ...]:
    return _ORDER_KEYS.get(sort, _ORDER_KEYS["oldest"])


def _clause(expression: _Sorted, descending: bool, last: bool) -> Any:
    clause = expression.desc() if descending else expression.asc()
    return nulls_last(clause) if last else clause


_ORDERS = {sort: tuple(_clause(*key) for key in keys) for sort, keys in _ORDER_KEYS.items()}


def _ordered(statement: Select[Any], sort: str) -> Select[Any]:
    return statement.order_by(*_ORDERS.get(sort, _ORDERS["oldest"]))


def applications(
    session: Session, principal: Principal | None = None, queue: QueueFilter | None = None
) -> list[Application]:
    return list(session.scalars(applications_query(principal, queue)))


def applications_query(
    principal: Principal | None = None, queue: QueueFilter | None = None
) -> Select[Any]:
    """Applications the caller may see, filtered and sorted as the queue asks."""
    statement = (
        select(Application)
        .join(Organization, Organization.id == Application.organization_id)
        .outerjoin(User, User.id == Application.assignee_id)
        # The queue and the vendor's list show these for every row: load them at once.
        .options(
            contains_eager(Application.organization),
            contains_eager(Application.assignee),
            selectinload(Application.uses),
            selectinload(Application.renewal_of),
        )
    )
    return _filtered(statement, principal, queue or QueueFilter())


def _filtered(
    statement: Statement, principal: Principal | None, queue: QueueFilter, *, order: bool = True
) -> Statement:
    """`statement` (joined to the organization, and to the assignee when ordered) as
    the queue asks, scoped to what the caller may see."""
    return _filtered_for(statement, queue, _me(principal, queue), seen_by(principal), order)


def _me(principal: Principal | None, queue: QueueFilter) -> int | None:
    """The user "me" names, when the filter asks for the caller's own applications."""
    return principal.user_id if queue.assignee == "me" and principal is not None else None


def _filtered_for(
    statement: Statement, queue: QueueFilter, me: int | None, seen: object, order: bool
) -> Statement:
    if queue.states:
        statement = statement.where(Application.state.in_(list(queue.states)))
    if queue.organization_id is not None:
        statement = statement.where(Application.organization_id == queue.organization_id)
    if queue.assignee == "nobody":
        statement = statement.where(Application.assignee_id.is_(None))
    elif queue.assignee == "me" and me is not None:
        statement = statement.where(Application.assignee_id == me)
    elif isinstance(queue.assignee, int):
        statement = statement.where(Application.assignee_id == queue.assignee)
    if queue.search.strip():
        statement = statement.where(_matching(queue.search.strip()))
    if order:
        statement = _ordered(statement, queue.sort)
    return scoped_to(statement, Application, seen)


# The lists' columns, with the joins they need. Built once (a select is immutable;
# each request adds its filters to a copy): building the alias and the columns per
# request was a sixth of the queue's time.
_RENEWED = aliased(Agreement, name="renewed")
# What every list of applications shows first, and the joins those columns need.
_LISTED = (
    Application.id,
    Application.state,
    Application.organization_id,
    Organization.legal_name.label("organization"),
    listed_name().label("assignee"),
    Application.total,
    Application.currency,
)


_Listed = TypeVar("_Listed", bound=Statement)


def _with_listed_joins(statement: _Listed) -> _Listed:
    return (
        statement.select_from(Application)
        .join(Organization, Organization.id == Application.organization_id)
        .outerjoin(User, User.id == Application.assignee_id)
    )


class VendorApplication(NamedTuple):
    """What the vendor's list shows of an application: the columns of `_VENDOR_ROWS`
    and its named products. Only what the list prints (no organization, assignee or
    timestamps but the last update), read with the products in one statement
    (`vendor_applications`): the staff queue's columns, a frozen dataclass per row
    and use, and the uses' own statement were a sixth of the list on PostgreSQL."""

    id: int
    state: str
    total: Decimal | None
    currency: str | None
    term_start: date | None
    term_end: date | None
    submitted: bool
    updated_at: datetime
    renews: str | None  # the number of the agreement it renews
    products: str  # the named products, in the uses' order ("" when none is named yet)

    @property
    def reference(self) -> str:
        return Application.reference_of(self.id)

    @property
    def to_be_priced(self) -> bool:
        return self.submitted and self.total is None


def _sort_keys(sort: str) -> tuple[Label[Any], ...]:
    """The expressions the list's order (`sort`) sorts by, as columns of its rows'
    statement, so that a page of it joined to its uses is put in the same order
    again (`_joined_to_uses`)."""
    return tuple(key.label(f"sort_{n}") for n, (key, _, _) in enumerate(_order_keys(sort)))


# The vendor's list, newest first: its columns and the agreement an application
# renews (for its number).
VENDOR_SORT = "received_newest"
_VENDOR_ROWS = (
    select(
        Application.id,
        Application.state,
        Application.total,
        Application.currency,
        Application.term_start,
        Application.term_end,
        Application.submitted_at.is_not(None).label("submitted"),
        Application.updated_at,
        _RENEWED.number.label("renews"),
        *_sort_keys(VENDOR_SORT),
    )
    .select_from(Application)
    .outerjoin(_RENEWED, _RENEWED.id == Application.renewal_of_id)
)


class QueueApplication(NamedTuple):
    """What the staff queue shows of an application: the columns of `_QUEUE_ROWS`
    and the uses. Narrower than the vendor list's rows once were (no term, renewal or
    timestamps but the submission's, which the review level counts from):
    converting the columns the queue never shows was a twentieth of its page."""

    id: int
    state: str
    organization_id: int
    organization: str
    assignee: str | None
    total: Decimal | None
    currency: str | None
    submitted_at: datetime | None
    reconsideration_requested_at: datetime | None  # restarts the review clock
    review_clock_from: datetime | None  # the submission, less the waits on the vendor
    renews: str | None  # the number of the agreement it renews (round 53)
    # Returned at some time (round 57: a row submitted since is a resubmission), and
    # with the vendor's answer to the question.
    returned: bool
    answered: bool
    uses: tuple[tuple[str, str, str], ...]  # product name, use, product type

    @property
    def reference(self) -> str:
        return Application.reference_of(self.id)


# The queue's columns, with the joins its orders need (assignee, organization), and
# the agreement a renewal renews (round 53: the queue did not tell a renewal from a
# first license; one agreement at most, so no row is repeated).
_QUEUE_ROWS = _with_listed_joins(
    select(
        *_LISTED,
        Application.submitted_at,
        Application.reconsideration_requested_at,
        Application.review_clock_from,
        _RENEWED.number.label("renews"),
        Application.returned_at.is_not(None).label("returned"),
        Application.vendor_response.is_not(None).label("answered"),
    )
).outerjoin(_RENEWED, _RENEWED.id == Application.renewal_of_id)


def vendor_rows_query(principal: Principal | None, states: Sequence[str] = ()) -> Select[Any]:
    """The columns of `VendorApplication` for the applications in `states` (any
    state when none) the caller may see, newest first; its count is
    `application_count_query(principal, vendor_filter(states))`."""
    return _kept_list_statement("vendor", principal, vendor_filter(states))


def vendor_filter(states: Sequence[str] = ()) -> QueueFilter:
    """The vendor's list's filter: states only, newest first."""
    return QueueFilter(states=states, sort=VENDOR_SORT)


# Counting needs none of the joins only the rows' columns and orders need (a third
# of the count's time at 1,000 rows).
_COUNT = (
    select(func.count())
    .select_from(Application)
    .join(Organization, Organization.id == Application.organization_id)
)


def queue_rows_query(principal: Principal | None, queue: QueueFilter) -> Select[Any]:
    """The columns of `QueueApplication` for the applications `applications_query` finds."""
    return _kept_list_statement("queue", principal, queue)


def application_count_query(
    principal: Principal | None = None, queue: QueueFilter | None = None
) -> Select[Any]:
    """How many applications `application_rows_query` finds."""
    return _kept_list_statement("count", principal, queue or QueueFilter())


def _kept_list_statement(kind: str, principal: Principal | None, queue: QueueFilter) -> Select[Any]:
    """A list's rows or count statement, kept per process for each filter and kind
    of caller (`seen_by`): built per request, building the statements and their
    SQLAlchemy cache keys was about a tenth of a list page. Statements are
    immutable, and each is made from nothing but its key."""
    return _list_statement(
        kind,
        seen_by(principal),
        _me(principal, queue),
        tuple(queue.states),
        queue.assignee,
        queue.organization_id,
        "" if kind == "count" else queue.sort,
        queue.search,
    )


@lru_cache(maxsize=256)
def _list_statement(
    kind: str,
    seen: object,
    me: int | None,
    states: tuple[str, ...],
    assignee: str | int | None,
    organization_id: int | None,
    sort: str,
    search: str,
) -> Select[Any]:
    queue = QueueFilter(states, assignee, organization_id, sort or "oldest", search)
    if kind == "count":
        return _filtered_for(_COUNT, queue, me, seen, order=False)
    if kind == "vendor":
        # The columns join nothing a search or another order would need.
        assert queue.sort == VENDOR_SORT, "the vendor's list is newest first"
        assert not queue.search, "the vendor's list is not searched"
        return _filtered_for(_VENDOR_ROWS, queue, me, seen, order=True)
    queue_rows = _QUEUE_ROWS.add_columns(*_sort_keys(queue.sort))
    return _filtered_for(queue_rows, queue, me, seen, order=True)


def vendor_applications(
    session: Session, window: Select[Any], parameters: dict[str, Any]
) -> list[VendorApplication]:
    """The rows `window` (a page of `vendor_rows_query`, with its `parameters`)
    selects, each with its named products, in one statement (`_with_products`)."""
    found = []
    joined = _execute(session, _with_products(window, VENDOR_SORT), parameters)
    for _, rows in groupby(joined, itemgetter(0)):
        first, *more = rows
        named = ", ".join(row[-1] for row in (first, *more) if row[-1])
        found.append(VendorApplication._make((*first[:-1], named)))
    return found


def queue_applications(
    session: Session, window: Select[Any], parameters: dict[str, Any], sort: str
) -> list[QueueApplication]:
    """The rows `window` (a page of `queue_rows_query` in the order `sort`, with its
    `parameters`) selects, each with its uses, in one statement (`_with_uses`)."""
    found = []
    for _, rows in groupby(_execute(session, _with_uses(window, sort), parameters), itemgetter(0)):
        first, *more = rows
        uses = tuple((row[-3], row[-2], row[-1]) for row in (first, *more) if row[-2] is not None)
        found.append(QueueApplication._make((*first[:-3], uses)))
    return found


def _execute(
    session: Session, statement: Select[Any], parameters: dict[str, Any]
) -> Result[*tuple[Any, ...]]:
    """Columns only, so the session's connection runs them as Core statements: the
    ORM's result loading (a getter per column per row) was a third of the query,
    and a list page has nothing pending to flush."""
    return session.connection().execute(statement, parameters)


def _joined_to_uses(
    window: Select[Any],
    sort: str,
    names: Sequence[str],
    *uses: InstrumentedAttribute[str],
    condition: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """A page of a list (`window`, kept per statement by `paging`, in the order
    `sort`), its columns `names` joined to its applications' `uses` columns (those
    meeting `condition`): one row per use, or one without, in the list's order (by
    its keys, `_sort_keys`) then the uses'. The uses were a statement of their own,
    the page's ids an expanding bound list (on PostgreSQL re-rendered with a cast
    per id on every page): with the round trip, a tenth of the queue on PostgreSQL."""
    page = window.subquery("page")
    joined = ApplicationUse.application_id == page.c.id
    if condition is not None:
        joined = joined & condition
    again = (_clause(page.c[f"sort_{n}"], *key[1:]) for n, key in enumerate(_order_keys(sort)))
    return (
        select(*(page.c[name] for name in names), *uses)
        .select_from(page)
        .outerjoin(ApplicationUse, joined)
        .order_by(*again, ApplicationUse.position)
    )


# Each kept per window and order (the cache holds the window, so no other statement
# can take its place), as `paging` keeps the windows per list statement.
@lru_cache(maxsize=256)
def _with_products(window: Select[Any], sort: str) -> Select[Any]:
    """The vendor's list: the named products only."""
    named = ApplicationUse.product_name != ""
    fields = VendorApplication._fields[:-1]
    return _joined_to_uses(window, sort, fields, ApplicationUse.product_name, condition=named)


@lru_cache(maxsize=256)
def _with_uses(window: Select[Any], sort: str) -> Select[Any]:
    """The staff queue: every use's product (named or not), use and product type."""
    fields = QueueApplication._fields[:-1]
    return _joined_to_uses(
        window,
        sort,
        fields,
        ApplicationUse.product_name,
        ApplicationUse.use,
        ApplicationUse.product_type,
    )


SEARCH_MAX = 100
_REFERENCE = re.compile(rf"^(?:{references.APPLICATION.prefix}-?)?0*(\d{{1,9}})$", re.IGNORECASE)


def _matching(text: str) -> ColumnElement[bool]:
    """Applications whose reference is `text`, or whose organization or a product
    name contains it, in any case and script (round 53: a product name's letters
    beyond ASCII folded too, `db.contains_in_any_case`; `ILIKE` folded ASCII alone)."""
    product = (
        select(ApplicationUse.id)
        .where(
            ApplicationUse.application_id == Application.id,
            db.contains_in_any_case(ApplicationUse.product_name, text[:SEARCH_MAX]),
        )
        .exists()
    )
    found = or_(Organization.name_contains(text[:SEARCH_MAX]), product)
    reference = _REFERENCE.match(text)
    if reference:
        found = or_(found, Application.id == int(reference.group(1)))
    return found


@dataclass(frozen=True)
class ReviewLevel:
    """An application's age against the review target, in US business days
    (APPLICATION_REVIEW_SLA_DAYS), counted from its submission; for a reconsideration,
    from when the vendor asked for it (the application page's "answered by" counts
    from there too: `rejection_of`)."""

    age_days: int
    target_days: int
    due_at: datetime | None
    overdue: bool
    running: bool  # False while it waits on the vendor, or once decided
    # Where the clock runs from (`review_clock_from`), what it counts from
    # (`submission` or `reconsideration_request`, None before submission) and the
    # business days it was moved later for the waits on the vendor (round 39: the API).
    clock_from: datetime | None = None
    counts_from: str | None = None
    days_waited_on_vendor: int = 0


def review_level(application: Reviewed, now: datetime, *, target_days: int) -> ReviewLevel:
    return review_levels([application], now, target_days=target_days)[application.id]


def review_levels(
    applications: Sequence[Reviewed],
    now: datetime,
    *,
    target_days: int,
) -> dict[int, ReviewLevel]:
    """Each application's review level against `target_days` (the setting
    APPLICATION_REVIEW_SLA_DAYS). The business days are counted once per day of
    submission, not once per row (a page's applications share a few days)."""
    today = calendar.office_date(now)
    by_day: dict[date, tuple[int, datetime]] = {}
    levels = {}
    for application in applications:
        submitted = review_clock_from(application)
        if submitted is None:
            levels[application.id] = ReviewLevel(0, target_days, None, False, False)
            continue
        day = calendar.office_date(submitted)
        if day not in by_day:
            # Both depend on the office day of submission only (business_deadline counts
            # from it to the end of an office day).
            by_day[day] = (
                calendar.business_days_between(day, today),
                calendar.end_of_office_day(calendar.add_business_days(day, target_days)),
            )
        age, due = by_day[day]
        running = application.state in AWAITING_STAFF
        levels[application.id] = ReviewLevel(
            age, target_days, due, running and due < now, running, submitted, *_kept(application)
        )
    return levels


def _kept(application: Reviewed) -> tuple[str, int]:
    """What `application`'s submitted review clock counts from, and the business days
    `review_clock_from` moved it later for the waits on the vendor (0 when the clock
    does not read it), by `review_clock_from`'s rule."""
    requested = application.reconsideration_requested_at
    counts_from = "submission" if requested is None else "reconsideration_request"
    started = requested or application.submitted_at
    given_back = review_clock_from(application)
    if started is None or given_back is None or given_back == started:
        return counts_from, 0
    waited = calendar.business_days_between(
        calendar.office_date(started), calendar.office_date(given_back)
    )
    return counts_from, waited


def overdue_before(now: datetime, *, target_days: int) -> datetime:
    """The instant before which an application received (submitted, or asked to be
    reconsidered) is past its review target at `now`, as `review_levels` counts it:
    received on office day D, it is due at the end of D plus `target_days` business
    days, which never comes earlier for a later D. For the console home's count."""
    day = calendar.office_date(now)
    while (
        calendar.end_of_office_day(calendar.add_business_days(day - timedelta(days=1), target_days))
        >= now
    ):
        day -= timedelta(days=1)
    return calendar.office_day_start(day)


def notes(session: Session, application_id: int) -> list[ApplicationNote]:
    """Internal notes, newest first: for staff pages and the staff API only."""
    return list(
        session.scalars(
            select(ApplicationNote)
            .where(ApplicationNote.application_id == application_id)
            .order_by(ApplicationNote.created_at.desc(), ApplicationNote.id.desc())
        )
    )


# The agreements lists' orders (the id last).
# Newest first, the lists' order; oldest first (round 54), for a reviewer chasing the
# agreements issued and not accepted, the longest waiting first. Each is a walk of
# the same indexes (`agreements_0007`: issued_at and id, led by the state or the
# organization), forwards or backwards.
# By number (round 55, offered to vendors with the others): the number is unique, the
# order's last key; `ix_agreements_organization_number` serves a vendor's (agreements_0009),
# the number's unique index every agreement's.
NEWEST, OLDEST, BY_NUMBER = "newest", "oldest", "number"
AGREEMENT_ORDERS = {
    NEWEST: (Agreement.issued_at.desc(), Agreement.id.desc()),
    OLDEST: (Agreement.issued_at, Agreement.id),
    BY_NUMBER: (Agreement.number,),
}


def agreements(
    session: Session,
    principal: Principal | None = None,
    *,
    states: Sequence[str] = (),
    organization_id: int | None = None,
    charged: bool = False,
) -> list[Agreement]:
    """With `charged`, each agreement's `charged_to_date` too (the lists)."""
    query = agreements_query(principal, states=states, organization_id=organization_id)
    return list(session.scalars(with_charged_to_date(query) if charged else query))


def agreements_listing(
    principal: Principal | None = None,
    *,
    states: Sequence[str] = (),
    organization_id: int | None = None,
    order: str = NEWEST,
) -> tuple[Select[Any], Select[Any]]:
    """The agreements lists' statement (newest first, or with `order` OLDEST the
    oldest issued first; the id last) and how many it selects: the console's and the
    vendor's lists read a page of it (`paging.read_page`, round 45: they listed every
    agreement on one page), each with what it has been charged to date by
    `charged_page` (given the same `order`)."""
    statement = agreements_query(
        principal, states=states, organization_id=organization_id, order=order
    )
    return statement, count_of(statement)


def charged_page(window: Select[Any], order: str = NEWEST) -> Select[Any]:
    """The agreements `window` selects (a page of `agreements_query`: its order, a
    LIMIT and OFFSET), in that order, each with what it has been charged to date,
    summed for those agreements alone.

    With the sum on the list's own statement (round 45 to 51), SQLite sorted every
    agreement the filters chose, each with its sum (a correlated subquery over the
    invoices, which it scans: the partial index on their source cannot serve an OR
    of bound source types), before taking the page: no index serves the order
    (`issued_at`), so the sort holds whole result rows. At 2,000 agreements the page
    took 70-100 ms on SQLite (count51, docs/list-pages.md). The page's keys are now
    chosen first, reading only `issued_at` and the id, and the sums made for them."""
    keys = window.with_only_columns(Agreement.id, maintain_column_froms=True).subquery()
    return with_charged_to_date(
        select(Agreement)
        .join(keys, keys.c.id == Agreement.id)
        .order_by(*AGREEMENT_ORDERS[order])
        .options(*_AGREEMENTS_LOADED)
    )


# What the agreements lists load with each agreement.
_AGREEMENTS_LOADED = (
    selectinload(Agreement.renewal_of),
    selectinload(Agreement.superseded_by),
    selectinload(Agreement.acceptance),
)


def agreements_query(
    principal: Principal | None = None,
    *,
    states: Sequence[str] = (),
    organization_id: int | None = None,
    order: str = NEWEST,
) -> Select[Any]:
    """Agreements the caller may see, newest first (or `AGREEMENT_ORDERS[order]`)."""
    statement = select(Agreement).order_by(*AGREEMENT_ORDERS[order]).options(*_AGREEMENTS_LOADED)
    if states:
        statement = statement.where(Agreement.state.in_(list(states)))
    if organization_id is not None:
        statement = statement.where(Agreement.organization_id == organization_id)
    return scoped(statement, Agreement, principal)


def agreement_for_application(session: Session, application_id: int) -> Agreement | None:
    """The application's agreement in force or offered: an agreement replaced by its
    reissue on a corrected rate card (round 55) is not it, its reissue is."""
    return session.scalars(
        select(Agreement).where(
            Agreement.application_id == application_id, Agreement.state != REPLACED
        )
    ).one_or_none()


@dataclass(frozen=True)
class Reviewer:
    """A staff member applications can be assigned to, as the pages name them."""

    id: int
    full_name: str
    email: str


_REVIEWERS = (
    select(User.id, User.full_name, User.email, User.staff_roles)
    .where(User.organization_id.is_(None), User.is_active.is_(True))
    .order_by(User.id)  # by name in Python (`by_name`), as readers file names
)


def reviewers(session: Session) -> list[Reviewer]:
    """Active staff who may review applications (licensing or admin), by name: the
    columns the queue's filter and assignment form show (the staff queue read them
    as ORM users, 4% of the page)."""
    staff = by_name(session.execute(_REVIEWERS), lambda row: str(row.full_name))
    return [
        Reviewer(row.id, row.full_name, row.email)
        for row in staff
        if {"licensing", "admin"} & parse_roles(row.staff_roles)
    ]


def assignee_choices(session: Session) -> tuple[list[Reviewer], list[Reviewer]]:
    """Whom the queue's Assignee filter offers, and of them the reviewers (as
    `reviewers` reads them), in one query: the reviewers and every other staff
    member an application is assigned to (`accounts.queries.assignee_filter_people`)."""
    people = assignee_filter_people(session, Application.assignee_id)
    offered = [Reviewer(person.id, person.name, person.email) for person in people]
    return offered, [
        reviewer for reviewer, person in zip(offered, people, strict=True) if person.assignable
    ]


def renewals_of(session: Session, agreement_id: int) -> list[Application]:
    return list(
        session.scalars(
            select(Application)
            .where(Application.renewal_of_id == agreement_id)
            .order_by(Application.id.desc())
        )
    )


@billing_queries.period_start_for("agreement")
def _term_start(agreement_id: ColumnElement[int | None]) -> ScalarSelect[date]:
    """An agreement's invoices bill its term (their copyright year is the term's)."""
    return select(Agreement.term_start).where(Agreement.id == agreement_id).scalar_subquery()


# Staff see agreements ending within this many days, renewed or not, to follow up.
RENEWAL_WINDOW_DAYS = 90
# A renewal application in these states no longer renews anything.
ENDED_RENEWALS = (WITHDRAWN, LAPSED, REJECTED)


def still_renews(issued: Any = Agreement) -> ColumnElement[bool]:
    """An application that still renews its agreement: not ended, and not approved
    into an agreement that was terminated (which renews nothing: the old agreement
    expires and may be renewed again). `issued`: the entity that finds the
    agreement it was approved into (an alias, in a statement whose `Agreement` is
    the one renewed)."""
    terminated = (
        select(issued.id)
        .where(issued.application_id == Application.id, issued.state == TERMINATED)
        .exists()
    )
    return Application.state.not_in(ENDED_RENEWALS) & ~terminated


def with_live_renewal(statement: Select[Any]) -> Select[Any]:
    """`statement` (of agreements) loading each one's `live_renewal_id`, the id of
    the application `live_renewal` finds, and its organization (whose standing
    `renewal.renewal_refusal` reads), in the same statement."""
    renewing = (
        select(Application.id)
        .where(Application.renewal_of_id == Agreement.id, still_renews(aliased(Agreement)))
        .order_by(Application.id)
        .limit(1)
        .correlate(Agreement)
        .scalar_subquery()
    )
    return statement.options(
        with_expression(Agreement.live_renewal_id, renewing), joinedload(Agreement.organization)
    )


def licensee_currency(session: Session, organization_id: int | None) -> str | None:
    """The one currency an organization is licensed in: that of its agreements awaiting
    acceptance or in force, when they all share one; None with none, or several (a
    vendor licensed in USD and EUR chooses by naming a card)."""
    found = licensee_currencies(session, organization_id)
    return found[0] if len(found) == 1 else None


def licensee_currencies(session: Session, organization_id: int | None) -> list[str]:
    """The currencies of an organization's agreements awaiting acceptance or in force,
    in order (round 65: a licensee in several is told the card in effect in each)."""
    if organization_id is None:
        return []
    return sorted(
        session.scalars(
            select(Agreement.currency)
            .where(
                Agreement.organization_id == organization_id,
                Agreement.state.in_((ISSUED, ACTIVE)),
            )
            .distinct()
        ).all()
    )


@dataclass(frozen=True)
class AskedCurrency:
    """The currency an application naming no card is priced in, and why (round 62):
    `renewal` (the agreement it renews), `priced` (its own earlier quote, returned and
    resubmitted or re-priced by staff) or `licensee` (the one currency the
    organization's agreements are in)."""

    currency: str
    why: str

    def words(self, renewed: str = "") -> str:
        """Why, in a phrase after "in USD": "the currency of CPT-2027-000001"."""
        if self.why == "renewal":
            return f"the currency of {renewed or 'the agreement it renews'}"
        if self.why == "priced":
            return "the currency it was priced in"
        return "the currency of your agreements"


def asked_currency(session: Session, application: Application) -> AskedCurrency | None:
    """The currency `application` is priced in when it names no card (the card in
    effect on its first day in that currency, never one published later in another):
    the renewed agreement's, else its own earlier quote's, else the organization's one
    currency (`licensee_currency`); None where nothing says (the contract's rule: the
    card in effect, whatever its currency). A card it names decides whatever this says."""
    if application.renewal_of_id is not None:
        renewed = session.get(Agreement, application.renewal_of_id)
        if renewed is not None:
            return AskedCurrency(renewed.currency, "renewal")
    if application.currency:
        return AskedCurrency(application.currency, "priced")
    found = licensee_currency(session, application.organization_id)
    return AskedCurrency(found, "licensee") if found is not None else None


def live_renewal(session: Session, agreement_id: int) -> Application | None:
    """The application that renews the agreement now, if any (one at a time)."""
    return session.scalars(
        select(Application)
        .where(Application.renewal_of_id == agreement_id, still_renews())
        .order_by(Application.id)
    ).first()


# Round 47: whose agreements the renewal lists take, by the organization's standing,
# in one place for the three of them (the renewals-due page and its count on the
# console home, the card check's renewal candidates, the ending reminder), and
# (round 48) whose undecided applications the card check prices:
# - `closed`: none. Closing is final (no step of `STANDING` leads out of it), so a
#   closed organization renews nothing: listing it sent officers after renewals no
#   one could draw, and the check priced them into the card's effect.
# - `suspended`: listed. Licensing staff may reinstate it, and its agreement then
#   renews as any other; the renewals-due page marks it "suspended" beside its name,
#   so an officer does not chase a renewal the office itself stopped, and the check
#   counts the renewal it would price once reinstated. The reminder waits (below).
# - `pending_payment`, `applying`, `active`: listed.
# The reminder asks for a renewal drawn now, which only an organization in good
# standing may draw (`renewal_refusal`), so it takes `drawn_now=True`: a suspended or
# held organization is emailed once it is back, if still in time (round 23).
RENEWS_NOTHING = frozenset({CLOSED})


def organization_renews(record: Any = Agreement, *, drawn_now: bool = False) -> Exists:
    """SQL: whether the organization of `record` (`Agreement` or `Application`, the
    entity or an alias: anything with an `organization_id`) is one whose agreements
    the renewal lists take (`RENEWS_NOTHING`), and whose undecided applications the
    card check prices (round 48: a closed organization's are approved by no one);
    with `drawn_now`, whether it may draw a renewal today (in good standing). An
    EXISTS on the organization's row, read in the list's own statement."""
    standing = (
        Organization.standing.in_(GOOD_STANDING)
        if drawn_now
        else Organization.standing.not_in(RENEWS_NOTHING)
    )
    return (
        select(Organization.id).where(Organization.id == record.organization_id, standing).exists()
    )


def ending_soon(session: Session, today: date) -> Select[Any]:
    """Active agreements whose term ends within `RENEWAL_WINDOW_DAYS` of `today`, of
    organizations that renew (`organization_renews`: not closed, round 47)."""
    return select(Agreement).where(
        Agreement.state == ACTIVE,
        Agreement.term_end >= today,
        Agreement.term_end <= today + timedelta(days=RENEWAL_WINDOW_DAYS),
        organization_renews(),
    )


# Round 59: how long after its term an expired agreement that nothing renews stays on
# its licensee's dashboard, asking for the renewal (as long as the window before it).
EXPIRED_RENEWAL_DAYS = RENEWAL_WINDOW_DAYS


def renewals_to_start(session: Session, organization_id: int, today: date) -> list[Agreement]:
    """The organization's agreements ending soon (`ending_soon`) that nothing renews
    yet, soonest first, then those that were in force and expired within
    `EXPIRED_RENEWAL_DAYS` before `today` that nothing renews (round 59: the dashboard
    asked for the renewal until the term's last day, and said nothing once it had
    expired): what its vendors are asked to renew on their dashboard."""
    found = [
        agreement
        for statement in (ending_soon(session, today), expired_unrenewed(today))
        for agreement in session.scalars(
            statement.where(
                Agreement.organization_id == organization_id,
                Agreement.superseded_by_id.is_(None),
            ).order_by(Agreement.term_end, Agreement.id)
        )
    ]
    if not found:
        return []
    renewed = set(
        session.scalars(
            select(Application.renewal_of_id).where(
                Application.renewal_of_id.in_([agreement.id for agreement in found]),
                still_renews(),
            )
        )
    )
    return [agreement for agreement in found if agreement.id not in renewed]


def any_agreement_unrenewed(
    organization_id: ColumnElement[int], _now: ColumnElement[datetime]
) -> Exists:
    """Whether the organization may have an agreement for `renewals_to_start`, as
    SQL (an active or expired agreement nothing has renewed; its term is checked
    after)."""
    return (
        select(Agreement.id)
        .where(
            Agreement.state.in_((ACTIVE, EXPIRED)),
            Agreement.organization_id == organization_id,
            Agreement.superseded_by_id.is_(None),
        )
        .exists()
    )


def renewals_due_query(session: Session, today: date) -> Select[Any]:
    """Agreements ending soon, soonest first (then the id), with their licensees: the
    renewals-due list, a page at a time (round 46)."""
    return (
        ending_soon(session, today)
        .options(selectinload(Agreement.organization))
        .order_by(Agreement.term_end, Agreement.id)
    )


def expired_unrenewed(today: date) -> Select[Any]:
    """Agreements that were in force and expired at the end of a term that ended within
    `EXPIRED_RENEWAL_DAYS` before `today`, that nothing renews (no live renewal, not
    superseded), of organizations that renew (`organization_renews`: not closed): the
    licences the office may chase after their term (round 59, expired59: the renewals
    due list active agreements only, so from the day after the term the office lost
    sight of one not renewed, while its licensee's dashboard asked for the renewal for
    `EXPIRED_RENEWAL_DAYS` more). The expired agreements by term end: one range of
    `ix_agreements_state_term_end_order`."""
    renewing = (
        select(Application.id)
        .where(Application.renewal_of_id == Agreement.id, still_renews(aliased(Agreement)))
        .correlate(Agreement)
        .exists()
    )
    return select(Agreement).where(
        Agreement.state == EXPIRED,
        Agreement.term_end < today,
        Agreement.term_end >= today - timedelta(days=EXPIRED_RENEWAL_DAYS),
        Agreement.activated_at.is_not(None),
        Agreement.superseded_by_id.is_(None),
        ~renewing,
        organization_renews(),
    )


# How often the worker runs `applications expire` (its schedule reads it): the run
# that ends each agreement past its term, from the office day after the term.
EXPIRY_RUN_EVERY = timedelta(hours=1)


def past_term_cutoff(now: datetime, grace: timedelta) -> date:
    """The first term end the expiry run may not have reached by `now`: an agreement
    whose term ended before this day has had its run due (at the latest at
    `calendar.OFFICE_DAY_STARTS_BY` UTC the day after its term), plus
    `EXPIRY_RUN_EVERY` and `grace` (`JOB_GRACE_MINUTES`, as the jobs' lateness
    reads), and is still active only if the run is behind (round 60)."""
    return (now - EXPIRY_RUN_EVERY - grace - calendar.OFFICE_DAY_STARTS_BY).date()


def active_past_term(cutoff: date) -> Select[Any]:
    """Agreements still `active` whose term ended before `cutoff` (`past_term_cutoff`):
    ones the expiry run has not ended (expired, or superseded by their renewal) though
    it was due to (round 60, agreements60: such an agreement is on neither the renewals
    due, which take terms ending today or later, nor the agreements expired without a
    renewal, which take expired ones, and its licensee's dashboard asks nothing). One
    range of `ix_agreements_state_term_end_order`."""
    return select(Agreement).where(Agreement.state == ACTIVE, Agreement.term_end < cutoff)


class PastTerm(NamedTuple):
    """How many agreements are still active past their term (`active_past_term`), and
    the first one's term end (None when there are none)."""

    number: int
    first_end: date | None


def past_term(session: Session, now: datetime, grace: timedelta) -> PastTerm:
    """`active_past_term` at `now` counted, with the earliest term end, in one
    statement (their keys and term ends only): what the console home, the Jobs page
    and `/readyz` say of the expiry run's backlog."""
    found = (
        active_past_term(past_term_cutoff(now, grace))
        .with_only_columns(Agreement.term_end)
        .subquery()
    )
    count, first_end = session.execute(
        select(func.count(), func.min(found.c.term_end)).select_from(found)
    ).one()
    return PastTerm(count, first_end)


def past_term_words(backlog: PastTerm, day: Callable[[date], str] = date.isoformat) -> str:
    """The backlog as an operator reads it: days in ISO for `/readyz`, in words
    (`calendar.day_text`) for a page's sentence."""
    assert backlog.first_end is not None
    return (
        f"{backlog.number} {'agreement is' if backlog.number == 1 else 'agreements are'} still "
        f"active past {'its' if backlog.number == 1 else 'their'} term, the first ended on "
        f"{day(backlog.first_end)}: the expiry run (`licensing applications expire`) "
        "has not ended them"
    )


def active_past_term_query(cutoff: date) -> Select[Any]:
    """`active_past_term`, the longest past its term first (the id orders a shared
    last day), with their licensees: the office's list, a page at a time."""
    return (
        active_past_term(cutoff)
        .options(selectinload(Agreement.organization))
        .order_by(Agreement.term_end, Agreement.id)
    )


# The office's list of agreements expired without a renewal: its Chased filter and
# its Sort (round 60, agreements60), named as the form's options say them.
NOT_CHASED = "never"
CHASED_OVER = "over"
CHASED_CHOICES = {NOT_CHASED: "Not chased", CHASED_OVER: "Chased more than N days ago"}
ENDED_FIRST = "ended"
CHASED_LONGEST_AGO = "chased"
CHASE_SORTS = {
    ENDED_FIRST: "Longest ended first",
    CHASED_LONGEST_AGO: "Not chased, then chased longest ago",
}


def last_contacts() -> Subquery:
    """Each agreement's last contact day (`agreement_contacts`, round 60): a
    GROUP BY over `ix_agreement_contacts_agreement_day`."""
    return (
        select(
            AgreementContact.agreement_id.label("agreement_id"),
            func.max(AgreementContact.contacted_on).label("last_on"),
        )
        .group_by(AgreementContact.agreement_id)
        .subquery("last_contacts")
    )


def expired_unrenewed_query(
    today: date,
    *,
    chased: str | None = None,
    days: int | None = None,
    order: str = ENDED_FIRST,
) -> Select[Any]:
    """`expired_unrenewed`, the longest ended first (the id orders a shared
    last day), with their licensees: the office's list, a page at a time. Round 60:
    `chased` `never` keeps those with no contact recorded, `over` those whose last
    contact was more than `days` days before `today`; `order` `chased` lists those
    never chased first, then by their last contact, the longest ago first."""
    statement = expired_unrenewed(today).options(selectinload(Agreement.organization))
    if chased is None and order == ENDED_FIRST:
        return statement.order_by(Agreement.term_end, Agreement.id)
    last = last_contacts()
    statement = statement.outerjoin(last, last.c.agreement_id == Agreement.id)
    if chased == NOT_CHASED:
        statement = statement.where(last.c.last_on.is_(None))
    elif chased == CHASED_OVER:
        statement = statement.where(last.c.last_on < today - timedelta(days=days or 0))
    if order == CHASED_LONGEST_AGO:
        return statement.order_by(
            last.c.last_on.is_not(None), last.c.last_on, Agreement.term_end, Agreement.id
        )
    return statement.order_by(Agreement.term_end, Agreement.id)


def last_contact_of(session: Session, agreement_ids: Sequence[int]) -> dict[int, AgreementContact]:
    """Each of `agreement_ids`' last contact (the latest day, then the latest
    recorded), in one statement: the list's *Last chased*."""
    if not agreement_ids:
        return {}
    found: dict[int, AgreementContact] = {}
    for contact in session.scalars(
        select(AgreementContact)
        .where(AgreementContact.agreement_id.in_(agreement_ids))
        .order_by(
            AgreementContact.agreement_id,
            AgreementContact.contacted_on.desc(),
            AgreementContact.id.desc(),
        )
    ):
        found.setdefault(contact.agreement_id, contact)
    return found


def with_renewals(
    session: Session, found: Sequence[Agreement]
) -> list[tuple[Agreement, Application | None]]:
    """Each of `found` with its live renewal (or None), read in one statement."""
    renewals = {
        application.renewal_of_id: application
        for application in session.scalars(
            select(Application)
            .where(
                Application.renewal_of_id.in_([agreement.id for agreement in found]),
                still_renews(),
            )
            .order_by(Application.id)
        )
    }
    return [(agreement, renewals.get(agreement.id)) for agreement in found]


def renewals_due(session: Session, today: date) -> list[tuple[Agreement, Application | None]]:
    """Agreements ending soon, soonest first, each with its live renewal (or None)."""
    return with_renewals(session, list(session.scalars(renewals_due_query(session, today))))


# The dashboard's statements are kept per process (`ScopedStatement`): built per
# visit, building them and their cache keys was a third of their time.
_STATE_COUNTS = ScopedStatement(
    select(Application.state, func.count()).group_by(Application.state), Application
)


def application_state_counts(session: Session, principal: Principal) -> dict[str, int]:
    """How many applications the caller may see are in each state."""
    found = session.execute(*_STATE_COUNTS.for_caller(principal))
    return {state: int(count) for state, count in found}


@dataclass(frozen=True)
class WaitingApplication:
    """What the dashboard says of an application waiting on someone, read as
    columns: as ORM entities the dashboard's oldest applications and agreements
    awaiting acceptance were a fifth of its time."""

    id: int
    state: str
    created_at: datetime
    submitted_at: datetime | None
    returned_at: datetime | None
    resubmit_by: datetime | None
    return_reason: str | None
    # Where the review clock runs from (`review_clock_from`): the dashboard says by
    # when the office aims to decide (round 66: it said the state alone).
    reconsideration_requested_at: datetime | None = None
    review_clock_from: datetime | None = None

    @property
    def reference(self) -> str:
        return Application.reference_of(self.id)


# What the review clock reads an application from: a whole one, a queue's row or a
# dashboard's.
Reviewed = Application | QueueApplication | WaitingApplication


_WAITING_APPLICATIONS = select(
    Application.id,
    Application.state,
    Application.created_at,
    Application.submitted_at,
    Application.returned_at,
    Application.resubmit_by,
    Application.return_reason,
    Application.reconsideration_requested_at,
    Application.review_clock_from,
)


def oldest_applications(
    session: Session,
    principal: Principal,
    states: Sequence[str],
    since: InstrumentedAttribute[Any],
    limit: int,
) -> list[WaitingApplication]:
    """The `limit` applications in `states` that have waited longest (`since`)."""
    key = (tuple(states), since.key, limit)
    kept = _OLDEST.get(key)
    if kept is None:
        statement = (
            _WAITING_APPLICATIONS.where(Application.state.in_(list(states)))
            .order_by(since, Application.id)
            .limit(limit)
        )
        kept = ScopedStatement(statement, Application)
        if len(_OLDEST) < 64:  # the dashboard asks for three
            _OLDEST[key] = kept
    found = session.execute(*kept.for_caller(principal))
    return [WaitingApplication(*row) for row in found]


_OLDEST: dict[tuple[tuple[str, ...], str, int], ScopedStatement[Any]] = {}


@dataclass(frozen=True)
class AgreementToAccept:
    """An issued agreement the licensee has not accepted yet (dashboard)."""

    id: int
    number: str
    issued_at: datetime


_TO_ACCEPT = ScopedStatement(
    select(Agreement.id, Agreement.number, Agreement.issued_at)
    .where(Agreement.state == ISSUED)
    .order_by(Agreement.issued_at.desc(), Agreement.id.desc()),
    Agreement,
)


def agreements_to_accept(session: Session, principal: Principal) -> list[AgreementToAccept]:
    """The issued agreements the caller may see, newest first: what
    `agreements(session, principal, states=(ISSUED,))` finds, as columns."""
    found = session.execute(*_TO_ACCEPT.for_caller(principal))
    return [AgreementToAccept(*row) for row in found]


# The console home's row of agreements waiting for acceptance (round 53) counts
# those that expire unaccepted within this many days.
EXPIRING_UNACCEPTED_DAYS = 14


class AcceptanceQueue(NamedTuple):
    """Issued agreements waiting for the licensee's acceptance: how many, when the
    oldest was issued, and how many expire unaccepted within `EXPIRING_UNACCEPTED_DAYS`."""

    issued: int
    oldest: datetime | None
    expiring: int


def acceptance_queue(session: Session, today: date) -> AcceptanceQueue:
    """`AcceptanceQueue` on the office's `today`, in one statement over the issued
    agreements (`ix_agreements_state_issued_order` serves `state` and the oldest).
    An agreement expires unaccepted after its term's last day (the hourly run,
    `services.expiry.expiring`), so those whose term ends before today plus the
    window count, save those issued after their term, which never expire unaccepted:
    left out with the run's own bound (issued from 06:00 UTC the day after the
    term's last day)."""
    day_after_starts = db.UTCInstant(
        Agreement.term_end, timedelta(days=1) + calendar.OFFICE_DAY_STARTS_BY
    )
    expiring = and_(
        Agreement.term_end < today + timedelta(days=EXPIRING_UNACCEPTED_DAYS),
        Agreement.issued_at < day_after_starts,
    )
    count, oldest, soon = session.execute(
        select(func.count(), func.min(Agreement.issued_at), func.count().filter(expiring)).where(
            Agreement.state == ISSUED
        )
    ).one()
    return AcceptanceQueue(int(count), oldest, int(soon))


def any_agreement_to_accept(
    organization_id: ColumnElement[int], _now: ColumnElement[datetime]
) -> Exists:
    """Whether the organization has an agreement for `agreements_to_accept`, as
    SQL: the vendor dashboard asks it with the other features' conditions first."""
    return (
        select(Agreement.id)
        .where(Agreement.state == ISSUED, Agreement.organization_id == organization_id)
        .exists()
    )


_COUNT_OF_ORGANIZATION = select(func.count()).where(
    Application.organization_id == bindparam("organization_id")
)


def application_count(session: Session, organization_id: int) -> int:
    """How many applications an organization has made (drafts included)."""
    return int(session.scalar(_COUNT_OF_ORGANIZATION, {"organization_id": organization_id}) or 0)


def with_terms(statement: Select[Any]) -> Select[Any]:
    """Agreements with what their licensed lines are read from (the quote, the
    organization, the uses applied for), loaded in three queries for the whole
    list rather than three per agreement (finance's classification, royalties)."""
    return statement.options(
        selectinload(Agreement.quote),
        selectinload(Agreement.organization),
        selectinload(Agreement.application).selectinload(Application.uses),
    )


def _open_to_reconsideration(now: Any) -> tuple[ColumnElement[bool], ...]:
    """The guards of `request_reconsideration` as conditions: rejected, within the
    14 days (`now` a moment or a bound parameter), not yet asked (a request is
    decided once), and not closed by `licensing applications expire`."""
    return (
        Application.state == REJECTED,
        Application.reconsider_by >= now,
        Application.reconsideration_requested_at.is_(None),
        Application.reconsideration_closed_at.is_(None),
    )


def reconsideration_open(now: datetime) -> Select[Any]:
    """Rejected applications whose vendor may still ask for reconsideration at `now`."""
    return select(Application).where(*_open_to_reconsideration(now))


@dataclass(frozen=True)
class ReconsiderationToAsk:
    """A rejection the vendor may still ask to reconsider (dashboard), as columns."""

    id: int
    decided_at: datetime | None
    reconsider_by: datetime

    @property
    def reference(self) -> str:
        return Application.reference_of(self.id)


# Unlimited: the 14-day window keeps the list as short as a fortnight's rejections.
_TO_RECONSIDER = ScopedStatement(
    select(Application.id, Application.decided_at, Application.reconsider_by)
    .where(*_open_to_reconsideration(bindparam("now")))
    .order_by(Application.reconsider_by, Application.id),
    Application,
)


def reconsiderations_to_ask(
    session: Session, principal: Principal, now: datetime
) -> list[ReconsiderationToAsk]:
    """The rejections the caller may see whose window is open at `now`, closing first."""
    statement, parameters = _TO_RECONSIDER.for_caller(principal)
    found = session.execute(statement, {**parameters, "now": now})
    # `reconsider_by >= now` already left out the NULLs; the test says so to the types.
    return [ReconsiderationToAsk(id_, at, by) for id_, at, by in found if by is not None]


def reconsiderations_open_query(now: datetime) -> Select[Any]:
    """`reconsideration_open`, the window closing soonest first (then the id), with
    each licensee: the list a page at a time (round 46)."""
    return (
        reconsideration_open(now)
        .options(selectinload(Application.organization))
        .order_by(Application.reconsider_by, Application.id)
    )


def reconsiderations_open(session: Session, now: datetime) -> list[Application]:
    """`reconsideration_open`, the window closing soonest first, with each licensee."""
    return list(session.scalars(reconsiderations_open_query(now)))


def reconsideration_is_open(application: Application, now: datetime) -> bool:
    """Whether `reconsideration_open` would list `application` at `now`."""
    return (
        application.state == REJECTED
        and application.reconsider_by is not None
        and application.reconsider_by >= now
        and application.reconsideration_requested_at is None
        and application.reconsideration_closed_at is None
    )


class Step(NamedTuple):
    """Who took a step of an application and when, as its audit event records it."""

    at: datetime
    by: str  # the staff member's (or vendor's) address, as `decided_by` holds it
    # Their account (round 58: `decided_by_id`, the audit event's `actor_user_id`), by
    # which pages name them; None for a decision from before agreements_0011 (named by
    # the address) and for the system.
    by_id: int | None = None


def last_step(session: Session, application_id: int, action: str) -> Step | None:
    """The latest time `action` (`"reject"`) was taken on the application, from its
    history: the record of truth for a rejection once a denied reconsideration has
    overwritten `decided_at` and `decided_by`."""
    found = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.actor, AuditEvent.actor_user_id)
        .where(
            AuditEvent.entity_type == "application",
            AuditEvent.entity_id == str(application_id),
            AuditEvent.action == f"application.{APPLICATION.events[action]}",
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    return Step(found.occurred_at, found.actor, found.actor_user_id) if found else None


@dataclass(frozen=True)
class Rejection:
    """What the application's pages say of a rejection: who rejected and when, who
    denied a reconsideration and when, and by when staff answer one asked for."""

    rejected: Step | None
    denied: Step | None
    answer_by: datetime | None


def rejection_of(session: Session, application: Application, *, sla_days: int) -> Rejection | None:
    """For a rejected application (or one whose reconsideration is asked for), its
    `Rejection`; None otherwise.

    `decided_at`/`decided_by` hold the latest decision: the rejection's until a
    reconsideration is denied, the denial's after, when the rejection's are read
    from its history (`last_step`). A reconsideration is answered within the
    review's service level (APPLICATION_REVIEW_SLA_DAYS US business days, to the end
    of the office's day) from when the vendor asked, as staff's other work is."""
    if application.state not in (REJECTED, RECONSIDERATION_REQUESTED):
        return None
    decided = (
        Step(application.decided_at, application.decided_by, application.decided_by_id)
        if application.decided_at is not None and application.decided_by is not None
        else None
    )
    denied = application.reconsideration_denial_reason is not None
    asked = application.reconsideration_requested_at
    return Rejection(
        rejected=last_step(session, application.id, "reject") if denied else decided,
        denied=decided if denied else None,
        answer_by=(
            calendar.business_deadline(asked, sla_days)
            if asked is not None and application.state == RECONSIDERATION_REQUESTED
            else None
        ),
    )


# Applications that wait on the office's decision, or on the vendor's answer.
AWAITING_DECISION = (*AWAITING_STAFF, RETURNED)


def open_licensing(
    session: Session, organization_id: int, _today: date
) -> list[accounts.StillOpen]:
    """The organization's agreements in force or waiting for acceptance and its
    undecided applications, in words, for `accounts.register_open_business`
    (registered in `licensing.agreements.init_app`): a closed organization is
    licensed no further, so staff terminate what should end with it, and closing
    withdraws its undecided applications (round 48: `services.withdraw_for_closed`;
    one awaiting reconsideration is denied by staff). The first few of each named,
    the rest counted by the database."""
    agreements = select(Agreement.number, Agreement.state, Agreement.term_end).where(
        Agreement.organization_id == organization_id, Agreement.state.in_((ACTIVE, ISSUED))
    )
    applications = select(Application.id, Application.state).where(
        Application.organization_id == organization_id,
        Application.state.in_(AWAITING_DECISION),
    )
    named = accounts.OPEN_NAMED
    return accounts.named_and_more(
        [
            f"Agreement {row.number} is in force until {row.term_end}: terminate it if the "
            "license ends with the account."
            if row.state == ACTIVE
            else f"Agreement {row.number} waits for acceptance, which a closed organization "
            "cannot give."
            for row in session.execute(agreements.order_by(Agreement.number).limit(named))
        ],
        count_rows(session, agreements),
        lambda rest: f"And {counted(rest, 'more agreement')} in force or waiting for acceptance.",
        # Those it counts, not every agreement the organization ever had.
        links().organization_agreements(organization_id, states=(ACTIVE, ISSUED)),
        "The organization's agreements in force or waiting for acceptance",
    ) + accounts.named_and_more(
        [
            f"Application {Application.reference_of(row.id)} is {humanize(row.state)}: "
            + (
                "closing withdraws it, since a closed organization's application is not approved."
                if row.state in UNDECIDED
                else "a closed organization's application is not approved."
            )
            for row in session.execute(applications.order_by(Application.id).limit(named))
        ],
        count_rows(session, applications),
        lambda rest: f"And {counted(rest, 'more application')} undecided.",
        links().organization_applications(organization_id),
        "The organization's undecided applications",
    )
