"""apiperiods61: each royalty period, listed or read alone through the API, says what it
was charged: the invoices and credit notes its reports issued (number, amount, state,
link), the net, and what is still owed (docs/api.md, "A royalty period's charges"). The round
60 walk had to page every invoice and credit note and match them by hand: an amended
period's `total_due` is the amendment's change, not what the period cost.

The worked example in docs/api.md is this module's year: its figures are the answer's,
on both databases."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.agreements.models import Agreement
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice
from licensing.config import PROJECT_ROOT
from licensing.royalties.models import RoyaltyReport
from licensing.royalties.periods import reporting_periods
from licensing.royalties.services import Filing
from tests.integration.royalties.conftest import (
    AFTER,
    SMALL_SOFTWARE,
    a_year_with_an_amendment,
    reports_of,
    row,
)
from tests.support import factories
from tests.support.copies import copy_invoice, copy_row
from tests.support.statements import statements_for

FileReport = Callable[..., Filing]
EXAMPLE_HEADING = "## A royalty period's charges (apiperiods61)"


def _periods(agreement: Agreement) -> str:
    return f"/api/v1/agreements/{agreement.id}/royalty-reports"


def _example() -> Any:
    """The JSON of docs/api.md's worked example: the list's answer."""
    text = (PROJECT_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split(EXAMPLE_HEADING, 1)[1]
    return json.loads(section.split("```json\n", 1)[1].split("\n```", 1)[0])


def _ids_masked(document: Any) -> Any:
    """`document` with its record ids (and the ids in links) written `ID`: the figures,
    numbers and states stay, which are the same on both databases."""
    if isinstance(document, list):
        return [_ids_masked(item) for item in document]
    if isinstance(document, dict):
        return {
            key: (
                "ID"
                if (key == "id" or key.endswith("_id")) and value is not None
                else re.sub(r"/\d+$", "/ID", value)
                if key == "url"
                else _ids_masked(value)
            )
            for key, value in document.items()
        }
    return document


def test_the_docs_worked_example_is_the_answer_of_its_year(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    paid, typoed, credit = a_year_with_an_amendment(vendor, agreement, file_report)
    with time_machine.travel(AFTER[3], tick=False):
        answer = client.get(_periods(agreement), headers=factories.bearer(vendor))
    assert answer.status_code == 200
    periods = answer.get_json()
    assert _ids_masked(periods) == _ids_masked(_example())
    first, second, third, fourth = periods
    # The links are the records', and read as they say.
    assert first["invoices"][0]["url"] == f"/api/v1/invoices/{paid.id}"
    assert second["credit_notes"][0]["url"] == f"/api/v1/credit-notes/{credit.id}"
    assert second["credit_notes"][0]["invoice_id"] == typoed.id
    superseded, current = reports_of(agreement)[1:]
    assert [each["report_id"] for each in second["invoices"]] == [superseded.id]
    assert second["credit_notes"][0]["report_id"] == current.id == second["report_id"]
    # The contract's fields are as they were: the amendment's change, no invoice of its own.
    assert second["total_due"] == format(current.total_due, ".2f")
    assert second["invoice"] is None
    # The net is what each period cost; with the up-front invoice's, what the agreement
    # says it was charged to date.
    with time_machine.travel(AFTER[3], tick=False):
        whole = client.get(f"/api/v1/agreements/{agreement.id}", headers=factories.bearer(vendor))
    up_front = db.session().scalars(
        select(Invoice).where(Invoice.source_type == "agreement", Invoice.source_id == agreement.id)
    )
    nets = sum((Decimal(each["net_charged"]) for each in periods), up_front.one().total)
    assert Decimal(whole.get_json()["charged_to_date"]) == nets
    for each in (third, fourth):
        assert (each["invoices"], each["credit_notes"], each["net_charged"]) == ([], [], "0.00")


def test_one_period_reads_as_its_row_of_the_list_and_an_unknown_one_is_a_404(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    a_year_with_an_amendment(vendor, agreement, file_report)
    headers = factories.bearer(vendor)
    with time_machine.travel(AFTER[3], tick=False):
        listed = client.get(_periods(agreement), headers=headers).get_json()
        for period in listed:
            one = client.get(f"{_periods(agreement)}/{period['period']['start']}", headers=headers)
            assert one.status_code == 200
            assert one.get_json() == period
        missing = client.get(f"{_periods(agreement)}/2027-02-01", headers=headers)
        malformed = client.get(f"{_periods(agreement)}/Q1", headers=headers)
    assert missing.status_code == 404
    assert missing.get_json()["detail"] == (
        f"Agreement {agreement.number} has no reporting period starting 2027-02-01 (its "
        "periods start: 2027-01-01, 2027-04-01, 2027-07-01, 2027-10-01)."
    )
    assert malformed.status_code == 404


def test_a_staff_credit_note_against_a_periods_invoice_is_the_periods_and_a_void_counts_nothing(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    _paid, typoed, credit = a_year_with_an_amendment(vendor, agreement, file_report)
    third = file_report(vendor, agreement, 3, [row(1, "C", quantity=10)]).report
    assert third is not None
    assert third.invoice_id is not None
    clerk = factories.billing_clerk()
    with time_machine.travel(AFTER[3], tick=False):
        goodwill = billing.issue_credit_note(
            typoed.id, amount=Decimal("5.00"), reason="Goodwill.", actor=clerk
        )
        billing.void_invoice(third.invoice_id, reason="Issued in error.", actor=clerk)
        periods = client.get(_periods(agreement), headers=factories.bearer(vendor)).get_json()
    second, voided = periods[1], periods[2]
    assert [(note["number"], note["report_id"]) for note in second["credit_notes"]] == [
        (credit.number, credit_report(credit)),
        (goodwill.number, None),
    ]
    charged = typoed.total - credit.amount - Decimal("5.00")
    assert second["net_charged"] == f"{charged:.2f}"
    assert second["balance_due"] == f"{charged:.2f}"
    assert [(each["state"], each["balance_due"]) for each in voided["invoices"]] == [
        ("void", "0.00")
    ]
    assert voided["net_charged"] == "0.00"
    assert [note["invoice_state"] for note in second["credit_notes"]] == ["open", "open"]


def credit_report(credit: CreditNote) -> int:
    """The report whose filing issued `credit`."""
    for report in db.session().scalars(select(RoyaltyReport)):
        if credit.number in report.credit_notes:
            return report.id
    raise AssertionError(f"no report issued {credit.number}")


def test_a_credit_note_an_amendment_issued_against_another_periods_invoice_is_the_amendments(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: FileReport
) -> None:
    """Credit notes go against the newest royalty invoices: an amendment of the first
    quarter, filed after the second, credits the second's invoice; the credit lowers
    what the first quarter cost, not the second."""
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=300)]).report
    second = file_report(vendor, agreement, 2, [row(1, "B", quantity=300)]).report
    assert first is not None
    assert second is not None
    file_report(
        vendor, agreement, 1, [row(1, "A", quantity=200)], amends=first.id, reason="Recounted"
    )
    with time_machine.travel(AFTER[3], tick=False):
        periods = client.get(_periods(agreement), headers=factories.bearer(vendor)).get_json()
    q1, q2 = periods[0], periods[1]
    second_invoice = db.session().get(Invoice, second.invoice_id)
    assert second_invoice is not None
    assert [note["invoice"] for note in q1["credit_notes"]] == [second_invoice.number]
    assert q2["credit_notes"] == []
    assert Decimal(q1["net_charged"]) == sum(
        (
            each.total_due
            for each in reports_of(agreement)
            if each.period_start == first.period_start
        ),
        Decimal(0),
    )
    assert q2["net_charged"] == f"{second.total_due:.2f}"


def test_another_organizations_periods_are_not_found(
    client: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    active_agreement: Any,
    file_report: FileReport,
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=100)])
    with time_machine.travel(AFTER[2], tick=False):
        for url in (_periods(agreement), f"{_periods(agreement)}/2027-01-01"):
            answer = client.get(url, headers=factories.bearer(other_vendor))
            assert answer.status_code == 404, url


def _periods_filed(agreement: Agreement, count: int) -> None:
    """The agreement's first `count` quarters each like its first, filed and amended:
    its reports, their invoice and credit note copied into each (the term lengthened to
    hold them). What the list reads of a period is its reports and their documents."""
    session = db.session()
    term_end = date(2027 + (count + 3) // 4, 12, 31)
    session.execute(update(Agreement).where(Agreement.id == agreement.id).values(term_end=term_end))
    reports = RoyaltyReport.__table__
    credit_notes = CreditNote.__table__
    periods = reporting_periods(agreement.term_start, term_end)
    originals = [each for each in reports_of(agreement) if each.period_start == periods[0].start]
    filed = {each.period_start for each in reports_of(agreement)}
    for index, period in enumerate(periods[:count]):
        if period.start in filed:
            continue
        copied: dict[int, int] = {}
        for original in originals:
            copy_id = copy_row(
                reports,  # type: ignore[arg-type]
                reports.c.id == original.id,  # type: ignore[attr-defined]
                period_start=period.start,
                period_end=period.end,
                amends_id=copied.get(original.amends_id or 0),
                invoice_id=None,
                credit_notes_json="[]",
            )
            copied[original.id] = copy_id
            changes: dict[str, Any] = {}
            if original.invoice_id is not None:
                changes["invoice_id"] = copy_invoice(
                    original.invoice_id,
                    number=f"INV-2027-7{index:02d}{len(copied):03d}",
                    source_id=copy_id,
                )
            numbers = []
            for number in original.credit_notes:
                copy = f"CN-2027-7{index:02d}{len(copied)}{len(numbers):02d}"
                copy_row(
                    credit_notes,  # type: ignore[arg-type]
                    credit_notes.c.number == number,  # type: ignore[attr-defined]
                    number=copy,
                )
                numbers.append(copy)
            changes["credit_notes_json"] = json.dumps(numbers)
            session.execute(
                update(RoyaltyReport).where(RoyaltyReport.id == copy_id).values(**changes)
            )
    session.commit()


def test_the_list_reads_what_each_period_was_charged_in_as_many_statements_at_10_and_100(
    app: Flask, vendor: Any, active_agreement: Any, file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)]).report
    assert first is not None
    file_report(
        vendor, agreement, 1, [row(1, "A", quantity=2900)], amends=first.id, reason="Recounted"
    )
    headers = factories.bearer(vendor)
    url = f"{_periods(agreement)}?per_page=100"
    counted = {}
    for count in (10, 100):
        _periods_filed(agreement, count)
        counted[count] = statements_for(app, app.test_client(), url, headers=headers)
        periods = app.test_client().get(url, headers=headers).get_json()
        filed = [each for each in periods if each["report_id"] is not None]
        assert len(filed) == count
        assert all(len(each["invoices"]) == 1 for each in filed)
        assert all(len(each["credit_notes"]) == 1 for each in filed)
    assert counted[100] == counted[10], counted


def test_a_credit_note_against_an_invoice_voided_since_takes_nothing_off(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: FileReport
) -> None:
    """A void invoice charges nothing, and the credit notes against it with it: the
    agreement's `charged_to_date` counts them so, and the period's net is that."""
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    paid, typoed, _credit = a_year_with_an_amendment(vendor, agreement, file_report)
    with time_machine.travel(AFTER[3], tick=False):
        billing.void_invoice(typoed.id, reason="Issued in error.", actor=factories.billing_clerk())
        periods = client.get(_periods(agreement), headers=factories.bearer(vendor)).get_json()
        whole = client.get(f"/api/v1/agreements/{agreement.id}", headers=factories.bearer(vendor))
    second = periods[1]
    assert [note["invoice_state"] for note in second["credit_notes"]] == ["void"]
    assert [note["state"] for note in second["credit_notes"]] == ["void"]  # periods62
    assert (second["net_charged"], second["balance_due"]) == ("0.00", "0.00")
    up_front = db.session().scalars(
        select(Invoice).where(Invoice.source_type == "agreement", Invoice.source_id == agreement.id)
    )
    assert Decimal(whole.get_json()["charged_to_date"]) == up_front.one().total + paid.total
