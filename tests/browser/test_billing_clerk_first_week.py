"""Round 56: a new billing clerk's first week, walked in Chromium (docs/journeys.md,
"Round 56: a new billing clerk's first week").

One licensee, Wrenfield Telehealth, with an agreement on this year's card: its
up-front invoice paid by wire and partly credited and refunded, the first quarter's
royalty invoice paid by card through localstripe, the second quarter's months
overdue, reminded and charged a late fee. The clerk, who has never seen the
console: finds the overdue invoice by the amount the licensee reads out on the
phone and records the cheque they sent; sees on the overdue list who was reminded;
opens the agreement's invoices from its page; follows a credit note from the
statement of account to its invoice; and, from the wire's own page, finds the
refund sent against its invoice's credit note.

Everything is dated from the office's today (`card_years`: this year's card ends a
month on, so both quarters are past on any day the suite runs)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.db import utcnow
from licensing.royalties.periods import reporting_periods
from tests.browser.conftest import sign_in
from tests.integration.billing.refund_support import paid_by_card
from tests.integration.billing.stripe_support import stripe_config
from tests.integration.royalties.conftest import SMALL_SOFTWARE, row
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.card_years import CardYears
from tests.support.reporting_year import filed
from tests.support.servers import LiveServer, LocalStripe
from tests.support.settings import standing_days

pytestmark = pytest.mark.xdist_group("billing_clerk_first_week")

SEARCH = "Number, organization, payment reference or amount"


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _afternoon(day: date) -> datetime:
    """15:00 UTC: the same calendar day at the office."""
    return datetime.combine(day, time(15, 0), tzinfo=UTC)


def _text(page: Any) -> str:
    return " ".join(page.inner_text("main").split())


def _week(live_server: LiveServer, localstripe: LocalStripe, years: CardYears) -> dict[str, Any]:
    """Wrenfield's year so far, and the clerk's email."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(session, legal_name="Wrenfield Telehealth LLC")
        vendor = factories.make_vendor(session, organization)
        officer = factories.make_staff(session, roles=("licensing",))
        clerk = factories.make_staff(session, roles=("billing",))
        session.commit()
        term = (years.this_from, years.this_to)
        agreement = make_active_agreement(
            vendor, officer, SMALL_SOFTWARE, term=term, now=_afternoon(years.this_from)
        )
        first, second = reporting_periods(*term)[:2]
        for period, quantity in ((first, 3000), (second, 4200)):
            rows = [row(1, "A", quantity=quantity), row(1, "B", quantity=900)]
            filed(vendor, agreement.id, period.start, rows, now=_afternoon(period.first_filing_day))
        up_front, q1, q2 = session.scalars(
            select(Invoice).where(Invoice.organization_id == organization.id).order_by(Invoice.id)
        )
        wire = paid_offline(up_front.id, "815.00", "FEDWIRE 7781-0034")
        note = credited(up_front.id, "120.00", "Customer B counted twice.")
        refunded_offline(note.id, "60.00", "FEDWIRE RF-2231")
        paid_by_card(live_server.app.test_client(), vendor, localstripe, q1)
        services.process_overdue(standing_days=standing_days(), now=utcnow())
        return {
            "clerk": clerk.email,
            "agreement": (agreement.id, agreement.number),
            "invoices": (up_front.number, q1.number, q2.number),
            "overdue": (q2.number, f"{q2.total:,.2f}"),
            "wire": wire.id,
            "credit note": note.number,
            "organization": organization.id,
        }


def test_a_new_billing_clerk_finds_records_and_follows_each_link_on_the_consoles_pages(
    page: Any, live_server: LiveServer, localstripe: LocalStripe, card_years: CardYears
) -> None:
    week = _week(live_server, localstripe, card_years)
    overdue, amount = week["overdue"]
    sign_in(page, week["clerk"])

    # The licensee phones about "the invoice for 14,400": found by the amount alone.
    page.goto("/console/invoices")
    page.get_by_label(SEARCH).fill(amount)
    page.get_by_label(SEARCH).press("Enter")
    page.get_by_role("link", name=overdue).click()
    page.get_by_role("heading", name=f"Invoice {overdue}").wait_for()
    # The cheque they sent for part of it.
    form = page.get_by_role("region", name="Record an offline payment")
    form.get_by_label("Method").select_option("check")
    form.get_by_label("Amount", exact=True).fill("4000.00")
    form.get_by_label("Reference", exact=True).fill("CHK 1188")
    form.get_by_role("button", name="Record payment").click()
    page.get_by_text("Recorded a check of 4,000.00 USD.").wait_for()

    # What is overdue, and who was reminded, on the list itself.
    page.goto("/console/invoices?overdue=1")
    header = page.locator("table thead th").all_inner_texts()
    assert header[-1] == "Reminded"
    row_text = page.get_by_role("row", name=re.compile(overdue)).inner_text()
    # Whom it went to (round 57: it said "to the billing contact").
    assert re.search(r"1 sent, the last on .+ to .+ <[^<>@]+@[^<>]+>", row_text), row_text

    # The agreement's invoices, from its charged to date.
    agreement_id, number = week["agreement"]
    page.goto(f"/console/agreements/{agreement_id}")
    page.get_by_role("link", name="Invoices under this agreement").click()
    page.get_by_role("heading", name=f"Invoices under agreement {number}").wait_for()
    listed = set(re.findall(r"INV-\d{4}-\d{6}", _text(page)))
    assert set(week["invoices"]) <= listed

    # The statement's credit note opens its own page (credits56), which says who issued
    # it and what went back, and links the invoice it credits.
    page.goto(f"/console/organizations/{week['organization']}/statement")
    page.get_by_role("link", name=week["credit note"]).first.click()
    page.get_by_role("heading", name=f"Credit note {week['credit note']}").wait_for()
    assert "still to send" in _text(page)
    page.get_by_role("link", name=week["invoices"][0]).first.click()
    page.get_by_role("heading", name=f"Invoice {week['invoices'][0]}").wait_for()

    # The wire's page: no refund counted against it, but its invoice's refund is named
    # and linked.
    page.goto(f"/console/payments/{week['wire']}")
    assert "The invoice's credit notes had 60.00 USD refunded" in _text(page)
    assert "counted against no payment): listed below." in _text(page)
    listed = page.locator("#refunds-offline tbody tr").filter(has_text="FEDWIRE RF-2231")
    assert listed.count() == 1
