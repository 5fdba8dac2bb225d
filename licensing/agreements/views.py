"""Pages: the vendor's applications and agreements (portal), and the licensing
staff's queue, application review and agreements (console).

Views read the form, call one service and render; they never commit. A
service's `InvalidInput` is shown beside the fields it names (paths such as
`uses.0.product_name`), re-rendering the form with a 422.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import SelectField

from licensing import access, arguments, calendar, db, links
from licensing.access import Principal
from licensing.accounts import auth
from licensing.accounts import queries as account_queries
from licensing.accounts import services as account_services
from licensing.accounts.models import Organization, User
from licensing.actors import current_actor
from licensing.agreements import (
    forms,
    hand_priced,
    issuing,
    queries,
    reported_usage,
    services,
    step_checks,
)
from licensing.agreements.forms import BulkAssignForm
from licensing.agreements.models import (
    CONTACT_WAYS,
    MAX_USES,
    Agreement,
    Application,
    ApplicationUse,
)
from licensing.agreements.queue_rows import queue_rows
from licensing.agreements.renewal_change import renewal_change
from licensing.agreements.resubmission import resubmission, version_changes
from licensing.agreements.services.expiry import (
    ENDING_REMINDED,
    ENDING_REMINDER,
    issued_after_term,
)
from licensing.agreements.services.renewal import (
    renewal_card,
    renewal_opens,
    renewal_refusal,
    renewal_starts,
    window_opens,
)
from licensing.agreements.settings import IssuingPolicy
from licensing.agreements.states import (
    AGREEMENT,
    APPLICATION,
    AWAITING_STAFF,
    DRAFT,
    EDITABLE,
    ESCALATED,
    EXPIRED,
    ISSUED,
    REJECTED,
    RETURNED,
    SUBMITTED,
)
from licensing.agreements.vendor_rows import vendor_rows
from licensing.audit import queries as audit_queries
from licensing.billing import queries as billing_queries
from licensing.config import current_config
from licensing.db import utcnow
from licensing.downloads import pdf_response
from licensing.errors import BadRequest, Conflict, InvalidInput, TooLargeToRecord
from licensing.limits import shows_unstorable_on_form
from licensing.mail import services as mail
from licensing.money import AMOUNT_PLACES, minor_units
from licensing.pricing import Quote
from licensing.problems import status_for as problem_status
from licensing.ratecards import queries as ratecard_queries
from licensing.web import assignment, confirm, paging
from licensing.web.console import QueueSummary, due_soon_by, queue_summary
from licensing.web.errors import said_to_the_reader
from licensing.web.filters import (
    FIELD_LABELS,
    field_words,
    money,
    recorded_currencies,
    recorded_words,
    state_words,
)
from licensing.web.forms import PageForm, readable, show_errors
from licensing.web.navigation import record_url, url_pattern
from licensing.web.organization_records import organization_section
from licensing.web.portal import WaitingItem, dashboard_context, waiting_provider
from licensing.web.records import named_by_id, numbered_record, record_refs
from licensing.web.scope import OrganizationScope, organization_scope, requested_organization
from licensing.words import BY_HAND, counted, humanize, working_in_words

bp = Blueprint("agreements", __name__, url_prefix="/portal")
console = Blueprint("agreements_console", __name__, url_prefix="/console")

# flask's redirect() gives werkzeug's Response, the base of flask's.
Page = str | tuple[str, int] | WerkzeugResponse
_Form = TypeVar("_Form", bound=PageForm)


# --- the application form ------------------------------------------------------------------


def _units(session: Session) -> list[str]:
    """Every quantity unit the published cards price by: the form's quantity inputs."""
    return forms.quantity_units(
        ratecard_queries.domain_card(stored) for stored in ratecard_queries.all_cards(session)
    )


def _default_term(session: Session) -> tuple[date | None, date | None]:
    """The next rate card's period, else the current one's: what a vendor usually asks,
    from the office's day (round 45: the UTC date, a day ahead late in its evening)."""
    today = calendar.office_date(utcnow())
    term = forms.default_term(ratecard_queries.all_cards(session), today)
    return term or (None, None)


def _use_data(use: ApplicationUse) -> dict[str, Any]:
    return {
        **use.fields(),
        **{f"{forms.QUANTITY_PREFIX}{unit}": count for unit, count in use.quantity.items()},
    }


def _form_of(application: Application | None, units: list[str]) -> forms.ApplicationForm:
    """The form filled from a saved application, or a new one with a blank use."""
    if application is None:
        start, end = _default_term(db.session())
        return forms.application_form(
            units, term_start=start, term_end=end, uses=[dict(forms.BLANK_USE)]
        )
    return forms.application_form(
        units,
        term_start=application.term_start,
        term_end=application.term_end,
        rate_card=application.rate_card or "",
        uses=[_use_data(use) for use in application.uses] or [dict(forms.BLANK_USE)],
    )


def _form_from_estimate(
    args: MultiDict[str, str], units: list[str], *, posted: bool = True
) -> forms.ApplicationForm:
    """A new application's form filled from the estimator's query string (its
    fields share the application's names; its description names the product)."""
    data = MultiDict(args)
    rows = {key.split("-")[1] for key in args if key.startswith("uses-") and key.count("-") >= 2}
    for row in rows:
        if not args.get(f"uses-{row}-delivery"):
            implied = (
                "internal"
                if args.get(f"uses-{row}-use") == "internal_use"
                else forms.DELIVERY_OF_PRODUCT.get(args.get(f"uses-{row}-product_type", ""))
            )
            if implied:
                data[f"uses-{row}-delivery"] = implied
        for name, value in forms.BLANK_USE.items():
            if not data.get(f"uses-{row}-{name}"):
                data[f"uses-{row}-{name}"] = value
        if not args.get(f"uses-{row}-product_name"):
            data[f"uses-{row}-product_name"] = args.get(f"uses-{row}-description", "")
    if not args.get("term_start"):
        start, end = _default_term(db.session())
        data["term_start"] = start.isoformat() if start else ""
        data["term_end"] = end.isoformat() if end else ""
    return forms.application_form(units, data, posted=posted)


def estimate_kept_at_sign_up(
    after_sign_in: str | None,
) -> Callable[[Session, User], None] | None:
    """Round 67: sign-up's `next`, when it is a new application carrying an estimate
    (`navigation.apply_url`), as the step that keeps the estimate with the new account
    (`services.keep_estimate`, in the sign-up's transaction); None for any other `next`
    and for an estimate that is no valid draft. The link stays in the browser's
    session as before; this keeps it where another browser finds it too."""
    if not after_sign_in:
        return None
    parts = urlsplit(after_sign_in)
    if parts.path != url_for("agreements.new_application"):
        return None
    args = MultiDict(parse_qsl(parts.query, keep_blank_values=True))
    if not any(key.startswith("uses-") for key in args):
        return None
    form = _form_from_estimate(args, _units(db.session()), posted=False)
    if not form.validate():
        return None
    draft = form.command()
    moment = utcnow()
    return lambda session, user: services.keep_estimate(session, user, draft, now=moment)


def kept_estimate_url(session: Session, user: User) -> tuple[str, str] | None:
    """The page of the draft an estimate was kept in at sign-up (`queries.sign_up_draft`)
    and its reference, for the page that confirms the address; None without one."""
    draft = queries.sign_up_draft(session, user.id, user.organization_id)
    if draft is None:
        return None
    return url_for("agreements.edit_application", application_id=draft.id), draft.reference


def _shown(field: Any) -> Any:
    """What an input shows: the choice made, or the text as typed."""
    return field.data if isinstance(field, SelectField) else field._value()


def _values(form: forms.ApplicationForm) -> dict[str, Any]:
    """What the form's inputs show, for the template."""
    prefix = forms.QUANTITY_PREFIX
    return {
        "term_start": form.term_start._value(),
        "term_end": form.term_end._value(),
        "rate_card": form.rate_card._value(),
        "uses": [
            {
                **{n: _shown(f) for n, f in entry.form._fields.items() if not n.startswith(prefix)},
                "quantity": {
                    n[len(prefix) :]: f._value()
                    for n, f in entry.form._fields.items()
                    if n.startswith(prefix)
                },
            }
            for entry in form.uses.entries
        ],
    }


def _renewal_figures(application: Application | None) -> list[reported_usage.UseFigures]:
    """A renewal's quantities and where each comes from (none for other applications)."""
    if application is None:
        return []
    return reported_usage.figures(application)


def _organization_type(session: Session, application: Application | None) -> str | None:
    """The applicant's organization type, which a rule's `when` may name (round 68)."""
    if application is not None:
        return application.organization.organization_type
    organization_id = current_actor().organization_id
    if organization_id is None:
        return None
    organization = session.get(Organization, organization_id)
    return organization.organization_type if organization is not None else None


def _form_page(
    form: forms.ApplicationForm,
    *,
    application: Application | None,
    units: list[str],
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    row = form.uses.entries[0].form
    session = db.session()
    stored = ratecard_queries.all_cards(session)
    # Round 62: in the currency the application is priced in where it is known (a
    # renewal's, its earlier quote's, the licensee's one currency).
    if application is not None:
        asked = queries.asked_currency(session, application)
        known = asked.currency if asked is not None else None
    else:
        known = queries.licensee_currency(session, current_actor().organization_id)
        asked = queries.AskedCurrency(known, "licensee") if known is not None else None
    currency = ratecard_queries.card_currency(
        session, form.rate_card.data or None, form.term_start.data, known
    )
    if currency is None and len({card.currency for card in stored}) == 1:
        currency = stored[0].currency
    return render_template(
        "agreements/application_form.html",
        values=_values(form),
        revenue_label=forms.revenue_label(currency),
        summary_labels=revenue_summary_labels(errors or {}, currency),
        card_currencies={card.version: card.currency for card in stored},
        application=application,
        renewal_figures=_renewal_figures(application),
        errors=errors or {},
        units=units,
        # Round 67: the count inputs each use asks for, and each one's uses in words;
        # round 68: the rules that ask, for the applicant's organization type.
        **forms.unit_guide(
            [ratecard_queries.domain_card(card) for card in stored],
            units,
            _organization_type(session, application),
        ),
        max_uses=MAX_USES,
        cards=ratecard_queries.choice_labels(stored),
        # Round 66: "The card in effect on the start date", in which currency.
        in_effect=in_effect_option(session, form.term_start.data, asked, application),
        choices={
            name: [(choice.value, choice.label) for choice in row[name].iter_choices()]
            for name in ("use", "product_type", "user_type", "delivery")
        },
    ), status


@dataclass(frozen=True)
class InEffectOption:
    """The application form's *Rate card* option naming no card, where cards in several
    currencies are published (round 66, currency66: "The card in effect on the start date"
    named no currency): its words for the start date the form shows (`label`, and the
    field's hint, `hint`), and what `static/js/rate-card-option.js` needs to say them
    again for another start date typed (`cards`, every card in the order the card in
    effect is chosen by, the last wins; `currency` known and `why`). Round 67: the public
    estimator's option too, `what` the page prices ("estimate")."""

    label: str
    hint: str
    cards: list[dict[str, str]]
    currency: str | None
    why: str
    what: str = "application"


def in_effect_option(
    session: Any,
    start: date | None,
    asked: queries.AskedCurrency | None,
    application: Application | None,
    what: str = "application",
) -> InEffectOption | None:
    """`InEffectOption` for the form (or, `what` "estimate", the estimator); None where
    every published card is in one currency (the option's words stay as they were:
    there is no other currency to mean)."""
    cards = ratecard_queries.catalogue(session)
    if len({entry.currency for entry in cards.entries}) < 2:
        return None
    ordered = sorted(cards.entries, key=lambda e: (e.card.effective_from, e.published_at, e.id))
    renewed = application.renewal_of.number if application and application.renewal_of else ""
    why = asked.words(renewed) if asked is not None else ""
    currency = asked.currency if asked is not None else None
    label, hint = in_effect_words(cards, start, currency, why, what)
    return InEffectOption(
        label,
        hint,
        [
            {
                "version": e.version,
                "currency": e.currency,
                "from": e.effective_from.isoformat(),
                "to": e.effective_to.isoformat(),
            }
            for e in ordered
        ],
        currency,
        why,
        what,
    )


def in_effect_words(
    cards: ratecard_queries.Catalogue,
    start: date | None,
    currency: str | None,
    why: str,
    what: str = "application",
) -> tuple[str, str]:
    """The option's label and the field's hint for a term starting `start` (None: not
    typed yet), priced in `currency` (None: not known, the contract's rule) because `why`;
    `what` is priced ("application", or the estimator's "estimate": round 67).
    `static/js/rate-card-option.js` says the same words: change both."""
    if currency is not None:
        label = f"The card in effect on the start date, in {currency}"
        hint = f"Naming no card, this {what} is priced in {currency}, {why}"
        if start is None:
            return label, f"{hint}: on the card in effect in {currency} on the start date."
        found = cards.in_effect(start, currency)
        day = calendar.day_text(start)
        if found is None:
            return (
                f"{label} (none yet for {day})",
                f"{hint}: no rate card in {currency} is in effect on {day} yet.",
            )
        return (
            f"{label} ({found.version} for {day})",
            f"{hint}: on {day}, rate card {found.version} is in effect in {currency}.",
        )
    label = "The card in effect on the start date, in any currency the one published last"
    hint = (
        f"Naming no card, this {what} is priced on the card in effect on the start date "
        "published last, whatever its currency"
    )
    if start is None:
        return label, f"{hint}: choose a card to be priced in its currency."
    found = cards.in_effect(start)
    day = calendar.day_text(start)
    if found is None:
        return f"{label} (none for {day})", f"{hint}: no rate card is in effect on {day}."
    others = [f"{card.version} ({card.currency})" for card in cards.others_in_effect(start)]
    one = len(others) == 1
    also = (
        f" {' and '.join(others)} {'is' if one else 'are'} in effect too: "
        f"choose {'it' if one else 'one'} to be priced in its currency."
        if others
        else ""
    )
    return (
        f"{label} ({found.version}, in {found.currency}, for {day})",
        f"{hint}: on {day}, rate card {found.version}, in {found.currency}.{also}",
    )


def _save(application: Application | None) -> Page:
    actor = current_actor()
    units = _units(db.session())
    form = forms.application_form(units, request.form)
    if forms.changes_rows(request.form):
        return _form_page(form, application=application, units=units)
    try:
        if not form.validate():
            raise InvalidInput("Some fields need correcting.", forms.error_paths(form))
        if application is None:
            saved = services.create_draft(actor, form.command())
        else:
            saved = services.update_draft(application.id, actor, form.command())
    except InvalidInput as error:
        return _form_page(
            form,
            application=application,
            units=units,
            errors=error.errors or {"_": [error.detail]},
            status=422,
        )
    flash(f"{saved.reference} is saved as a draft.", "success")
    return redirect(url_for("agreements.application", application_id=saved.id))


# --- vendor: applications ---------------------------------------------------------------------


@bp.route("/applications")
@access.licensing_work
def applications() -> tuple[str, int]:
    principal = access.require_principal()
    session = db.session()
    organization = auth.own_standing(principal)
    states = [state for state in request.args.getlist("state") if state in APPLICATION.states]
    # A state no application has (a hand-edited link) listed every application unsaid.
    refused = application_states_refused(request.args)
    found = (
        None
        if refused
        else paging.read_page(
            session,
            queries.vendor_rows_query(principal, states),
            rows=lambda window, parameters: queries.vendor_applications(
                session, window, parameters
            ),
            count=queries.application_count_query(principal, queries.vendor_filter(states)),
        )
    )
    application_url = url_pattern("agreements.application", "application_id")
    assert application_url is not None  # the list's own blueprint has the application page
    return render_template(
        "agreements/applications.html",
        rows=vendor_rows(found.items if found else [], application_url=application_url),
        page=found,
        states=states,
        refused=refused,
        block_reason=_block_reason(organization),
    ), (422 if refused else 200)


def _submission_refused(application: Application) -> str | None:
    """Why the application's page offers no *Submit* (or *Resubmit*) its state allows,
    nor *Change the application*, in the words the step would refuse it with (round 57:
    the press was offered, then answered 409); None where it would go ahead."""
    return services.submission_refusal(db.session(), application, now=utcnow())


def _block_reason(organization: Organization | auth.OrganizationStanding) -> str | None:
    """Why the vendor may not apply now, naming what is overdue."""
    today = calendar.office_date(utcnow())
    return account_services.standing_block_reason_now(
        db.session(), organization, organization.id, today
    )


@bp.route("/applications/new", methods=["GET", "POST"])
@access.licensing_work
@shows_unstorable_on_form
def new_application() -> Page:
    principal = access.require_principal()
    organization = account_queries.own_organization(db.session(), principal)
    reason = _block_reason(organization)
    if reason:
        flash(reason, "error")
        return redirect(url_for("agreements.applications"))
    if request.method == "POST":
        return _save(None)
    units = _units(db.session())
    if any(key.startswith("uses-") for key in request.args):
        # Round 67: the estimate of the sign-up was kept as a draft; the link of the
        # sign-in page signed up from leads to it rather than to a second application.
        kept = queries.sign_up_draft(db.session(), principal.user_id, principal.organization_id)
        if kept is not None:
            flash(
                f"Your estimate was kept as {kept.reference} when you signed up: "
                "go on with it here.",
                "info",
            )
            return redirect(url_for("agreements.edit_application", application_id=kept.id))
        return _form_page(_form_from_estimate(request.args, units), application=None, units=units)
    return _form_page(_form_of(None, units), application=None, units=units)


@bp.route("/applications/<int:application_id>/edit", methods=["GET", "POST"])
@access.licensing_work
@shows_unstorable_on_form
def edit_application(application_id: int) -> Page:
    application = queries.get_application(db.session(), application_id)
    if application.state not in EDITABLE:
        flash(f"{application.reference} can no longer be changed.", "error")
        return redirect(url_for("agreements.application", application_id=application_id))
    # Round 58 (refusal58): no form for a change that could not then be submitted, but
    # why, as `PUT /api/v1/applications/{id}` refuses it (the page hid the button only).
    refused = services.change_refusal(db.session(), application, now=utcnow())
    if refused is not None:
        raise Conflict(refused)
    if request.method == "POST":
        return _save(application)
    units = _units(db.session())
    return _form_page(_form_of(application, units), application=application, units=units)


def _quote_of(application: Application) -> Quote | None:
    version = application.quotes[-1] if application.quotes else None
    return Quote.from_snapshot(version.snapshot) if version else None


def _rejection(application: Application) -> queries.Rejection | None:
    """Who rejected and when, and by when a reconsideration is answered, for both
    application pages."""
    return queries.rejection_of(
        db.session(), application, sla_days=current_config().application_review_sla_days
    )


def revenue_summary_labels(errors: Mapping[str, Any], currency: str | None) -> dict[str, str]:
    """The error summary's words for each revenue field in `errors`, as the field's own
    label says it, with its currency: "Expected annual revenue (JPY)" after its use (round
    62: the summary said "Expected annual revenue" alone, `field_words`)."""
    return {
        path: field_words(path).replace(FIELD_LABELS["revenue"], forms.revenue_label(currency))
        for path in errors
        if path.startswith("uses.") and path.endswith(".revenue")
    }


def _priced_in(session: Any, application: Application) -> str | None:
    """The currency `application` is priced in: the card it names, else the one known
    for it (`queries.asked_currency`), else the card in effect on its first day."""
    asked = queries.asked_currency(session, application)
    return ratecard_queries.card_currency(
        session,
        application.rate_card,
        application.term_start,
        asked.currency if asked is not None else None,
    )


def _currency_words(session: Any, application: Application) -> dict[str, Any]:
    """What the page says of the currency an application naming no card is priced in
    (round 62), while it may still be changed and where cards in several currencies are
    in effect on its first day: `currency_basis`, why it is the
    currency it is ("in USD, the currency of your agreements"), else `other_cards`,
    the cards in effect on its first day in other currencies than the one the
    contract's rule takes (published last), which it may name to be priced in theirs."""
    nothing: dict[str, Any] = {"currency_basis": "", "other_cards": (), "licensee_cards": ()}
    if application.rate_card or application.state not in EDITABLE or not application.term_start:
        return nothing
    # Round 65: a licensee whose agreements are in several currencies is priced by the
    # contract's rule (published last, whatever its currency), and was told which card
    # "in effect on the start date" with no currency where one currency's cards alone
    # were in effect: each of its currencies is named with its card, or none.
    if application.renewal_of_id is None and not application.currency:
        held = queries.licensee_currencies(session, application.organization_id)
        if len(held) > 1:
            cards = ratecard_queries.catalogue(session)
            chosen = cards.in_effect(application.term_start)
            return {
                "currency_basis": f", in {chosen.currency}, of the cards in effect the one "
                "published last"
                if chosen is not None
                else "",
                "other_cards": (),
                "licensee_cards": tuple(
                    (currency, cards.in_effect(application.term_start, currency))
                    for currency in held
                ),
            }
    # Only where cards in several currencies are in effect on its first day: an office
    # licensing in one currency reads what it always read. A renewal says its currency
    # whatever is in effect (round 64): a licensee renewing agreements in two currencies
    # tells its drafts apart, and one with no card in its currency yet says which
    # currency staff will price it in.
    others = ratecard_queries.catalogue(session).others_in_effect(application.term_start)
    if not others and application.renewal_of_id is None:
        return nothing
    asked = queries.asked_currency(session, application)
    if asked is not None:
        renewed = application.renewal_of.number if application.renewal_of else ""
        return {
            "currency_basis": f", in {asked.currency}, {asked.words(renewed)}",
            "other_cards": (),
            "licensee_cards": (),
        }
    return {"currency_basis": "", "other_cards": others, "licensee_cards": ()}


@dataclass(frozen=True)
class PricedByHand:
    """A renewal staff price by hand, as its page's *Rate card* says it (round 65): its
    currency, the card in effect on its first day in it (None: none yet), the renewed
    agreement's number and the card its quote names (the renewed agreement's); round 67:
    the card that priced the renewed agreement (None: it was priced by hand too)."""

    currency: str
    in_effect: str | None
    renewed: str
    renewed_card: str
    renewed_priced: str | None = None

    @property
    def renewed_words(self) -> str:
        """ "priced on 2027.JPY", or that no card priced the renewed agreement."""
        if self.renewed_priced is None:
            return BY_HAND
        return f"priced on {self.renewed_priced}"


def _priced_by_hand(
    session: Any, application: Application, priced: Quote | None
) -> PricedByHand | None:
    """For a renewal priced by hand (no card in its currency was in effect on its first
    day: its quote names the renewed agreement's card, whose period does not hold the
    term), what its *Rate card* says instead of "2027.JPY (the card in effect on the
    start date)": the card in effect in its currency, published since, or that there is
    none yet. None for any other application."""
    renewed = application.renewal_of
    if application.rate_card or renewed is None or priced is None:
        return None
    start = application.current_term[0]
    if start is None or hand_priced.card_that_priced(session, priced.rate_card, start) is not None:
        return None
    found = ratecard_queries.card_in_effect(session, start, priced.currency)
    return PricedByHand(
        priced.currency,
        found.version if found else None,
        renewed.number,
        priced.rate_card,
        hand_priced.card_that_priced(session, renewed.rate_card, renewed.term_start),
    )


def _vendor_page(
    application: Application, *, errors: dict[str, list[str]] | None = None, status: int = 200
) -> tuple[str, int]:
    session = db.session()
    estimate, estimate_problems, too_large = None, {}, False
    if application.state in EDITABLE:
        try:
            estimate = services.preview(application)
        except InvalidInput as problem:
            estimate_problems = problem.errors or {"_": [problem.detail]}
            # Priced, but beyond what can be recorded: said as such (round 50).
            too_large = isinstance(problem, TooLargeToRecord)
    quote = _quote_of(application)
    return render_template(
        "agreements/application.html",
        application=application,
        **_currency_words(session, application),
        by_hand=_priced_by_hand(session, application, quote or estimate),
        estimate=estimate,
        estimate_problems=estimate_problems,
        estimate_labels=revenue_summary_labels(
            estimate_problems, _priced_in(session, application) if estimate_problems else None
        ),
        estimate_too_large=too_large,
        quote=quote,
        # A renewal's price against its agreement's, and why (round 42).
        renewal_change=renewal_change(session, application, estimate or quote),
        versions=application.quotes,
        agreement=queries.agreement_for_application(session, application.id),
        renewal_figures=_renewal_figures(application),
        # Round 58: the reader's own steps, as `allowed_actions` lists them to them:
        # *Change the application* only where it may then be submitted.
        allowed=step_checks.vendor_steps(
            application, user_id=access.require_principal().user_id, now=utcnow()
        ),
        # Round 58 (refusal58): the edit page and the API's update ask it too.
        changeable=step_checks.may_change(application, now=utcnow()),
        # Round 57: no Submit where the step would refuse it, but why.
        submission_refused=_submission_refused(application),
        rejection=_rejection(application),
        decision_expected=_decision_expected(application),
        # A term already over goes to staff, and says why (round 49).
        past_term=issuing.past_term_told(
            application.term_end, application.state, calendar.office_date(utcnow())
        ),
        errors=errors or {},
        now=utcnow(),
        # What was posted, for a refused step's form to show again (escaped by Jinja).
        form=readable(request.form) if request.method == "POST" else {},
    ), status


@bp.route("/applications/<int:application_id>")
@access.licensing_work
def application(application_id: int) -> Page:
    return _vendor_page(queries.get_application(db.session(), application_id))


def _vendor_action(application_id: int, call: Any, done: str | Callable[[Any], str]) -> Page:
    return _application_step(
        application_id,
        call,
        done,
        page=_vendor_page,
        back=lambda application_id: url_for(
            "agreements.application", application_id=application_id
        ),
    )


def _with_form(form_type: type[_Form], step: Callable[[_Form], object]) -> Callable[[], object]:
    """The step, taken with the posted form once it validates (refused beside its
    fields, as a service refuses input, when it does not)."""

    def call() -> object:
        form = form_type()
        forms.checked(form)
        return step(form)

    return call


def _application_step(
    application_id: int,
    call: Callable[[], object],
    done: str | Callable[[Any], str],
    *,
    page: Callable[..., tuple[str, int]],
    back: Callable[[int], str],
) -> Page:
    """Take a step on the application, then say `done` (or what `done` makes of the
    step's result) on the page `back` gives; on a refusal, the application's `page`
    again, as it now stands, with the messages (422 for the input, 409 for a step
    its state does not allow)."""
    try:
        result = call()
    except (InvalidInput, Conflict) as error:
        # As it now stands, in one statement (round 68: read, then refreshed, two).
        application = queries.get_application(db.session(), application_id, fresh=True)
        errors = getattr(error, "errors", None) or {"_": [said_to_the_reader(error)]}
        return page(
            application, errors=errors, status=422 if isinstance(error, InvalidInput) else 409
        )
    flash(done if isinstance(done, str) else done(result), "success")
    return redirect(back(application_id))


@bp.route("/applications/<int:application_id>/submit", methods=["POST"])
@access.licensing_work
@shows_unstorable_on_form
def submit(application_id: int) -> Page:
    def call(form: forms.SubmissionForm) -> Application:
        return services.submit(
            application_id,
            current_actor(),
            policy=IssuingPolicy.from_config(current_config()),
            attest=form.attest.data == "yes",
            response=form.response.data,
        )

    return _vendor_action(
        application_id, _with_form(forms.SubmissionForm, call), _submitted_message
    )


def _submitted_message(application: Application) -> str:
    """What submitting did, and who acts next: approval at submission issues the
    agreement at once, so "submitted" alone sent vendors waiting for staff."""
    quote = _quote_of(application)
    routed = (
        [line.use_index + 1 for line in quote.lines if line.route != "license"] if quote else []
    )
    if application.state == "approved":
        agreement = queries.agreement_for_application(db.session(), application.id)
        number = agreement.number if agreement else "the agreement"
        message = (
            f"{application.reference} is approved and agreement {number} is issued: "
            "read it and accept it below."
        )
    else:
        message = (
            f"{application.reference} is submitted. Licensing staff review it before it is "
            "approved; we email you when they decide."
        )
    if routed:
        uses = ", ".join(str(n) for n in routed)
        message += (
            f" Use{'s' if len(routed) > 1 else ''} {uses} went to the educational permissions "
            "queue as a permission request (see Permissions): no license fee."
        )
    return message


@bp.route("/applications/<int:application_id>/withdraw", methods=["POST"])
@access.licensing_work
def withdraw(application_id: int) -> Page:
    actor = current_actor()
    if not confirm.confirmed():
        found = queries.get_application(db.session(), application_id)
        # Round 56: one decided meanwhile is refused now (409, on its page as after
        # confirming), not asked about first.
        try:
            services.check_withdraw(application_id, actor)
        except Conflict as error:
            db.session().refresh(found)
            return _vendor_page(found, errors={"_": [said_to_the_reader(error)]}, status=409)
        return confirm.ask(
            confirm.Confirmation(
                title=f"Withdraw application {found.reference}?",
                consequences=[
                    "The licensing office stops working on it, and no agreement is issued.",
                    "A withdrawn application cannot be submitted again; to apply later, "
                    "start a new application.",
                ],
                button="Withdraw the application",
                cancel_url=url_for("agreements.application", application_id=application_id),
                control="withdraw-application",
                cancel_label="Keep the application",
            )
        )
    return _vendor_action(
        application_id,
        lambda: services.withdraw(application_id, actor),
        "The application is withdrawn.",
    )


@bp.route("/applications/<int:application_id>/reconsideration", methods=["POST"])
@access.licensing_work
@shows_unstorable_on_form
def request_reconsideration(application_id: int) -> Page:
    def call(form: forms.ReasonForm) -> object:
        reason = form.reason.data or ""
        return services.request_reconsideration(application_id, reason, current_actor())

    return _vendor_action(
        application_id,
        _with_form(forms.ReasonForm, call),
        "Your request for reconsideration is sent to the licensing office.",
    )


# --- vendor: agreements ------------------------------------------------------------------------


@bp.route("/agreements")
@access.vendor
def agreements() -> tuple[str, int]:
    """The vendor's agreements, with the console list's State and Sort (round 55: the
    vendor's list had neither, newest first only, while a licensee looks for the
    agreements in force, the oldest, or one by its number)."""
    states, order, refused, status = _agreement_filters()
    page = None if refused else _agreements_page(states=states, order=order)
    return render_template(
        "agreements/agreements.html",
        agreements=page.items if page else [],
        page=page,
        **_filter_form(states, order, refused),
    ), status


def _agreement_filters() -> tuple[list[str], str, dict[str, list[str]], int]:
    """The agreements lists' State and Sort as the request gives them: the states
    chosen, the order, what is refused (a filter given twice: 400; a value not
    offered: 422, beside its field, as on the other queues), and the status to
    answer with. A state no agreement has is refused too (it listed every
    agreement unsaid)."""
    states = [s for s in request.args.getlist("state") if s in AGREEMENT.states]
    order = request.args.get("sort") or queries.NEWEST
    twice = arguments.repeated(request.args, ("state",), labels=AGREEMENT_FILTERS)
    refused = twice or {
        **arguments.unknown_choice(
            request.args,
            "state",
            {state: humanize(state) for state in AGREEMENT.states},
            "State",
            several=True,
        ),
        **arguments.unknown_choice(request.args, "sort", AGREEMENT_SORTS, "Sort"),
    }
    return states, order, refused, (400 if twice else 422 if refused else 200)


def _filter_form(states: list[str], order: str, refused: dict[str, list[str]]) -> dict[str, Any]:
    """What the list's filter form shows (`agreements/agreements.html`)."""
    return {
        "states": AGREEMENT.states,
        "chosen": states,
        "filter_errors": refused,
        "filter_labels": AGREEMENT_FILTERS,
        "sorts": AGREEMENT_SORTS,
        "sort": order,
    }


# Agreements the console's and the vendor's lists show a page (`paging.PER_PAGE`).
AGREEMENTS_PER_PAGE = paging.PER_PAGE


def _agreements_page(
    *,
    states: Sequence[str] = (),
    organization_id: int | None = None,
    order: str = queries.NEWEST,
) -> paging.Page[Agreement]:
    """A page of the agreements the caller may see (round 45: the lists showed every
    agreement on one page), its links keeping the filters."""
    session = db.session()
    statement, count = queries.agreements_listing(
        states=states, organization_id=organization_id, order=order
    )
    return paging.read_page(
        session,
        statement,
        count=count,
        per_page=AGREEMENTS_PER_PAGE,
        rows=lambda window, parameters: session.scalars(
            queries.charged_page(window, order), parameters
        ).all(),
    )


# The lists' Sort (round 54, the console's; round 55, the vendor's too): newest first,
# as every list of records; oldest first for the agreements waiting for acceptance,
# the longest waiting first (the console home's row links it so), and a licensee's
# oldest; by number, as a licensee files them (the year is the term's start).
AGREEMENT_SORTS = {
    queries.NEWEST: "Newest first",
    queries.OLDEST: "Oldest issued first",
    queries.BY_NUMBER: "By number",
}
AGREEMENT_FILTERS = {"state": "State", "sort": "Sort"}


def _agreement_page(
    agreement: Agreement,
    template: str,
    *,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    **extra: Any,
) -> tuple[str, int]:
    session = db.session()
    live = queries.live_renewal(session, agreement.id)
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    today = calendar.office_date(utcnow())
    by_hand = hand_priced.of_agreement(session, agreement, ratecard_queries.catalogue(session))
    return render_template(
        template,
        agreement=agreement,
        quote=quote,
        # What accepting invoices at once, said before the vendor accepts (round 36).
        due_on_acceptance=issuing.due_on_acceptance(quote),
        usage_based=any(issuing.usage_based(line) for line in issuing.licensed_lines(quote)),
        # Round 68: which use each part of it belongs to, where it licenses several.
        up_front_parts=issuing.up_front_parts(quote)
        if len(issuing.licensed_lines(quote)) > 1
        else [],
        # A license of past use only, said before it is accepted as after (round 50).
        past_term=services.past_term(agreement, today),
        # Round 66: no card priced it (a renewal staff priced by hand): what it says
        # instead of the renewed agreement's card its quote names.
        by_hand=by_hand,
        # Round 68: the card its panels name as the one that priced it, by the one rule
        # (`of_agreement` is None exactly where its card priced it).
        priced_card=agreement.rate_card if by_hand is None else None,
        # Where a renewal drawn today starts (`renewal.renewal_starts`): the day after
        # the term, or today for one past it; the days between, which neither licenses.
        renewal_from=renewal_starts(agreement, today),
        renewal_gap=_unlicensed_days(agreement, today),
        application=agreement.application,
        renewals=queries.renewals_of(session, agreement.id),
        live_renewal=live,
        renewal_refused=_renewal_refused(agreement, live, today),
        renewal_opens=renewal_opens(agreement, today),
        # The card a renewal is priced on, with its currency (round 64).
        renewal_card=renewal_card(agreement),
        renewal_card_that_day=renewal_card(agreement, "that day"),
        allowed=AGREEMENT.allowed(agreement.state),
        errors=errors or {},
        values=values or {},
        **extra,
    ), status


def _unlicensed_days(agreement: Agreement, today: date) -> tuple[date, date] | None:
    """The days from the day after `agreement`'s term to the day before a renewal
    drawn `today` would start, which neither licenses (round 59: an expired
    agreement's Renewal panel offered "the next rate card year" and said nothing of
    them); None when the renewal would start the day after the term."""
    starts = renewal_starts(agreement, today)
    after = agreement.term_end + timedelta(days=1)
    return (after, starts - timedelta(days=1)) if starts > after else None


def _renewal_refused(agreement: Agreement, live: Application | None, today: date) -> str | None:
    """Why the Renewal panel offers no *Renew* (`renewal_refusal`, as the API's
    `renewal.available` reads it and its POST refuses), the standing's reason naming
    what is overdue; None while only the window is ahead (`renewal_opens`: the panel
    says from when, in its own words)."""
    refusal = renewal_refusal(agreement, live.id if live else None, agreement.organization, today)
    if refusal is None or live is not None:
        return refusal
    opens = renewal_opens(agreement, today)
    if opens is not None and refusal == opens.refusal(agreement):
        return None
    return _block_reason(agreement.organization) or refusal


@bp.route("/agreements/<int:agreement_id>")
@access.vendor
def agreement(agreement_id: int) -> Page:
    found = queries.get_agreement(db.session(), agreement_id)
    return _vendor_agreement_page(found)


def _vendor_agreement_page(agreement: Agreement, **extra: Any) -> tuple[str, int]:
    """The licensee's agreement page, told when the card it was priced on was
    corrected (cardvendor60: only the console's page said so): by which card, since
    when, that its prices stay unless the office reissues it or credits an invoice,
    and the office's address; none of the office's figures or steps."""
    session = db.session()
    cards = ratecard_queries.catalogue(session)
    corrected = services.card_corrected(cards, agreement)
    return _agreement_page(
        agreement,
        "agreements/agreement.html",
        corrected=corrected,
        # Round 61: the words the email publishing the correction sends, ISO days worded
        # by the page (`days_in_words`).
        corrected_said=(
            services.correction_told(agreement, corrected) if corrected is not None else ()
        ),
        # Round 62: what the correction changes for its uses, as the email says it.
        corrected_figures=(
            services.correction_figures(cards, agreement, corrected)
            if corrected is not None
            else ()
        ),
        office_address=mail.sender_address(),
        **extra,
    )


@bp.route("/agreements/<int:agreement_id>/agreement.pdf")
@access.allow(vendor=True, staff=("licensing", "billing"))
def agreement_pdf(agreement_id: int) -> Response:
    """The stored PDF, byte for byte: what was shown, and what was accepted."""
    found = queries.get_agreement(db.session(), agreement_id)
    return pdf_response(
        queries.stored_pdf(db.session(), found), f"{found.number}.pdf", sha256=found.pdf_sha256
    )


@bp.route("/agreements/<int:agreement_id>/accept", methods=["POST"])
@access.licensing_work
@shows_unstorable_on_form
def accept(agreement_id: int) -> Page:
    actor = current_actor()
    session = db.session()
    found = queries.get_agreement(session, agreement_id)
    form = forms.AcceptanceForm()
    try:
        forms.checked(form)
        given = services.AcceptanceInput(
            signer_name=form.signer_name.data or "",
            signer_title=form.signer_title.data or "",
            authority_confirmed=form.authority_confirmed.data == "yes",
            pdf_sha256=form.pdf_sha256.data or "",
            ip_address=request.remote_addr or "unknown",
            user_agent=request.user_agent.string or "unknown",
        )
        services.accept(agreement_id, actor, given)
    except (InvalidInput, Conflict) as error:
        session.refresh(found)
        errors = getattr(error, "errors", None) or {"_": [said_to_the_reader(error)]}
        return _vendor_agreement_page(
            found,
            errors=errors,
            values=readable(request.form),
            status=422 if isinstance(error, InvalidInput) else 409,
        )
    flash(_accepted_message(session, found), "success")
    return redirect(url_for("agreements.agreement", agreement_id=agreement_id))


def _accepted_message(session: Session, agreement: Agreement) -> str | Markup:
    """Acceptance, and what it invoiced: vendors looked for an up-front invoice that
    an agreement charged only on reported usage never has. The invoice is linked
    (round 66: "pay it from Invoices" named a page the message did not open)."""
    session.refresh(agreement)
    done = (
        f"Agreement {agreement.number} is accepted. {services.past_term_accepted(agreement)}"
        if agreement.state == EXPIRED
        else f"Agreement {agreement.number} is accepted and active."
    )
    invoice = billing_queries.upfront_invoice(session, agreement.id)
    if invoice is None:
        return (
            f"{done} Nothing is due up front: royalties on usage are invoiced when you "
            "file your royalty reports."
        )
    return Markup(
        '{} Invoice <a href="{}">{}</a> is issued for {} {} due up front: pay it by card '
        "or by wire, ACH or check from its page."
    ).format(
        done,
        url_for("billing.invoice_detail", invoice_id=invoice.id),
        invoice.number,
        money(invoice.total, invoice.currency),
        invoice.currency,
    )


@bp.route("/agreements/<int:agreement_id>/renew", methods=["POST"])
@access.licensing_work
def renew(agreement_id: int) -> Page:
    try:
        renewal = services.start_renewal(agreement_id, current_actor())
    except Conflict as error:
        flash(said_to_the_reader(error), "error")
        return redirect(url_for("agreements.agreement", agreement_id=agreement_id))
    message = (
        f"{renewal.reference} renews the agreement: check the uses and quantities, then submit."
    )
    if services.awaits_rate_card(db.session(), renewal):
        assert renewal.term_start is not None
        assert renewal.renewal_of is not None
        message += (
            f" No rate card in {renewal.renewal_of.currency} is published yet for a term "
            f"starting {renewal.term_start:%Y-%m-%d}, "
            "so the licensing office will price the renewal by hand once you submit it."
        )
    flash(message, "success")
    return redirect(url_for("agreements.edit_application", application_id=renewal.id))


# --- vendor dashboard: what waits on whom ---------------------------------------------------------


# The dashboard names this many of the applications in each group (the oldest); the
# rest are counted, with a link to them in the applications list. A dashboard that
# names a thousand applications under review says less than one that counts them.
WAITING_NAMED = 5
# Each group: its states, on whom it waits, when each began waiting, and how to say
# how many more there are (one, several).
_WAITING_GROUPS = (
    (
        (RETURNED,),
        "you",
        Application.returned_at,
        "needs more information",
        "need more information",
    ),
    ((DRAFT,), "you", Application.created_at, "is a draft", "are drafts"),
    (
        AWAITING_STAFF,
        "the licensing office",
        Application.submitted_at,
        "is being reviewed",
        "are being reviewed",
    ),
)


numbered_record("agreement", Agreement, Agreement.number)
named_by_id("application", Application.reference_of)
# Histories, badges and lists say an application's state as its refusals do
# ("returned to the vendor", "awaiting reconsideration").
recorded_words("application", ("state",), APPLICATION.state_text)
# A quote version's amendments (`review._modified_quote`'s records) as a sentence
# each: the history showed the stored dict, counting uses from 0.
recorded_words("application", ("modifications",), issuing.modification_words)
# An agreement's issue names the application it came from by its reference, not its id
# (round 36: the audit log read "application id: — → 2").
recorded_words(
    "agreement",
    ("application_id",),
    lambda value: Application.reference_of(int(value)),
)
# Round 67: their events' amounts in the record's currency ("total: — → 2,500.00 USD").
recorded_currencies(
    "application",
    lambda ids: select(Application.id, Application.currency).where(Application.id.in_(ids)),
)
recorded_currencies(
    "agreement", lambda ids: select(Agreement.id, Agreement.currency).where(Agreement.id.in_(ids))
)


# The dashboard's counts of the organization's applications by state, read by the
# waiting applications' provider and kept for the rest of the request (in `g`),
# so the first application's panel need not count them again.
_STATE_COUNTS = "licensing_application_state_counts"


def _state_counts(session: Session, principal: Principal) -> dict[str, int]:
    counts = queries.application_state_counts(session, principal)
    g.setdefault(_STATE_COUNTS, {})[principal.organization_id] = counts
    return counts


@dashboard_context
def _first_application(session: Session, organization: Organization) -> dict[str, Any]:
    """An empty dashboard offers the first application."""
    counted: dict[int | None, dict[str, int]] = g.get(_STATE_COUNTS, {})
    counts = counted.get(organization.id)
    if counts is not None:  # this request's counts, every state of the organization's
        return {"first_application": not any(counts.values())}
    return {"first_application": queries.application_count(session, organization.id) == 0}


@organization_section("agreements_console.application")
def _organization_applications(
    session: Session, organization_id: int, limit: int
) -> dict[str, Any]:
    """The newest `limit` applications, and how many there are (round 47: it read
    every one to show the newest)."""
    chosen = queries.QueueFilter(organization_id=organization_id, sort=queries.VENDOR_SORT)
    listed = session.scalars(queries.applications_query(queue=chosen).limit(limit)).all()
    total = session.scalar(queries.application_count_query(queue=chosen)) or 0
    return {"applications": list(listed), "applications_total": int(total)}


@organization_section("agreements_console.agreement_detail")
def _organization_agreements(session: Session, organization_id: int, limit: int) -> dict[str, Any]:
    # Charged to date beside the estimate, as the agreements lists show them; the
    # newest `limit` read, and counted (round 47: it read every one).
    statement, count = queries.agreements_listing(organization_id=organization_id)
    listed = session.scalars(queries.charged_page(statement.limit(limit))).all()
    return {"agreements": list(listed), "agreements_total": int(session.scalar(count) or 0)}


@waiting_provider(step="agreements.applications")
def _waiting(
    session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    counts = _state_counts(session, principal)
    for states, waiting_on, since, one, several in _WAITING_GROUPS:
        count = sum(counts.get(state, 0) for state in states)
        if not count:
            continue
        for application in queries.oldest_applications(
            session, principal, states, since, WAITING_NAMED
        ):
            yield _waiting_item(application)
        if count > WAITING_NAMED:
            more = count - WAITING_NAMED
            yield WaitingItem(
                f"1 more application {one}" if more == 1 else f"{more} more applications {several}",
                waiting_on=waiting_on,
                detail="The oldest are listed above.",
                url=url_for("agreements.applications", state=list(states)),
            )
    if counts.get(REJECTED):  # no query for the dashboards with no rejection
        for rejected in queries.reconsiderations_to_ask(session, principal, utcnow()):
            yield _reconsideration_item(rejected)


# Registered after the applications', so its items still come after theirs.
@waiting_provider(when=queries.any_agreement_to_accept, step="agreements.accept")
def _agreements_to_accept(
    session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    if not account_services.licensable(organization):
        return  # it accepts nothing while closed or suspended (`ensure_licensable`)
    for found in queries.agreements_to_accept(session, principal):
        yield WaitingItem(
            f"Agreement {found.number} waits for your acceptance",
            waiting_on="you",
            detail="Read the PDF and accept it online to make the license active.",
            url=url_for("agreements.agreement", agreement_id=found.id),
            since=found.issued_at,
        )


# Registered after the agreements to accept, so its items come after theirs.
@waiting_provider(when=queries.any_agreement_unrenewed, step="agreements.renew")
def _renewals_to_start(
    session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    """An agreement ending within the renewal window that nothing renews yet: the
    licensee is asked to renew it, as staff see it among the renewals due; and, for
    `queries.EXPIRED_RENEWAL_DAYS` after its term, one that expired so (round 59). Not while
    the organization is out of good standing: it cannot draw the renewal (the
    agreement's Renewal panel says why), as the 60-day email waits too."""
    if not account_services.organization_in_good_standing(organization):
        return
    today = calendar.office_date(utcnow())
    for found in queries.renewals_to_start(session, organization.id, today):
        if found.term_end < today:
            yield _expired_to_renew(found, today)
            continue
        window_opened = window_opens(found)
        yield WaitingItem(
            f"Agreement {found.number} ends on {calendar.day_text(found.term_end)}: renew it "
            "to stay licensed",
            waiting_on="you",
            detail=(
                "Renew it on the agreement's page: the renewal is a new application for "
                f"the term from {calendar.day_text(found.term_end + timedelta(days=1))}, priced on "
                f"{renewal_card(found)}. Royalty reports for this term are still filed under "
                f"{found.number} after it ends."
            ),
            url=url_for("agreements.agreement", agreement_id=found.id) + "#renew-heading",
            since=calendar.end_of_office_day(window_opened - timedelta(days=1))
            + timedelta(microseconds=1),
        )


def _expired_to_renew(found: Agreement, today: date) -> WaitingItem:
    """An agreement expired lately that nothing renews (round 59): the renewal now
    starts today, so the days since its term are licensed by neither."""
    gap = _unlicensed_days(found, today)
    uncovered = ""
    if gap:
        days = calendar.day_text(gap[0]) if gap[0] == gap[1] else calendar.days_text(*gap)
        uncovered = (
            f"; it does not license {days}, between the two terms (ask the licensing office "
            "about any use then)"
        )
    return WaitingItem(
        f"Agreement {found.number} expired on {calendar.day_text(found.term_end)}: renew it "
        "to license its uses again",
        waiting_on="you",
        detail=(
            "It licenses no use after that day. Renew it on the agreement's page: the renewal "
            "is a new application for the term from "
            f"{calendar.day_text(renewal_starts(found, today))}, the day it is drawn, priced on "
            f"{renewal_card(found)}{uncovered}. Royalty reports for its term are still "
            f"filed under {found.number}."
        ),
        url=url_for("agreements.agreement", agreement_id=found.id) + "#renew-heading",
        since=calendar.end_of_office_day(found.term_end) + timedelta(microseconds=1),
    )


def _reconsideration_item(rejected: queries.ReconsiderationToAsk) -> WaitingItem:
    """A rejection the vendor may still ask to reconsider, once, on its page."""
    url = url_for("agreements.application", application_id=rejected.id)
    return WaitingItem(
        f"{rejected.reference} was rejected: you may ask for reconsideration",
        waiting_on="you",
        detail=(
            f"Ask by {calendar.deadline_text(rejected.reconsider_by)} on the application's"
            " page, saying why the decision should be reconsidered; after that it is final."
        ),
        url=f"{url}#rejected",
        since=rejected.decided_at,
    )


def _waiting_item(application: queries.WaitingApplication) -> WaitingItem:
    url = url_for("agreements.application", application_id=application.id)
    if application.state == RETURNED:
        return WaitingItem(
            f"{application.reference} needs more information",
            waiting_on="you",
            detail=(
                f"Resubmit by {calendar.deadline_text(application.resubmit_by)}: "
                if application.resubmit_by is not None
                else "Resubmit: "
            )
            + (application.return_reason or ""),
            url=url,
            since=application.returned_at,
        )
    if application.state == DRAFT:
        return WaitingItem(
            f"{application.reference} is a draft",
            waiting_on="you",
            detail="Finish it and submit it when ready.",
            url=url,
            since=application.created_at,
        )
    return WaitingItem(
        f"{application.reference} is being reviewed",
        waiting_on="the licensing office",
        detail=decision_expected(
            queries.review_level(
                application, utcnow(), target_days=current_config().application_review_sla_days
            )
        ),
        url=url,
        since=application.submitted_at,
    )


def _decision_expected(application: Application) -> str | None:
    """`decision_expected` for an application the office is reviewing; else None."""
    level = queries.review_level(
        application, utcnow(), target_days=current_config().application_review_sla_days
    )
    return decision_expected(level) if level.running else None


def decision_expected(level: queries.ReviewLevel) -> str:
    """By when the licensing office aims to decide an application it is reviewing, as
    the vendor reads it (round 66: the dashboard said "submitted", the application's
    page nothing, while the staff's review page gave the day)."""
    if level.due_at is None:
        return "We email you when the licensing office decides."
    counted = (
        "from your request for reconsideration"
        if level.counts_from == "reconsideration_request"
        else "from submission"
    )
    if level.overdue:
        return (
            f"The licensing office aimed to decide by {calendar.deadline_text(level.due_at)} "
            f"({level.target_days} US business days {counted}) and is late: we email you "
            "when it decides."
        )
    return (
        f"The licensing office aims to decide by {calendar.deadline_text(level.due_at)} "
        f"({level.target_days} US business days {counted}); we email you when it decides."
    )


# --- staff console: the queue and the review ------------------------------------------------------

LICENSING = ("licensing",)


def _user_id(raw: str) -> int | None:
    """A user id from a form or query string; None unless it is digits. Past the id
    column's range it is -1, which matches nobody (rather than overflowing on PostgreSQL)."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw) if len(raw) <= 9 else -1


# The queue's filters, carried through the bulk assignment so staff return to the same list.
QUEUE_FILTER_KEYS = ("q", "state", "assignee", "sort", "page", "organization")
# Each filter's label: the queue's form draws them from here, and a refusal names
# the field by them (`arguments`). All but `state` take one value (`state` takes
# several: its checkboxes).
QUEUE_FILTER_LABELS = {"q": "Search", "state": "State", "assignee": "Assignee", "sort": "Sort"}


def application_states_refused(args: MultiDict[str, str]) -> dict[str, list[str]]:
    """The State checkboxes' message when the link gives a state no application has
    (`arguments.unknown_choice`); the states as their checkboxes say them."""
    return arguments.unknown_choice(
        args,
        "state",
        {state: state_words(state, "application", label=True) for state in APPLICATION.states},
        QUEUE_FILTER_LABELS["state"],
        several=True,
    )


def _queue_filters(pairs: Iterable[tuple[str, str]]) -> MultiDict[str, str]:
    return MultiDict([(key, value) for key, value in pairs if key in QUEUE_FILTER_KEYS])


def _bulk_form(reviewers: list[queries.Reviewer]) -> BulkAssignForm:
    form = BulkAssignForm()
    form.assignee_id.choices = assignment.assignee_choices(
        (user.id, user.full_name) for user in reviewers
    )
    return form


@console.route("/applications")
@access.staff(*LICENSING)
def queue() -> Page:
    """The queue: search, filters, age against the service level, bulk assignment."""
    return _queue_page(_queue_filters(request.args.items(multi=True)))


def _queue_page(
    args: MultiDict[str, str],
    *,
    bulk_form: BulkAssignForm | None = None,
    selected: frozenset[int] = frozenset(),
    status: int = 200,
) -> tuple[str, int]:
    session = db.session()
    states = [s for s in args.getlist("state") if s in APPLICATION.states]
    # One organization's applications (the link from what stays open with a closed
    # one): every undecided one, those returned to the vendor too.
    organization_id = requested_organization(args)
    if "state" not in args:
        states = list(AWAITING_STAFF if organization_id is None else queries.AWAITING_DECISION)
    assignee_arg = args.get("assignee", "")
    assignee: str | int | None = None
    if assignee_arg in queries.ASSIGNEE_FILTERS:
        assignee = assignee_arg
    elif (user_id := _user_id(assignee_arg)) is not None:
        assignee = user_id
    sort = args.get("sort", "oldest")
    if sort not in queries.SORTS:
        sort = "oldest"
    search = args.get("q", "").strip()[: queries.SEARCH_MAX]
    queue = queries.QueueFilter(
        states=states,
        assignee=assignee,
        organization_id=organization_id,
        sort=sort,
        search=search,
    )
    # The principal names "me" (assignee=me): without it the filter matched everyone.
    principal = access.require_principal()
    # A filter given twice is refused beside its field, nothing listed (`arguments`),
    # as is an assignee id of nobody the filter offers (it listed nothing unsaid), and
    # a state or order the form does not offer (it showed the default list unsaid).
    refused = arguments.repeated(args, ("state",), labels=QUEUE_FILTER_LABELS)
    # The filter offers those who had applications too, deactivated or not (marked);
    # the bulk assignment, the reviewers.
    assignees, reviewers = queries.assignee_choices(session)
    unread = (
        {}
        if refused
        else {
            **application_states_refused(args),
            **arguments.unknown_choice(args, "sort", queries.SORTS, QUEUE_FILTER_LABELS["sort"]),
            **assignment.unknown_assignee(assignee_arg, (person.id for person in assignees)),
        }
    )
    found = None
    if not refused and not unread:
        found = paging.read_page(
            session,
            queries.queue_rows_query(principal, queue),
            args=args,
            path=url_for("agreements_console.queue"),
            rows=lambda window, parameters: queries.queue_applications(
                session, window, parameters, sort
            ),
            count=queries.application_count_query(principal, queue),
        )
    items = found.items if found else []
    levels = queries.review_levels(
        items, utcnow(), target_days=current_config().application_review_sla_days
    )
    assign_form = bulk_form or _bulk_form(reviewers)
    scope = organization_scope(
        organization_id,
        partial(session.get, Organization),
        filters=args,
        path=url_for("agreements_console.queue"),
    )
    page = render_template(
        "agreements/queue.html",
        rows=queue_rows(
            items,
            levels,
            selected=selected,
            application_url=_review_url(scope),
            organization_url=url_pattern("accounts_console.organization_detail", "organization_id"),
        ),
        page=found,
        states=APPLICATION.states,
        chosen=states,
        assignee=assignee_arg,
        assignees=assignees,
        sort=sort,
        sorts=queries.SORTS,
        search=search,
        assign_form=assign_form,
        assignee_select=assignment.assignee_select(assign_form),
        filter_query=urlencode(list(args.items(multi=True))),
        filter_errors=refused or unread,
        filter_labels=QUEUE_FILTER_LABELS,
        scope=scope,
    )
    return page, (400 if refused else 422 if unread else status)


def _review_url(scope: OrganizationScope | None) -> Callable[[int], str]:
    """A queue row's link to its review page, carrying the queue's organization (so
    the page's link back to the queue keeps to it)."""
    review_url = url_pattern("agreements_console.application", "application_id")
    assert review_url is not None  # the queue's own blueprint has the review page
    if scope is None:
        return review_url
    return lambda application_id: f"{review_url(application_id)}?{urlencode(scope.carried)}"


@console.route("/applications/assign", methods=["POST"])
@access.staff(*LICENSING)
def bulk_assign() -> Page:
    """Assign (or, once confirmed, unassign) the selected applications, all or none,
    then back to the queue with its filters as they were."""
    form = _bulk_form(queries.reviewers(db.session()))
    wanted = assignment.bulk_assignment(form, "application_ids", "application")
    filters = _queue_filters(parse_qsl(request.form.get("filters", "")))
    back = url_for("agreements_console.queue") + (
        f"?{urlencode(list(filters.items(multi=True)))}" if filters else ""
    )
    if not wanted.valid:
        return _queue_page(filters, bulk_form=form, selected=wanted.selected, status=422)
    count = counted(len(wanted.ids), "application")
    try:
        if wanted.unassigns and not confirm.confirmed():
            # Round 56: what the unassignment would refuse, before asking.
            services.check_assign_many(wanted.ids, wanted.assignee_id, current_actor())
            return confirm.ask(assignment.unassign_confirmation(count, "reviewing", back))
        services.assign_many(wanted.ids, wanted.assignee_id, current_actor())
    except InvalidInput as error:
        show_errors(form, error)
        return _queue_page(filters, bulk_form=form, selected=wanted.selected, status=422)
    flash(f"{count} {'unassigned' if wanted.unassigns else 'assigned'}.", "success")
    return redirect(back)


def _started_term(application: Application) -> issuing.StartedTerm | None:
    """What approving today would make retroactive, for the approval form: of the
    term being approved, the one the refused form asked for where it named one
    (round 50: staff change the term on that form), else the submitted one."""
    submitted = application.submitted_quote
    if submitted is None:
        return None
    start, end = _approved_term(submitted.term_start, submitted.term_end)
    return issuing.started_term(
        Quote.from_snapshot(submitted.snapshot), start, end, calendar.office_date(utcnow())
    )


def _approved_term(start: date, end: date) -> tuple[date, date]:
    """The term a refused approval form asked for, where both its dates read
    (YYYY-MM-DD within the calendar's bounds, as every day is read), run forwards and
    make a term an agreement can be issued for; else (`start`, `end`), the submitted
    term. Round 51: a term to 9999-12-31 here was a 500 ("year 10000 is out of range")."""
    try:
        asked = (
            calendar.parse_day(request.form.get("term_start", "").strip()),
            calendar.parse_day(request.form.get("term_end", "").strip()),
        )
    except ValueError:
        return start, end
    if asked[0] > asked[1] or issuing.term_problem(*asked) is not None:
        return start, end
    return asked


def _review_steps(application: Application) -> list[str]:
    """The steps of `application` the signed-in reviewer may take now (as the API's
    `allowed_actions` lists them): the state's, less those its use case refuses."""
    user_id, now = access.require_principal().user_id, utcnow()
    return [
        action
        for action in APPLICATION.allowed(application.state)
        if not step_checks.application_step_refused(application, action, user_id=user_id, now=now)
    ]


def _escalated_by(application: Application, principal: Principal) -> bool:
    return application.state == ESCALATED and application.escalated_by_id == principal.user_id


def _console_page(
    application: Application, *, errors: dict[str, list[str]] | None = None, status: int = 200
) -> tuple[str, int]:
    session = db.session()
    submitted = application.submitted_quote
    quoted = Quote.from_snapshot(submitted.snapshot) if submitted else None
    versions = [(v, Quote.from_snapshot(v.snapshot)) for v in application.quotes]
    history = audit_queries.events_for(session, "application", application.id)
    rejection = _rejection(application)
    steps = (rejection.rejected, rejection.denied) if rejection else ()
    return render_template(
        "agreements/review.html",
        # Round 57: who made each quote version, took a decision or acted in the
        # history, named as pages name people, in one statement for the page.
        page_people=account_queries.people_of(
            session,
            history,
            # Round 58: a version names its maker, and a decision its taker, by the
            # account it kept, if it kept one.
            ids=[version.created_by_id for version, _ in versions]
            + [step.by_id for step in steps if step is not None],
            addresses=[version.created_by for version, _ in versions]
            + [step.by for step in steps if step is not None],
        ),
        application=application,
        submitted=quoted,
        # Round 66: a renewal priced by hand, whose quote names the renewed agreement's
        # card, captioned "on no rate card" as the vendor's page and the agreement's are.
        by_hand=_priced_by_hand(session, application, quoted),
        versions=versions,
        # A renewal's latest price against its agreement's, and why (round 42).
        renewal_change=renewal_change(session, application, versions[-1][1] if versions else None),
        # The question, the answer and what the resubmission changed (round 57).
        resubmitted=resubmission(session, application, [version for version, _ in versions]),
        # Round 58: the earlier versions folded, each with what the next one changed.
        version_changes=version_changes(session, application, [version for version, _ in versions]),
        latest_submitted=submitted.version if submitted else None,
        notes=queries.notes(session, application.id),
        renewal_figures=reported_usage.figures(application),
        history=history,
        agreement=queries.agreement_for_application(session, application.id),
        reviewers=queries.reviewers(session),
        # Round 57: the steps this reviewer may take now (not the decision on one they
        # escalated, nor an approval the organization's standing refuses).
        allowed=_review_steps(application),
        escalated_by_you=_escalated_by(application, access.require_principal()),
        reconsideration_open=queries.reconsideration_is_open(application, utcnow()),
        # Round 36: the queue showed the age against the service level, the page not.
        level=queries.review_level(
            application, utcnow(), target_days=current_config().application_review_sla_days
        ),
        rejection=rejection,
        started=_started_term(application),
        # The approval form's script words the sentence for a changed term (round 50).
        office_today=calendar.office_date(utcnow()),
        reports_usage=quoted is not None and issuing.reports_usage(quoted),
        replaced_card=_replaced_card(session, application),
        errors=errors or {},
        form=readable(request.form) if request.method == "POST" else {},
    ), status


def _replaced_card(session: Session, application: Application) -> tuple[str, list[str]] | None:
    """The card that priced the submitted quote and the versions that have replaced
    it for every day since (a correction), while the application is undecided."""
    submitted = application.submitted_quote
    if submitted is None or "return" not in APPLICATION.allowed(application.state):
        return None
    version = submitted.snapshot["rate_card"]
    replaced = ratecard_queries.replaced_by(ratecard_queries.all_cards(session))
    return (version, replaced[version]) if version in replaced else None


@console.route("/applications/<int:application_id>", endpoint="application")
@access.staff(*LICENSING)
def application_review(application_id: int) -> Page:
    return _console_page(queries.get_application(db.session(), application_id))


def _staff_action(application_id: int, call: Any, done: str | Callable[[Application], str]) -> Page:
    return _application_step(application_id, call, done, page=_console_page, back=_review_page_url)


def _review_page_url(application_id: int) -> str:
    """The application's review page after a step (the assignee saved, a note, a
    decision), keeping the narrowing of the queue it was opened from."""
    session = db.session()
    # The step has it in the session (round 68, reads68: read again by the statement the
    # view had sent): staff see every application, so its organization is all it reads.
    application = session.get(Application, application_id) or queries.get_application(
        session, application_id
    )
    return record_url(
        "agreements_console.application", application.organization_id, application_id=application_id
    )


@console.route("/applications/<int:application_id>/assign", methods=["POST"])
@access.staff(*LICENSING)
def assign(application_id: int) -> Page:
    assignee = _user_id(request.form.get("assignee_id", ""))
    return _staff_action(
        application_id,
        lambda: services.assign(application_id, assignee, current_actor()),
        "The assignee is saved.",
    )


@console.route("/applications/<int:application_id>/notes", methods=["POST"])
@access.staff(*LICENSING)
@shows_unstorable_on_form
def add_note(application_id: int) -> Page:
    def call(form: forms.NoteForm) -> object:
        return services.add_note(application_id, form.body.data or "", current_actor())

    return _staff_action(
        application_id, _with_form(forms.NoteForm, call), "The internal note is saved."
    )


# What the console says after each step of its review form.
def _vendor_told(application: Application) -> str:
    """Whom a step's email to the vendor went to, as the service addresses it
    (`services.vendor_told`, which the API's `recipients` reads too): "We emailed
    Birchway Billing Inc. at a@x.example". Round 36: the messages after a decision
    said what was done and not whom it told."""
    return f"We emailed {services.vendor_told(db.session(), application).whom}"


def _returned(application: Application) -> str:
    deadline = calendar.deadline_text(application.resubmit_by) if application.resubmit_by else ""
    return (
        f"Returned to the vendor for information. {_vendor_told(application)} your question: "
        f"they have until {deadline} to answer and resubmit."
    )


def _rejected(application: Application) -> str:
    window = calendar.deadline_text(application.reconsider_by) if application.reconsider_by else ""
    return (
        f"The application is rejected. {_vendor_told(application)} the reason: they may ask "
        f"for reconsideration until {window}."
    )


def _approved(application: Application) -> str:
    agreement = queries.agreement_for_application(db.session(), application.id)
    number = agreement.number if agreement else ""
    # A license of past use only, as approved (the term staff approved; round 50).
    past = agreement and services.past_term(agreement, calendar.office_date(utcnow()))
    return (
        f"Approved: the agreement is issued as {number}. {_vendor_told(application)} "
        "to read and accept it." + (f" {past}" if past else "")
    )


_REVIEW_DONE: dict[str, str | Callable[[Application], str]] = {
    "start_review": "Review started.",
    "return": _returned,
    "escalate": lambda application: (
        f"Escalated for a second review. We emailed {services.staff_told(application).whom}."
    ),
    "reject": _rejected,
    "grant_reconsideration": lambda application: (
        "Reconsideration granted: the application is back in review. "
        f"{_vendor_told(application)} that it is."
    ),
    "deny_reconsideration": lambda application: (
        f"Reconsideration denied. {_vendor_told(application)} the reason."
    ),
}


@console.route("/applications/<int:application_id>/review", methods=["POST"])
@access.staff(*LICENSING)
@shows_unstorable_on_form
def review(application_id: int) -> Page:
    form = forms.DecisionForm()
    action = form.action.data or ""
    if action not in _REVIEW_DONE:  # approval has its own form, with the changes
        form.validate()  # an unstorable reason is told beside it as well
        return _console_page(
            queries.get_application(db.session(), application_id),
            errors={**forms.error_paths(form), "action": ["Choose an action."]},
            status=422,
        )
    actor = current_actor()

    def call() -> object:
        forms.checked(form)
        return services.review(
            application_id,
            action,
            actor,
            policy=IssuingPolicy.from_config(current_config()),
            reason=form.reason.data or "",
        )

    return _staff_action(application_id, call, _REVIEW_DONE[action])


def _modifications(application: Application) -> services.Modifications:
    """Per-line amounts (`amount-N`, `reason-N`) and the term, from the approval form."""
    submitted = application.submitted_quote
    # Amounts in the quote's currency: "1250.123" is refused beside its field as
    # having too many decimals, as the use case would refuse it.
    places = minor_units(submitted.currency) if submitted else AMOUNT_PLACES
    form = forms.approval_form(len(application.uses), request.form, places=places)
    if not form.validate():
        raise InvalidInput("Some changes need correcting.", forms.error_paths(form))
    return form.modifications((application.term_start, application.term_end))


@console.route("/applications/<int:application_id>/approve", methods=["POST"])
@access.staff(*LICENSING)
@shows_unstorable_on_form
def approve(application_id: int) -> Page:
    application = queries.get_application(db.session(), application_id)
    actor = current_actor()

    def call() -> Application:
        changes = _modifications(application)
        # Line errors come back as `lines.N.reason`: show them beside use N's inputs.
        try:
            return services.review(
                application_id,
                "approve",
                actor,
                policy=IssuingPolicy.from_config(current_config()),
                reason=request.form.get("note"),
                modifications=changes,
            )
        except InvalidInput as error:
            errors: dict[str, list[str]] = {}
            for path, messages in error.errors.items():
                parts = path.split(".")
                if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit():
                    line = changes.lines[int(parts[1])].line
                    errors[f"{parts[2]}-{line}"] = messages
                elif path in ("term.start", "term.end"):  # the new term's own dates
                    errors[path.replace(".", "_")] = messages
                else:
                    errors[path] = messages
            raise InvalidInput(error.detail, errors) from None

    return _staff_action(application_id, call, _approved)


@console.route("/agreements")
@access.staff("licensing", "billing")
def agreements_list() -> tuple[str, int]:
    # One organization's (the link from what stays open with a closed one).
    organization_id = requested_organization(request.args)
    states, order, refused, status = _agreement_filters()
    page = (
        None
        if refused
        else _agreements_page(states=states, organization_id=organization_id, order=order)
    )
    return render_template(
        "agreements/agreements.html",
        detail_endpoint="agreements_console.agreement_detail",
        agreements=page.items if page else [],
        page=page,
        **_filter_form(states, order, refused),
        # Round 53: an issued agreement's row says how long it has waited (the home's
        # row links here), as its page does.
        waited=partial(_days_waited, calendar.office_date(utcnow())),
        scope=organization_scope(
            organization_id,
            partial(db.session().get, Organization),
            filters=request.args,
            path=links.request_path(),
        ),
    ), status


def _days_waited(today: date, agreement: Agreement) -> str:
    """How long an issued agreement has waited for acceptance, in the list's words."""
    return _days_ago(max((today - calendar.office_date(agreement.issued_at)).days, 0))


# Rows a page of the renewals due and of the rejections open to reconsideration
# shows (round 46: windows of days, one page each before); the tests walk ties with
# fewer.
WINDOW_LISTS_PER_PAGE = paging.PER_PAGE


@console.route("/agreements/renewals-due")
@access.staff("licensing", "billing")
def renewals_due() -> str:
    today = calendar.office_date(utcnow())
    session = db.session()
    page: paging.Page[Agreement] = paging.read_page(
        session, queries.renewals_due_query(session, today), per_page=WINDOW_LISTS_PER_PAGE
    )
    due = queries.with_renewals(session, page.items)
    # Round 36: "No renewal yet" left staff asking whether the licensee had been told.
    unrenewed = [agreement.id for agreement, renewal in due if renewal is None]
    return render_template(
        "agreements/renewals_due.html",
        due=due,
        page=page,
        window=queries.RENEWAL_WINDOW_DAYS,
        reminded=audit_queries.last_of(session, "agreement", ENDING_REMINDED, unrenewed),
        reminder=ENDING_REMINDER,
        today=today,
    )


# The list's filters (round 60), named as its form labels them; the days a chase
# goes stale by default, and the most the form takes.
CHASE_FILTERS = {"chased": "Chased", "days": "Days since the last contact", "sort": "Sort"}
CHASE_DAYS = 14
CHASE_DAYS_MAX = 3650


def _chase_filters() -> tuple[dict[str, Any], dict[str, list[str]], int]:
    """The list's Chased, Days and Sort as the link gives them, what is refused (a
    filter given twice: 400; a value not offered, or days not a whole number from 1
    to `CHASE_DAYS_MAX`: 422, beside its field), and the status to answer with."""
    args = request.args
    twice = arguments.repeated(args, labels=CHASE_FILTERS)
    refused = twice or {
        **arguments.unknown_choice(args, "chased", queries.CHASED_CHOICES, "Chased"),
        **arguments.unknown_choice(args, "sort", queries.CHASE_SORTS, "Sort"),
    }
    written = (args.get("days") or "").strip()
    days = CHASE_DAYS
    if written and not twice:
        if written.isdigit() and 1 <= int(written) <= CHASE_DAYS_MAX:
            days = int(written)
        else:
            shown = written if len(written) <= 30 else f"{written[:30]}…"
            refused["days"] = [
                f"{CHASE_FILTERS['days']} takes a whole number of days from 1 to "
                f"{CHASE_DAYS_MAX}; the link gave “{shown}”: correct it and filter again."
            ]
    chosen = {
        "chased": args.get("chased") or None,
        "days": days,
        "sort": args.get("sort") or queries.ENDED_FIRST,
    }
    return chosen, refused, (400 if twice else 422 if refused else 200)


@console.route("/agreements/expired-unrenewed")
@access.staff("licensing", "billing")
def expired_unrenewed() -> tuple[str, int]:
    """Agreements that expired without a renewal within `queries.EXPIRED_RENEWAL_DAYS`,
    the longest ended first (round 59, expired59: the renewals due list active
    agreements only, so the office lost sight of a licence from the day after its term,
    while the licensee's dashboard asks for its renewal for 90 days more). Round 60:
    each row's last contact recorded (when, how, by whom), filtered to those not chased
    or chased more than `days` days ago, and sorted by it."""
    today = calendar.office_date(utcnow())
    chosen, refused, status = _chase_filters()
    session = db.session()
    page: paging.Page[Agreement] | None = (
        None
        if refused
        else paging.read_page(
            session,
            queries.expired_unrenewed_query(
                today, chased=chosen["chased"], days=chosen["days"], order=chosen["sort"]
            ),
            per_page=WINDOW_LISTS_PER_PAGE,
        )
    )
    expired = page.items if page else []
    contacts = queries.last_contact_of(session, [agreement.id for agreement in expired])
    return render_template(
        "agreements/expired_unrenewed.html",
        expired=expired,
        page=page,
        contacts=contacts,
        # Who recorded each, named as pages name people ("Name (address)").
        recorders=account_queries.people_named(
            session, {c.recorded_by_id for c in contacts.values() if c.recorded_by_id}
        ),
        ways=CONTACT_WAYS,
        chosen=chosen,
        errors=refused,
        labels=CHASE_FILTERS,
        chased_choices=queries.CHASED_CHOICES,
        sorts=queries.CHASE_SORTS,
        window=queries.EXPIRED_RENEWAL_DAYS,
        window_days=timedelta(days=queries.EXPIRED_RENEWAL_DAYS),
        one_day=timedelta(days=1),
        today=today,
    ), status


@console.route("/agreements/<int:agreement_id>/contacts", methods=["POST"])
@access.staff("licensing", "billing")
@shows_unstorable_on_form
def record_contact(agreement_id: int) -> Page:
    """Record a contact chasing an expired licence (round 60): the day, how and a
    note; refused beside its fields (422) or, where the agreement is not one to
    chase, said above them (409), on the agreement's page as it stands."""
    session = db.session()
    found = queries.get_agreement(session, agreement_id)
    form = forms.ContactForm()
    try:
        forms.checked(form)
        contact = services.record_contact(
            agreement_id,
            form.contacted_on.data,
            form.how.data,
            form.note.data,
            current_actor(),
        )
    except (InvalidInput, Conflict) as error:
        session.refresh(found)
        return _console_agreement_page(
            found,
            errors=getattr(error, "errors", None) or {"_": [said_to_the_reader(error)]},
            values=readable(request.form),
            status=problem_status(error),
        )
    flash(
        f"The contact with {found.organization.legal_name} on "
        f"{calendar.day_text(contact.contacted_on)} ({CONTACT_WAYS[contact.how]}) is recorded "
        "on its history and the agreements expired without a renewal.",
        "success",
    )
    return redirect(_agreement_page_url(found))


def expiry_grace() -> timedelta:
    """How late the expiry run may be before it is said to be behind: the jobs'
    `JOB_GRACE_MINUTES`, as `/readyz` reads a late job."""
    return timedelta(minutes=current_config().job_grace_minutes)


@console.route("/agreements/past-term")
@access.staff("licensing", "billing", "admin")
def active_past_term() -> str:
    """Agreements still active past their term, the longest past it first (round 60,
    agreements60: the expiry run stopped or failed left them on no list, while the
    console said nothing). Admins read it too: the Jobs page links it."""
    now = utcnow()
    cutoff = queries.past_term_cutoff(now, expiry_grace())
    page: paging.Page[Agreement] = paging.read_page(
        db.session(), queries.active_past_term_query(cutoff), per_page=WINDOW_LISTS_PER_PAGE
    )
    return render_template(
        "agreements/past_term.html",
        agreements=page.items,
        page=page,
        today=calendar.office_date(now),
        one_day=timedelta(days=1),
        window=queries.RENEWAL_WINDOW_DAYS,
        expired_window=queries.EXPIRED_RENEWAL_DAYS,
    )


@console.route("/applications/reconsideration-open")
@access.staff(*LICENSING)
def reconsideration_open() -> str:
    """Rejections the vendor may still ask to reconsider, the window closing first."""
    session = db.session()
    page: paging.Page[Application] = paging.read_page(
        session, queries.reconsiderations_open_query(utcnow()), per_page=WINDOW_LISTS_PER_PAGE
    )
    return render_template(
        "agreements/reconsideration_open.html",
        rejected=page.items,
        page=page,
        # Round 58: who rejected each, named as the review page names them ("Name
        # (address)", by the account the decision kept, else the address), in one
        # statement for the page; the address alone before.
        people=account_queries.people_of(
            session,
            ids=[application.decided_by_id for application in page.items],
            addresses=[application.decided_by for application in page.items],
        ),
    )


class AcceptanceWait(NamedTuple):
    """An issued agreement waiting on the licensee (round 53): how many days since it
    was issued, and the last day it may be accepted before the hourly run expires it
    unaccepted (None for one issued after its term, which waits until staff end it)."""

    days: int
    expires_after: date | None


def _acceptance_wait(agreement: Agreement) -> AcceptanceWait | None:
    if agreement.state != ISSUED:
        return None
    days = (calendar.office_date(utcnow()) - calendar.office_date(agreement.issued_at)).days
    return AcceptanceWait(
        days=days, expires_after=None if issued_after_term(agreement) else agreement.term_end
    )


# The events an agreement's page shows of its whole trail (the newest; the audit log,
# for admins, has every one).
TRAIL_EVENTS = 100


def _trail(session: Session, agreement: Agreement) -> dict[str, Any]:
    """The agreement's history with its application's, royalty reports', invoices',
    payments', credit notes' and refunds' (round 66: it held the agreement's own
    events alone, and billing staff, who may not open the audit log, had no trail of
    what happened under it), each other record's event naming it, linked."""
    records = [
        *queries.trail_records(session, agreement),
        *billing_queries.trail_under(session, agreement.number),
    ]
    history = audit_queries.events_for_records(session, records, limit=TRAIL_EVENTS)
    own = ("agreement", str(agreement.id))
    others = {(event.entity_type, event.entity_id) for event in history} - {own}
    refs = record_refs(sorted(others))
    return {
        "history": history,
        "history_subjects": {
            event.seq: (refs[key].label, refs[key].url)
            for event in history
            if (key := (event.entity_type, event.entity_id)) != own
        },
        "history_whole": len(history) < TRAIL_EVENTS,
    }


def _console_agreement_page(agreement: Agreement, **extra: Any) -> tuple[str, int]:
    """The agreement's console page: its history, and while issued what it waits on
    (the vendor's page said what accepting invoices; staff's said only "issued"), and
    the card that corrected its own, to reissue it on (round 55)."""
    session = db.session()
    # Round 56: the press only where the step would go ahead; where a correction
    # replaced its card but the reissue is refused, why and what to do instead.
    offer = services.reissue_offer(session, agreement)
    # Round 60: a licence that expired after being in force is chased from here.
    chased = agreement.state == EXPIRED and agreement.activated_at is not None
    last = queries.last_contact_of(session, [agreement.id]).get(agreement.id) if chased else None
    return _agreement_page(
        agreement,
        "agreements/console_agreement.html",
        **_trail(session, agreement),
        acceptance_wait=_acceptance_wait(agreement),
        correction=None if isinstance(offer, str) else offer,
        not_reissued=offer if isinstance(offer, str) else None,
        chase=chased,
        last_contact=last,
        last_recorder=(
            account_queries.people_named(session, {last.recorded_by_id}).get(last.recorded_by_id)
            if last is not None and last.recorded_by_id is not None
            else None
        ),
        ways=CONTACT_WAYS,
        today=calendar.office_date(utcnow()),
        # cardwalk60: accepted on a card a correction replaced since, it keeps its
        # prices, and its page now says so, with the correction's and what to do.
        kept=(kept := services.kept_prices(session, agreement)),
        # Round 61: for which days (every day of the card's period, or part of it).
        kept_days=(
            services.corrected_days(kept.told)
            if kept and kept.told and not kept.told.whole_card
            else ""
        ),
        **extra,
    )


@console.route("/agreements/<int:agreement_id>")
@access.staff("licensing", "billing")
def agreement_detail(agreement_id: int) -> Page:
    return _console_agreement_page(queries.get_agreement(db.session(), agreement_id))


@console.route("/agreements/<int:agreement_id>/terminate", methods=["POST"])
@access.staff(*LICENSING)
@shows_unstorable_on_form
def terminate(agreement_id: int) -> Page:
    session = db.session()
    found = queries.get_agreement(session, agreement_id)
    form = forms.ReasonForm()
    reason = form.reason.data or ""
    try:
        forms.checked(form)  # an unstorable reason: beside the field, before asking
        # Ending a license cannot be undone and tells the licensee: asked first, like
        # voiding an invoice (a missing reason is the form's message, without asking).
        if reason.strip() and not confirm.confirmed():
            # Round 56: what terminating would refuse (ended meanwhile), before asking.
            services.check_termination(agreement_id, reason, current_actor())
            return confirm.ask(_termination_question(found, reason.strip()))
        # Round 54: the confirmation said what ending it does in the state it was
        # shown in; the service refuses (409) when the agreement moved since. Round
        # 55: that state, and the reason, come signed (400 when edited or stale).
        shown = request.form.get(TERMINATION_CONFIRMATION, "") if confirm.confirmed() else None
        services.terminate(agreement_id, reason, current_actor(), confirmation=shown)
    except (InvalidInput, Conflict, BadRequest) as error:
        session.refresh(found)
        return _console_agreement_page(
            found,
            errors=getattr(error, "errors", None) or {"_": [error.detail]},
            values=readable(request.form),  # the reason as typed, to correct
            status=problem_status(error),
        )
    flash(f"Agreement {found.number} is terminated.", "success")
    return redirect(_agreement_page_url(found))


@console.route("/agreements/<int:agreement_id>/reissue", methods=["POST"])
@access.staff(*LICENSING)
@shows_unstorable_on_form
def reissue(agreement_id: int) -> Page:
    """Reissue an unaccepted agreement on the card that corrected its own (round 55):
    asked first, on a page saying each use's price then and now and what the licensee
    is sent; the press carries the signed confirmation of what was shown."""
    session = db.session()
    found = queries.get_agreement(session, agreement_id)
    form = forms.ReasonForm(prefix=REISSUE)
    reason = form.reason.data or ""
    try:
        forms.checked(form)
        if not confirm.confirmed():
            checked = services.check_reissue(agreement_id, reason, current_actor())
            return confirm.ask(_reissue_question(found, checked))
        new = services.reissue(
            agreement_id,
            reason,
            current_actor(),
            policy=IssuingPolicy.from_config(current_config()),
            confirmation=request.form.get(REISSUE_CONFIRMATION, ""),
        )
    except (InvalidInput, Conflict, BadRequest) as error:
        session.refresh(found)
        errors = getattr(error, "errors", None) or {"_": [error.detail]}
        return _console_agreement_page(
            found,
            errors={f"{REISSUE}-{k}" if k == "reason" else k: v for k, v in errors.items()},
            values=readable(request.form),
            status=422
            if isinstance(error, InvalidInput)
            else 409
            if isinstance(error, Conflict)
            else 400,
        )
    flash(
        f"Agreement {found.number} is replaced by {new.number}, priced on rate card "
        f"{new.rate_card}. We emailed {new.organization.legal_name} the new agreement to "
        "accept.",
        "success",
    )
    return redirect(_agreement_page_url(new))


# The reissue's form fields: its prefix (the page's termination form has a reason too)
# and the signed value its confirmation carries.
REISSUE = "reissue"
REISSUE_CONFIRMATION = "confirmation"


def _reissue_question(agreement: Agreement, checked: services.Reissue) -> confirm.Confirmation:
    currency = checked.currency

    def amount(value: Decimal | None) -> str:
        return "unpriced" if value is None else f"{money(value, currency)} {currency}"

    lines: list[str] = []
    for line in checked.lines:
        lines.append(
            f"Use {line.use} ({line.product}): {amount(line.was)} on {checked.was_card}, "
            f"{amount(line.now)} on {checked.card}"
            + (f", {line.kept}, kept" if line.kept else "")
            + "."
        )
        # Round 56: each card's working, so a tier or discount the correction changed
        # is read beside the amounts (they alone could not tell it from a slip); round
        # 57: in the words and grouped figures of the agreement's own working above it
        # ("2,500 end users", not "2500 end_users"), so the two read alike.
        lines += [
            f"Working on {card}: {'; '.join(working_in_words(step) for step in working)}."
            for card, working in (
                (checked.was_card, line.was_working),
                (checked.card, line.working),
            )
            if working
        ]
    if checked.due or checked.was_due:
        due = (
            f"Invoiced when they accept it: {amount(checked.due)} (it is "
            f"{amount(checked.was_due)})."
        )
    else:
        due = (
            "Nothing is invoiced when they accept it, on either card: royalties on usage are "
            "invoiced with their royalty reports."
        )
    return confirm.Confirmation(
        title=f"Reissue agreement {agreement.number} on rate card {checked.card}?",
        consequences=[
            f"Rate card {checked.was_card}, which priced it, is replaced by {checked.card}. "
            f"A new agreement, with a new number and PDF, is issued to "
            f"{checked.organization} for the same uses and term, priced on {checked.card}: "
            f"total {amount(checked.total)} (it is {amount(checked.was_total)}).",
            *_many_times(checked, current_config().price_change_ratio),
            *_unchanged(checked),
            *lines,
            due,
            f"Agreement {agreement.number} is replaced: it stays as it was issued but can no "
            "longer be accepted. This cannot be undone.",
            f"The licensee is emailed the new agreement to accept, with the reason: "
            f"{checked.reason}",
        ],
        button=f"Reissue on rate card {checked.card}",
        cancel_url=_agreement_page_url(agreement),
        control="reissue-agreement",
        cancel_label="Keep the agreement",
        carried=[(REISSUE_CONFIRMATION, checked.confirmation)],
    )


def _unchanged(checked: services.Reissue) -> list[str]:
    """A correction that leaves every price of the agreement as it was (round 57: the
    confirmation read "total 40,800.00 USD (it is 40,800.00 USD)" and nothing more, and
    a reissue then sends the licensee a second agreement to read and accept for the
    same figures): said before the uses, so the analyst may keep the agreement. Round
    58: a use priced by usage whose tiers, percent, discount or bounds the correction
    changed is a price changed, though its amount at the estimate is the same."""
    if checked.changes_price:
        return []
    return [
        f"Rate card {checked.card} prices every use of this agreement as {checked.was_card} "
        "did: the correction changed none of its prices. Reissuing changes only the card it "
        "names, and the licensee must read and accept a new agreement; keeping it, they may "
        f"accept it as issued, at its prices on {checked.was_card}."
    ]


def _many_times(checked: services.Reissue, ratio: Decimal) -> list[str]:
    """A reissue whose total moves more than the office's `PRICE_CHANGE_RATIO` times
    over, as the card check warns of a figure (round 56): said before the uses, so a
    correction that is itself a slip is caught before the licensee is sent it."""
    was, now = checked.was_total, checked.total
    if not was or not now or max(was / now, now / was) <= ratio:
        return []
    times = max(was / now, now / was).quantize(Decimal("0.1"))
    said = f"{times:f}".removesuffix(".0")
    how = f"{said} times" if now > was else f"1/{said} of"
    return [
        f"The new total is {how} the old, more than {ratio.normalize():f} times over: check "
        f"that rate card {checked.card} is not itself a slip (its working for each use is "
        "below) before reissuing."
    ]


def _agreement_page_url(agreement: Agreement) -> str:
    """The agreement's console page after terminating it (or as the confirmation's
    way back), keeping the narrowing of the list it was opened from."""
    return record_url(
        "agreements_console.agreement_detail", agreement.organization_id, agreement_id=agreement.id
    )


def _termination_question(agreement: Agreement, reason: str) -> confirm.Confirmation:
    ends = (
        "its license ends today" if agreement.state == "active" else "it can no longer be accepted"
    )
    return confirm.Confirmation(
        title=f"Terminate agreement {agreement.number}?",
        consequences=[
            f"The agreement ends early: {ends}. Termination cannot be undone.",
            f"The licensee is emailed the reason: {reason}",
        ],
        button="Terminate the agreement",
        cancel_url=_agreement_page_url(agreement),
        control="terminate-agreement",
        cancel_label="Keep the agreement",
        carried=[
            (
                TERMINATION_CONFIRMATION,
                services.termination_confirmation(agreement, reason, current_actor(), utcnow()),
            )
        ],
    )


# The termination's confirmation carries the state it was shown for (round 54),
# signed with the reason (round 55).
TERMINATION_CONFIRMATION = "confirmation"


@queue_summary
def _renewals_due(session: Session, principal: Principal, now: datetime) -> Iterable[QueueSummary]:
    # Their keys only (`db.counted`): as entities the subquery named every column, the
    # stored PDF too.
    due = db.counted(queries.ending_soon(session, calendar.office_date(now))).subquery()
    renewing = (
        select(Application.id)
        .where(
            Application.renewal_of_id == due.c.id,
            queries.still_renews(),
        )
        .exists()
    )
    count, unrenewed = session.execute(
        select(func.count(), func.count().filter(~renewing)).select_from(due)
    ).one()
    yield QueueSummary(
        f"Agreements ending within {queries.RENEWAL_WINDOW_DAYS} days",
        count=count,
        endpoint="agreements_console.renewals_due",
        attention=unrenewed,
        attention_label="without a renewal",
    )


@queue_summary
def _expired_unrenewed(
    session: Session, principal: Principal, now: datetime
) -> Iterable[QueueSummary]:
    """Round 59 (expired59): the licences that ended unrenewed, while there are any."""
    today = calendar.office_date(now)
    # The term's last day alone: as an entity the subquery named every column, the PDF too.
    expired = queries.expired_unrenewed(today).with_only_columns(Agreement.term_end).subquery()
    count, first_end = session.execute(
        select(func.count(), func.min(expired.c.term_end)).select_from(expired)
    ).one()
    if not count:
        return
    window = queries.EXPIRED_RENEWAL_DAYS
    yield QueueSummary(
        f"Agreements expired without a renewal in the last {window} days",
        count=count,
        endpoint="agreements_console.expired_unrenewed",
        detail=(
            f"The first ended {_days_ago((today - first_end).days)}: it leaves the list "
            f"{_in_days((first_end + timedelta(days=window + 1) - today).days)}."
        ),
    )


@queue_summary
def _active_past_term(
    session: Session, principal: Principal, now: datetime
) -> Iterable[QueueSummary]:
    """Round 60 (agreements60): agreements the expiry run has not ended though their
    term is over, while there are any: on no other list or queue."""
    backlog = queries.past_term(session, now, expiry_grace())
    if not backlog.number or backlog.first_end is None:
        return
    first_day = backlog.first_end + timedelta(days=1)
    yield QueueSummary(
        "Agreements still active past their term",
        count=backlog.number,
        endpoint="agreements_console.active_past_term",
        attention=backlog.number,
        attention_label="not ended by the expiry run",
        oldest=calendar.end_of_office_day(backlog.first_end),
        detail=(
            f"The first has been past its term since {calendar.day_text(first_day)} "
            f"({_days_ago((calendar.office_date(now) - first_day).days)}): the hourly expiry "
            "run has not ended them, so they are on neither the renewals due nor the "
            "agreements expired without a renewal, and their licensees are asked nothing."
        ),
    )


def _in_days(days: int) -> str:
    return "tomorrow" if days == 1 else f"in {counted(days, 'day')}"


@queue_summary
def _reconsideration_open(
    session: Session, principal: Principal, now: datetime
) -> Iterable[QueueSummary]:
    """Rejections that may still come back: waiting on the vendor, so none needs
    attention, but staff see how many and when the first window closes."""
    open_ = queries.reconsideration_open(now).subquery()
    count, closes = session.execute(
        select(func.count(), func.min(open_.c.reconsider_by)).select_from(open_)
    ).one()
    yield QueueSummary(
        "Rejected applications open to reconsideration",
        count=count,
        endpoint="agreements_console.reconsideration_open",
        detail=f"The first window closes {calendar.deadline_text(closes)}." if closes else "",
    )


@queue_summary
def _acceptance_queue(
    session: Session, principal: Principal, now: datetime
) -> Iterable[QueueSummary]:
    """Agreements issued and waiting for the licensee's acceptance (round 53: on no
    console list a reviewer reads daily). They wait on the licensee; those about to
    expire unaccepted are the ones to chase."""
    today = calendar.office_date(now)
    waiting = queries.acceptance_queue(session, today)
    age = (today - calendar.office_date(waiting.oldest)).days if waiting.oldest else 0
    window = queries.EXPIRING_UNACCEPTED_DAYS
    yield QueueSummary(
        "Agreements waiting for the licensee's acceptance",
        count=waiting.issued,
        endpoint="agreements_console.agreements_list",
        # The longest waiting first (round 54: newest first, the oldest on the last page).
        params={"state": ISSUED, "sort": queries.OLDEST},
        attention=waiting.expiring,
        attention_label=f"expiring unaccepted within {window} days",
        oldest=waiting.oldest,
        detail=(
            f"The oldest was issued {_days_ago(age)}; "
            f"{waiting.expiring} expiring unaccepted within {window} days."
            if waiting.issued
            else ""
        ),
    )


def _days_ago(days: int) -> str:
    return "today" if days == 0 else f"{counted(days, 'day')} ago"


@queue_summary
def _application_queues(
    session: Session, principal: Principal, now: datetime
) -> Iterable[QueueSummary]:
    waiting = Application.state.in_(AWAITING_STAFF)
    received = func.coalesce(Application.submitted_at, Application.created_at)
    # Deactivating a reviewer hands their work back; work left with one deactivated
    # before that was so needs someone too.
    deactivated = Application.assignee_id.in_(select(User.id).where(User.is_active.is_(False)))
    # Round 36: the home page counted the unassigned, not those past the service level.
    target = current_config().application_review_sla_days
    # Round 37: from where the queue's rows count (less the days waited on the vendor).
    late_from = queries.overdue_before(now, target_days=target)
    late = queries.review_clock() < late_from
    # Round 59: those not yet past it that will be within two business days.
    soon = (queries.review_clock() >= late_from) & (
        queries.review_clock() < queries.overdue_before(due_soon_by(now), target_days=target)
    )
    # Round 57: those back from the vendor with more information, the queue's
    # "resubmitted" rows (submitted since a return, not yet taken into review).
    back = (Application.state == SUBMITTED) & Application.returned_at.is_not(None)
    count, unassigned, orphaned, overdue, oldest, resubmitted, due_soon = session.execute(
        select(
            func.count(),
            func.count().filter(Application.assignee_id.is_(None)),
            func.count().filter(deactivated),
            func.count().filter(late),
            func.min(received),
            func.count().filter(back),
            func.count().filter(soon),
        ).where(waiting)
    ).one()
    came_back = (
        f" {resubmitted} back from the vendor with more information, marked resubmitted."
        if resubmitted
        else ""
    )
    yield QueueSummary(
        "Applications awaiting review",
        count=count,
        endpoint="agreements_console.queue",
        attention=unassigned + orphaned,
        attention_label="unassigned or with a deactivated reviewer" if orphaned else "unassigned",
        oldest=oldest,
        detail=(
            f"{overdue} past the service level of {target} US business days.{came_back}"
            if count
            else ""
        ),
        due_soon=due_soon,
        # The queue's oldest first is the review clock's: the longest waiting first.
        due_soon_params={"sort": "oldest"},
    )
    mine, my_oldest, mine_soon = session.execute(
        select(func.count(), func.min(received), func.count().filter(soon)).where(
            waiting, Application.assignee_id == principal.user_id
        )
    ).one()
    yield QueueSummary(
        "Applications assigned to you",
        count=mine,
        endpoint="agreements_console.queue",
        params={"assignee": "me"},
        oldest=my_oldest,
        due_soon=mine_soon,
        due_soon_params={"assignee": "me", "sort": "oldest"},
    )
