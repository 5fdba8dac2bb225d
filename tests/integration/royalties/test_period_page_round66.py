"""Round 66 (journeyV66): what a new vendor stumbled on filing a first royalty report
on the period page (docs/journeys.md, "Round 66: a vendor's first weeks, walked
fresh").

- The CSV template draws a row for each reportable line and unit with only its
  `line` and `unit`; a vendor who added customers below those rows was refused for
  each of them ("Line 2 of the file, customer ID: Give the customer id", and so on),
  though the page's form leaves out such rows. The page's uploads now leave them out
  too; a file of nothing else is refused as a form with no row typed is, not filed as
  a nil report. The API reads every row, as its contract says.
- "expected 7 columns, found 8" named no cause: a quantity typed "1,200" is the
  commonest.
- A row typed for line 1 with its quantity kept the unit "— (revenue only)" and was
  refused "Give the unit: line 1's rule counts end_users", the one unit it could be.
- The royalty's table said each line by its number alone: a sentence under it names
  each line's product."""

from __future__ import annotations

import io
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.royalties.models import RoyaltyReportRow
from licensing.royalties.rows import TEMPLATE_ONLY
from tests.integration.royalties.conftest import (
    AFTER,
    DATA_FILE,
    SOFTWARE,
    period_url,
    previewed_csv,
    reports_of,
    row,
    typed,
)
from tests.support import factories
from tests.support.pages import text_of

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"
# The template of an agreement licensing SOFTWARE (line 1, end users) and DATA_FILE
# (line 2, revenue), as the page's link downloads it.
TEMPLATE = f"{HEADER}\n1,,,,end_users,,\n2,,,,,,\n"


def test_the_customers_added_below_the_templates_rows_are_filed_and_the_drawn_rows_left_out(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    added = "1,A,Clinic A,US,end_users,60,\n2,A,Clinic A,US,,,5000.00\n"
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        template = client.get(f"{period_url(agreement, 1)}/template.csv")
        assert template.get_data(as_text=True) == TEMPLATE
        preview = previewed_csv(client, agreement, 1, TEMPLATE + added)
        filed = client.post(
            period_url(agreement, 1),
            data={
                "mode": "csv",
                "action": "submit",
                "attest": "yes",
                "file": (io.BytesIO((TEMPLATE + added).encode()), "q1.csv"),
            },
            content_type="multipart/form-data",
        )
    assert preview.status_code == 200, text_of(preview)
    assert "Preview: what this report would charge" in text_of(preview)
    assert "Please correct" not in text_of(preview)
    assert filed.status_code == 302, text_of(filed)
    (report,) = reports_of(agreement)
    assert report.row_count == 2
    # The page says so beside the template's link.
    page = text_of(preview)
    assert (
        "Fill in the template's rows or add yours below them: a row left with only its "
        "line and unit is left out."
    ) in page


def test_the_template_uploaded_as_drawn_is_refused_not_filed_as_a_nil_report(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            period_url(agreement, 1),
            data={
                "mode": "csv",
                "action": "submit",
                "attest": "yes",
                "file": (io.BytesIO(TEMPLATE.encode()), "q1.csv"),
            },
            content_type="multipart/form-data",
        )
        # The API reads every row, as its contract says: the drawn rows are refused.
        api = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01?attest=true",
            data=TEMPLATE.encode(),
            headers={**factories.bearer(vendor), "Content-Type": "text/csv"},
        )
    assert refused.status_code == 422
    assert f"Line 2 of the file: {TEMPLATE_ONLY}" in text_of(refused)
    assert "customer ID" not in text_of(refused).split("Please correct", 1)[1][:400]
    assert api.status_code == 422
    assert "rows.2.customer_id" in api.get_json()["errors"]
    assert reports_of(agreement) == []


def test_a_quantity_written_with_a_thousands_comma_is_told_how_to_write_it(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = previewed_csv(
            client, agreement, 1, f"{HEADER}\n1,A,Clinic A,US,end_users,1,200,\n1,B,Clinic B\n"
        )
    text = text_of(refused)
    assert (
        "Line 2 of the file: expected 7 columns, found 8: a comma inside a value starts a "
        "new column. Write numbers without a thousands separator (1200, not 1,200) and put "
        'a name with a comma in double quotes ("Fernhill, North").'
    ) in text
    assert (
        "Line 3 of the file: expected 7 columns, found 3: give every column of the header "
        "in each row, empty where there is nothing."
    ) in text


def test_the_royalty_table_names_each_lines_product_beside_its_number(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    content = f"{HEADER}\n1,A,Clinic A,US,end_users,60,\n2,A,Clinic A,US,,,5000.00\n"
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        preview = previewed_csv(client, agreement, 1, content)
    software, feed = SOFTWARE["product_name"], DATA_FILE["product_name"]
    assert f"Total due 6,110.00 USD Line 1 is {software}; line 2 is {feed}." in text_of(preview)


def test_a_typed_row_given_a_quantity_and_no_unit_is_taken_in_its_lines_one_unit(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    posted = typed(row(1, "A", unit="", quantity=60), row(2, "A", unit="", revenue="5000.00"))
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        filed = client.post(
            period_url(agreement, 1),
            data={"mode": "form", "action": "submit", "attest": "yes", **posted},
        )
    assert filed.status_code == 302, text_of(filed)
    (report,) = reports_of(agreement)
    units = db.session().scalars(
        select(RoyaltyReportRow.unit)
        .where(RoyaltyReportRow.report_id == report.id)
        .order_by(RoyaltyReportRow.line)
    )
    assert [unit or "" for unit in units] == ["end_users", ""]
