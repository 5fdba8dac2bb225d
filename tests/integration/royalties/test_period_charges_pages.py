"""periods62: the portal's royalty reports list and period pages, and the console's
queue and report page, say what each period was charged, what was paid and what is
still owed, in the API's figures (`queries.charges_of_periods`), each document linked;
both lists filter to the periods still owed on (`?state=owing`); and a credit note in
the period's answer has a state (`applied`, `refund_due`, `refunded`, `void`).

The year: the first quarter paid in full, the second paid in part, the third paid and
then amended down (its credit note owes money back, which is then refunded), the
fourth filed and not paid."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.agreements.models import Agreement
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice
from licensing.royalties.services import Filing
from tests.integration.royalties.conftest import AFTER, SMALL_SOFTWARE, row
from tests.support import factories

SignIn = Callable[..., FlaskClient]
FileReport = Callable[..., Filing]


def text_of(response: Any) -> str:
    without_tags = re.sub(r"<[^>]+>", "", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def shown(amount: str) -> str:
    """An API amount as the pages write it: "1,035.00 USD"."""
    return f"{Decimal(amount):,.2f} USD"


def _invoice(invoice_id: int | None) -> Invoice:
    found = db.session().get(Invoice, invoice_id)
    assert found is not None
    return found


def a_year_of_four_quarters(
    vendor: Any, agreement: Agreement, file_report: FileReport, *, refund: bool = True
) -> CreditNote:
    """Each quarter filed the day after it ends: the first paid in full, the second
    half paid, the third paid and then amended down (a credit note on a paid invoice,
    its refund sent unless `refund` is false), the fourth not paid. The credit note."""
    clerk = factories.billing_clerk()

    def pay(invoice_id: int | None, amount: Decimal, reference: str) -> None:
        billing.record_offline_payment(
            _invoice(invoice_id).id, method="wire", amount=amount, reference=reference, actor=clerk
        )

    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    assert first is not None
    with time_machine.travel(AFTER[1], tick=False):
        pay(first.invoice_id, _invoice(first.invoice_id).total, "W-1")
    second = file_report(vendor, agreement, 2, [row(1, "B", quantity=200)]).report
    assert second is not None
    with time_machine.travel(AFTER[2], tick=False):
        pay(
            second.invoice_id,
            (_invoice(second.invoice_id).total / 2).quantize(Decimal("0.01")),
            "W-2",
        )
    third = file_report(vendor, agreement, 3, [row(1, "C", quantity=300)]).report
    assert third is not None
    with time_machine.travel(AFTER[3], tick=False):
        pay(third.invoice_id, _invoice(third.invoice_id).total, "W-3")
    amended = file_report(
        vendor, agreement, 3, [row(1, "C", quantity=100)], amends=third.id, reason="Recounted"
    )
    assert len(amended.credit_notes) == 1
    credit = (
        db.session()
        .scalars(select(CreditNote).where(CreditNote.number == amended.credit_notes[0]))
        .one()
    )
    assert credit.invoice_id == third.invoice_id
    if refund:
        with time_machine.travel(AFTER[3], tick=False):
            billing.record_offline_refund(
                credit.id,
                method="wire",
                amount=credit.refund_due,
                reference="R-3",
                actor=clerk,
            )
    file_report(vendor, agreement, 4, [row(1, "D", quantity=50)])
    return credit


def _api_periods(client: FlaskClient, agreement: Agreement, vendor: Any) -> list[dict[str, Any]]:
    answer = client.get(
        f"/api/v1/agreements/{agreement.id}/royalty-reports", headers=factories.bearer(vendor)
    )
    assert answer.status_code == 200
    periods: list[dict[str, Any]] = answer.get_json()
    return periods


def _rows(listed: str, agreement: Agreement) -> dict[str, str]:
    """Each period's row of a list's text, by its first day."""
    found = {}
    for start, end in (
        ("2027-01-01", "2027-03-31"),
        ("2027-04-01", "2027-06-30"),
        ("2027-07-01", "2027-09-30"),
        ("2027-10-01", "2027-12-31"),
    ):
        at = listed.find(f"{agreement.number} {start} to {end}")
        if at >= 0:
            ends = listed.find(f"{agreement.number} 2027-", at + 1)
            found[start] = listed[at : ends if ends > 0 else at + 700]
    return found


def _owed_words(period: dict[str, Any], whom: str) -> str:
    if Decimal(period["balance_due"]) > 0:
        return f"{shown(period['balance_due'])} to pay"
    if Decimal(period["refund_outstanding"]) > 0:
        return f"{shown(period['refund_outstanding'])} owed back to {whom}"
    return "Settled"


def test_each_listed_period_says_what_it_was_charged_paid_and_owes_as_the_api_does(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,
    file_report: FileReport,
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    a_year_of_four_quarters(vendor, agreement, file_report)
    with time_machine.travel(AFTER[4], tick=False):
        periods = _api_periods(client, agreement, vendor)
        portal = text_of(signed_in(client, vendor).get("/portal/royalty-reports"))
        console = text_of(signed_in(client, billing_staff).get("/console/royalty-reports"))
    assert [Decimal(each["balance_due"]) > 0 for each in periods] == [False, True, False, True]
    assert periods[0]["paid"] == periods[0]["net_charged"]
    assert Decimal(periods[1]["paid"]) + Decimal(periods[1]["balance_due"]) == Decimal(
        periods[1]["net_charged"]
    )
    assert [note["state"] for note in periods[2]["credit_notes"]] == ["refunded"]
    for listed, whom in ((portal, "you"), (console, "the licensee")):
        rows = _rows(listed, agreement)
        assert len(rows) == 4
        for period in periods:
            row_text = rows[period["period"]["start"]]
            charged, paid = shown(period["net_charged"]), shown(period["paid"])
            assert f"{charged} {paid} {_owed_words(period, whom)}" in row_text, row_text
    assert "Settled" in _rows(portal, agreement)["2027-01-01"]


def test_only_the_periods_still_owed_on_are_listed_when_asked_on_both_lists(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: FileReport,
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    a_year_of_four_quarters(vendor, agreement, file_report)
    with time_machine.travel(AFTER[4], tick=False):
        portal = signed_in(client, vendor).get("/portal/royalty-reports?state=owing")
        unknown = client.get("/portal/royalty-reports?state=paid")
        console = signed_in(client, licensing_staff).get("/console/royalty-reports?state=owing")
    assert portal.status_code == 200
    assert sorted(_rows(text_of(portal), agreement)) == ["2027-04-01", "2027-10-01"]
    assert "2 reporting periods still owed on" in text_of(portal)
    assert console.status_code == 200
    assert sorted(_rows(text_of(console), agreement)) == ["2027-04-01", "2027-10-01"]
    assert 'value="owing" selected' in console.get_data(as_text=True)
    assert unknown.status_code == 422
    assert "Nothing is listed" in text_of(unknown)


def test_a_period_with_nothing_owed_says_so_when_only_those_owed_on_are_asked(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,
    file_report: FileReport,
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=100)]).report
    assert first is not None
    with time_machine.travel(AFTER[1], tick=False):
        invoice = _invoice(first.invoice_id)
        billing.record_offline_payment(
            invoice.id,
            method="wire",
            amount=invoice.total,
            reference="W-1",
            actor=factories.billing_clerk(),
        )
        listed = text_of(signed_in(client, vendor).get("/portal/royalty-reports?state=owing"))
    assert "Nothing is owed on any filed period" in listed


def test_a_periods_pages_list_its_documents_linked_with_their_states_and_the_sums(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,
    file_report: FileReport,
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    credit = a_year_of_four_quarters(vendor, agreement, file_report, refund=False)
    with time_machine.travel(AFTER[4], tick=False):
        third = _api_periods(client, agreement, vendor)[2]
        vendor_client = signed_in(client, vendor)
        report_page = vendor_client.get(f"/portal/royalty-reports/report/{third['report_id']}")
        period_page = vendor_client.get(
            f"/portal/royalty-reports/{agreement.id}/{third['period']['start']}"
        )
        console_page = signed_in(client, billing_staff).get(
            f"/console/royalty-reports/{third['report_id']}"
        )
    (note,) = third["credit_notes"]
    assert note["state"] == "refund_due"
    assert Decimal(note["refund_outstanding"]) == credit.refund_due > 0
    (invoice,) = third["invoices"]
    summed = (
        f"Charged {shown(third['net_charged'])}, paid {shown(third['paid'])}: "
        f"{shown(third['refund_outstanding'])} owed back to"
    )
    for page, whom, invoice_url in (
        (report_page, "you", f"/portal/invoices/{invoice['id']}"),
        (period_page, "you", f"/portal/invoices/{invoice['id']}"),
        (console_page, "the licensee", f"/console/invoices/{invoice['id']}"),
    ):
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        said = text_of(page)
        assert "What the period was charged" in said
        assert f"{summed} {whom}." in said, said
        assert f'href="{invoice_url}"' in body
        assert f">{credit.number}</a>" in body
        assert f"Credit note {credit.number} against {invoice['number']} refund due" in said


def test_a_credit_notes_state_follows_its_refund_and_its_invoice(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    credit = a_year_of_four_quarters(vendor, agreement, file_report, refund=False)
    clerk = factories.billing_clerk()
    with time_machine.travel(AFTER[4], tick=False):
        before = _api_periods(client, agreement, vendor)[2]["credit_notes"][0]["state"]
        billing.record_offline_refund(
            credit.id, method="wire", amount=Decimal("1.00"), reference="R-1", actor=clerk
        )
        part = _api_periods(client, agreement, vendor)[2]["credit_notes"][0]["state"]
        rest = db.session().get(CreditNote, credit.id)
        assert rest is not None
        billing.record_offline_refund(
            credit.id, method="wire", amount=rest.refund_outstanding, reference="R-2", actor=clerk
        )
        after = _api_periods(client, agreement, vendor)[2]
    assert (before, part, after["credit_notes"][0]["state"]) == (
        "refund_due",
        "refund_due",
        "refunded",
    )
    assert after["refund_outstanding"] == "0.00"
    # Paid is what the licensee paid and kept: the refund sent back comes off it.
    assert Decimal(after["paid"]) == Decimal(after["net_charged"])
