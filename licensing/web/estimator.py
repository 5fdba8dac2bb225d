"""The public price estimator: describe one or more uses, see the quote and its working.

It is a GET form, so it works without JavaScript, changes nothing, and an
estimate can be bookmarked or sent to a colleague as a link. Adding or removing
a use is a submit button that re-renders the form with one more or one less row.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from licensing import access, db, errors
from licensing.api.quotes import request_from
from licensing.extensions import configured_limit, limiter
from licensing.money import MoneyError, parse_decimal, parse_quantity
from licensing.pricing import (
    ORGANIZATION_TYPES,
    PRODUCT_TYPES,
    USER_TYPES,
    USES,
    PerUnitModel,
    Quote,
    SumModel,
)
from licensing.pricing.quote import quantity_limit_message
from licensing.ratecards import queries, services
from licensing.web.filters import vocab

bp = Blueprint("estimator", __name__)

MAX_ROWS = 10
USE_LABELS = {
    "development": "Develop, test, maintain or service a product",
    "distribution": "Distribute a product to others (installed or hosted)",
    "internal_use": "Use inside our own organization",
    "derivative_work": "Create a derivative work",
    "translation": "Translate or localize",
    "education": "Education or training material",
}


def _choices(values: tuple[str, ...], labels: dict[str, str] | None = None) -> list[SelectChoice]:
    return [SelectChoice(v, (labels or {}).get(v, vocab(v))) for v in values]


def _decimal_text(_form: Form, field: StringField) -> None:
    if field.data:
        try:
            parse_decimal(field.data.replace(",", ""))
        except MoneyError as exc:
            raise ValidationError(f"Enter an amount such as 120000.00 ({exc}).") from None


class UseForm(Form):
    use = SelectField("Use", choices=_choices(USES, USE_LABELS), validators=[InputRequired()])
    product_type = SelectField(
        "Product type", choices=_choices(PRODUCT_TYPES), validators=[InputRequired()]
    )
    user_type = SelectField(
        "Who uses the product", choices=_choices(USER_TYPES), validators=[InputRequired()]
    )
    revenue = StringField(
        "Expected annual revenue (USD)", validators=[Optional(), Length(max=24), _decimal_text]
    )
    languages = StringField("Languages (comma-separated)", validators=[Length(max=400)])
    description = StringField("Product name or description", validators=[Length(max=200)])


class EstimateForm(Form):
    organization_type = SelectField(
        "Your organization is", choices=_choices(ORGANIZATION_TYPES), validators=[InputRequired()]
    )
    term_start = DateField("License term starts", validators=[InputRequired()])
    term_end = DateField("License term ends", validators=[InputRequired()])
    rate_card = SelectField("Rate card", choices=[], validate_choice=False)
    uses = FieldList(FormField(UseForm), min_entries=1, max_entries=MAX_ROWS)


def _units(cards: list[Any]) -> list[str]:
    """Every quantity unit the published cards price by, for the quantity inputs."""
    units: set[str] = set()

    def walk(model: Any) -> None:
        if isinstance(model, PerUnitModel):
            units.add(model.unit)
        elif isinstance(model, SumModel):
            for part in model.parts:
                walk(part)

    for card in cards:
        for rule in card.rules:
            walk(rule.model)
    return sorted(units)


def _default_term(cards: list[Any], today: date) -> tuple[date, date] | None:
    """The next card's period, else the current one's: what a vendor usually asks."""
    upcoming = [c for c in cards if c.effective_from > today]
    current = [c for c in cards if c.effective_from <= today <= c.effective_to]
    chosen = min(upcoming, key=lambda c: c.effective_from) if upcoming else None
    chosen = chosen or (current[0] if current else None)
    return (chosen.effective_from, chosen.effective_to) if chosen else None


def _rows_requested(args: MultiDict[str, str]) -> MultiDict[str, str]:
    """Apply the add/remove buttons to the submitted rows."""
    rows = sorted(
        {int(k.split("-")[1]) for k in args if k.startswith("uses-") and k.count("-") >= 2}
    )
    data = MultiDict([(k, v) for k, v in args.items(multi=True) if not k.startswith("uses-")])
    keep = [r for r in rows if f"remove-{r}" not in args]
    if "add_use" in args and len(keep) < MAX_ROWS:
        keep.append(max(rows, default=-1) + 1)
    for new_index, old_index in enumerate(keep):
        prefix_old, prefix_new = f"uses-{old_index}-", f"uses-{new_index}-"
        for key, value in args.items(multi=True):
            if key.startswith(prefix_old):
                data.add(prefix_new + key[len(prefix_old) :], value)
        if not any(k.startswith(prefix_new) for k in data):
            data.add(prefix_new + "use", "distribution")
    return data


def _quantities(
    form: EstimateForm, units: list[str], args: MultiDict[str, str]
) -> tuple[list[dict[str, int]], dict[str, list[str]]]:
    """Each use's counts, and every count that is not one (all of them, at once)."""
    counts: list[dict[str, int]] = []
    problems: dict[str, list[str]] = {}
    for index in range(len(form.uses.entries)):
        quantity: dict[str, int] = {}
        for unit in units:
            raw = (args.get(f"uses-{index}-quantity-{unit}") or "").replace(",", "").strip()
            if not raw:
                continue
            try:
                quantity[unit] = parse_quantity(raw)
            except MoneyError:
                problems[f"uses.{index}.quantity.{unit}"] = [
                    quantity_limit_message()  # digits, but more than any product has
                    if raw.isascii() and raw.isdigit()
                    else "Enter a whole number, 0 or more."
                ]
        counts.append(quantity)
    return counts, problems


def _quote_data(form: EstimateForm, counts: list[dict[str, int]]) -> dict[str, Any]:
    uses = []
    for entry, quantity in zip(form.uses.entries, counts, strict=True):
        revenue_text = (entry.form.revenue.data or "").replace(",", "").strip()
        uses.append(
            {
                "use": entry.form.use.data,
                "product_type": entry.form.product_type.data,
                "user_type": entry.form.user_type.data,
                "quantity": quantity,
                "revenue": Decimal(revenue_text) if revenue_text else None,
                "languages": [
                    x.strip() for x in (entry.form.languages.data or "").split(",") if x.strip()
                ],
                "description": entry.form.description.data or "",
            }
        )
    return {
        "organization_type": form.organization_type.data,
        "term": {"start": form.term_start.data, "end": form.term_end.data},
        "rate_card": form.rate_card.data or None,
        "uses": uses,
    }


_estimate_limit, _estimate_limit_off = configured_limit("quote_rate_limit")


@bp.route("/estimate")
@access.public
@limiter.limit(_estimate_limit, exempt_when=_estimate_limit_off)
def estimate() -> str:
    session = db.session()
    stored = queries.all_cards(session)
    cards = [queries.domain_card(s) for s in stored]
    units = _units(cards)
    submitted = "organization_type" in request.args
    args = _rows_requested(request.args) if submitted else MultiDict()
    if not submitted:
        term = _default_term(cards, db.utcnow().date())
        if term:
            args.add("term_start", term[0].isoformat())
            args.add("term_end", term[1].isoformat())
    form = EstimateForm(args)
    form.rate_card.choices = [SelectChoice("", "The card in effect on the start date")] + [
        SelectChoice(s.version, f"{s.version}: {s.effective_from} to {s.effective_to}")
        for s in stored
    ]
    quote: Quote | None = None
    field_errors: dict[str, list[str]] = {}
    wants_quote = (
        submitted
        and "add_use" not in request.args
        and not any(k.startswith("remove-") for k in request.args)
    )
    if wants_quote:
        # The form's problems and the counts' are reported together, in one pass.
        valid = form.validate()
        counts, field_errors = _quantities(form, units, args)
        if valid and not field_errors:
            try:
                quote = services.quote(request_from(_quote_data(form, counts)))
            except errors.InvalidInput as invalid:
                field_errors = invalid.errors
    return render_template(
        "estimator/estimate.html",
        form=form,
        units=units,
        quote=quote,
        field_errors=field_errors,
        quantities=args,
        has_cards=bool(stored),
    )
