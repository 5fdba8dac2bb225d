"""The console's *Finance* page and the monthly report PDF.

Billing staff (and admins) see every figure; licensing staff see only the queue
health. Periods and filters are GET parameters, so a view is a shareable URL:

    /console/finance?from=2027-01&to=2027-12&by=quarter&currency=USD&as_of=2027-12-31

The charts are drawn in the browser by the vendored Chart.js
(`static/vendor/chartjs/`) from each canvas's `data-chart` attribute, read by
`static/js/finance-charts.js`; the same numbers are in a table beside each chart.
No inline script, so the page works under a Content-Security-Policy without
'unsafe-inline'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for

from licensing import access, arguments, db
from licensing.billing import queries as billing_queries
from licensing.billing.views import ListPeriod
from licensing.calendar import month_text, office_date, parse_day
from licensing.config import current_config
from licensing.downloads import document_rate_limit, pdf_response
from licensing.finance import documents, lines, queries, services
from licensing.finance.classification import AXES, FEE, OTHER, ROYALTY, UNCLASSIFIED
from licensing.money import format_amount, is_currency
from licensing.web import paging
from licensing.web.navigation import may_open
from licensing.words import axis_words, humanize

console = Blueprint("finance_console", __name__, url_prefix="/console/finance")

DEFAULT_MONTHS = 12
MAX_PERIODS = 60  # five years of months: the page stays readable and quick
AXIS_LABELS = {
    "use": "Use",
    "product_type": "Product type",
    "user_type": "User type",
    "organization_type": "Organization type",
}


@dataclass
class FilterInput:
    """The query string as given, and what is wrong with it, field by field."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    filters: queries.Filters | None = None


def _month(text: str, name: str, errors: dict[str, str]) -> date | None:
    try:
        return services.parse_month(text)
    except ValueError:
        errors[name] = (
            f"Give a month as YYYY-MM, e.g. 2027-03, "
            f"from {services.FIRST_YEAR}-01 to {services.LAST_YEAR}-12."
        )
        return None


def _default_currency(found: list[str]) -> str:
    return "USD" if "USD" in found or not found else found[0]


# Each filter's label: the form's (finance/dashboard.html draws them from here) and a
# refusal's beside the field, which names what its user sees, "First month", not the
# address's `from`.
FILTER_LABELS = {
    "from": "First month",
    "to": "Last month",
    "by": "By",
    "currency": "Currency",
    "as_of": "Aging as of",
}


def parse_filters(args: Mapping[str, str], today: date, currencies: list[str]) -> FilterInput:
    last_default = queries.month_start(today)
    values = {
        "from": args.get("from", "").strip()
        or f"{queries.add_months(last_default, 1 - DEFAULT_MONTHS):%Y-%m}",
        "to": args.get("to", "").strip() or f"{last_default:%Y-%m}",
        "by": args.get("by", "").strip() or queries.MONTH,
        "currency": args.get("currency", "").strip().upper() or _default_currency(currencies),
        "as_of": args.get("as_of", "").strip() or today.isoformat(),
    }
    given = FilterInput(values)
    errors = given.errors
    first = _month(values["from"], "from", errors)
    last = _month(values["to"], "to", errors)
    if first and last and last < first:
        errors["to"] = "The last month cannot come before the first."
    if values["by"] not in queries.GRANULARITIES:
        errors["by"] = "Choose months or quarters."
    if not is_currency(values["currency"]):
        errors["currency"] = "Give an ISO 4217 currency code, e.g. USD."
    try:
        as_of = parse_day(values["as_of"])
        if not services.FIRST_YEAR <= as_of.year <= services.LAST_YEAR:
            raise ValueError(values["as_of"])
    except ValueError:
        errors["as_of"] = (
            f"Give a date as YYYY-MM-DD, from {services.FIRST_YEAR} to {services.LAST_YEAR}."
        )
    # A field given twice is refused, whatever its first value, by its label (`arguments`).
    twice = arguments.repeated(args, among=values, labels=FILTER_LABELS)
    errors |= {name: texts[0] for name, texts in twice.items()}
    if errors or first is None or last is None:
        return given
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    per_period = 3 if values["by"] == queries.QUARTER else 1
    if months > MAX_PERIODS * per_period + 2:  # +2: quarters widen to whole quarters
        errors["from"] = f"Show at most {MAX_PERIODS} periods; narrow the range or use quarters."
        return given
    filters = queries.Filters(first, last, values["by"], values["currency"], as_of)
    if len(filters.periods) > MAX_PERIODS:
        errors["from"] = f"Show at most {MAX_PERIODS} periods; narrow the range or use quarters."
        return given
    given.filters = filters
    return given


# --- chart specifications: what finance-charts.js draws ----------------------------------


def _amount(value: Any, currency: str) -> str:
    return format_amount(value, currency)


def _bar_chart(
    labels: list[str],
    series: list[tuple[str, list[str]]],
    *,
    stacked: bool = False,
    horizontal: bool = False,
    line_series: tuple[str, ...] = (),
    counts: bool = False,
    links: Mapping[str, list[str | None]] | None = None,
) -> dict[str, Any]:
    """A chart as plain data: numbers stay decimal strings until the script draws.
    `links` (round 58): a series' list of the rows behind each of its bars, by the
    series' name, which a click on the bar opens (the table beside it links the same)."""
    return {
        "type": "bar",
        "labels": labels,
        "series": [
            {
                "label": name,
                "values": values,
                "line": name in line_series,
                "links": (links or {}).get(name, []),
            }
            for name, values in series
        ],
        "stacked": stacked,
        "horizontal": horizontal,
        "counts": counts,  # whole numbers: no fractional ticks
    }


# The cash flow chart's series, and the figure of `ListUrls` each bar's rows are.
CASH_FLOW_SERIES = {
    "Invoiced": "invoiced",
    "Collected": "collected",
    "Outstanding at period end": "outstanding",
}


def _cash_flow_chart(
    rows: list[queries.PeriodFigures], currency: str, urls: ListUrls | None = None
) -> dict[str, Any]:
    periods = urls.periods if urls else {}
    return _bar_chart(
        [row.period.key for row in rows],
        [
            ("Invoiced", [_amount(row.invoiced, currency) for row in rows]),
            ("Collected", [_amount(row.collected, currency) for row in rows]),
            ("Outstanding at period end", [_amount(row.outstanding, currency) for row in rows]),
        ],
        line_series=("Outstanding at period end",),
        links={
            name: [periods.get(row.period.key, {}).get(figure) for row in rows]
            for name, figure in CASH_FLOW_SERIES.items()
        },
    )


def value_words(axis: str, value: str) -> str:
    """A classification's value as its form offers it (`words.axis_words`: "Commercial
    company", round 37), the lines no quote classifies as "unclassified"."""
    return humanize(value) if value == UNCLASSIFIED else axis_words(axis, value)


def _revenue_chart(axis: str, rows: list[queries.RevenueRow], currency: str) -> dict[str, Any]:
    return _bar_chart(
        [value_words(axis, row.value) for row in rows],  # as the table beside it
        [
            ("Up-front fees", [_amount(row.up_front, currency) for row in rows]),
            ("Royalties invoiced (gross)", [_amount(row.royalty, currency) for row in rows]),
        ],
        stacked=True,
        horizontal=True,
    )


def _aging_chart(
    rows: list[queries.AgingRow], currency: str, urls: ListUrls | None = None
) -> dict[str, Any]:
    aging = urls.aging if urls else {}
    return _bar_chart(
        [row.label for row in rows],
        [("Balance", [_amount(row.amount, currency) for row in rows])],
        links={"Balance": [aging.get(row.key) for row in rows]},
    )


def _licensees_chart(
    rows: list[queries.Licensee], currency: str, urls: ListUrls | None = None
) -> dict[str, Any]:
    return _bar_chart(
        [row.name for row in rows],
        [
            ("Invoiced", [_amount(row.invoiced, currency) for row in rows]),
            ("Collected", [_amount(row.collected, currency) for row in rows]),
        ],
        horizontal=True,
        # Round 59: an *Invoiced* bar opens the licensee's invoices, as its cell does.
        links={
            "Invoiced": [urls.invoiced_by(row.organization_id) if urls else None for row in rows]
        },
    )


def _queue_chart(rows: list[queries.QueueHealth]) -> dict[str, Any]:
    return _bar_chart(
        [row.title for row in rows],
        [(label, [str(row.bands[band]) for row in rows]) for band, label in queries.BANDS],
        stacked=True,
        horizontal=True,
        counts=True,
    )


def _queues(now: Any) -> list[queries.QueueHealth]:
    config = current_config()
    return queries.queue_health(
        db.session(),
        now,
        application_target=config.application_review_sla_days,
        permission_target=config.permission_sla_days,
    )


def _figures(filters: queries.Filters, urls: ListUrls | None = None) -> dict[str, Any]:
    session = db.session()
    currency = filters.currency
    # The range's payments, read once for the cash flow and the top licensees.
    collected = queries.collections(session, currency, filters.start, filters.end)
    cash_flow = queries.cash_flow(session, filters, collected=collected)
    revenue = queries.revenue(session, filters)
    # The invoices owing at the range's end, read once for the top licensees and
    # (aged on that day, the default) the aging.
    owed = queries.owed_on(session, currency, filters.end)
    aging = queries.aging(
        session,
        currency,
        filters.aging_date,
        owed=owed if filters.aging_date == filters.end else None,
    )
    licensees = queries.top_licensees(session, filters, owed=owed, collected=collected)
    voided_count, voided_total = queries.voided(session, currency, filters.start, filters.end)
    invoiced = sum((row.invoiced for row in cash_flow), queries.ZERO)
    return {
        "cash_flow": cash_flow,
        "cash_flow_chart": _cash_flow_chart(cash_flow, currency, urls),
        "totals": {
            "invoiced": invoiced,
            "voided": voided_total,
            "voided_count": voided_count,
            "issued": invoiced + voided_total,  # what the invoices export lists
            "collected": sum((row.collected for row in cash_flow), queries.ZERO),
            "reversed": sum((row.reversed for row in cash_flow), queries.ZERO),
            "credited": sum((row.credited for row in cash_flow), queries.ZERO),
            "refunded": sum((row.refunded for row in cash_flow), queries.ZERO),
            # Owed back and not yet sent at the range's end (round 52).
            "refunds_owed": cash_flow[-1].refunds_owed if cash_flow else queries.ZERO,
        },
        "revenue": revenue,
        "revenue_charts": {
            axis: _revenue_chart(axis, revenue.by_axis[axis], currency) for axis in AXES
        },
        "aging": aging,
        "aging_total": sum((row.amount for row in aging), queries.ZERO),
        # Round 57: the past-due rows together, which the invoice list's "overdue"
        # lists on the office's today (its disputed row apart, as the list's).
        "overdue": Overdue(
            sum((row.invoices for row in aging if row.key in PAST_DUE), 0),
            sum((row.amount for row in aging if row.key in PAST_DUE), queries.ZERO),
        ),
        "aging_chart": _aging_chart(aging, currency, urls),
        "licensees": licensees,
        "licensees_chart": _licensees_chart(licensees, currency, urls),
    }


@dataclass(frozen=True)
class PeriodLink:
    """One of the page's ready-made ranges: its words, its URL, whether it is shown."""

    label: str
    url: str
    current: bool


def period_links(today: date, given: FilterInput) -> list[PeriodLink]:
    """Round 53: the ranges the page's readers ask for most, one click each, in the
    currency shown: this month (a billing clerk's month so far), last month (the
    month a clerk closes, and its report), last quarter (the quarter a manager closes,
    round 59), this year so far, and the last 12 months
    (the default: the finance team's trend, whose last row is this month). The
    default stays the 12 months (docs/finance-dashboard.md says why)."""
    this = queries.month_start(today)
    last = queries.add_months(this, -1)
    # Round 59 (closewalk59): the quarter a finance manager closes, by quarter and with
    # its receivables aged on its last day, as the close reads them (docs/finance-
    # dashboard.md, "Closing a quarter"). Round 68 (journeyF68): the month a clerk
    # closes likewise, as its monthly report (which the page links) ages them: aged on
    # today, April's page summed May's invoices into an aging that did not add up to
    # April's outstanding beside it. The other ranges end today: today's aging.
    quarter = queries.add_months(this, -3 - (this.month - 1) % 3)
    quarter_end = queries.month_end(queries.add_months(quarter, 2))
    ranges: tuple[tuple[str, date, date, str, date | None], ...] = (
        # Round 58: the month in words, as the page's sentences say it.
        (f"This month ({month_text(this)})", this, this, queries.MONTH, None),
        (
            f"Last month ({month_text(last)})",
            last,
            last,
            queries.MONTH,
            queries.month_end(last),
        ),
        (
            f"Last quarter ({quarter:%Y} Q{(quarter.month + 2) // 3})",
            quarter,
            queries.add_months(quarter, 2),
            queries.QUARTER,
            quarter_end,
        ),
        (f"This year ({this:%Y} so far)", this.replace(month=1), this, queries.MONTH, None),
        ("Last 12 months", queries.add_months(this, 1 - DEFAULT_MONTHS), this, queries.MONTH, None),
    )
    currency = given.values["currency"] if "currency" not in given.errors else None
    shown = (given.values["from"], given.values["to"], given.values["by"])
    links = []
    for label, first, final, granularity, as_of in ranges:
        query: dict[str, Any] = {"from": f"{first:%Y-%m}", "to": f"{final:%Y-%m}"}
        if granularity != queries.MONTH:
            query["by"] = granularity
        if as_of is not None:
            query["as_of"] = as_of.isoformat()
        if currency:
            query["currency"] = currency
        current = shown == (query["from"], query["to"], granularity)
        if as_of is not None:
            current = current and given.values["as_of"] == query["as_of"]
        links.append(PeriodLink(label, url_for("finance_console.dashboard", **query), current))
    return links


@console.route("/")
@access.staff("billing", "licensing")
def dashboard() -> tuple[str, int]:
    principal = access.require_principal()
    now = db.utcnow()
    session = db.session()
    sees_money = principal.has_role("billing")
    currencies = queries.currencies(session) if sees_money else []
    given = parse_filters(request.args, office_date(now), currencies)
    queues = _queues(now)
    context: dict[str, Any] = {
        "sees_money": sees_money,
        "given": given,
        "labels": FILTER_LABELS,
        "currencies": sorted({*currencies, given.values["currency"]}),
        "granularities": queries.GRANULARITIES,
        "axes": AXES,
        "axis_labels": AXIS_LABELS,
        "revenue_columns": REVENUE_COLUMNS,
        "value_words": value_words,
        "queues": queues,
        "queue_chart": _queue_chart(queues),
        "bands": queries.BANDS,
        "period_links": period_links(office_date(now), given) if sees_money else [],
    }
    status = 400 if sees_money and given.errors else 200
    if sees_money and given.filters is not None:
        list_urls = _list_urls(given.filters, office_date(now))
        context |= _figures(given.filters, list_urls)
        context["filters"] = given.filters
        context["report_url"] = url_for(
            "finance_console.monthly_report",
            month=f"{given.filters.last_month:%Y-%m}",
            currency=given.filters.currency,
        )
        context["export_urls"] = _export_urls(given.filters)
        # Round 60 (asof60): the same files in the other formats a finance system
        # reads (the page linked CSV only; JSON Lines and XLSX were the form's alone).
        context["other_formats"] = OTHER_FORMATS
        context["export_formats"] = {
            name: _export_urls(given.filters, name) for name in OTHER_FORMATS
        }
        context["list_urls"] = list_urls
    return render_template("finance/dashboard.html", **context), status


# The formats besides CSV the page links each export in, as the Exports form names them.
OTHER_FORMATS = {"jsonl": "JSON Lines", "xlsx": "XLSX"}


def _export_urls(filters: queries.Filters, format_name: str = "csv") -> dict[str, str]:
    """The exports of the records behind the page's figures, for the same days and
    currency (a range of months is the days of its first to its last month, a
    quarter's whole), so a finance analyst reconciles the file with the page
    without retyping the range, in `format_name` (CSV, the export's default, says
    none). Empty for a viewer who may not open Exports."""
    if not may_open("exports_console.exports"):
        return {}
    given_format: dict[str, Any] = {} if format_name == "csv" else {"format": format_name}
    shared: dict[str, Any] = {
        "from": filters.start.isoformat(),
        "to": filters.end.isoformat(),
        "currency": filters.currency,
        **given_format,
    }

    def export(dataset: str, **extra: Any) -> str:
        return url_for("exports_console.exports", dataset=dataset, **shared, **extra)

    return {
        "invoices": export("invoices", by="issued"),
        # Collected: its succeeded and reversed rows (the state filter takes one);
        # Reversed: the reversed rows by `reversed_on` (docs/exports.md).
        "payments": export("payments", by="paid"),
        "reversals": export("payments", by="reversed", state="reversed"),
        "credit_notes": export("credit_notes", by="issued"),
        # Refunded: the rows sent on the days (those the card's bank returned since too),
        # less the rows it returned on the days, by `returned_date` (round 54).
        "refunds": export("refunds", by="paid"),
        "refunds_returned": export("refunds", by="reversed"),
        # Round 59 (closewalk59): the rows behind the revenue section, so a quarter's
        # every export is one click from the page that it reconciles with.
        "invoice_lines": export("invoice_lines", by="issued"),
        "credit_note_lines": export("credit_note_lines", by="issued"),
        "royalty_report_lines": export("royalty_report_lines", by="issued"),
        "revenue_recognition": export("revenue_recognition", by="period"),
        "receivables": url_for(
            "exports_console.exports",
            dataset="receivables",
            as_of=filters.aging_date.isoformat(),
            currency=filters.currency,
            **given_format,
        ),
        # Round 59: the refunds owed at the range's end, the invoices owed back then.
        "refunds_owed": url_for(
            "exports_console.exports",
            dataset="receivables",
            owed_back_on=filters.end.isoformat(),
            currency=filters.currency,
            **given_format,
        ),
        # Round 59 (asof59): every invoice issued by the aging's day as it stood then
        # (its state and balance due: the receivables' balances), so a closed quarter
        # is read as it was closed, not as its invoices stand today.
        "invoices_then": url_for(
            "exports_console.exports",
            dataset="invoices",
            as_of=filters.aging_date.isoformat(),
            currency=filters.currency,
            **given_format,
        ),
    }


# The aging's rows of balances past due (every bucket but "current" and the disputed).
PAST_DUE = frozenset(key for key, _ in queries.AGING_BUCKETS[1:])


@dataclass(frozen=True)
class Overdue:
    """The aging's past-due rows together: how many invoices, what they owe."""

    invoices: int
    amount: Any


# The console lists behind the page's figures (round 57, creditlist57): each figure's
# field of `PeriodFigures` (and of the page's totals) and the list whose rows make it.
LISTED_FIGURES = {
    # Round 57 (payments57): the payments list's totals are both, for the same days.
    "collected": "billing_console.payments",
    "reversed": "billing_console.payments",
    "credited": "billing_console.credit_notes",
    "refunded": "billing_console.refunds",
}


# Round 58 (financelinks58): the figures whose rows are invoices, each with the
# console invoice list's filters that keep them (beside the page's months and
# currency): *Invoiced* the invoices issued in the months and not void, *Voided* those
# void; *Outstanding* and *Refunds owed* the invoices owing, or owed back, at the end
# of the period (their amounts then listed), each with the figure's own day.
INVOICE_FIGURES: dict[str, dict[str, Any]] = {
    "invoiced": {"state": billing_queries.INVOICED},
    "voided": {"state": "void"},
}
BALANCE_FIGURES = {"outstanding": "owing_on", "refunds_owed": "owed_back_on"}

# The classification tables' money columns (`RevenueRow`'s fields) after the value,
# each as a link's accessible name says it.
REVENUE_COLUMNS = (
    ("up_front", "up-front fees"),
    ("royalty", "royalties invoiced (gross)"),
    ("total", "total invoiced"),
    ("royalty_credited", "royalty credit notes"),
    ("royalty_net", "royalties net of credit notes"),
)

# Round 60 (linesfig60): each revenue figure (a column of the classification tables,
# `RevenueRow`'s field, and the section's totals) and the invoice lines list's kind and
# rows whose sum it is: up-front lines, royalty lines, both, other invoices' lines; the
# royalty credit notes alone; or the royalty lines less their credit notes (net).
REVENUE_FIGURES: dict[str, dict[str, str]] = {
    "up_front": {"kind": FEE},
    "royalty": {"kind": ROYALTY, "shown": lines.INVOICED},
    "total": {"kind": lines.LICENSE, "shown": lines.INVOICED},
    "royalty_credited": {"kind": ROYALTY, "shown": lines.CREDITED},
    "royalty_net": {"kind": ROYALTY},
    "other": {"kind": OTHER},
}


@dataclass(frozen=True)
class ListUrls:
    """The lists behind the figures, for the page's range (`whole`) and for each period
    of its table (by the period's key), in the page's currency; empty for a viewer
    who may not open them."""

    whole: dict[str, str]
    periods: dict[str, dict[str, str]]
    # The overdue invoices, when the aging is as of the office's today: the list's
    # "overdue" is always today's.
    overdue: str | None = None
    # Round 58: each row of the aging (by its key): the invoices in it on its day.
    aging: dict[str, str] = field(default_factory=dict)
    # Round 59 (financelists59): the invoice list's filters behind a top licensee's
    # *Invoiced* (the range's months, not void, the currency), its organization apart.
    licensee_invoiced: dict[str, Any] | None = None

    # Round 60 (linesfig60): the invoice lines list's months and currency behind the
    # revenue by classification (None: the viewer may not open it).
    revenue_lines: dict[str, Any] | None = None

    def lines(self, figure: str, axis: str | None = None, value: str | None = None) -> str | None:
        """The invoice lines (and royalty credit notes) making a revenue figure
        (`REVENUE_FIGURES`: a column of the tables, or a total), of a classification's
        `value` on `axis` (None: every line), in the page's months and currency."""
        if self.revenue_lines is None:
            return None
        query: dict[str, Any] = {**self.revenue_lines, **REVENUE_FIGURES[figure]}
        if axis is not None and value is not None:
            query[axis] = value
        return url_for("finance_console.invoice_lines", **query)

    def invoiced_by(self, organization_id: int) -> str | None:
        """The invoices making a top licensee's *Invoiced*: its own issued in the
        range's months and not void, in the page's currency (None: not to be opened)."""
        if self.licensee_invoiced is None:
            return None
        return url_for(
            "billing_console.invoices", organization=organization_id, **self.licensee_invoiced
        )


def _list_urls(filters: queries.Filters, today: date) -> ListUrls:
    """Round 57: each figure with a console list behind it links the rows that make
    it, for the same months and currency: a clerk follows *Collected* and *Reversed* to
    the payments (round 57, payments57), *Credited* to the credit notes, *Net refunds*
    to the refunds (the lists' totals are the figures), and the
    aging's balances past due to the overdue invoices (what they owe, summed)."""
    endpoints = {
        figure: endpoint for figure, endpoint in LISTED_FIGURES.items() if may_open(endpoint)
    }

    invoices = may_open("billing_console.invoices")
    currency = filters.currency

    def urls(first: date, last: date) -> dict[str, str]:
        months: dict[str, Any] = {
            "from": f"{first:%Y-%m}",
            "to": f"{last:%Y-%m}",
            "currency": currency,
        }
        found = {figure: url_for(endpoint, **months) for figure, endpoint in endpoints.items()}
        if invoices:  # round 58: the figures whose rows are invoices
            for figure, kept in INVOICE_FIGURES.items():
                found[figure] = url_for("billing_console.invoices", **months, **kept)
            for figure, day in BALANCE_FIGURES.items():
                at_end: dict[str, Any] = {day: last.isoformat(), "currency": currency}
                found[figure] = url_for("billing_console.invoices", **at_end)
        return found

    overdue, aging = None, {}
    if invoices:
        if filters.aging_date == today:
            overdue = url_for("billing_console.invoices", overdue="1", currency=currency)
        aging = {
            key: url_for(
                "billing_console.invoices",
                owing_on=filters.aging_date.isoformat(),
                aging=key,
                currency=currency,
            )
            for key, _label in (*queries.AGING_BUCKETS, queries.DISPUTED)
        }
    return ListUrls(
        urls(filters.start, filters.end),
        {period.key: urls(period.start, period.end) for period in filters.periods},
        overdue,
        aging,
        {
            "from": f"{filters.start:%Y-%m}",
            "to": f"{filters.end:%Y-%m}",
            "currency": currency,
            **INVOICE_FIGURES["invoiced"],
        }
        if invoices
        else None,
        {"from": f"{filters.start:%Y-%m}", "to": f"{filters.end:%Y-%m}", "currency": currency}
        if may_open("finance_console.invoice_lines")
        else None,
    )


# Round 60 (linesfig60): each filter of the invoice lines list, labelled as its form
# and its refusals say it.
LINE_LIST_FILTERS = {
    "month": "Month issued",
    "from": "From month",
    "to": "To month",
    "currency": "Currency",
    "kind": "Kind",
    "shown": "Show",
    **AXIS_LABELS,
}


@console.route("/lines", endpoint="invoice_lines")
@access.staff("billing")
def invoice_lines() -> tuple[str, int]:
    """The invoice lines behind *License revenue by classification* (round 60,
    linesfig60): the lines of the invoices issued in the months (not void) and the
    royalty credit notes issued in them split over their invoices' lines, narrowed by
    currency, kind (up-front fee, royalty, both, other) and a value of each
    classification axis, newest first, a page at a time, each linked to its invoice
    (and credit note). Its sum, by currency, is the Finance page's figure the link
    came from; the invoice lines export with the same filter is its invoiced rows."""
    args = request.args
    repeated = arguments.repeated(args, labels=LINE_LIST_FILTERS)
    period = ListPeriod(None, {}) if repeated else ListPeriod.read(args, LINE_LIST_FILTERS)
    errors: dict[str, list[str]] = dict(repeated or period.errors)
    offered: dict[str, Mapping[str, str]] = {
        "kind": lines.KINDS,
        "shown": lines.SHOWN,
        **{
            axis: {value: value_words(axis, value) for value in lines.AXIS_VALUES[axis]}
            for axis in AXES
        },
    }
    if not repeated:
        for name, options in offered.items():
            errors |= arguments.unknown_choice(args, name, options, LINE_LIST_FILTERS[name])
    given = ListPeriod.given(args)
    chosen = {name: args.get(name) or "" for name in offered}
    found: paging.Page[lines.Entry] | None = None
    summed: list[lines.Totals] = []
    shown: lines.Shown | None = None
    line_filter = None
    if not errors:
        start, end = period.days or (None, None)
        line_filter = lines.LineFilter(
            start,
            end,
            given["currency"] or None,
            chosen["kind"] or None,
            chosen["shown"] or None,
            {axis: chosen[axis] for axis in AXES if chosen[axis]},
        )
        session = db.session()
        # Round 61 (lines61): paged and summed by the database, as other lists are read;
        # a classification asked too, by the lines' stored columns (classified61).
        summed = lines.summed(session, line_filter)
        found = paging.read_page(
            session,
            lines.keys(line_filter),
            rows=lambda window, bound: lines.page_entries(
                session, session.execute(window, bound).all()
            ),
            total=sum(each.count for each in summed),
        )
        shown = lines.shown(session, found.items)
    status = 400 if repeated else 422 if errors else 200
    return render_template(
        "finance/invoice_lines.html",
        rows=found.items if found else [],
        page=found,
        totals=summed,
        shown=shown,
        given=given,
        chosen=chosen,
        offered=offered,
        errors=errors,
        labels=LINE_LIST_FILTERS,
        axes=AXES,
        axis_labels=AXIS_LABELS,
        value_words=value_words,
        kinds=lines.KINDS,
        export_url=_lines_export_url(line_filter) if line_filter else None,
        credits_export_url=_credits_export_url(line_filter) if line_filter else None,
    ), status


def _lines_export_url(line_filter: lines.LineFilter) -> str | None:
    """The invoice lines export of the list's lines invoiced (CSV): the same days
    issued, currency, kind and classification (round 60: the export takes them); None
    for a viewer who may not open Exports, or a list of the credit notes alone."""
    if not may_open("exports_console.exports") or line_filter.shown == lines.CREDITED:
        return None
    query = _export_query(line_filter, line_filter.kind)
    return url_for("exports_console.exports", dataset="invoice_lines", **query)


def _export_query(line_filter: lines.LineFilter, kind: str | None) -> dict[str, Any]:
    """An export's filter for the list's days issued, currency, `kind` and classification."""
    query: dict[str, Any] = {"by": "issued", **line_filter.values}
    if line_filter.start is not None:
        query["from"] = line_filter.start.isoformat()
    if line_filter.end is not None:
        query["to"] = line_filter.end.isoformat()
    if line_filter.currency:
        query["currency"] = line_filter.currency
    if kind:
        query["kind"] = kind
    return query


def _credits_export_url(line_filter: lines.LineFilter) -> str | None:
    """Round 61 (lines61): the credit note lines export of the list's royalty credit
    notes (CSV): the same days issued, currency and classification, `kind=royalty`
    (the list's credit notes are the royalty ones whatever its kind), each part
    positive; None for a viewer who may not open Exports, or a list of lines alone."""
    if not may_open("exports_console.exports") or not lines.shows_credits(line_filter):
        return None
    query = _export_query(line_filter, ROYALTY)
    return url_for("exports_console.exports", dataset="credit_note_lines", **query)


REPORT_LABELS = {"month": "Month", "currency": "Currency"}


@console.route("/report.pdf")
@access.staff("billing")
@document_rate_limit()
def monthly_report() -> Response | tuple[str, int]:
    """The monthly revenue report as PDF: `?month=YYYY-MM&currency=USD`."""
    # Each once (round 56: the first of two was reported without a word).
    arguments.once(request.args, REPORT_LABELS)
    month_text = request.args.get("month", "").strip()
    currency = request.args.get("currency", "USD").strip().upper()
    try:
        month = services.parse_month(month_text)
    except ValueError:
        return _bad_request(
            f"Give the month as YYYY-MM, e.g. ?month=2027-03, "
            f"from {services.FIRST_YEAR}-01 to {services.LAST_YEAR}-12."
        )
    if not is_currency(currency):
        return _bad_request("Give an ISO 4217 currency code, e.g. currency=USD.")
    report = services.monthly_report(
        db.session(), services.ReportOf(month, current_config().billing_issuer, currency)
    )
    return pdf_response(
        documents.render_monthly_report_pdf(report),
        services.report_filename(report),
        disposition="attachment",
    )


def _bad_request(detail: str) -> tuple[str, int]:
    return (
        render_template("errors/error.html", status=400, title="Not a report", detail=detail),
        400,
    )
