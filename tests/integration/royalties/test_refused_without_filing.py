"""Round 58: a report that cannot be filed as sent (no attestation, an amendment
without its reason) is refused with every problem of its rows found by reading them,
not by filing them: no report or row is written, even in a transaction rolled back,
and nothing is priced (round 57 stored and priced a 200,000-row upload to refuse
it). The answer is the contract's as before: one 422, the submission's problems
first, then every `rows.N.FIELD` in row order; the period's 409 before any of them.

And a key given twice in a row (a JSON object, a CSV header naming a column twice) is
one of the report's problems, told with the others in that answer (round 55 made it
a 400 naming the first repeat alone)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import event

from licensing import db
from licensing.royalties.computation import Pricer
from licensing.royalties.states import SUBMITTED
from tests.integration.royalties.conftest import (
    AFTER,
    SOFTWARE,
    previewed_csv,
    reports_of,
    row,
    stored_rows,
)
from tests.support import factories
from tests.support.pages import text_of

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"
ATTEST = "Attest that the report is complete and accurate (attest: true)."
REASON = "Say why the report is amended."
QUANTITY = "Must be a whole number, 0 or more."
COUNTRY = (
    "Not an ISO 3166-1 alpha-2 country code (such as US, CA or DE). ZZZ has three letters: "
    "give the two-letter code, as US for USA."
)
ROWS = [
    row(1, "A", quantity=10),
    row(1, "B", quantity="many"),
    row(1, "C", quantity=5, country="ZZZ"),
]
FILE = (
    f"{HEADER}\n"
    "1,A,Clinic A,US,end_users,10,\n"
    "1,B,Clinic B,US,end_users,many,\n"
    "1,C,Clinic C,ZZZ,end_users,5,\n"
)


def twice(key: str) -> str:
    return f'The key "{key}" is given more than once: give each key once.'


def _url(agreement: Any, suffix: str = "") -> str:
    return f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01{suffix}"


@contextmanager
def _nothing_filed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fails the test if a report, a row or a period's filing is written (even in a
    transaction rolled back: the statements are watched) or a line priced."""

    def priced(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a refused report was priced")

    monkeypatch.setattr(Pricer, "royalty", priced)
    engine = db.session().get_bind()
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)
    written = [
        sql
        for sql in sent
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "COPY", "DELETE"))
        and ("royalty_report" in sql or "reporting_periods" in sql)
    ]
    assert written == []


def _errors(answer: Any) -> dict[str, list[str]]:
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    document = answer.get_json()
    assert document["detail"] == "The report has problems."
    errors: dict[str, list[str]] = document["errors"]
    return errors


def _in_order(errors: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    return list(errors.items())


def test_a_report_without_attest_is_refused_with_every_rows_problem_writing_and_pricing_nothing(
    client: FlaskClient, vendor: Any, active_agreement: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    with time_machine.travel(AFTER[1], tick=False), _nothing_filed(monkeypatch):
        by_json = client.post(_url(agreement), json={"rows": ROWS}, headers=headers)
        by_csv = client.post(_url(agreement), data=FILE, content_type="text/csv", headers=headers)
        good_rows = client.post(_url(agreement), json={"rows": ROWS[:1]}, headers=headers)
    # The contract's answer, in its order: the submission's problem, then the rows'.
    assert _in_order(_errors(by_json)) == [
        ("attest", [ATTEST]),
        ("rows.1.quantity", [QUANTITY]),
        ("rows.2.country", [COUNTRY]),
    ]
    assert _in_order(_errors(by_csv)) == [
        ("attest", [ATTEST]),
        ("rows.3.quantity", [QUANTITY]),
        ("rows.4.country", [COUNTRY]),
    ]
    assert _in_order(_errors(good_rows)) == [("attest", [ATTEST])]
    assert reports_of(agreement) == []
    assert stored_rows() == 0


def test_an_amendment_without_attest_or_reason_is_refused_writing_and_superseding_nothing(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,
    file_report: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=10)])
    headers = factories.bearer(vendor)
    amends = first.report.id
    with time_machine.travel(AFTER[2], tick=False), _nothing_filed(monkeypatch):
        refused = client.post(
            _url(agreement), json={"amends": amends, "rows": ROWS}, headers=headers
        )
        preview = client.post(
            _url(agreement, "/preview"),
            json={"attest": "yes", "amends": amends, "reason": "Clinic B", "rows": ROWS},
            headers=headers,
        )
    assert _in_order(_errors(refused)) == [
        ("attest", [ATTEST]),
        ("reason", [REASON]),
        ("rows.1.quantity", [QUANTITY]),
        ("rows.2.country", [COUNTRY]),
    ]
    # A malformed attestation, which a preview refuses too, is told the same way.
    assert list(_errors(preview)) == ["attest", "rows.1.quantity", "rows.2.country"]
    (report,) = reports_of(agreement)
    assert report.id == amends
    assert report.state == SUBMITTED
    assert stored_rows() == 1


def test_the_periods_refusal_comes_before_the_rows_of_a_report_without_attest(
    client: FlaskClient, vendor: Any, active_agreement: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    with (
        time_machine.travel(datetime(2027, 3, 15, 15, tzinfo=UTC), tick=False),
        _nothing_filed(monkeypatch),
    ):
        refused = client.post(_url(agreement), json={"rows": ROWS}, headers=headers)
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert "has not ended" in refused.get_json()["detail"]


def _with_repeats(rows: list[dict[str, Any]], repeats: dict[int, tuple[str, Any]]) -> str:
    """`{"rows": rows}` as JSON text with the row at each index giving a key again."""
    texts = []
    for index, fields in enumerate(rows):
        text = json.dumps(fields)
        if index in repeats:
            key, value = repeats[index]
            text = text[:-1] + f", {json.dumps(key)}: {json.dumps(value)}}}"
        texts.append(text)
    return '{"rows": [' + ", ".join(texts) + "]}"


def test_a_row_giving_a_key_twice_is_told_beside_every_other_problem_in_row_order(
    client: FlaskClient, vendor: Any, active_agreement: Any
) -> None:
    """Row 0 gives its quantity twice: refused, its customer still counted, so row 2,
    which repeats it, is named. Row 3 gives its customer id twice: which customer it
    reports cannot be told, so it repeats nobody."""
    agreement = active_agreement(vendor, SOFTWARE)
    rows = [
        row(1, "A", quantity=10),
        row(1, "B", quantity=5, country="ZZZ"),
        row(1, "a", quantity=12),
        row(1, "D", quantity=7),
    ]
    text = _with_repeats(rows, {0: ("quantity", 4000), 3: ("customer_id", "B")})
    headers = {**factories.bearer(vendor), "Content-Type": "application/json"}
    with time_machine.travel(AFTER[1], tick=False):
        unattested = client.post(_url(agreement), data=text, headers=headers)
        attested = client.post(
            _url(agreement), data=text.replace("{", '{"attest": true, ', 1), headers=headers
        )
        previewed = client.post(_url(agreement, "/preview"), data=text, headers=headers)
    repeat = "Rows 0 and 2 both report customer 'a' on line 1 in end_users; give each customer"
    expected = [
        ("rows.0.quantity", [twice("quantity")]),
        ("rows.1.country", [COUNTRY]),
        ("rows.2.customer_id", [f"{repeat} once per line and unit."]),
        ("rows.3.customer_id", [twice("customer_id")]),
    ]
    assert _in_order(_errors(unattested)) == [("attest", [ATTEST]), *expected]
    for answer in (attested, previewed):
        assert answer.status_code == 422, answer.get_data(as_text=True)
        assert answer.get_json()["detail"] == "Some rows of the report have problems."
        assert _in_order(answer.get_json()["errors"]) == expected
    assert reports_of(agreement) == []
    assert stored_rows() == 0


def test_a_key_given_twice_in_the_body_itself_is_still_a_400(
    client: FlaskClient, vendor: Any, active_agreement: Any
) -> None:
    """Which attestation (or which rows) a body means cannot be told: not a row's
    problem, so refused as a whole, as round 55 refused it."""
    agreement = active_agreement(vendor, SOFTWARE)
    headers = {**factories.bearer(vendor), "Content-Type": "application/json"}
    text = '{"attest": false, "rows": [], "attest": true}'
    with time_machine.travel(AFTER[1], tick=False):
        refused = client.post(_url(agreement), data=text, headers=headers)
    assert refused.status_code == 400
    assert refused.get_json()["errors"] == {"attest": [twice("attest")]}


def test_a_csv_header_naming_a_column_twice_is_told_with_the_attestation(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    header = "line,customer_id,customer_name,country,unit,quantity,quantity"
    content = f"{header}\n1,A,Clinic A,US,end_users,10,4000\n"
    named = (
        "The column quantity is named more than once: give each column once. "
        f"The first line must be exactly: {HEADER}"
    )
    with time_machine.travel(AFTER[1], tick=False):
        refused = client.post(
            _url(agreement), data=content, content_type="text/csv", headers=factories.bearer(vendor)
        )
        signed_in(client, vendor)
        page = previewed_csv(client, agreement, 1, content)
    assert _in_order(_errors(refused)) == [("attest", [ATTEST]), ("rows.1.quantity", [named])]
    assert page.status_code == 422
    assert f"Line 1 of the file, quantity: {named}" in text_of(page)
    assert reports_of(agreement) == []


def test_a_csv_header_with_another_mistake_is_told_as_before(
    client: FlaskClient, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    content = "line,customer,customer_name,country,unit,quantity,revenue\n"
    with time_machine.travel(AFTER[1], tick=False):
        refused = client.post(
            _url(agreement, "?attest=true"),
            data=content,
            content_type="text/csv",
            headers=factories.bearer(vendor),
        )
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {"rows.1": [f"The first line must be exactly: {HEADER}"]}


def test_an_uploaded_file_without_attestation_is_refused_on_the_page_with_its_rows(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            f"/portal/royalty-reports/{agreement.id}/2027-01-01",
            data={"mode": "csv", "action": "submit", "file": (io.BytesIO(FILE.encode()), "q.csv")},
            content_type="multipart/form-data",
        )
    assert refused.status_code == 422
    text = text_of(refused)
    assert f"Attestation: {ATTEST}" in text
    assert f"Line 3 of the file, quantity: {QUANTITY}" in text
    assert reports_of(agreement) == []
