"""Reading the audit log: filters shared by the staff page, its CSV export and the API."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from licensing import db, limits
from licensing.audit.models import AuditEvent

# Who acted, found by name (round 59): given a text, the ids of the accounts whose name
# contains it, in any case and script. The accounts package registers it
# (`register_actor_names`): the audit log reads no other feature's tables itself.
ActorNames = Callable[[str], Select[Any]]
_ACTOR_NAMES: list[ActorNames] = []


def register_actor_names(finder: ActorNames) -> None:
    """Let the actor filter find people by name through `finder` (one, the last given)."""
    _ACTOR_NAMES[:] = [finder]


@dataclass(frozen=True)
class AuditFilter:
    """Every field optional; dates are whole UTC days, both ends included."""

    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None  # part of the actor's email (any case, `db.contains_in_any_case`)
    # Round 59: `actor` finds too the events of the accounts whose name contains it (any
    # case and script, `register_actor_names`), as the console's page names who acted;
    # the API's filter keeps to the address, as it always read.
    actor_by_name: bool = False
    action: str | None = None  # an exact action, or a prefix ending in "." ("user.")
    since: date | None = None
    until: date | None = None

    def apply(self, statement: Select[Any]) -> Select[Any]:
        if self.entity_type:
            statement = statement.where(AuditEvent.entity_type == self.entity_type)
        if self.entity_id:
            statement = statement.where(AuditEvent.entity_id == str(self.entity_id))
        if self.actor:
            statement = statement.where(self._actor_found(self.actor))
        if self.action:
            if self.action.endswith("."):
                statement = statement.where(AuditEvent.action.startswith(self.action))
            else:
                statement = statement.where(AuditEvent.action == self.action)
        if self.since:
            start = datetime.combine(self.since, time.min, tzinfo=UTC)
            statement = statement.where(AuditEvent.occurred_at >= start)
        if self.until:
            end = datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=UTC)
            statement = statement.where(AuditEvent.occurred_at < end)
        return statement

    def _actor_found(self, text: str) -> ColumnElement[bool]:
        """The events whose actor's address contains `text`, or (`actor_by_name`) whose
        account's name does: one statement, the accounts' ids read as a subquery."""
        by_address = db.contains_in_any_case(AuditEvent.actor, text)
        if not (self.actor_by_name and _ACTOR_NAMES):
            return by_address
        return or_(by_address, AuditEvent.actor_user_id.in_(_ACTOR_NAMES[0](text)))


def page(
    session: Session, filters: AuditFilter, *, page: int = 1, per_page: int = 50
) -> tuple[Sequence[AuditEvent], int]:
    """One page of matching events, newest first, and how many match in all."""
    statement = filters.apply(select(AuditEvent)).order_by(AuditEvent.seq.desc())
    return db.one_page(session, statement, page=page, per_page=per_page)


def iterate(session: Session, filters: AuditFilter) -> Iterator[AuditEvent]:
    """Every matching event, oldest first, fetched in batches (for exports)."""
    statement = filters.apply(select(AuditEvent)).order_by(AuditEvent.seq)
    # Closed on exit, also when the consumer stops early: yield_per holds a
    # server-side cursor on PostgreSQL.
    with session.scalars(statement.execution_options(yield_per=500)) as events:
        yield from events


def events_for(
    session: Session, entity_type: str, entity_id: str | int, *, limit: int = 100
) -> Sequence[AuditEvent]:
    """A record's history, newest first."""
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    ).all()


def latest_event(
    session: Session, entity_type: str, entity_id: str | int, action: str
) -> AuditEvent | None:
    """A record's latest event of `action` (round 57: the question a return asked,
    kept as its note), or None."""
    return session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity_type == entity_type,
            AuditEvent.entity_id == str(entity_id),
            AuditEvent.action == action,
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()


def last_of(
    session: Session, entity_type: str, action: str, entity_ids: Iterable[str | int]
) -> dict[str, datetime]:
    """When each of the records (by id, as a string) was last the subject of `action`:
    those never were are absent. One statement for a page's rows."""
    ids = [str(entity_id) for entity_id in entity_ids]
    if not ids:
        return {}
    rows = session.execute(
        select(AuditEvent.entity_id, func.max(AuditEvent.occurred_at))
        .where(
            AuditEvent.entity_type == entity_type,
            AuditEvent.action == action,
            AuditEvent.entity_id.in_(ids),
        )
        .group_by(AuditEvent.entity_id)
    )
    return {entity_id: at for entity_id, at in rows}  # noqa: C416 - rows, not pairs


def events_for_records(
    session: Session,
    records: Iterable[tuple[str, str | int]],
    *,
    also: Iterable[int] = (),
    limit: int = 100,
) -> Sequence[AuditEvent]:
    """The history of several records together (a payment with its refunds,
    reversal and disputes), newest first; with the events `also` names (by `seq`),
    another record's events that concern these (an organization's: the moves of
    accounts into or out of it, which are the user's events)."""
    wanted = [
        and_(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
        for entity_type, entity_id in records
    ]
    if seqs := list(also):
        wanted.append(AuditEvent.seq.in_(seqs))
    if not wanted:
        return []
    return session.scalars(
        select(AuditEvent).where(or_(*wanted)).order_by(AuditEvent.seq.desc()).limit(limit)
    ).all()


def vocabulary(session: Session) -> tuple[list[str], list[str]]:
    """The entity types and actions that occur, for the filter's choices."""
    types = session.scalars(
        select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)
    )
    actions = session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    return list(types), list(actions)


def _record_words(filters: AuditFilter, type_in_sentence: Callable[[str], str]) -> str:
    """ "outbox message 12", "API token 3", "record 12" (an id alone), "a record"."""
    if not filters.entity_type:
        return f"record {filters.entity_id}" if filters.entity_id else "a record"
    name = type_in_sentence(filters.entity_type)
    return f"{name} {filters.entity_id}" if filters.entity_id else f"any {name}"


def _count(session: Session, filters: AuditFilter) -> int:
    return db.count_rows(session, filters.apply(select(AuditEvent)))


def why_nothing_matches(
    session: Session, filters: AuditFilter, type_in_sentence: Callable[[str], str]
) -> list[str]:
    """Why a filter finds no event, in words: the filters that alone find nothing,
    or that each finds events but no event meets them all. `type_in_sentence`
    names a record type inside a sentence (the page's names for them)."""
    if filters.since and filters.until and filters.since > filters.until:
        return [f"From ({filters.since}) is after To ({filters.until}): no day is in between."]
    record = AuditFilter(entity_type=filters.entity_type, entity_id=filters.entity_id)
    alone = {
        "record": (
            record,
            f"No event is about {_record_words(filters, type_in_sentence)}.",
        ),
        "actor": (
            AuditFilter(actor=filters.actor, actor_by_name=filters.actor_by_name),
            f"No actor's {'name or ' if filters.actor_by_name else ''}email address "
            f"contains {filters.actor!r}.",
        ),
        "action": (
            AuditFilter(action=filters.action),
            f"No event has the action {filters.action!r}.",
        ),
        "dates": (
            AuditFilter(since=filters.since, until=filters.until),
            "No event happened between the From and To dates.",
        ),
    }
    given = {
        "record": bool(filters.entity_type or filters.entity_id),
        "actor": bool(filters.actor),
        "action": bool(filters.action),
        "dates": bool(filters.since or filters.until),
    }
    reasons = [
        message
        for name, (alone_filter, message) in alone.items()
        if given[name] and _count(session, alone_filter) == 0
    ]
    if filters.entity_id and limits.record_id(filters.entity_id) is None:
        reasons.append(
            "Record id is the record's number, or a reference such as APP-000042, "
            "INV-2027-000001 or CPT-2027-000001."
        )
    if not reasons and sum(given.values()) > 1:
        reasons.append(
            "Each filter matches some events, but no event matches all of them together."
        )
    return reasons
