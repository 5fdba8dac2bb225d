"""Round 55: the revenue-recognition schedule of a range (`by=period`) schedules only
the documents that can have a month in it. A manual charge or a late fee is
recognized in its document's month, so one issued (or credited) before the range's
first month has nothing in it and is no longer read and scheduled; an up-front fee or
a royalty, spread over months, is read whatever its day. At 30,000 manual invoices a
month's export went from 1.1-1.5 s to about 0.2 s (BENCHMARKS.md); its rows are those
it gave before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from licensing import db
from licensing.exports.datasets import revenue_recognition
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import credited


def test_a_months_schedule_reads_no_manual_charge_dated_before_it_and_gives_the_same_rows(
    export_json: Callable[..., list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    organization = factories.make_organization(db.session()).id
    january = issue(organization, "1000.00", date(2027, 1, 10))
    credited(january.id, "100.00", "Goodwill in March", now=at(date(2027, 3, 5)))
    february = issue(organization, "400.00", date(2027, 2, 1))
    credited(february.id, "40.00", "Goodwill in February", now=at(date(2027, 2, 10)))
    march = issue(organization, "750.50", date(2027, 3, 15))
    scheduled: list[date] = []
    schedule = revenue_recognition._schedule

    def noted(*args: Any, **kwargs: Any) -> Any:
        scheduled.append(args[5])  # the document's day
        return schedule(*args, **kwargs)

    monkeypatch.setattr(revenue_recognition, "_schedule", noted)
    rows = export_json("revenue_recognition", **{"from": "2027-03-01", "to": "2027-03-31"})
    assert [
        (row["document_type"], row["invoice_number"], row["period"], row["amount"]) for row in rows
    ] == [
        ("invoice", march.number, "2027-03", "750.50"),
        ("credit_note", january.number, "2027-03", "-100.00"),
    ]
    # Neither January's and February's invoices nor February's credit note was read.
    assert sorted(scheduled) == [date(2027, 3, 5), date(2027, 3, 15)]

    # A range from a day within the month still reads the month's documents (a manual
    # charge is recognized in its month, whatever its day in it).
    scheduled.clear()
    rows = export_json("revenue_recognition", **{"from": "2027-03-20", "to": "2027-03-31"})
    assert {row["invoice_number"] for row in rows} == {march.number, january.number}
    # The whole schedule, every month, is every document's.
    scheduled.clear()
    everything = export_json("revenue_recognition")
    assert {row["period"] for row in everything} == {"2027-01", "2027-02", "2027-03"}
    assert len(scheduled) == 5
