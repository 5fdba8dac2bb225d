"""The scheduled expiry run: lapse returned applications past their 5 business
days, close reconsideration windows past 14 days, tell licensees 60 days ahead that
an agreement nothing renews is ending, supersede renewed agreements and expire the
others past their term."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.orm import Session, aliased

from licensing import calendar, db
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import queries
from licensing.agreements.models import (
    Agreement,
    Application,
)
from licensing.agreements.services._common import (
    _agreement_news,
    _deadline,
    _now,
    _tell_vendor,
    _vendor_notice,
)
from licensing.agreements.services.renewal import renewal_card, renewal_proration_warnings
from licensing.agreements.states import (
    ACTIVE,
    AGREEMENT,
    AGREEMENT_LIVE,
    APPLICATION,
    ISSUED,
    REJECTED,
    RETURNED,
    SUPERSEDED,
)
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.links import links
from licensing.money import price_in_words
from licensing.pricing.describe import LONG_PERIOD_DAYS

# A renewal in these states takes over when the old term ends (or runs already).
RENEWAL_RUNS = (ACTIVE,)
# An active agreement that nothing renews is announced to its licensee this long
# before its term's last day, once (the audit event is the marker), so a licensing
# office has time to apply for the renewal; the dashboard asks from 90 days
# (`queries.RENEWAL_WINDOW_DAYS`). Royalty reminders' lead time is a constant too.
ENDING_REMINDER = timedelta(days=60)
ENDING_REMINDED = "agreement.ending_reminder_sent"


@dataclass
class ExpiryReport:
    lapsed: list[str] = field(default_factory=list)
    windows_closed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    ending_reminded: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.lapsed)} applications lapsed, {len(self.windows_closed)} reconsideration "
            f"windows closed, {len(self.expired)} agreements expired, "
            f"{len(self.superseded)} superseded by their renewals, "
            f"{len(self.ending_reminded)} licensees told their agreement ends soon"
        )


def _last_day(old: Agreement, renewal: Agreement) -> date:
    """The old agreement's last day in force: its term's, or the day before its
    renewal's term starts where that is earlier (a renewal's term may be changed)."""
    return min(old.term_end, renewal.term_start - timedelta(days=1))


def unlink_ended_renewal(session: Session, old: Agreement, actor: Actor) -> bool:
    """`old` no longer names a renewal that ended before taking over (terminated,
    say): it is not renewed any more, so it expires at its term's end, may be
    renewed again, and its page claims no renewal. Audited; a superseded `old`
    (its renewal took over) keeps its link."""
    if old.superseded_by_id is None or old.state == SUPERSEDED:
        return False
    renewal = session.get(Agreement, old.superseded_by_id)
    if renewal is not None and renewal.state in RENEWAL_RUNS:
        return False
    audit.record_event(
        session,
        "agreement.renewal_ended",
        old.id,
        actor=actor,
        before={"superseded_by": renewal.number if renewal else None},
        after={"superseded_by": None},
    )
    old.superseded_by_id = None
    return True


def issued_after_term(agreement: Agreement) -> bool:
    """An agreement issued after its term's last day (round 49: staff approved a
    license of past use only). Not accepted, it is not expired by the run, as one
    whose term ran out while it waited is: its term was over when it was offered,
    so it stays open to acceptance (which expires it at once) until staff terminate it."""
    return calendar.office_date(agreement.issued_at) > agreement.term_end


def expiring(today: date) -> Select[Agreement]:
    """The live agreements whose term ended before the office's `today`, for the run
    to expire, oldest term first, leaving out in SQL those issued after their term
    (round 50; round 49 claimed them every hour and skipped them in Python): an
    agreement issued at or after 06:00 UTC the day after its term's last day
    (`calendar.OFFICE_DAY_STARTS_BY`, the latest the office's next day can start).
    Bounded, not exact: one issued in the hour before (05:00 to 06:00 UTC), when the
    next office day has begun only under daylight time, is still claimed and decided
    by `issued_after_term`, on the office's date of `issued_at`."""
    day_after_starts = db.UTCInstant(
        Agreement.term_end, timedelta(days=1) + calendar.OFFICE_DAY_STARTS_BY
    )
    return (
        select(Agreement)
        .where(
            Agreement.state.in_(AGREEMENT_LIVE),
            Agreement.term_end < today,
            or_(Agreement.state != ISSUED, Agreement.issued_at < day_after_starts),
        )
        .order_by(Agreement.term_end, Agreement.id)
    )


# The note of the `expire` step an acceptance after the term takes (round 49): the
# audit says why it expired, and `_tell_expired` sends no second email (the
# acceptance's says it).
EXPIRED_ON_ACCEPTANCE = "accepted after its term ended: it licenses past use only"


def term_ended(agreement: Agreement) -> datetime:
    """When an agreement past its term ended: the end of the term's last office day,
    as for a superseded one (not the hour the step ran), never before it was issued
    or accepted (an agreement approved after its term)."""
    issued = agreement.activated_at or agreement.issued_at
    return max(calendar.end_of_office_day(agreement.term_end), issued)


def supersede_when_due(
    session: Session, old: Agreement, renewal: Agreement, actor: Actor, now: datetime
) -> bool:
    """Supersede `old` (active, linked to its accepted `renewal`) once its last day
    in force is over, ended at that day's end (never before the renewal was
    accepted): until then the old license covers the licensee."""
    if _last_day(old, renewal) >= calendar.office_date(now):
        return False
    ended = calendar.end_of_office_day(_last_day(old, renewal))
    if renewal.activated_at is not None:
        ended = max(ended, renewal.activated_at)
    AGREEMENT.apply(
        session, old, "supersede", actor=actor, changes={"superseded_by": renewal.number}, at=ended
    )
    return True


def expire(*, now: datetime | None = None, long_card_days: int = LONG_PERIOD_DAYS) -> ExpiryReport:
    """Lapse returned applications past their 5 business days, close reconsideration
    windows past 14 days, supersede renewed agreements whose renewal takes over,
    expire the other agreements past their term. Idempotent; safe on several hosts
    at once (each row is claimed with `db.claim`, and the claim re-checks that it
    is still due).

    Each step works through its rows oldest due first, then by id (the deadline
    passed, the term's end), so the audit log and the emails come out in the order
    an operator reading them expects (docs/operations.md, "The jobs' orders").

    `long_card_days` (`LONG_CARD_DAYS`): a renewal on a card that runs longer is
    warned of in the ending reminder (round 47)."""
    moment = _now(now)
    today = calendar.office_date(moment)
    # The run is one unit of work: run again, whole, after a deadlock (round 60,
    # `db.retried_unit`), its report made afresh by each try. All it does is database
    # (its emails are outbox rows).
    return db.retried_unit(lambda: _expire_in_one(moment, today, long_card_days))


def _expire_in_one(moment: datetime, today: date, long_card_days: int) -> ExpiryReport:
    """`expire`'s steps, in one unit of work."""
    report = ExpiryReport()
    with db.transaction() as session:
        _lock_renewed_by_expiring(session, today)
        for application in session.scalars(
            db.claim(
                select(Application)
                .where(Application.state == RETURNED, Application.resubmit_by < moment)
                .order_by(Application.resubmit_by, Application.id)
            ),
        ):
            APPLICATION.apply(session, application, "lapse", actor=Actor.SYSTEM, at=moment)
            report.lapsed.append(application.reference)
        for application in session.scalars(
            db.claim(
                select(Application)
                .where(
                    Application.state == REJECTED,
                    Application.reconsider_by < moment,
                    Application.reconsideration_requested_at.is_(None),
                    Application.reconsideration_closed_at.is_(None),
                )
                .order_by(Application.reconsider_by, Application.id)
            ),
        ):
            application.reconsideration_closed_at = moment
            audit.record_event(
                session,
                "application.reconsideration_window_closed",
                application.id,
                actor=Actor.SYSTEM,
                before={"reconsideration_closed_at": None},
                after={"reconsideration_closed_at": moment},
            )
            report.windows_closed.append(application.reference)
        _remind_ending(session, today, report, long_card_days)
        _supersede_renewed(session, moment, today, report)
        for agreement in session.scalars(db.claim(expiring(today))):
            if agreement.state == ISSUED and issued_after_term(agreement):
                continue  # issued in the hour `expiring` cannot tell: it waits for acceptance
            # A link left by a renewal that ended before taking over (see above).
            unlink_ended_renewal(session, agreement, Actor.SYSTEM)
            AGREEMENT.apply(
                session, agreement, "expire", actor=Actor.SYSTEM, at=term_ended(agreement)
            )
            report.expired.append(agreement.number)
    return report


def _lock_renewed_by_expiring(session: Session, today: date) -> None:
    """Lock, before the run's first event, the agreements that a renewal it may expire
    still renews (round 55, lockrest55): expiring that renewal unlinks them
    (`acceptance._unlink_from_renewed`), and a royalty filing under one locks it, then
    audits. Locked after the run's first event (the audit log's head, which a step held
    from its first event until round 58), the two waited for each other. Waiting here
    (FOR UPDATE, not a claim), the run holds nothing yet: a filing under one finishes
    first, and the run then supersedes the agreement (a claim skipping it would have
    left it to be unlinked from its renewal). By id, as several hosts' runs would lock
    them."""
    renewed = aliased(Agreement)
    expiring_ids = expiring(today).with_only_columns(Agreement.id).order_by(None)
    session.scalars(
        select(renewed.id)
        .where(renewed.superseded_by_id.in_(expiring_ids), renewed.state != SUPERSEDED)
        .order_by(renewed.id)
        .with_for_update()
    ).all()


def _remind_ending(
    session: Session, today: date, report: ExpiryReport, long_card_days: int
) -> None:
    """Tell the licensee of each active agreement ending within `ENDING_REMINDER`
    that nothing renews (no renewal drawn or accepted) that it ends, once. Not for
    an agreement that became active already inside that lead time: its acceptance
    is fresh, and the dashboard asks for the renewal. Nor while the organization is
    out of good standing (held, suspended, closed): it could not draw the renewal the
    email asks for; the run sends it once the organization is back, if still in time."""
    agreement = aliased(Agreement)  # `still_renews()` reads `Agreement` as its own
    renewing = select(Application.id).where(
        Application.renewal_of_id == agreement.id, queries.still_renews()
    )
    reminded = select(AuditEvent.id).where(
        AuditEvent.entity_type == "agreement",
        AuditEvent.entity_id == cast(agreement.id, String),
        AuditEvent.action == ENDING_REMINDED,
    )
    due = (
        select(agreement)
        .where(
            agreement.state == ACTIVE,
            # The renewal lists' rule (round 47): a renewal drawn now, so in good
            # standing; a closed organization never, a suspended one once reinstated.
            queries.organization_renews(agreement, drawn_now=True),
            agreement.superseded_by_id.is_(None),
            agreement.term_end >= today,
            agreement.term_end <= today + ENDING_REMINDER,
            ~renewing.exists(),
            ~reminded.exists(),
        )
        .order_by(agreement.term_end, agreement.id)
    )
    # The marker read again once the rows are ours: another host may have sent
    # the email and committed after the claim's statement began (`still_selected`).
    claimed = session.scalars(db.claim(due)).all()
    for found in db.still_selected(session, due, claimed):
        assert found.activated_at is not None  # active
        if calendar.office_date(found.activated_at) > found.term_end - ENDING_REMINDER:
            continue
        audit.record_event(
            session,
            ENDING_REMINDED,
            found.id,
            actor=Actor.SYSTEM,
            after={"term_end": found.term_end},
            note=f"the term ends on {found.term_end.isoformat()}",
        )
        _tell_ending(session, found, today, long_card_days)
        report.ending_reminded.append(found.number)


def _tell_ending(session: Session, agreement: Agreement, today: date, long_card_days: int) -> None:
    """The organization's administrators and members learn the day the agreement ends
    and how to renew it; its billing contact, unless one of them (they pay the
    renewal, and may have no account or only a billing member's), who renews it and
    that its invoice comes to them. Both are linked to its panel. Where the card in
    effect then runs open-ended or longer than `long_card_days`, both are told what
    its proration makes of the renewal's prorated amounts (round 47)."""
    organization = agreement.organization
    readers = account_queries.licensing_readers(session, organization)
    renewers, stand_in = readers.to, readers.stand_in
    last_day = calendar.day_text(agreement.term_end)
    headline = f"ends on {last_day}"
    next_day = calendar.day_text(agreement.term_end + timedelta(days=1))
    renewal = f"a new application for the term from {next_day}, priced on {renewal_card(agreement)}"
    said = _long_card_said(session, agreement, today, long_card_days)
    news = [
        (
            renewers,
            stand_in,
            readers.names,
            f"The term ends on {last_day} and nothing renews it yet. To stay licensed "
            f"after that day, renew it from the agreement's page: the renewal is {renewal}.{said} "
            f"Royalty reports for this term are still filed under {agreement.number} "
            "after it ends.",
        )
    ]
    if organization.billing_email.lower() not in {email.lower() for email in renewers}:
        news.append(
            (
                [organization.billing_email],
                False,
                (organization.billing_contact_name,),
                f"The term ends on {last_day} and nothing renews it yet. Its administrators "
                f"and members renew it (ask {accounts.whom_to_ask(session, organization.id)})"
                f": the renewal is {renewal}, and its invoice comes to you.{said}",
            )
        )
    _agreement_news(session, agreement, headline, news, "#renew-heading")


def _long_card_said(
    session: Session, agreement: Agreement, today: date, long_card_days: int
) -> str:
    """After the sentence saying what the renewal is, for a card that runs long: the
    pricing core's sentence per prorated amount of the renewal's rules, each after a
    space (`renewal.renewal_proration_warnings`, the sentences its quote will show);
    empty for any other card."""
    warned = renewal_proration_warnings(
        session, agreement, today, long_card_days=long_card_days, amount=price_in_words
    )
    return "".join(f" {warning.sentence}" for warning in warned)


def _supersede_renewed(
    session: Session, moment: datetime, today: date, report: ExpiryReport
) -> None:
    """Active agreements whose accepted renewal takes over: their term is over, or
    the renewal's has started. Before the expiry below, which would take them; a
    renewal that no longer runs (terminated) takes nothing over."""
    renewal = aliased(Agreement)
    runs = select(renewal.id).where(renewal.state.in_(RENEWAL_RUNS))
    started = runs.where(renewal.term_start <= today)
    for old in session.scalars(
        db.claim(
            select(Agreement)
            .where(
                Agreement.state == ACTIVE,
                Agreement.superseded_by_id.in_(runs),
                or_(Agreement.term_end < today, Agreement.superseded_by_id.in_(started)),
            )
            .order_by(Agreement.term_end, Agreement.id)
        ),
    ):
        accepted = session.get(Agreement, old.superseded_by_id)
        assert accepted is not None  # a foreign key
        if supersede_when_due(session, old, accepted, Actor.SYSTEM, moment):
            report.superseded.append(old.number)


@_vendor_notice("lapse", "lapsed")
def _tell_lapsed(application: Application, note: str | None) -> str:
    return (
        f"The application was not resubmitted by {_deadline(application.resubmit_by)}, so "
        "it has lapsed. Start a new application when you are ready."
    )


@AGREEMENT.on("expire")
def _tell_expired(session: Session, agreement: Agreement, actor: Actor, note: str | None) -> None:
    if note == EXPIRED_ON_ACCEPTANCE:
        return  # the acceptance's email says it (round 49)
    # An agreement that was in force still owes the reports of its term, as a
    # superseded one does (its email says so); one never accepted owes none.
    reports = (
        f" Royalty reports still due for its term are filed under {agreement.number}."
        if agreement.activated_at is not None
        else ""
    )
    _tell_vendor(
        session,
        agreement,
        "expired",
        f"The term ended on {calendar.day_text(agreement.term_end)}. Renew it from the "
        "agreement's page to keep using CPT content: a renewal runs from the day it is "
        "drawn, so the sooner it is drawn, the fewer days are left unlicensed "
        f"between the two terms.{reports}",
    )


@AGREEMENT.on("supersede")
def _tell_superseded(
    session: Session, agreement: Agreement, actor: Actor, note: str | None
) -> None:
    """The licensee's contacts learn that the renewal now covers them, from when,
    and that the old term's reports are still filed under the old agreement."""
    renewal = session.get(Agreement, agreement.superseded_by_id)
    assert renewal is not None  # the step follows the link
    assert agreement.ended_at is not None  # stamped by the step
    _tell_vendor(
        session,
        agreement,
        f"superseded by its renewal {renewal.number}",
        f"The term ended on {calendar.day_text(calendar.office_date(agreement.ended_at))} and its "
        f"renewal, agreement {renewal.number}, now covers the license from "
        f"{calendar.day_text(renewal.term_start)} to {calendar.day_text(renewal.term_end)}: "
        f"{links().agreement(renewal.id)}. Royalty reports still due for the old term are "
        f"filed under {agreement.number}.",
    )
