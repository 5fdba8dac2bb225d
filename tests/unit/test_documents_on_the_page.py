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
from tests.support import hard_documents
from tests.support.pdf_pages import outside_the_margins, overlapping, runs


@pytest.mark.parametrize("hard", [False, True], ids=["ordinary data", "hard data"])
def test_the_monthly_reports_charts_keep_their_labels_inside_the_margins(hard: bool) -> None:
    data = hard_documents.monthly_report(hard=hard)
    assert outside_the_margins(data) == []
    assert overlapping(data) == []


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
