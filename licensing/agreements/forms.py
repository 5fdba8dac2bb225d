"""Page forms of applications (Flask-WTF: CSRF-protected) and the use rows the
public estimator shares with them.

The forms check the shape of what a page sends, with the limits the models
define (`agreements/models.py`, `ProposedUse`); the use cases check the business
rules. A use row's inputs are named `uses-N-field`, its counts
`uses-N-quantity-UNIT`; errors are reported by the services' paths
(`uses.0.quantity.end_users`) so one error summary reads them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    Field,
    FieldList,
    Form,
    FormField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional, ValidationError

from licensing.agreements.commands import (
    ApplicationDraft,
    LineChange,
    Modifications,
    distinct_languages,
    languages_text,
    no_such_use,
    one_line,
)
from licensing.agreements.models import (
    DELIVERIES,
    DESCRIPTION_MAX,
    LANGUAGES_MAX,
    MAX_USES,
    PRODUCT_NAME_MAX,
    RATE_CARD_MAX,
    TERRITORIES_MAX,
)
from licensing.agreements.services.submission import AUDIENCE_UNITS
from licensing.errors import InvalidInput
from licensing.money import (
    AMOUNT_PLACES,
    MoneyError,
    TooLarge,
    TooManyPlaces,
    parse_decimal,
    parse_quantity,
    ungrouped,
)
from licensing.pricing import (
    PRODUCT_TYPES,
    USER_TYPES,
    USES,
    PerUnitModel,
    ProposedUse,
    RateCard,
    SumModel,
)
from licensing.pricing.quote import quantity_limit_message, revenue_limit_message
from licensing.pricing.ratecard import proposed_term
from licensing.web.forms import PageForm, within
from licensing.words import (
    PRODUCT_TYPE_LABELS,
    USE_LABELS,
    USER_TYPE_LABELS,
    at_most_characters,
    humanize,
    vocab,
)

# What a new use row starts with on the application form.
BLANK_USE: Mapping[str, str] = {
    "use": "distribution",
    "product_type": "software",
    "user_type": "provider",
    "delivery": "installed",
    "territories": "United States",
    "languages": "en",
}
# The delivery a product type implies, for a use carried from the estimator (which
# asks no delivery): a SaaS product read "installed" on the draft (round 36).
DELIVERY_OF_PRODUCT: Mapping[str, str] = {
    "saas": "hosted",
    "mobile_app": "mobile",
    "print": "print",
    "data_file": "data_feed",
}
QUANTITY_PREFIX = "quantity-"
DATE_MESSAGE = "Enter a date as YYYY-MM-DD."


def _choices(values: Iterable[str], labels: Mapping[str, str] | None = None) -> list[SelectChoice]:
    return [SelectChoice(v, (labels or {}).get(v, vocab(v))) for v in values]


def _model_units(model: Any) -> set[str]:
    """The quantity units a pricing model counts (a sum's parts' too)."""
    if isinstance(model, PerUnitModel):
        return {model.unit}
    if isinstance(model, SumModel):
        return {unit for part in model.parts for unit in _model_units(part)}
    return set()


def quantity_units(cards: Iterable[RateCard]) -> list[str]:
    """Every quantity unit the cards price by: the rows' count inputs."""
    return sorted(
        {unit for card in cards for rule in card.rules for unit in _model_units(rule.model)}
    )


def units_by_use(cards: Iterable[RateCard]) -> dict[str, list[str]]:
    """Round 67: for each use, the quantity units the cards' rules matching it price by
    (a rule matching every use counts for each), and the audience units where a rule
    routes it to the permissions queue: the count inputs a row of that use asks for
    (`quantity-fields.js` hides the others; the labels say it without JavaScript)."""
    found: dict[str, set[str]] = {use: set() for use in USES}
    listed = list(cards)
    priced = set(quantity_units(listed))
    for card in listed:
        for rule in card.rules:
            units = _model_units(rule.model)
            if rule.route is not None:
                # Its audience's size, which the estimator carries into the request's form.
                units |= priced & set(AUDIENCE_UNITS)
            for use in rule.when.use or USES:
                if use in found:
                    found[use] |= units
    return {use: sorted(units) for use, units in found.items()}


def unit_rules(
    cards: Iterable[RateCard], organization_type: str | None = None
) -> list[list[dict[str, Any]]]:
    """Round 68: each card's rules in order, each as what `quantity-fields.js` needs to
    find the rule that prices a use (the first whose `when` matches, the pricing
    contract's): its `when` (axis -> values; an axis it does not name matches any
    value) and the count inputs it asks for (its model's units; a routed rule's
    audience units, as `units_by_use`). `organization_type`, where the form knows the
    applicant's (the application form): rules that cannot match it are left out and
    the axis dropped from the rest; else (the estimator) the script reads the form's
    own choice. So the count inputs shown follow the product and user type too: a SaaS
    product's distribution counts end users alone, a payer's members."""
    listed = list(cards)
    priced = set(quantity_units(listed))
    found = []
    for card in listed:
        rules = []
        for rule in card.rules:
            when = {axis: list(values) for axis, values in rule.when.constraints()}
            if organization_type is not None:
                allowed = when.pop("organization_type", None)
                if allowed is not None and organization_type not in allowed:
                    continue
            units = _model_units(rule.model)
            if rule.route is not None:
                units |= priced & set(AUDIENCE_UNITS)
            rules.append({"when": when, "units": sorted(units)})
        found.append(rules)
    return found


def unit_guide(
    cards: Iterable[RateCard], units: Iterable[str], organization_type: str | None = None
) -> dict[str, Any]:
    """The forms' `units_by_use` and `unit_rules` (for `quantity-fields.js`) and
    `unit_words` (each count input's label's uses), from the published cards."""
    listed = list(cards)
    by_use = units_by_use(listed)
    return {
        "units_by_use": by_use,
        "unit_rules": unit_rules(listed, organization_type),
        "unit_words": unit_uses_words(by_use, units),
    }


def unit_uses_words(by_use: Mapping[str, list[str]], units: Iterable[str]) -> dict[str, str]:
    """Round 67: what each count input's label adds, the uses it is asked for:
    "(for distribution or internal use)"; "(for no use on the cards published)" for
    a unit no use asks (none on a card as published)."""
    words: dict[str, str] = {}
    for unit in units:
        uses = [humanize(use) for use in USES if unit in by_use.get(use, ())]
        if not uses:
            words[unit] = "(for no use on the cards published)"
        elif len(uses) == 1:
            words[unit] = f"(for {uses[0]})"
        else:
            words[unit] = f"(for {', '.join(uses[:-1])} or {uses[-1]})"
    return words


def default_term(cards: Iterable[Any], today: date) -> tuple[date, date] | None:
    """From the next card's first day, else today on the current one, for a year and
    never past that card's last day (`ratecard.proposed_term`): what a vendor usually
    asks (`cards`: anything with `effective_from` and `effective_to`). Round 44: on
    the current card it started on the card's first day, so an open-ended card in
    effect since long ago proposed a year long past."""
    listed = list(cards)
    upcoming = [c for c in listed if c.effective_from > today]
    current = [c for c in listed if c.effective_from <= today <= c.effective_to]
    chosen = min(upcoming, key=lambda c: c.effective_from) if upcoming else None
    chosen = chosen or (current[0] if current else None)
    if chosen is None:
        return None
    return proposed_term(chosen.effective_from, chosen.effective_to, earliest=today)


# --- fields ------------------------------------------------------------------------------------


class _TypedText(StringField):  # type: ignore[misc]  # WTForms ships no types
    """A text input whose data is read from the text (None when left empty); a
    refused text is shown again as typed."""

    def read(self, text: str) -> Any:  # pragma: no cover - every subclass reads its own
        raise NotImplementedError

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:  # not sent: the default (or the saved value) stands
            return
        text = ungrouped(str(valuelist[0]))
        self.data = self.read(text) if text else None

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else self.show(self.data)

    def show(self, value: Any) -> str:
        return str(value)


class QuantityField(_TypedText):
    """A count of units ("2,500"): a whole number, 0 to `ProposedUse.MAX_QUANTITY`."""

    def read(self, text: str) -> int:
        try:
            return parse_quantity(text)
        except MoneyError:
            self.data = None
            # Digits, but more than any product has; else not a count at all (`-5`, `lots`).
            too_many = text.isascii() and text.isdigit()
            raise ValueError(
                quantity_limit_message() if too_many else "Enter a whole number, 0 or more."
            ) from None


class RevenueField(_TypedText):
    """An amount of money ("120,000.00"), exact, 0 to `ProposedUse.MAX_REVENUE`."""

    def read(self, text: str) -> Decimal:
        try:
            amount = parse_decimal(text)
        except MoneyError as exc:
            self.data = None
            raise ValueError(f"Enter an amount such as 120000.00 ({exc}).") from None
        if amount > ProposedUse.MAX_REVENUE:
            self.data = None
            raise ValueError(revenue_limit_message())
        return amount

    def show(self, value: Any) -> str:
        return f"{Decimal(value).normalize():f}"


class AmountField(_TypedText):
    """An amount staff type for a line ("1,250.00"): exact, with at most `places`
    decimals (the quote's currency's); the use case checks it against the line."""

    def __init__(self, *args: Any, places: int = AMOUNT_PLACES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.places = places

    def read(self, text: str) -> Decimal:
        try:
            # Read a sign too, so that "-5" is refused for what it is, not as unreadable.
            amount = parse_decimal(text, allow_negative=True, places=self.places)
        except MoneyError as exc:
            self.data = None
            raise ValueError(_amount_problem(exc)) from None
        if amount < 0:
            self.data = None
            raise ValueError("The amount must be 0 or more.")
        # "-0" is 0, as the API's money fields read it (`money.parse_decimal`) and the
        # royalty rows and quotes do (round 50; round 8 refused it as below zero):
        # read without its sign, so no "-0.00" is stored or shown.
        return amount.copy_abs()

    def show(self, value: Any) -> str:
        return f"{Decimal(value):f}"


def _amount_problem(exc: MoneyError) -> str:
    """What is wrong with an amount typed, in the words of the API's money fields
    ("at most 2 decimal places"), where it is a number at all."""
    if isinstance(exc, TooManyPlaces):
        return f'Use {exc}, such as "1250.00".'
    if isinstance(exc, TooLarge):
        return f"The amount is too large: {exc}."
    return 'Enter an amount such as "1250.00".'


class LanguagesField(StringField):  # type: ignore[misc]  # WTForms ships no types
    """Languages, comma-separated: their stored form fits `LANGUAGES_MAX`."""

    def process_data(self, value: Any) -> None:
        # A new use's "en" and a saved use's "en, fr" are text: read them as the
        # list they name, or `_value` would join their letters ("e, n").
        self.data = distinct_languages(value)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            self.data = distinct_languages(str(valuelist[0]))

    def _value(self) -> str:
        return ", ".join(self.data or ())

    def pre_validate(self, form: Any) -> None:
        if len(languages_text(self.data)) > LANGUAGES_MAX:
            raise ValidationError(at_most_characters(LANGUAGES_MAX, in_all=True))


def _stripped(text: str | None) -> str:
    return (text or "").strip()


# --- use rows ----------------------------------------------------------------------------------


CARD_CURRENCY = "in the rate card's currency"  # a revenue's, while no card is chosen


def revenue_label(currency: str | None) -> str:
    """A use's revenue input's label, in the currency its card prices in (round 61:
    "(USD)" whatever the card's), or the card's currency while none is chosen yet."""
    return f"Expected annual revenue ({currency or CARD_CURRENCY})"


class ClassifiedUseForm(Form):  # type: ignore[misc]  # WTForms ships no types
    """What the estimator and the application both ask of a use: how it is
    classified, its revenue and languages (counts: `with_quantities`)."""

    use = SelectField("Use", choices=_choices(USES, USE_LABELS))
    product_type = SelectField("Product type", choices=_choices(PRODUCT_TYPES, PRODUCT_TYPE_LABELS))
    user_type = SelectField("Who uses the product", choices=_choices(USER_TYPES, USER_TYPE_LABELS))
    revenue = RevenueField(revenue_label(None))
    languages = LanguagesField("Languages (comma-separated)")


class EstimatedUseForm(ClassifiedUseForm):
    """A use on the estimator: its description becomes the product's name when
    the vendor goes on to apply."""

    description = StringField(
        "Product name or description", [within(PRODUCT_NAME_MAX)], filters=[one_line]
    )


class ProposedUseForm(ClassifiedUseForm):
    """A use on the application form."""

    product_name = StringField("Product name", [within(PRODUCT_NAME_MAX)], filters=[one_line])
    description = StringField(
        "What the product does", [within(DESCRIPTION_MAX)], filters=[_stripped]
    )
    delivery = SelectField("Delivery", choices=_choices(DELIVERIES))
    territories = StringField("Territories", [within(TERRITORIES_MAX)], filters=[one_line])


@lru_cache(maxsize=32)
def with_quantities(row: type[Form], units: tuple[str, ...]) -> type[Form]:
    """`row` with a count input per unit (`uses-N-quantity-UNIT`): the units come
    from the published rate cards, so the class is made for them."""
    fields = {
        f"{QUANTITY_PREFIX}{unit}": QuantityField(
            f"Expected number of {unit.replace('_', ' ')}", render_kw={"inputmode": "numeric"}
        )
        for unit in units
    }
    return type(f"{row.__name__}With{len(units)}Units", (row,), fields)


def quantities(row: Form) -> dict[str, int]:
    """The counts given on a row, by unit."""
    return {
        name[len(QUANTITY_PREFIX) :]: field.data
        for name, field in row._fields.items()
        if name.startswith(QUANTITY_PREFIX) and field.data is not None
    }


def _row_number(text: str) -> bool:
    # ASCII digits only ("²" is a digit to str.isdigit), and a handful of them.
    return text.isascii() and text.isdigit() and len(text) <= 4


def rows_requested(
    data: MultiDict[str, str], limit: int, blank: Mapping[str, str]
) -> MultiDict[str, str]:
    """The submitted rows with the add and remove buttons applied, numbered from 0
    (at most `limit` + 1 of them, so that one too many is still reported)."""
    rows = sorted(
        {
            int(key.split("-")[1])
            for key in data
            if key.startswith("uses-") and key.count("-") >= 2 and _row_number(key.split("-")[1])
        }
    )
    kept = MultiDict([(k, v) for k, v in data.items(multi=True) if not k.startswith("uses-")])
    keep = [row for row in rows if f"remove-{row}" not in data][: limit + 1]
    if "add_use" in data and len(keep) < limit:
        keep.append(max(rows, default=-1) + 1)
    for new_index, old_index in enumerate(keep):
        old, new = f"uses-{old_index}-", f"uses-{new_index}-"
        for key, value in data.items(multi=True):
            if key.startswith(old):
                kept.add(new + key[len(old) :], value)
        if not any(key.startswith(new) for key in kept):
            for name, value in blank.items():
                kept.add(new + name, value)
    return kept


def changes_rows(data: Mapping[str, Any]) -> bool:
    """Whether the button pressed adds or removes a row (no validation then)."""
    return "add_use" in data or any(key.startswith("remove-") for key in data)


# --- the application form ----------------------------------------------------------------------


class ApplicationForm(PageForm):
    """A vendor's application: the term, a rate card and its uses (rows made by
    `application_form`, with the units of the published cards)."""

    term_start = DateField("License term starts", [Optional()], invalid_value_message=DATE_MESSAGE)
    term_end = DateField("License term ends", [Optional()], invalid_value_message=DATE_MESSAGE)
    rate_card = StringField("Rate card", [within(RATE_CARD_MAX)], filters=[_stripped])
    uses = FieldList(FormField(ProposedUseForm), min_entries=1)

    def validate_uses(self, field: FieldList) -> None:
        if len(field.entries) > MAX_USES:
            raise ValidationError(f"At most {MAX_USES} uses in one application.")

    def validate_term_end(self, field: DateField) -> None:
        # The service's rule, repeated so that one submission lists it with the uses'
        # problems (it was told only once every use was right).
        start = self.term_start.data
        if start and field.data and field.data < start:
            raise ValidationError("The term cannot end before it starts.")

    def command(self) -> ApplicationDraft:
        """The draft the form describes (after `validate()`)."""
        return ApplicationDraft.from_fields(
            {
                "term_start": self.term_start.data,
                "term_end": self.term_end.data,
                "rate_card": self.rate_card.data,
                "uses": [
                    {**entry.form.data, "quantity": quantities(entry.form)}
                    for entry in self.uses.entries
                ],
            }
        )


@lru_cache(maxsize=32)
def _application_form_class(units: tuple[str, ...]) -> type[ApplicationForm]:
    row = with_quantities(ProposedUseForm, units)
    uses = FieldList(FormField(row), min_entries=1)
    return type("ApplicationFormWithUnits", (ApplicationForm,), {"uses": uses})


def application_form(
    units: Iterable[str],
    formdata: MultiDict[str, str] | None = None,
    *,
    posted: bool = True,
    **data: Any,
) -> ApplicationForm:
    """The application form for these count units, read from `formdata` (a
    submitted form or the estimator's query) or filled with `data`. Not `posted`:
    `formdata` is no form of this page's (an estimate kept at sign-up), so no CSRF
    token is asked of it."""
    form_class = _application_form_class(tuple(units))
    if formdata is not None:
        rows = rows_requested(formdata, MAX_USES, BLANK_USE)
        if not posted:
            return form_class(formdata=rows, meta={"csrf": False})
        return form_class(formdata=rows)
    return form_class(formdata=None, data=data)


# --- errors by path ----------------------------------------------------------------------------


def _path(name: str) -> str:
    return (
        name.replace(QUANTITY_PREFIX, "quantity.", 1) if name.startswith(QUANTITY_PREFIX) else name
    )


def error_paths(form: Form) -> dict[str, list[str]]:
    """The form's errors by the paths the services use (`uses.0.quantity.end_users`)."""
    paths: dict[str, list[str]] = {}
    for name, field in form._fields.items():
        if isinstance(field, FieldList):
            for index, entry in enumerate(field.entries):
                for sub_name, sub in entry.form._fields.items():
                    if sub.errors:
                        paths[f"{name}.{index}.{_path(sub_name)}"] = list(sub.errors)
            own = [error for error in field.errors if isinstance(error, str)]
            if own:
                paths[name] = own
        elif field.errors:
            paths[name] = list(field.errors)
    if form.form_errors:  # a posted name that is no field (`PageForm`'s unstorable text)
        paths["_"] = list(form.form_errors)
    return paths


def field_at(form: Form, path: str) -> Field | None:
    """The field a service's error path names, if the form has it."""
    head, _, rest = path.partition(".")
    field = form._fields.get(head)
    if not rest or field is None:
        return field
    if not isinstance(field, FieldList):
        return None
    index, _, name = rest.partition(".")
    if not _row_number(index) or int(index) >= len(field.entries) or not name:
        return None
    row = field.entries[int(index)].form
    return row._fields.get(name.replace("quantity.", QUANTITY_PREFIX, 1))


def attach_errors(form: Form, errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Show a service's errors beside the fields they name; what names no field
    is returned, for the summary."""
    rest: dict[str, list[str]] = {}
    for path, messages in errors.items():
        field = field_at(form, path)
        if field is None or isinstance(field, FieldList):
            rest[path] = list(messages)
        else:
            field.errors = [*field.errors, *messages]
    for field in form:
        if isinstance(field, FieldList):
            # A list keeps its rows' errors from validation: bring them up to date.
            rows = [entry.errors for entry in field.entries]
            own = [error for error in field.errors if isinstance(error, str)]
            field.errors = [*rows, *own] if any(rows) else own
    return rest


# --- the console's approval --------------------------------------------------------------------


class ApprovalForm(PageForm):
    """Staff changes on approving: a new amount per use (`amount-N`, with
    `reason-N`; rows made by `approval_form`) and the term, with its reason."""

    term_start = DateField("Starts", [Optional()], invalid_value_message=DATE_MESSAGE)
    term_end = DateField("Ends", [Optional()], invalid_value_message=DATE_MESSAGE)
    term_reason = StringField("Reason for a change of term", filters=[_stripped])
    # Kept with the approval's audit event (the use case checks its length); a field
    # here so that a character no database stores comes back beside it (round 53).
    note = TextAreaField("Note on the approval")

    def validate(self, extra_validators: Any = None) -> bool:
        """Also refuses an amount or reason posted for a use the application does
        not have (a crafted post: the page has rows for its uses only), which would
        otherwise be dropped unread and the application approved without it."""
        valid = super().validate(extra_validators)
        for line in self.stray_lines:
            self.form_errors.append(no_such_use(line, self.line_count))
        for name in self.misnamed_rows:
            self.form_errors.append(_misnamed_row(name, self.line_count))
        return valid and not self.stray_lines and not self.misnamed_rows

    def modifications(self, asked: tuple[date | None, date | None]) -> Modifications:
        """The changes the form describes (after `validate()`): lines with an
        amount, and the term where it differs from the `asked` one."""
        lines = [
            LineChange(index, amount, self[f"reason-{index}"].data)
            for index in range(self.line_count)
            if (amount := self[f"amount-{index}"].data) is not None
        ]
        start, end = self.term_start.data, self.term_end.data
        return Modifications(
            lines=lines,
            term_start=start if start != asked[0] else None,
            term_end=end if end != asked[1] else None,
            term_reason=self.term_reason.data,
        )

    line_count = 0
    stray_lines: tuple[int, ...] = ()
    misnamed_rows: tuple[str, ...] = ()


# A row's input as the approval form names it: `amount-3`, `reason-3`.
_ROW_INPUT = re.compile(r"(?:amount|reason)-(0|[1-9][0-9]{0,5})")


def _stray_lines(formdata: MultiDict[str, str], line_count: int) -> tuple[int, ...]:
    """The uses, beyond the application's `line_count`, that `formdata` gives an
    amount or a reason for."""
    lines = {
        int(match[1])
        for name, value in formdata.items(multi=True)
        if (match := _ROW_INPUT.fullmatch(name)) and value.strip()
    }
    return tuple(sorted(line for line in lines if line >= line_count))


# Any input named like a row (`amount-x`, `reason-03`), well formed or not.
_ROW_LIKE = re.compile(r"(?:amount|reason)-.*", re.DOTALL)


def _misnamed_rows(formdata: MultiDict[str, str]) -> tuple[str, ...]:
    """The inputs `formdata` names like a row's but misspelt (`amount-x`), with a
    value: read as no row, they were dropped unread and the use approved as quoted."""
    return tuple(
        sorted(
            {
                name
                for name, value in formdata.items(multi=True)
                if _ROW_LIKE.fullmatch(name) and not _ROW_INPUT.fullmatch(name) and value.strip()
            }
        )
    )


def _misnamed_row(name: str, line_count: int) -> str:
    others = ", amount-1 and reason-1 for use 2, and so on" if line_count > 1 else ""
    return (
        f"“{name[:40]}” is not a field of this form, so nothing was approved: a use's "
        f"new amount and reason are amount-0 and reason-0 for use 1{others}."
    )


@lru_cache(maxsize=32)
def _approval_form_class(line_count: int, places: int) -> type[ApprovalForm]:
    rows: dict[str, Any] = {"line_count": line_count}
    for index in range(line_count):
        rows[f"amount-{index}"] = AmountField(f"New amount for use {index + 1}", places=places)
        rows[f"reason-{index}"] = StringField(f"Reason for use {index + 1}", filters=[_stripped])
    return type("ApprovalFormWithLines", (ApprovalForm,), rows)


def approval_form(
    line_count: int, formdata: MultiDict[str, str], *, places: int = AMOUNT_PLACES
) -> ApprovalForm:
    """The approval form of an application with `line_count` uses, as submitted;
    its amounts have at most `places` decimals (the quote's currency's)."""
    form = _approval_form_class(line_count, places)(formdata=formdata)
    form.stray_lines = _stray_lines(formdata, line_count)
    form.misnamed_rows = _misnamed_rows(formdata)
    return form


# --- texts typed on the application and agreement pages ----------------------------------------
# The services check them (required, at most REASON_MAX or NOTE_MAX characters); the
# forms are there so that a character no database stores comes back beside its field
# with what was typed (`PageForm`), like every other refusal of these pages.


class DecisionForm(PageForm):
    """The console's *Decide* form: a review action and its reason."""

    action = StringField("Action")
    # Named by where it goes (round 53: "Reason or message to the vendor", though an
    # escalation's reason goes to licensing staff).
    reason = TextAreaField("Reason: emailed to the vendor, or for an escalation to licensing staff")


class NoteForm(PageForm):
    """The console's internal note on an application."""

    body = TextAreaField("New note")


class ReasonForm(PageForm):
    """A reason on its own: the vendor's request for reconsideration, or staff
    terminating an agreement."""

    reason = TextAreaField("Reason")


class ContactForm(PageForm):
    """Staff record a contact chasing a licence that expired without a renewal (round
    60): the service checks each field (the day, how, the note's length)."""

    contacted_on = StringField("Day of the contact")
    how = StringField("How")
    note = TextAreaField("Note")


class SubmissionForm(PageForm):
    """The vendor's (re)submission: the accuracy box and, on a returned
    application, an answer to the licensing office."""

    attest = StringField("Accuracy confirmed")  # "yes" when ticked
    response = TextAreaField("Your answer to the licensing office")


class AcceptanceForm(PageForm):
    """The vendor's acceptance of an issued agreement (the service checks each field)."""

    signer_name = StringField("Your full name")
    signer_title = StringField("Your title")
    authority_confirmed = StringField("Authority confirmed")  # "yes" when ticked
    pdf_sha256 = StringField("SHA-256 of the agreement PDF")


def checked(form: PageForm) -> None:
    """Refuse `form` (as the services refuse input) when it does not validate."""
    if not form.validate():
        raise InvalidInput("Some fields need correcting.", error_paths(form))


# --- the console queue -------------------------------------------------------------------------


class BulkAssignForm(PageForm):
    """The queue's bulk assignment. No default: unassigning is a choice of its own
    (and asks for confirmation), never what an untouched form does."""

    assignee_id = SelectField(
        "Assign the selected applications to",
        choices=[],
        validate_choice=False,
        id="bulk-assignee",
    )
