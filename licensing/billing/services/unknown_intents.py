"""PaymentIntents Stripe does not know (round 61, payments61).

A card payment names a PaymentIntent that Stripe refuses when asked for it: one made
with another Stripe account's keys, or with test keys where the service now has live
ones. Until round 61 every run of `payments fill-charge-ids` asked Stripe about it
again and printed it again, and `payments reconcile` stopped at such a payment still
pending, every hour, the payments after it never asked about (Stripe's refusal raised
out of the run). Now the job that meets Stripe's refusal reports it once: an audit
event `stripe_payment_intent.unknown` whose record is the PaymentIntent (the payment,
the job and Stripe's words kept with it), listed on the console's *Stripe's events*
until billing staff mark it looked at with a note, as a delivery not read is
(`states.STRIPE_INTENT`). No job asks Stripe about that PaymentIntent again while its
payment names it: a payment given another PaymentIntent (something changed) is asked
about afresh. No table or migration: the audit log keeps the report and the mark, read
by its record index (`ix_audit_events_entity`).

Round 65 (ops65): a report withdrawn. When the service runs a while with the wrong
Stripe keys, every pending card payment's PaymentIntent is reported, and nothing let
the office have them asked about again once the keys were put right. Billing staff
(the console's *Ask Stripe again*) and operators (`licensing payments
withdraw-unknown-intents`) withdraw the reports not looked at, every one or those
reported on some days or of given PaymentIntents, each withdrawal an audit event
`stripe_payment_intent.withdrawn` (who, and why) that is a step of `STRIPE_INTENT`: the
next `payments reconcile` and `payments fill-charge-ids` ask Stripe again, and one
Stripe still refuses is reported afresh. A report is the latest `unknown` event of its
record with no withdrawal after it; its state reads the events after it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Exists, Select, func, select
from sqlalchemy.orm import Session, aliased

from licensing import db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.billing.models import (
    UNKNOWN_INTENT_ACTION,
    UNKNOWN_INTENT_LOOKED_AT_ACTION,
    UNKNOWN_INTENT_RECORD,
    UNKNOWN_INTENT_WITHDRAWN_ACTION,
    Payment,
)
from licensing.billing.queries import followed_by, open_report
from licensing.billing.services._common import (
    _looked_at_note,
    check_looked_at,
    mark_kept_looked_at,
)
from licensing.billing.states import (
    DELIVERY_LOOKED_AT,
    DELIVERY_NOT_LOOKED_AT,
    INTENT_WITHDRAWN,
    STRIPE_INTENT,
)
from licensing.calendar import instant_text, office_day_start
from licensing.errors import InvalidInput, NotFound

# The audit log's record type of a PaymentIntent Stripe does not know.
RECORD_TYPE = UNKNOWN_INTENT_RECORD
# The audit log's record ids are 64 characters; a PaymentIntent's id is about 27.
RECORD_ID_MAX = 64

INTENT_NOTE_REQUIRED = (
    "Say what was done about the PaymentIntent (another Stripe account's, checked in its "
    "dashboard; a test payment; recorded by hand): the note is kept with it."
)


def record_id(intent_id: str) -> str:
    """The audit log's record id of a PaymentIntent: its id, to the log's 64 characters."""
    return intent_id[:RECORD_ID_MAX]


def reported(intent_id: Any) -> Exists:
    """A report that Stripe does not know the PaymentIntent `intent_id` (a value, or a
    column of the statement it is used in, as `Payment.stripe_payment_intent_id`), not
    withdrawn since (round 65): the jobs do not ask Stripe about it."""
    report = aliased(AuditEvent, name="intent_report")
    named = (
        report.entity_id == record_id(intent_id)
        if isinstance(intent_id, str)
        else report.entity_id == func.substr(intent_id, 1, RECORD_ID_MAX)
    )
    return (
        select(report.id)
        .where(
            report.entity_type == RECORD_TYPE,
            named,
            report.action == UNKNOWN_INTENT_ACTION,
            ~followed_by(report, UNKNOWN_INTENT_WITHDRAWN_ACTION),
        )
        .exists()
    )


def is_reported(session: Session, intent_id: str) -> bool:
    """Whether a job reported already that Stripe does not know `intent_id`."""
    return bool(session.scalar(select(reported(intent_id))))


def report_unknown(intent_id: str, *, payment_id: int, why: str, job: str, now: datetime) -> bool:
    """Report, once, that Stripe does not know `intent_id` (the PaymentIntent of the card
    payment `payment_id`; `why`, Stripe's words; `job`, the command that asked), in a
    unit of work of its own, run again alone after a deadlock: True when this call
    reported it, False when it was reported already.

    The payment is locked first (FOR NO KEY UPDATE: its record, which the step starts
    from), so two hosts meeting the same refusal at once take turns and the second
    reads the first's report (round 66: both read none and wrote two)."""

    def report() -> bool:
        with db.transaction() as session:
            session.execute(
                select(Payment.id).where(Payment.id == payment_id).with_for_update(key_share=True)
            )
            if is_reported(session, intent_id):
                return False
            audit.record_event(
                session,
                UNKNOWN_INTENT_ACTION,
                record_id(intent_id),
                after={
                    "stripe_payment_intent_id": intent_id,
                    "payment_id": payment_id,
                    "job": job,
                    "why": why[:300],
                    "at": now.isoformat(),
                },
                actor=Actor.SYSTEM,
                note=(
                    "Stripe does not know this PaymentIntent: not asked about again while "
                    "its payment names it"
                ),
            )
            return True

    return db.retried_unit(report)


@dataclass
class UnknownIntent:
    """A PaymentIntent Stripe does not know, as the state machine steps it
    (`STRIPE_INTENT`): its record is the PaymentIntent, its state read from the audit log."""

    id: str
    state: str


def unknown_intent(session: Session, intent: str, *, lock: bool = False) -> UnknownIntent:
    """The PaymentIntent `intent` (its record id) reported unknown, as its latest report
    stands: not looked at, looked at, or (round 65) withdrawn; `NotFound` when no job
    reported it. `lock`: that report is locked, so two clerks marking it (or a clerk and
    a withdrawal) take turns and the second is refused."""
    report = (
        select(AuditEvent.seq)
        .where(
            AuditEvent.entity_type == RECORD_TYPE,
            AuditEvent.entity_id == intent,
            AuditEvent.action == UNKNOWN_INTENT_ACTION,
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    seq = session.scalar(report.with_for_update() if lock else report)
    if seq is None:
        raise NotFound(f"No job reported that Stripe does not know the PaymentIntent {intent}.")
    after = session.scalar(
        select(AuditEvent.action)
        .where(
            AuditEvent.entity_type == RECORD_TYPE,
            AuditEvent.entity_id == intent,
            AuditEvent.action.in_(
                (UNKNOWN_INTENT_LOOKED_AT_ACTION, UNKNOWN_INTENT_WITHDRAWN_ACTION)
            ),
            AuditEvent.seq > seq,
        )
        .order_by(AuditEvent.seq)
        .limit(1)
    )
    state = {
        None: DELIVERY_NOT_LOOKED_AT,
        UNKNOWN_INTENT_LOOKED_AT_ACTION: DELIVERY_LOOKED_AT,
        UNKNOWN_INTENT_WITHDRAWN_ACTION: INTENT_WITHDRAWN,
    }[after]
    return UnknownIntent(intent, state)


def check_mark_intent(intent: str, *, actor: Actor) -> UnknownIntent:
    """Billing staff: the PaymentIntent `mark_intent_looked_at` would mark, refused as it
    refuses (404, or 409 for one looked at already), writing nothing."""
    return check_looked_at(STRIPE_INTENT, lambda session: unknown_intent(session, intent), actor)


def mark_intent_looked_at(
    intent: str, *, note: str | None, actor: Actor, now: datetime | None = None
) -> UnknownIntent:
    """Billing staff: a PaymentIntent Stripe does not know marked looked at, with a note
    saying what was done about it (required); it then leaves the count on *Stripe's
    events*. The machine's `mark_looked_at`, audited
    `stripe_payment_intent.marked_looked_at` with the note, the clerk as actor; 404 for a
    PaymentIntent no job reported, 409 for one looked at already (or, round 65, whose
    report was withdrawn), 422 without a note.
    The jobs still do not ask about it: the mark says a person looked, not that Stripe
    knows it now."""
    return mark_kept_looked_at(
        STRIPE_INTENT,
        lambda session: unknown_intent(session, intent, lock=True),
        note=note,
        required=INTENT_NOTE_REQUIRED,
        actor=actor,
        now=now,
    )


# --- Round 65 (ops65): reports withdrawn, for the jobs to ask Stripe again ---------

WITHDRAW_REASON_REQUIRED = (
    "Say why the reports are withdrawn (the right Stripe keys are back since the 14th; "
    "the live keys replaced the test ones): the reason is kept with each."
)
# The reports withdrawn a transaction, by default (`--batch-size`).
WITHDRAW_BATCH = 100
# The most PaymentIntents one withdrawal names.
WITHDRAW_INTENTS_MAX = 500
# The reports a confirmation or a dry run's summary names; the rest are counted.
WITHDRAW_NAMED = 20


@dataclass(frozen=True)
class Withdrawal:
    """Which reports not looked at are withdrawn: those of the PaymentIntents `intents`
    (none named: any), reported on the office days `reported_from` to `reported_to`
    (both included; either None for no bound), and (a confirmation's) none newer than
    the report `through` (its `seq`): every report not looked at when none is given."""

    intents: tuple[str, ...] = ()
    reported_from: date | None = None
    reported_to: date | None = None
    through: int | None = None

    @classmethod
    def of(
        cls,
        intents: Sequence[str] = (),
        *,
        reported_from: date | None = None,
        reported_to: date | None = None,
        through: int | None = None,
    ) -> Withdrawal:
        """The selection, its PaymentIntents trimmed and each named once; `InvalidInput`
        for too many, one longer than the audit log keeps, or an end before the start."""
        named = tuple(dict.fromkeys(each.strip() for each in intents if each.strip()))
        errors: dict[str, list[str]] = {}
        if len(named) > WITHDRAW_INTENTS_MAX:
            errors["intents"] = [
                f"Name at most {WITHDRAW_INTENTS_MAX:,} PaymentIntents at a time "
                f"({len(named):,} were given)."
            ]
        elif too_long := [each for each in named if len(each) > RECORD_ID_MAX]:
            errors["intents"] = [
                f"A PaymentIntent's id is at most {RECORD_ID_MAX} characters, such as "
                f"pi_3Nx…; this one is longer: {too_long[0][:RECORD_ID_MAX]}…"
            ]
        if reported_from and reported_to and reported_to < reported_from:
            errors["reported_to"] = ["Reported to cannot come before reported from."]
        if errors:
            raise InvalidInput("The reports to withdraw are not clear.", errors)
        return cls(named, reported_from, reported_to, through)

    def reports(self) -> Select[AuditEvent]:
        """The reports not looked at this selects, the oldest first (by `seq`)."""
        statement = select(AuditEvent).where(open_report(AuditEvent))
        if self.intents:
            statement = statement.where(
                AuditEvent.entity_id.in_([record_id(each) for each in self.intents])
            )
        if self.reported_from is not None:
            statement = statement.where(
                AuditEvent.occurred_at >= office_day_start(self.reported_from)
            )
        if self.reported_to is not None:
            statement = statement.where(
                AuditEvent.occurred_at < office_day_start(self.reported_to + timedelta(days=1))
            )
        if self.through is not None:
            statement = statement.where(AuditEvent.seq <= self.through)
        return statement.order_by(AuditEvent.seq)

    def said(self) -> str:
        """The selection in words, for the audit event and the run's summary."""
        parts = []
        if self.intents:
            parts.append(f"PaymentIntents {', '.join(self.intents[:WITHDRAW_NAMED])}")
            if len(self.intents) > WITHDRAW_NAMED:
                parts[-1] += f" and {len(self.intents) - WITHDRAW_NAMED:,} more"
        if self.reported_from or self.reported_to:
            parts.append(
                f"reported from {self.reported_from or 'the first'} "
                f"to {self.reported_to or 'the last'} (office days)"
            )
        return "; ".join(parts) or "every report not looked at"


def _report_line(report: AuditEvent) -> str:
    """A report as a run's line names it: the PaymentIntent, its payment, when and by
    which job it was reported, and Stripe's words."""
    kept = json.loads(report.after or "{}")
    payment = kept.get("payment_id")
    return (
        f"{report.entity_id} (card payment {payment if payment is not None else 'unknown'}; "
        f"reported {instant_text(report.occurred_at)} by {kept.get('job', 'a job')}: "
        f"{str(kept.get('why', ''))[:120]})"
    )


@dataclass
class WithdrawalRun:
    """What a withdrawal did, or (`dry_run`) would do: each report's line, the newest
    report taken (`through`, what a confirmation binds), and the PaymentIntents named
    with no report not looked at (never reported, looked at, or withdrawn already)."""

    dry_run: bool
    reports: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)  # each report's PaymentIntent
    through: int | None = None
    not_found: list[str] = field(default_factory=list)
    more: bool = False  # stopped at the limit with more to withdraw

    def summary(self) -> str:
        count = len(self.reports)
        said = f"{count} report(s) of PaymentIntents Stripe did not know " + (
            "would be withdrawn; nothing changed (dry run)" if self.dry_run else "withdrawn"
        )
        if count and not self.dry_run:
            said += (
                ": the next payments reconcile and payments fill-charge-ids ask Stripe "
                "about them again"
            )
        if self.not_found:
            said += f"; {len(self.not_found)} PaymentIntent(s) named with no report not looked at"
        if self.more:
            said += "; more remain past the limit (run it again to go on)"
        return said


def withdraw_reports(
    selection: Withdrawal,
    *,
    reason: str | None,
    actor: Actor,
    by: str | None = None,
    dry_run: bool = False,
    batch_size: int = WITHDRAW_BATCH,
    limit: int | None = None,
    now: datetime | None = None,
) -> WithdrawalRun:
    """Billing staff or an operator (`Actor.SYSTEM`, `by` naming the command and login):
    withdraw the reports not looked at that `selection` takes, the oldest first, at most
    `limit` (None: all), `batch_size` a transaction, each the step `withdraw` of
    `STRIPE_INTENT`, audited `stripe_payment_intent.withdrawn` with `reason` (required)
    as its note and the report it withdrew, the payment, the selection and `by` kept
    with it. The next `payments reconcile` and `payments fill-charge-ids` ask Stripe
    about those PaymentIntents again. `dry_run`: the same reports read, nothing written
    (no reason needed).

    Idempotent (a report withdrawn, looked at, or reported since is not taken) and safe
    run twice at once: each batch claims its reports (`db.claim`: SKIP LOCKED on
    PostgreSQL, the write lock on SQLite) and reads them again under the claim
    (`db.still_selected`), so a withdrawal committed meanwhile, or a clerk's mark (who
    locks the same report), is seen and the report left; each batch is run again alone
    after a deadlock."""
    actor.require_role("billing")
    note: str | None = None
    if not dry_run:
        clean = _looked_at_note(reason, WITHDRAW_REASON_REQUIRED)
        if isinstance(clean, InvalidInput):
            raise InvalidInput(clean.detail, {"reason": clean.errors["note"]})
        note = clean
    run = WithdrawalRun(dry_run)
    seen: set[str] = set()
    last = 0
    while limit is None or len(run.reports) < limit:
        take = batch_size if limit is None else min(batch_size, limit - len(run.reports))
        if dry_run:
            with db.transaction() as session:
                found = list(
                    session.scalars(selection.reports().where(AuditEvent.seq > last).limit(take))
                )
                lines = [_report_line(report) for report in found]
                taken = [report.entity_id for report in found]
                newest = found[-1].seq if found else None
        else:
            lines, newest, taken = db.retried_unit(
                partial(_withdrawn_batch, selection, last, take, note, actor, by, now)
            )
        seen.update(taken)
        run.intents += taken
        if newest is None:
            break
        run.reports += lines
        run.through = newest
        last = newest
    else:
        with db.transaction() as session:
            run.more = (
                session.scalar(select(selection.reports().where(AuditEvent.seq > last).exists()))
                or False
            )
    run.not_found = [each for each in selection.intents if record_id(each) not in seen]
    return run


def _withdrawn_batch(
    selection: Withdrawal,
    after: int,
    take: int,
    note: str | None,
    actor: Actor,
    by: str | None,
    now: datetime | None,
) -> tuple[list[str], int | None, list[str]]:
    """One batch withdrawn, in a unit of its own: the next `take` reports after the one
    of seq `after`, claimed, read again, each withdrawn once. Its lines, the newest
    report claimed (None: none was left), and the PaymentIntents withdrawn."""
    with db.transaction() as session:
        statement = selection.reports().where(AuditEvent.seq > after).limit(take)
        claimed = list(session.scalars(db.claim(statement)))
        if not claimed:
            return [], None, []
        lines: list[str] = []
        taken: list[str] = []
        for report in db.still_selected(session, statement, claimed):
            if report.entity_id in taken:  # two reports of one PaymentIntent: one step
                continue
            kept = json.loads(report.after or "{}")
            STRIPE_INTENT.apply(
                session,
                UnknownIntent(report.entity_id, DELIVERY_NOT_LOOKED_AT),
                "withdraw",
                actor=actor,
                note=note,
                at=now,
                changes={
                    "report_seq": report.seq,
                    "reported_at": report.occurred_at.isoformat(),
                    "payment_id": kept.get("payment_id"),
                    "job": kept.get("job"),
                    "selection": selection.said(),
                    **({"by": by} if by else {}),
                },
            )
            lines.append(_report_line(report))
            taken.append(report.entity_id)
        return lines, claimed[-1].seq, taken
