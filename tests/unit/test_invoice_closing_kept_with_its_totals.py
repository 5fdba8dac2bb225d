"""Round 62: an invoice's closing (How to pay, the late fee terms, the notice) stands on
one page with its last line and its totals, read back with pdftotext.

An invoice of 11 lines (each with its working) filled its first page to the late fee
terms, and its second page held the copyright notice alone under the running header;
one of 14 or 15 lines parted its totals between the pages ("Total" on the first,
"Balance due" on the second). The table's last line and totals now begin the next
page, under the header repeated, with the closing after them (`pdf.Closing`)."""

from __future__ import annotations

import re
import subprocess
from datetime import date

import pytest

from licensing import notices
from licensing.billing import documents as billing
from tests.support.hard_documents import invoice_of_lines

NOTICE = notices.TRADEMARK_NOTICE


def _invoice(lines: int, **changes: object) -> billing.InvoiceDocument:
    # Its own number and a longer late-fee sentence: the page breaks it finds are these.
    return invoice_of_lines(
        lines,
        **{
            "number": "INV-2027-000011",
            "late_fee_terms": "1.5% per month on what is overdue",
            **changes,
        },
    )


def _pages(data: bytes) -> list[str]:
    """pdftotext's text of each page, its spaces and lines squeezed to single spaces."""
    done = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    pages = done.stdout.decode("utf-8").split("\f")
    return [re.sub(r"\s+", " ", page).strip() for page in pages if page.strip()]


SHAPES = {
    "open, with payment instructions": {},
    "paid": {"state": "paid", "paid_on": date(2027, 1, 20)},
    "without payment instructions": {"remit_to": ()},
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_last_line_the_totals_and_the_notice_stand_on_the_last_page_whatever_the_length(
    shape: str,
) -> None:
    for count in range(1, 41):
        pages = _pages(billing.render_invoice_pdf(_invoice(count, **SHAPES[shape])))
        last = pages[-1]
        where = (shape, count, len(pages))
        assert f"Distribution, use {count} " in last, where
        assert "Total" in last, where
        assert "Balance due" in last, where
        assert "1.5% per month on what is overdue" in last, where
        assert NOTICE in last, where
        # The totals are never parted between two pages.
        for page in pages[:-1]:
            assert "Balance due" not in page, where
            assert NOTICE not in page, where


def test_eleven_lines_carry_the_last_to_the_notices_page_under_the_header() -> None:
    first, second = _pages(billing.render_invoice_pdf(_invoice(11)))
    assert "Distribution, use 10 " in first
    assert "Distribution, use 11 " not in first
    assert "Page 1 of 2" in first
    # The second page: the table's header repeated, the last line, the totals, the
    # closing in its order; the notice is no longer alone there.
    order = [
        "Description and working",
        "Distribution, use 11 ",
        "Total",
        "Balance due",
        "How to pay",
        "Wire to Lakeshore Commercial Bank",
        "1.5% per month on what is overdue",
        NOTICE,
    ]
    places = [second.find(text) for text in order]
    assert -1 not in places, (places, second)
    assert places == sorted(places), second


def test_an_invoice_with_room_for_its_closing_is_one_page_as_before() -> None:
    (page,) = _pages(billing.render_invoice_pdf(_invoice(10)))
    assert "Distribution, use 10 " in page
    assert NOTICE in page
