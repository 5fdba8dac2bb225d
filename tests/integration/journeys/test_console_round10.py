"""Round 10 of the console journeys: the Exports page's table of datasets in the
form's words."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask

from licensing import calendar
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import queries
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.db import utcnow
from licensing.exports import base
from licensing.exports.views import FIELD_LABELS
from tests.integration.agreements.conftest import STAFF_USE


def _dataset_rows(page: str) -> dict[str, list[str]]:
    """Each dataset's row of the Datasets table by its parameter name (shown in
    `<code>`), as the cells' texts."""
    table = page.split("<h2>Datasets</h2>", 1)[1]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
        cells = [
            html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell))).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        name = re.search(r"<code>(\w+)</code>", row)
        if name and cells:
            rows[name.group(1)] = cells
    return rows


def test_the_datasets_table_names_filters_dates_and_states_as_the_form_does(
    app: Flask, billing_staff: Any, signed_in: Any
) -> None:
    """It listed `as of`, `issued`, `uncollectible` (parameter names and values)
    where the form above it says "Balances as of" ("Receivables as of" until round
    59), "Issue date" (and its State options say the states as it does)."""
    page = signed_in(app.test_client(), billing_staff).get("/console/exports")
    assert page.status_code == 200
    rows = _dataset_rows(page.get_data(as_text=True))
    assert rows.keys() == base.all_datasets().keys()
    receivables = rows["receivables"]
    assert receivables[3] == "Issue date"
    assert receivables[4] == "Organization, Currency, Balances as of, Refunds owed at the end of"
    invoices = rows["invoices"]
    # Round 30: the nightly pull's basis, named as the form's Dates apply to says it.
    assert invoices[3] == "Issue date, Paid date, Day recorded or changed (nightly pulls)"
    # Round 59 (asof59): the invoices take a day their balances are as of.
    assert invoices[4] == (
        "Organization, State, Currency, Balances as of State: open, paid, void, uncollectible"
    )
    agreements = rows["agreements"]
    assert agreements[3] == "Period covered (term, report period or month earned), Issue date"
    assert agreements[4].startswith("Organization, State, Currency, Use State: ")
    for name, dataset in base.all_datasets().items():
        # Every filter a dataset takes is named (none drops out for want of a label).
        assert dataset.filters <= FIELD_LABELS.keys(), name
        assert "_" not in rows[name][4], name


def test_a_reconsideration_s_review_clock_starts_when_the_vendor_asks(
    apply: Callable[..., Application],
    app: Flask,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    """The queue counted a reconsideration's age from the application's first
    submission, so one asked for today showed weeks old and overdue, while its page
    said it would be answered within the review's service level from the request."""
    submitted = apply(vendor, STAFF_USE)  # submitted on NOW, a month before today
    assert submitted.submitted_at is not None
    staff = Actor.of(accounts.principal_for(licensing_staff))
    asked_at = utcnow() - timedelta(minutes=5)
    rejected = agreements.reject(
        submitted.id, "Revenue not evidenced", staff, now=asked_at - timedelta(hours=1)
    )
    asked = agreements.request_reconsideration(
        rejected.id,
        "Audited accounts are attached.",
        Actor.of(accounts.principal_for(vendor)),
        now=asked_at,
    )
    now = utcnow()
    # 0, or 1 when the five minutes crossed an office day's end.
    age = calendar.business_days_between(calendar.office_date(asked_at), calendar.office_date(now))
    level = queries.review_level(asked, now, target_days=10)
    assert level.running
    assert level.age_days == age <= 1
    assert not level.overdue
    assert level.due_at == calendar.business_deadline(asked_at, 10)

    queue = signed_in(app.test_client(), licensing_staff).get(
        "/console/applications?state=reconsideration_requested"
    )
    assert queue.status_code == 200
    row = next(
        row
        for row in re.findall(r"<tr[^>]*>.*?</tr>", queue.get_data(as_text=True), flags=re.S)
        if asked.reference in row
    )
    assert f"{age} of 10" in row
    assert "overdue" not in row
