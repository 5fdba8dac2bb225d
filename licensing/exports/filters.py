"""The filter of one export, read from a query string, a form or CLI options.

Every problem is reported at once, keyed by the parameter's name, and a filter
the dataset does not take is refused rather than silently ignored (an export
that quietly ignored `use=` would not reconcile with what the reader expects).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from licensing.calendar import DAY_RANGE_TEXT, office_day_start, parse_day
from licensing.errors import InvalidInput
from licensing.limits import record_id
from licensing.money import is_currency
from licensing.pricing.vocabulary import ORGANIZATION_TYPES, PRODUCT_TYPES, USER_TYPES, USES

# The Finance page's word for a line no quote classifies (`finance.classification`).
UNCLASSIFIED = "unclassified"
# Each classifying filter's values: the kinds of the Finance page's invoice lines list
# (`finance.lines.KINDS`) and each axis's vocabulary with "unclassified".
CLASSIFIED_VALUES: dict[str, tuple[str, ...]] = {
    "kind": ("fee", "royalty", "license", "other"),
    "product_type": (*PRODUCT_TYPES, UNCLASSIFIED),
    "user_type": (*USER_TYPES, UNCLASSIFIED),
    "organization_type": (*ORGANIZATION_TYPES, UNCLASSIFIED),
}

ISSUED = "issued"
PAID = "paid"
PERIOD = "period"
# A payment's reversal by the day the bank returned it (the Finance page's Reversed).
REVERSED = "reversed"
# Money records by the office day they were written or changed (recorded, applied,
# reversed), whatever day they are dated: a finance system's nightly pull (round 30).
RECORDED = "recorded"
DATE_BASES = (ISSUED, PAID, PERIOD, REVERSED, RECORDED)
# What `from`/`to` apply to under each basis, as the API's document says it.
BASIS_MEANINGS = {
    ISSUED: "the issue date (a royalty report: the day it was filed)",
    PAID: "the invoice's paid day, a payment's paid date, a refund's day sent",
    PERIOD: (
        "an agreement's term or a recognition month overlaps the days; a royalty "
        "report's period starts in them"
    ),
    REVERSED: (
        "the day the bank returned a reversed payment (only reversed payments); a "
        "refund's: the day the card's bank returned it (only refunds returned)"
    ),
    RECORDED: (
        "the office day the record was written or changed (recorded, applied, "
        "reversed, issued, paid, voided, written off, reopened, an invoice's amounts "
        "changed by a payment or a credit note, a refund failed; a "
        "royalty report filed, superseded by an amendment, sent back or reviewed; "
        "revenue recognition: the invoices and credit notes issued on the "
        "days, with every month they are earned in), whatever day it is dated: for "
        "a finance system's nightly pull; each row comes as it stands, again when "
        "it changes"
    ),
}

# Query parameter -> the filter it sets (the page, the API and the CLI use these names).
PARAMETERS = (
    "from",
    "to",
    "by",
    "organization",
    "state",
    "currency",
    "use",
    "as_of",
    # Round 59 (financelists59): receivables owed back (the Finance page's *Refunds
    # owed*) at the end of a day, in place of those owing as of one.
    "owed_back_on",
    # Round 60 (linesfig60): invoice lines by the Finance page's classification.
    "kind",
    "product_type",
    "user_type",
    "organization_type",
)
# The filters that choose invoice lines as the Finance page classifies them (round 60).
CLASSIFYING = ("kind", "product_type", "user_type", "organization_type")


@dataclass(frozen=True)
class ExportFilter:
    """Dates are office days (America/Chicago), both ends included."""

    date_from: date | None = None
    date_to: date | None = None
    date_basis: str | None = None
    organization_id: int | None = None
    state: str | None = None
    currency: str | None = None
    use: str | None = None
    as_of: date | None = None
    owed_back_on: date | None = None
    # Round 60 (linesfig60): the Finance page's kind of line (`finance.lines.KINDS`) and
    # classification values; any of them given, `use` is the page's classification too.
    kind: str | None = None
    product_type: str | None = None
    user_type: str | None = None
    organization_type: str | None = None

    @property
    def classified(self) -> bool:
        """Whether the lines are chosen as the Finance page classifies them."""
        return any(getattr(self, name) for name in CLASSIFYING)

    def classification(self) -> dict[str, str]:
        """The classification values asked for, by axis (`use` among them when classified)."""
        asked = {
            "use": self.use,
            "product_type": self.product_type,
            "user_type": self.user_type,
            "organization_type": self.organization_type,
        }
        return {axis: value for axis, value in asked.items() if value}

    def describe(self) -> dict[str, Any]:
        """The filter as the parameters that would repeat it (audit log, file headers)."""
        values = {
            "from": self.date_from,
            "to": self.date_to,
            "by": self.date_basis if (self.date_from or self.date_to) else None,
            "organization": self.organization_id,
            "state": self.state,
            "currency": self.currency,
            "use": self.use,
            "as_of": self.as_of,
            "owed_back_on": self.owed_back_on,
            "kind": self.kind,
            "product_type": self.product_type,
            "user_type": self.user_type,
            "organization_type": self.organization_type,
        }
        return {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in values.items()
            if value is not None
        }

    def starts(self) -> datetime | None:
        """The first instant of `date_from` at the office, in UTC."""
        return office_day_start(self.date_from) if self.date_from else None

    def ends(self) -> datetime | None:
        """The first instant after `date_to` at the office, in UTC (excluded)."""
        return office_day_start(self.date_to + timedelta(days=1)) if self.date_to else None


def _date(raw: str, name: str, errors: dict[str, list[str]]) -> date | None:
    if not raw:
        return None
    try:
        return parse_day(raw)
    except ValueError:
        errors[name] = [f"{raw!r} is not a date such as 2027-01-31 ({DAY_RANGE_TEXT})."]
        return None


def _as_given(_field: str, value: str) -> str:
    return value


@dataclass(frozen=True)
class Wording:
    """How a refusal names a dataset, a field and a field's values. The API and the
    command take parameters and values, so by default a refusal names those
    (`use`, `derivative_work`); the console page names them as its form shows them
    (its labels, its options' words: `exports.views`)."""

    dataset: Callable[[str], str] = str
    field: Callable[[str], str] = str
    value: Callable[[str, str], str] = _as_given

    def one_of(self, field: str, values: Sequence[str]) -> str:
        """ "Must be one of: ..." with `field`'s `values` as this wording says them;
        separated by semicolons when one of them has a comma of its own."""
        words = [self.value(field, value) for value in values]
        separator = "; " if any("," in word for word in words) else ", "
        return f"Must be one of: {separator.join(words)}."


API_WORDS = Wording()


class Filterable(Protocol):
    """What a filter needs to know of its dataset (`exports.base.Dataset` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def filters(self) -> Collection[str]: ...
    @property
    def date_bases(self) -> Sequence[str]: ...
    @property
    def states(self) -> Sequence[str]: ...


def _in_order(names: Collection[str]) -> list[str]:
    """`names` in the order of `PARAMETERS` (the form's order)."""
    return [name for name in PARAMETERS if name in names]


def accepted(dataset: Filterable) -> set[str]:
    """The parameters `dataset` takes: its filters, and the range where it has one."""
    return set(dataset.filters) | ({"from", "to", "by"} if dataset.date_bases else set())


def not_taken(dataset: Filterable) -> list[str]:
    """The parameters `dataset` does not take, in the form's order."""
    taken = accepted(dataset)
    return [name for name in PARAMETERS if name not in taken]


def not_taken_sentence(dataset: Filterable, name: str, words: Wording = API_WORDS) -> str:
    """Why a `name` given for `dataset` is refused, in `words`: the refusal beside
    the field, and (round 44) the console's note beside the field it disables."""
    takes = ", ".join(words.field(each) for each in _in_order(accepted(dataset))) or "no filter"
    return (
        f"The {words.dataset(dataset.name)} export does not filter by "
        f"{words.field(name)} (it takes {takes})."
    )


def parse(
    dataset: Filterable,
    given: Mapping[str, Any],
    *,
    today: date | None = None,
    words: Wording = API_WORDS,
) -> ExportFilter:
    """The filter `given` describes for `dataset`, or InvalidInput naming every
    problem (in `words`: the API's by default)."""
    errors: dict[str, list[str]] = {}
    raw = {name: str(given.get(name) or "").strip() for name in PARAMETERS}
    for name in not_taken(dataset):
        if raw[name]:
            errors[name] = [not_taken_sentence(dataset, name, words)]
    date_from = _date(raw["from"], "from", errors)
    date_to = _date(raw["to"], "to", errors)
    if date_from and date_to and date_to < date_from:
        # Named as the caller gave it: `from` on the API, "From" on the page.
        errors["to"] = [f"Must be on or after {words.field('from')} ({date_from.isoformat()})."]
    basis = raw["by"] or (dataset.date_bases[0] if dataset.date_bases else None)
    if raw["by"] and dataset.date_bases and basis not in dataset.date_bases:
        errors["by"] = [words.one_of("by", dataset.date_bases)]
    organization_id = record_id(raw["organization"]) if raw["organization"] else None
    if raw["organization"] and organization_id is None:
        # ASCII digits only: "²" is a digit to str.isdigit() and a ValueError to int().
        errors["organization"] = ["An organization id, a whole number."]
    state = raw["state"] or None
    if state and "state" in dataset.filters and state not in dataset.states:
        errors["state"] = [words.one_of("state", dataset.states)]
    currency = raw["currency"].upper() or None
    if currency and not is_currency(currency):
        errors["currency"] = [f"{raw['currency']!r} is not an ISO 4217 currency code."]
    classified = {name: raw[name] or None for name in CLASSIFYING}
    for name, value in classified.items():
        offered = CLASSIFIED_VALUES[name]
        if value and name in dataset.filters and value not in offered:
            errors[name] = [words.one_of(name, offered)]
    use = raw["use"] or None
    # A line no quote classifies is the Finance page's "unclassified" use (round 60).
    uses = (*USES, UNCLASSIFIED) if any(classified.values()) else USES
    if use and use not in uses:
        errors["use"] = [words.one_of("use", uses)]
    as_of = _date(raw["as_of"], "as_of", errors)
    owed_back_on = _date(raw["owed_back_on"], "owed_back_on", errors)
    if raw["as_of"] and raw["owed_back_on"] and "owed_back_on" in dataset.filters:
        # Two days of one list: the balances owing on one, or owed back on the other.
        errors.setdefault("owed_back_on", []).append(
            f"Give {words.field('as_of')} or {words.field('owed_back_on')}, not both."
        )
    asked_back = raw["owed_back_on"] or errors.get("owed_back_on")
    today_unless_given = getattr(dataset, "as_of_today", True)
    if (
        "as_of" in dataset.filters
        and as_of is None
        and today_unless_given
        and not errors.get("as_of")
        and not asked_back
    ):
        as_of = today
    if errors:
        raise InvalidInput("The export's filter has problems.", errors)
    return ExportFilter(
        date_from=date_from,
        date_to=date_to,
        date_basis=basis,
        organization_id=organization_id,
        state=state,
        currency=currency,
        use=use,
        as_of=as_of,
        owed_back_on=owed_back_on,
        **classified,
    )
