"""Idempotent money-moving requests: a request sent again with the same
`Idempotency-Key` (a client retrying after a timeout) is answered from the first
one's stored answer instead of recording a second payment.

A request that moves money in steps (a card refund: recorded, then Stripe is
asked, then its answer applied, each in a transaction of its own) uses `begin`,
`claim_in` and `finish` instead of `run_once`; see `begin`.

`run_once` owns the transaction: it inserts the key, carries out the request
and stores its answer in one unit of work with the payment, so either both are
stored or neither is. A refused request (4xx) stores nothing: the caller may fix
and retry with the same key. The unique (user, key) constraint decides between
two simultaneous requests: the second insert waits for the first transaction
and then fails, and the second request is answered from the first's record.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import db
from licensing.billing.models import IdempotentRequest
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, TooManyRequests

HEADER = "Idempotency-Key"
KEY_MAX = 255
# How long a key is answered from its record; `prune` deletes older ones.
KEPT_FOR = timedelta(hours=24)
# The keys one user may store in `KEPT_FOR` (round 42): each record keeps its answer
# (a few kilobytes), and a client sending a fresh key with every request stored
# without bound until the hourly prune caught up a day later. A new key past it is
# refused (`TooManyRequests`, a 429 saying when the oldest frees a place); a key already
# stored is still answered from its record, so a retry stays safe. Old keys are not
# pruned early instead: forgetting one a client may still retry with would carry its
# payment out twice, which is what the key is for. Ten thousand is far above a
# day's work (a month-end run of offline payments is hundreds) and bounds a user's
# records to tens of megabytes.
KEYS_PER_USER = 10_000
FIELD = f"header.{HEADER}"


@dataclass(frozen=True)
class Caller:
    user_id: int
    organization_id: int | None


@dataclass(frozen=True)
class Answer:
    """A response as stored: its status and JSON body."""

    status: int
    body: str
    replayed: bool = False


@dataclass(frozen=True)
class KeyedRequest:
    """A request sent with an `Idempotency-Key`: who sent it, the key (kept as its
    digest) and what it asks (`request_hash`)."""

    caller: Caller
    key_hash: str
    fingerprint: str

    @classmethod
    def of(cls, caller: Caller, key: str, fingerprint: str) -> KeyedRequest:
        return cls(caller, _digest(key.encode()), fingerprint)

    def stored(self) -> tuple[ColumnElement[bool], ...]:
        """Where its key is stored: one row per user and key."""
        return (
            IdempotentRequest.user_id == self.caller.user_id,
            IdempotentRequest.key_hash == self.key_hash,
        )


class KeyTaken(Exception):
    """Another transaction committed a record of this caller's key first."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_key(key: str) -> str:
    """The key as sent, if usable: one line of printable characters, 1 to 255."""
    stripped = key.strip()
    if not stripped or len(key) > KEY_MAX or not key.isprintable():
        raise InvalidInput.for_field(
            FIELD, f"Send {HEADER} as 1 to {KEY_MAX} printable characters (a UUID, say)."
        )
    return key


def request_hash(method: str, path: str, body: bytes) -> str:
    """What identifies the request a key was used for: method, path and body."""
    return _digest(method.encode() + b" " + path.encode() + b"\n" + body)


def _stored(session: Session, request: KeyedRequest, now: datetime) -> IdempotentRequest | None:
    record = session.scalars(select(IdempotentRequest).where(*request.stored())).one_or_none()
    if record is not None and not _answers(record, request.caller, now):
        session.delete(record)  # not the caller's to replay: the key is free again
        session.flush()
        return None
    return record


def _answers(record: IdempotentRequest, caller: Caller, now: datetime) -> bool:
    """Whether `record` still answers its user: kept less than 24 hours, and stored
    while they acted for the organization they act for now. A person moved to
    another organization (`accounts.move_user`) replaying an earlier request would
    otherwise read the old organization's answer after leaving it; their request
    is carried out anew instead, under the access they have now."""
    return record.created_at > now - KEPT_FOR and record.organization_id == caller.organization_id


def _replay(record: IdempotentRequest, fingerprint: str) -> Answer:
    _same_request(record, fingerprint)
    return Answer(record.response_status, record.response_body, replayed=True)


def _same_request(record: IdempotentRequest, fingerprint: str) -> None:
    if record.request_hash != fingerprint:
        raise InvalidInput.for_field(
            FIELD,
            f"This {HEADER} was already used for another request (another body or "
            "address) in the last 24 hours: use a new key for a new request.",
        )


def run_once(
    request: KeyedRequest, perform: Callable[[], Answer], *, now: datetime | None = None
) -> Answer:
    """`perform()`'s answer, stored under the request's key; or the stored answer
    of the request first made with it (`replayed`). `perform` runs inside this
    unit of work (the service it calls joins it) and raises to refuse."""
    now = now or utcnow()
    try:
        with db.transaction() as session:
            record = _stored(session, request, now)
            if record is not None:
                return _replay(record, request.fingerprint)
            record = _store_key(session, request, now)
            answer = perform()
            record.response_status, record.response_body = answer.status, answer.body
            return answer
    except KeyTaken:
        return _answer_of_winner(request, now)


# The advisory lock's first key on PostgreSQL: which lock space `_within_bound`'s
# per-user lock is in (the second key is the user's id). No other advisory lock uses it.
_KEY_COUNT_LOCK = 0x1DE4  # "IDEmpotency", round 44


def _take_turns(session: Session, request: KeyedRequest) -> None:
    """Make the user's new keys take turns until the transaction ends (round 44), so
    that a count of their keys is not read by two transactions at once, each
    storing a key past it. PostgreSQL: a transaction-level advisory lock on the
    user (one statement; no row is locked, so nothing else of theirs waits). SQLite:
    nothing to do, a unit of work holds the database's one write lock from its BEGIN
    IMMEDIATE (`db._configure_sqlite`), before the key was looked up."""
    if db.is_postgresql():
        session.execute(select(func.pg_advisory_xact_lock(_KEY_COUNT_LOCK, request.caller.user_id)))


def _within_bound(session: Session, request: KeyedRequest, now: datetime) -> None:
    """Refuse a new key once its user stored `KEYS_PER_USER` in the last 24 hours,
    saying when the oldest of them frees a place (`Retry-After`). Exact under
    concurrency: the user's new keys take turns (`_take_turns`) from the count until
    their transaction ends, so a request that waited counts the key stored before it."""
    _take_turns(session, request)
    since = now - KEPT_FOR
    used, oldest = session.execute(
        select(func.count(), func.min(IdempotentRequest.created_at)).where(
            IdempotentRequest.user_id == request.caller.user_id,
            IdempotentRequest.created_at > since,
        )
    ).one()
    if used < KEYS_PER_USER:
        return
    if session.scalars(select(IdempotentRequest.id).where(*request.stored())).first():
        # A request with this very key took the last place while this one waited its
        # turn: answer from its record, as any retry of a stored key is (`KeyTaken`).
        raise KeyTaken
    wait = max(1, math.ceil((oldest + KEPT_FOR - now).total_seconds()))
    raise TooManyRequests(  # a new key waits until the oldest is 24 hours old
        f"You sent {used:,} requests with a new {HEADER} in the last 24 hours, the most "
        f"kept for one user ({KEYS_PER_USER:,}); a new key can be used again in {wait} "
        "seconds. A key sent before is still answered: retrying with one is safe. "
        "Nothing was done now.",
        limit=KEYS_PER_USER,
        retry_after=wait,
    )


def _store_key(session: Session, request: KeyedRequest, now: datetime) -> IdempotentRequest:
    """Insert the key, in progress (no answer yet), before the work: a concurrent
    request with the same key waits here on the unique index (PostgreSQL) until
    this one ends, then fails (`KeyTaken`). A new key past its user's bound is
    refused first (`_within_bound`)."""
    _within_bound(session, request, now)
    record = IdempotentRequest(
        user_id=request.caller.user_id,
        organization_id=request.caller.organization_id,
        key_hash=request.key_hash,
        request_hash=request.fingerprint,
        response_status=0,
        response_body="",
        created_at=now,
    )
    session.add(record)
    try:
        session.flush()
    except IntegrityError as error:
        raise KeyTaken from error
    return record


def _answer_of_winner(request: KeyedRequest, now: datetime) -> Answer:
    with db.transaction() as session:
        record = _stored(session, request, now)
        if record is None or not record.response_status:
            raise Conflict(f"A request with this {HEADER} is in progress: retry in a moment.")
        return _replay(record, request.fingerprint)


def prune(*, now: datetime | None = None) -> int:
    """Delete the keys older than 24 hours; how many. Idempotent, safe on several hosts."""
    cutoff = (now or utcnow()) - KEPT_FOR
    # One statement in one unit of work: run again after a deadlock (round 60).
    return db.retried_unit(lambda: _prune_before(cutoff))


def _prune_before(cutoff: datetime) -> int:
    with db.transaction() as session:
        result = session.execute(
            delete(IdempotentRequest).where(IdempotentRequest.created_at <= cutoff)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- requests that move money in steps ---------------------------------------------------------


# What the request answers about what its first step started (`{"refund_id": 17}`),
# asked in that step's transaction: the record as it was created.
AnswerStarted = Callable[[dict[str, int]], Answer]


@dataclass(frozen=True)
class Claim:
    """A key not yet used: the service stores it (`claim_in`) in the transaction
    that records what the request starts, before it calls out."""

    request: KeyedRequest
    now: datetime
    answer_started: AnswerStarted | None = None


@dataclass(frozen=True)
class Started:
    """An earlier request with the key started this (`{"refund_id": 17}`) and its
    answer is not stored yet: it is under way, or was cut short after the first step."""

    records: dict[str, int]


def begin(
    request: KeyedRequest,
    *,
    now: datetime | None = None,
    answer_started: AnswerStarted | None = None,
) -> Answer | Started | Claim:
    """Before a request that moves money in steps: the stored `Answer` of the first
    request with its key (replayed), or a `Claim` for the service to store with its
    first step (`claim_in`, which raises `KeyTaken` when a simultaneous request
    stored the key first: ask `progress` then). The request's answer is stored with
    `finish`; a step that moved nothing after all gives the key back with `release`.
    So a retry never starts a second refund: it finds the key with the first one's
    refund.

    Until `finish`, the key holds the answer `answer_started` gave in the first
    step's transaction (the refund as created), and a retry is answered with that,
    as Stripe answers a retry with its first response: the same answer every
    time, whatever became of the refund since (`GET` it for that). A key stored
    without one (before this answer was kept) yields what the request `Started`."""
    now = now or utcnow()
    # Repeatable (round 60): it writes at most an expired key's deletion, the same
    # however often it runs, so a retry of the request after a deadlock in its first
    # step looks the key up again, rather than the request answering 503.
    with db.transaction(repeatable=True) as session:
        record = _stored(session, request, now)
        if record is None:
            return Claim(request, now, answer_started)
        return _progress(record, request.fingerprint)


def progress(claim: Claim) -> Answer | Started:
    """What the request that took `claim`'s key first answered, or started."""
    with db.transaction(repeatable=True) as session:
        record = _stored(session, claim.request, claim.now)
        if record is None:
            raise Conflict(f"A request with this {HEADER} is in progress: retry in a moment.")
        return _progress(record, claim.request.fingerprint)


def _progress(record: IdempotentRequest, fingerprint: str) -> Answer | Started:
    if record.response_status:
        return _replay(record, fingerprint)
    _same_request(record, fingerprint)
    noted = json.loads(record.response_body or "{}")
    answer = noted.get("answer")
    if answer is not None:
        return Answer(answer["status"], answer["body"], replayed=True)
    # A key stored before its first answer was kept holds the records alone.
    started = noted.get("started", noted)
    if not started:
        raise Conflict(f"A request with this {HEADER} is in progress: retry in a moment.")
    return Started(started)


class ClaimedKey:
    """The key as stored by `claim_in`, in the service's transaction."""

    def __init__(self, record: IdempotentRequest, claim: Claim) -> None:
        self._record = record
        self._claim = claim

    def started(self, **records: int) -> None:
        """Note what the request started (`refund_id=17`) and, from the claim's
        `answer_started`, what it answers about it now, as created: a retry whose
        request stored no answer is answered with that."""
        noted: dict[str, Any] = {"started": records}
        if self._claim.answer_started is not None:
            answer = self._claim.answer_started(records)
            noted["answer"] = {"status": answer.status, "body": answer.body}
        self._record.response_body = json.dumps(noted)


def claim_in(session: Session, claim: Claim) -> ClaimedKey:
    """Store `claim`'s key, in progress, as the first thing the service's first
    transaction does: a simultaneous request with the key waits here (PostgreSQL)
    or fails (`KeyTaken`), before it checks or moves anything."""
    return ClaimedKey(_store_key(session, claim.request, claim.now), claim)


def release(session: Session, claim: Claim) -> None:
    """Forget `claim`'s key, not yet answered: its step moved nothing (Stripe refused
    the refund), so a retry with the key is carried out anew."""
    session.execute(
        delete(IdempotentRequest).where(
            *claim.request.stored(), IdempotentRequest.response_status == 0
        )
    )


def finish(claim: Claim, answer: Answer) -> None:
    """Store the request's answer under its key (a retry is then answered with it)."""
    with db.transaction() as session:
        record = session.scalars(
            select(IdempotentRequest).where(*claim.request.stored())
        ).one_or_none()
        if record is not None and not record.response_status:
            record.response_status, record.response_body = answer.status, answer.body
