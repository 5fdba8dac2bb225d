"""Round 59 (closewalk59), in Chromium at 1280 px against the live server: the finance
manager closes last quarter. Osprey and Heron's quarter (invoices issued, wire, ACH and
cheque payments, a cheque the bank returned, a credit note, another beyond a paid
invoice part refunded by wire, an overdue invoice with its late fee, and an invoice
issued at 23:59 at the office on the quarter's last day) is read on the Finance page
from *Last quarter*, by quarter and aged on the quarter's last day; every export the
page links is downloaded (CSV), the invoices again as JSON Lines from the Exports
form, and each adds up to the page's figure to the cent. Then a payment of this
quarter is recorded, and the quarter's receivables and credit notes, downloaded again,
are the same rows. The integration walk (`tests/integration/journeys/
test_quarter_close_round59.py`) holds the card payments, disputes and amended royalty
reports. Passes at the real time and under `TRAVEL_TO`."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from licensing import db
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from tests.browser.conftest import sign_in
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.servers import LiveServer

pytestmark = pytest.mark.xdist_group("quarter_close")
OFFICE = ZoneInfo("America/Chicago")


def _last_quarter(today: date) -> tuple[date, date]:
    first_this = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    last = first_this - timedelta(days=1)
    return date(last.year, 3 * ((last.month - 1) // 3) + 1, 1), last


def _quarter(live_server: LiveServer) -> dict[str, Any]:
    """Last quarter's records (the docstring), made through the services on their days."""
    start, end = _last_quarter(office_date(utcnow()))
    with live_server.app.app_context():
        session = db.session()
        osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
        heron = factories.make_organization(session, legal_name="Heron Labs LLC").id
        manager = factories.make_staff(session, roles=("billing",))
        session.commit()
        first = issue(osprey, "1000.00", start + timedelta(days=4))
        paid_offline(
            first.id,
            "400.00",
            "W-Q-1",
            received_on=start + timedelta(days=9),
            now=at(start + timedelta(days=9)),
        )
        credited(first.id, "100.00", "Seats removed", now=at(start + timedelta(days=20)))
        second = issue(heron, "2500.00", start + timedelta(days=5))
        paid_offline(
            second.id,
            "2500.00",
            "ACH-Q-2",
            "ach",
            received_on=start + timedelta(days=15),
            now=at(start + timedelta(days=15)),
        )
        beyond = credited(
            second.id, "300.00", "Licence narrowed", now=at(start + timedelta(days=30))
        )
        refunded_offline(
            beyond.id,
            "120.00",
            "W-REF-Q",
            sent_on=start + timedelta(days=32),
            now=at(start + timedelta(days=32)),
        )
        bounced = issue(heron, "400.00", start + timedelta(days=6))
        cheque = paid_offline(
            bounced.id,
            "400.00",
            "CHK-Q-3",
            "check",
            received_on=start + timedelta(days=12),
            now=at(start + timedelta(days=12)),
        )
        reversed_offline(
            cheque.id,
            "Cheque returned unpaid",
            returned_on=start + timedelta(days=40),
            now=at(start + timedelta(days=40)),
        )
        overdue = issue(osprey, "800.00", start)
        late_run = at(start + timedelta(days=70))  # a whole month past its due day
        ran = live_server.app.test_cli_runner().invoke(
            args=["invoices", "overdue", "--now", late_run.isoformat()]
        )
        assert ran.exit_code == 0, ran.output
        late_fee = db.session().scalar(
            db.select(Invoice).where(
                Invoice.source_type == "late_fee", Invoice.source_id == overdue.id
            )
        )
        assert late_fee is not None
        # 23:59 at the office on the quarter's last day: the next day in UTC.
        last_minute = datetime.combine(end, time(23, 59), tzinfo=OFFICE).astimezone(UTC)
        with db.transaction() as session:
            boundary = billing.create_invoice(
                session,
                organization_id=heron,
                currency="USD",
                charges=[billing.Charge("Annual development fee", Decimal("500.00"))],
                source_type="manual",
                payment_terms_days=30,
                late_fee_monthly_percent=Decimal("1.5"),
                now=last_minute,
                actor=factories.billing_clerk(),
            )
        return {
            "start": start,
            "end": end,
            "manager": manager.email,
            "first": first.id,
            "boundary": boundary.number,
            "late_fee": late_fee.number,
            "overdue": overdue.number,
        }


def _text(page: Any, selector: str = "main") -> str:
    return " ".join(page.inner_text(selector).split())


def _download(page: Any, tmp_path: Path, link: Any, name: str) -> str:
    with page.expect_download() as caught:
        link.click()
    target = tmp_path / name
    caught.value.save_as(target)
    return target.read_text(encoding="utf-8")


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _sum(rows: list[dict[str, Any]], column: str = "amount") -> Decimal:
    return sum((Decimal(r[column]) for r in rows if r[column]), Decimal(0))


def _said(text: str, figure: str) -> Decimal:
    """A figure of the page's summary sentence ("..., in USD: invoiced 5,236.00 USD,
    collected 3,300.00 USD, ...")."""
    summary = text.split(", in USD: ", 1)[1]
    found = re.search(rf"{figure}(?: \([^)]*\))? (-?[\d,]+\.\d\d) USD", summary)
    assert found, (figure, summary[:300])
    return Decimal(found[1].replace(",", ""))


def test_the_finance_manager_closes_last_quarter_and_every_export_adds_up_to_the_page(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    made = _quarter(live_server)
    start, end = made["start"], made["end"]
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, made["manager"])
    page.goto("/console/finance/")
    label = f"Last quarter ({start:%Y} Q{(start.month + 2) // 3})"
    page.get_by_role("link", name=label).click()
    page.wait_for_url("**by=quarter**")
    page.get_by_role("link", name=label).and_(page.locator("[aria-current=page]")).wait_for()
    said = _text(page)
    assert f"From {day_text(start)} to {day_text(end)}, by quarter, in USD" in said
    assert f"Balances still owed on {day_text(end)}" in said
    assert page.get_by_role("textbox", name="Aging as of").input_value() == end.isoformat()
    figures = {
        name: _said(said, name)
        for name in ("invoiced", "collected", "reversed", "credited", "net refunds")
    }
    # Invoiced (1,000 + 2,500 + 400 + 800, the late fees and 500 at the last minute) is
    # checked against the exports below; the rest by hand.
    assert {name: value for name, value in figures.items() if name != "invoiced"} == {
        "collected": Decimal("3300.00"),
        "reversed": Decimal("400.00"),
        "credited": Decimal("400.00"),
        "net refunds": Decimal("120.00"),
    }
    assert_accessible(page)

    # Every export the page links, for the quarter's days (CSV).
    files = {}
    for name in (
        "invoices issued",
        "payments received",
        "payments reversed",
        "credit notes issued",
        "refunds sent",
        "refunds returned by the bank",
        "invoice lines issued",
        "credit note lines issued",
    ):
        files[name] = _rows(
            _download(
                page, tmp_path, page.get_by_role("link", name=name, exact=True), f"{name}.csv"
            )
        )
    receivables = page.get_by_role("link", name=f"receivables as of {day_text(end)} (CSV)")
    files["receivables"] = _rows(_download(page, tmp_path, receivables, "receivables.csv"))

    invoices = {r["invoice_number"]: r for r in files["invoices issued"]}
    assert invoices[made["boundary"]]["issue_date"] == end.isoformat()
    assert made["late_fee"] in invoices
    assert invoices[made["late_fee"]]["source_reference"] == made["overdue"]
    assert figures["invoiced"] == _sum(list(invoices.values()), "total")
    assert figures["invoiced"] == _sum(files["invoice lines issued"])
    counted = [r for r in files["payments received"] if r["state"] in ("succeeded", "reversed")]
    assert figures["collected"] == _sum(counted)
    assert figures["reversed"] == _sum(files["payments reversed"], "reversed_amount")
    assert figures["credited"] == _sum(files["credit notes issued"])
    assert figures["credited"] == _sum(files["credit note lines issued"])
    assert figures["net refunds"] == _sum(files["refunds sent"]) - _sum(
        files["refunds returned by the bank"]
    )
    # The quarter's last period row: outstanding at its end is the receivables' balances.
    row = page.locator("#cash-table tbody tr").last
    assert row.locator("th").inner_text() == f"{start:%Y}-Q{(start.month + 2) // 3}"
    outstanding = Decimal(row.locator("td").last.inner_text().replace(",", ""))
    assert outstanding == _sum(files["receivables"], "balance")
    owed = {r["invoice_number"]: r for r in files["receivables"]}
    assert (owed[made["boundary"]]["balance"], owed[made["boundary"]]["aging_bucket"]) == (
        "500.00",
        "current",
    )

    # The invoices again as JSON Lines, from the Exports form: the same rows.
    page.goto("/console/exports")
    page.get_by_label("Dataset").select_option("invoices")
    page.get_by_label("Format").select_option("jsonl")
    page.get_by_label("From", exact=True).fill(start.isoformat())
    page.get_by_label("To", exact=True).fill(end.isoformat())
    lines = _download(
        page, tmp_path, page.get_by_role("button", name="Export"), "invoices.jsonl"
    ).splitlines()
    header, body = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert [c["name"] for c in header["columns"]] == list(files["invoices issued"][0])[1:]
    assert {r["invoice_number"]: r["total"] for r in body} == {
        n: r["total"] for n, r in invoices.items()
    }

    # This quarter: Osprey pays the rest of its first invoice. The closed quarter's
    # receivables and credit notes, downloaded again, are the same rows.
    with live_server.app.app_context():
        paid_offline(made["first"], "500.00", "W-NEXT-Q")
    page.goto("/console/finance/")
    page.get_by_role("link", name=label).click()
    page.wait_for_url("**by=quarter**")
    assert _said(_text(page), "collected") == figures["collected"]
    receivables = page.get_by_role("link", name=f"receivables as of {day_text(end)} (CSV)")
    again = _rows(_download(page, tmp_path, receivables, "receivables-again.csv"))
    assert [{k: v for k, v in r.items() if k != "state"} for r in again] == [
        {k: v for k, v in r.items() if k != "state"} for r in files["receivables"]
    ]
    notes = page.get_by_role("link", name="credit notes issued", exact=True)
    assert (
        _rows(_download(page, tmp_path, notes, "notes-again.csv")) == files["credit notes issued"]
    )
