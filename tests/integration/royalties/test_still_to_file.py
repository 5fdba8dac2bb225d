"""What stays open with a closed organization counts its royalty reports not filed
and links the royalty queue: the link listed every period of the organization, those
filed among them, so staff hunted for the few still to file."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from flask import Flask

from licensing.accounts import services as accounts
from licensing.agreements.models import Agreement
from tests.integration.royalties.conftest import AFTER, SOFTWARE, row


def _words(page: Any) -> str:
    text = re.sub(r"<[^>]+>", " ", html.unescape(page.get_data(as_text=True)))
    return " ".join(text.split())


def _rows(page: Any) -> str:
    """The words of the queue's rows (the Period filter offers every period)."""
    found = re.search(r"<tbody>.*?</tbody>", page.get_data(as_text=True), re.S)
    assert found is not None
    text = re.sub(r"<[^>]+>", " ", html.unescape(found.group(0)))
    return " ".join(text.split())


def test_the_reports_not_filed_link_lists_the_periods_still_to_file_not_the_filed_ones(
    app: Flask,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    elsewhere = active_agreement(other_vendor, SOFTWARE)
    monkeypatch.setattr(accounts, "OPEN_NAMED", 0)  # every one counted, none named

    # Early October 2027: the second quarter overdue, the third due, the first filed.
    with time_machine.travel(AFTER[3], tick=False):
        console = signed_in(app.test_client(), licensing_staff)
        closing = console.post(
            f"/console/organizations/{vendor.organization_id}/standing",
            data={"action": "close", "reason": "The licensee stopped trading."},
        )
        assert "And 2 more royalty reports not filed." in _words(closing)
        found = re.search(
            r"And 2 more royalty reports not filed\.\s*<a href=\"([^\"]+)\">([^<]+)</a>",
            closing.get_data(as_text=True),
        )
        assert found is not None
        assert html.unescape(found.group(2)) == "The organization's reports to file"
        link = urlsplit(html.unescape(found.group(1)))
        listed = _rows(console.get(f"{link.path}?{link.query}"))

    assert "2027-04-01 to 2027-06-30" in listed  # overdue
    assert "2027-07-01 to 2027-09-30" in listed  # due
    assert "2027-01-01 to 2027-03-31" not in listed  # filed
    assert "2027-10-01" not in listed  # upcoming
    assert elsewhere.number not in listed


def test_the_royalty_queue_offers_the_periods_due_or_overdue_as_one_state(
    app: Flask,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Any],
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])

    with time_machine.travel(AFTER[3], tick=False):
        console = signed_in(app.test_client(), licensing_staff)
        page = console.get("/console/royalty-reports")
        to_file = console.get("/console/royalty-reports?state=to_file")

    assert '<option value="to_file">due or overdue</option>' in page.get_data(as_text=True)
    assert to_file.status_code == 200
    assert '<option value="to_file" selected>due or overdue</option>' in to_file.get_data(
        as_text=True
    )
    assert "2 reporting periods" in _words(to_file) or "2027-04-01 to 2027-06-30" in _words(to_file)
