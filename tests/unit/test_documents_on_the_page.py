"""Every document the service prints, read for where its text lies (round 54): with
names as long as the forms accept, in accented Latin, Greek and Cyrillic, the
largest amounts stored and many lines, nothing runs off the page or into other
text, a figure is printed whole, every page says "Page N of M", and the monthly
report's chart series stay apart printed in grey."""

from __future__ import annotations

import io
import itertools
import re

import pytest
from pypdf import PdfReader
from reportlab.lib import colors

from licensing import pdf
from licensing.money import format_grouped, in_words
from tests.support import hard_documents
from tests.support.hard_documents import DOCUMENTS, LARGEST, LEGAL_NAME, STATEMENT_AMOUNT
from tests.support.pdf_pages import outside_the_margins, overlapping, runs


@pytest.mark.parametrize("hard", [False, True], ids=["ordinary data", "hard data"])
@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_every_document_keeps_its_text_inside_the_margins_and_clear_of_other_text(
    kind: str, hard: bool
) -> None:
    data = DOCUMENTS[kind](hard=hard)
    assert outside_the_margins(data) == []
    assert overlapping(data) == []


@pytest.mark.parametrize("hard", [False, True], ids=["ordinary data", "hard data"])
@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_every_page_of_every_document_says_page_n_of_m(kind: str, hard: bool) -> None:
    data = DOCUMENTS[kind](hard=hard)
    pages = len(PdfReader(io.BytesIO(data)).pages)
    numbers = [(run.page, run.text.strip()) for run in runs(data) if run.text.startswith("Page ")]
    assert numbers == [(page, f"Page {page} of {pages}") for page in range(1, pages + 1)]


def test_the_largest_amount_stored_is_printed_whole_in_the_agreements_fee_column() -> None:
    shown = [run.text for run in runs(hard_documents.agreement(hard=True))]
    # Before: "99,999,999,999,99" on one line and "9.99 USD" under it.
    assert shown.count(in_words(LARGEST, "USD")) == 13  # twelve uses and the total


def test_a_busy_years_statement_prints_every_charge_credit_and_balance_whole() -> None:
    data = hard_documents.statement(hard=True)
    shown = {run.text for run in runs(data)}
    assert format_grouped(STATEMENT_AMOUNT, "USD") in shown  # each charge
    assert format_grouped(STATEMENT_AMOUNT - 1, "USD") in shown  # each payment
    assert format_grouped(STATEMENT_AMOUNT + 149, "USD") in shown  # a balance
    figures = re.compile(r"^-?[\d,]+\.\d\d$")
    broken = [text for text in shown if re.fullmatch(r"[\d,.]+", text) and not figures.match(text)]
    assert broken == []


def test_an_invoice_of_two_hundred_lines_prints_each_lines_number_whole() -> None:
    shown = [run.text for run in runs(hard_documents.invoice(hard=True))]
    assert {"100", "150", "200"} <= set(shown)


def test_a_table_whose_figures_fit_keeps_the_widths_it_was_given() -> None:
    widths = [100.0, 300.0, 104.0]
    rows = [["#", "Description", "Amount"], ["1", "Distribution, use 1", "33,800.00 USD"]]
    table = pdf.table(rows, widths, right_columns=(2,))
    assert table._colWidths == widths  # type: ignore[attr-defined]


def test_a_table_whose_figures_do_not_fit_narrows_its_text_columns_for_them() -> None:
    widths = [100.0, 300.0, 104.0]
    rows = [["#", "Description", "Amount"], ["1", "Distribution", in_words(LARGEST, "USD")]]
    table = pdf.table(rows, widths, right_columns=(2,))
    grown: list[float] = table._colWidths  # type: ignore[attr-defined]
    assert grown[2] > widths[2]
    assert sum(grown) == pytest.approx(sum(widths))


def test_a_long_issuer_in_the_running_header_is_shortened_and_the_reference_kept_whole() -> None:
    shown = [run for run in runs(hard_documents.invoice(hard=True)) if run.page == 1]
    header = max(run.baseline for run in shown)
    line = [run.text for run in shown if run.baseline == header]
    assert "Invoice INV-2027-000007" in line
    issuer = next(text for text in line if text != "Invoice INV-2027-000007")
    assert issuer.endswith("…")
    assert LEGAL_NAME.startswith(issuer[:-1])


def _fill_greys(data: bytes, page: int) -> set[int]:
    """The grey (0-255, ITU-R 601) of each fill colour a page sets."""
    content = PdfReader(io.BytesIO(data)).pages[page].get_contents()
    assert content is not None
    fills = re.findall(rb"([\d.]+) ([\d.]+) ([\d.]+) rg", content.get_data())
    return {
        round(255 * (0.299 * float(r) + 0.587 * float(g) + 0.114 * float(b))) for r, g, b in fills
    }


def test_the_twelve_months_charts_series_stay_apart_printed_in_grey() -> None:
    from licensing.finance import documents

    series = [pdf.BRAND, *(colors.HexColor(code) for code in documents._OTHER_SERIES_COLOURS)]
    greys = sorted(round(255 * (0.299 * c.red + 0.587 * c.green + 0.114 * c.blue)) for c in series)
    assert set(greys) <= _fill_greys(hard_documents.monthly_report(hard=False), 0)
    assert min(b - a for a, b in itertools.pairwise(greys)) >= 40


def test_a_chart_axis_says_large_values_in_millions_billions_and_trillions() -> None:
    shown = {run.text for run in runs(hard_documents.monthly_report(hard=True))}
    assert {"200bn", "600bn", "2tn", "6tn"} <= shown
    assert not {"200,000,000,000", "2,000,000,000,000"} & shown  # as they were
