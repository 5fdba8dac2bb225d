"""Requests arriving: the public form (stored `unconfirmed` until the requester
follows the emailed link), and uses a license application's rate card routes
to the queue (from a verified vendor user, so no confirmation step)."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import calendar, db, printable, references
from licensing.accounts.services import ONE_LINE, is_one_line, normalize_email
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.links import links
from licensing.mail import services as mail
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.ratecards import queries as ratecard_queries
from licensing.signals import RoutedUse
from licensing.words import in_a_sentence, organization_type_words, rule_named, use_described

from ..commands import TEXT_FIELDS, PermissionRequestInput
from ..models import (
    AUDIENCE_MAX,
    CONTENT_MAX,
    INSTITUTION_MAX,
    MEDIA,
    NAME_MAX,
    PURPOSE_DETAIL_MAX,
    PURPOSES,
    ROLES,
    PermissionRequest,
)
from ..states import EXPIRED, NEEDS_INFO, OPEN_STATES, PERMISSION_REQUEST, UNCONFIRMED
from ._common import (
    CONFIRM_LINK_VALIDITY,
    NOT_VALID_MESSAGE,
    REPLACED_BY,
    LinkExpired,
    LinkNotValid,
    audit_request,
    by_status_token,
    check_live,
    close,
    digest,
    due_after_the_wait,
    label,
    locked,
    requester,
    sla_deadline,
    status_token,
    step,
    tell_requester,
    tell_staff,
)
from .term import MAX_VALIDITY_YEARS, check_term, default_validity_end


class CommercialUse(InvalidInput):
    """A commercial purpose is licensed, not permitted: the requester is sent to
    the price estimator and the license application instead."""


COMMERCIAL_MESSAGE = (
    "A commercial purpose is not an educational permission: it needs a license. "
    "Estimate the price with the price estimator (/estimate), then apply for a license "
    "(/sign-up)."
)


NONCOMMERCIAL_MESSAGE = "Confirm that the use is non-commercial; a commercial use needs a license."


class LicensedUse(CommercialUse):
    """An educational use that the rate card in effect prices rather than routes to
    the permissions queue (the example card's "Commercial training material is
    priced by staff", education by a commercial company or a government agency):
    licensed, not permitted (round 58: such a request waited in the queue for a
    denial). `estimate` is the price estimator's query for the use, so the requester
    types it no second time."""

    def __init__(self, basis: str, *, estimate: dict[str, str]) -> None:
        detail = (
            f"{basis}. Such a use needs a license, not a permission: estimate its fee, then "
            "apply for a license."
        )
        super().__init__(detail, {"organization_type": [detail]})
        # The card and its rule, as the console's request page says them (round 58).
        self.basis = basis
        self.estimate = estimate


# The rate card's product type and user type for a request's use: a print medium is
# print, the others an electronic publication, read by students (the estimator's
# link to the form reads them the other way).
_PRODUCT_TYPE_OF_MEDIUM = {"print": "print"}
_READERS = "academic"


class EducationalUse(Protocol):
    """What the rate card and the estimator read of a request's use: a request being
    sent (`PermissionRequestInput`) or one stored (`PermissionRequest`)."""

    @property
    def organization_type(self) -> str: ...
    @property
    def medium(self) -> str: ...
    @property
    def audience_size(self) -> int | None: ...
    @property
    def purpose_detail(self) -> str: ...
    @property
    def use_from(self) -> date | None: ...
    @property
    def use_until(self) -> date | None: ...


def _first_day(use: EducationalUse, today: date) -> date:
    """The use's first day as the rate card is read on it: today, without days or
    for a day passed."""
    return max(use.use_from or today, today)


def estimate_query(use: EducationalUse, *, today: date) -> dict[str, str]:
    """The price estimator's query for the use (its link filled in, so the use is
    typed no second time): the type of institution, the medium's product type, read
    by `academic` users, the audience as copies or end users, the description, and
    the days asked for, else the year a grant would run for. The refusal of a use the
    card licenses links it, and so does a denial's email (round 58: it opened the
    estimator blank)."""
    product_type = _PRODUCT_TYPE_OF_MEDIUM.get(use.medium, "electronic_publication")
    unit = "copies" if product_type == "print" else "end_users"
    on = _first_day(use, today)
    last = use.use_until if use.use_until is not None and use.use_until >= on else None
    query = {
        "organization_type": use.organization_type,
        "uses-0-use": "education",
        "uses-0-product_type": product_type,
        "uses-0-user_type": _READERS,
        f"uses-0-quantity-{unit}": "" if use.audience_size is None else str(use.audience_size),
        "uses-0-description": (use.purpose_detail or "").strip()[:200],
        "term_start": on.isoformat(),
        "term_end": (last or default_validity_end(on)).isoformat(),
    }
    return {name: value for name, value in query.items() if value}


def licensed_instead(given: EducationalUse, *, today: date) -> LicensedUse | None:
    """The refusal of a request whose use the rate card in effect on its first day
    (today, without days or for a day passed) prices, naming the card and its rule;
    None when the card routes it to the permissions queue, or when no card is in
    effect (the office decides). Read of a request being sent, and (round 58) of one
    in the queue, whose page says so to the officer."""
    if given.organization_type not in ORGANIZATION_TYPES or given.medium not in MEDIA:
        return None
    stored = ratecard_queries.in_effect(db.session(), _first_day(given, today))
    if stored is None:
        return None
    card = ratecard_queries.domain_card(stored)
    product_type = _PRODUCT_TYPE_OF_MEDIUM.get(given.medium, "electronic_publication")
    rule = card.rule_for("education", product_type, _READERS, given.organization_type)
    if rule is None or rule.route is not None:
        return None
    who = in_a_sentence(organization_type_words(given.organization_type))
    article = "an" if who[:1] in "aeiou" else "a"
    basis = (
        f"Rate card {card.version} licenses education by {article} {who}: "
        f"{rule_named(rule.id, rule.description)}"
    )
    return LicensedUse(basis, estimate=estimate_query(given, today=today))


# --- input -----------------------------------------------------------------------

# The request's classification and the words it may take.
_VOCABULARY = (
    ("role", ROLES),
    ("organization_type", ORGANIZATION_TYPES),
    ("purpose", PURPOSES),
    ("medium", MEDIA),
)


# The request's fields typed on one line (the form's text inputs), which emails and
# the letter write inside sentences; the purpose and the content asked for are
# paragraphs.
ONE_LINE_FIELDS = frozenset({"requester_name", "institution", "duration"})


def clean_request(
    given: PermissionRequestInput, *, today: date, longest_years: int = MAX_VALIDITY_YEARS
) -> dict[str, Any]:
    """The request's fields as stored, after its rules: an educational purpose
    (`CommercialUse` otherwise), known words, an address, the attestation, and the
    term asked for (`term.check_term`: both days or neither, from `today` on, no
    longer than `longest_years`). Its shape and sizes were checked at the edge;
    `InvalidInput` lists every problem."""
    if given.purpose == "commercial":
        raise CommercialUse(COMMERCIAL_MESSAGE, {"purpose": [COMMERCIAL_MESSAGE]})
    errors: dict[str, list[str]] = {}
    for name, allowed in _VOCABULARY:
        if getattr(given, name) not in allowed:
            errors[name] = [f"Choose one of: {', '.join(allowed)}."]
    clean = {name: getattr(given, name) for name in TEXT_FIELDS if name != "requester_email"}
    for name, value in clean.items():  # the letter prints them
        if (problem := printable.unprintable_problem(value or "")) is not None:
            errors[name] = [problem]
        elif name in ONE_LINE_FIELDS and not is_one_line(value or ""):
            # Round 61 (attack61): the office's emails write them into sentences ("Hello
            # <name>,", "... at <institution>"), and the confirmation goes to whatever
            # address was typed: a name with line breaks wrote a notice of the
            # sender's own into the office's email, as account names once did.
            errors[name] = [ONE_LINE]
    try:
        clean["requester_email"] = normalize_email(given.requester_email)
    except InvalidInput as exc:
        errors["requester_email"] = [m for ms in exc.errors.values() for m in ms]
    if not 1 <= given.audience_size <= AUDIENCE_MAX:
        errors["audience_size"] = [f"Give a number between 1 and {AUDIENCE_MAX:,}."]
    clean["audience_size"] = given.audience_size
    if not given.noncommercial:
        errors["noncommercial"] = [NONCOMMERCIAL_MESSAGE]
    errors.update(
        check_term(given.use_from, given.use_until, today=today, longest_years=longest_years)
    )
    clean["use_from"], clean["use_until"] = given.use_from, given.use_until
    if errors:
        raise InvalidInput("Some fields need correcting; nothing was sent.", errors)
    return clean


# --- the public form -----------------------------------------------------------------


def _audit_created(
    session: Session, request: PermissionRequest, actor: Actor | None, note: str
) -> None:
    """Creation is no step of the machine: its event records the whole request."""
    audit_request(session, request, "created", None, request.snapshot(), actor=actor, note=note)


def _new_request(session: Session, now: datetime, **fields: Any) -> PermissionRequest:
    request = PermissionRequest(
        reference=f"pending-{secrets.token_hex(6)}",
        link_salt=secrets.token_hex(16),
        created_at=now,
        reconsidered=False,
        **fields,
    )
    session.add(request)
    session.flush()
    request.reference = references.PERMISSION_REQUEST(now.year, request.id)
    return request


UNCONFIRMED_NOTE = "sent from the public form, before the address given was confirmed"


def submit_request(
    given: PermissionRequestInput,
    *,
    longest_years: int = MAX_VALIDITY_YEARS,
    now: datetime | None = None,
    corrects: str | None = None,
) -> PermissionRequest:
    """A request from the public form: stored `unconfirmed`, and a confirmation
    link (valid 48 hours) emailed to the requester. Nothing is stored when a
    field is wrong or the purpose is commercial. `corrects`: the status token of the
    request it was filled in from ("send a corrected request"); while that one is
    open, this one corrects it (`corrects_id`, round 58), replacing it once
    confirmed (`confirm_email`)."""
    moment = now or utcnow()
    today = calendar.office_date(moment)
    clean = clean_request(given, today=today, longest_years=longest_years)
    if (licensed := licensed_instead(given, today=today)) is not None:
        raise licensed
    raw = secrets.token_urlsafe(32)
    with db.transaction() as session:
        request = _new_request(
            session,
            moment,
            state=UNCONFIRMED,
            source="public",
            noncommercial_attested_at=moment,
            confirm_token_hash=digest(raw),
            confirm_expires_at=moment + CONFIRM_LINK_VALIDITY,
            corrects_id=_corrected_id(session, corrects, moment),
            **clean,
        )
        # Under the address given (round 32: it was "anonymous", where the
        # confirmation beside it names the address), said to be unconfirmed yet.
        _audit_created(session, request, Actor.by_link(request.requester_email), UNCONFIRMED_NOTE)
        mail.enqueue(
            session,
            to=request.requester_email,
            subject=f"Confirm your permission request ({request.reference})",
            template="permission_confirm",
            context={
                "request": request,
                "link": links().permission_confirmation(raw),
                "expires_at": request.confirm_expires_at,
                "label": label,
            },
            secrets=[raw],
        )
        return request


def correctable(session: Session, raw: str | None, now: datetime) -> PermissionRequest | None:
    """The open request a status token names, which a new request corrects (round
    58); None without a token, for a link that no longer works, or for a decided
    request (a grant's "send a new request" asks for the next use: it replaces
    nothing)."""
    if not raw:
        return None
    try:
        found = by_status_token(session, raw, now)
    except (LinkNotValid, LinkExpired):
        return None
    return found if found.state in OPEN_STATES else None


def _corrected_id(session: Session, raw: str | None, now: datetime) -> int | None:
    found = correctable(session, raw, now)
    return found.id if found is not None else None


def _replace_corrected(
    session: Session, corrected: PermissionRequest, request: PermissionRequest, now: datetime
) -> None:
    """A confirmed correction replaces the request it corrects, if that one is still
    open: withdrawn (as its requester would from its status page, with the note
    naming the correction), its reviewer and its decision's due date kept on the
    correction. Round 59: the correction's service level counted from its own
    confirmation, though the requester had waited since the first one's; now it is
    the first one's, later by the days a question to the requester waited (the
    correction answers it, as an answer would move it: `due_after_the_wait`)."""
    if corrected.state not in OPEN_STATES:
        return  # decided, withdrawn or expired since: the correction stands alone
    if request.assignee_id is None:
        request.assignee = corrected.assignee
    kept = (
        due_after_the_wait(session, corrected, now)
        if corrected.state == NEEDS_INFO
        else corrected.sla_due_at
    )
    if kept is not None:
        request.sla_due_at = kept
    before = corrected.snapshot()
    corrected.answer_due_at = None
    close(corrected, now)
    note = f"{REPLACED_BY} {request.reference}"
    step(session, corrected, "withdraw", requester(corrected), since=before, at=now, note=note)


def _confirmation_expired(request: PermissionRequest) -> LinkExpired:
    expired = request.confirm_expires_at
    when = f" {calendar.when_text(expired)}" if expired else ""
    return LinkExpired(
        f"This confirmation link expired{when}. Submit the request "
        "again; nothing was sent to the office.",
        instants={"expired_at": expired} if expired else None,
    )


def confirm_email(raw: str, *, sla_days: int, now: datetime | None = None) -> PermissionRequest:
    """Follow the confirmation link: the request enters the staff queue (to be
    decided within `sla_days` business days), and the requester is emailed their
    status link. Following it again changes nothing."""
    moment = now or utcnow()
    by_link = PermissionRequest.confirm_token_hash == digest(raw or "")
    with db.transaction() as session:
        # The request it corrects first: several requests are locked by id.
        corrects_id = session.scalar(select(PermissionRequest.corrects_id).where(by_link))
        corrected = locked(session, corrects_id) if corrects_id is not None else None
        request = session.scalars(
            select(PermissionRequest).where(by_link).with_for_update()
        ).one_or_none()
        if request is None:
            raise LinkNotValid(NOT_VALID_MESSAGE)
        if request.state == EXPIRED and request.submitted_at is None:
            # Never confirmed, closed by the expiry job: there is no status page to open.
            raise _confirmation_expired(request)
        if request.state != UNCONFIRMED:
            check_live(request, moment)
            return request  # already confirmed: the view opens the status page
        assert request.confirm_expires_at is not None
        if request.confirm_expires_at <= moment:
            raise _confirmation_expired(request)
        before = request.snapshot()
        _enter_queue(request, moment, sla_days)
        note = None
        if corrected is not None:
            _replace_corrected(session, corrected, request, moment)
            note = f"corrects {corrected.reference}"
        step(session, request, "confirm", requester(request), since=before, at=moment, note=note)
        return request


def _enter_queue(request: PermissionRequest, now: datetime, sla_days: int) -> None:
    request.sla_due_at = sla_deadline(now, sla_days)
    request.status_token_hash = digest(status_token(request))


@PERMISSION_REQUEST.on("confirm")
def _announce(session: Session, request: Any, actor: Actor, note: str | None) -> None:
    """In the queue: the requester gets their status link, the office a notice."""
    tell_requester(session, request, "permission_received", "We received your permission request")
    tell_staff(session, request, "new request")


def request_for_link(raw: str, *, now: datetime | None = None) -> PermissionRequest:
    """The request a status link opens (for its page), or `LinkNotValid` / `LinkExpired`."""
    return by_status_token(db.session(), raw, now or utcnow())


# --- requests routed from license applications ------------------------------------------


def create_from_routed_use(
    session: Session, use: RoutedUse, *, sla_days: int, now: datetime | None = None
) -> PermissionRequest:
    """A permission request for a use that the rate card routes to the queue, in
    the caller's (the application's) transaction. The vendor user is verified, so
    there is no confirmation step; they are emailed the status link. Sending the
    same use twice creates one request."""
    existing = session.scalars(
        select(PermissionRequest).where(
            PermissionRequest.application_id == use.application_id,
            PermissionRequest.application_line == use.line_index,
        )
    ).one_or_none()
    if existing is not None:
        return existing
    moment = now or utcnow()
    request = _new_request(
        session,
        moment,
        state=PERMISSION_REQUEST.step(UNCONFIRMED, "confirm"),
        submitted_at=moment,
        **_routed_fields(use),
    )
    _enter_queue(request, moment, sla_days)
    routed = f"routed to the permissions queue from application {use.application_reference}"
    _audit_created(session, request, None, routed)
    _announce(session, request, Actor.SYSTEM, None)
    return request


def _routed_fields(use: RoutedUse) -> dict[str, Any]:
    medium = "print" if use.product_type == "print" else "electronic"
    description = " ".join(part for part in (use.product_name, use.description) if part)
    return {
        "source": "application",
        "organization_id": use.organization_id,
        "application_id": use.application_id,
        "application_line": use.line_index,
        "application_reference": use.application_reference,
        "requester_name": use.requester_name[:NAME_MAX],
        "requester_email": normalize_email(use.requester_email),
        "requester_user_id": use.requester_user_id,
        "institution": use.organization_name[:INSTITUTION_MAX],
        "role": "other",
        "organization_type": use.organization_type,
        "purpose": "other_educational",
        "purpose_detail": (
            f"From license application {use.application_reference}, use {use.line_index + 1} "
            # The use in its form's words, as the application said it (round 37).
            f"({use_described(use.use, use.product_type, use.user_type)}). {use.explanation}"
        )[:PURPOSE_DETAIL_MAX],
        "content_requested": (description or use.use)[:CONTENT_MAX],
        "medium": medium,
        "audience_size": use.audience_size,
        "duration": f"{use.term_start.isoformat()} to {use.term_end.isoformat()}",
        # The application's term is the use's (round 42): a grant defaults to it.
        "use_from": use.term_start,
        "use_until": use.term_end,
    }
