"""Round 52: a new period's rows form starts as the period's CSV template does, with
last period's customers and their quantities blank, where it started empty and the
vendor typed every customer again each quarter. A customer left as drawn (no
quantity, no revenue) is left out, as a blank row is; a nil report stays its own
button (docs/royalty-report-pages.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.royalties.models import RoyaltyReportRow
from tests.integration.royalties.conftest import (
    AFTER,
    SOFTWARE,
    period_url,
    reports_of,
    row,
    typed,
)
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]
# What the second quarter's page draws from the first's report: its customers as
# filed, quantities blank (the template's rows).
DRAWN = [row(1, "A"), row(1, "B")]


def _first_quarter_filed(file_report: Any, vendor: Any, agreement: Any) -> None:
    file_report(vendor, agreement, 1, [row(1, "A", quantity=60), row(1, "B", quantity=35)])


def test_a_new_periods_form_starts_with_last_periods_customers_and_blank_quantities(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    _first_quarter_filed(file_report, vendor, agreement)
    with time_machine.travel(AFTER[2], tick=False):
        page = signed_in(client, vendor).get(period_url(agreement, 2))
        template = client.get(f"{period_url(agreement, 2)}/template.csv")
    body = page.get_data(as_text=True)
    for number, customer in ((1, "A"), (2, "B")):
        assert f'name="rows-{number}-customer_id" value="{customer}"' in body
        assert f'name="rows-{number}-customer_name" value="Clinic {customer}"' in body
        assert f'name="rows-{number}-quantity" value=""' in body
    assert 'name="rows-3-customer_id" value=""' in body  # then blank rows, as before
    assert "1,A,Clinic A,US,end_users,," in template.get_data(as_text=True)
    assert (
        "The form starts as the template does, with last period's 2 customers, quantities "
        "blank: type each one's usage for this period; a customer left without a quantity "
        "or revenue is left out."
    ) in text_of(page)


def test_a_customer_left_as_drawn_is_left_out_and_the_ones_given_a_quantity_are_filed(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    _first_quarter_filed(file_report, vendor, agreement)
    posted = typed(row(1, "A", quantity=70), row(1, "B"), row(1, "C", quantity=20))
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        filed = client.post(
            period_url(agreement, 2),
            data={"mode": "form", "action": "submit", "attest": "yes", **posted},
        )
    assert filed.status_code == 302, text_of(filed)
    second = reports_of(agreement)[-1]
    assert [(r.customer_id, r.quantity) for r in _rows(second.id)] == [("A", 70), ("C", 20)]


def test_a_form_left_as_drawn_files_nothing_and_a_nil_report_is_still_filed(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    _first_quarter_filed(file_report, vendor, agreement)
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        untouched = client.post(
            period_url(agreement, 2),
            data={"mode": "form", "action": "submit", "attest": "yes", **typed(*DRAWN)},
        )
        assert len(reports_of(agreement)) == 1
        nil = client.post(
            period_url(agreement, 2), data={"mode": "nil", "action": "submit", "attest": "yes"}
        )
    assert untouched.status_code == 422
    assert "Type at least one customer's row. If there is nothing to report this period, " in (
        text_of(untouched)
    )
    assert nil.status_code == 302
    assert reports_of(agreement)[-1].row_count == 0


def test_a_customer_typed_without_a_quantity_is_still_refused(
    client: FlaskClient, signed_in: SignIn, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    # Only rows left exactly as drawn are left out: one the vendor typed is checked.
    agreement = active_agreement(vendor, SOFTWARE)
    _first_quarter_filed(file_report, vendor, agreement)
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            period_url(agreement, 2),
            data={
                "mode": "form",
                "action": "submit",
                "attest": "yes",
                **typed(row(1, "A", quantity=70), row(1, "D")),
            },
        )
    assert refused.status_code == 422
    assert len(reports_of(agreement)) == 1


def _rows(report_id: int) -> list[RoyaltyReportRow]:
    return list(
        db.session().scalars(
            select(RoyaltyReportRow)
            .where(RoyaltyReportRow.report_id == report_id)
            .order_by(RoyaltyReportRow.row_number)
        )
    )
