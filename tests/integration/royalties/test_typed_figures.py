"""Round 56: the rows a vendor types on a period's page read their figures as every
page's money and count fields do (`money.ungrouped`): "12,500.00" revenue and
"2,500" end users, as pages write them, are filed as 12500.00 and 2500; a comma
anywhere else is refused beside its cell with the rows' own message, nothing filed.
Until round 56 these cells alone refused "12,500.00", which the billing pages, the
estimator and the application read. A CSV file keeps the contract's plain figures."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.royalties.models import RoyaltyReportRow
from tests.integration.royalties.conftest import (
    AFTER,
    DATA_FILE,
    SOFTWARE,
    period_url,
    previewed_csv,
    reports_of,
    row,
    stored_rows,
    typed,
)
from tests.support.pages import text_of

ROW_MESSAGE = "Must be an amount of 0 or more, such as 1250.00"


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _submitted(client: FlaskClient, agreement: Any, *rows: dict[str, Any]) -> Any:
    return client.post(
        period_url(agreement, 1),
        data={"mode": "form", "action": "submit", "attest": "yes", **typed(*rows)},
    )


def test_revenue_typed_with_thousands_grouped_is_filed_for_that_amount(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, DATA_FILE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        filed = _submitted(client, agreement, row(1, "A", unit="", revenue="12,500.50"))
    assert filed.status_code == 302, _page(filed)[:3000]
    assert db.session().scalars(select(RoyaltyReportRow.revenue)).one() == Decimal("12500.50")


def test_a_quantity_typed_with_thousands_grouped_is_filed_for_that_count(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        filed = _submitted(client, agreement, row(1, "A", quantity="2,500"))
    assert filed.status_code == 302, _page(filed)[:3000]
    assert db.session().scalars(select(RoyaltyReportRow.quantity)).one() == 2500


@pytest.mark.parametrize("revenue", ["12500,00", "1,25,00.00", "12,50.00", "0,125.00"])
def test_revenue_with_a_comma_not_between_thousands_is_refused_and_shown_as_typed(
    revenue: str, client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, DATA_FILE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = _submitted(client, agreement, row(1, "A", unit="", revenue=revenue))
    page = _page(refused)
    assert refused.status_code == 422
    assert ROW_MESSAGE in page
    assert re.search(rf'name="rows-1-revenue" value="{re.escape(revenue)}"', page)
    assert reports_of(agreement) == []
    assert stored_rows() == 0


def test_a_quantity_with_a_comma_not_between_thousands_is_refused(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = _submitted(client, agreement, row(1, "A", quantity="25,00"))
    assert refused.status_code == 422
    assert "Must be a whole number, 0 or more." in _page(refused)
    assert stored_rows() == 0


def test_a_csv_file_keeps_the_contracts_plain_figures(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, DATA_FILE)
    content = (
        "line,customer_id,customer_name,country,unit,quantity,revenue\n"
        '1,A,Clinic A,US,,,"12,500.00"\n'
    )
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = previewed_csv(client, agreement, 1, content)
    assert refused.status_code == 422
    assert ROW_MESSAGE in _page(refused)


def test_a_csv_figure_grouped_in_thousands_is_refused_with_how_to_write_it(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    # Round 56: the vendor's walk uploaded "1,200" end users, which the rows form
    # takes; the file's refusal said only "Must be a whole number, 0 or more.", and
    # the vendor could not tell what was wrong with 1,200.
    agreement = active_agreement(vendor, SOFTWARE)
    content = (
        "line,customer_id,customer_name,country,unit,quantity,revenue\n"
        '1,A,Clinic A,US,end_users,"1,200",\n'
    )
    revenue = (
        "line,customer_id,customer_name,country,unit,quantity,revenue\n"
        '1,A,Clinic A,US,,,"12,500.00"\n'
    )
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = previewed_csv(client, agreement, 1, content)
        refused_revenue = previewed_csv(client, active_agreement(vendor, DATA_FILE), 1, revenue)
    assert refused.status_code == 422
    assert (
        "Line 2 of the file, quantity: Must be a whole number, 0 or more. Write it without "
        "thousands separators: 1200, not 1,200."
    ) in text_of(refused)
    assert "Write it without thousands separators: 12500.00, not 12,500.00." in _page(
        refused_revenue
    )
    assert reports_of(agreement) == []


def test_a_three_letter_country_code_is_refused_with_the_two_letter_one_asked_for(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    # Round 56: the walk's file said USA, and the refusal named the standard alone.
    agreement = active_agreement(vendor, SOFTWARE)
    content = (
        "line,customer_id,customer_name,country,unit,quantity,revenue\n"
        "1,A,Clinic A,USA,end_users,12,\n"
    )
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = previewed_csv(client, agreement, 1, content)
    assert refused.status_code == 422
    assert (
        "Line 2 of the file, country: Not an ISO 3166-1 alpha-2 country code (such as US, CA "
        "or DE). USA has three letters: give the two-letter code, as US for USA."
    ) in text_of(refused)
    assert reports_of(agreement) == []
