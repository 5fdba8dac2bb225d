"""Round 57: a submission without its attestation (or an amendment without its
reason) is refused with every problem of its rows in the same answer
(contracts/royalty-reports.md: "Every problem in a report is reported at once, and
nothing is stored when any row is invalid"). Before, `filing._check_submission`
refused the attestation before a row was read: the vendor attested, sent the report
again and only then learned its rows were wrong. By every path: the API's JSON and
CSV, first filings and amendments, the period page's typed rows and CSV upload."""

from __future__ import annotations

import io
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.royalties.states import SUBMITTED
from tests.integration.royalties.conftest import (
    AFTER,
    SOFTWARE,
    period_url,
    reports_of,
    row,
    stored_rows,
    typed,
)
from tests.support import factories
from tests.support.pages import text_of

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"
ATTEST = "Attest that the report is complete and accurate (attest: true)."
REASON = "Say why the report is amended."
QUANTITY = "Must be a whole number, 0 or more."
COUNTRY = "Not an ISO 3166-1 alpha-2 country code"
PROBLEM = "application/problem+json"

# The second row refused for its quantity, the third for its country.
ROWS = [
    row(1, "A", quantity=10),
    row(1, "B", quantity="many"),
    row(1, "C", quantity=5, country="ZZ"),
]
FILE = (
    f"{HEADER}\n"
    "1,A,Clinic A,US,end_users,10,\n"
    "1,B,Clinic B,US,end_users,many,\n"
    "1,C,Clinic C,ZZ,end_users,5,\n"
)


def _url(agreement: Any, suffix: str = "") -> str:
    return f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01{suffix}"


def _assert_problem(answer: Any, keys: list[str]) -> dict[str, list[str]]:
    """The contract's error: problem+json, 422, every problem keyed in `errors`."""
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.mimetype == PROBLEM
    document = answer.get_json()
    assert document["status"] == 422
    assert sorted(document["errors"]) == sorted(keys)
    errors: dict[str, list[str]] = document["errors"]
    return errors


def test_the_api_refuses_a_first_report_without_attest_with_every_rows_problem(
    client: FlaskClient, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    with time_machine.travel(AFTER[1], tick=False):
        answers = {
            "json": client.post(_url(agreement), json={"rows": ROWS}, headers=headers),
            "json attest false": client.post(
                _url(agreement), json={"attest": False, "rows": ROWS}, headers=headers
            ),
            "csv": client.post(
                _url(agreement), data=FILE, content_type="text/csv", headers=headers
            ),
        }
        malformed = client.post(
            _url(agreement, "/preview?attest=yes"),
            data=FILE,
            content_type="text/csv",
            headers=headers,
        )
    # JSON numbers rows from 0; a CSV file by its line numbers (the header is line 1).
    for name, (quantity, country) in {
        "json": (1, 2),
        "json attest false": (1, 2),
        "csv": (3, 4),
    }.items():
        errors = _assert_problem(
            answers[name], ["attest", f"rows.{quantity}.quantity", f"rows.{country}.country"]
        )
        assert errors["attest"] == [ATTEST], name
        assert errors[f"rows.{quantity}.quantity"] == [QUANTITY], name
        assert errors[f"rows.{country}.country"][0].startswith(COUNTRY), name
        assert next(iter(errors)) == "attest", name  # the submission's, then the rows'
    # A malformed attestation, refused by a preview too, comes with the rows' problems.
    errors = _assert_problem(malformed, ["attest", "rows.3.quantity", "rows.4.country"])
    assert errors["attest"] == ["Give attest as true or false (true to file the report)."]
    assert reports_of(agreement) == []
    assert stored_rows() == 0


def test_the_api_refuses_an_amendment_without_attest_or_reason_with_every_rows_problem(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=10)])
    headers = factories.bearer(vendor)
    amends = first.report.id
    with time_machine.travel(AFTER[2], tick=False):
        json_answer = client.post(
            _url(agreement), json={"amends": amends, "rows": ROWS}, headers=headers
        )
        csv_answer = client.post(
            _url(agreement, f"?amends={amends}"),
            data=FILE,
            content_type="text/csv",
            headers=headers,
        )
        reasonless = client.post(
            _url(agreement),
            json={"attest": True, "amends": amends, "reason": " ", "rows": ROWS},
            headers=headers,
        )
        unreadable_id = client.post(
            _url(agreement), json={"amends": "RR-1", "reason": "x", "rows": ROWS}, headers=headers
        )
    for answer, (quantity, country) in ((json_answer, (1, 2)), (csv_answer, (3, 4))):
        errors = _assert_problem(
            answer, ["attest", "reason", f"rows.{quantity}.quantity", f"rows.{country}.country"]
        )
        assert errors["attest"] == [ATTEST]
        assert errors["reason"] == [REASON]
    _assert_problem(reasonless, ["reason", "rows.1.quantity", "rows.2.country"])
    # An amended report that cannot be told: its id's problem beside the rows' too.
    errors = _assert_problem(
        unreadable_id, ["attest", "amends", "rows.1.quantity", "rows.2.country"]
    )
    assert errors["amends"] == ["Give the id of the report amended."]
    # Nothing stored, nothing superseded.
    (report,) = reports_of(agreement)
    assert report.id == amends
    assert report.state == SUBMITTED
    assert stored_rows() == 1


def test_the_api_refuses_good_rows_without_attest_and_tells_the_period_first(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    good = [row(1, "A", quantity=10)]
    with time_machine.travel(AFTER[1], tick=False):
        unattested = client.post(_url(agreement), json={"rows": good}, headers=headers)
    # Good rows: the attestation alone, as before.
    assert _assert_problem(unattested, ["attest"])["attest"] == [ATTEST]
    assert reports_of(agreement) == []
    file_report(vendor, agreement, 1, good)
    with time_machine.travel(AFTER[1], tick=False):
        filed_already = client.post(_url(agreement), json={"rows": ROWS}, headers=headers)
    # The period cannot take a first report: the 409 says to amend, before the rows.
    assert filed_already.status_code == 409
    assert "amend it" in filed_already.get_json()["detail"]
    assert len(reports_of(agreement)) == 1


def test_the_period_page_shows_the_attestation_beside_every_rows_problem(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        form = client.post(
            period_url(agreement, 1), data={"mode": "form", "action": "submit", **typed(*ROWS)}
        )
        upload = client.post(
            period_url(agreement, 1),
            data={
                "mode": "csv",
                "action": "submit",
                "file": (io.BytesIO(FILE.encode()), "q1.csv"),
            },
            content_type="multipart/form-data",
        )
    assert form.status_code == 422
    text = text_of(form)
    assert f"Attestation: {ATTEST}" in text
    assert f"Row 2, quantity: {QUANTITY}" in text
    assert f"Row 3, country: {COUNTRY}" in text
    assert 'href="#attest-form"' in form.get_data(as_text=True)
    assert upload.status_code == 422
    text = text_of(upload)
    assert f"Attestation: {ATTEST}" in text
    assert f"Line 3 of the file, quantity: {QUANTITY}" in text
    assert f"Line 4 of the file, country: {COUNTRY}" in text
    assert reports_of(agreement) == []
    assert stored_rows() == 0


def test_the_period_page_refuses_an_amendment_without_attestation_or_reason_with_its_rows(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=10)])
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            period_url(agreement, 1),
            data={
                "mode": "form",
                "action": "submit",
                "amends": first.report.id,
                **typed(*ROWS),
            },
        )
    assert refused.status_code == 422
    text = text_of(refused)
    assert f"Attestation: {ATTEST}" in text
    assert f"Reason for the amendment: {REASON}" in text
    assert f"Row 2, quantity: {QUANTITY}" in text
    assert f"Row 3, country: {COUNTRY}" in text
    (report,) = reports_of(agreement)
    assert report.state == SUBMITTED
