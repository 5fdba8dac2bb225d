"""/api/v1/agreements: issued license agreements, their PDF, acceptance, renewal and
termination.

The PDF is stored when the agreement is issued and served byte for byte; to
accept, send the SHA-256 of the PDF you read: it must be the stored one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import marshmallow as ma
from flask import Response, request

from licensing import access, calendar, db
from licensing.actors import current_actor
from licensing.agreements import hand_priced, queries, services, step_checks
from licensing.agreements.hand_priced import HandPriced
from licensing.agreements.models import (
    REASON_MAX,
    REASON_REQUIRED,
    SIGNER_MAX,
    Agreement,
    Application,
)
from licensing.agreements.services.renewal import renewal_refusal, renewal_starts, window_opens
from licensing.agreements.settings import IssuingPolicy
from licensing.agreements.states import AGREEMENT, REPLACED
from licensing.api.applications import ApplicationSchema
from licensing.api.base import Blueprint, Created, ReadPage, never_answers
from licensing.api.fields import (
    ApiSchema,
    Day,
    MoneyString,
    Percent,
    Required,
    Text,
    allowed_actions_field,
    callers_actions,
    documented,
    steps_of,
    vocabulary,
)
from licensing.config import current_config
from licensing.db import utcnow
from licensing.downloads import pdf_response
from licensing.ratecards import queries as ratecard_queries
from licensing.ratecards.queries import Catalogue

blp = Blueprint(
    "agreements_api",
    __name__,
    description="License agreements: the PDF, click-through acceptance, renewal, termination.",
)

# The route that takes each step of an agreement (`callers_actions`); `expire`
# and `supersede` are the service's.
AGREEMENT_STEP_ROUTES = {
    "accept": "agreements_api.accept_agreement",
    "terminate": "agreements_api.terminate_agreement",
    "reissue": "agreements_api.reissue_agreement",
}

Length = ma.validate.Length


class AgreementAcceptanceSchema(ApiSchema):
    signer_name = ma.fields.String()
    signer_title = ma.fields.String()
    authority_confirmed = ma.fields.Boolean()
    accepted_at = ma.fields.DateTime()
    ip_address = ma.fields.String()
    user_agent = ma.fields.String()
    pdf_sha256 = ma.fields.String()


class AgreementRenewalSchema(ApiSchema):
    available = ma.fields.Boolean(
        metadata={
            "description": (
                "True when a renewal can be drawn now (`POST /api/v1/agreements/{id}/renewal`, "
                "by the organization's users): the agreement is active or expired, no "
                "application renews it, and the organization is in good standing, as for "
                "any new application (not suspended, closed or held pending payment), and, "
                "for an active agreement, its term ends within 90 days (from `opens_on`, "
                "round 53: as the agreement's page offers *Renew*). False exactly when that "
                "POST answers 409, which says why (before the window: from when). Renewal "
                "is not a state transition, so it is not among `allowed_actions`."
            )
        }
    )
    term_start = Day(
        metadata={
            "description": "The first day of the term a renewal drawn today licenses: the "
            "day after this agreement's term ends, or today once that day has passed (an "
            "expired agreement renewed late; the days between are licensed by neither, "
            "round 59)"
        }
    )
    opens_on = Day(
        metadata={
            "description": "The first day a renewal of this agreement may be drawn (round "
            "53): 90 days before its term ends, when the office lists it among the "
            "renewals due; an expired agreement's is past"
        }
    )
    application_id = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": (
                "The application that renews this agreement (a draft, under review, or "
                "approved; read it at `/api/v1/applications/{id}`), null when none does. "
                "Once its agreement is accepted, `renewed_by` names that agreement too."
            )
        },
    )


class CorrectedDaysSchema(ApiSchema):
    version = ma.fields.String(metadata={"description": "The card that now prices these days"})
    first = Day(metadata={"description": "The first day of the term it prices"})
    last = Day(metadata={"description": "The last day of the term it prices"})


class RateCardReplacementSchema(ApiSchema):
    versions = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "The cards published after the agreement's `rate_card` that now "
            "price days of its term, for quotes naming no card (a correction), in the order "
            "of the days (round 61: also a correction for part of the card's period, where "
            "the term falls in that part)"
        },
    )
    published_on = Day(
        metadata={
            "description": "The day the last of them was published (the office's day): "
            "since when the agreement's card is corrected"
        }
    )
    days = ma.fields.List(
        ma.fields.Nested(CorrectedDaysSchema),
        metadata={"description": "Which days of the term each of `versions` prices (round 61)"},
    )
    whole_term = ma.fields.Boolean(
        metadata={
            "description": "Whether `days` are every day of the term; false when a "
            "correction covers only part of it (round 61)"
        }
    )
    whole_card = ma.fields.Boolean(
        metadata={
            "description": "Whether `versions` replace the agreement's card for every day "
            "of its period, as `GET /api/v1/rate-cards/{version}`'s `replaced_by` lists "
            "them; false for a correction of part of its period (round 61)"
        }
    )


class AgreementSchema(ApiSchema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"example": "CPT-2027-000042"})
    organization_id = ma.fields.Integer()
    application_id = ma.fields.Integer()
    state = ma.fields.String(metadata={"enum": list(AGREEMENT.states)})
    allowed_actions = allowed_actions_field()
    term_start = Day()
    term_end = Day()
    rate_card = documented(
        "_rate_card",
        {
            "type": "string",
            "nullable": True,
            "description": "The rate card that priced it; null where none did (round 66): "
            "a renewal licensing staff priced by hand, no card in its currency being in "
            "effect on its first day (`priced_by_hand`), whose quote names the renewed "
            "agreement's card",
        },
    )
    priced_by_hand = documented(
        "_priced_by_hand",
        {
            "type": "boolean",
            "description": "Whether licensing staff priced it by hand, on no rate card "
            "(round 66; `rate_card` is null then)",
        },
    )
    rate_card_in_effect = documented(
        "_rate_card_in_effect",
        {
            "type": "string",
            "nullable": True,
            "description": "Priced by hand: the card in effect in its currency on its first "
            "day when it was issued, published after it was priced; null where none was, "
            "and for an agreement a card priced (round 66)",
        },
    )
    currency = ma.fields.String()
    total = MoneyString(
        metadata={"description": "The term's total as estimated from the application"}
    )
    charged_to_date = MoneyString(
        metadata={
            "description": (
                "What the agreement's invoices have charged so far (its up-front invoice "
                "and its royalty reports' invoices, less credit notes against them; void "
                "invoices and late fees aside)"
            )
        }
    )
    payment_terms_days = ma.fields.Integer()
    late_fee_monthly_percent = Percent(metadata={"description": "Late fee per month, percent"})
    pdf_sha256 = ma.fields.String()
    issued_at = ma.fields.DateTime()
    activated_at = ma.fields.DateTime(allow_none=True)
    ended_at = ma.fields.DateTime(allow_none=True)
    termination_reason = ma.fields.String(allow_none=True)
    renewal_of = ma.fields.Method("_renewal_of", metadata={"type": "string", "nullable": True})
    renewed_by = ma.fields.Method(
        "_renewed_by",
        metadata={
            "type": "string",
            "nullable": True,
            "description": (
                "The accepted renewal that takes over (or took over) from this agreement, "
                "as its pages say 'Renewed by' or 'Superseded by'; null until one is accepted"
            ),
        },
    )
    reissue_of = ma.fields.Method(
        "_reissue_of",
        metadata={
            "type": "string",
            "nullable": True,
            "description": (
                "The agreement this one reissued on a corrected rate card, now `replaced` "
                "(round 55); null for any other"
            ),
        },
    )
    replaced_by = ma.fields.Method(
        "_replaced_by",
        metadata={
            "type": "string",
            "nullable": True,
            "description": (
                "While `replaced`: its reissue on the corrected rate card, the agreement to "
                "accept (round 55); null otherwise"
            ),
        },
    )
    past_term = documented(
        "_past_term",
        {
            "type": "string",
            "nullable": True,
            "description": "A license of past use only (round 50): while `issued` with "
            "its term over on the office's today, what accepting it does (it is expired at "
            "once, its royalty reports due); once accepted after its term (`expired` at "
            "the acceptance), the acceptance's own sentence; else null. As the "
            "application's `past_term` says before it is decided.",
        },
    )
    acceptance = ma.fields.Nested(AgreementAcceptanceSchema, allow_none=True)
    renewal = ma.fields.Nested(AgreementRenewalSchema)
    rate_card_replaced_by = ma.fields.Nested(
        RateCardReplacementSchema,
        allow_none=True,
        metadata={
            "description": (
                "The correction of the card this agreement was priced on (cardvendor60), "
                "while it awaits acceptance (`issued`: its prices stay as issued unless "
                "the licensing office reissues it on the correction) or once accepted "
                "(`active`, `expired`, `superseded`: its prices, its invoices' and its "
                "royalty reports', stay as agreed unless the office issues a credit "
                "note); null when its card is in use, or the agreement is `replaced` or "
                "`terminated`"
            )
        },
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if attr == "renewal":  # computed, as a nested object (documented above)
            return self._renewal(obj)
        if attr == "rate_card_replaced_by":
            return self._rate_card_replaced_by(obj)
        return super().get_attribute(obj, attr, default)

    def _rate_card_replaced_by(self, agreement: Agreement) -> dict[str, Any] | None:
        corrected = services.card_corrected(_catalogue(), agreement)
        if corrected is None:
            return None
        return {
            "versions": list(corrected.takers),
            "published_on": calendar.office_date(corrected.since),
            "days": [
                {"version": part.version, "first": part.first, "last": part.last}
                for part in corrected.parts
            ],
            "whole_term": corrected.whole_term,
            "whole_card": corrected.whole_card,
        }

    def _renewal(self, agreement: Agreement) -> dict[str, Any]:
        drawn = agreement.live_renewal_id
        today = calendar.office_date(utcnow())
        return {
            "available": renewal_refusal(agreement, drawn, agreement.organization, today) is None,
            "opens_on": window_opens(agreement),
            "term_start": renewal_starts(agreement, today),
            "application_id": drawn,
        }

    def _allowed(self, agreement: Agreement) -> list[str]:
        return agreement_steps(agreement)

    def _rate_card(self, agreement: Agreement) -> str | None:
        return None if _by_hand(agreement) else agreement.rate_card

    def _priced_by_hand(self, agreement: Agreement) -> bool:
        return _by_hand(agreement) is not None

    def _rate_card_in_effect(self, agreement: Agreement) -> str | None:
        found = _by_hand(agreement)
        return found.in_effect if found is not None else None

    def _renewal_of(self, agreement: Agreement) -> str | None:
        return agreement.renewal_of.number if agreement.renewal_of else None

    def _renewed_by(self, agreement: Agreement) -> str | None:
        return agreement.superseded_by.number if agreement.superseded_by else None

    def _reissue_of(self, agreement: Agreement) -> str | None:
        return agreement.reissue_of.number if agreement.reissue_of else None

    def _replaced_by(self, agreement: Agreement) -> str | None:
        # Read only for a replaced agreement: a list's other rows ask nothing more.
        if agreement.state != REPLACED or agreement.reissued_as is None:
            return None
        return agreement.reissued_as.number

    def _past_term(self, agreement: Agreement) -> str | None:
        return services.past_term(agreement, calendar.office_date(utcnow()))


# Where a request keeps the published cards it read (`_catalogue`).
CATALOGUE = "licensing.rate_card_catalogue"


def _catalogue() -> Catalogue:
    """The published cards, read once a request: a list's rows each ask whether
    their card was corrected (`rate_card_replaced_by`) without a statement each."""
    found = request.environ.get(CATALOGUE)
    if found is None:
        found = request.environ[CATALOGUE] = ratecard_queries.catalogue(db.session())
    assert isinstance(found, Catalogue)
    return found


# Where a request keeps what its agreements priced by hand say (`_by_hand`).
BY_HAND = "licensing.agreements_by_hand"


def _by_hand(agreement: Agreement) -> HandPriced | None:
    """`hand_priced.of_agreement`, once an agreement a request: three fields read it, and
    only an agreement whose card does not hold its first day asks the database."""
    found: dict[int, HandPriced | None] = request.environ.setdefault(BY_HAND, {})
    if agreement.id not in found:
        found[agreement.id] = hand_priced.of_agreement(db.session(), agreement, _catalogue())
    return found[agreement.id]


# Where a request keeps its `services.reissue_refusals` (its WSGI environ: its own,
# where `g` may outlive it, as under a test's app context).
REISSUE_REFUSALS = "licensing.reissue_refusals"


def _reissue_refusals() -> dict[int, str | None]:
    """This request's `services.reissue_refusals`, by agreement id: a list reads its
    page's at once (`_with_reissue_refusals`), an agreement answered alone its own."""
    found: dict[int, str | None] = request.environ.setdefault(REISSUE_REFUSALS, {})
    return found


def _reissue_refusal(agreement: Agreement) -> str | None:
    """Why `reissue` would be refused now, None when it would go ahead."""
    known = _reissue_refusals()
    if agreement.id not in known:
        known.update(services.reissue_refusals(db.session(), [agreement]))
    return known.get(agreement.id, "not awaiting acceptance")


def _with_reissue_refusals(agreements: Sequence[Agreement]) -> list[Agreement]:
    """A page of agreements, read for `allowed_actions`' `reissue` at once when the
    caller may reissue (licensing staff and admins): no statement per row."""
    principal = access.current_principal()
    if principal is not None and principal.has_role("licensing") and not principal.read_only:
        _reissue_refusals().update(services.reissue_refusals(db.session(), agreements))
    return list(agreements)


def agreement_steps(agreement: Agreement) -> list[str]:
    """The caller's steps of `agreement` now: its `allowed_actions`, and a 409's.
    Round 56: `reissue` only where the step would go ahead (it was listed for every
    issued agreement, the step then answering 409); round 57: `accept` only where
    the organization's standing lets it accept."""
    return callers_actions(
        AGREEMENT.allowed(agreement.state),
        AGREEMENT_STEP_ROUTES,
        refused=lambda step: (
            _reissue_refusal(agreement) is not None
            if step == "reissue"
            else step_checks.agreement_step_refused(agreement, step)
        ),
    )


steps_of(
    "agreement",
    AGREEMENT_STEP_ROUTES,
    agreement_steps,
    agreement_id=lambda agreement_id: queries.get_agreement_charged(
        db.session(), agreement_id, renewal=True
    ),
)


# The list's orders (round 55: newest issued first was the only one).
SORT_DESCRIPTION = (
    "`newest` issued first (the default), `oldest` issued first, or `number` (the "
    "agreement number, whose year is the term's start, not the issue's)"
)


class AgreementQuerySchema(ApiSchema):
    state = ma.fields.List(vocabulary(AGREEMENT.states))
    sort = vocabulary(
        tuple(queries.AGREEMENT_ORDERS),
        load_default=queries.NEWEST,
        metadata={"description": SORT_DESCRIPTION},
    )


class AcceptInputSchema(ApiSchema):
    signer_name = ma.fields.String(required=True, validate=Text(SIGNER_MAX, filled=True))
    signer_title = ma.fields.String(required=True, validate=Text(SIGNER_MAX, filled=True))
    authority_confirmed = ma.fields.Boolean(
        required=True,
        metadata={"description": "I am authorised to bind the organization"},
    )
    pdf_sha256 = ma.fields.String(
        required=True,
        validate=Length(equal=64),
        metadata={"description": "SHA-256 (hex) of the PDF you read"},
    )


class AgreementTerminationSchema(ApiSchema):
    # Absent, null, empty or blank: the service's words (round 50).
    reason = Required(REASON_MAX, REASON_REQUIRED)


@blp.route("/agreements")
@access.allow(vendor=True, staff=("licensing", "billing"))
@never_answers(
    409,
    "a reissue's refusals (the standing's among them) are read to list `allowed_actions`, "
    "caught as the reason a reissue is not offered, never raised",
)
@blp.arguments(AgreementQuerySchema, location="query")
@blp.paginate(AgreementSchema)
def list_agreements(query: dict[str, Any]) -> ReadPage:
    """Agreements, newest issued first, or in the order `sort` asks (oldest issued
    first, or by number): a vendor sees their own."""
    # What each has been charged, and its live renewal, for the page's agreements
    # alone (count51: over the whole list, SQLite summed every agreement's invoices
    # before it took the page).
    order = query["sort"]
    return ReadPage(
        queries.agreements_query(states=query.get("state") or (), order=order),
        _with_reissue_refusals,
        window=lambda page: queries.with_live_renewal(queries.charged_page(page, order)),
    )


@blp.route("/agreements/<int:agreement_id>")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.response(200, AgreementSchema)
def get_agreement(agreement_id: int) -> Agreement:
    """One agreement: its term, state, acceptance and what is charged to date."""
    return queries.get_agreement_charged(db.session(), agreement_id, renewal=True)


@blp.route("/agreements/<int:agreement_id>/pdf")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.response(
    200,
    description="The agreement PDF, exactly as issued and accepted",
    content_type="application/pdf",
)
def get_agreement_pdf(agreement_id: int) -> Response:
    """The stored PDF (`application/pdf`); never regenerated."""
    found = queries.get_agreement(db.session(), agreement_id)
    return pdf_response(
        queries.stored_pdf(db.session(), found),
        f"{found.number}.pdf",
        disposition="attachment",
        sha256=found.pdf_sha256,
    )


@blp.route("/agreements/<int:agreement_id>/acceptance", methods=["POST"])
@access.licensing_work
@blp.arguments(AcceptInputSchema)
@blp.response(200, AgreementSchema, conflict="Not issued, or the SHA-256 is not the stored PDF's")
def accept_agreement(data: dict[str, Any], agreement_id: int) -> Agreement:
    """Accept the agreement: records the signer, authority, time, IP address, user
    agent and the PDF's SHA-256; the agreement becomes active."""
    services.accept(
        agreement_id,
        current_actor(),
        services.AcceptanceInput(
            signer_name=data["signer_name"],
            signer_title=data["signer_title"],
            authority_confirmed=data["authority_confirmed"],
            pdf_sha256=data["pdf_sha256"],
            ip_address=request.remote_addr or "unknown",
            user_agent=request.user_agent.string or "unknown",
        ),
    )
    # Read again with what it is charged to date (its up-front invoice, issued now).
    return queries.get_agreement_charged(db.session(), agreement_id, renewal=True)


@blp.route("/agreements/<int:agreement_id>/renewal", methods=["POST"])
@access.licensing_work
@blp.response(
    201,
    ApplicationSchema,
    conflict=(
        "Not active or expired, a renewal is already open, the organization is not in good "
        "standing, or the term ends more than 90 days away (the detail says from when)"
    ),
    location=Created("applications_api.get_application", {"application_id": "id"}),
)
def renew_agreement(agreement_id: int) -> Application:
    """Start a renewal: a draft application prefilled from the agreement for the next
    rate card year. When its agreement is accepted, this one is superseded at the end
    of its term."""
    return services.start_renewal(agreement_id, current_actor())


@blp.route("/agreements/<int:agreement_id>/termination", methods=["POST"])
@access.staff("licensing")
@blp.arguments(AgreementTerminationSchema)
@blp.response(200, AgreementSchema, conflict="Not allowed in this state; lists allowed_actions")
def terminate_agreement(data: dict[str, Any], agreement_id: int) -> Agreement:
    """Terminate (licensing staff, with a reason sent to the licensee)."""
    services.terminate(agreement_id, data["reason"], current_actor())
    return queries.get_agreement_charged(db.session(), agreement_id, renewal=True)


class AgreementReissueSchema(ApiSchema):
    # Absent, null, empty or blank: the service's words, as a termination's.
    reason = Required(REASON_MAX, REASON_REQUIRED)


@blp.route("/agreements/<int:agreement_id>/reissue", methods=["POST"])
@access.staff("licensing")
@blp.arguments(AgreementReissueSchema)
@blp.response(
    201,
    AgreementSchema,
    conflict=(
        "Not issued (accepted, ended or replaced: the detail says what is allowed), its "
        "rate card is not replaced by a correction covering its term, the correction prices "
        "its uses otherwise, or the organization is suspended or closed"
    ),
    location=Created("agreements_api.get_agreement", {"agreement_id": "id"}),
)
def reissue_agreement(data: dict[str, Any], agreement_id: int) -> Agreement:
    """Reissue an agreement awaiting acceptance on the rate card that corrected its own
    (licensing staff, round 55): a new agreement (new number and PDF) for the same uses
    and term priced on the correction, amounts set by hand on approval kept; this one
    becomes `replaced` and can no longer be accepted; the licensee is emailed the new
    one, with the reason. Answers the new agreement (its `reissue_of` names this one)."""
    new = services.reissue(
        agreement_id,
        data["reason"],
        current_actor(),
        policy=IssuingPolicy.from_config(current_config()),
    )
    return queries.get_agreement_charged(db.session(), new.id, renewal=True)
