"""The Finance page in Chromium: every chart is drawn by the vendored Chart.js
from its data attribute, with no console error, no failed request, and no
inline script, under a Content-Security-Policy without 'unsafe-inline'."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.billing.models import Invoice
from licensing.ratecards import services as ratecards
from licensing.words import USE_LABELS
from tests.browser.conftest import sign_in_on_the_form
from tests.integration.agreements.conftest import DEVELOPMENT_USE, NOW, STAFF_USE, draft
from tests.integration.finance.conftest import at, issue
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.agreements import accept
from tests.support.billing import paid_offline
from tests.support.servers import LiveServer
from tests.support.settings import issuing

SCREENSHOT = os.environ.get("FINANCE_SCREENSHOT", "")


def _accepted_agreement() -> Decimal:
    """A vendor's agreement, priced, approved and accepted on 2026-11-02: its
    up-front invoice is classified by the quote; and an application left waiting
    for staff review, for queue health."""
    ratecards.import_card(example_document(), published_by="tests")
    vendor = factories.make_vendor(db.session())
    principal = accounts.principal_for(vendor)
    application = agreements.create_draft(Actor.of(principal), draft(DEVELOPMENT_USE), now=NOW)
    agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True, now=NOW)
    accept(db.session().scalars(select(Agreement)).one(), vendor, now=NOW)
    waiting = agreements.create_draft(Actor.of(principal), draft(STAFF_USE), now=NOW)
    agreements.submit(waiting.id, Actor.of(principal), policy=issuing(), attest=True, now=NOW)
    invoice = db.session().scalars(select(Invoice)).one()
    return invoice.total


def _billing_history(live_server: LiveServer) -> tuple[str, Decimal]:
    with live_server.app.app_context():
        up_front = _accepted_agreement()
        session = db.session()
        first = factories.make_organization(session)
        second = factories.make_organization(session)
        invoice = issue(first.id, "1800.00", date(2027, 1, 12))
        paid_offline(
            invoice.id,
            "800.00",
            "WIRE-20270201",
            received_on=date(2027, 2, 1),
            now=at(date(2027, 2, 2)),
        )
        issue(second.id, "640.25", date(2027, 2, 20))
        staff = factories.make_staff(session, roles=("billing",))
        return staff.email, up_front


def test_billing_staff_see_every_chart_drawn_without_console_errors(
    page: Any, live_server: LiveServer
) -> None:
    email, up_front = _billing_history(live_server)
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status}: {response.url}")
            if response.status >= 400
            else None
        ),
    )
    sign_in_on_the_form(page, email)
    page.get_by_role("link", name="Finance").click()
    page.get_by_role("heading", name="Finance", exact=True).wait_for()

    page.get_by_label("First month").fill("2026-11")
    page.get_by_label("Last month").fill("2027-03")
    page.get_by_role("textbox", name="Aging as of").fill("2027-04-30")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/console/finance/?from=2026-11&to=2027-03*")

    charts = page.locator("canvas.finance-chart")
    count = charts.count()
    assert count == 8  # cash flow, four classifications, aging, licensees, queues
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('canvas.finance-chart'))"
        ".every(c => c.dataset.drawn === 'true')"
    )
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll('canvas.finance-chart')).map(c => ({
            table: c.dataset.table,
            bars: c.chart.data.datasets.map(d => d.data),
            width: c.width,
            hasTable: document.getElementById(c.dataset.table) !== null,
        }))"""
    )
    assert all(chart["width"] > 0 and chart["hasTable"] for chart in drawn)
    cash = next(chart for chart in drawn if chart["table"] == "cash-table")
    # Invoiced, collected and outstanding at each month's end (2026-11 to 2027-03).
    fee = float(up_front)
    assert cash["bars"] == [
        [fee, 0, 1800, 640.25, 0],
        [0, 0, 0, 800, 0],
        [fee, fee, fee + 1800, fee + 1640.25, fee + 1640.25],
    ]
    outstanding = (up_front + Decimal("1640.25")).quantize(Decimal("0.01"))
    assert f"{outstanding:,}" in page.locator("#cash-table").inner_text()
    by_use = next(chart for chart in drawn if chart["table"] == "revenue-use-table")
    assert by_use["bars"] == [[fee], [0]]  # development: up-front fees, no royalties yet
    # The use in the application form's words (round 37), not the stored `development`.
    assert USE_LABELS["development"] in page.locator("#revenue-use-table").inner_text()
    queues = next(chart for chart in drawn if chart["table"] == "queues-table")
    # Applications, permission requests, royalty reports, flagged royalty reports (round
    # 53): the application is past its 10 business days; no report is due nor flagged.
    assert queues["bars"][2] == [1, 0, 0, 0]
    assert page.locator("script:not([src])").count() == 0
    served = page.request.get("/console/finance/")
    policy = served.headers["content-security-policy"]  # the app's own policy was in force
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    if SCREENSHOT:  # FINANCE_SCREENSHOT=/tmp/finance.png: to look at the page
        page.screenshot(path=SCREENSHOT, full_page=True)
    assert problems == []
