"""Reading accounts, and vendor isolation for every organization-owned record.

`scoped()` and `get_owned()` are the one place that decides which records a
caller may see: staff see everything (their route's declaration already
checked their role); a vendor user sees only records of their own
organization, and asking for any other is answered exactly like asking for
one that does not exist (`NotFound`, a 404), so existence is never revealed.
Later features use them for their own records:

    application = get_owned(session, Application, application_id)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, NamedTuple, TypeVar, cast

from flask import has_request_context
from markupsafe import Markup
from sqlalchemy import (
    ColumnElement,
    Exists,
    Row,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    or_,
    select,
    union,
)
from sqlalchemy import String as SqlString
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased, selectinload

from licensing import access, db
from licensing.access import ADMINISTRATOR, Principal
from licensing.accounts.models import (
    DEACTIVATED_MARK,
    INVITATION,
    ApiToken,
    FormerName,
    OneTimeToken,
    Organization,
    Passkey,
    User,
    by_name,
    name_key,
    parse_roles,
)
from licensing.accounts.states import ACTIVE, CLOSED
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.db import UTCDateTime, utcnow
from licensing.errors import NotFound
from licensing.limits import record_id
from licensing.words import right_to_left

# A statement keeps its type through `scoped` (`where` returns the same kind).
S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


T = TypeVar("T")
# Who asks: the request's principal, or a use case's actor.
Caller = Principal | Actor


def listed_name() -> ColumnElement[str]:
    """A user's name as work lists show an assignee (`User.listed_name`, in SQL):
    with "(deactivated)" after it for an account deactivated while work was still
    assigned to it, so staff see the work waits on nobody and reassign it."""
    return case(
        (User.is_active.is_(False), User.full_name + DEACTIVATED_MARK), else_=User.full_name
    )


# After the name of an active staff member who no longer has a reviewing role.
NO_LONGER_REVIEWS_MARK = " (no longer reviews)"
# The roles that may be assigned applications and permission requests.
REVIEWING_ROLES = frozenset({"licensing", "admin"})


class AssigneeChoice(NamedTuple):
    id: int
    name: str  # marked when they may no longer be assigned
    email: str
    assignable: bool  # may be assigned work now (a bulk assignment offers them)


def assignee_filter_people(
    session: Session, assignee_id: InstrumentedAttribute[int | None]
) -> list[AssigneeChoice]:
    """Whom a queue's Assignee filter offers, by name: the staff who may be assigned
    work now, and every other staff member some record names as its assignee
    (`assignee_id`: `Application.assignee_id`, `PermissionRequest.assignee_id`), who
    was assignable then and is deactivated since (a decided record keeps its
    reviewer; undecided ones were released), or no longer has the role. Those are
    marked "(deactivated)" or "(no longer reviews)", and an old link's or their
    records' filter by them still lists what is theirs."""
    # Columns only: the session's connection runs it as a Core statement.
    found = session.connection().execute(_assignee_filter_statement(assignee_id))
    rows = by_name(found, lambda row: str(row.full_name))
    offered = []
    for row in rows:
        reviews = bool(REVIEWING_ROLES & parse_roles(row.staff_roles))
        if row.is_active and reviews:
            offered.append(AssigneeChoice(row.id, row.full_name, row.email, True))
        elif row.assigned:
            mark = NO_LONGER_REVIEWS_MARK if row.is_active else DEACTIVATED_MARK
            offered.append(AssigneeChoice(row.id, row.full_name + mark, row.email, False))
    return offered


# `assignee_filter_people`'s statement for each assignee column, built once: built
# per request, building it and its SQLAlchemy cache key was most of the query's
# CPU. A column per queue that has one.
_AssigneeFilter = Select[int, str, str, str, bool, bool]
_ASSIGNEE_FILTER: dict[str, _AssigneeFilter] = {}


def _assignee_filter_statement(assignee_id: InstrumentedAttribute[int | None]) -> _AssigneeFilter:
    key = str(assignee_id)  # "Application.assignee_id"
    kept = _ASSIGNEE_FILTER.get(key)
    if kept is None:
        assigned = exists().where(assignee_id == User.id).label("assigned")
        kept = _ASSIGNEE_FILTER[key] = (
            select(User.id, User.full_name, User.email, User.staff_roles, User.is_active, assigned)
            .where(User.organization_id.is_(None))
            .order_by(User.id)  # by name in Python (`by_name`), as readers file names
        )
    return kept


def _organization_column(model: type[Any]) -> ColumnElement[Any]:
    key = getattr(model, "__organization_key__", "organization_id")
    column: ColumnElement[Any] = getattr(model, key)
    return column


def id_column(model: type[Any]) -> ColumnElement[int]:
    """`model.id`, the integer primary key every model has."""
    column: ColumnElement[int] = model.id
    return column


def scoped(
    statement: S,
    model: type[Any],
    principal: Caller | None = None,
    *,
    organization_column: ColumnElement[Any] | None = None,
) -> S:
    """Restrict `statement` (a select of `model`) to what the caller may see.

    The caller is `principal`, or the current request's. Staff: unrestricted.
    Vendor users: rows whose organization column equals their organization
    (`model.organization_id`, or the column named by the model's
    `__organization_key__`, or `organization_column` for a record owned
    through a join). A request with nobody signed in: no rows. Outside a
    request (CLI commands, scheduled jobs) the system acts: unrestricted.
    """
    return scoped_to(statement, model, seen_by(principal), organization_column=organization_column)


_EVERYTHING, _NOTHING = object(), object()


def scoped_to(
    statement: S,
    model: type[Any],
    seen: object,
    *,
    organization_column: ColumnElement[Any] | None = None,
) -> S:
    """`statement` restricted to what `seen_by` said a caller sees."""
    if seen is _EVERYTHING:
        return statement
    if seen is _NOTHING:
        return statement.where(false())
    column = organization_column if organization_column is not None else _organization_column(model)
    return statement.where(column == seen)


def seen_by(principal: Caller | None) -> object:
    """What `scoped` lets the caller see: everything, nothing, or the rows of one
    organization (its id; None for a caller with neither an organization nor a
    staff role, who then sees rows of no organization; nothing for a link actor).
    Hashable: statements built for one caller are right for every caller it is
    equal for."""
    if principal is None and not has_request_context():
        return _EVERYTHING
    caller = principal or access.current_principal()
    if caller is None:
        return _NOTHING
    if isinstance(caller, Actor):
        if caller.sees_every_organization:
            return _EVERYTHING
        if caller.is_link:  # it reaches the one record its link names, never a list
            return _NOTHING
    elif caller.is_staff:
        return _EVERYTHING
    return caller.organization_id


class ScopedStatement(Generic[S]):
    """`scoped(statement, model, principal)` for a statement kept per process: built
    once for each kind of caller, the organization a bound parameter.

    A statement built per request pays for building it and for SQLAlchemy's
    cache key, which a statement kept per process computes once: a dashboard
    query took 100-190 µs built per call, 50-105 µs kept. Execute
    `session.execute(*kept.for_caller(principal))`.
    """

    ORGANIZATION = "scoped_organization_id"

    def __init__(
        self,
        statement: S,
        model: type[Any],
        *,
        organization_column: ColumnElement[Any] | None = None,
    ) -> None:
        column = (
            organization_column if organization_column is not None else _organization_column(model)
        )
        self._column = column
        self._everything = statement
        self._own = statement.where(column == bindparam(self.ORGANIZATION))
        self._nothing = statement.where(false())

    def for_caller(self, principal: Caller | None = None) -> tuple[S, dict[str, Any]]:
        """The statement and its parameters, seen as `scoped` would let the caller."""
        seen = seen_by(principal)
        if seen is _EVERYTHING:
            return self._everything, {}
        if seen is _NOTHING:
            return self._nothing, {}
        if seen is None:  # `= NULL` matches nothing where `scoped` matched IS NULL
            return self._everything.where(self._column.is_(None)), {}
        return self._own, {self.ORGANIZATION: seen}


def get_owned(
    session: Session,
    model: type[T],
    record_id: int,
    principal: Caller | None = None,
    *,
    organization_column: ColumnElement[Any] | None = None,
    entity: str | None = None,
) -> T:
    """The record `record_id` if the caller may see it, else `NotFound` (404)."""
    statement = select(model).where(id_column(model) == record_id)
    found = session.scalars(
        scoped(statement, model, principal, organization_column=organization_column)
    ).one_or_none()
    if found is None:
        name = entity or model.__name__.replace("_", " ").lower()
        raise NotFound(f"There is no {name} {record_id}.")
    return found


class OwnedGetter(Generic[T]):
    """`get_owned` for one model, under the name its message gives it: a feature's
    `get_invoice = OwnedGetter(Invoice, "invoice")`."""

    def __init__(self, model: type[T], entity: str) -> None:
        self.model = model
        self.entity = entity

    def __call__(self, session: Session, record_id: int, principal: Caller | None = None) -> T:
        return get_owned(session, self.model, record_id, principal, entity=self.entity)


def own_organization(session: Session, principal: Principal) -> Organization:
    """The vendor's own organization (NotFound for staff, who have none)."""
    if principal.organization_id is None:
        raise NotFound("Staff accounts do not belong to an organization.")
    return get_owned(session, Organization, principal.organization_id, principal)


def claim_active_organization(session: Session, organization_id: int) -> Organization | None:
    """The organization while it is active, claimed for the caller's unit of work
    (`db.claim`: None when another host's batch job holds it), for batch jobs that
    change an organization's standing."""
    return session.scalars(
        db.claim(
            select(Organization).where(
                Organization.id == organization_id, Organization.standing == ACTIVE
            )
        )
    ).one_or_none()


# What a page request needs of the user its session cookie names: the columns
# that check the session is still valid, those the principal is made of, and a
# vendor's organization's name and standing (which vendor pages show).
_SESSION_USER = (
    select(
        User.id,
        User.email,
        User.organization_id,
        User.staff_roles,
        User.organization_role,
        User.password_hash,
        User.session_generation,
        User.two_step_enabled_at,
        Organization.legal_name,
        Organization.standing,
        Organization.two_step_required,
    )
    .outerjoin(Organization, Organization.id == User.organization_id)
    .where(User.id == bindparam("user_id"), User.is_active.is_(True))
)


def session_user(session: Session, user_id: int) -> Row[*tuple[Any, ...]] | None:
    """The active user `user_id` as a row of `_SESSION_USER`, or None: one Core
    query on the request's connection. Every signed-in page runs it; loading the
    ORM entity instead cost a fifth of a page that does nothing else, and vendor
    pages then loaded the organization too."""
    return session.connection().execute(_SESSION_USER, {"user_id": user_id}).one_or_none()


def holds_passkey(session: Session, user_id: int, passkey_id: int) -> bool:
    """Whether the account still has this passkey: a session signed in with it
    ends once it is removed (round 45). Asked only on a passkey's sessions."""
    found = session.scalar(
        select(Passkey.id).where(Passkey.id == passkey_id, Passkey.user_id == user_id)
    )
    return found is not None


def passkey_removed_since(session: Session, user_id: int, since: datetime | None) -> bool:
    """Whether a passkey of the account was removed after `since` (ever, when None),
    as the audit log records every removal (`user.passkey_removed`): an old passkey
    session, which does not say which passkey it rests on, ends then (round 47)."""
    query = select(AuditEvent.id).where(
        AuditEvent.entity_type == "user",
        AuditEvent.entity_id == str(user_id),
        AuditEvent.action == "user.passkey_removed",
    )
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    return session.scalar(query.limit(1)) is not None


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).one_or_none()


def organizations(
    session: Session,
    principal: Principal | None = None,
    *,
    standing: str | None = None,
    search: str | None = None,
    needs_administrator: bool = False,
) -> Sequence[Organization]:
    return session.scalars(
        organizations_listing(
            principal, standing=standing, search=search, needs_administrator=needs_administrator
        )
    ).all()


def organizations_listing(
    principal: Principal | None = None,
    *,
    standing: str | None = None,
    search: str | None = None,
    needs_administrator: bool = False,
    by_member: bool = False,
) -> Select[Any]:
    """The console's list of organizations, by name then id: the list reads a page of
    it (`paging.read_page`, round 45). `needs_administrator`: those whose active users
    have no active administrator among them. `by_member` (round 57, the console's
    search, staff only): `search` finds an organization by its legal name or by the
    name or address of one of its people (`members_matching` says whom)."""
    query = organizations_query(principal, standing=standing, search=None if by_member else search)
    if by_member and search and search.strip():
        # Round 57: the legal name, or a member's name or address (`User.search`).
        query = query.where(or_(Organization.name_contains(search), _member_found(search)))
    if needs_administrator:
        query = query.where(_active_user_exists(administrator=False)).where(
            ~_active_user_exists(administrator=True)
        )
    return query


def _member_found(text: str) -> Exists:
    """Whether one of the organization's people (active or not) has `text` in their
    name or address, in any case and script, as the users' search reads them."""
    return (
        select(User.id)
        .where(User.organization_id == Organization.id, User.search(text))
        .correlate(Organization)
        .exists()
    )


# The people a row of the console's organizations names as matching a search; the rest
# are counted.
MEMBERS_NAMED = 3


class MemberMatched(NamedTuple):
    """One of an organization's people a search found (round 57)."""

    id: int
    full_name: str
    email: str
    is_active: bool


class MembersMatched(NamedTuple):
    """The people of one organization a search found: the first `MEMBERS_NAMED` by
    address, and how many in all."""

    named: list[MemberMatched]
    total: int


def members_matching(
    session: Session, organization_ids: Sequence[int], text: str, *, named: int = MEMBERS_NAMED
) -> dict[int, MembersMatched]:
    """For each of `organization_ids` (a page of the console's list), its people whose
    name or address contains `text` (`User.search`): the first `named` by address, then
    id, and how many in all, one statement for the page (a window numbering and
    counting each organization's matches)."""
    if not organization_ids or not text.strip():
        return {}
    ranked = (
        select(
            User.organization_id,
            User.id,
            User.full_name,
            User.email,
            User.is_active,
            func.row_number()
            .over(partition_by=User.organization_id, order_by=(User.email_sort_key, User.id))
            .label("place"),
            func.count().over(partition_by=User.organization_id).label("total"),
        )
        .where(User.organization_id.in_(organization_ids), User.search(text))
        .subquery()
    )
    rows = session.execute(
        select(ranked)
        .where(ranked.c.place <= named)
        .order_by(ranked.c.organization_id, ranked.c.place)
    ).all()
    found: dict[int, MembersMatched] = {}
    for row in rows:
        kept = found.setdefault(row.organization_id, MembersMatched([], int(row.total)))
        kept.named.append(MemberMatched(row.id, row.full_name, row.email, bool(row.is_active)))
    return found


# The organizations the move's form offers at once (round 49: it offered every one
# not closed, a select of thousands for an office with years of licensees).
DESTINATIONS_OFFERED = 20


class Destinations(NamedTuple):
    """What the move's form offers: at most `DESTINATIONS_OFFERED` organizations
    (id, legal name) by name, and how many match in all."""

    offered: list[tuple[int, str]]
    total: int


def destinations(
    session: Session,
    leaving: int,
    *,
    search: str = "",
    chosen: int | None = None,
    limit: int = DESTINATIONS_OFFERED,
) -> Destinations:
    """The organizations an account of `leaving` may move to (`services.move_user`):
    every other one not closed, by name, the first `limit` of those whose legal name
    contains `search` (any case), or whose id it is, and how many match in all (a
    window count): one statement however many organizations there are. `chosen` (a refused post's
    choice) is offered too, wherever it sits, so the form shows it again, if the account
    may move there (round 50: a closed one, which the move refuses, was offered again)."""
    allowed: list[ColumnElement[bool]] = [
        Organization.id != leaving,
        Organization.standing != CLOSED,
    ]
    where = list(allowed)
    term = search.strip()
    if term:
        named = Organization.name_contains(term)
        number = record_id(term.removeprefix("#"))
        where.append(named if number is None else or_(named, Organization.id == number))
    statement = (
        select(Organization.id, Organization.legal_name, func.count().over().label("total"))
        .where(*where)
        .order_by(Organization.legal_name_sort_key, Organization.id)
        .limit(limit)
    )
    rows = session.execute(statement).all()
    offered = [(row.id, row.legal_name) for row in rows]
    total = int(rows[0].total) if rows else 0
    if chosen is not None and chosen not in {id_ for id_, _ in offered}:
        found = session.execute(
            select(Organization.id, Organization.legal_name).where(
                Organization.id == chosen, *allowed
            )
        ).one_or_none()
        if found is not None:
            offered.append((found.id, found.legal_name))
    return Destinations(offered, total)


# `organizations_named` lists at most this many: what a command's error names.
NAMED_AT_MOST = 10


class NamedOrganizations(NamedTuple):
    """Organizations a name found: the first ones by name (id, legal name, standing),
    how many in all, and whether the name was exact (else they contain it)."""

    found: list[tuple[int, str, str]]
    total: int
    exact: bool


def organizations_named(
    session: Session, name: str, *, limit: int = NAMED_AT_MOST
) -> NamedOrganizations:
    """The organizations whose legal name is `name`, in any case (round 50: the
    commands that take an organization, which staff know by name; round 51: in any
    script, `accounts.models.name_key`); when none is, those whose legal name
    contains it. The first `limit` by name, then id, and how many in
    all (a window count): a statement for each of the two."""
    given = name.strip()
    # By the stored key (round 51): any case in any script, on both databases.
    named, contains = Organization.named(given), Organization.name_contains(given)
    for exact, where in ((True, named), (False, contains)):
        rows = session.execute(
            select(
                Organization.id,
                Organization.legal_name,
                Organization.standing,
                func.count().over().label("total"),
            )
            .where(where)
            .order_by(Organization.legal_name_sort_key, Organization.id)
            .limit(limit)
        ).all()
        if rows:
            found = [(row.id, row.legal_name, row.standing) for row in rows]
            return NamedOrganizations(found, int(rows[0].total), exact)
    return NamedOrganizations([], 0, False)


def _active_user_exists(*, administrator: bool) -> ColumnElement[bool]:
    """An active user of the organization (an active administrator, when asked)."""
    statement = select(User.id).where(
        User.organization_id == Organization.id, User.is_active.is_(True)
    )
    if administrator:
        statement = statement.where(User.organization_role == ADMINISTRATOR)
    return statement.correlate(Organization).exists()


def organizations_query(
    principal: Principal | None = None,
    *,
    standing: str | None = None,
    search: str | None = None,
) -> Select[Any]:
    """Organizations the caller may see, by name; optionally one standing or a name search."""
    statement = select(Organization).order_by(Organization.legal_name_sort_key, Organization.id)
    if standing:
        statement = statement.where(Organization.standing == standing)
    if search:
        statement = statement.where(Organization.name_contains(search))
    return scoped(statement, Organization, principal)


_ACTIVE_MEMBERS = (
    select(func.count())
    .where(User.organization_id == Organization.id, User.is_active.is_(True))
    .correlate(Organization)
    .scalar_subquery()
)


def _own_organization(also: tuple[ColumnElement[Any], ...]) -> ScopedStatement[Any]:
    """The organization, its active members and the columns `also`, kept per
    process for each set of `also` (the dashboard asks with one)."""
    kept = _OWN_ORGANIZATION.get(also)
    if kept is None:
        statement = select(Organization, _ACTIVE_MEMBERS, *also).where(
            Organization.id == bindparam("organization_id")
        )
        kept = ScopedStatement(statement, Organization)
        if len(_OWN_ORGANIZATION) >= 8:  # one or two sets in practice
            _OWN_ORGANIZATION.clear()
        _OWN_ORGANIZATION[also] = kept
    return kept


_OWN_ORGANIZATION: dict[tuple[ColumnElement[Any], ...], ScopedStatement[Any]] = {}


def own_organization_and_members(
    session: Session,
    principal: Principal,
    also: tuple[ColumnElement[Any], ...] = (),
    parameters: Mapping[str, Any] | None = None,
) -> tuple[Organization, int, tuple[Any, ...]]:
    """The vendor's own organization (as `own_organization`) and how many active
    users it has, in one query: the dashboard's header (two queries were a tenth
    of its time). With the scalar columns `also` (and their bound `parameters`)
    read in the same row: the dashboard asks the features' "anything waiting?"
    conditions (`licensing.web.portal.waiting_question`) with it."""
    if principal.organization_id is None:
        raise NotFound("Staff accounts do not belong to an organization.")
    statement, bound = _own_organization(also).for_caller(principal)
    bound["organization_id"] = principal.organization_id
    found = session.execute(statement, {**bound, **(parameters or {})}).one_or_none()
    if found is None:
        raise NotFound(f"There is no organization {principal.organization_id}.")
    organization, members, *answers = found
    return organization, int(members), tuple(answers)


def members(session: Session, organization_id: int) -> Sequence[User]:
    return session.scalars(members_query(organization_id)).all()


def member_count(session: Session, organization_id: int) -> int:
    """How many users the organization has, counted in SQL (round 50: the profile
    page read every member to print their number)."""
    return int(
        session.scalar(select(func.count(User.id)).where(User.organization_id == organization_id))
        or 0
    )


def active_members(session: Session, organization_id: int) -> Sequence[User]:
    """The organization's active users, by id: those its standing emails tell (round
    50: every member was read, the deactivated ones too, and filtered in Python)."""
    return session.scalars(members_query(organization_id).where(User.is_active.is_(True))).all()


def members_query(organization_id: int) -> Select[Any]:
    """The organization's members in the order the organization pages list them (by
    id, unique), for `paging.read_page`."""
    return select(User).where(User.organization_id == organization_id).order_by(User.id)


def active_people(session: Session, organization_id: int) -> tuple[int, int]:
    """How many of the organization's users are active, and how many of those are
    administrators, in one statement (round 47: the console's user page read every
    member to know whether an administrator keeps the organization)."""
    active, administrators = session.execute(
        select(
            func.count(User.id),
            func.count(case((User.organization_role == ADMINISTRATOR, User.id))),
        ).where(User.organization_id == organization_id, User.is_active.is_(True))
    ).one()
    return int(active), int(administrators)


def active_administrator_count(session: Session, organization_id: int) -> int:
    """How many of the organization's members are active administrators: the page
    offers the last one no step down (the service refuses it), whichever page of the
    members it is on."""
    return int(
        session.scalar(
            select(func.count(User.id)).where(
                User.organization_id == organization_id,
                User.is_active.is_(True),
                User.organization_role == ADMINISTRATOR,
            )
        )
        or 0
    )


class Signer(NamedTuple):
    """An active member the two-step summary names."""

    full_name: str
    email: str


class TwoStepSummary(NamedTuple):
    """How the organization's active members sign in (the `two_step_summary` macro):
    how many are active and how many use an authenticator app, counted in SQL, and
    by name those without the app, with a passkey (`passkey_only`) or without
    (`without`), by id as the members are listed."""

    active: int
    with_app: int
    passkey_only: list[Signer]
    without: list[Signer]


def two_step_summary(session: Session, organization_id: int) -> TwoStepSummary:
    """The organization's two-step summary in two statements, whatever page of its
    members is shown (round 46: the summary read every member to count them)."""
    active = (User.organization_id == organization_id, User.is_active.is_(True))
    counted = session.execute(
        select(func.count(User.id), func.count(User.two_step_enabled_at)).where(*active)
    ).one()
    passkey_only: list[Signer] = []
    without: list[Signer] = []
    # `passkey_count` is typed as the int it loads as; here it is its column.
    passkey_count = cast(Any, User).passkey_count
    for full_name, email, passkeys in session.execute(
        select(User.full_name, User.email, passkey_count)
        .where(*active, User.two_step_enabled_at.is_(None))
        .order_by(User.id)
    ):
        (passkey_only if passkeys else without).append(Signer(full_name, email))
    return TwoStepSummary(int(counted[0]), int(counted[1]), passkey_only, without)


class LicensingReaders(NamedTuple):
    """Who is emailed the organization's licensing news (`licensing_recipients`), and
    whether the billing contact stands in for nobody (`stand_in`: no administrator or
    member is active, and the email tells them to ask the office for one)."""

    to: list[str]
    stand_in: bool
    # Their names, for the email's greeting (round 61: "Hello," named nobody).
    names: tuple[str, ...] = ()


def licensing_readers(session: Session, organization: Organization) -> LicensingReaders:
    """Who hears about the organization's licensing (its applications, agreements to
    accept or renew, royalty reports due or to correct): its active administrators
    and members with a confirmed address, who take those steps, else (nobody yet,
    or nobody left but billing members) its billing contact, so the news still
    reaches the organization. A billing member cannot act on it: their invoices
    reach them through the billing contact's emails and the dashboard."""
    found = [
        user
        for user in members(session, organization.id)
        if user.is_active
        and user.email_verified
        and user.organization_role in access.LICENSING_WORK
    ]
    if found:
        return LicensingReaders(
            [user.email for user in found],
            stand_in=False,
            names=tuple(user.full_name for user in found),
        )
    return LicensingReaders(
        [organization.billing_email], stand_in=True, names=(organization.billing_contact_name,)
    )


class Recipient(NamedTuple):
    """One address a step emailed, as the API's `recipients` lists it."""

    email: str
    audience: str  # why it was written to: `member`, `billing_contact`, `requester`...
    organization_id: int | None


class Told(NamedTuple):
    """Whom a step's email went to, worked out once for the email, the console's
    message and the API's answer (round 37: the console's messages said it since
    round 36, the API's answers did not). `whom` names them as a sentence does:
    "Alder Health Software Inc. at a@x.example, b@x.example"."""

    recipients: tuple[Recipient, ...]
    whom: str
    stand_in: bool = False  # the billing contact, for an organization with nobody to act
    names: tuple[str, ...] = ()  # of those emailed, for the greeting (`greeting`)

    @property
    def to(self) -> list[str]:
        return [recipient.email for recipient in self.recipients]

    @property
    def emailed_summary(self) -> str:
        """As the accounts steps' `emailed_summary` (a sentence's end): "emailed ..."."""
        return f"emailed {self.whom}"

    def as_dicts(self) -> list[dict[str, Any]]:
        return [recipient._asdict() for recipient in self.recipients]


def readers_told(organization: Organization, readers: LicensingReaders) -> Told:
    """`readers` of `organization` as a step that emailed them says it: its
    administrators and members (`member`), or its billing contact standing in for
    nobody (`billing_contact`)."""
    audience = "billing_contact" if readers.stand_in else "member"
    recipients = tuple(Recipient(email, audience, organization.id) for email in readers.to)
    addresses = ", ".join(readers.to)
    if readers.stand_in:
        whom = (
            f"the billing contact of {organization.legal_name} at {addresses} "
            "(it has no administrator or member to act on it)"
        )
    else:
        whom = f"{organization.legal_name} at {addresses}"
    return Told(recipients, whom, readers.stand_in, readers.names)


def organization_told(session: Session, organization: Organization) -> Told:
    """Whom the organization's licensing news goes to (`licensing_readers`), as `Told`."""
    return readers_told(organization, licensing_readers(session, organization))


def licensing_recipients(session: Session, organization: Organization) -> list[str]:
    """The addresses of `licensing_readers`."""
    return licensing_readers(session, organization).to


def staff_recipients(session: Session, role: str) -> list[str]:
    """Addresses of the active staff who hold `role`, for notifications.

    Admins hold every role for access, but are written to only when nobody
    holds the role itself, so that a notice never goes nowhere.
    """
    staff = session.scalars(
        select(User).where(
            User.organization_id.is_(None),
            User.is_active.is_(True),
            User.email_verified_at.is_not(None),
        )
    )
    members = list(staff)
    holders = [user.email for user in members if role in user.roles]
    if not holders:
        holders = [user.email for user in members if "admin" in user.roles]
    return sorted(holders)


# A user the caller may see: staff see all users, vendors their colleagues.
get_member = OwnedGetter(User, "user")


# Kept per process: the dashboard asks on every visit (see `ScopedStatement`).
_INVITATIONS = (
    select(OneTimeToken)
    .where(
        OneTimeToken.purpose == INVITATION,
        OneTimeToken.organization_id == bindparam("organization_id"),
    )
    .order_by(OneTimeToken.created_at.desc(), OneTimeToken.id.desc())
)


def invitations(session: Session, organization_id: int) -> Sequence[OneTimeToken]:
    return session.scalars(_INVITATIONS, {"organization_id": organization_id}).all()


def pending_invitations(
    session: Session, organization_id: int, now: datetime
) -> Sequence[OneTimeToken]:
    """The organization's invitations pending at `now` (neither answered, withdrawn
    nor expired), newest first: at most `MAX_PENDING_INVITATIONS`, where `invitations`
    reads every one ever sent (round 50: a new invitation read them all to find the
    pending ones)."""
    return session.scalars(
        _INVITATIONS.where(
            OneTimeToken.used_at.is_(None),
            OneTimeToken.revoked_at.is_(None),
            OneTimeToken.expires_at > now,
        ),
        {"organization_id": organization_id},
    ).all()


def invitations_listing(organization_id: int, now: datetime) -> Select[Any]:
    """The organization pages' invitations, a page at a time (`paging.read_page`,
    round 47: both pages listed every invitation ever sent): those pending at `now`
    first, then newest first, the id last; each row an `OneTimeToken` and whether
    to offer it again (`resendable`'s rule, asked in SQL of the whole list: the
    newest invitation to an address that is no member, expired or withdrawn)."""
    other = aliased(OneTimeToken)
    unanswered = OneTimeToken.used_at.is_(None) & OneTimeToken.revoked_at.is_(None)
    pending = unanswered & (OneTimeToken.expires_at > now)
    newer = (
        select(other.id)
        .where(
            other.purpose == INVITATION,
            other.organization_id == OneTimeToken.organization_id,
            other.email == OneTimeToken.email,
            or_(
                other.created_at > OneTimeToken.created_at,
                (other.created_at == OneTimeToken.created_at) & (other.id > OneTimeToken.id),
            ),
        )
        .exists()
    )
    member = (
        select(User.id)
        .where(
            User.email == OneTimeToken.email, User.organization_id == OneTimeToken.organization_id
        )
        .exists()
    )
    offered = (
        OneTimeToken.used_at.is_(None)
        & (OneTimeToken.revoked_at.is_not(None) | (OneTimeToken.expires_at <= now))
        & ~newer
        & ~member
    )
    return (
        select(OneTimeToken, case((offered, True), else_=False).label("resendable"))
        .where(OneTimeToken.purpose == INVITATION, OneTimeToken.organization_id == organization_id)
        .order_by(
            case((pending, 0), else_=1),
            OneTimeToken.created_at.desc(),
            OneTimeToken.id.desc(),
        )
    )


class ListedInvitation(NamedTuple):
    """An invitation on an organization page, and whether it is offered again."""

    link: OneTimeToken
    resendable: bool


def invitation_rows(
    session: Session,
) -> Callable[[Select[Any], dict[str, int]], list[ListedInvitation]]:
    """`read_page`'s `rows` for `invitations_listing`: each a `ListedInvitation`."""

    def read(window: Select[Any], parameters: dict[str, int]) -> list[ListedInvitation]:
        return [
            ListedInvitation(link, bool(offered))
            for link, offered in session.execute(window, parameters)
        ]

    return read


# How long the vendor dashboard lists an invitation that expired unanswered (to
# send again): past that, the organization page's row still offers it.
EXPIRED_INVITATION_SHOWN = timedelta(days=30)

# The invitations with whether each one's address is a member of the organization
# now (`resendable` reads it), in one statement: the dashboard's provider reads them.
_INVITATIONS_AND_MEMBERS = (
    select(
        OneTimeToken,
        select(User.id)
        .where(
            User.email == OneTimeToken.email, User.organization_id == OneTimeToken.organization_id
        )
        .exists(),
    )
    .where(
        OneTimeToken.purpose == INVITATION,
        OneTimeToken.organization_id == bindparam("organization_id"),
    )
    .order_by(OneTimeToken.created_at.desc(), OneTimeToken.id.desc())
)


def invitations_and_members(
    session: Session, organization_id: int
) -> tuple[list[OneTimeToken], set[str]]:
    """`invitations`, and which of their addresses are members now, in one statement."""
    rows = session.execute(_INVITATIONS_AND_MEMBERS, {"organization_id": organization_id})
    found, members = [], set()
    for link, is_member in rows:
        found.append(link)
        if is_member:
            members.add(link.email)
    return found, members


def resendable(
    invitations: Sequence[OneTimeToken], member_emails: set[str], now: datetime
) -> frozenset[int]:
    """The expired or withdrawn invitations to offer to send again: the newest to
    each address that is not a member and has no invitation pending or accepted
    (`invitations` newest first, as `invitations` reads them)."""
    taken = set(member_emails)
    offered = set()
    for link in invitations:
        if link.email in taken:
            continue
        taken.add(link.email)
        if link.status(now) in ("expired", "revoked"):
            offered.add(link.id)
    return frozenset(offered)


def any_invitation_waiting(
    organization_id: ColumnElement[int], now: ColumnElement[datetime]
) -> Exists:
    """Whether one of `invitations` waits on the vendor's dashboard at `now`:
    pending (`OneTimeToken.status`: neither used nor revoked, not yet expired), or
    expired unanswered within `EXPIRED_INVITATION_SHOWN`, as SQL: the dashboard
    asks it with the other features' conditions before reading the invitations."""
    return (
        select(OneTimeToken.id)
        .where(
            OneTimeToken.purpose == INVITATION,
            OneTimeToken.organization_id == organization_id,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.revoked_at.is_(None),
            # No date arithmetic in SQL (SQLite has none): the window's start is
            # its own parameter, computed as the statement runs.
            OneTimeToken.expires_at
            > bindparam(
                "waiting_invitations_expired_since",
                callable_=expired_invitations_since,
                type_=UTCDateTime(),
            ),
        )
        .exists()
    )


def expired_invitations_since(now: datetime | None = None) -> datetime:
    """The earliest an invitation may have expired to be listed on the dashboard."""
    return (now or utcnow()) - EXPIRED_INVITATION_SHOWN


def get_invitation(
    session: Session, invitation_id: int, principal: Caller | None = None
) -> OneTimeToken:
    statement = select(OneTimeToken).where(
        OneTimeToken.id == invitation_id, OneTimeToken.purpose == INVITATION
    )
    found = session.scalars(scoped(statement, OneTimeToken, principal)).one_or_none()
    if found is None:
        raise NotFound(f"There is no invitation {invitation_id}.")
    return found


def tokens_of(session: Session, user_id: int) -> Sequence[ApiToken]:
    return session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    ).all()


def _token_usable(now: datetime) -> ColumnElement[bool]:
    """A token neither revoked nor expired at `now` (`ApiToken.is_usable`)."""
    return and_(
        ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
    )


def tokens_listing(user_id: int, now: datetime) -> Select[Any]:
    """The user's API tokens as their pages list them, a page at a time (round 49:
    both pages read every token ever made, revoked and expired included): those
    that work at `now` first, then the newest first, the id last (unique)."""
    return (
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(case((_token_usable(now), 0), else_=1), ApiToken.id.desc())
    )


def usable_token_count(session: Session, user_id: int, now: datetime) -> int:
    """How many of the user's API tokens work at `now`, counted in SQL."""
    statement = select(func.count()).where(ApiToken.user_id == user_id, _token_usable(now))
    return int(session.scalar(statement) or 0)


def get_own_token(session: Session, token_id: int, principal: Caller) -> ApiToken:
    """An API token of the caller's own (tokens are personal: colleagues and staff
    do not see each other's)."""
    found = session.scalars(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == principal.user_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"There is no API token {token_id}.")
    return found


def users(
    session: Session, *, kind: str | None = None, search: str | None = None
) -> Sequence[User]:
    return session.scalars(users_query(kind=kind, search=search)).all()


def users_query(*, kind: str | None = None, search: str | None = None) -> Select[Any]:
    """Every user (staff console): `kind` is "staff", "vendor", or a role in an
    organization (`access.ORGANIZATION_ROLES`: the vendor users who hold it);
    `search` matches email or name, in any case and script (`User.search`)."""
    # The lists show each vendor's organization: load them with the page, not per row.
    statement = (
        select(User).order_by(User.email_sort_key, User.id).options(selectinload(User.organization))
    )
    if kind == "staff":
        statement = statement.where(User.organization_id.is_(None))
    elif kind == "vendor":
        statement = statement.where(User.organization_id.is_not(None))
    elif kind in access.ORGANIZATION_ROLES:
        statement = statement.where(User.organization_role == kind)
    if search and search.strip():
        statement = statement.where(User.search(search))
    return statement


def active_admin_count(session: Session) -> int:
    staff = session.scalars(
        select(User).where(User.organization_id.is_(None), User.is_active.is_(True))
    )
    return sum(1 for user in staff if "admin" in user.roles)


# Audit fields whose values are user ids, with the label a history gives them: it
# names the person instead ("Paid by: Pat Lee", not "Paid by user id: 7").
PERSON_FIELDS = {"assignee_id": "Assignee", "paid_by_user_id": "Paid by"}


def _person_field_ids(events: Sequence[Any]) -> set[int]:
    """The user ids audit `events` hold in `PERSON_FIELDS`."""
    return {
        value
        for event in events
        for name, *values in event.changes()
        if name in PERSON_FIELDS
        for value in values
        if isinstance(value, int)
    }


def people_in(session: Session, events: Sequence[Any]) -> dict[int, str]:
    """The names of the people audit `events` (anything with `changes()`) refer to
    by user id in `PERSON_FIELDS`, in one query: a history's "assignee: 7" read
    as the person's name."""
    ids = _person_field_ids(events)
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


class People:
    """The people a page's histories name (round 57), read in one statement
    (`people_of`): the users of person fields by id (`names`, the changes' "Assignee:
    Pat Lee"), and the people who acted or filed, by the user id or the address the
    record kept, named as the rest of the pages name them, "Pat Lee (pat@...)".

    The address is the one recorded (an account's address may change since, and the
    record is of who acted then); a user deleted since, or an address nobody holds
    now, reads as recorded; "system" and "anonymous" stay themselves. A deactivated
    person is still named."""

    def __init__(self, users: Sequence[NamedPerson]) -> None:
        self._by_id = {user.id: user for user in users}
        self._by_address = {user.email: user for user in users}
        self.names: dict[int, str] = {user.id: user.full_name for user in users}

    def named(self, address: str | None, user_id: int | None = None) -> str:
        """Who acted, by the user id the record kept (else the address)."""
        if not address:
            return ""
        user = self._by_id.get(user_id) if user_id is not None else None
        if user is None and user_id is None:
            user = self._by_address.get(address.lower())
        return f"{user.full_name} ({address})" if user is not None else address

    def shown(self, address: str | None, user_id: int | None = None) -> Markup:
        """`named` as a page prints it (round 62): the name inside `<bdi>`, so that an
        Arabic or Hebrew name keeps its own direction and the bracketed address after
        it keeps ours ("ليلى منصور (layla@example.com)" rather than the bracket pulled
        into the name); an address alone as it is, and a name without a right-to-left
        letter as `named` has it (`words.right_to_left`). Escaped."""
        if not address:
            return Markup("")
        user = self._by_id.get(user_id) if user_id is not None else None
        if user is None and user_id is None:
            user = self._by_address.get(address.lower())
        if user is None:
            return Markup("{}").format(address)
        if not right_to_left(user.full_name):
            return Markup("{} ({})").format(user.full_name, address)
        return Markup("<bdi>{}</bdi> ({})").format(user.full_name, address)

    def actor(self, event: Any) -> str:
        """The person an audit event's actor was, named."""
        return self.named(event.actor, event.actor_user_id)

    def shown_actor(self, event: Any) -> Markup:
        """The person an audit event's actor was, as a page prints them (`shown`)."""
        return self.shown(event.actor, event.actor_user_id)

    def name_of(self, address: str | None, user_id: int | None = None) -> str | None:
        """The name alone of who acted, found as `named` finds them (round 60: the API's
        and the exports' `..._name` beside an address); None for no account (the
        system, an account deleted, an address nobody holds now)."""
        if not address:
            return None
        user = self._by_id.get(user_id) if user_id is not None else None
        if user is None and user_id is None:
            user = self._by_address.get(address.lower())
        return user.full_name if user is not None else None


def people_of(
    session: Session,
    events: Sequence[Any] = (),
    *,
    ids: Iterable[int | None] = (),
    addresses: Iterable[str | None] = (),
) -> People:
    """Every person audit `events` name (their actors and person fields), the users
    `ids` and the addresses a record kept of who acted (a quote's, a royalty report
    review's), in one statement whatever their number."""
    wanted = {value for value in ids if value is not None}
    wanted |= {event.actor_user_id for event in events if event.actor_user_id is not None}
    wanted |= _person_field_ids(events)
    named = {address.lower() for address in addresses if address and "@" in address}
    if not wanted and not named:
        return People(())
    statement = select(User.id, User.full_name, User.email).where(
        or_(User.id.in_(sorted(wanted)), User.email.in_(sorted(named)))
    )
    return People(
        [NamedPerson(row.id, row.full_name, row.email) for row in session.execute(statement)]
    )


def person_named(session: Session, address: str | None, user_id: int | None) -> str | None:
    """The name of who acted, by the account a record kept beside the address (else
    by the address), as pages name them (round 60: the API's `..._name` fields); None
    where no account is found. One statement, none without an address."""
    if not address:
        return None
    return people_of(session, ids=[user_id], addresses=[address]).name_of(address, user_id)


def accounts_named(text: str) -> Select[int]:
    """The ids of the accounts whose name contains `text`, in any case and script
    (`name_key`, as the users list searches names): the audit log's *Actor* filter
    finds who acted by the name its page shows (round 59, `register_actor_names`).
    Round 60: or whose name did before they changed it (`FormerName`), so a name read
    on a document of the time finds the person's events, before and after the change."""
    key = name_key(text)
    former = select(FormerName.user_id).where(
        FormerName.full_name_key.contains(key, autoescape=True)
    )
    return select(User.id).where(
        or_(User.full_name_key.contains(key, autoescape=True), User.id.in_(former))
    )


class NamedPerson(NamedTuple):
    """A user as a history names them: id, name and email."""

    id: int
    full_name: str
    email: str


def people_named(session: Session, ids: set[int]) -> dict[int, NamedPerson]:
    """The users with these ids, by id, in one statement (their name and email)."""
    if not ids:
        return {}
    statement = select(User.id, User.full_name, User.email).where(User.id.in_(sorted(ids)))
    return {
        row.id: NamedPerson(row.id, row.full_name, row.email) for row in session.execute(statement)
    }


# A person's sign-in security steps (round 59): two-step sign-in (its recovery codes
# and the browsers it remembers) and passkeys; round 60: the password and lockout.
# Their values (a passkey's name, a remembered browser, recovery codes left,
# counters) are the admins': the admin's audit log and user page show them; the
# organization's history, which every staff role reads, shows the event alone to
# the others (`values_withheld`).
SECURITY_EVENTS = frozenset(
    {
        "user.two_step_enabled",
        "user.two_step_disabled",
        "user.recovery_code_used",
        "user.recovery_codes_regenerated",
        "user.browser_remembered",
        "user.browser_forgotten",
        "user.browsers_forgotten",
        "user.passkey_added",
        "user.passkey_removed",
        "user.passkey_refused",
        "user.passkey_used",
        # Round 60 (agreements60): the password's and the lockout's too, whose values
        # (until when an account is locked, after how many failed sign-ins, whether a
        # reset lifted a lockout, a sign-out's sessions and emails) every staff reader
        # read; the event itself, who it was about and who acted are still everyone's.
        "user.locked",
        "user.unlocked",
        "user.password_changed",
        "user.password_reset",
        "user.signed_out",
    }
)


def values_withheld(events: Iterable[Any], principal: Principal | None) -> set[int]:
    """The seqs of `events` whose values and note the reader may not read: a security
    event's (`SECURITY_EVENTS`), unless the reader is an admin."""
    if principal is not None and principal.is_staff_admin:
        return set()
    return {event.seq for event in events if event.action in SECURITY_EVENTS}


def organization_history(organization_id: int, also: Iterable[int] = ()) -> Select[Any]:
    """Every audited event about the organization and its people, newest first
    (round 58: its history listed only its own events; its members' role changes,
    removals, two-step and email changes, their tokens and its invitations were in
    the admin's audit log alone). Its own events; those of its members' accounts (the
    users in it now), of their API tokens and of the invitations it sent; and the
    events `also` names by seq (the moves out of it, other features' entries). One
    statement: each record's ids are a subquery the audit log's (type, id) index is
    probed with."""
    members = select(sql_cast(User.id, SqlString)).where(User.organization_id == organization_id)
    tokens = (
        select(sql_cast(ApiToken.id, SqlString))
        .join(User, User.id == ApiToken.user_id)
        .where(User.organization_id == organization_id)
    )
    invitations = select(sql_cast(OneTimeToken.id, SqlString)).where(
        OneTimeToken.purpose == INVITATION, OneTimeToken.organization_id == organization_id
    )
    by_record: list[tuple[str, Any]] = [
        ("organization", [str(organization_id)]),
        ("user", members),
        ("api_token", tokens),
        ("invitation", invitations),
    ]
    # Each record's events read by the (type, id) index, then the page's newest of
    # them: as one OR, or `seq IN (...)`, the databases walked the whole log newest
    # first, testing each event. UNION: a move into it is a member's event and named.
    seqs = sorted(set(also))
    found = union(
        *(
            select(AuditEvent).where(
                AuditEvent.entity_type == entity_type, AuditEvent.entity_id.in_(ids)
            )
            for entity_type, ids in by_record
        ),
        *([select(AuditEvent).where(AuditEvent.seq.in_(seqs))] if seqs else []),
    ).subquery("organization_events")
    event = aliased(AuditEvent, found)
    return select(event).order_by(event.seq.desc())


def invitations_named(session: Session, ids: set[int]) -> dict[int, str]:
    """The invited addresses of these invitations, by id, in one statement."""
    if not ids:
        return {}
    statement = select(OneTimeToken.id, OneTimeToken.email).where(
        OneTimeToken.id.in_(sorted(ids)), OneTimeToken.purpose == INVITATION
    )
    return {row.id: row.email for row in session.execute(statement)}


def tokens_named(session: Session, ids: set[int]) -> dict[int, tuple[str, NamedPerson]]:
    """The API tokens with these ids, by id: their names and their owners, in one
    statement."""
    if not ids:
        return {}
    statement = (
        select(ApiToken.id, ApiToken.name, User.id.label("user_id"), User.full_name, User.email)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.id.in_(sorted(ids)))
    )
    return {
        row.id: (row.name, NamedPerson(row.user_id, row.full_name, row.email))
        for row in session.execute(statement)
    }


def moves_touching(session: Session, organization_id: int) -> list[int]:
    """The seqs of the accounts' moves out of or into the organization (`user.moved`,
    the user's event), newest first: its own history lists them (round 27: only the
    user's did), paged with the rest (round 59: the newest 100 only). The audit values
    are canonical JSON (sorted keys, no spaces), so the organization's id is matched
    exactly, followed by the next key or the end of the object."""
    key = f'"organization_id":{int(organization_id)}'
    held = [
        column.contains(f"{key}{after}", autoescape=True)
        for column in (AuditEvent.before, AuditEvent.after)
        for after in (",", "}")
    ]
    statement = select(AuditEvent.seq).where(AuditEvent.action == "user.moved", or_(*held))
    return list(session.scalars(statement.order_by(AuditEvent.seq.desc())))
