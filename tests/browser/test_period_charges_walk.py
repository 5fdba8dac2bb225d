"""periods62 in Chromium: a licensee's billing contact, and then billing staff, read a
year of four quarters (the first paid, the second paid in part, the third paid and
amended down, its credit note's refund sent, the fourth not paid) on the portal's and
console's royalty report lists and period pages, and find each period's charged, paid
and still owed to the cent as the API's period answer gives them; the lists' "owing"
filter keeps the second and fourth alone.

On any day (round 50): the agreement is next year's card's whole year
(`reporting_vendor`'s `ReportingYear`), each period filed on the day it may first be
reported, and the pages read at the fourth's, travelling forward only."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import time_machine
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice
from licensing.royalties.periods import Period
from tests.browser.conftest import reporting_vendor, sign_in
from tests.integration.royalties.conftest import row
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.reporting_year import ReportingYear, filed
from tests.support.servers import LiveServer


def _shown(amount: str) -> str:
    """An API amount as the pages write it."""
    return f"{Decimal(amount):,.2f} USD"


def _a_year(email: str, agreement_id: int, year: ReportingYear) -> tuple[dict[str, str], str]:
    """The four quarters filed and settled as the module says, through the services;
    the vendor's API headers and the billing clerk's email."""
    session = db.session()
    vendor = session.scalars(select(User).where(User.email == email)).one()
    clerk_user = factories.make_staff(session, roles=("billing",))
    clerk = factories.billing_clerk()

    def file(index: int, rows: list[Any], **amendment: Any) -> Any:
        filing = filed(
            vendor, agreement_id, year.period(index).start, rows, now=year.after(index), **amendment
        )
        return filing

    def pay(report: Any, index: int, share: Decimal = Decimal(1)) -> None:
        invoice = session.get(Invoice, report.invoice_id)
        assert invoice is not None
        billing.record_offline_payment(
            invoice.id,
            method="wire",
            amount=(invoice.total * share).quantize(Decimal("0.01")),
            reference=f"W-{index}",
            now=year.after(index),
            actor=clerk,
        )

    first = file(1, [row(1, "A", quantity=3000)]).report
    pay(first, 1)
    second = file(2, [row(1, "B", quantity=500)]).report
    pay(second, 2, Decimal("0.4"))
    third = file(3, [row(1, "C", quantity=600)]).report
    pay(third, 3)
    lowered = file(3, [row(1, "C", quantity=200)], amends=third.id, reason="Recounted")
    [number] = lowered.credit_notes
    credit = session.scalars(select(CreditNote).where(CreditNote.number == number)).one()
    billing.record_offline_refund(
        credit.id,
        method="wire",
        amount=credit.refund_due,
        reference="R-3",
        now=year.after(3),
        actor=clerk,
    )
    file(4, [row(1, "D", quantity=300)])
    return factories.bearer(vendor), clerk_user.email


def _period_row(page: Any, agreement_number: str, period: Period) -> Any:
    return (
        page.locator("main table tbody tr")
        .filter(has_text=f"{agreement_number}")
        .filter(has_text=f"{period.start} to {period.end}")
    )


def _cells(row_locator: Any) -> list[str]:
    return [" ".join(text.split()) for text in row_locator.locator("td").all_inner_texts()]


def _owed(period: dict[str, Any], whom: str) -> str:
    if Decimal(period["balance_due"]) > 0:
        return f"{_shown(period['balance_due'])} to pay"
    if Decimal(period["refund_outstanding"]) > 0:
        return f"{_shown(period['refund_outstanding'])} owed back to {whom}"
    return "Settled"


def _list_agrees_with_the_api(
    page: Any, agreement_number: str, year: ReportingYear, periods: list[dict[str, Any]], whom: str
) -> None:
    """Each of the four filed periods' row: charged, paid and owed, to the cent."""
    for index, period in enumerate(periods[:4], start=1):
        cells = _cells(_period_row(page, agreement_number, year.period(index)))
        figures = [_shown(period["net_charged"]), _shown(period["paid"]), _owed(period, whom)]
        assert any(cells[at : at + 3] == figures for at in range(len(cells))), (index, cells)


def test_a_year_of_quarters_reads_to_the_cent_as_the_api_says_on_portal_and_console(
    page: Any, live_server: LiveServer
) -> None:
    email, agreement, year = reporting_vendor(live_server)
    with live_server.app.app_context():
        headers, clerk_email = _a_year(email, agreement.id, year)

    with time_machine.travel(year.after(4)):
        answer = page.request.get(
            f"/api/v1/agreements/{agreement.id}/royalty-reports", headers=headers
        )
        assert answer.status == 200
        periods = answer.json()
        # The year as the module tells it, in the API's own figures.
        assert [Decimal(each["balance_due"]) > 0 for each in periods[:4]] == [
            False,
            True,
            False,
            True,
        ]
        assert Decimal(periods[1]["paid"]) > 0
        assert [note["state"] for note in periods[2]["credit_notes"]] == ["refunded"]
        third_report = periods[2]["report_id"]

        # The licensee's billing contact: every period, then only those still owed on.
        sign_in(page, email)
        page.goto("/portal/royalty-reports")
        page.get_by_role("columnheader", name="Still owed").wait_for()
        _list_agrees_with_the_api(page, agreement.number, year, periods, "you")
        assert_accessible(page)
        page.get_by_role("link", name="Only those still owed on").click()
        page.wait_for_url(re.compile(r"state=owing"))
        page.get_by_text("2 reporting periods still owed on").wait_for()
        owing = page.locator("main table tbody tr")
        assert owing.count() == 2
        for index in (2, 4):
            assert _period_row(page, agreement.number, year.period(index)).count() == 1

        # The third quarter's pages: its invoice and credit note, linked, with states.
        page.goto(f"/portal/royalty-reports/report/{third_report}")
        charges = page.get_by_role("region", name="What the period was charged")
        charges.wait_for()
        said = " ".join(charges.inner_text().split())
        third = periods[2]
        (note,) = third["credit_notes"]
        assert (
            f"Charged {_shown(third['net_charged'])}, paid {_shown(third['paid'])}: Settled."
            in said
        )
        assert f"Credit note {note['number']} against {note['invoice']} refunded" in said
        assert charges.get_by_role("link", name=note["number"]).count() == 1
        charges.get_by_role("link", name=third["invoices"][0]["number"]).first.click()
        page.get_by_role(
            "heading", name=re.compile(re.escape(third["invoices"][0]["number"]))
        ).first.wait_for()
        # Billing staff next, in the same tab: its cookies dropped, as signing out ends
        # the session (round 68: *Sign out* and the page it led to, which no check read;
        # signing out is walked by test_two_step_sign_in.py and the passkey walks).
        page.context.clear_cookies()

        # Billing staff: the queue filtered to the periods owed on, and a period's page.
        sign_in(page, clerk_email)
        page.goto("/console/royalty-reports")
        page.get_by_role("columnheader", name="Still owed").wait_for()
        _list_agrees_with_the_api(page, agreement.number, year, periods, "the licensee")
        page.get_by_label("State").select_option("owing")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(re.compile(r"state=owing"))
        page.locator("main table caption").wait_for()
        for index, expected in ((1, 0), (2, 1), (3, 0), (4, 1)):
            assert _period_row(page, agreement.number, year.period(index)).count() == expected
        second = periods[1]
        page.goto(f"/console/royalty-reports/{second['report_id']}")
        charges = page.get_by_role("region", name="What the period was charged")
        charges.wait_for()
        said = " ".join(charges.inner_text().split())
        assert (
            f"Charged {_shown(second['net_charged'])}, paid {_shown(second['paid'])}: "
            f"{_shown(second['balance_due'])} to pay." in said
        )
        assert_accessible(page)
