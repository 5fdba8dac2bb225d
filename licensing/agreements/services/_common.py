"""Helpers several of the agreements use cases share: input errors, role checks,
loading an application under lock, the audit steps, emails, storing a quote and
issuing the agreement on approval."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import calendar, db, references
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import hand_priced, issuing
from licensing.agreements.commands import ProposedUseInput, languages_text
from licensing.agreements.documents import AgreementDocument, render_agreement_pdf
from licensing.agreements.models import (
    QUOTED_TERMS,
    REASON_MAX,
    REASON_REQUIRED,
    Agreement,
    AgreementNumberSequence,
    Application,
    ApplicationUse,
    HandPricedAgreement,
    QuoteVersion,
)
from licensing.agreements.settings import PAYMENT_TERMS, IssuingPolicy
from licensing.agreements.states import AGREEMENT, APPLICATION, DRAFT, ESCALATED, ISSUED
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound, PermissionDenied, TooLargeToRecord
from licensing.links import links
from licensing.mail import services as mail
from licensing.money import (
    beyond_largest,
    exceeds_largest,
    format_amount,
    in_words,
    revenue_problem,
)
from licensing.pricing import Quote
from licensing.ratecards import queries as ratecard_queries
from licensing.records import attributes
from licensing.statemachine import StateMachine
from licensing.words import at_most_characters

T = TypeVar("T", Application, Agreement)

RESUBMIT_BUSINESS_DAYS = 5
RECONSIDERATION_DAYS = 14


class _Errors(dict[str, list[str]]):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)

    def raise_if_any(self, detail: str = "Some fields need correcting.") -> None:
        if self:
            raise InvalidInput(detail, self)


def check_revenue_digits(
    session: Session,
    rate_card: str | None,
    start: date | None,
    revenues: Sequence[Decimal | None],
    *,
    currency: str | None = None,
) -> None:
    """Refuse a use's revenue the currency it will be priced in cannot say (the card
    named, else `currency` where the application's is known, round 62, else the one in
    effect on `start`): `1234.5` on a JPY card, beside its field, saying why (round 61:
    a yen's fraction was taken; `money.revenue_problem`)."""
    currency = ratecard_queries.card_currency(session, rate_card, start, currency)
    if currency is None:
        return
    errors = _Errors()
    for index, revenue in enumerate(revenues):
        if revenue is not None and (problem := revenue_problem(revenue, currency)):
            errors.add(f"uses.{index}.revenue", problem)
    errors.raise_if_any()


def _text(value: Any, path: str, limit: int, errors: _Errors) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(path, "Must be text.")
        return ""
    cleaned = " ".join(value.split()) if limit <= 400 else value.strip()
    if len(cleaned) > limit:
        errors.add(path, at_most_characters(limit))
    return cleaned


def _write_uses(application: Application, uses: Sequence[ProposedUseInput]) -> None:
    """Make the application's uses `uses`, in order (rows are updated in place, so
    positions stay unique while the change is flushed)."""
    existing = list(application.uses)
    for position, use in enumerate(uses):
        record = existing[position] if position < len(existing) else ApplicationUse()
        record.position = position
        for name in ("product_name", "description", "use", "product_type", "user_type"):
            setattr(record, name, getattr(use, name))
        record.delivery = use.delivery
        record.territories = use.territories
        record.languages = languages_text(use.languages)
        record.revenue = use.revenue
        record.quantity = dict(use.quantity)
        if position >= len(existing):
            application.uses.append(record)
    for extra in existing[len(uses) :]:
        application.uses.remove(extra)


def _new_draft(
    session: Session,
    actor: Actor,
    *,
    term: tuple[date | None, date | None],
    rate_card: str | None,
    uses: Sequence[ProposedUseInput],
    now: datetime,
    renewal_of: Agreement | None = None,
) -> Application:
    """A new draft of the vendor's organization (good standing required), audited
    as created; a renewal names the agreement it renews."""
    organization = _own_organization(session, actor)
    accounts.ensure_good_standing(organization)
    application = Application(
        organization_id=organization.id,
        created_by_id=actor.user_id,
        state=DRAFT,
        term_start=term[0],
        term_end=term[1],
        rate_card=rate_card,
        renewal_of_id=renewal_of.id if renewal_of else None,
        created_at=now,
        updated_at=now,
    )
    application.organization = organization
    _write_uses(application, uses)
    renews = {"renewal_of": renewal_of.number} if renewal_of else {}
    audit.record_new(
        session,
        application,
        "application.created",
        actor=actor,
        after={**application.snapshot(), **renews},
    )
    return application


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def _licensing_staff(actor: Actor) -> Actor:
    """The opening check of every licensing-staff use case: the role, first."""
    actor.require_role("licensing")
    return actor


def _licensing_step(caller: Actor, now: datetime | None) -> tuple[Actor, datetime]:
    """A licensing-staff step: the actor, checked first, and the step's time."""
    return _licensing_staff(caller), _now(now)


def _require_vendor(actor: Actor) -> None:
    if not actor.is_vendor:
        raise PermissionDenied("Only the organization's own users do this.")
    actor.require_licensing_work()


def _written(value: str | None, path: str, limit: int, *, missing: str | None = None) -> str:
    """What the user wrote in `path`, trimmed, at most `limit` characters; when
    nothing is written, "" or, given `missing`, refused with that message."""
    cleaned = (value or "").strip()
    if not cleaned and missing is not None:
        raise InvalidInput.for_field(path, missing)
    if len(cleaned) > limit:
        raise InvalidInput.for_field(path, at_most_characters(limit))
    return cleaned


def _reason(value: str | None, path: str = "reason", *, required: bool = True) -> str | None:
    missing = REASON_REQUIRED if required else None
    return _written(value, path, REASON_MAX, missing=missing) or None


def _owned(session: Session, model: type[T], record_id: int, actor: Actor) -> T:
    """The record, locked and read afresh under the lock, if the actor may see it; "not
    found" otherwise. Afresh (round 55, lockrest55): a page that read the record
    before the step (the acceptance's) left it in the session, and `get` kept those
    values: an acceptance waiting for a reissue accepted the replaced agreement as
    `issued` (the database refused: a 500). `licensing.db` reads every locked row so
    (stale55)."""
    found = session.get(model, record_id, with_for_update=True)
    if found is None or not actor.may_see(found.organization_id):
        raise NotFound(f"There is no {model.__name__.lower()} {record_id}.")
    if isinstance(found, Application) and found.renewal_of_id is not None:
        # Round 57: a renewal's application names the agreement it renews, and a step
        # writing the application a second time after its first event (a submission:
        # its quote, then its state) takes that agreement's key share there, where
        # PostgreSQL checks the keys again. A filing locks the agreement and then
        # audits: the two deadlocked (`test_renewal_written_twice_lock_order.py`).
        # Taken here, before the step's first event, as the royalty review takes its
        # report's agreement (round 56); no step locks the renewal's application
        # after that agreement before its own first event.
        session.execute(
            select(Agreement.id)
            .where(Agreement.id == found.renewal_of_id)
            .with_for_update(read=True, key_share=True)
        )
    return found


def _owned_in(
    session: Session,
    model: type[T],
    record_id: int,
    actor: Actor,
    states: tuple[str, ...],
    only: str,
) -> T:
    """The record, as `_owned` finds it, while it is in one of `states`; else a
    conflict naming its state and saying what `only` may be done."""
    record = _owned(session, model, record_id, actor)
    if record.state not in states:
        state = record.state.replace("_", " ")
        raise Conflict(f"{_called(record)} is {state}; only {only}.")
    return record


def _called(record: Application | Agreement) -> str:
    """How a sentence names the record: `APP-000042`, `Agreement CPT-2026-000001`."""
    if isinstance(record, Application):
        return record.reference
    return f"Agreement {record.number}"


def _own_organization(session: Session, actor: Actor) -> Organization:
    """The vendor's organization (the use case has checked that `actor` is a vendor)."""
    organization = session.get(Organization, actor.organization_id)
    if organization is None:
        raise NotFound("There is no organization.")
    return organization


def _news(
    record: Application | Agreement, subject: str, message: str, link: str, **extra: Any
) -> dict[str, Any]:
    """What every email about an application or agreement shows (templates
    `application_update`, `agreement_update`, `application_waiting`): the record,
    under its kind's name, the headline, the message and the page to follow."""
    kind = "application" if isinstance(record, Application) else "agreement"
    return {kind: record, "headline": subject, "message": message, "link": link, **extra}


def vendor_told(session: Session, record: Application | Agreement) -> account_queries.Told:
    """Whom the vendor's emails about `record` go to (`licensing_readers`): the
    email's addresses, the console's "We emailed ..." and the API's `recipients`
    (round 37), worked out here alone."""
    return account_queries.organization_told(session, record.organization)


def _tell_vendor(
    session: Session, record: Application | Agreement, subject: str, message: str, **extra: Any
) -> None:
    """Email those who do the organization's licensing what became of its application
    or agreement (`licensing_recipients`: not its billing members)."""
    page: Callable[[int], str]
    if isinstance(record, Application):
        template, page = "application_update", links().application
    else:
        template, page = "agreement_update", links().agreement
    readers = vendor_told(session, record)
    mail.enqueue(
        session,
        to=readers.to,
        subject=f"{_called(record)}: {subject}",
        template=template,
        context=_news(
            record,
            subject,
            message,
            page(record.id),
            stand_in=readers.stand_in,
            names=readers.names,
            **extra,
        ),
    )


def _agreement_news(
    session: Session,
    agreement: Agreement,
    headline: str,
    news: Sequence[tuple[list[str], bool, Sequence[str], str]],
    anchor: str,
) -> None:
    """An `agreement_update` email for each (recipients, written to a stand-in, the
    names it greets, message) of `news`, linked to the agreement's page at `anchor`
    (the ending reminder; round 61, the correction of its card): its licensing
    readers, and its billing contact in words of its own."""
    for recipients, alone, names, message in news:
        mail.enqueue(
            session,
            to=recipients,
            subject=f"Agreement {agreement.number}: {headline}",
            template="agreement_update",
            context=_news(
                agreement,
                headline,
                message,
                links().agreement(agreement.id) + anchor,
                stand_in=alone,
                names=names,
            ),
        )


def _deadline(moment: datetime | None) -> str:
    """A deadline the step has just set (so never None), as the vendor's email
    writes it."""
    assert moment is not None
    return calendar.deadline_text(moment)


VendorMessage = Callable[[Application, "str | None"], str]


def _vendor_notice(action: str, subject: str) -> Callable[[VendorMessage], VendorMessage]:
    """Declare the email the vendor gets after the application's `action`: the
    decorated function writes its text from the application and the step's note."""

    def register(message: VendorMessage) -> VendorMessage:
        def tell(
            session: Session, application: Application, actor: Actor, note: str | None
        ) -> None:
            _tell_vendor(session, application, subject, message(application, note))

        APPLICATION.on(action)(tell)
        return message

    return register


# What a reasoned step records besides the state: fields(record, reason, actor, moment).
StepFields = Callable[[T, "str | None", Actor, datetime], None]
_MACHINES: dict[type[Application | Agreement], StateMachine] = {
    Application: APPLICATION,
    Agreement: AGREEMENT,
}


@dataclass(frozen=True)
class _ReasonedStep(Generic[T]):
    """A licensing-staff step with a reason on an application or agreement, and
    what it records besides the state (`fields`)."""

    model: type[T]
    action: str
    fields: StepFields[T]
    reason_required: bool = True

    def take(self, record_id: int, caller: Actor, reason: str | None, now: datetime | None) -> T:
        """The caller and the reason are checked, the record locked, `fields` set
        and the step taken (stamped, audited, notified) in one transaction."""
        actor, moment = _licensing_step(caller, now)
        text = _reason(reason, required=self.reason_required)
        with db.transaction() as session:
            record = _owned(session, self.model, record_id, actor)
            self.fields(record, text, actor, moment)
            machine = _MACHINES[self.model]
            machine.apply(session, record, self.action, actor=actor, note=text, at=moment)
            return record

    def check(self, record_id: int, caller: Actor, reason: str | None) -> None:
        """Raise what `take` would refuse, writing nothing (round 56: a step asked
        about first is asked only when it would then be taken): the caller, the
        reason, and the step from the record's state as it is now."""
        actor, _moment = _licensing_step(caller, None)
        _reason(reason, required=self.reason_required)
        session = db.session()
        record = session.get(self.model, record_id, populate_existing=True)
        if record is None or not actor.may_see(record.organization_id):
            raise NotFound(f"There is no {self.model.__name__.lower()} {record_id}.")
        _MACHINES[self.model].step(record.state, self.action)


def _record_decision(
    application: Application, reason: str | None, actor: Actor, moment: datetime
) -> None:
    """Who decided the application, when, and why (no reason on approval)."""
    application.decision_reason = reason
    application.decided_at = moment
    application.decided_by = actor.name
    application.decided_by_id = actor.user_id


def staff_told(application: Application) -> account_queries.Told:
    """Whom the staff's emails about `application` go to (`_tell_staff`): its
    reviewer while active, else the licensing staff, `audience` `staff` (round 38:
    an escalation's answer and message say whom, as round 37's decisions do). While
    escalated, the staff member who escalated it is left out (round 39: they know,
    and a second reviewer decides it)."""
    escalator, reviewer = _escalator(application), application.assignee
    if escalator is not None and reviewer is not None and reviewer.id == escalator.id:
        reviewer = None  # assigned back to the one who escalated it: the others decide
    addresses = mail.staff_addressees("licensing", reviewer)
    if escalator is not None:
        addresses = [email for email in addresses if email != escalator.email]
    recipients = tuple(account_queries.Recipient(email, "staff", None) for email in addresses)
    but = f" (not {escalator.full_name}, who escalated it)" if escalator is not None else ""
    if reviewer is not None and reviewer.is_active:
        whom = f"{reviewer.full_name}, its reviewer, at {reviewer.email}"
    elif addresses:
        others = "other " if but else ""
        whom = f"the {others}licensing staff at {', '.join(addresses)}{but}"
    elif escalator is not None:
        whom = (
            f"nobody: no licensing staff member but {escalator.full_name}, who escalated it, "
            "is active (it waits in the queue)"
        )
    else:
        whom = "nobody: no licensing staff member is active (it waits in the queue)"
    return account_queries.Told(recipients, whom)


def _escalator(application: Application) -> User | None:
    """Who escalated `application`, while it is escalated."""
    if application.state != ESCALATED or application.escalated_by_id is None:
        return None
    return db.session().get(User, application.escalated_by_id)


def _tell_staff(session: Session, application: Application, subject: str, message: str) -> None:
    """Email the application's reviewer (or, with none active, the licensing staff),
    as `staff_told` says."""
    told = staff_told(application)
    if not told.recipients:
        return  # it still waits in the console's queue
    mail.enqueue(
        session,
        to=told.to,
        subject=f"{application.reference} waits for you: {subject}",
        template="application_waiting",
        context=_news(application, subject, message, links().application_review(application.id)),
    )


def check_recordable(application: Application, quote: Quote) -> None:
    """Refuse a quote whose line or total is beyond what the money columns hold
    (`money.beyond_largest`, round 50), naming the use: no agreement or invoice could
    say it. The application's estimate says so from the draft on, and submission and
    approval refuse it before anything is stored. The quote API still says the price."""
    errors: dict[str, list[str]] = {}
    for line in quote.lines:
        if line.amount is not None and beyond_largest(line.amount):
            uses = application.uses
            named = f" ({uses[line.use_index].product_name})" if line.use_index < len(uses) else ""
            errors[f"uses.{line.use_index}"] = [
                f"Use {line.use_index + 1}{named}: the quoted amount "
                f"{exceeds_largest(line.amount, quote.currency)}; check its quantities and "
                "revenue."
            ]
    if not errors and beyond_largest(quote.total):
        errors["total"] = [
            f"The quoted total {exceeds_largest(quote.total, quote.currency)}; split the uses "
            "over several applications."
        ]
    if errors:
        raise TooLargeToRecord("The quote is too large to record.", errors)


def _store_quote(
    session: Session,
    application: Application,
    quote: Quote,
    *,
    kind: str,
    actor: Actor,
    now: datetime,
    modifications: Sequence[Mapping[str, Any]] = (),
) -> QuoteVersion:
    check_recordable(application, quote)
    version = QuoteVersion(
        application_id=application.id,
        version=len(application.quotes) + 1,
        kind=kind,
        rate_card=quote.rate_card,
        currency=quote.currency,
        total=quote.total,
        term_start=quote.request.term.start if quote.request else application.term_start,
        term_end=quote.request.term.end if quote.request else application.term_end,
        snapshot_json=json.dumps(quote.to_snapshot(), sort_keys=True),
        modifications_json=json.dumps(list(modifications), sort_keys=True, default=str),
        created_at=now,
        created_by=actor.name,
        created_by_id=actor.user_id,
    )
    session.add(version)
    session.flush()
    session.expire(application, ["quotes"])
    # Unknown until staff price every licensed use: never a misleading 0.00.
    application.total = quote.total if quote.fully_priced else None
    application.currency = quote.currency
    audit.record_event(
        session,
        "application.quote_stored",
        application.id,
        actor=actor,
        after={
            "quote_version": version.version,
            "kind": kind,
            "rate_card": quote.rate_card,
            "total": format_amount(quote.total, quote.currency),
            "modifications": list(modifications),
        },
    )
    return version


def _approve(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    policy: IssuingPolicy,
    now: datetime,
    automatic: bool = False,
) -> Agreement:
    _record_decision(application, None, actor, now)
    version = application.quotes[-1]
    agreement, document = _issue_agreement(session, application, version, actor, policy, now)
    how = "approved automatically" if automatic else "approved"
    # Round 48: on a card that runs long, what its proration makes of the fees, as the
    # agreement's Schedule A says it (the same sentences, `term_proration_warnings`):
    # a renewal's email stated its up-front amount, in cents, without a word why.
    prorated = "".join(f" {sentence}" for sentence in document.proration_warnings)
    _tell_vendor(
        session,
        application,
        f"{how}: agreement {agreement.number} is ready to accept",
        f"Your application is {how}. License agreement {agreement.number} is issued for "
        f"{calendar.day_text(version.term_start)} to {calendar.day_text(version.term_end)}, total "
        f"{in_words(version.total, version.currency)}{_what_is_charged(version)}.{prorated} "
        "Read it and accept it online to make it active."
        + _started_told(version, now)
        + _changes_told(version),
        agreement_link=links().agreement(agreement.id),
    )
    return agreement


def _what_is_charged(version: QuoteVersion) -> str:
    """For a quote with royalties on usage, that its total is an estimate and what
    acceptance invoices: "total 36,300.00 USD" read as the price of the license."""
    quote = Quote.from_snapshot(version.snapshot)
    if not any(issuing.usage_based(line) for line in issuing.licensed_lines(quote)):
        return ""
    up_front = issuing.due_on_acceptance(quote)
    now = (
        f"{in_words(up_front, version.currency)} is invoiced when you accept it"
        if up_front > 0
        else "nothing is invoiced when you accept it"
    )
    return (
        f" as estimated from the application: {now}, and royalties on usage are "
        "invoiced with your royalty reports"
    )


def _started_told(version: QuoteVersion, now: datetime) -> str:
    """For a term already under way, that the license covers it from its start and
    which reports are already owed: staff may approve it, the vendor must know."""
    started = issuing.started_term(
        Quote.from_snapshot(version.snapshot),
        version.term_start,
        version.term_end,
        calendar.office_date(now),
    )
    return f"\n\n{started.for_vendor()}" if started else ""


def _changes_told(version: QuoteVersion) -> str:
    """The office's changes to the quote, each with its reason, for the approval
    email: a vendor quoted one total must not find another without a word why."""
    if not version.modifications:
        return ""
    lines = [_change_line(change, version.currency) for change in version.modifications]
    return "\n\nThe licensing office changed the quote before approving it:\n" + "\n".join(lines)


def _change_line(change: Mapping[str, Any], currency: str) -> str:
    if change["field"] == "amount":
        what = f"Amount of use {change['line'] + 1}"
        was = "unpriced" if change.get("from") is None else _money(change["from"], currency)
        now = _money(change["to"], currency)
    else:  # the term's dates
        what = change["field"].replace("_", " ").capitalize()
        was, now = change.get("from") or "none", change["to"]
    reason = str(change["reason"]).rstrip()
    ending = "" if reason.endswith((".", "!", "?")) else "."
    return f"- {what}: from {was} to {now}. {reason}{ending}"


def _money(amount: str, currency: str) -> str:
    return in_words(Decimal(amount), currency)


def _next_number(session: Session, year: int) -> str:
    """`CPT-YYYY-NNNNNN`: one counter row per year, incremented under its row lock,
    so concurrent issuers never draw the same number."""
    for _attempt in range(3):
        bumped = session.execute(
            update(AgreementNumberSequence)
            .where(AgreementNumberSequence.year == year)
            .values(last=AgreementNumberSequence.last + 1)
            .returning(AgreementNumberSequence.last)
        ).scalar_one_or_none()
        if bumped is not None:
            return references.AGREEMENT(year, bumped)
        try:
            with session.begin_nested():
                session.add(AgreementNumberSequence(year=year, last=0))
        except IntegrityError:
            continue  # another issuer created the year's row first: bump it
    raise Conflict("Could not allocate an agreement number; try again.")


def _issue_agreement(
    session: Session,
    application: Application,
    version: QuoteVersion,
    actor: Actor,
    settings: IssuingPolicy,
    now: datetime,
    *,
    reissue_of: Agreement | None = None,
) -> tuple[Agreement, AgreementDocument]:
    """The agreement issued, and the document its PDF was drawn from; `reissue_of`,
    the agreement it reissues on a corrected rate card (round 55), now replaced."""
    number = _next_number(session, version.term_start.year)
    renewal_of = application.renewal_of
    by_hand = hand_priced.at_issue(session, version, renewal_of)
    document = issuing.build_document(
        session,
        number=number,
        issued_on=calendar.office_date(now),
        application=application,
        version=version,
        payment_terms_days=settings.payment_terms_days,
        late_fee_percent=settings.late_fee_monthly_percent,
        renewal_of=renewal_of.number if renewal_of else None,
        long_card_days=settings.long_card_days,
        priced_by_hand=by_hand.document if by_hand is not None else "",
    )
    pdf = render_agreement_pdf(document)
    agreement = Agreement(
        number=number,
        organization_id=application.organization_id,
        application_id=application.id,
        quote_id=version.id,
        state=ISSUED,
        **attributes(version, QUOTED_TERMS),
        **attributes(settings, PAYMENT_TERMS),
        pdf=pdf,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        issued_at=now,
        renewal_of_id=application.renewal_of_id,
        reissue_of_id=reissue_of.id if reissue_of is not None else None,
    )
    reissued = {"reissue_of": reissue_of.number} if reissue_of is not None else {}
    # Round 66: no card priced it; the card in effect on its first day then, kept.
    by_hand_said = {"priced_by_hand": {"in_effect": by_hand.in_effect}} if by_hand else {}
    audit.record_new(
        session,
        agreement,
        "agreement.issued",
        actor=actor,
        after={
            **agreement.snapshot(),
            "application_id": application.id,
            "quote_version": version.version,
            **reissued,
            **by_hand_said,
        },
    )
    if by_hand is not None:
        session.add(HandPricedAgreement(agreement_id=agreement.id, in_effect=by_hand.in_effect))
    return agreement, document
