"""Appending to the audit log and verifying its hash chain.

Every service that changes state calls `record()` inside its own transaction,
so the event is committed (or rolled back) together with the change. The events
are chained (numbered, linked to the one before, hashed) as the transaction
commits, under the chain head's lock, which is each transaction's last lock
(round 58: before, a step locked the head at its first event and held it until it
committed, so audited steps ran one at a time from their first event).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from flask import g, has_request_context, request
from sqlalchemy import BigInteger, String, Table, and_, bindparam, case, insert, select, update
from sqlalchemy import event as orm_events
from sqlalchemy.orm import (
    ORMExecuteState,
    Session,
    SessionTransaction,
    make_transient_to_detached,
)
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables

from licensing import access
from licensing.audit import keys as audit_keys
from licensing.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from licensing.db import utcnow

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from licensing.actors import Actor

HEAD_ID = 1
SYSTEM = "system"
ANONYMOUS = "anonymous"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime in an audit value")
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not an audit value")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, decimals as strings, datetimes as UTC ISO 8601."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def event_hash(event: AuditEvent, keys: Mapping[str, bytes] | None = None) -> str:
    """The HMAC-SHA-256 of the event's fields (everything but `id` and `hash`
    itself) under the key its `key_id` names, from `keys` or the configured
    ring. A row without a `key_id` (written before the chain was keyed) has
    the plain SHA-256. Raises `keys.UnknownKey` for a key not configured."""
    return _fields_hash({name: getattr(event, name) for name in (*_HASHED, "key_id")}, keys)


# The fields an event's hash covers (with its `key_id`, when it has one).
_HASHED: tuple[str, ...] = ("seq", "occurred_at", "actor", "actor_user_id", "action")
_HASHED += ("entity_type", "entity_id", "before", "after", "note", "request_id", "client_ip")
_HASHED += ("prev_hash",)


def _fields_hash(fields: Mapping[str, Any], keys: Mapping[str, bytes] | None) -> str:
    """`event_hash` of an event's fields, from a row not yet made an `AuditEvent`
    (round 51: `record_each` hashes its rows as they are, one payload as before)."""
    payload = {name: fields[name] for name in _HASHED}
    payload["occurred_at"] = _json_default(fields["occurred_at"])
    key_id = fields["key_id"]
    if key_id is None:
        return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
    payload["key_id"] = key_id
    key = (audit_keys.ring() if keys is None else keys).get(key_id)
    if key is None:
        raise audit_keys.UnknownKey(key_id)
    return audit_keys.sign(key, canonical_json(payload))


def _current_actor() -> tuple[str, int | None]:
    if not has_request_context():
        return SYSTEM, None
    principal = access.current_principal()
    if principal is None:
        return ANONYMOUS, None
    return principal.email, principal.user_id


# The head's row, written by Core statements built once (round 67, suiteSvc67: the ORM's
# UPDATE ... RETURNING with `populate_existing`, and the head's write in the unit of
# work's flush after it, were most of a commit's chaining time).
_HEAD = cast(Table, AuditChainHead.__table__)
_HEAD_ROW = _HEAD.c.id == HEAD_ID

# Round 63 (hot63): the head is locked and read by one statement. A no-op UPDATE takes
# the lock first (a row lock on PostgreSQL, the database write lock on SQLite), so a
# second appender waits here until the first commits, then reads the new head:
# concurrent writers take turns and cannot fork the chain. The row RETURNING gives is
# the head another appender last committed.
_LOCK_HEAD = (
    update(_HEAD).where(_HEAD_ROW).values(seq=_HEAD.c.seq).returning(_HEAD.c.seq, _HEAD.c.hash)
)

# Round 67 (suiteSvc67): the same UPDATE moves the head past a commit's events when it
# is where this process last saw it (`_SEEN`), in one statement where there were two
# (the lock, then the write). Each SET reads the row as it was before the UPDATE, as
# the lock leaves it: the head moves only if it is the one the events were chained
# onto, which the same statement then holds locked. A head elsewhere (another process
# appended, a transaction rolled back) is left as it is and read back, as `_LOCK_HEAD`
# reads it, and the events are chained again onto it (`_MOVE_HEAD`).
_SEEN_HEAD = and_(_HEAD.c.seq == bindparam("seen_seq"), _HEAD.c.hash == bindparam("seen_hash"))
_MOVE_HEAD_IF_SEEN = (
    update(_HEAD)
    .where(_HEAD_ROW)
    .values(
        seq=case((_SEEN_HEAD, bindparam("seq", type_=BigInteger)), else_=_HEAD.c.seq),
        hash=case((_SEEN_HEAD, bindparam("hash", type_=String)), else_=_HEAD.c.hash),
    )
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_MOVE_HEAD = update(_HEAD).where(_HEAD_ROW).values(seq=bindparam("seq"), hash=bindparam("hash"))
_MAKE_HEAD = insert(_HEAD).values(id=HEAD_ID, seq=0, hash=GENESIS_HASH)

# Where this process last left each database's head (seq, hash), by the database's URL:
# a guess the UPDATE checks, never trusted (a wrong one costs the second statement).
_SEEN: dict[Any, tuple[int, str]] = {}


def _head_locked(
    session: Session, moving: tuple[tuple[int, str], int, str] | None = None
) -> tuple[int, str] | None:
    """The head (its seq and hash), read by the UPDATE that locks its row; None when
    there is no head row. With `moving` (the head as last seen, and the seq and hash
    to move it to), the same UPDATE moves it there if it is still as seen: the head
    read back is then the moved one. Tests of the lock order wrap this: it is where
    a commit takes the log's head."""
    connection = session.connection()
    if moving is None:
        row = connection.execute(_LOCK_HEAD).first()
    else:
        (seen_seq, seen_hash), seq, hash_ = moving
        row = connection.execute(
            _MOVE_HEAD_IF_SEEN,
            {"seen_seq": seen_seq, "seen_hash": seen_hash, "seq": seq, "hash": hash_},
        ).first()
    return None if row is None else (row.seq, row.hash)


def _chained(
    todo: Sequence[_Pending], head: tuple[int, str], key: tuple[str, bytes]
) -> list[list[dict[str, Any]]]:
    """Each pending event's rows numbered, linked and hashed onto `head`, in the order
    they were recorded (`seq`, `prev_hash`, `hash`, as `verify_chain` reads them)."""
    seq, previous = head
    key_id, _ = key
    keys = dict([key])
    chained = []
    for pending in todo:
        rows = []
        for fields in pending.rows:
            seq += 1
            row = {**fields, "seq": seq, "prev_hash": previous, "key_id": key_id}
            row["hash"] = previous = _fields_hash(row, keys)
            rows.append(row)
        chained.append(rows)
    return chained


def _moved_head(
    session: Session, todo: Sequence[_Pending], key: tuple[str, bytes]
) -> list[list[dict[str, Any]]]:
    """Lock the head and move it past `todo`'s events: their rows, chained onto the
    head as it was. One statement when the head is where this process last saw it,
    else the lock's read and the write."""
    connection = session.connection()
    where = connection.engine.url
    seen = _SEEN.get(where)
    if seen is None:
        head = _head_locked(session)
    else:
        chained = _chained(todo, seen, key)
        moved = (chained[-1][-1]["seq"], chained[-1][-1]["hash"])
        head = _head_locked(session, (seen, *moved))
        if head == moved:
            _SEEN[where] = moved
            return chained
    if head is None:  # a database created without the migration's first row
        connection.execute(_MAKE_HEAD)
        head = (0, GENESIS_HASH)
    chained = _chained(todo, head, key)
    moved = (chained[-1][-1]["seq"], chained[-1][-1]["hash"])
    connection.execute(_MOVE_HEAD, {"seq": moved[0], "hash": moved[1]})
    _SEEN[where] = moved
    return chained


# Round 58 (auditchain58): events are chained when their transaction commits, not
# when they are recorded. `record()` and `record_each()` keep each event's fields in
# the session's `_Unchained` (`session.info`); a `before_commit` hook flushes the
# step's own changes, then locks the chain's head (the transaction's last lock),
# numbers, links and hashes the events in the order they were recorded and inserts
# them. An audited step no longer holds the head from its first event: two steps
# wait for each other only for the few statements of their commits.
_UNCHAINED = "licensing.audit.unchained"


@dataclass
class _Pending:
    """One `record()` (its `event`, filled and added to the session once chained) or
    one `record_each()` (its rows, inserted together): each row's fields but `seq`,
    `prev_hash`, `hash` and `key_id`, which are set when it is chained."""

    rows: list[dict[str, Any]]
    event: AuditEvent | None = None


@dataclass
class _Unchained:
    """The events a session's transaction recorded: `pending` in recording order, the
    first `chained` of them already chained and inserted (a read of the audit log
    chains what came before it, `_read_after_recording`); `marks` the two counts as
    each open savepoint began, restored when it rolls back; `key` the signing key
    (id, bytes) read where the first event was recorded, for a transaction may commit
    outside the application's context (a session handed to another thread); `lines`
    the INFO lines of the events chained (`_logged`), each with the index in `pending`
    of its event, written once the transaction has committed."""

    root: SessionTransaction
    key: tuple[str, bytes]
    pending: list[_Pending] = field(default_factory=list)
    chained: int = 0
    marks: dict[Any, tuple[int, int]] = field(default_factory=dict)
    lines: list[tuple[int, str, str, list[dict[str, Any]]]] = field(default_factory=list)


def _unchained(session: Session) -> _Unchained:
    """The session's transaction's events, begun with it: `record()` writes no SQL
    now, and a session with no transaction yet would otherwise keep the event past
    a rollback that had nothing to end (`_forget_at_end`)."""
    root = session.get_transaction() or session.begin()
    found = session.info.get(_UNCHAINED)
    if found is None or found.root is not root:
        found = session.info[_UNCHAINED] = _Unchained(root, audit_keys.current())
    return cast(_Unchained, found)


def _pend(session: Session, pending: _Pending) -> None:
    """Keep an event for its transaction's commit. Tests of the lock order patch
    this: it is where a step comes to its first event."""
    _unchained(session).pending.append(pending)


def _chain_pending(session: Session) -> None:
    """Chain and insert every event recorded and not yet chained in the session's
    transaction: the step's own changes flushed first, then the head locked and moved
    past the events, which are numbered, linked and hashed in the order they were
    recorded (`seq`, `prev_hash`, `hash`, as `verify_chain` reads them)."""
    unchained = session.info.get(_UNCHAINED)
    if unchained is None or unchained.chained == len(unchained.pending):
        return
    # The step's rows, and their locks (and PostgreSQL's key shares of their
    # parents), come before the head: nothing is locked after it.
    session.flush()
    first = unchained.chained
    todo = unchained.pending[first:]
    unchained.chained = len(unchained.pending)
    rows: list[dict[str, Any]] = []
    events: list[tuple[AuditEvent, int]] = []  # `record()`'s, each with its row's place
    for index, (pending, chained) in enumerate(
        zip(todo, _moved_head(session, todo, unchained.key), strict=True), first
    ):
        if pending.event is not None:
            events.append((pending.event, len(rows)))
        rows.extend(chained)
        unchained.lines.append((index, chained[0]["action"], chained[0]["entity_type"], chained))
    # The head's row was written by Core: an `AuditChainHead` loaded in the session
    # is read again when next used.
    loaded = session.identity_map.get(session.identity_key(AuditChainHead, HEAD_ID))
    if loaded is not None:
        session.expire(loaded)
    # The events in one statement (round 67: the ORM's unit of work inserted each
    # `record()`'s event alone, for its id); `record()`'s events get their ids from it
    # and join the session as loaded rows.
    connection = session.connection()
    if not events:
        connection.execute(_INSERT_EVENTS, rows)
        return
    returned = connection.execute(_INSERT_EVENTS_WITH_IDS, rows)
    ids = {row.seq: row.id for row in returned}
    for event, at in events:
        for name, value in rows[at].items():
            setattr(event, name, value)
        event.id = ids[rows[at]["seq"]]
        make_transient_to_detached(event)
        session.add(event)


_EVENTS = cast(Table, AuditEvent.__table__)
_INSERT_EVENTS = insert(_EVENTS)
# Each row's id by its seq (unique): the rows come back in no stated order, and asking
# for the parameters' order would insert them one by one on SQLite.
_INSERT_EVENTS_WITH_IDS = insert(_EVENTS).returning(_EVENTS.c.seq, _EVENTS.c.id)


@orm_events.listens_for(Session, "before_commit")
def _chain_at_commit(session: Session) -> None:
    """Chain the transaction's events as it commits (a savepoint released keeps
    them for its transaction's commit)."""
    if not session.in_nested_transaction():
        _chain_pending(session)


@orm_events.listens_for(Session, "after_commit")
def _log_committed(session: Session) -> None:
    """The INFO line of each event chained, once its transaction has committed (round
    59, retrycheck59): written as it was chained, before the commit, a commit that then
    failed (a serialization failure, a deadlock in the last flush) logged events the
    log never kept, under seqs another transaction then took, and the request run
    again (`db.retrying`) logged them a second time."""
    unchained = session.info.get(_UNCHAINED)
    if unchained is None or session.in_nested_transaction():
        return
    lines, unchained.lines = unchained.lines, []
    for _index, action, entity_type, rows in lines:
        _logged(action, entity_type, rows)


@orm_events.listens_for(Session, "do_orm_execute")
def _read_after_recording(state: ORMExecuteState) -> None:
    """A read of the audit log (or its head) in a transaction that recorded events
    chains them first, as autoflush writes the step's changes before a query: the
    step reads its own events, numbered (it then holds the head from that read until
    it commits, as every step did before round 58)."""
    unchained = state.session.info.get(_UNCHAINED)
    if unchained is None or unchained.chained == len(unchained.pending):
        return
    statement = state.statement
    if not isinstance(statement, ClauseElement):
        return
    read = {table.name for table in find_tables(statement, include_crud=True)}
    if read & _AUDIT_TABLES:
        _chain_pending(state.session)


_AUDIT_TABLES = {AuditEvent.__tablename__, AuditChainHead.__tablename__}


@orm_events.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    unchained = session.info.get(_UNCHAINED)
    if transaction.nested and unchained is not None:
        unchained.marks[transaction] = (len(unchained.pending), unchained.chained)


@orm_events.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back takes the events recorded in it with it, and the
    chaining done in it (its rows and the head's move are rolled back: the events
    recorded before it are chained again at commit)."""
    unchained = session.info.get(_UNCHAINED)
    if unchained is None or not previous.nested:
        return
    mark = unchained.marks.pop(previous, None)
    if mark is None:  # begun before the session's first event: nothing recorded before it
        mark = (0, 0)
    recorded, chained = mark
    del unchained.pending[recorded:]
    unchained.chained = min(unchained.chained, chained)
    # Chained again at commit, and logged then: their lines go with the savepoint.
    unchained.lines = [line for line in unchained.lines if line[0] < unchained.chained]


@orm_events.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    """The transaction's events go with it: committed (chained), or rolled back. (A
    savepoint's mark is kept until the transaction ends: this runs before
    `after_soft_rollback`, which reads it.)"""
    if transaction.parent is None:
        session.info.pop(_UNCHAINED, None)


def record(
    session: Session,
    *,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    note: str | None = None,
    actor: str | None = None,
    actor_user_id: int | None = None,
) -> AuditEvent:
    """Append one event to the audit log, in the caller's transaction.

    `action` names what happened (`organization.standing_changed`),
    `entity_type`/`entity_id` the record it happened to, `before`/`after` the
    values that changed (JSON-serialisable; Decimal and datetimes are
    written as strings). The actor is the request's principal (or
    "anonymous"), or "system" outside a request; pass `actor` (and
    `actor_user_id`) when the person acting is known another way, e.g. by
    the one-time link they followed. The request id and client address are
    taken from the current request.

    The event is chained when the transaction commits (round 58): until then its
    `id`, `seq`, `prev_hash` and `hash` are None (a read of the audit log in the
    transaction chains it first). It commits or rolls back with the change.
    """
    [row] = _unchained_rows(
        [entity_id],
        {
            "action": action,
            "entity_type": entity_type,
            "before": before,
            "after": after,
            "note": note,
            "actor": actor,
            "actor_user_id": actor_user_id,
        },
    )
    event = AuditEvent(**row)
    _pend(session, _Pending([row], event))
    return event


def record_each(
    session: Session,
    *,
    action: str,
    entity_type: str,
    entity_ids: Sequence[str | int],
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    note: str | None = None,
    actor: str | None = None,
    actor_user_id: int | None = None,
) -> None:
    """`record()` of the same step taken on each of `entity_ids`, in that order: one
    event each, exactly as `record()` writes it, chained one after the other at
    commit, with the chain's head moved once and the events inserted together (a bulk
    change audits in a bounded number of statements however many records it changed).
    The events are rows, never `AuditEvent`s in the session (round 51: building one
    a row was most of a 5,000-invoice reminder's time); their `id` is not read back."""
    step = {"action": action, "entity_type": entity_type, "before": before, "after": after}
    rows = _unchained_rows(
        entity_ids, {**step, "note": note, "actor": actor, "actor_user_id": actor_user_id}
    )
    if rows:
        _pend(session, _Pending(rows))


def _unchained_rows(
    entity_ids: Sequence[str | int], step: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The fields of one event each of `entity_ids` for `step` (`record_each`'s other
    arguments), all but those set when they are chained (`_chain_pending`)."""
    actor, actor_user_id = step["actor"], step["actor_user_id"]
    before, after = step["before"], step["after"]
    if actor is None:
        actor, actor_user_id = _current_actor()
    common = {
        "occurred_at": utcnow(),
        "actor": actor,
        "actor_user_id": actor_user_id,
        "action": step["action"],
        "entity_type": step["entity_type"],
        # The same for every event: written to JSON once.
        "before": None if before is None else canonical_json(dict(before)),
        "after": None if after is None else canonical_json(dict(after)),
        "note": step["note"],
        "request_id": g.get("request_id") if has_request_context() else None,
        "client_ip": request.remote_addr if has_request_context() else None,
    }
    return [{**common, "entity_id": str(entity_id)} for entity_id in entity_ids]


def _logged(action: str, entity_type: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """The INFO line an event, or for a bulk step's events (`record_each`: chained, so
    their seqs follow one another) one line saying the action, how many, the first and
    last record and the events' seqs (round 52: a line an event was most of a
    5,000-event step's time; the audit log keeps every event, by seq). Written once
    the transaction that chained them has committed (`_log_committed`; round 58
    wrote it as they were chained)."""
    first = rows[0]
    if len(rows) == 1:
        log.info(
            "audit: %s on %s %s (event %d)", action, entity_type, first["entity_id"], first["seq"]
        )
        return
    last = rows[-1]
    log.info(
        "audit: %s on %d %s records, %s %s to %s %s (events %d to %d)",
        action,
        len(rows),
        entity_type,
        entity_type,
        first["entity_id"],
        entity_type,
        last["entity_id"],
        first["seq"],
        last["seq"],
    )


def record_event(
    session: Session,
    action: str,
    entity_id: str | int,
    *,
    after: Mapping[str, Any] | None,
    before: Mapping[str, Any] | None = None,
    actor: Actor | None,
    note: str | None = None,
) -> AuditEvent:
    """`record()` for what a use case does besides a state machine's step (`apply()`
    writes those): the entity type is the first part of `action` (`user.created`:
    `user`), the actor the `Actor` acting. `actor=None` leaves the audit log to name
    the request's caller, for the steps taken before anyone is known (a failed
    sign-in that locks an account).
    """
    return record(
        session,
        action=action,
        entity_type=action.partition(".")[0],
        entity_id=entity_id,
        before=before,
        after=after,
        note=note,
        actor=actor.name if actor else None,
        actor_user_id=actor.user_id if actor else None,
    )


def record_events(
    session: Session,
    action: str,
    entity_ids: Sequence[str | int],
    *,
    after: Mapping[str, Any] | None,
    before: Mapping[str, Any] | None = None,
    actor: Actor | None,
    note: str | None = None,
) -> None:
    """`record_event()` of one step taken on each of `entity_ids` at once (a bulk
    UPDATE's records): one event each, as `record_event()` would write them one by
    one, in a bounded number of statements (`record_each`)."""
    record_each(
        session,
        action=action,
        entity_type=action.partition(".")[0],
        entity_ids=entity_ids,
        before=before,
        after=after,
        note=note,
        actor=actor.name if actor else None,
        actor_user_id=actor.user_id if actor else None,
    )


def record_new(
    session: Session,
    record: Any,
    action: str,
    *,
    actor: Actor | None,
    after: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> AuditEvent:
    """Store a new record and audit its making as `action` (`record_event`): it is
    flushed first, for its id (a unique index refuses a duplicate there), and the
    event's `after` is its audit snapshot unless `after` says otherwise."""
    session.add(record)
    session.flush()
    written = record.snapshot() if after is None else after
    return record_event(session, action, record.id, after=written, actor=actor, note=note)


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, from two snapshots of a record."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


@dataclass
class ChainReport:
    """What `verify_chain` found: rows checked and each break in the chain."""

    events: int = 0
    head_seq: int = 0
    # Rows from before the chain was keyed: checked by plain SHA-256 only.
    unkeyed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_event(event: AuditEvent, ring: Mapping[str, bytes], unkeyed_until: int) -> str | None:
    """What is wrong with one row's own hash, if anything."""
    if event.key_id is None and event.seq > unkeyed_until:
        return (
            f"seq {event.seq}: not signed with an audit key (row forged, or written before "
            "the chain was keyed: see --accept-unkeyed-until)"
        )
    try:
        expected = event_hash(event, ring)
    except audit_keys.UnknownKey:
        return (
            f"seq {event.seq}: signed with audit key {event.key_id}, which is not configured "
            "(add the old key to AUDIT_HMAC_RETIRED_KEYS, or the row is forged)"
        )
    if expected != event.hash:
        return f"seq {event.seq}: contents do not match the stored hash (row edited)"
    return None


def verify_chain(session: Session, *, unkeyed_until: int = 0) -> ChainReport:
    """Recompute every event's hash and link, in sequence order.

    Reports a row whose contents no longer match its keyed hash (edited, even
    if the hash was recomputed without the key), a gap in the sequence or a
    link to the wrong predecessor (deleted, inserted or reordered rows), and a
    last row that is not the recorded chain head (rows deleted from the end).
    Every row must be signed with a configured key, except rows up to
    `unkeyed_until`: written before the chain was keyed (an upgraded
    database), they are checked by plain SHA-256. The bound comes from the
    operator, not the database, which an attacker could edit.
    """
    report = ChainReport()
    ring = audit_keys.ring()
    expected_seq = 1
    previous_hash = GENESIS_HASH
    rows = session.execute(
        select(AuditEvent)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000, populate_existing=True)
    ).scalars()
    for event in rows:
        report.events += 1
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                missing = (
                    f"seq {expected_seq}"
                    if event.seq == expected_seq + 1
                    else f"seq {expected_seq} to {event.seq - 1}"
                )
                report.problems.append(f"seq {event.seq}: {missing} missing (rows deleted)")
            else:
                report.problems.append(f"seq {event.seq}: out of order (rows renumbered)")
        problem = _check_event(event, ring, unkeyed_until)
        if problem:
            report.problems.append(problem)
        elif event.key_id is None:
            report.unkeyed += 1
        if event.prev_hash != previous_hash:
            report.problems.append(
                f"seq {event.seq}: does not link to the event before it "
                "(rows deleted, inserted or reordered)"
            )
        expected_seq = event.seq + 1
        previous_hash = event.hash
    head = session.get(AuditChainHead, HEAD_ID, populate_existing=True)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    report.head_seq = head_seq
    if head_seq != expected_seq - 1 or head_hash != previous_hash:
        report.problems.append(
            f"the chain head records seq {head_seq} but the last event is seq "
            f"{expected_seq - 1} (rows deleted from the end, or the head edited)"
        )
    return report
