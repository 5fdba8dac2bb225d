"""Round 61 (lines61), in Chromium against the live server: a finance team member
reconciling *License revenue by classification* follows a cell (SaaS's royalties net
of credit notes, this month) to its invoice lines, reads the list's figure, and
downloads the two exports the list links (the invoice lines, and since round 61 the
royalty credit notes' lines with the same filter): the first's amounts less the
second's are the cell's figure to the cent, and the list's rows are the files' rows.
Round 60 added the list and its link with no walk in a browser, and its invoice lines
export alone summed to the gross, not the net. The list is checked with axe."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from licensing import db
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.finance import classification
from licensing.finance.classification import Classification, RevenueLine
from tests.browser.conftest import sign_in
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.billing import credited
from tests.support.servers import LiveServer

DEV = Classification("development", "software", "provider", "commercial")
SAAS = Classification("distribution", "saas", "consumer", "commercial")
# What each source's line N was priced as, by (source type, source id, position): the
# classifiers plugged in below read it, as the integration tests' do.
PRICED = {
    ("agreement", 96101, 1): DEV,
    ("agreement", 96101, 2): SAAS,
    ("royalty_report", 96111, 1): SAAS,
    ("royalty_report", 96111, 2): DEV,
}


def _plugged(source_type: str) -> Callable[[Any, Any], dict[int, Classification]]:
    def classify(_session: Any, lines: list[RevenueLine]) -> dict[int, Classification]:
        return {
            line.invoice_line_id: PRICED[key]
            for line in lines
            if (key := (source_type, line.source_id or 0, line.position)) in PRICED
        }

    return classify


def _month_of_revenue(live_server: LiveServer) -> str:
    """This month: an up-front invoice (1,000.00 of development, 250.50 of SaaS), a
    royalty invoice (812.40 of SaaS, 100.01 of development, 33.33 unclassified) and a
    credit note of 300.00 on it, which the page splits 257.70 / 31.73 / 10.57; the
    finance clerk's email."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(session, legal_name="Osprey Analytics Inc.")
        clerk = factories.make_staff(session, roles=("billing",))
        session.commit()
        issued = utcnow() - timedelta(minutes=5)
        invoices = []
        for source, amounts in (
            (("agreement", 96101), ("1000.00", "250.50")),
            (("royalty_report", 96111), ("812.40", "100.01", "33.33")),
        ):
            with db.transaction() as writing:
                invoices.append(
                    billing.create_invoice(
                        writing,
                        organization_id=organization.id,
                        currency="USD",
                        charges=[
                            billing.Charge(f"{source[0]} line {n}", Decimal(amount))
                            for n, amount in enumerate(amounts, start=1)
                        ],
                        source_type=source[0],
                        source_id=source[1],
                        payment_terms_days=30,
                        late_fee_monthly_percent=Decimal("1.5"),
                        now=issued,
                        actor=Actor.SYSTEM,
                    )
                )
        credited(invoices[1].id, "300.00", "Royalty report amended down")
        return str(clerk.email)


def _download(page: Any, tmp_path: Path, link: Any, name: str) -> list[dict[str, str]]:
    with page.expect_download() as caught:
        link.click()
    target = tmp_path / name
    caught.value.save_as(target)
    return list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))


def _amount(text: str) -> Decimal:
    return Decimal(text.split()[0].replace(",", ""))


def test_a_revenue_cell_its_invoice_lines_and_their_exports_agree_to_the_cent(
    page: Any, live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(classification._CLASSIFIERS, "agreement", _plugged("agreement"))
    monkeypatch.setitem(classification._CLASSIFIERS, "royalty_report", _plugged("royalty_report"))
    clerk = _month_of_revenue(live_server)
    month = f"{office_date(utcnow()):%Y-%m}"
    sign_in(page, clerk)
    page.goto(f"/console/finance/?from={month}&to={month}&currency=USD")
    page.locator("#revenue-heading").wait_for()

    # The cell: SaaS's royalties net of their credit notes.
    cell = page.get_by_role(
        "link",
        name="554.70: royalties net of credit notes of SaaS (product type), its invoice lines",
    )
    figure = _amount(cell.inner_text())
    assert figure == Decimal("554.70")
    cell.click()
    page.wait_for_url("**/console/finance/lines?*")
    page.locator("#line-totals").wait_for()
    assert page.get_by_role("heading", level=1).inner_text() == "Invoice lines"
    assert _amount(page.locator("#line-sum-USD").inner_text()) == figure
    rows = page.locator("#invoice-lines-list tbody tr")
    listed = sorted(_amount(rows.nth(n).locator("td").last.inner_text()) for n in range(2))
    assert rows.count() == 2
    assert listed == [Decimal("-257.70"), Decimal("812.40")]
    assert_accessible(page)

    # The list's two files: the lines invoiced, and the credit notes' parts (positive).
    invoiced = _download(page, tmp_path, page.locator("#lines-export"), "lines.csv")
    parts = _download(page, tmp_path, page.locator("#credit-lines-export"), "credits.csv")
    assert [(row["line_position"], row["amount"]) for row in invoiced] == [("1", "812.40")]
    assert [(row["line_position"], row["amount"]) for row in parts] == [("1", "257.70")]
    assert invoiced[0]["invoice_number"] == parts[0]["invoice_number"]
    net = sum((Decimal(row["amount"]) for row in invoiced), Decimal(0)) - sum(
        (Decimal(row["amount"]) for row in parts), Decimal(0)
    )
    assert net == figure

    # Back on the page, the gross and the credit notes' cells are the two files' sums.
    page.go_back()
    page.locator("#revenue-heading").wait_for()
    saas = "of SaaS (product type), its invoice lines"
    gross = page.get_by_role("link", name=f"812.40: royalties invoiced (gross) {saas}")
    notes = page.get_by_role("link", name=f"257.70: royalty credit notes {saas}")
    assert _amount(gross.inner_text()) == Decimal(invoiced[0]["amount"])
    assert _amount(notes.inner_text()) == Decimal(parts[0]["amount"])
