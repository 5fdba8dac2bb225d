"""License applications and agreements: the use cases.

Each public function owns its transaction (`with db.transaction()`), moves the
record through its state machine (`states.APPLICATION` / `states.AGREEMENT`),
writes the audit log and queues email in the same transaction. Time-based
rules take `now` so that tests control the clock:

- a returned application must be resubmitted within 5 US business days
  (`calendar.business_deadline`), else `expire()` lapses it;
- a rejected application may ask for reconsideration within 14 days of the
  rejection, once; afterwards the request is refused and `expire()` closes the
  window;
- an agreement whose term has ended is expired by `expire()`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from flask import current_app
from sqlalchemy import false, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import calendar, db, signals
from licensing.access import Principal
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.agreements import issuing, queries
from licensing.agreements.documents import render_agreement_pdf
from licensing.agreements.models import (
    DELIVERIES,
    LANGUAGES_MAX,
    MAX_USES,
    MODIFIED,
    NOTE_MAX,
    PRODUCT_NAME_MAX,
    REASON_MAX,
    SIGNER_MAX,
    SUBMITTED,
    TERRITORIES_MAX,
    USER_AGENT_MAX,
    Acceptance,
    Agreement,
    AgreementNumberSequence,
    Application,
    ApplicationNote,
    ApplicationUse,
    QuoteVersion,
)
from licensing.agreements.states import AGREEMENT, APPLICATION, EDITABLE
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, PermissionDenied
from licensing.limits import storable
from licensing.mail import services as mail
from licensing.money import (
    MoneyError,
    check_total,
    format_amount,
    minor_units,
    parse_decimal,
)
from licensing.pricing import Breakdown, ProposedUse, Quote, QuoteLine, QuoteRequest, Term
from licensing.pricing.quote import quantity_limit_message, revenue_limit_message
from licensing.pricing.vocabulary import PRODUCT_TYPES, USER_TYPES, USES
from licensing.ratecards import queries as ratecard_queries
from licensing.ratecards import services as ratecards

RESUBMIT_BUSINESS_DAYS = 5
RECONSIDERATION_DAYS = 14
DESCRIPTION_MAX = 2000
# Quantity units that measure the audience of an educational use, most specific first.
AUDIENCE_UNITS = ("learners", "students", "end_users", "users", "copies")


# --- input -----------------------------------------------------------------------------


class _Errors(dict[str, list[str]]):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)

    def raise_if_any(self, detail: str = "Some fields need correcting.") -> None:
        if self:
            raise InvalidInput(detail, self)


def _text(value: Any, path: str, limit: int, errors: _Errors) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(path, "Must be text.")
        return ""
    cleaned = " ".join(value.split()) if limit <= 400 else value.strip()
    if len(cleaned) > limit:
        errors.add(path, f"At most {limit} characters.")
    return cleaned


def _choice(value: Any, path: str, allowed: Sequence[str], errors: _Errors) -> str:
    if value not in allowed:
        errors.add(path, f"Must be one of: {', '.join(allowed)}.")
        return allowed[0]
    return str(value)


def _languages(value: Any, path: str, errors: _Errors) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        errors.add(path, "Must be a list of languages.")
        return []
    cleaned = list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    if len(", ".join(cleaned)) > LANGUAGES_MAX:
        errors.add(path, f"At most {LANGUAGES_MAX} characters in all.")
    return cleaned


def _quantity(value: Any, path: str, errors: _Errors) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.add(path, "Must map unit names to whole numbers.")
        return {}
    quantities: dict[str, int] = {}
    for unit, amount in value.items():
        if not isinstance(unit, str) or not unit.strip() or len(unit) > 64:
            errors.add(path, "Unit names are 1 to 64 characters.")
        elif isinstance(amount, bool) or not isinstance(amount, int):
            errors.add(f"{path}.{unit}", "Must be a whole number.")
        elif amount < 0:
            errors.add(f"{path}.{unit}", "Must be 0 or more.")
        elif amount > ProposedUse.MAX_QUANTITY:
            errors.add(f"{path}.{unit}", quantity_limit_message())
        else:
            quantities[unit.strip()] = amount
    return quantities


def _amount(value: Any, path: str, errors: _Errors) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        errors.add(path, 'Must be a decimal amount such as "120000.00".')
        return None
    try:
        amount = parse_decimal(str(value).replace(",", "").strip())
    except MoneyError as exc:
        errors.add(path, f"Must be a decimal amount, 0 or more ({exc}).")
        return None
    if amount.as_tuple().exponent < -4:  # type: ignore[operator]
        errors.add(path, "At most 4 decimal places.")
        return None
    if amount > ProposedUse.MAX_REVENUE:
        errors.add(path, revenue_limit_message())
        return None
    return amount


def _clean_use(raw: Any, prefix: str, errors: _Errors) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        errors.add(prefix, "Each use is an object.")
        return {}
    return {
        "product_name": _text(
            raw.get("product_name"), f"{prefix}.product_name", PRODUCT_NAME_MAX, errors
        ),
        "description": _text(
            raw.get("description"), f"{prefix}.description", DESCRIPTION_MAX, errors
        ),
        "use": _choice(raw.get("use"), f"{prefix}.use", USES, errors),
        "product_type": _choice(
            raw.get("product_type"), f"{prefix}.product_type", PRODUCT_TYPES, errors
        ),
        "user_type": _choice(raw.get("user_type"), f"{prefix}.user_type", USER_TYPES, errors),
        "delivery": _choice(
            raw.get("delivery") or DELIVERIES[0], f"{prefix}.delivery", DELIVERIES, errors
        ),
        "territories": _text(
            raw.get("territories"), f"{prefix}.territories", TERRITORIES_MAX, errors
        ),
        "languages": _languages(raw.get("languages"), f"{prefix}.languages", errors),
        "quantity": _quantity(raw.get("quantity"), f"{prefix}.quantity", errors),
        "revenue": _amount(raw.get("revenue"), f"{prefix}.revenue", errors),
    }


@dataclass(frozen=True)
class Draft:
    """What a vendor writes in an application (all optional until submission)."""

    term_start: date | None = None
    term_end: date | None = None
    rate_card: str | None = None
    uses: Sequence[Mapping[str, Any]] = ()


def _clean(draft: Draft) -> tuple[Draft, list[dict[str, Any]]]:
    errors = _Errors()
    if not draft.uses:
        errors.add("uses", "Describe at least one use.")
    elif len(draft.uses) > MAX_USES:
        errors.add("uses", f"At most {MAX_USES} uses in one application.")
    uses = [_clean_use(raw, f"uses.{i}", errors) for i, raw in enumerate(draft.uses[:MAX_USES])]
    if draft.term_start and draft.term_end and draft.term_end < draft.term_start:
        errors.add("term_end", "The term cannot end before it starts.")
    rate_card = (draft.rate_card or "").strip() or None
    if rate_card and len(rate_card) > 64:
        errors.add("rate_card", "At most 64 characters.")
    errors.raise_if_any()
    return dataclasses.replace(draft, rate_card=rate_card), uses


def _write_uses(application: Application, uses: list[dict[str, Any]]) -> None:
    """Make the application's uses `uses`, in order (rows are updated in place, so
    positions stay unique while the change is flushed)."""
    existing = list(application.uses)
    for position, values in enumerate(uses):
        record = existing[position] if position < len(existing) else ApplicationUse()
        record.position = position
        for name in ("product_name", "description", "use", "product_type", "user_type"):
            setattr(record, name, values[name])
        record.delivery = values["delivery"]
        record.territories = values["territories"]
        record.languages = ", ".join(values["languages"])
        record.revenue = values["revenue"]
        record.quantity = values["quantity"]
        if position >= len(existing):
            application.uses.append(record)
    for extra in existing[len(uses) :]:
        application.uses.remove(extra)


def _check_complete(session: Session, application: Application) -> None:
    """What submission needs beyond a draft: a term and every use described."""
    errors = _Errors()
    if application.term_start is None:
        errors.add("term_start", "Give the first day of the license term.")
    if application.term_end is None:
        errors.add("term_end", "Give the last day of the license term.")
    for index, use in enumerate(application.uses):
        if not use.product_name:
            errors.add(f"uses.{index}.product_name", "Name the product.")
        if not use.territories:
            errors.add(f"uses.{index}.territories", "Say where the product is used or sold.")
    if not application.uses:
        errors.add("uses", "Describe at least one use.")
    errors.raise_if_any("The application is not complete yet.")


# --- shared steps ------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def _actor(principal: Principal | None) -> str:
    return principal.email if principal else audit.SYSTEM


def _require_vendor(principal: Principal) -> None:
    if not principal.is_vendor:
        raise PermissionDenied("Only the organization's own users do this.")


def _require_licensing(principal: Principal) -> None:
    if not principal.has_role("licensing"):
        raise PermissionDenied("Only licensing staff review applications.")


def _reason(value: str | None, path: str = "reason", *, required: bool = True) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise InvalidInput.for_field(path, "Give a reason.")
        return None
    if len(cleaned) > REASON_MAX:
        raise InvalidInput.for_field(path, f"At most {REASON_MAX} characters.")
    return cleaned


def _owned(session: Session, application_id: int, principal: Principal | None) -> Application:
    return queries.get_application(session, application_id, principal, lock=True)


# The audit log's name for each step of an application.
_APPLICATION_EVENTS = {
    "submit": "submitted",
    "resubmit": "resubmitted",
    "withdraw": "withdrawn",
    "lapse": "lapsed",
    "start_review": "review_started",
    "return": "returned",
    "escalate": "escalated",
    "approve": "approved",
    "auto_approve": "auto_approved",
    "reject": "rejected",
    "request_reconsideration": "reconsideration_requested",
    "grant_reconsideration": "reconsideration_granted",
    "deny_reconsideration": "reconsideration_denied",
}


def _transition(
    session: Session,
    application: Application,
    action: str,
    now: datetime,
    *,
    note: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    before = application.state
    application.state = APPLICATION.step(before, action)
    application.updated_at = now
    audit.record(
        session,
        action=f"application.{_APPLICATION_EVENTS[action]}",
        entity_type="application",
        entity_id=application.id,
        before={"state": before},
        after={"state": application.state, **(extra or {})},
        note=note,
    )


def _tell_vendor(
    session: Session, application: Application, subject: str, message: str, **extra: Any
) -> None:
    mail.enqueue(
        session,
        to=account_queries.vendor_recipients(session, application.organization),
        subject=f"{application.reference}: {subject}",
        template="application_update",
        context={
            "application": application,
            "headline": subject,
            "message": message,
            "link": mail.absolute_url("agreements.application", application_id=application.id),
            **extra,
        },
    )


def _tell_staff(session: Session, application: Application, subject: str, message: str) -> None:
    recipients = mail.staff_recipients("licensing")
    if application.assignee is not None and application.assignee.is_active:
        recipients = [application.assignee.email]
    if not recipients:
        return
    mail.enqueue(
        session,
        to=recipients,
        subject=f"{application.reference} waits for you: {subject}",
        template="application_waiting",
        context={
            "application": application,
            "headline": subject,
            "message": message,
            "link": mail.absolute_url(
                "agreements_console.application", application_id=application.id
            ),
        },
    )


# --- drafts -------------------------------------------------------------------------------


def create_draft(principal: Principal, draft: Draft, *, now: datetime | None = None) -> Application:
    """A new draft application of the vendor's organization (good standing required)."""
    moment = _now(now)
    _require_vendor(principal)
    cleaned, uses = _clean(draft)
    with db.transaction() as session:
        organization = account_queries.own_organization(session, principal)
        accounts.ensure_good_standing(organization)
        application = Application(
            organization_id=organization.id,
            created_by_id=principal.user_id,
            state="draft",
            term_start=cleaned.term_start,
            term_end=cleaned.term_end,
            rate_card=cleaned.rate_card,
            created_at=moment,
            updated_at=moment,
        )
        application.organization = organization
        _write_uses(application, uses)
        session.add(application)
        session.flush()
        audit.record(
            session,
            action="application.created",
            entity_type="application",
            entity_id=application.id,
            before=None,
            after=application.snapshot(),
        )
        return application


def update_draft(
    application_id: int, principal: Principal, draft: Draft, *, now: datetime | None = None
) -> Application:
    """Save the vendor's changes to a draft or a returned application."""
    _require_vendor(principal)
    cleaned, uses = _clean(draft)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        if application.state not in EDITABLE:
            raise Conflict(
                f"{application.reference} is {application.state.replace('_', ' ')}; only drafts "
                "and applications returned for more information can be changed."
            )
        before = application.snapshot()
        application.term_start = cleaned.term_start
        application.term_end = cleaned.term_end
        application.rate_card = cleaned.rate_card
        _write_uses(application, uses)
        application.updated_at = _now(now)
        session.flush()
        old, new = audit.changed_fields(before, application.snapshot())
        audit.record(
            session,
            action="application.updated",
            entity_type="application",
            entity_id=application.id,
            before=old,
            after={**new, "uses": len(uses)},
        )
        return application


# --- submission ---------------------------------------------------------------------------


def _request(application: Application) -> QuoteRequest:
    assert application.term_start
    assert application.term_end
    return QuoteRequest(
        organization_type=application.organization.organization_type,
        term=Term(application.term_start, application.term_end),
        rate_card=application.rate_card,
        uses=tuple(
            ProposedUse(
                use=use.use,
                product_type=use.product_type,
                user_type=use.user_type,
                quantity=use.quantity,
                revenue=use.revenue,
                languages=tuple(use.language_list),
                description=use.product_name,
            )
            for use in application.uses
        ),
    )


def preview(application: Application) -> Quote:
    """The price the application would get if submitted now (nothing is stored);
    `InvalidInput` naming what is missing or cannot be priced."""
    session = db.session()
    _check_complete(session, application)
    return _price(session, application)


def _price(session: Session, application: Application) -> Quote:
    """Price with the card the application names or the one in effect on its start;
    a renewal for a year no card covers yet goes to staff to price by hand."""
    if awaits_rate_card(session, application):
        return _staff_priced_renewal(session, application)
    return ratecards.quote(_request(application))


def awaits_rate_card(session: Session, application: Application) -> bool:
    """A renewal whose term starts where no published rate card is in effect."""
    return (
        application.renewal_of_id is not None
        and application.rate_card is None
        and application.term_start is not None
        and ratecard_queries.in_effect(session, application.term_start) is None
    )


def _staff_priced_renewal(session: Session, application: Application) -> Quote:
    """Every use unpriced, `review: staff`, like a use no rule matches: the renewal is
    submitted and staff price it by hand. The snapshot names the renewed agreement's
    card (its rules are what the licensee has been paying under)."""
    renewed = session.get(Agreement, application.renewal_of_id)
    assert renewed is not None
    assert application.term_start is not None
    words = (
        f"no rate card is published yet for a term starting {application.term_start:%Y-%m-%d}, "
        f"so licensing staff will price this renewal of {renewed.number} by hand (it was "
        f"priced with rate card {renewed.rate_card})"
    )
    lines = tuple(
        QuoteLine(index, None, "license", "staff", None, (words,))
        for index in range(len(application.uses))
    )
    return Quote(
        rate_card=renewed.rate_card,
        currency=renewed.currency,
        proration=Fraction(1),
        lines=lines,
        total=Decimal(0).quantize(Decimal(1).scaleb(-minor_units(renewed.currency))),
        requires_review=True,
        request=_request(application),
    )


def _store_quote(
    session: Session,
    application: Application,
    quote: Quote,
    *,
    kind: str,
    actor: str,
    now: datetime,
    modifications: Sequence[Mapping[str, Any]] = (),
) -> QuoteVersion:
    try:
        check_total(quote.total)
    except MoneyError as error:
        raise InvalidInput.for_field(
            "total",
            f"The quoted total {quote.total:f} is too large to record ({error}); "
            "split the uses over several applications.",
        ) from None
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
        created_by=actor,
    )
    session.add(version)
    session.flush()
    session.expire(application, ["quotes"])
    # Unknown until staff price every licensed use: never a misleading 0.00.
    application.total = quote.total if quote.fully_priced else None
    application.currency = quote.currency
    audit.record(
        session,
        action="application.quote_stored",
        entity_type="application",
        entity_id=application.id,
        before=None,
        after={
            "quote_version": version.version,
            "kind": kind,
            "rate_card": quote.rate_card,
            "total": format_amount(quote.total, quote.currency),
            "modifications": list(modifications),
        },
    )
    return version


def _route_to_permissions(
    session: Session, application: Application, quote: Quote, principal: Principal, now: datetime
) -> None:
    """Send each use the card routes to the permissions queue, once."""
    user = session.get(User, principal.user_id)
    for line in quote.lines:
        use = application.uses[line.use_index]
        if line.route != "permission_request" or use.routed_at is not None:
            continue
        use.routed_at = now
        audience = next(
            (use.quantity[unit] for unit in AUDIENCE_UNITS if unit in use.quantity), None
        )
        assert application.term_start
        assert application.term_end
        signals.use_routed_to_permissions.send(
            signals.RoutedUse(
                application_id=application.id,
                application_reference=application.reference,
                organization_id=application.organization_id,
                organization_name=application.organization.legal_name,
                organization_type=application.organization.organization_type,
                requester_name=user.full_name if user else principal.email,
                requester_email=principal.email,
                line_index=line.use_index,
                product_name=use.product_name,
                description=use.description,
                use=use.use,
                product_type=use.product_type,
                user_type=use.user_type,
                delivery=use.delivery,
                audience_size=audience,
                term_start=application.term_start,
                term_end=application.term_end,
                explanation="; ".join(line.explanation),
            ),
            session=session,
        )
        audit.record(
            session,
            action="application.use_routed_to_permissions",
            entity_type="application",
            entity_id=application.id,
            before=None,
            after={"line": line.use_index, "product_name": use.product_name},
        )


def _auto_approvable(application: Application, quote: Quote) -> bool:
    licensed = issuing.licensed_lines(quote)
    return (
        current_app.config["LICENSING"].auto_approve
        and bool(licensed)
        and all(line.review == "auto" and line.amount is not None for line in licensed)
        and accounts.organization_in_good_standing(application.organization)
    )


def submit(
    application_id: int,
    principal: Principal,
    *,
    attest: bool,
    response: str | None = None,
    now: datetime | None = None,
) -> Application:
    """Price the application, store the quote snapshot and send it for review
    (or approve it at once when every licensed line is `review: auto`)."""
    _require_vendor(principal)
    moment = _now(now)
    if not attest:
        raise InvalidInput.for_field(
            "attest", "Confirm that the information in the application is accurate."
        )
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        action = "resubmit" if application.state == "returned" else "submit"
        APPLICATION.step(application.state, action)
        if action == "resubmit" and application.resubmit_by and moment > application.resubmit_by:
            raise Conflict(
                f"The deadline to resubmit {application.reference} passed at "
                f"{calendar.deadline_text(application.resubmit_by)}; the application has "
                "lapsed. "
                "Start a new application."
            )
        accounts.ensure_good_standing(application.organization)
        _check_complete(session, application)
        quote = _price(session, application)
        if not issuing.licensed_lines(quote):
            raise InvalidInput.for_field(
                "uses",
                "Every use in this application is educational use that goes to the "
                "permissions queue: request permission instead of a license.",
            )
        _store_quote(session, application, quote, kind=SUBMITTED, actor=principal.email, now=moment)
        application.attested_by_id = principal.user_id
        application.attested_at = moment
        application.submitted_at = application.submitted_at or moment
        if action == "resubmit":
            application.vendor_response = _reason(response, "response", required=False)
            application.return_reason = None
            application.resubmit_by = None
        _transition(
            session,
            application,
            action,
            moment,
            extra={"attested_by": principal.email, "total": quote.total},
        )
        _route_to_permissions(session, application, quote, principal, moment)
        if _auto_approvable(application, quote):
            _transition(
                session,
                application,
                "auto_approve",
                moment,
            )
            _approve(session, application, actor=audit.SYSTEM, now=moment, automatic=True)
        else:
            _tell_staff(
                session,
                application,
                "resubmitted with more information"
                if action == "resubmit"
                else "a new application to review",
                f"{application.organization.legal_name} "
                f"{'resubmitted' if action == 'resubmit' else 'submitted'} "
                f"{application.reference} ({len(application.uses)} uses, "
                + (
                    f"quoted {format_amount(quote.total, quote.currency)} {quote.currency})."
                    if quote.fully_priced
                    else "to be priced by staff)."
                ),
            )
        return application


def withdraw(
    application_id: int, principal: Principal, *, now: datetime | None = None
) -> Application:
    """The vendor takes the application back, at any time before a decision."""
    _require_vendor(principal)
    moment = _now(now)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        _transition(session, application, "withdraw", moment)
        return application


# --- staff review ---------------------------------------------------------------------------


def start_review(
    application_id: int, principal: Principal, *, now: datetime | None = None
) -> Application:
    _require_licensing(principal)
    moment = _now(now)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        _transition(session, application, "start_review", moment)
        if application.assignee_id is None:
            _set_assignee(session, application, principal.user_id)
        return application


def _set_assignee(session: Session, application: Application, assignee_id: int | None) -> None:
    assignee = None if assignee_id is None else session.get(User, assignee_id)
    if assignee_id is not None and (
        assignee is None or not assignee.is_active or not {"licensing", "admin"} & assignee.roles
    ):
        raise InvalidInput.for_field(
            "assignee_id", "Choose an active member of the licensing staff."
        )
    before = application.assignee_id
    application.assignee = assignee
    application.assignee_id = assignee_id
    audit.record(
        session,
        action="application.assigned",
        entity_type="application",
        entity_id=application.id,
        before={"assignee_id": before},
        after={"assignee_id": assignee_id},
    )


def assign(application_id: int, assignee_id: int | None, principal: Principal) -> Application:
    """Give the application to a reviewer (or to nobody)."""
    _require_licensing(principal)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        if application.state not in (*queries.AWAITING_STAFF, "returned"):
            raise Conflict(f"{application.reference} is decided; there is nothing to assign.")
        _set_assignee(session, application, assignee_id)
        return application


def add_note(application_id: int, body: str, principal: Principal) -> ApplicationNote:
    """An internal note: staff only, never shown to the vendor."""
    _require_licensing(principal)
    text = (body or "").strip()
    if not text:
        raise InvalidInput.for_field("body", "Write the note.")
    if len(text) > NOTE_MAX:
        raise InvalidInput.for_field("body", f"At most {NOTE_MAX} characters.")
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        note = ApplicationNote(
            application_id=application.id, author_id=principal.user_id, body=text
        )
        session.add(note)
        session.flush()
        audit.record(
            session,
            action="application.note_added",
            entity_type="application",
            entity_id=application.id,
            before=None,
            after={"note_id": note.id},
            note=text,
        )
        return note


def return_for_information(
    application_id: int, reason: str, principal: Principal, *, now: datetime | None = None
) -> Application:
    """Ask the vendor for missing information: 5 US business days to resubmit."""
    _require_licensing(principal)
    moment = _now(now)
    text = _reason(reason)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        _transition(session, application, "return", moment, note=text)
        application.return_reason = text
        application.returned_at = moment
        application.resubmit_by = calendar.business_deadline(moment, RESUBMIT_BUSINESS_DAYS)
        _tell_vendor(
            session,
            application,
            "more information needed",
            f"The licensing office needs more information: {text}\n\nChange the application "
            f"and resubmit it by {calendar.deadline_text(application.resubmit_by)}, or it "
            "lapses.",
        )
        return application


def escalate(
    application_id: int, reason: str, principal: Principal, *, now: datetime | None = None
) -> Application:
    """Send the application to a second reviewer (who then decides it)."""
    _require_licensing(principal)
    moment = _now(now)
    text = _reason(reason)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        _transition(
            session,
            application,
            "escalate",
            moment,
            note=text,
        )
        application.escalated_by_id = principal.user_id
        if application.assignee_id == principal.user_id:
            _set_assignee(session, application, None)
        _tell_staff(
            session,
            application,
            "escalated for a second review",
            f"Escalated by {principal.email}: {text}",
        )
        return application


def _check_second_reviewer(application: Application, principal: Principal) -> None:
    if application.state == "escalated" and application.escalated_by_id == principal.user_id:
        raise Conflict(f"You escalated {application.reference}: a second reviewer decides it.")


@dataclass(frozen=True)
class LineChange:
    line: int
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Modifications:
    """Staff changes on approval: amounts per line, and the term, each with a reason."""

    lines: Sequence[LineChange] = ()
    term_start: date | None = None
    term_end: date | None = None
    term_reason: str | None = None

    @property
    def empty(self) -> bool:
        return not self.lines and self.term_start is None and self.term_end is None


def _amended_line(line: QuoteLine, amount: Decimal, currency: str, reason: str) -> QuoteLine:
    old = "unpriced" if line.amount is None else format_amount(line.amount, currency)
    new = format_amount(amount, currency)
    breakdown = line.breakdown
    if breakdown is None:  # a use no rule priced: the amount staff set is due up front
        breakdown = _fixed_breakdown(amount)
    else:
        # Keep the share of the line that is due up front; an unpriced or zero
        # line becomes all up front.
        if line.amount:
            fixed = (breakdown.fixed * amount / line.amount).quantize(
                Decimal(1).scaleb(-minor_units(currency))
            )
            fixed = min(fixed, amount)
        else:
            fixed = amount
        breakdown = dataclasses.replace(breakdown, fixed=fixed, variable=amount - fixed)
    return dataclasses.replace(
        line,
        amount=amount,
        breakdown=breakdown,
        explanation=(*line.explanation, f"{issuing.AMENDED} from {old} to {new}: {reason}"),
    )


def _fixed_breakdown(amount: Decimal) -> Breakdown:
    return Breakdown(
        model_type="flat",
        raw=Fraction(amount),
        discount_id=None,
        discount_percent=Decimal(0),
        discounted=Fraction(amount),
        minimum_prorated=None,
        maximum_prorated=None,
        bound_applied=None,
        unrounded=Fraction(amount),
        fixed=amount,
        variable=Decimal(0),
    )


def _modified_quote(
    session: Session, application: Application, original: Quote, changes: Modifications
) -> tuple[Quote, list[dict[str, Any]]]:
    errors = _Errors()
    records: list[dict[str, Any]] = []
    quote = original
    assert original.request is not None
    if changes.term_start is not None or changes.term_end is not None:
        start = changes.term_start or original.request.term.start
        end = changes.term_end or original.request.term.end
        reason = (changes.term_reason or "").strip()
        if not reason:
            errors.add("term_reason", "Give the reason for changing the term.")
        errors.raise_if_any("Every change needs a reason.")
        if (start, end) != (original.request.term.start, original.request.term.end):
            request = dataclasses.replace(original.request, term=Term(start, end))
            try:
                quote = ratecards.quote(request)
            except InvalidInput as invalid:
                raise InvalidInput(
                    "The new term cannot be priced.",
                    {
                        f"term.{k}" if not k.startswith("term") else k: v
                        for k, v in invalid.errors.items()
                    },
                ) from None
            for name, old, new in (
                ("term_start", original.request.term.start, start),
                ("term_end", original.request.term.end, end),
            ):
                if old != new:
                    records.append(
                        {
                            "field": name,
                            "line": None,
                            "from": old.isoformat(),
                            "to": new.isoformat(),
                            "reason": reason,
                        }
                    )
    lines = list(quote.lines)
    places = minor_units(quote.currency)
    for index, change in enumerate(changes.lines):
        path = f"lines.{index}"
        if not 0 <= change.line < len(lines) or lines[change.line].route != "license":
            errors.add(f"{path}.line", "Choose a licensed use of this application.")
            continue
        if not change.reason.strip():
            errors.add(f"{path}.reason", "Give the reason for changing the amount.")
            continue
        if change.amount < 0 or change.amount != change.amount.quantize(Decimal(1).scaleb(-places)):
            errors.add(f"{path}.amount", f"An amount of 0 or more with at most {places} decimals.")
            continue
        line = lines[change.line]
        records.append(
            {
                "field": "amount",
                "line": change.line,
                "from": None if line.amount is None else format_amount(line.amount, quote.currency),
                "to": format_amount(change.amount, quote.currency),
                "reason": change.reason.strip(),
            }
        )
        lines[change.line] = _amended_line(
            line, change.amount, quote.currency, change.reason.strip()
        )
    errors.raise_if_any("Some changes need correcting.")
    total = sum((line.amount for line in lines if line.amount is not None), Decimal(0))
    return dataclasses.replace(quote, lines=tuple(lines), total=total), records


def _approve(
    session: Session,
    application: Application,
    *,
    actor: str,
    now: datetime,
    automatic: bool = False,
) -> Agreement:
    application.decided_at = now
    application.decided_by = actor
    application.decision_reason = None
    version = application.quotes[-1]
    agreement = _issue_agreement(session, application, version, now)
    how = "approved automatically" if automatic else "approved"
    _tell_vendor(
        session,
        application,
        f"{how}: agreement {agreement.number} is ready to accept",
        f"Your application is {how}. License agreement {agreement.number} is issued for "
        f"{version.term_start.isoformat()} to {version.term_end.isoformat()}, total "
        f"{format_amount(version.total, version.currency)} {version.currency}. Read it and "
        "accept it online to make it active.",
        agreement_link=mail.absolute_url("agreements.agreement", agreement_id=agreement.id),
    )
    return agreement


def approve(
    application_id: int,
    principal: Principal,
    *,
    modifications: Modifications | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Application:
    """Approve as quoted, or with modified amounts or term (each with a reason;
    a new quote version is stored and the submitted one kept); issues the agreement."""
    _require_licensing(principal)
    moment = _now(now)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        APPLICATION.step(application.state, "approve")
        _check_second_reviewer(application, principal)
        submitted = application.submitted_quote
        assert submitted is not None
        quote = Quote.from_snapshot(submitted.snapshot)
        if modifications is not None and not modifications.empty:
            modified, records = _modified_quote(session, application, quote, modifications)
            _store_quote(
                session,
                application,
                modified,
                kind=MODIFIED,
                actor=principal.email,
                now=moment,
                modifications=records,
            )
        else:
            unpriced = [
                line.use_index + 1 for line in issuing.licensed_lines(quote) if line.amount is None
            ]
            if unpriced:
                raise InvalidInput.for_field(
                    "lines",
                    f"Use {', '.join(map(str, unpriced))} has no price on the rate card: approve "
                    "with modifications giving its amount.",
                )
        _transition(
            session,
            application,
            "approve",
            moment,
            note=(note or "").strip() or None,
            extra={"total": application.total},
        )
        _approve(session, application, actor=principal.email, now=moment)
        return application


def reject(
    application_id: int, reason: str, principal: Principal, *, now: datetime | None = None
) -> Application:
    """Reject with a reason; the vendor may ask for reconsideration within 14 days."""
    _require_licensing(principal)
    moment = _now(now)
    text = _reason(reason)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        APPLICATION.step(application.state, "reject")
        _check_second_reviewer(application, principal)
        _transition(session, application, "reject", moment, note=text)
        application.decision_reason = text
        application.decided_at = moment
        application.decided_by = principal.email
        application.reconsider_by = moment + timedelta(days=RECONSIDERATION_DAYS)
        _tell_vendor(
            session,
            application,
            "rejected",
            f"Your application is rejected: {text}\n\nYou may ask for reconsideration, with "
            f"your reasons, until {calendar.deadline_text(application.reconsider_by)}.",
        )
        return application


def request_reconsideration(
    application_id: int, reason: str, principal: Principal, *, now: datetime | None = None
) -> Application:
    """The vendor asks staff to reconsider a rejection: once, within 14 days."""
    _require_vendor(principal)
    moment = _now(now)
    text = _reason(reason)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        APPLICATION.step(application.state, "request_reconsideration")
        if application.reconsideration_requested_at is not None:
            raise Conflict(
                f"Reconsideration of {application.reference} was already requested and decided; "
                "it can be asked for once."
            )
        if application.reconsider_by is None:
            raise Conflict(f"The rejection of {application.reference} is final.")
        if application.reconsideration_closed_at is not None:
            # Closed by the expiry run: its clock decides, not the request's.
            raise Conflict(
                f"The 14 days to ask for reconsideration of {application.reference} ended "
                f"{calendar.deadline_text(application.reconsider_by)} and the window was closed; "
                "the rejection is final."
            )
        if moment > application.reconsider_by:
            raise Conflict(
                f"The 14 days to ask for reconsideration of {application.reference} ended "
                f"{calendar.deadline_text(application.reconsider_by)}; the rejection is final."
            )
        _transition(
            session,
            application,
            "request_reconsideration",
            moment,
            note=text,
        )
        application.reconsideration_reason = text
        application.reconsideration_requested_at = moment
        _tell_staff(session, application, "reconsideration requested", f"The vendor asks: {text}")
        return application


def grant_reconsideration(
    application_id: int,
    principal: Principal,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> Application:
    """Staff reopen a rejected application: it goes back to review."""
    _require_licensing(principal)
    moment = _now(now)
    text = _reason(reason, required=False)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        _transition(
            session,
            application,
            "grant_reconsideration",
            moment,
            note=text,
        )
        application.decision_reason = None
        application.decided_at = None
        application.decided_by = None
        _tell_vendor(
            session,
            application,
            "reconsideration granted",
            "The licensing office will review your application again."
            + (f" {text}" if text else ""),
        )
        return application


def deny_reconsideration(
    application_id: int, reason: str, principal: Principal, *, now: datetime | None = None
) -> Application:
    """Staff confirm the rejection; it is final."""
    _require_licensing(principal)
    moment = _now(now)
    text = _reason(reason)
    with db.transaction() as session:
        application = _owned(session, application_id, principal)
        _transition(
            session,
            application,
            "deny_reconsideration",
            moment,
            note=text,
        )
        application.decision_reason = text
        application.decided_at = moment
        application.decided_by = principal.email
        _tell_vendor(
            session,
            application,
            "reconsideration denied",
            f"The rejection stands and is final: {text}",
        )
        return application


# --- agreements ------------------------------------------------------------------------------


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
            return f"CPT-{year}-{bumped:06d}"
        try:
            with session.begin_nested():
                session.add(AgreementNumberSequence(year=year, last=0))
        except IntegrityError:
            continue  # another issuer created the year's row first: bump it
    raise Conflict("Could not allocate an agreement number; try again.")


def _issue_agreement(
    session: Session, application: Application, version: QuoteVersion, now: datetime
) -> Agreement:
    settings = current_app.config["LICENSING"]
    number = _next_number(session, version.term_start.year)
    renewal_of = application.renewal_of
    document = issuing.build_document(
        session,
        number=number,
        issued_on=calendar.office_date(now),
        application=application,
        version=version,
        payment_terms_days=settings.payment_terms_days,
        late_fee_percent=settings.late_fee_monthly_percent,
        renewal_of=renewal_of.number if renewal_of else None,
    )
    pdf = render_agreement_pdf(document)
    agreement = Agreement(
        number=number,
        organization_id=application.organization_id,
        application_id=application.id,
        quote_id=version.id,
        state="issued",
        term_start=version.term_start,
        term_end=version.term_end,
        rate_card=version.rate_card,
        currency=version.currency,
        total=version.total,
        payment_terms_days=settings.payment_terms_days,
        late_fee_monthly_percent=settings.late_fee_monthly_percent,
        pdf=pdf,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        issued_at=now,
        renewal_of_id=application.renewal_of_id,
    )
    session.add(agreement)
    session.flush()
    audit.record(
        session,
        action="agreement.issued",
        entity_type="agreement",
        entity_id=agreement.id,
        before=None,
        after={
            **agreement.snapshot(),
            "application_id": application.id,
            "quote_version": version.version,
        },
    )
    return agreement


_AGREEMENT_EVENTS = {
    "accept": "accepted",
    "expire": "expired",
    "terminate": "terminated",
    "supersede": "superseded",
}


def _agreement_step(
    session: Session,
    agreement: Agreement,
    action: str,
    *,
    note: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    before = agreement.state
    agreement.state = AGREEMENT.step(before, action)
    audit.record(
        session,
        action=f"agreement.{_AGREEMENT_EVENTS[action]}",
        entity_type="agreement",
        entity_id=agreement.id,
        before={"state": before},
        after={"state": agreement.state, **(extra or {})},
        note=note,
    )


def _tell_licensee(session: Session, agreement: Agreement, subject: str, message: str) -> None:
    mail.enqueue(
        session,
        to=account_queries.vendor_recipients(session, agreement.organization),
        subject=f"Agreement {agreement.number}: {subject}",
        template="agreement_update",
        context={
            "agreement": agreement,
            "headline": subject,
            "message": message,
            "link": mail.absolute_url("agreements.agreement", agreement_id=agreement.id),
        },
    )


def _charges(agreement: Agreement) -> tuple[signals.UpFrontCharge, ...]:
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    uses = agreement.application.uses
    charges = []
    for line in issuing.licensed_lines(quote):
        if line.breakdown is None or line.breakdown.fixed <= 0:
            continue
        use = uses[line.use_index]
        charges.append(
            signals.UpFrontCharge(
                line_index=line.use_index,
                description=(
                    f"{use.product_name}: {use.use.replace('_', ' ')} of "
                    f"{use.product_type.replace('_', ' ')}"
                    + (f" (rule {line.rule})" if line.rule else "")
                ),
                amount=line.breakdown.fixed,
                working=_up_front_working(line, quote.currency),
            )
        )
    return tuple(charges)


def _up_front_working(line: QuoteLine, currency: str) -> str:
    """The line's working, ending in what the up-front invoice charges: its fixed
    part (flat fees and the minimum's lift), not the line's whole estimate."""
    assert line.breakdown is not None
    breakdown = line.breakdown
    steps = list(line.explanation)
    if breakdown.variable > 0:
        steps.append(
            f"of this, {format_amount(breakdown.variable, currency)} is usage royalties, "
            "invoiced on reported usage"
        )
    steps.append(
        f"charged now (flat fees and the minimum's lift): "
        f"{format_amount(breakdown.fixed, currency)} {currency}"
    )
    return "; ".join(steps)


@dataclass(frozen=True)
class AcceptanceInput:
    signer_name: str
    signer_title: str
    authority_confirmed: bool
    pdf_sha256: str
    ip_address: str
    user_agent: str


def accept(
    agreement_id: int,
    principal: Principal,
    given: AcceptanceInput,
    *,
    now: datetime | None = None,
) -> Agreement:
    """Click-through acceptance of the exact PDF the signer was shown: the agreement
    becomes active and billing is told (`signals.agreement_activated`)."""
    moment = _now(now)
    errors = _Errors()
    name = _text(given.signer_name, "signer_name", SIGNER_MAX, errors)
    title = _text(given.signer_title, "signer_title", SIGNER_MAX, errors)
    if not name:
        errors.add("signer_name", "Give your full name.")
    if not title:
        errors.add("signer_title", "Give your title.")
    if not given.authority_confirmed:
        errors.add(
            "authority_confirmed", "Confirm that you are authorised to bind the organization."
        )
    digest = (given.pdf_sha256 or "").strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        errors.add("pdf_sha256", "The SHA-256 of the agreement PDF, 64 hexadecimal digits.")
    errors.raise_if_any()
    with db.transaction() as session:
        agreement = queries.get_agreement(session, agreement_id, principal, lock=True)
        if principal.organization_id != agreement.organization_id:
            raise PermissionDenied("Only the licensee's own users accept an agreement.")
        AGREEMENT.step(agreement.state, "accept")
        if digest != agreement.pdf_sha256:
            raise Conflict(
                "The document you accepted is not this agreement's PDF (its SHA-256 differs); "
                "download it again and accept the copy you read."
            )
        acceptance = Acceptance(
            agreement_id=agreement.id,
            user_id=principal.user_id,
            signer_name=name,
            signer_title=title,
            authority_confirmed=True,
            accepted_at=moment,
            ip_address=(given.ip_address or "unknown")[:64],
            user_agent=storable(given.user_agent or "unknown")[:USER_AGENT_MAX],
            pdf_sha256=digest,
        )
        session.add(acceptance)
        agreement.activated_at = moment
        _agreement_step(
            session,
            agreement,
            "accept",
            extra={
                "signer_name": name,
                "signer_title": title,
                "accepted_at": moment,
                "ip_address": acceptance.ip_address,
                "user_agent": acceptance.user_agent,
                "pdf_sha256": digest,
            },
        )
        organization = agreement.organization
        if organization.standing == "applying":
            accounts.change_standing(
                session,
                organization,
                "activate",
                reason=f"agreement {agreement.number} accepted",
                notify=False,
            )
        _supersede_renewed(session, agreement, moment)
        session.flush()
        signals.agreement_activated.send(
            signals.ActivatedAgreement(
                agreement_id=agreement.id,
                number=agreement.number,
                organization_id=agreement.organization_id,
                currency=agreement.currency,
                activated_at=moment,
                term_start=agreement.term_start,
                term_end=agreement.term_end,
                rate_card_version=agreement.rate_card,
                payment_terms_days=agreement.payment_terms_days,
                late_fee_monthly_percent=agreement.late_fee_monthly_percent,
                charges=_charges(agreement),
            ),
            session=session,
        )
        _tell_licensee(
            session,
            agreement,
            "accepted and active",
            f"{name} ({title}) accepted agreement {agreement.number} on "
            f"{moment:%Y-%m-%d %H:%M} UTC. The license is active from "
            f"{agreement.term_start.isoformat()} to {agreement.term_end.isoformat()}.",
        )
        session.refresh(agreement, ["acceptance"])
        return agreement


def _supersede_renewed(session: Session, renewal: Agreement, now: datetime) -> None:
    if renewal.renewal_of_id is None:
        return
    old = session.get(Agreement, renewal.renewal_of_id, with_for_update=True)
    if old is None or not AGREEMENT.can(old.state, "supersede"):
        return
    old.superseded_by_id = renewal.id
    old.ended_at = now
    _agreement_step(session, old, "supersede", extra={"superseded_by": renewal.number})


def terminate(
    agreement_id: int, reason: str, principal: Principal, *, now: datetime | None = None
) -> Agreement:
    """Staff end an agreement early, with a reason (the licensee is told)."""
    _require_licensing(principal)
    moment = _now(now)
    text = _reason(reason)
    with db.transaction() as session:
        agreement = queries.get_agreement(session, agreement_id, principal, lock=True)
        _agreement_step(session, agreement, "terminate", note=text)
        agreement.termination_reason = text
        agreement.ended_at = moment
        _tell_licensee(
            session,
            agreement,
            "terminated",
            f"The licensing office terminated the agreement: {text}",
        )
        return agreement


def _next_term(session: Session, agreement: Agreement) -> tuple[date, date, str | None]:
    start = agreement.term_end + timedelta(days=1)
    card = ratecard_queries.in_effect(session, start)
    if card is not None:
        return start, card.effective_to, card.version
    try:
        end = start.replace(year=start.year + 1) - timedelta(days=1)
    except ValueError:  # 29 February
        end = start + timedelta(days=364)
    return start, end, None


def start_renewal(
    agreement_id: int, principal: Principal, *, now: datetime | None = None
) -> Application:
    """A new draft application prefilled from the agreement, for the next rate card
    year; when its agreement is accepted this one becomes superseded."""
    _require_vendor(principal)
    moment = _now(now)
    with db.transaction() as session:
        agreement = queries.get_agreement(session, agreement_id, principal, lock=True)
        if agreement.state not in ("active", "expired"):
            raise Conflict(
                f"Agreement {agreement.number} is {agreement.state}; only active or expired "
                "agreements are renewed."
            )
        pending = session.scalars(
            select(Application).where(
                Application.renewal_of_id == agreement.id,
                Application.state.not_in(("withdrawn", "lapsed", "rejected")),
            )
        ).first()
        if pending is not None:
            raise Conflict(f"{pending.reference} already renews agreement {agreement.number}.")
        organization = account_queries.own_organization(session, principal)
        accounts.ensure_good_standing(organization)
        start, end, card = _next_term(session, agreement)
        quote = Quote.from_snapshot(agreement.quote.snapshot)
        licensed = {line.use_index for line in issuing.licensed_lines(quote)}
        application = Application(
            organization_id=organization.id,
            created_by_id=principal.user_id,
            state="draft",
            term_start=start,
            term_end=end,
            rate_card=card,
            renewal_of_id=agreement.id,
            created_at=moment,
            updated_at=moment,
        )
        application.organization = organization
        _write_uses(
            application,
            [
                use.fields()
                for index, use in enumerate(agreement.application.uses)
                if index in licensed
            ],
        )
        session.add(application)
        session.flush()
        audit.record(
            session,
            action="application.created",
            entity_type="application",
            entity_id=application.id,
            before=None,
            after={**application.snapshot(), "renewal_of": agreement.number},
        )
        return application


# --- time-based steps ----------------------------------------------------------------------


@dataclass
class ExpiryReport:
    lapsed: list[str] = field(default_factory=list)
    windows_closed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.lapsed)} applications lapsed, {len(self.windows_closed)} reconsideration "
            f"windows closed, {len(self.expired)} agreements expired"
        )


def _write_lock_first(session: Session) -> None:
    """SQLite: take the database's write lock before reading what to change.

    There, FOR UPDATE does not exist and a reader that later writes after another
    run committed fails; a write that matches nothing takes the lock up front, so
    a second run waits for the first and then finds nothing left to do.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(AgreementNumberSequence)
            .where(false())
            .values(last=AgreementNumberSequence.last)
            .execution_options(synchronize_session=False)
        )


def _claim(session: Session, statement: Any) -> list[Any]:
    """Rows to process, locked; rows another host holds are skipped (PostgreSQL)."""
    return list(session.scalars(statement.with_for_update(skip_locked=True)))


def expire(*, now: datetime | None = None) -> ExpiryReport:
    """Lapse returned applications past their 5 business days, close reconsideration
    windows past 14 days, expire agreements past their term. Idempotent; safe on
    several hosts at once (each row is claimed under a lock and re-checked)."""
    moment = _now(now)
    today = calendar.office_date(moment)
    report = ExpiryReport()
    with db.transaction() as session:
        _write_lock_first(session)
        for application in _claim(
            session,
            select(Application).where(
                Application.state == "returned", Application.resubmit_by < moment
            ),
        ):
            _transition(session, application, "lapse", moment)
            report.lapsed.append(application.reference)
            _tell_vendor(
                session,
                application,
                "lapsed",
                f"The application was not resubmitted by "
                f"{calendar.deadline_text(application.resubmit_by)}, so "
                "it has lapsed. Start a new application when you are ready.",
            )
        for application in _claim(
            session,
            select(Application).where(
                Application.state == "rejected",
                Application.reconsider_by < moment,
                Application.reconsideration_requested_at.is_(None),
                Application.reconsideration_closed_at.is_(None),
            ),
        ):
            application.reconsideration_closed_at = moment
            audit.record(
                session,
                action="application.reconsideration_window_closed",
                entity_type="application",
                entity_id=application.id,
                before={"reconsideration_closed_at": None},
                after={"reconsideration_closed_at": moment},
            )
            report.windows_closed.append(application.reference)
        for agreement in _claim(
            session,
            select(Agreement).where(
                Agreement.state.in_(("issued", "active")), Agreement.term_end < today
            ),
        ):
            agreement.ended_at = moment
            _agreement_step(session, agreement, "expire")
            report.expired.append(agreement.number)
            _tell_licensee(
                session,
                agreement,
                "expired",
                f"The term ended on {agreement.term_end.isoformat()}. Renew it from the "
                "agreement's page to keep using CPT content.",
            )
    return report


def ages(applications: Iterable[Application], now: datetime) -> dict[int, timedelta]:
    return {a.id: now - (a.submitted_at or a.created_at) for a in applications}


def parse_amount(text: str) -> Decimal:
    """An amount typed by staff (`1,250.00`); InvalidInput otherwise."""
    try:
        return parse_decimal(text.replace(",", "").strip())
    except (MoneyError, InvalidOperation):
        raise InvalidInput.for_field("amount", 'Enter an amount such as "1250.00".') from None
