"""Round 56: a report that lowered the royalty said "Credited credit note CN-..." and
linked only the note's PDF: the vendor could not tell which invoice it lowered, nor
what was left to pay on it, without opening every invoice; and the invoice's credit
notes named the report only in words. Each page now links the other
(docs/royalty-report-pages.md), and the dashboard says how much of an invoice to pay
was credited (docs/list-pages.md)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.billing.models import CreditNote, Invoice
from licensing.calendar import day_text
from tests.integration.royalties.conftest import AFTER, SOFTWARE, row
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]


def _second_quarter_lowered(file_report: Any, vendor: Any, agreement: Any) -> tuple[Any, Any]:
    """Two quarters filed (two open royalty invoices), then the second amended down:
    (the amendment, its credit note)."""
    file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    second = file_report(vendor, agreement, 2, [row(1, "A", quantity=3200)]).report
    amended = file_report(
        vendor, agreement, 2, [row(1, "A", quantity=3100)], amends=second.id, reason="Recount"
    ).report
    credit = db.session().scalars(select(CreditNote)).one()
    return amended, credit


def test_a_report_that_lowered_the_royalty_links_the_invoice_it_credited_and_what_is_left(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    amended, credit = _second_quarter_lowered(
        file_report, vendor, active_agreement(vendor, SOFTWARE)
    )
    invoice = db.session().get(Invoice, credit.invoice_id)
    assert invoice is not None
    left = invoice.balance_due
    assert Decimal(0) < left < invoice.total
    with time_machine.travel(AFTER[2], tick=False):
        response = signed_in(client, vendor).get(f"/portal/royalty-reports/report/{amended.id}")
        staff = signed_in(client, licensing_staff).get(f"/console/royalty-reports/{amended.id}")
    page = text_of(response).replace(" :", ":")  # the tags' spaces dropped
    assert (
        f"Credited credit note {credit.number}: {credit.amount:,.2f} USD off invoice "
        f"{invoice.number} (open: {left:,.2f} USD to pay by {day_text(invoice.due_date)})"
    ) in page
    assert f'href="/portal/invoices/{invoice.id}"' in response.get_data(as_text=True)
    assert f'href="/console/invoices/{invoice.id}"' in staff.get_data(as_text=True)


def test_an_invoices_credit_note_links_the_report_that_issued_it(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    amended, credit = _second_quarter_lowered(
        file_report, vendor, active_agreement(vendor, SOFTWARE)
    )
    with time_machine.travel(AFTER[2], tick=False):
        response = signed_in(client, vendor).get(f"/portal/invoices/{credit.invoice_id}")
    body = response.get_data(as_text=True)
    assert f'href="/portal/royalty-reports/report/{amended.id}"' in body
    assert f"From royalty report {amended.reference}" in text_of(response)


def test_the_dashboard_says_how_much_of_an_invoice_to_pay_was_credited(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    _amended, credit = _second_quarter_lowered(
        file_report, vendor, active_agreement(vendor, SOFTWARE)
    )
    invoice = db.session().get(Invoice, credit.invoice_id)
    assert invoice is not None
    with time_machine.travel(AFTER[2], tick=False):
        page = text_of(signed_in(client, vendor).get("/portal/"))
    assert (
        f"Invoice {invoice.number} to pay {invoice.balance_due:,.2f} USD due "
        f"{day_text(invoice.due_date)} ({credit.amount:,.2f} of its {invoice.total:,.2f} USD "
        "credited)"
    ) in page
