"""The public price estimator: describe one or more uses, see the quote and its working.

It works without JavaScript and changes nothing. The form is posted: ten uses
with long descriptions made a query string longer than a server accepts in a
request line (gunicorn's default: 4,094 bytes; the service's own gunicorn takes
8,190 since round 64, but proxies in front may take less). An estimate is still read from
a query string too, so the page offers an ordinary estimate as a link to
bookmark or send to a colleague (`share_url`). Adding or removing a use is a
submit button that re-renders the form with one more or one less row.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    SelectChoice,
    SelectField,
)
from wtforms.validators import InputRequired

from licensing import access, calendar, db, errors
from licensing.agreements import forms
from licensing.agreements.services.submission import AUDIENCE_UNITS
from licensing.agreements.views import in_effect_option
from licensing.extensions import configured_limit, csrf, limiter
from licensing.limits import shows_unstorable_query_on_form
from licensing.money import beyond_largest, exceeds_largest, revenue_problem
from licensing.pricing import ORGANIZATION_TYPES, Quote, RateCard
from licensing.ratecards import queries, services
from licensing.web.filters import page_wording
from licensing.web.forms import show_unstorable
from licensing.words import organization_type_words

bp = Blueprint("estimator", __name__)

MAX_ROWS = 10
# A new row: the first use, as before (the other choices start at their first option).
BLANK_ROW = {"use": "distribution"}
# The longest query string put in a link (to share, or carried into an application),
# measured as the link holds it (once more encoded inside sign-in's `next`): well
# inside the request line servers commonly accept (gunicorn's default is 4,094 bytes
# in all; `licensing.serving.SETTINGS` takes 8,190, a proxy in front may not).
LINK_QUERY_MAX = 3500


class EstimateForm(Form):  # type: ignore[misc]  # WTForms ships no types
    organization_type = SelectField(
        "Your organization is",
        choices=[SelectChoice(v, organization_type_words(v)) for v in ORGANIZATION_TYPES],
        validators=[InputRequired()],
    )
    term_start = DateField("License term starts", validators=[InputRequired()])
    term_end = DateField("License term ends", validators=[InputRequired()])
    rate_card = SelectField("Rate card", choices=[], validate_choice=False)
    uses = FieldList(FormField(forms.EstimatedUseForm), min_entries=1, max_entries=MAX_ROWS)


def _form_class(units: tuple[str, ...]) -> type[EstimateForm]:
    """The estimator's form with a count input per unit the published cards price by
    (the use rows and their limits are the application form's: `agreements.forms`)."""
    row = forms.with_quantities(forms.EstimatedUseForm, units)
    uses = FieldList(FormField(row), min_entries=1, max_entries=MAX_ROWS)
    return type("EstimateFormWithUnits", (EstimateForm,), {"uses": uses})


def _quote_data(form: EstimateForm) -> dict[str, Any]:
    uses = []
    for entry in form.uses.entries:
        row = entry.form
        uses.append(
            {
                "use": row.use.data,
                "product_type": row.product_type.data,
                "user_type": row.user_type.data,
                "quantity": forms.quantities(row),
                "revenue": row.revenue.data,
                "languages": list(row.languages.data or ()),
                "description": row.description.data or "",
            }
        )
    return {
        "organization_type": form.organization_type.data,
        "term": {"start": form.term_start.data, "end": form.term_end.data},
        "rate_card": form.rate_card.data or None,
        "uses": uses,
    }


def _permission_fields(form: EstimateForm, quote: Quote | None) -> dict[int, dict[str, str]]:
    """Each use routed to the permissions queue, as the request form's fields (its
    link's query): what the visitor entered here is not typed twice. The audience is
    read as an application's routed use reads it (`permissions.services.requests`);
    the form only suggests it. The medium is not carried: a product type says what
    the product is, not how the audience receives it (round 58: a course whose slides
    are on a learning-management system, estimated as print handouts, arrived as
    "Print" and was granted so), so the requester chooses it on the form."""
    if quote is None:
        return {}
    routed: dict[int, dict[str, str]] = {}
    for line in quote.lines:
        if line.route != "permission_request":
            continue
        row = form.uses.entries[line.use_index].form
        counts = forms.quantities(row)
        audience = next((counts[unit] for unit in AUDIENCE_UNITS if unit in counts), None)
        fields = {
            "organization_type": form.organization_type.data,
            "audience_size": "" if audience is None else str(audience),
            "purpose_detail": row.description.data or "",
            "duration": f"{form.term_start.data} to {form.term_end.data}",
            # The term's days too (round 42): the request's grant defaults to them.
            "use_from": str(form.term_start.data or ""),
            "use_until": str(form.term_end.data or ""),
        }
        routed[line.use_index] = {name: value for name, value in fields.items() if value}
    return routed


_estimate_limit, _estimate_limit_off = configured_limit("quote_rate_limit")


def _links(data: MultiDict[str, str], *, nested: bool) -> dict[str, Any]:
    """The estimate as a link to share (None when too long for one) and the query an
    application starts from: all of it if it fits, else without the longest
    descriptions, one at a time, until it does (`left_out` numbers their uses, which
    the vendor types again there), else nothing. `nested`: the application is
    reached through sign-in's or sign-up's `next`, where the query is encoded twice
    (a signed-in vendor's link holds it once: a description at its limit in any
    script fits there; they were all dropped whenever one did not fit nested)."""
    pairs = list(data.items(multi=True))
    share = urlencode(pairs)
    share_url = f"{url_for('estimator.estimate')}?{share}" if _fits(share) else None
    longest_first = sorted(
        (key for key, value in pairs if _description(key) and value),
        key=lambda key: len(quote(data.get(key, ""), safe="")),
        reverse=True,
    )
    dropped: list[str] = []
    carry = share
    while not _fits(carry, nested=nested) and len(dropped) < len(longest_first):
        dropped.append(longest_first[len(dropped)])
        carry = urlencode([(k, v) for k, v in pairs if k not in dropped])
    if not _fits(carry, nested=nested):
        return {"share_url": share_url, "carry": "", "left_out": True}
    left_out = sorted(int(key.split("-")[1]) + 1 for key in dropped)
    return {"share_url": share_url, "carry": carry, "left_out": left_out}


def _fits(query: str, *, nested: bool = False) -> bool:
    return len(quote(query, safe="") if nested else query) <= LINK_QUERY_MAX


def _description(key: str) -> bool:
    return key.startswith("uses-") and key.endswith("-description")


@bp.route("/estimate", methods=["GET", "POST"])
@access.public
@limiter.limit(_estimate_limit, exempt_when=_estimate_limit_off)
@shows_unstorable_query_on_form
def estimate() -> tuple[str, int]:
    session = db.session()
    stored = queries.all_cards(session)
    cards = [queries.domain_card(s) for s in stored]
    units = forms.quantity_units(cards)
    data = request.form if request.method == "POST" else request.args
    submitted = "organization_type" in data
    args = forms.rows_requested(data, MAX_ROWS, BLANK_ROW) if submitted else MultiDict()
    if not submitted:
        # The office's day, as renewals take it (round 45: the UTC date proposed a term
        # starting tomorrow late in the office's evening).
        term = forms.default_term(cards, calendar.office_date(db.utcnow()))
        if term:
            args.add("term_start", term[0].isoformat())
            args.add("term_end", term[1].isoformat())
    form = _form_class(tuple(units))(args)
    labels = queries.choice_labels(stored)
    form.rate_card.choices = [SelectChoice("", "The card in effect on the start date")] + [
        SelectChoice(s.version, f"{labels[s.version]}, in {s.currency}") for s in stored
    ]
    _label_revenue(session, form, stored)
    quote: Quote | None = None
    replaced: services.Replaced | None = None
    others: tuple[RateCard, ...] = ()
    field_errors: dict[str, list[str]] = {}
    refused = False
    # A NUL in a field: the field's own message, as every form gives (the form is a
    # plain WTForms one, read from a query string as often as from a post).
    storable = show_unstorable(form) if submitted else True
    if storable and submitted and not forms.changes_rows(data) and form.validate():
        try:
            asked = services.request_from(_quote_data(form))
            priced = services.quote(asked)
            _check_revenue_digits(form, priced.currency)
            quote = priced
            replaced = services.replaced(asked)
            others = services.other_currencies(asked)
        except errors.InvalidInput as invalid:
            # Beside the fields they name; the rest (the term, a use) in the summary.
            # Worded for a page ("the number of end users", not "end_users").
            worded = {path: [page_wording(m) for m in ms] for path, ms in invalid.errors.items()}
            field_errors = forms.attach_errors(form, worded)
            refused = True
    page = render_template(
        "estimator/estimate.html",
        form=form,
        units=units,
        # Round 67: the count inputs each use asks for, and each one's uses in words.
        **forms.unit_guide(cards, units),
        quote=quote,
        replaced=replaced,
        other_currencies=others,
        field_errors=field_errors,
        refused=refused,
        has_cards=bool(stored),
        # Round 67: "The card in effect on the start date" names its card and currency
        # where cards in several are published, as the application form's (round 66).
        in_effect=in_effect_option(session, form.term_start.data, None, None, "estimate"),
        permission_fields=_permission_fields(form, quote),
        # A price no invoice can say (round 50): the estimate says so.
        too_large=(
            exceeds_largest(quote.total, quote.currency)
            if quote is not None and beyond_largest(quote.total)
            else None
        ),
        **(_links(data, nested=not _signed_in_vendor()) if quote else {}),
    )
    return page, 200 if storable else 422


def _label_revenue(session: Any, form: EstimateForm, stored: list[Any]) -> None:
    """Each use's revenue labelled in the currency the estimate is priced in: the card
    chosen, else the one in effect on the first day, else the cards' one currency."""
    currency = queries.card_currency(session, form.rate_card.data or None, form.term_start.data)
    if currency is None and len({card.currency for card in stored}) == 1:
        currency = stored[0].currency
    for entry in form.uses.entries:
        entry.form.revenue.label.text = forms.revenue_label(currency)


def _check_revenue_digits(form: EstimateForm, currency: str) -> None:
    """A revenue finer than the card's currency (`1234.5` in JPY) refused beside its
    field, as the application refuses it (round 61)."""
    found: dict[str, list[str]] = {}
    for index, entry in enumerate(form.uses.entries):
        revenue = entry.form.revenue.data
        if revenue is not None and (problem := revenue_problem(revenue, currency)):
            found[f"uses.{index}.revenue"] = [problem]
    if found:
        raise errors.InvalidInput("Some fields need correcting.", found)


def _signed_in_vendor() -> bool:
    principal = access.current_principal()
    return principal is not None and principal.is_vendor


# The form is posted only because a long estimate does not fit in a URL: the page
# stores nothing and acts for nobody, so a forged post gains nothing a link would not.
csrf.exempt(estimate)
