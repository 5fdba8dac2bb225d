"""The monthly revenue report PDF: a pure renderer from plain data to bytes.

Charts are drawn with reportlab's own graphics (`reportlab.graphics`), with the
exact figures in a table under each; the bars take floats because they are
geometry, the tables print the decimal strings. Deterministic like every other
document (`licensing.pdf.build`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from licensing.calendar import day_text, month_text
from licensing.money import format_grouped
from licensing.words import USE_LABELS, end_sentence, humanize, use_words

# reportlab and `licensing.pdf` are imported by the functions that draw, not with the
# module: the finance services import it for the report's data, and reportlab with PIL
# is about 10 MB resident that a process which draws no PDF need not hold (round 50).
if TYPE_CHECKING:
    from reportlab.graphics.shapes import Drawing
    from reportlab.platypus import Flowable

# The trend table's month column, in inches: "2027-01" in 7 points and its padding.
_TREND_MONTH_WIDTH = 0.6

# The chart's series after the brand's blue (`pdf.BRAND`, grey 65 of 255 printed in
# grey): a mid green and a light orange, 135 and 183 in grey, so the three bars and
# their legend stay apart on a grey printer (round 54: #1d6b3a and #a8472a printed
# as 78 and 97, three dark greys beside the blue's 65).
_OTHER_SERIES_COLOURS = ("#5aa469", "#f0a27a")


@dataclass(frozen=True)
class TrendRow:
    period: str
    invoiced: Decimal
    collected: Decimal
    outstanding: Decimal
    credited: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    reversed: Decimal = Decimal(0)  # payments the bank returned in the month
    refunds_owed: Decimal = Decimal(0)  # owed back, not yet sent, at the month's end


@dataclass(frozen=True)
class AmountRow:
    label: str
    amount: Decimal
    count: int | None = None


@dataclass(frozen=True)
class LicenseeRow:
    name: str
    invoiced: Decimal
    collected: Decimal
    outstanding: Decimal


@dataclass(frozen=True)
class MonthlyReport:
    month: str  # "2027-03"
    currency: str
    issuer: str
    generated_on: date
    invoiced: Decimal
    collected: Decimal
    credited: Decimal
    refunded: Decimal  # refunds sent on credit notes
    outstanding_at_start: Decimal  # at the previous month's end
    outstanding: Decimal  # at the month's end
    trend: tuple[TrendRow, ...]  # the twelve months to this one
    revenue_by_use: tuple[AmountRow, ...]
    revenue_other: Decimal  # late fees and manual invoices
    aging: tuple[AmountRow, ...]  # as of the month's end
    top_licensees: tuple[LicenseeRow, ...]
    # Invoices issued in the month and voided since: in no figure above, but in the
    # invoices export, so shown as a line of their own as on the Finance page.
    voided: Decimal = Decimal(0)
    voided_count: int = 0
    # Payments the bank returned in the month (made in it or before): owed again.
    reversed: Decimal = Decimal(0)
    # Royalties invoiced in the month (gross, inside `revenue_by_use`) and the
    # royalty credit notes issued in it, as the Finance page gives them (round 39).
    royalty: Decimal = Decimal(0)
    royalty_credited: Decimal = Decimal(0)
    # Refunds owed and not yet sent at the previous month's end and at this one's, as
    # the Finance page gives them (round 52): outstanding less them adds up.
    refunds_owed_at_start: Decimal = Decimal(0)
    refunds_owed: Decimal = Decimal(0)


def _money(report: MonthlyReport, amount: Decimal) -> str:
    return format_grouped(amount, report.currency)


# From ten million up, an axis says its values in millions, billions or trillions
# (round 54): "1,200,000,000,000" in 7 points is wider than the room left of the
# twelve months' axis, and beside its neighbours on the aging chart's.
_AXIS_UNITS = ((10**12, "tn"), (10**9, "bn"), (10**6, "M"))
_AXIS_COMPACT_FROM = 10**7
_BAR_LABEL_SIZE = 7.5


def _axis_label(value: float) -> str:
    if abs(value) >= _AXIS_COMPACT_FROM:
        unit, suffix = next((unit, suffix) for unit, suffix in _AXIS_UNITS if abs(value) >= unit)
        return f"{value / unit:,.4g}{suffix}"
    return f"{value:,.0f}"


def _scale(axis: Any, data: list[list[float]]) -> None:
    """From zero; an empty chart gets a 0-1 axis rather than a pile of zeros."""
    axis.valueMin = 0
    if not any(value for values in data for value in values):
        axis.valueMax = 1
        axis.valueStep = 1


def _vertical_bars(
    categories: Sequence[str], series: Sequence[tuple[str, Sequence[Decimal]]]
) -> Drawing:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.units import inch

    from licensing import pdf

    series_colours = (pdf.BRAND, *(colors.HexColor(code) for code in _OTHER_SERIES_COLOURS))

    width, height = pdf.CONTENT_WIDTH, 2.3 * inch
    # Started in our font, not the graphics' default Helvetica, unembedded (pdffonts59).
    drawing = Drawing(width, height, initialFontName=pdf.FONT)
    chart = VerticalBarChart()
    chart.x, chart.y = 50, 40
    chart.width, chart.height = int(width - 70), int(height - 60)
    chart.data = [[float(value) for value in values] for _, values in series]
    chart.categoryAxis.categoryNames = list(categories)
    chart.categoryAxis.labels.fontName = pdf.FONT
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    _scale(chart.valueAxis, chart.data)
    chart.valueAxis.labels.fontName = pdf.FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = _axis_label
    chart.barSpacing = 1
    chart.groupSpacing = 6
    for index in range(len(series)):
        chart.bars[index].fillColor = series_colours[index % len(series_colours)]
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 55, int(height - 6)
    legend.fontName, legend.fontSize = pdf.FONT, 7.5
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.deltax = 90
    legend.colorNamePairs = [
        (series_colours[index % len(series_colours)], name)
        for index, (name, _) in enumerate(series)
    ]
    drawing.add(legend)
    return drawing


def _horizontal_bars(labels: Sequence[str], values: Sequence[Decimal]) -> Drawing:
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.units import inch
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from licensing import pdf

    row = 0.28 * inch
    width, height = pdf.CONTENT_WIDTH, max(len(labels), 1) * row + 30
    # Started in our font, not the graphics' default Helvetica, unembedded (pdffonts59).
    drawing = Drawing(width, height, initialFontName=pdf.FONT)
    chart = HorizontalBarChart()
    # The labels end 5 points left of the axis: the axis moves right of the longest
    # (round 54: a use's description ran 40 points past the page's left margin).
    pdf.register_fonts()
    longest = max((stringWidth(label, pdf.FONT, _BAR_LABEL_SIZE) for label in labels), default=0)
    chart.x, chart.y = max(150, math.ceil(longest) + 10), 20
    chart.width, chart.height = int(width - 20 - chart.x), int(height - 30)
    # Largest first from the top: reportlab draws the first category at the bottom.
    chart.data = [[float(value) for value in reversed(values)] or [0.0]]
    chart.categoryAxis.categoryNames = list(reversed(labels)) or [""]
    chart.categoryAxis.labels.fontName = pdf.FONT
    chart.categoryAxis.labels.fontSize = _BAR_LABEL_SIZE
    _scale(chart.valueAxis, chart.data)
    chart.valueAxis.labels.fontName = pdf.FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = _axis_label
    chart.bars[0].fillColor = pdf.BRAND
    chart.bars[0].strokeColor = None
    drawing.add(chart)
    return drawing


def _month(report: MonthlyReport) -> str:
    """The report's month in words, "March 2027" (round 56: it printed "2027-03"); the
    trend table's column of twelve months keeps "2027-01", a table's column."""
    return month_text(date.fromisoformat(f"{report.month}-01"))


def _summary(report: MonthlyReport) -> Flowable:
    """The month's figures in the order they add up: outstanding at the start less
    refunds owed then, + invoiced - collected + reversed - credited + net refunds =
    outstanding at the end less refunds owed then, as on the Finance page (round 52)."""
    from reportlab.lib.units import inch

    from licensing import pdf

    return pdf.table(
        [
            ["", f"{_month(report)} ({report.currency})"],
            ["Outstanding at the month's start", _money(report, report.outstanding_at_start)],
            [
                "Refunds owed at the month's start (not yet sent)",
                _money(report, report.refunds_owed_at_start),
            ],
            ["Invoiced", _money(report, report.invoiced)],
            ["Collected", _money(report, report.collected)],
            ["Reversed", _money(report, report.reversed)],
            ["Credited", _money(report, report.credited)],
            ["Net refunds (sent less returned)", _money(report, report.refunded)],
            ["Outstanding at the month's end", _money(report, report.outstanding)],
            ["Refunds owed at the month's end (not yet sent)", _money(report, report.refunds_owed)],
        ],
        [pdf.CONTENT_WIDTH - 2 * inch, 2 * inch],
        right_columns=(1,),
    )


def _voided(report: MonthlyReport) -> list[Flowable]:
    """The Finance page's line: invoiced and voided add up to the invoices export."""
    from licensing import pdf

    if not report.voided_count:
        return []
    plural = "s" if report.voided_count != 1 else ""
    issued = report.invoiced + report.voided
    return [
        pdf.para(
            f"Voided: {report.voided_count} invoice{plural} issued in {_month(report)}, "
            f"{_money(report, report.voided)} {report.currency}, since voided; they count "
            f"in no figure. Invoiced and voided together, {_money(report, issued)} "
            f"{report.currency}, is every invoice issued in the month (the invoices "
            "export's total).",
            "Small",
        )
    ]


def _flow_rows(
    report: MonthlyReport, heading: str, labelled: Sequence[tuple[str, TrendRow | LicenseeRow]]
) -> list[list[object]]:
    """A table of what was invoiced, collected and left outstanding, one row a label
    (a month of the trend, a top licensee)."""
    rows: list[list[object]] = [[heading, "Invoiced", "Collected", "Outstanding"]]
    rows += [
        [
            label,
            _money(report, row.invoiced),
            _money(report, row.collected),
            _money(report, row.outstanding),
        ]
        for label, row in labelled
    ]
    return rows


def _trend_rows(report: MonthlyReport) -> list[list[object]]:
    """The Finance page's table: a month's row adds up to the change in outstanding."""
    rows: list[list[object]] = [
        [
            "Month",
            "Invoiced",
            "Collected",
            "Reversed",
            "Credited",
            "Net refunds",
            "Refunds owed",
            "Outstanding",
        ]
    ]
    for row in report.trend:
        amounts = (
            row.invoiced,
            row.collected,
            row.reversed,
            row.credited,
            row.refunded,
            row.refunds_owed,
            row.outstanding,
        )
        rows.append([row.period, *(_money(report, amount) for amount in amounts)])
    return rows


def _trend(report: MonthlyReport) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import KeepTogether

    from licensing import pdf

    periods = [row.period for row in report.trend]
    rows = _trend_rows(report)
    return [
        KeepTogether(
            [
                pdf.para("The last twelve months", "Heading"),
                _vertical_bars(
                    periods,
                    [
                        ("Invoiced", [row.invoiced for row in report.trend]),
                        ("Collected", [row.collected for row in report.trend]),
                        ("Outstanding", [row.outstanding for row in report.trend]),
                    ],
                ),
            ]
        ),
        pdf.table(
            rows,
            # Seven amount columns on a portrait page, like every other page of the
            # report and of the office's documents: in 7 points, with the month as
            # narrow as "2027-01" then allows, each column holds -10,000,000.00 on one
            # line (round 53: at 8.5 points 1,000,000.00 wrapped inside its cell).
            [_TREND_MONTH_WIDTH * inch] + [(pdf.CONTENT_WIDTH - _TREND_MONTH_WIDTH * inch) / 7] * 7,
            right_columns=(1, 2, 3, 4, 5, 6, 7),
            small=True,
        ),
    ]


def _revenue(report: MonthlyReport) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import KeepTogether

    from licensing import pdf

    heading = pdf.para("License revenue invoiced this month, by use", "Heading")
    story: list[Flowable] = []
    if not report.revenue_by_use:
        story.append(heading)
        story.append(pdf.para("No license fees or royalties were invoiced this month."))
    else:
        # Each use as the application form offers it (round 37); "unclassified" as it is.
        labels = [
            use_words(row.label) if row.label in USE_LABELS else humanize(row.label)
            for row in report.revenue_by_use
        ]
        chart = _horizontal_bars(labels, [row.amount for row in report.revenue_by_use])
        story.append(KeepTogether([heading, chart]))
        rows: list[list[object]] = [["Use", "Amount"]]
        rows += [
            [label, _money(report, row.amount)]
            for label, row in zip(labels, report.revenue_by_use, strict=True)
        ]
        story.append(pdf.table(rows, [pdf.CONTENT_WIDTH - 2 * inch, 2 * inch], right_columns=(1,)))
    story.append(
        pdf.para(
            f"Other invoices this month (late fees, manual): "
            f"{_money(report, report.revenue_other)} {report.currency}.",
            "Small",
        )
    )
    story.append(
        pdf.para(
            f"Royalties invoiced this month (gross, in the amounts above): "
            f"{_money(report, report.royalty)} {report.currency}; royalty credit notes "
            f"issued this month: {_money(report, report.royalty_credited)} {report.currency}; "
            f"royalties net of credit notes: "
            f"{_money(report, report.royalty - report.royalty_credited)} {report.currency}.",
            "Small",
        )
    )
    return story


def _aging(report: MonthlyReport) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import KeepTogether

    from licensing import pdf

    rows: list[list[object]] = [["Days past due", "Invoices", "Balance"]]
    rows += [[row.label, str(row.count or 0), _money(report, row.amount)] for row in report.aging]
    return [
        KeepTogether(
            [
                pdf.para(f"Receivables aging at the end of {_month(report)}", "Heading"),
                _horizontal_bars(
                    [row.label for row in report.aging], [row.amount for row in report.aging]
                ),
            ]
        ),
        pdf.table(
            rows,
            [pdf.CONTENT_WIDTH - 3 * inch, 1 * inch, 2 * inch],
            right_columns=(1, 2),
        ),
    ]


def _licensees(report: MonthlyReport) -> list[Flowable]:
    from reportlab.lib.units import inch

    from licensing import pdf

    story: list[Flowable] = [pdf.para("Top licensees this month", "Heading")]
    if not report.top_licensees:
        story.append(pdf.para("Nothing was invoiced this month."))
        return story
    rows = _flow_rows(report, "Licensee", [(row.name, row) for row in report.top_licensees])
    amount_width = 1.3 * inch
    story.append(
        pdf.table(
            rows,
            [pdf.CONTENT_WIDTH - 3 * amount_width] + [amount_width] * 3,
            right_columns=(1, 2, 3),
        )
    )
    return story


def render_monthly_report_pdf(report: MonthlyReport) -> bytes:
    from reportlab.lib.units import inch
    from reportlab.platypus import Spacer

    from licensing import pdf

    story: list[Flowable] = [
        pdf.para(f"Monthly revenue report: {_month(report)}", "Title"),
        pdf.para(
            # The issuer's name ends the sentence: "Example Inc." takes no second
            # full stop (round 36, as round 35's emails).
            f"{pdf.isolated(end_sentence(report.issuer))} Amounts in {report.currency}; "
            f"prepared {day_text(report.generated_on)}.",
            "Subtitle",
        ),
        Spacer(1, 0.1 * inch),
        _summary(report),
        *_voided(report),
        *_trend(report),
        *_revenue(report),
        *_aging(report),
        *_licensees(report),
        Spacer(1, 0.15 * inch),
        pdf.para(
            "Invoiced: issued invoices by issue date, less those voided since (shown as "
            "Voided under the month's figures, as on the Finance page). Collected: "
            "payments by the day received, including those the bank returned later. "
            "Reversed: payments the bank returned, by the day returned. Credited: credit "
            "notes by issue date. Net refunds: refunds sent on credit notes, by the day sent, "
            "less those the bank returned, by the day returned. "
            "Refunds owed: credit beyond what the invoices owed, less refunds sent, at the "
            "month's end. Outstanding: balances still owed at the month's end; less refunds "
            "owed, it changes by invoiced - collected + reversed - credited + net refunds, so "
            "a month's figures do not change when a payment made in it is reversed later. "
            "Top licensees: paid and owed as known on the day prepared. Figures as defined "
            "in the service's finance dashboard documentation.",
            "Small",
        ),
    ]
    furniture = pdf.PageFurniture(
        reference=f"Monthly revenue report {_month(report)}", issuer=report.issuer
    )
    return pdf.build(
        story, furniture, title=f"Monthly revenue report {_month(report)}", subject="Revenue report"
    )
