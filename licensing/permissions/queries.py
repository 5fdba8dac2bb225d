"""Reading permission requests: the staff queue, a vendor's own requests, SLA ages.

Vendors reach only requests created from their organization's applications
(`accounts.queries.scoped` on `organization_id`); public requests have no
organization and are reached by their secret link only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, Exists, ScalarSelect, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from licensing import calendar, db
from licensing.access import Principal
from licensing.accounts.models import User, by_name
from licensing.accounts.queries import OwnedGetter, ScopedStatement, listed_name, scoped
from licensing.errors import NotFound
from licensing.limits import record_id

from .models import PermissionLetter, PermissionRequest
from .states import (
    ANSWER_BUSINESS_DAYS,
    APPROVED,
    OPEN_STATES,
    STATES,
    UNCONFIRMED,
    WITH_STAFF,
    WITHDRAWN,
)

UNASSIGNED = "none"
MINE = "me"
# The queue's "ending" filter: grants whose permission's last day is within this
# many days of today (today included), soonest first.
ENDING_WITHIN_DAYS = 60
# The queue's orders (`sort`, round 44), as the console's Sort field offers them. The
# default is the list's own: the decision due soonest first (under the ending filter,
# the grant ending soonest first). `use_from` puts the earliest first day of the use
# first and the requests that gave no days last, each group in the default's order.
DEFAULT_SORT = "due"
SORTS = {
    DEFAULT_SORT: "Decision due soonest first",
    "use_from": "First day of the use, earliest first",
}
# What the default order is called under the ending filter, where it lists the grant
# ending soonest first (the value stays `due`: round 44).
ENDING_DEFAULT_SORT = "Grant ending soonest first"


def sort_choices(*, ending: bool) -> dict[str, str]:
    """The Sort field's options as the console's queue shows them, value to words:
    under the ending filter the default reads "Grant ending soonest first". The
    field draws them from here, and a refused `sort` names them (round 45)."""
    return {**SORTS, DEFAULT_SORT: ENDING_DEFAULT_SORT} if ending else SORTS


@dataclass(frozen=True)
class QueueFilter:
    """The console's filters: a state (or "open", the default), an assignee
    (a user id, "me" or "none"), a search over reference, requester, email and
    institution, overdue only, and grants ending within `ENDING_WITHIN_DAYS`
    (which only a grant can be: with the default "open" state it lists the
    granted requests)."""

    state: str | None = "open"
    assignee: str | None = None
    search: str | None = None
    overdue: bool = False
    ending: bool = False
    sort: str = DEFAULT_SORT

    def __post_init__(self) -> None:
        if self.ending and self.state == "open":
            object.__setattr__(self, "state", APPROVED)

    @classmethod
    def from_args(cls, args: dict[str, str]) -> QueueFilter:
        state = args.get("state", "open") or None
        if state not in (None, "open", *STATES):
            state = "open"
        assignee = args.get("assignee") or None
        if assignee not in (None, MINE, UNASSIGNED) and record_id(assignee) is None:
            assignee = None
        search = (args.get("q") or "").strip()[:200] or None
        overdue = str(args.get("overdue", "")).lower() in {"1", "true", "on", "yes"}
        ending = str(args.get("ending", "")).lower() in {"1", "true", "on", "yes"}
        sort = args.get("sort") or DEFAULT_SORT
        if sort not in SORTS:
            sort = DEFAULT_SORT
        return cls(
            state=state,
            assignee=assignee,
            search=search,
            overdue=overdue,
            ending=ending,
            sort=sort,
        )


class QueueRequest(NamedTuple):
    """What the console's queue shows of a request, read as columns with its
    assignee's name rather than as a record (which lazy-loaded its assignee: a
    query for each assigned row)."""

    id: int
    reference: str
    source: str
    application_reference: str | None
    requester_name: str
    institution: str
    purpose: str
    state: str
    submitted_at: datetime | None
    decided_at: datetime | None
    closed_at: datetime | None
    sla_due_at: datetime | None
    answer_due_at: datetime | None  # a question waiting for its answer
    valid_from: date | None  # a grant's first day
    valid_until: date | None  # a grant's last day
    use_from: date | None  # the first day of the use asked for (round 42), if given
    use_until: date | None  # its last day
    assignee: str | None  # the assignee's listed name (last: from the joined user)


# The user who asked from an application: the queue names them as their account does
# now (`PermissionRequest.requester_shown_name`), not as when they asked.
_REQUESTER = aliased(User)


def _queue_column(name: str) -> Any:
    if name == "requester_name":
        return func.coalesce(_REQUESTER.full_name, PermissionRequest.requester_name).label(name)
    return getattr(PermissionRequest, name)


_QUEUE_COLUMNS = (
    select(*(_queue_column(name) for name in QueueRequest._fields[:-1]), listed_name())
    .outerjoin(User, User.id == PermissionRequest.assignee_id)
    .outerjoin(
        _REQUESTER,
        and_(
            _REQUESTER.id == PermissionRequest.requester_user_id,
            _REQUESTER.organization_id == PermissionRequest.organization_id,
        ),
    )
)


def queue_requests(
    session: Session, filters: QueueFilter, principal: Principal | None, now: datetime
) -> list[QueueRequest]:
    """Every request of the console's queue as `queue_query` finds and orders it, in
    one query (the console reads a page of them: `queue_rows_query`)."""
    return queue_window(session, queue_rows_query(filters, principal, now), {})


def queue_rows_query(
    filters: QueueFilter, principal: Principal | None, now: datetime
) -> Select[Any]:
    """The console's queue as the columns of `QueueRequest`, filtered and in the
    order chosen (each order ends in the id, so a page boundary never splits a tie
    differently from one read to the next): the console reads a page of it at a
    time (`paging.read_page`, with `queue_window`)."""
    return _filtered(_QUEUE_COLUMNS, filters, principal, now)


def queue_window(
    session: Session, statement: Select[Any], parameters: dict[str, Any]
) -> list[QueueRequest]:
    """The rows of `statement` (`queue_rows_query`, or a page window of it) as
    `QueueRequest`s, run on the session's connection (columns only, nothing to flush
    or track)."""
    found = session.connection().execute(statement, parameters)
    return [QueueRequest._make(row) for row in found]


def queue_query(filters: QueueFilter, principal: Principal | None, now: datetime) -> Select[Any]:
    """Requests for the staff queue, the oldest service-level deadline first."""
    return _filtered(select(PermissionRequest), filters, principal, now)


def _filtered(
    statement: Select[Any], filters: QueueFilter, principal: Principal | None, now: datetime
) -> Select[Any]:
    statement = statement.where(PermissionRequest.state != "unconfirmed")
    if filters.state == "open":
        statement = statement.where(PermissionRequest.state.in_(OPEN_STATES))
    elif filters.state:
        statement = statement.where(PermissionRequest.state == filters.state)
    if filters.assignee == UNASSIGNED:
        statement = statement.where(PermissionRequest.assignee_id.is_(None))
    elif filters.assignee == MINE and principal is not None:
        statement = statement.where(PermissionRequest.assignee_id == principal.user_id)
    elif filters.assignee and (assignee_id := record_id(filters.assignee)) is not None:
        statement = statement.where(PermissionRequest.assignee_id == assignee_id)
    if filters.search:
        # References are ASCII (`PR-2026-000001`): the database's `lower()`. Names and
        # addresses by their keys (round 52); the content requested, free text with
        # no key, in any case and script too (round 53, `db.contains_in_any_case`).
        statement = statement.where(
            or_(
                func.lower(PermissionRequest.reference).contains(
                    filters.search.lower(), autoescape=True
                ),
                PermissionRequest.names_contain(filters.search),
                db.contains_in_any_case(PermissionRequest.content_requested, filters.search),
            )
        )
    if filters.overdue:
        statement = statement.where(
            PermissionRequest.state.in_(WITH_STAFF), PermissionRequest.sla_due_at < now
        )
    if filters.ending:
        today = calendar.office_date(now)
        statement = statement.where(
            PermissionRequest.state == APPROVED,
            PermissionRequest.valid_until >= today,
            PermissionRequest.valid_until <= today + timedelta(days=ENDING_WITHIN_DAYS),
        )
    statement = statement.order_by(*_ORDERS[filters.sort, filters.ending])
    return scoped(statement, PermissionRequest, principal)


# The default orders, each ending in the id so that tied rows keep their places
# between pages (docs/list-pages.md, A stated order): the decision due soonest first
# (a request without a due date last), or under the ending filter the grant ending
# soonest first.
_DUE_FIRST = (
    PermissionRequest.sla_due_at.is_(None),
    PermissionRequest.sla_due_at,
    PermissionRequest.id,
)
_ENDING_FIRST = (PermissionRequest.valid_until, PermissionRequest.id)
# By the first day of the use (round 44): the requests without days after every dated
# one (`IS NULL` first: both backends put false before true, whatever their own
# place for nulls), then the default order, which also breaks ties between the same
# first day.
_FIRST_DAY = (PermissionRequest.use_from.is_(None), PermissionRequest.use_from)
# Each (sort, ending) pair's clauses, built once.
_ORDERS = {
    (DEFAULT_SORT, False): _DUE_FIRST,
    (DEFAULT_SORT, True): _ENDING_FIRST,
    ("use_from", False): (*_FIRST_DAY, *_DUE_FIRST),
    ("use_from", True): (*_FIRST_DAY, *_ENDING_FIRST),
}


class OfficeQueue(NamedTuple):
    """The console home's row of the requests with the office (`WITH_STAFF`)."""

    waiting: int
    overdue: int  # past the service level
    due_soon: int  # not yet past it, due before the moment given (round 59)
    oldest: datetime | None  # when the longest-waiting requester first confirmed


def first_confirmations(*where: ColumnElement[bool]) -> Any:
    """Of the requests meeting `where`, each one's (`request_id`, `since`): the
    confirmations a correction with the office stands for (round 59), its own and those
    of the requests it replaced, as a recursive CTE. A confirmed correction replaces the
    open request it corrects (withdrawn at the very moment it is confirmed), so its
    requester has waited since that one's confirmation, or the one before it for a
    correction of a correction. Walked up `corrects_id` while the request corrected was
    withdrawn no earlier than its correction was confirmed (one corrected before, or
    decided, stays apart: the correction stands alone, as `_replace_corrected` leaves
    it). The earliest `since` of a request is when its requester first confirmed."""
    start = (
        select(
            PermissionRequest.id.label("request_id"),
            PermissionRequest.corrects_id.label("up"),
            PermissionRequest.submitted_at.label("since"),
        )
        .where(*where)
        .cte("replacing", recursive=True)
    )
    replaced = aliased(PermissionRequest)
    return start.union_all(
        select(start.c.request_id, replaced.corrects_id, replaced.submitted_at).where(
            replaced.id == start.c.up,
            replaced.state == WITHDRAWN,
            replaced.closed_at >= start.c.since,
        )
    )


def _first_confirmed() -> ScalarSelect[Any]:
    """The earliest confirmation a correction with the office stands for
    (`first_confirmations`)."""
    walked = first_confirmations(
        PermissionRequest.state.in_(WITH_STAFF), PermissionRequest.corrects_id.is_not(None)
    )
    return select(func.min(walked.c.since)).scalar_subquery()


def office_queue(session: Session, now: datetime, due_soon_by: datetime) -> OfficeQueue:
    """The requests with the office: how many, past their service level at `now`,
    due soon (before `due_soon_by`, not yet past), and since when the longest-waiting
    requester has waited (a correction's from the request it replaced: round 59), in
    one statement."""
    due = PermissionRequest.sla_due_at
    count, overdue, soon, oldest, first_replaced = session.execute(
        select(
            func.count(),
            func.count().filter(due < now),
            func.count().filter(due >= now, due < due_soon_by),
            func.min(PermissionRequest.submitted_at),
            _first_confirmed(),
        ).where(PermissionRequest.state.in_(WITH_STAFF))
    ).one()
    firsts = [moment for moment in (oldest, first_replaced) if moment is not None]
    return OfficeQueue(count, overdue, soon, min(firsts) if firsts else None)


# A request the caller may see (staff: any; vendors: their organization's), else 404.
get_request = OwnedGetter(PermissionRequest, "permission request")


# Kept per process (`ScopedStatement`): the vendor dashboard asks on every visit.
_OF_ORGANIZATION = ScopedStatement(
    select(PermissionRequest).order_by(PermissionRequest.id.desc()), PermissionRequest
)


# The open ones only: the dashboard lists no other (round 47: it read every request
# the organization ever sent, and skipped the decided ones in Python).
_OPEN_OF_ORGANIZATION = ScopedStatement(
    select(PermissionRequest)
    .where(PermissionRequest.state.in_(OPEN_STATES))
    .order_by(PermissionRequest.id.desc()),
    PermissionRequest,
)


def open_for_organization(session: Session, principal: Principal) -> Sequence[PermissionRequest]:
    """The vendor's organization's requests still open (`OPEN_STATES`), newest first:
    what its dashboard lists, and what `any_open` asks about."""
    return session.scalars(*_OPEN_OF_ORGANIZATION.for_caller(principal)).all()


# How many requests the organization has: the vendor's list counts them for its pages.
_COUNT_OF_ORGANIZATION = ScopedStatement(
    select(func.count()).select_from(PermissionRequest), PermissionRequest
)


def organization_listing(
    principal: Principal,
) -> tuple[Select[Any], Select[Any], dict[str, Any]]:
    """The vendor's list of the organization's requests, newest first (the id, unique),
    its count and their bound parameters: the portal pages them (`paging.read_page`,
    round 45: it listed every request on one page)."""
    statement, parameters = _OF_ORGANIZATION.for_caller(principal)
    count, _ = _COUNT_OF_ORGANIZATION.for_caller(principal)
    return statement, count, parameters


def any_open(organization_id: ColumnElement[int], _now: ColumnElement[datetime]) -> Exists:
    """Whether the organization has a request still open (the only ones its
    dashboard lists, `open_for_organization`), as SQL: the dashboard asks it with
    the other features' conditions before reading the requests."""
    return (
        select(PermissionRequest.id)
        .where(
            PermissionRequest.organization_id == organization_id,
            PermissionRequest.state.in_(OPEN_STATES),
        )
        .exists()
    )


# The console's request page names the requester's newest other requests, at most
# this many, and counts the rest (round 53).
OTHERS_SHOWN = 10


def corrections_of(session: Session, request: PermissionRequest) -> Sequence[PermissionRequest]:
    """The requests sent as corrections of `request` (round 58), oldest first: the
    confirmed one among them replaced it."""
    return session.scalars(
        select(PermissionRequest)
        .where(PermissionRequest.corrects_id == request.id)
        .order_by(PermissionRequest.id)
    ).all()


def requester_others(
    session: Session, request: PermissionRequest
) -> tuple[Sequence[PermissionRequest], int]:
    """The same requester's other requests that reached the office (by the address
    they gave, or their account: one who changed address is still found), newest
    first, at most `OTHERS_SHOWN`, and how many there are in all. An unconfirmed one
    is left out: its address was never shown to be the requester's. The officer
    deciding a second course, a new request after a grant, or one sent again after a
    commercial use was refused reads what the office decided before (round 53: the
    request's page said nothing of it)."""
    same = [PermissionRequest.requester_email == request.requester_email]
    if request.requester_user_id is not None:
        same.append(PermissionRequest.requester_user_id == request.requester_user_id)
    condition = and_(
        or_(*same),
        PermissionRequest.id != request.id,
        PermissionRequest.state != UNCONFIRMED,
    )
    shown = session.scalars(
        select(PermissionRequest)
        .where(condition)
        .order_by(PermissionRequest.id.desc())
        .limit(OTHERS_SHOWN)
    ).all()
    if len(shown) < OTHERS_SHOWN:
        return shown, len(shown)
    total = session.scalar(select(func.count()).select_from(PermissionRequest).where(condition))
    return shown, total or 0


def get_letter(session: Session, request: PermissionRequest, letter_id: int) -> PermissionLetter:
    letter = session.get(PermissionLetter, letter_id)
    if letter is None or letter.request_id != request.id:
        raise NotFound(f"There is no letter {letter_id} for request {request.reference}.")
    return letter


def licensing_staff(session: Session) -> list[User]:
    """Who may be assigned requests: active staff with the licensing (or admin) role."""
    staff = session.scalars(
        select(User)
        .where(User.organization_id.is_(None), User.is_active.is_(True))
        .order_by(User.id)
    )
    # By name as readers file names (round 53: by the name's bytes before).
    reviewers = [user for user in staff if {"licensing", "admin"} & set(user.roles)]
    return by_name(reviewers, lambda user: user.full_name)


@dataclass(frozen=True)
class ServiceLevel:
    """A request's age against the target, in US business days: the office's days,
    so not those it waited on the requester's answer (round 37)."""

    age_days: int
    target_days: int
    due_at: datetime | None  # None while waiting on the requester: it moves with the answer
    overdue: bool
    running: bool  # False while waiting on the requester, or once closed
    waiting_on_requester: bool = False  # a question unanswered: the clock stopped at it

    @property
    def days_left(self) -> int:
        """Business days the office has left (after the answer, while waiting)."""
        return self.target_days - self.age_days


class Timed(Protocol):
    """What a service level is counted from: a request, or its row in the queue."""

    @property
    def state(self) -> str: ...
    @property
    def submitted_at(self) -> datetime | None: ...
    @property
    def decided_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def sla_due_at(self) -> datetime | None: ...
    @property
    def answer_due_at(self) -> datetime | None: ...


def _ahead(start: date, end: date) -> int:
    """Business days from `start` forward to `end`; negative when `end` is earlier."""
    return calendar.business_days_between(start, end) - calendar.business_days_between(end, start)


def service_level(request: Timed, now: datetime, *, target_days: int) -> ServiceLevel:
    """The request's service level against `target_days` (PERMISSION_SLA_DAYS).

    Counted from its due date (`sla_due_at`: `target_days` business days after it
    entered the queue, or after the request for a reconsideration, moved later by
    the days each answered question waited: `review.answer`), so the age is the
    office's days: the target less the business days left before the due date.
    While a question waits for its answer (`answer_due_at`), the clock stands where
    the question stopped it, `ANSWER_BUSINESS_DAYS` before the answer's due date."""
    if request.submitted_at is None:
        return ServiceLevel(0, target_days, None, False, False)
    if request.sla_due_at is None:  # not before round 37's data: never without one
        end = request.decided_at or request.closed_at or now
        age = calendar.business_days_between(
            calendar.office_date(request.submitted_at), calendar.office_date(end)
        )
        return ServiceLevel(age, target_days, None, False, False)
    due_day = calendar.office_date(request.sla_due_at)
    if request.answer_due_at is not None and request.decided_at is None:
        asked = _ahead(calendar.office_date(request.answer_due_at), due_day) + ANSWER_BUSINESS_DAYS
        return ServiceLevel(target_days - asked, target_days, None, False, False, True)
    end = request.decided_at or request.closed_at or now
    age = target_days - _ahead(calendar.office_date(end), due_day)
    running = request.state in WITH_STAFF
    overdue = running and request.sla_due_at < now
    return ServiceLevel(age, target_days, request.sla_due_at, overdue, running)


def after_the_answer(level: ServiceLevel) -> str:
    """When the decision is due while a question waits: "5 business days after the
    answer" ("at once after the answer" when its days had run out when asked)."""
    if level.days_left <= 0:
        return "at once after the answer (its days had run out when asked)"
    days = "1 business day" if level.days_left == 1 else f"{level.days_left} business days"
    return f"{days} after the answer"
