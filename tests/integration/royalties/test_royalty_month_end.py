"""The royalty cycle at month-end (round 31): two licensees' systems file their
quarters through the API (one late, one amended after its invoice was issued,
one sent back by staff and amended down, a volume tier and a graduated tier
crossed to date), then the royalty exports tied to the royalty invoices and
credit notes, to the Finance page's royalties and to the contract's year-to-date
figures, to the cent, per currency; and a finance system's nightly pull.

    V  CPT (software, end users: graduated; payer, members: volume, 5,000.00 minimum)
       Q1 on 2 April: A 60 end users, P 90,000 members (the minimum);
       Q2 on 3 July: A 150 (past 100: 15.50), Q 150,000 (240,000 to date: 0.030 each);
       Q1 amended on 10 August, after Q2's invoice: B 30 end users added.
    W  data file (10% of revenue, 5,000.00 minimum)
       Q1 late, on 20 May (due 30 April): 30,000.00 revenue (the minimum);
       Q2 on 6 July: 40,000.00; sent back by staff, amended down to 10,000.00 on 20 July.
    X  data file, in EUR (round 33: a second currency)
       Q1 on 15 April: 60,000.00 revenue (6,000.00); amended up to 70,000.00 on 12 August.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice
from licensing.finance import queries as finance
from licensing.finance import services as report_services
from licensing.finance.queries import Filters
from licensing.royalties import services
from tests.integration.exports.conftest import export_json  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import DATA_FILE, PAYER, SOFTWARE, row
from tests.support import factories

ZERO = Decimal(0)


def _on(month: int, day: int) -> datetime:
    return datetime(2027, month, day, 15, 0, tzinfo=UTC)


Night = Callable[[datetime], None]


def _file(client: Any, vendor: Any, agreement: Any, start: str, when: datetime, **body: Any) -> Any:
    with time_machine.travel(when, tick=False):
        response = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/{start}",
            json={"attest": True, **body},
            headers=factories.bearer(vendor),
        )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _unpulled(when: datetime) -> None:
    """No finance system pulls in between."""


def _cycle(
    client: Any,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    night: Night = _unpulled,
) -> dict[str, Any]:
    """The records of the docstring; `night(when)` is called before each step, for a
    finance system that pulls every night until then."""
    session = db.session()
    other = factories.make_vendor(session)
    euro = factories.make_vendor(session)
    made: dict[str, Any] = {"vendor": vendor, "other": other, "euro": euro}
    made["v"] = active_agreement(vendor, SOFTWARE, PAYER)
    made["w"] = active_agreement(other, DATA_FILE)
    # The contract's example card is in USD: X's agreement is licensed in EUR as an
    # office with a euro card would have it (its royalties are invoiced in its currency).
    made["x"] = active_agreement(euro, DATA_FILE)
    session.execute(update(Agreement).where(Agreement.id == made["x"].id).values(currency="EUR"))
    session.commit()
    members = {"unit": "members"}
    # (report, licensee, agreement, period, filed on, rows, the report it amends, why)
    steps: list[tuple[str, str, str, str, datetime, list[Any], str | None, str | None]] = [
        ("v1", "vendor", "v", "2027-01-01", _on(4, 2),
         [row(1, "A", quantity=60), row(2, "P", quantity=90000, **members)], None, None),
        ("x1", "euro", "x", "2027-01-01", _on(4, 15),
         [row(1, "D", unit="", revenue="60000.00")], None, None),
        ("w1", "other", "w", "2027-01-01", _on(5, 20),
         [row(1, "D", unit="", revenue="30000.00")], None, None),
        ("v2", "vendor", "v", "2027-04-01", _on(7, 3),
         [row(1, "A", quantity=150), row(2, "Q", quantity=150000, **members)], None, None),
        ("w2", "other", "w", "2027-04-01", _on(7, 6),
         [row(1, "D", unit="", revenue="40000.00")], None, None),
        ("w2b", "other", "w", "2027-04-01", _on(7, 20),
         [row(1, "D", unit="", revenue="10000.00")], "w2", "Revenue net of returns"),
        ("v1b", "vendor", "v", "2027-01-01", _on(8, 10),
         [row(1, "A", quantity=60), row(1, "B", quantity=30),
          row(2, "P", quantity=90000, **members)], "v1", "Clinic B was left out"),
        ("x1b", "euro", "x", "2027-01-01", _on(8, 12),
         [row(1, "D", unit="", revenue="70000.00")], "x1", "A late distributor's statement"),
    ]  # fmt: skip
    staff = Actor.of(accounts.principal_for(licensing_staff))
    for key, who, agreement, start, when, rows, amends, reason in steps:
        if key == "w2b":  # staff send W's second quarter back first
            night(_on(7, 10))
            with time_machine.travel(_on(7, 10), tick=False):
                services.review(made["w2"]["id"], "request_correction", staff, note="Net?")
        body: dict[str, Any] = {"rows": rows}
        if amends:
            body |= {"amends": made[amends]["id"], "reason": reason}
        night(when)
        made[key] = _file(client, made[who], made[agreement], start, when, **body)
    return made


def _by_currency(rows: list[dict[str, Any]], column: str = "due") -> dict[str, Decimal]:
    found: dict[str, Decimal] = defaultdict(Decimal)
    for found_row in rows:
        found[found_row["currency"]] += Decimal(found_row[column])
    return dict(found)


@pytest.fixture
def cycle(
    client: Any, vendor: Any, licensing_staff: Any, active_agreement: Any
) -> Callable[..., dict[str, Any]]:
    """`cycle(night=None)`: the records of the docstring, as `_cycle` makes them."""

    def make(night: Night = _unpulled) -> dict[str, Any]:
        return _cycle(client, vendor, licensing_staff, active_agreement, night)

    return make


# The contract's year to date, worked by hand: (line, usage to date, A_k, C_k) of
# each agreement's last reported period after every filing.
#   V line 1: 150 + 30 end users = 100 x 18.50 + 80 x 15.50 = 3,090.00
#   V line 2: 90,000 + 150,000 members, volume: 240,000 x 0.030 = 7,200.00
#   W line 1: 30,000.00 + 10,000.00 revenue x 10% = 4,000.00, minimum 5,000.00
YEAR_TO_DATE = {
    "v": [(1, {"end_users": 180}, None, "3090.00"), (2, {"members": 240000}, None, "7200.00")],
    "w": [(1, {}, "40000.00", "5000.00")],
}


def test_the_royalty_exports_tie_to_the_invoices_the_finance_page_and_the_contract(
    client: Any,
    cycle: Callable[..., dict[str, Any]],
    export_json: Any,  # noqa: F811
) -> None:
    made = cycle()
    session = db.session()
    lines = export_json("royalty_report_lines")
    assert len(lines) == 11  # V: 2 lines x 3 reports; W: 1 line x 3 reports; X: 1 x 2
    # Each report's invoice is the sum of its lines' dues, one invoice line per
    # line whose due is not 0; each negative total is its credit notes.
    by_report: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_report[line["report_id"]].append(line)
    invoiced: dict[str, Decimal] = defaultdict(Decimal)
    credited: dict[str, Decimal] = defaultdict(Decimal)
    for report_lines in by_report.values():
        due = sum((Decimal(line["due"]) for line in report_lines), ZERO)
        number = report_lines[0]["invoice_number"]
        notes = report_lines[0]["credit_note_numbers"]
        if number:
            invoice = session.scalars(select(Invoice).where(Invoice.number == number)).one()
            assert invoice.source_type == "royalty_report"
            assert invoice.total == due
            assert [line.amount for line in invoice.lines] == [
                Decimal(line["due"]) for line in report_lines if Decimal(line["due"])
            ]
            assert invoice.currency == report_lines[0]["currency"]
            invoiced[invoice.currency] += invoice.total
        else:
            assert notes
            assert due < 0
            amounts = session.scalars(
                select(CreditNote.amount).where(CreditNote.number.in_(notes.split(";")))
            ).all()
            assert sum(amounts, ZERO) == -due
            credited[report_lines[0]["currency"]] += -due
    assert dict(invoiced) == {"USD": Decimal("17290.00"), "EUR": Decimal("7000.00")}
    assert dict(credited) == {"USD": Decimal("2000.00")}
    # Per currency: the export's dues are the royalty invoices less their credit
    # notes, as the invoices and credit_notes exports list them.
    numbers = {line["invoice_number"] for line in lines if line["invoice_number"]}
    invoices = [r for r in export_json("invoices") if r["invoice_number"] in numbers]
    notes = [r for r in export_json("credit_notes") if r["royalty_report"]]
    ledger = _by_currency(invoices, "total")
    for note in notes:
        ledger[note["currency"]] -= Decimal(note["amount"])
    assert _by_currency(lines) == ledger == {"USD": Decimal("15290.00"), "EUR": Decimal("7000.00")}
    # An amendment's invoice shares its original's source_reference (the agreement
    # and period) and names the invoice and report it amends (round 33).
    exported = {r["invoice_number"]: r for r in invoices}
    for original, amendment in (("v1", "v1b"), ("x1", "x1b")):
        first, amended = exported[made[original]["invoice"]], exported[made[amendment]["invoice"]]
        assert first["source_reference"] == amended["source_reference"]
        assert (first["royalty_report_id"], first["amends_report_id"]) == (
            made[original]["id"],
            None,
        )
        assert first["amends_invoice_number"] is None
        assert (amended["royalty_report_id"], amended["amends_report_id"]) == (
            made[amendment]["id"],
            made[original]["id"],
        )
        assert amended["amends_invoice_number"] == first["invoice_number"]
    # W's amendment lowered the royalty: credit notes, no invoice of its own.
    assert made["w2b"]["invoice"] is None
    # The Finance page's royalties (invoice lines of royalty invoices issued in the
    # range, gross of credit notes) are the export's dues of reports that invoiced;
    # its Credited holds the royalty credit note.
    # The page shows one currency at a time: each holds its own, to the cent.
    for currency in ("USD", "EUR"):
        year = Filters(date(2027, 1, 1), date(2027, 12, 1), currency=currency)
        page = finance.revenue(session, year)
        for axis in page.by_axis.values():
            assert sum((r.royalty for r in axis), ZERO) == invoiced[currency], currency
        months = {f"{m.period.start:%Y-%m}": m for m in finance.cash_flow(session, year)}
        assert months["2027-07"].credited == credited[currency]  # W's, filed on 20 July
        # The page's Invoiced holds the up-front invoices too; the royalty ones by month.
        royalties = months["2027-08"].invoiced - _up_front(session, 8, currency)
        assert royalties == {"USD": Decimal("465.00"), "EUR": Decimal("1000.00")}[currency]
        april = {"USD": Decimal("6110.00"), "EUR": Decimal("6000.00")}  # V's Q1; X's Q1
        assert months["2027-04"].invoiced - _up_front(session, 4, currency) == april[currency]
    reported = [line for line in lines if line["invoice_number"]]
    assert _by_currency(reported) == invoiced
    # The contract's year to date equals the API's, and the current reports' lines.
    for key, owner in (("v", made["vendor"]), ("w", made["other"])):
        agreement = made[key]
        with time_machine.travel(_on(8, 11), tick=False):
            periods = client.get(
                f"/api/v1/agreements/{agreement.id}/royalty-reports",
                headers=factories.bearer(owner),
            ).get_json()
        current = [p for p in periods if p["report_id"]]
        assert [p["state"] for p in current] == ["submitted", "submitted"]
        # Each period's current report, its total due and invoice, as the export has them.
        for period in current:
            filed = by_report[period["report_id"]]
            assert {line["report_state"] for line in filed} == {"submitted"}
            total_due = sum((Decimal(line["due"]) for line in filed), ZERO)
            assert Decimal(period["total_due"]) == total_due
            assert period["invoice"] == filed[0]["invoice_number"]
        last = client.get(
            f"/api/v1/royalty-reports/{max(p['report_id'] for p in current)}",
            headers=factories.bearer(owner),
        ).get_json()
        assert [
            (x["line"], x["quantities_to_date"], x["revenue_to_date"], x["amount_to_date"])
            for x in last["lines"]
        ] == YEAR_TO_DATE[key]
        exported = [
            line
            for line in lines
            if line["report_id"] == last["id"] and line["report_state"] == "submitted"
        ]
        assert [x["charged_to_date"] for x in exported] == [y[3] for y in YEAR_TO_DATE[key]]


def _up_front(session: Any, month: int, currency: str) -> Decimal:
    """Invoices in `currency` issued in 2027's `month` that no royalty report issued."""
    totals = session.scalars(
        select(Invoice.total).where(
            Invoice.source_type != "royalty_report",
            Invoice.currency == currency,
            Invoice.issue_date.between(date(2027, month, 1), date(2027, month, 28)),
        )
    )
    return sum(totals, ZERO)


class _Ledger:
    """A finance system that pulls yesterday's royalty lines each night from
    1 April, keeping each (report, line) as last pulled. (By `period`, the default,
    a nightly pull gets nothing: a report is filed after its quarter's days.)"""

    def __init__(self, export: Any, by: str) -> None:
        self.export, self.by = export, by
        self.next = date(2027, 4, 1)
        self.lines: dict[tuple[int, int], dict[str, Any]] = {}

    def __call__(self, when: datetime) -> None:
        """Every night before `when`'s day."""
        while self.next < when.date():
            day = {"from": self.next, "to": self.next}
            for line in self.export("royalty_report_lines", by=self.by, **day):
                self.lines[(line["report_id"], line["line"])] = line
            self.next += timedelta(days=1)


def test_a_nightly_pull_by_day_recorded_sees_the_reports_an_amendment_superseded(
    client: Any,
    cycle: Callable[..., dict[str, Any]],
    export_json: Any,  # noqa: F811
) -> None:
    pulls = {by: _Ledger(export_json, by) for by in ("recorded", "issued")}

    held: dict[str, set[str]] = {}

    def night(when: datetime) -> None:
        for by, ledger in pulls.items():
            ledger(when)
            if when == _on(7, 20):  # the morning W amends: what each ledger knows
                held[by] = {line["review_state"] for line in ledger.lines.values()}

    made = cycle(night)
    night(_on(9, 1))
    everything = {(r["report_id"], r["line"]): r for r in export_json("royalty_report_lines")}
    current = {key for key, line in everything.items() if line["report_state"] == "submitted"}
    recorded = pulls["recorded"].lines
    # Every line came, as it stands: the two superseded reports came again the
    # night their amendments were filed, so the ledger's current reports are the
    # service's, one a period, and its dues are invoiced less credited.
    assert recorded == everything
    assert {key for key, line in recorded.items() if line["report_state"] == "submitted"} == current
    assert _by_currency(list(recorded.values())) == {
        "USD": Decimal("15290.00"),
        "EUR": Decimal("7000.00"),
    }
    # By the day filed, the late report and the amendments come (filed on their
    # night), but the reports they superseded never come again: the ledger holds
    # two current reports for V's first quarter, W's second and X's first.
    issued = pulls["issued"].lines
    assert issued.keys() == everything.keys()
    stale = {key[0] for key, line in issued.items() if line != everything[key]}
    assert len(stale) == 3  # and X's first quarter, in EUR
    assert all(issued[key]["report_state"] == "submitted" for key in issued if key[0] in stale)
    # W's second quarter, sent back by staff on 10 July, came again that night, held;
    # by the day filed the ledger never learned it (its royalty changed on the 20th).
    assert held == {"recorded": {"clear", "correction_requested"}, "issued": {"clear"}}
    assert recorded[(made["w2"]["id"], 1)]["review_state"] == "correction_requested"


def _recognized(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return sorted(
        (r["document_number"], str(r["line_position"]), r["period"], r["amount"]) for r in rows
    )


def test_a_nightly_pull_of_revenue_recognition_by_day_recorded_gets_a_late_royaltys_months(
    client: Any,
    cycle: Callable[..., dict[str, Any]],
    export_json: Any,  # noqa: F811
) -> None:
    made = cycle()
    amended = made["v1b"]["invoice"]  # 465.00 for the first quarter, issued 10 August
    night = {"from": "2027-08-10", "to": "2027-08-10"}
    # By period, the night of 10 August gets August's months only: the amendment's
    # royalty is earned in January to March, months a nightly ledger has closed.
    by_period = export_json("revenue_recognition", by="period", **night)
    assert amended not in {r["document_number"] for r in by_period}
    # By the day recorded: the documents issued that day, with every month they
    # are earned in.
    by_recorded = export_json("revenue_recognition", by="recorded", **night)
    assert {r["document_number"] for r in by_recorded} == {amended}
    assert [r["period"] for r in by_recorded] == ["2027-01", "2027-02", "2027-03"]
    assert sum((Decimal(r["amount"]) for r in by_recorded), ZERO) == Decimal("465.00")
    # Night by night, the pulls add up to the whole schedule (the credit note's
    # reversal on the night of 20 July among them).
    term = {"from": "2026-01-01", "to": "2028-12-31"}
    everything = export_json("revenue_recognition", by="period", **term)
    assert _recognized(export_json("revenue_recognition", by="recorded", **term)) == _recognized(
        everything
    )
    credit = export_json(
        "revenue_recognition", by="recorded", **{"from": "2027-07-20", "to": "2027-07-20"}
    )
    assert {r["document_type"] for r in credit} == {"credit_note"}
    assert sum((Decimal(r["amount"]) for r in credit), ZERO) == Decimal("-2000.00")


def test_the_finance_pages_net_royalties_tie_to_the_royalty_lines_and_the_credit_note_lines(
    client: Any,
    billing_staff: Any,
    signed_in: Any,
    cycle: Callable[..., dict[str, Any]],
    export_json: Any,  # noqa: F811
) -> None:
    """Round 39: beside the gross royalties, the page gives the royalty credit notes
    and the net, per classification. W's amendment credits 2,000.00 (one line); billing
    staff also credit 100.01 on V's second quarter (two lines: split as the
    credit_note_lines export splits it, to the cent)."""
    made = cycle()
    session = db.session()
    v2 = session.scalars(select(Invoice).where(Invoice.number == made["v2"]["invoice"])).one()
    assert len(v2.lines) == 2
    with time_machine.travel(_on(8, 20), tick=False):
        billing.issue_credit_note(
            v2.id,
            amount=Decimal("100.01"),
            reason="Goodwill on the second quarter",
            actor=factories.billing_clerk(),
        )
    lines = export_json("royalty_report_lines")
    royalty_invoices = {
        r["invoice_number"] for r in export_json("invoices") if r["source_type"] == "royalty_report"
    }
    parts = [r for r in export_json("credit_note_lines") if r["invoice_number"] in royalty_invoices]
    credited_by_use: dict[str, Decimal] = defaultdict(Decimal)
    for part in parts:
        credited_by_use[part["use"]] += Decimal(part["amount"])
    year = Filters(date(2027, 1, 1), date(2027, 12, 1), currency="USD")
    page = finance.revenue(session, year)
    assert (page.royalty, page.royalty_credited, page.royalty_net) == (
        Decimal("17290.00"),
        Decimal("2100.01"),
        Decimal("15189.99"),
    )
    # The net is the royalty lines' dues (invoiced less the amendment's credit) less
    # the staff's credit; on every axis, and per use as the credit note lines say.
    assert page.royalty_net == _by_currency(lines)["USD"] - Decimal("100.01")
    for axis in page.by_axis.values():
        assert sum((r.royalty_credited for r in axis), ZERO) == Decimal("2100.01")
        assert sum((r.royalty_net for r in axis), ZERO) == page.royalty_net
        for r in axis:
            assert r.royalty_net == r.royalty - r.royalty_credited
    by_use = {r.value: r.royalty_credited for r in page.by_axis["use"] if r.royalty_credited}
    assert by_use == dict(credited_by_use)
    # The revenue recognition schedule's royalty rows (credit notes negative) add
    # up to the net, in all and per use.
    earned: dict[str, Decimal] = defaultdict(Decimal)
    for earning in export_json("revenue_recognition", currency="USD"):
        if earning["kind"] == "royalty":
            earned[earning["use"]] += Decimal(earning["amount"])
    assert dict(earned) == {r.value: r.royalty_net for r in page.by_axis["use"] if r.royalty}
    # The monthly report of July says W's 2,000.00 note apart from July's royalties.
    july = report_services.monthly_report(
        session, report_services.ReportOf(date(2027, 7, 1), "CPT Licensing Office")
    )
    assert (july.royalty, july.royalty_credited) == (Decimal("5715.00"), Decimal("2000.00"))
    # The page names the gross and the net apart.
    staff = signed_in(client, billing_staff)
    html = staff.get(
        "/console/finance/?from=2027-01&to=2027-12&currency=USD&as_of=2027-12-31"
    ).get_data(as_text=True)
    for words in (
        "Royalties invoiced (gross)",
        "Royalty credit notes",
        "Royalties net of credit notes",
        "17,290.00",
        "2,100.01",
        "15,189.99",
    ):
        assert words in html, words
