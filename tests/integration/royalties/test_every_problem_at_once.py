"""Round 56: a report's rows are refused with every problem at once, a repeated
customer included (contracts/royalty-reports.md: "Two rows of one report with the
same line, unit and customer ... are an error naming both rows. Every problem in a
report is reported at once"). The vendor's walk uploaded a file whose row 2 had a
bad country and quantity and whose row 4 repeated row 2's customer: the page named
row 2's problems alone, and the repeat only on the next upload, once row 2 was
corrected (`filing._check_rows` compared the good rows alone). By every path: the
CSV upload and the typed rows on the period's page, and the API's JSON and CSV."""

from __future__ import annotations

from typing import Any

import time_machine
from flask.testing import FlaskClient

from tests.integration.royalties.conftest import (
    AFTER,
    SOFTWARE,
    period_url,
    previewed_csv,
    reports_of,
    row,
    stored_rows,
    typed,
)
from tests.support import factories
from tests.support.pages import text_of

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"

REPEAT = "both report customer 'q-7' on line 1 in end_users; give each customer once"
# Row 2 (line 2 of a file) refused for its country and quantity; row 4 repeats it.
FILE = (
    f"{HEADER}\n"
    "1,Q-7,Clinic Q,USA,end_users,many,\n"
    "1,A,Clinic A,US,end_users,10,\n"
    "1,q-7,Clinic Q,US,end_users,60,\n"
)


def test_an_uploaded_file_names_a_refused_row_and_its_repeat_in_one_answer(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = previewed_csv(client, agreement, 1, FILE)
    assert refused.status_code == 422
    text = text_of(refused)
    assert "Line 2 of the file, country: Not an ISO 3166-1 alpha-2 country code" in text
    assert "Line 2 of the file, quantity: Must be a whole number, 0 or more." in text
    assert f"Line 4 of the file, customer ID: Rows 2 and 4 {REPEAT}" in text
    assert reports_of(agreement) == []


def test_typed_rows_name_a_repeat_beside_a_refused_row_and_store_nothing(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    rows = typed(
        row(1, "A", quantity=10),
        row(1, "Q-7", quantity=60),
        row(1, "q-7", quantity="many", country="ZZ"),
    )
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            period_url(agreement, 1),
            data={"mode": "form", "action": "submit", "attest": "yes", **rows},
        )
    assert refused.status_code == 422
    text = text_of(refused)
    assert "Row 3, country: Not an ISO 3166-1 alpha-2 country code" in text
    assert "Row 3, quantity: Must be a whole number, 0 or more." in text
    assert f"Row 3, customer ID: Rows 2 and 3 {REPEAT}" in text
    assert reports_of(agreement) == []
    assert stored_rows() == 0


def test_the_api_answers_every_problem_of_a_json_or_csv_report_at_once(
    client: FlaskClient, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    rows = [
        row(1, "Q-7", quantity="many", country="USA"),
        row(1, "A", quantity=10),
        row(1, "q-7", quantity=60),
    ]
    body = {"attest": True, "rows": rows}
    url = f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01"
    headers = factories.bearer(vendor)
    with time_machine.travel(AFTER[1], tick=False):
        answers = {
            "json": client.post(url, json=body, headers=headers),
            "csv": client.post(
                f"{url}?attest=true", data=FILE, content_type="text/csv", headers=headers
            ),
            "json preview": client.post(f"{url}/preview", json=body, headers=headers),
        }
    for path, answer in answers.items():
        assert answer.status_code == 422, path
        assert answer.content_type == "application/problem+json"
    # JSON numbers rows from 0; a CSV file by its line numbers (the header is line 1).
    for path, (first, repeat) in {"json": (0, 2), "csv": (2, 4), "json preview": (0, 2)}.items():
        errors = answers[path].get_json()["errors"]
        assert sorted(errors) == [
            f"rows.{first}.country",
            f"rows.{first}.quantity",
            f"rows.{repeat}.customer_id",
        ], path
        assert errors[f"rows.{repeat}.customer_id"] == [
            f"Rows {first} and {repeat} {REPEAT} per line and unit."
        ], path
    assert reports_of(agreement) == []
    assert stored_rows() == 0
