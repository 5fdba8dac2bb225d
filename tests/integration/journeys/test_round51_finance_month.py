"""Round 51: the finance team closes April 2027 to the cent (docs/journeys.md).

A busy month made through the API, the webhooks and the commands the office runs,
as it happens, while a finance system pulls every night by the day recorded:

    V  (cards)   Q1 royalty filed 2 April (3,000 end users), paid 1,000.00 by wire and
                 the rest by card; amended down to 2,900 on 10 April, the credit
                 note refunded to the card; two card invoices disputed, one lost,
                 one won; a card payment received 299.99 of 300.00, accepted short,
                 then credited 100.00 on 28 April (round 53): 99.99 owed back at
                 April's end, sent by wire on 2 May
    W            Q1 royalty filed 3 April (60,000.00 revenue), amended up to
                 70,000.00 on 15 April; a 50.00 credit note on the amendment's invoice,
                 the rest paid by card at 23:30 on 30 April
    X            Q1 royalty filed at 23:30 on 30 April, the day it is due
    L  (manual)  600.00 issued in February, overdue: 200.00 by check on 8 April, which
                 the bank returns on 26 April; a late fee on 23 April; 80.00
                 issued and voided; 1,234.56 issued at 23:30 on 30 April (office
                 time: 04:30 UTC on 1 May) and 77.00 at 00:30 on 1 May
    E  (EUR)     999.00, 400.00 received by wire on 20 April and 100.00 at 23:30
                 on 30 April, which the bank returns on 2 May (round 53); (JPY) 123457
                 on 22 April, 100000 by wire and a 457 credit note on 27 April
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.billing import services as billing
from licensing.finance import queries as finance
from licensing.finance import services as report_services
from licensing.finance.queries import Filters
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import sums_are_the_ledger_every_day
from tests.integration.journeys.busy_april import (  # noqa: F401 - the fixtures
    APRIL,
    KEYS,
    MAY_FIRST,
    ZERO,
    Finance,
    _headers,
    _on,
    april,
    april_billing_staff,
    april_vendor,
    config_changes,
    prepared_april,
    pulled_nightly,
)
from tests.support import factories
from tests.support.factories import bearer
from tests.support.settings import invoice_terms

# The module runs on one worker: the busy month made once a module and backend
# (`module_connection`) was made again on each worker its tests were handed to
# (round 64: the CI spread them over both).
pytestmark = pytest.mark.xdist_group("round51_finance_month")


def _days(first: date, last: date) -> dict[str, str]:
    return {"from": first.isoformat(), "to": last.isoformat()}


def test_the_nightly_pull_keeps_every_record_as_it_stands_after_a_busy_month(
    april: tuple[Finance, dict[str, Any]],  # noqa: F811
) -> None:
    books, _made = april
    # A void invoice counts nowhere in the schedule: the ledger reverses the months
    # booked for an invoice the invoices pull brings back void (docs/exports.md).
    void = {r["invoice_number"] for r in books.mirror["invoices"].values() if r["state"] == "void"}
    voided = [key for key in books.mirror["revenue_recognition"] if key[1] in void]
    assert voided
    for key in voided:
        del books.mirror["revenue_recognition"][key]
    # The backfill the docs promise equals every night kept by the last row seen:
    # a partial payment, a credit note and a refund change their invoice's row.
    for dataset in KEYS:
        backfill = books.pull(dataset, to=date(2027, 5, 2).isoformat())
        kept = {tuple(r[name] for name in KEYS[dataset]): r for r in backfill}
        assert len(kept) == len(backfill), dataset
        stale = {
            key: [
                (column, value, kept[key][column])
                for column, value in books.mirror[dataset].get(key, {}).items()
                if kept[key][column] != value
            ]
            for key in kept
        }
        assert {key: diff for key, diff in stale.items() if diff} == {}, dataset
        assert books.mirror[dataset].keys() == kept.keys(), dataset


def test_the_last_evening_of_the_month_is_the_months_at_the_office_and_in_every_export(
    april: tuple[Finance, dict[str, Any]],  # noqa: F811
) -> None:
    books, made = april
    evening, morning = made["last_evening"]["number"], made["first_morning"]["number"]
    in_april = {r["invoice_number"]: r for r in books.export("invoices", **_days(*APRIL))}
    in_may = {
        r["invoice_number"]: r for r in books.export("invoices", **_days(MAY_FIRST, MAY_FIRST))
    }
    assert evening in in_april
    assert evening not in in_may
    assert morning in in_may
    assert morning not in in_april
    assert in_april[evening]["issue_date"] == "2027-04-30"
    lines = books.export("invoice_lines", **_days(*APRIL))
    assert [r["amount"] for r in lines if r["invoice_number"] == evening] == ["1234.56"]
    # The wire recorded at 23:30: paid on the 30th, its time stamp the UTC instant.
    (late_wire,) = [
        r for r in books.export("payments", **_days(*APRIL)) if r["reference"] == "WIRE-EU-LATE"
    ]
    assert (late_wire["paid_date"], late_wire["created_at"]) == (
        "2027-04-30",
        "2027-05-01T04:30:00+00:00",
    )
    assert not [
        r
        for r in books.export("payments", **_days(MAY_FIRST, MAY_FIRST))
        if r["reference"] == "WIRE-EU-LATE"
    ]
    (credit,) = [
        r
        for r in books.export("credit_notes", **_days(*APRIL))
        if r["credit_note_number"] == made["evening_credit"]
    ]
    assert credit["issue_date"] == "2027-04-30"
    # The report filed at 23:30: April's, on time, its invoice April's, its royalty
    # earned in the quarter it reports.
    filed = books.export("royalty_report_lines", by="issued", **_days(*APRIL))
    (x_line,) = [r for r in filed if r["report_id"] == made["x1"]["id"]]
    assert x_line["submitted_at"] == "2027-05-01T04:30:00+00:00"
    assert x_line["invoice_number"] == made["x1"]["invoice"]
    assert in_april[made["x1"]["invoice"]]["issue_date"] == "2027-04-30"
    assert made["x1"]["id"] not in {
        r["report_id"]
        for r in books.export("royalty_report_lines", by="issued", **_days(MAY_FIRST, MAY_FIRST))
    }
    earned = books.pull("revenue_recognition", **_days(APRIL[1], APRIL[1]))
    assert {r["period"] for r in earned if r["invoice_number"] == made["x1"]["invoice"]} == {
        "2027-01",
        "2027-02",
        "2027-03",
    }
    assert [r["period"] for r in earned if r["invoice_number"] == evening] == ["2027-04"]
    # The card payment Stripe settled at 23:30: April's, and its invoice paid in April.
    (card,) = [
        r
        for r in books.export("payments", **_days(*APRIL))
        if r["payment_id"] == made["evening_card"].id
    ]
    assert (card["paid_date"], card["settled_at"]) == ("2027-04-30", "2027-05-01T04:30:00+00:00")
    paid = books.export("invoices", by="paid", **_days(*APRIL))
    assert made["w1b"]["invoice"] in {r["invoice_number"] for r in paid}
    assert made["w1b"]["invoice"] not in {
        r["invoice_number"]
        for r in books.export("invoices", by="paid", **_days(MAY_FIRST, MAY_FIRST))
    }
    # The nightly pull of the 30th had them; the 1st's had the morning's invoice.
    night = books.pull("invoices", **_days(APRIL[1], APRIL[1]))
    assert evening in {r["invoice_number"] for r in night}
    assert morning not in {r["invoice_number"] for r in night}
    # The Finance page counts it in April, not May.
    session = db.session()
    (month,) = finance.cash_flow(session, Filters(APRIL[0], APRIL[0], currency="USD"))
    (may,) = finance.cash_flow(session, Filters(MAY_FIRST, MAY_FIRST, currency="USD"))
    assert month.invoiced == sum(
        (
            Decimal(r["total"])
            for r in in_april.values()
            if r["state"] != "void" and r["currency"] == "USD"
        ),
        ZERO,
    )
    assert may.invoiced == Decimal("77.00")


def _total(rows: Iterable[dict[str, Any]], column: str = "amount") -> Decimal:
    return sum((Decimal(r[column]) for r in rows), ZERO)


def test_every_export_of_the_month_ties_to_its_documents_own_totals_per_currency(
    client: FlaskClient,
    billing_staff: User,
    april: tuple[Finance, dict[str, Any]],  # noqa: F811
) -> None:
    books, made = april
    everything = {r["invoice_number"]: r for r in books.export("invoices")}
    lines = books.export("invoice_lines")
    payments = books.export("payments")
    credit_notes = books.export("credit_notes")
    credit_lines = books.export("credit_note_lines")
    refunds = books.export("refunds")
    royalties = books.export("royalty_report_lines")
    assert {r["currency"] for r in everything.values()} == {"USD", "EUR", "JPY"}
    (yen,) = [r for r in payments if r["reference"] == "WIRE-JP-0427"]
    assert yen["amount"] == "100000"  # no minor unit in yen
    assert everything[made["yen"]["number"]]["balance_due"] == "23000"
    for number, found in everything.items():
        # The invoice as the API gives it, found by its number.
        (document,) = client.get(
            "/api/v1/invoices", query_string={"q": number}, headers=_headers(billing_staff)
        ).get_json()
        assert document["number"] == number
        for column in ("total", "amount_paid", "amount_credited", "balance_due", "state"):
            assert found[column] == document[column], (number, column)
        assert _total(r for r in lines if r["invoice_number"] == number) == Decimal(found["total"])
        mine = [r for r in credit_notes if r["invoice_number"] == number]
        assert _total(mine) == Decimal(found["amount_credited"]), number
        counted = [
            r
            for r in payments
            if r["invoice_number"] == number and r["state"] in ("succeeded", "reversed")
        ]
        kept = _total(counted) - sum((Decimal(r["reversed_amount"] or 0) for r in counted), ZERO)
        if found["state"] != "void":
            assert kept == Decimal(found["amount_paid"]), number
    for note in credit_notes:
        parts = [r for r in credit_lines if r["credit_note_number"] == note["credit_note_number"]]
        assert _total(parts) == Decimal(note["amount"]), note["credit_note_number"]
        sent = [
            r
            for r in refunds
            if r["credit_note_number"] == note["credit_note_number"] and r["state"] == "succeeded"
        ]
        assert _total(sent) <= Decimal(note["refund_due"])
    # Each royalty report's dues are its invoice, or its credit notes, to the cent.
    for report in {r["report_id"] for r in royalties}:
        rows = [r for r in royalties if r["report_id"] == report]
        due = _total(rows, "due")
        if rows[0]["invoice_number"]:
            assert due == Decimal(everything[rows[0]["invoice_number"]]["total"]), report
        else:
            numbers = rows[0]["credit_note_numbers"].split(";")
            assert -due == _total(r for r in credit_notes if r["credit_note_number"] in numbers)
    # Per currency: invoiced = lines; credited = note lines.
    for currency in ("USD", "EUR", "JPY"):
        assert _total(
            (r for r in everything.values() if r["currency"] == currency), "total"
        ) == _total(r for r in lines if r["currency"] == currency)
        assert _total(r for r in credit_notes if r["currency"] == currency) == _total(
            r for r in credit_lines if r["currency"] == currency
        )
        # The schedule, summed over its months, is the invoices not void less their
        # credit notes.
        schedule = books.export("revenue_recognition", currency=currency)
        void = {n for n, r in everything.items() if r["state"] == "void"}
        assert _total(schedule) == _total(
            (r for r in everything.values() if r["currency"] == currency and r["state"] != "void"),
            "total",
        ) - _total(
            r for r in credit_notes if r["currency"] == currency and r["invoice_number"] not in void
        )
    # Each agreement's charged to date: its up-front and royalty invoices, less their
    # credit notes; the royalty lines' C at its last report for the royalty's part.
    for agreement in books.export("agreements"):
        number = agreement["agreement_number"]
        billed = [
            r
            for r in everything.values()
            if r["state"] != "void"
            and (r["source_reference"] or "").split(" ")[0] == number
            and r["source_type"] in ("agreement", "royalty_report")
        ]
        charged = _total(billed, "total") - _total(billed, "amount_credited")
        assert Decimal(agreement["charged_to_date"]) == charged, number
    # Each line is the account its kind says, and a late fee names what it is for.
    accounts = {(r["invoice_number"], r["kind"], r["gl_account"], r["use"]) for r in lines}
    assert (made["late_fee"], "late_fee", "4200", None) in accounts
    assert (made["w1b"]["invoice"], "royalty", "4100", "distribution") in accounts
    assert (made["last_evening"]["number"], "manual", "4900", None) in accounts
    assert everything[made["late_fee"]]["source_reference"] == made["overdue"]["number"]
    parts = {(r["credit_note_number"], r["gl_account"]) for r in credit_lines}
    assert {(made["lowered"], "4100"), (made["evening_credit"], "4200")} <= parts
    # Every row names its documents by their numbers, as the documents print them:
    # a royalty report as RR-NNNNNN, as the credit notes export and the memo name it.
    notes = {r["credit_note_number"]: r for r in credit_notes}
    lowering = notes[made["lowered"]]
    (row_of_report,) = [
        r for r in royalties if made["lowered"] in (r["credit_note_numbers"] or "").split(";")
    ]
    assert lowering["royalty_report"] in row_of_report.values(), row_of_report


def test_the_finance_page_for_april_is_the_exports_of_april(
    client: FlaskClient,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
    april: tuple[Finance, dict[str, Any]],  # noqa: F811
) -> None:
    books, _made = april
    session = db.session()
    for currency in ("USD", "EUR", "JPY"):
        month = _days(*APRIL) | {"currency": currency}
        invoices = books.export("invoices", **month)
        void = [r for r in invoices if r["state"] == "void"]
        payments = books.export("payments", **month)
        reversed_rows = books.export("payments", by="reversed", state="reversed", **month)
        credit_notes = books.export("credit_notes", **month)
        refunds = books.export("refunds", state="succeeded", **month)
        owed = books.export("receivables", as_of=APRIL[1].isoformat(), currency=currency)
        voided_since = {
            r["invoice_number"] for r in books.export("invoices") if r["state"] == "void"
        }
        (figures,) = finance.cash_flow(session, Filters(APRIL[0], APRIL[0], currency=currency))
        assert figures.invoiced == _total((r for r in invoices if r not in void), "total")
        assert finance.voided(session, currency, *APRIL)[1] == _total(void, "total")
        assert figures.collected == _total(
            r for r in payments if r["state"] in ("succeeded", "reversed")
        )
        assert figures.reversed == _total(reversed_rows, "reversed_amount")
        assert figures.credited == _total(credit_notes)
        assert figures.refunded == _total(refunds)
        assert figures.outstanding == _total(
            (r for r in owed if r["invoice_number"] not in voided_since), "balance"
        )
    # Royalties: gross, credit notes and net, by the exports of the month.
    revenue = finance.revenue(session, Filters(APRIL[0], APRIL[0], currency="USD"))
    invoices = {r["invoice_number"]: r for r in books.export("invoices", **_days(*APRIL))}
    lines = books.export("invoice_lines", **_days(*APRIL))
    royalty_lines = [
        r for r in lines if invoices[r["invoice_number"]]["source_type"] == "royalty_report"
    ]
    assert revenue.royalty == _total(royalty_lines)
    everything = {r["invoice_number"]: r for r in books.export("invoices")}
    royalty_credits = [
        r
        for r in books.export("credit_note_lines", **_days(*APRIL))
        if everything[r["invoice_number"]]["source_type"] == "royalty_report"
    ]
    assert revenue.royalty_credited == _total(royalty_credits)
    assert revenue.total + revenue.other == _total(
        (r for r in invoices.values() if r["state"] != "void" and r["currency"] == "USD"), "total"
    )
    # The monthly report's month adds up, and its aging is the receivables export's.
    report = report_services.monthly_report(
        session, report_services.ReportOf(month=APRIL[0], billing_issuer="CPT Licensing Office")
    )
    assert report.outstanding - report.refunds_owed == (
        report.outstanding_at_start
        - report.refunds_owed_at_start
        + report.invoiced
        - report.collected
        + report.reversed
        - report.credited
        + report.refunded
    )
    owed = books.export("receivables", as_of=APRIL[1].isoformat(), currency="USD")
    buckets = {"1_30": "1-30", "31_60": "31-60", "61_90": "61-90", "disputed": "not_chased"}
    for aged in finance.aging(session, "USD", APRIL[1]):
        mine = [r for r in owed if r["aging_bucket"] == buckets.get(aged.key, aged.key)]
        assert (aged.amount, aged.invoices) == (_total(mine, "balance"), len(mine)), aged.key
    assert [row.amount for row in report.aging] == [
        row.amount for row in finance.aging(session, "USD", APRIL[1])
    ]
    # By each classification the month's license revenue, royalty credit notes and net
    # add up to the figures above them.
    for axis, rows in revenue.by_axis.items():
        assert sum((row.total for row in rows), ZERO) == revenue.total, axis
        assert sum((row.royalty_credited for row in rows), ZERO) == revenue.royalty_credited
    by_use = {row.value: row.royalty_credited for row in revenue.by_axis["use"]}
    assert by_use.get("distribution") == _total(royalty_credits)
    # The top licensees of April: invoiced, paid (as known now) and owed at the end.
    invoiced = [
        r for r in books.export("invoices", currency="USD", **_days(*APRIL)) if r["state"] != "void"
    ]
    paid = [
        r
        for r in books.export("payments", currency="USD", **_days(*APRIL))
        if r["state"] in ("succeeded", "reversed")
    ]
    owed = books.export("receivables", as_of=APRIL[1].isoformat(), currency="USD")
    tops = finance.top_licensees(session, Filters(APRIL[0], APRIL[0], currency="USD"))
    assert len(tops) == len({r["organization_id"] for r in invoiced})
    for top in tops:
        mine = [r for r in paid if r["organization_id"] == top.organization_id]
        assert (top.invoiced, top.collected, top.outstanding) == (
            _total((r for r in invoiced if r["organization_id"] == top.organization_id), "total"),
            _total(mine) - sum((Decimal(r["reversed_amount"] or 0) for r in mine), ZERO),
            _total((r for r in owed if r["organization_id"] == top.organization_id), "balance"),
        ), top.name
    # Each licensee's statement of account for April closes on its receivables.
    for currency in ("USD", "EUR", "JPY"):
        balances = books.export("receivables", as_of=APRIL[1].isoformat(), currency=currency)
        for organization_id in {r["organization_id"] for r in balances}:
            organization = session.get(Organization, organization_id)
            assert organization is not None
            statement = billing.statement_for(
                session,
                organization,
                billing.Asked(start="2027-04-01", end="2027-04-30", currency=currency),
                now=datetime(2027, 5, 3, 15, tzinfo=UTC),
            )
            theirs = [r for r in balances if r["organization_id"] == organization_id]
            assert statement.closing == _total(theirs, "balance"), (currency, organization_id)
    # The page itself, as billing staff read it, and the exports its links download.
    signed_in(client, billing_staff)
    page = client.get(
        "/console/finance/",
        query_string={"from": "2027-04", "to": "2027-04", "currency": "USD", "as_of": "2027-04-30"},
    )
    assert page.status_code == 200
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True))).split())
    said = dict(
        re.findall(
            r"(invoiced|collected|reversed|credited|net refunds)(?: \([^)]*\))? ([\d,]+\.\d\d) USD",
            text,
        )
    )
    links = {
        name: html.unescape(href)
        for href, name in re.findall(
            r'<a href="([^"]+)">(invoices issued|payments received|payments reversed|'
            r"credit notes issued|refunds sent|refunds returned by the bank)</a>",
            page.get_data(as_text=True),
        )
    }

    def linked(name: str) -> list[dict[str, str]]:
        response = client.get(links[name])
        assert response.status_code == 200, links[name]
        return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))

    issued = linked("invoices issued")
    assert Decimal(said["invoiced"].replace(",", "")) == _total(
        (r for r in issued if r["state"] != "void"), "total"
    )
    assert Decimal(said["collected"].replace(",", "")) == _total(
        r for r in linked("payments received") if r["state"] in ("succeeded", "reversed")
    )
    assert Decimal(said["reversed"].replace(",", "")) == _total(
        linked("payments reversed"), "reversed_amount"
    )
    assert Decimal(said["credited"].replace(",", "")) == _total(linked("credit notes issued"))
    # Round 54: net refunds are those sent less those the bank returned, each by its day
    # (round 55: the page said "refunded" for it).
    assert Decimal(said["net refunds"].replace(",", "")) == _total(linked("refunds sent")) - _total(
        linked("refunds returned by the bank")
    )


LINES = 1500  # more than a batch (1,000): the export reads past its first statement


def test_a_credit_note_written_while_a_night_is_pulled_comes_once_in_the_next_nights_pull(
    committed_app: Flask,
) -> None:
    """The schedule of 30 April is pulled at 01:30 on 1 May while a clerk's credit note,
    stamped 23:59 on 30 April, is still being saved: the pull under way reads one
    snapshot (the invoice's 1,500 lines, not the note committed after it began), and
    the next night's pull, of the last two days, brings the note's rows once."""
    evening = datetime(2027, 5, 1, 4, 59, tzinfo=UTC)  # 23:59 on 30 April at the office
    with committed_app.app_context():
        session = db.session()
        organization = factories.make_organization(session)
        clerk = factories.staff_actor(("billing",))
        staff = session.get(User, clerk.user_id)
        assert staff is not None
        draft = billing.create_draft(
            organization_id=organization.id,
            currency="USD",
            charges=[billing.Charge(f"Seat bundle {n}", Decimal("1.00")) for n in range(LINES)],
            standard=invoice_terms(),
            actor=clerk,
        )
        invoice = billing.finalize_invoice(draft.id, actor=clerk, now=_on(30))
    client = committed_app.test_client()
    pulled: list[list[dict[str, Any]]] = []
    with time_machine.travel(datetime(2027, 5, 1, 6, 30, tzinfo=UTC), tick=False):
        with committed_app.app_context():
            headers = bearer(staff)
        response = client.get(
            "/api/v1/exports/revenue_recognition",
            query_string={"format": "jsonl", "by": "recorded", **_days(APRIL[1], APRIL[1])},
            headers=headers,
            buffered=False,
        )
        assert response.status_code == 200
        chunks = iter(response.response)
        body = [next(chunks)]
        with committed_app.app_context():
            note = billing.issue_credit_note(
                invoice.id, amount=Decimal("15.00"), reason="Seats unused", actor=clerk, now=evening
            )
        body += list(chunks)
        assert len(body) > 1  # the note was saved between two chunks of the file
        response.close()
        pulled.append(read_jsonl(b"".join(body))[1])
    with time_machine.travel(datetime(2027, 5, 2, 6, 30, tzinfo=UTC), tick=False):
        with committed_app.app_context():
            headers = bearer(staff)
        response = client.get(
            "/api/v1/exports/revenue_recognition",
            query_string={"format": "jsonl", "by": "recorded", **_days(APRIL[1], MAY_FIRST)},
            headers=headers,
        )
        pulled.append(read_jsonl(response.get_data())[1])
    first, second = ([r["document_number"] for r in rows] for rows in pulled)
    assert first == [invoice.number] * LINES  # one snapshot: the note is not in it
    assert second.count(note.number) == LINES  # a part for each line, once
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rows in pulled:
        keys = [tuple(r[name] for name in KEYS["revenue_recognition"]) for r in rows]
        assert len(set(keys)) == len(keys)  # a pull has one row a key
        kept |= dict(zip(keys, rows, strict=True))
    assert _total(kept.values()) == Decimal(LINES) - Decimal("15.00")


# --- round 52: every figure of the Finance page and its report, pinned -----------------

# The page's ranges the pin reads: the months around the busy one, its quarters, and a
# year of months ending with it (the report's trend); each currency of the month.
PINNED_RANGES = (
    (date(2026, 11, 1), date(2027, 5, 1), "month"),
    (date(2027, 1, 1), date(2027, 6, 1), "quarter"),
    (date(2026, 5, 1), date(2027, 4, 1), "month"),
)
PINNED_AS_OF = (date(2027, 4, 15), date(2027, 4, 30), date(2027, 5, 31))
# What they were at 39499bd2, before round 52 changed how they are computed.
PINNED = Path(__file__).with_name("finance_page_pinned.json")


def _said(amount: Decimal) -> str:
    """An amount as a plain decimal string of its value, whatever its exponent."""
    return f"{amount.normalize():f}"


def _saids(*amounts: Decimal) -> list[str]:
    return [_said(amount) for amount in amounts]


def _later(row: Any) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """A trend row's figures after its first three: credited, refunded, reversed, and
    (round 52, pinned after the others) the refunds owed at its end."""
    return row.credited, row.refunded, row.reversed, row.refunds_owed


def _figures_of_the_page(session: Any) -> list[Any]:
    """Every figure the Finance page and the monthly report show for the pinned
    ranges, amounts as decimal strings (`_said`)."""
    found: list[Any] = []
    for currency in ("USD", "EUR", "JPY"):
        for first, last, by in PINNED_RANGES:
            filters = Filters(first, last, by, currency, PINNED_AS_OF[1])
            found.append(
                [
                    [
                        row.period.key,
                        *map(
                            _said,
                            (
                                row.invoiced,
                                row.collected,
                                row.credited,
                                row.outstanding,
                                row.refunded,
                                row.reversed,
                                row.refunds_owed,  # round 52, added to the pin
                            ),
                        ),
                    ]
                    for row in finance.cash_flow(session, filters)
                ]
            )
            revenue = finance.revenue(session, filters)
            found.append(
                [
                    *map(str, (revenue.total, revenue.other, revenue.royalty)),
                    _said(revenue.royalty_credited),
                    {
                        axis: [
                            [row.value, *_saids(row.up_front, row.royalty, row.royalty_credited)]
                            for row in rows
                        ]
                        for axis, rows in revenue.by_axis.items()
                    },
                ]
            )
            found.append(
                [
                    [_said(top.invoiced), _said(top.collected), _said(top.outstanding)]
                    for top in finance.top_licensees(session, filters)
                ]
            )
            count, total = finance.voided(session, currency, filters.start, filters.end)
            found.append([count, _said(total)])
        for as_of in PINNED_AS_OF:
            found.append(
                [
                    [row.key, row.invoices, _said(row.amount)]
                    for row in finance.aging(session, currency, as_of)
                ]
            )
        report = report_services.monthly_report(
            session,
            report_services.ReportOf(
                month=APRIL[0],
                billing_issuer="CPT Licensing Office",
                currency=currency,
                now=datetime(2027, 5, 3, 15, tzinfo=UTC),
            ),
        )
        found.append(
            [
                _said(getattr(report, name))
                for name in (
                    "invoiced",
                    "collected",
                    "credited",
                    "refunded",
                    "reversed",
                    "outstanding_at_start",
                    "outstanding",
                    "revenue_other",
                    "royalty",
                    "royalty_credited",
                    "voided",
                    "refunds_owed_at_start",  # round 52, added to the pin
                    "refunds_owed",
                )
            ]
            + [report.voided_count]
            + [[row.label, _said(row.amount)] for row in report.revenue_by_use]
            + [[row.label, _said(row.amount), row.count] for row in report.aging]
            + [
                [_said(row.invoiced), _said(row.collected), _said(row.outstanding)]
                for row in report.top_licensees
            ]
            + [
                [row.period, *_saids(row.invoiced, row.collected, row.outstanding, *_later(row))]
                for row in report.trend
            ]
        )
    return found


def test_every_figure_of_the_finance_page_and_its_report_stays_as_pinned(
    client: FlaskClient,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
    april: tuple[Finance, dict[str, Any]],  # noqa: F811
) -> None:
    """Round 52 made the page's work bounded (the balances at every period end from
    one pass over the ledger, each agreement's quote classified once): the figures
    of the busy month, read at 39499bd2 and kept in `PINNED`, did not move by a cent."""
    names = sorted(db.session().scalars(db.select(Organization.legal_name)), key=len)[::-1]
    pages = []
    for currency in ("USD", "EUR", "JPY"):
        for first, last, by in PINNED_RANGES:
            with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
                signed_in(client, billing_staff)
                page = client.get(
                    "/console/finance/",
                    query_string={
                        "from": f"{first:%Y-%m}",
                        "to": f"{last:%Y-%m}",
                        "by": by,
                        "currency": currency,
                        "as_of": PINNED_AS_OF[1].isoformat(),
                    },
                )
            assert page.status_code == 200
            pages.append(_page_numbers(page.get_data(as_text=True), names))
    found = {"figures": _figures_of_the_page(db.session()), "pages": pages}
    if os.environ.get("FINANCE_PIN_WRITE"):  # only to pin a deliberate change anew
        PINNED.write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    assert found["pages"] == pinned["pages"]
    assert found["figures"] == pinned["figures"]


def _page_numbers(body: str, names: Iterable[str]) -> list[str]:
    """Every number the page's money sections say (their tables; the charts draw the
    same), in order, the licensees' names left out; not the queues' ages, which
    depend on the day and are left to their own tests."""
    money = body.split('id="cash-heading"')[1].split('id="queues-heading"')[0]
    # A day the page says in words (round 58) is read as its `<time>` keeps it, ISO, as
    # the pin recorded the page's days before.
    money = re.sub(r'<time datetime="([^"]+)">.*?</time>', r"\1", money)
    text = html.unescape(re.sub(r"<[^>]+>", " ", money))
    for name in names:
        text = text.replace(name, "")
    return re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)


def test_the_balances_the_database_sums_are_each_invoices_balance_on_every_day_of_the_month(
    april: tuple[Finance, dict[str, Any]],  # noqa: F811
) -> None:
    """Round 53: the page's balances are summed in SQL (`period_end_balances`,
    `owed_on`). On every day from late March to early May (the card payment at 23:30
    on 30 April, the returns, the credit beyond a balance and its refund among them)
    they are what `Receivable.balance_on`, the definition in Python, gives each
    invoice, as the bank's days had it and as known now, in each currency."""
    days = [date(2027, 3, 25) + timedelta(days=n) for n in range(42)]
    for currency in ("USD", "EUR", "JPY"):
        sums_are_the_ledger_every_day(currency, days)
