"""The invoices list behind the Finance page's *Voided* says the void invoices owe
nothing (round 68, journeyF68): it summed what each was issued for less what was paid
and credited, whatever its state, so a month's one void invoice of 80.00 read "The 1
invoice listed owes 80.00 USD now" beside a page saying voids count in no figure."""

from __future__ import annotations

from datetime import date
from typing import Any

from licensing import db
from licensing.billing import services as billing
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.factories import billing_clerk
from tests.support.pages import text_of


def test_a_void_invoice_listed_owes_nothing_and_an_open_one_its_balance(
    client: Any, signed_in: Any, billing_staff: Any, app: Any
) -> None:
    organization = factories.make_organization(db.session())
    db.session().commit()
    voided = issue(organization.id, "80.00", date(2027, 4, 5))
    billing.void_invoice(
        voided.id, reason="Issued twice", now=at(date(2027, 4, 6)), actor=billing_clerk()
    )
    issue(organization.id, "600.00", date(2027, 4, 7))
    staff = signed_in(client, billing_staff)

    april = "/console/invoices?from=2027-04&to=2027-04&currency=USD"
    void_list = text_of(staff.get(f"{april}&state=void"))
    assert "voided since 80.00 USD" in void_list
    assert "The 1 invoice listed owes 0.00 USD now." in void_list
    every = text_of(staff.get(april))
    assert "The 2 invoices listed owe 600.00 USD now." in every
