"""The royalty-report API: periods, the CSV template, JSON and CSV submissions,
previews, amendments, the stored report and its rows, isolation."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from licensing import db
from licensing.royalties.models import QUANTITY_MAX, RoyaltyReport, RoyaltyReportRow
from tests.integration.royalties.conftest import AFTER, DATA_FILE, SOFTWARE, row
from tests.support import factories

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"


def url(agreement: Any, tail: str = "") -> str:
    return f"/api/v1/agreements/{agreement.id}/royalty-reports{tail}"


def test_the_periods_of_an_agreement_are_its_quarters_with_their_states(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[2], tick=False):
        response = client.get(url(agreement), headers=factories.bearer(vendor))
    assert response.status_code == 200
    periods = response.get_json()
    assert [p["period"] for p in periods] == [
        {"start": "2027-01-01", "end": "2027-03-31"},
        {"start": "2027-04-01", "end": "2027-06-30"},
        {"start": "2027-07-01", "end": "2027-09-30"},
        {"start": "2027-10-01", "end": "2027-12-31"},
    ]
    assert [p["due_on"] for p in periods] == [
        "2027-04-30",
        "2027-07-30",
        "2027-10-30",
        "2028-01-30",
    ]
    # On 2027-07-02: Q1 is past its due date, Q2 just ended, Q3 and Q4 are ahead.
    assert [p["state"] for p in periods] == ["overdue", "due", "upcoming", "upcoming"]
    assert periods[0]["report_id"] is None
    assert periods[0]["total_due"] is None


def test_a_json_report_is_filed_invoiced_and_read_back(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    body = {"attest": True, "rows": [row(1, "A", quantity=60), row(1, "B", quantity=40)]}
    with time_machine.travel(AFTER[1], tick=False):
        preview = client.post(url(agreement, "/2027-01-01/preview"), json=body, headers=headers)
        assert preview.status_code == 200, preview.get_json()
        assert preview.get_json()["id"] is None
        assert preview.get_json()["invoice"] is None
        filed = client.post(url(agreement, "/2027-01-01"), json=body, headers=headers)
    assert filed.status_code == 201, filed.get_json()
    document = filed.get_json()
    assert document["agreement"] == agreement.number
    assert document["period"] == {"start": "2027-01-01", "end": "2027-03-31"}
    assert document["state"] == "submitted"
    assert document["amends"] is None
    assert document["currency"] == "USD"
    assert document["lines"][0]["quantities_to_date"] == {"end_users": 100}
    assert document["lines"][0]["amount_to_date"] == "1850.00"
    assert document["lines"][0]["charged_before"] == "0.00"
    assert document["lines"][0]["due"] == "1850.00"
    assert document["lines"][0]["revenue_to_date"] is None
    assert document["total_due"] == preview.get_json()["total_due"] == "1850.00"
    assert document["invoice"].startswith("INV-2027-")
    again = client.get(f"/api/v1/royalty-reports/{document['id']}", headers=headers)
    assert again.get_json()["lines"] == document["lines"]
    listed = client.get(url(agreement), headers=headers).get_json()
    assert listed[0]["state"] == "submitted"
    assert listed[0]["report_id"] == document["id"]
    assert listed[0]["invoice"] == document["invoice"]
    rows = client.get(f"/api/v1/royalty-reports/{document['id']}/rows", headers=headers)
    assert rows.mimetype == "text/csv"
    assert rows.get_data(as_text=True).splitlines() == [
        HEADER,
        "1,A,Clinic A,US,end_users,60,",
        "1,B,Clinic B,US,end_users,40,",
    ]


def test_rows_downloaded_safe_for_spreadsheets_file_again_as_the_same_customers(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    # The rows download writes '+44-7 so a spreadsheet does not run it as a formula;
    # filing that file for the next period read "'+44-7" as a new customer, so the
    # same clinic was counted twice and the royalty charged on both.
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    first = {"attest": True, "rows": [row(1, "+44-7", quantity=60, customer_name="@Home")]}
    with time_machine.travel(AFTER[1], tick=False):
        filed = client.post(url(agreement, "/2027-01-01"), json=first, headers=headers)
    assert filed.status_code == 201, filed.get_json()
    download = client.get(f"/api/v1/royalty-reports/{filed.get_json()['id']}/rows", headers=headers)
    text = download.get_data(as_text=True)
    assert "'+44-7,'@Home" in text  # still safe to open in a spreadsheet
    # The next period's template, prefilled with these customers, is as safe: it
    # used to write @Home bare, which a spreadsheet runs as a formula (#NAME?).
    template = client.get(url(agreement, "/2027-04-01/template"), headers=headers)
    assert "1,'+44-7,'@Home,US,end_users,," in template.get_data(as_text=True).splitlines()
    with time_machine.travel(AFTER[2], tick=False):
        again = client.post(
            url(agreement, "/2027-04-01?attest=true"),
            data=text.encode(),
            headers={**headers, "Content-Type": "text/csv"},
        )
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["lines"][0]["quantities_to_date"] == {"end_users": 60}
    assert again.get_json()["total_due"] == "0.00"
    stored = db.session().scalars(select(RoyaltyReportRow.customer_id)).all()
    assert set(stored) == {"+44-7"}


def test_a_csv_report_keys_each_problem_by_its_line_in_the_file(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = {**factories.bearer(vendor), "Content-Type": "text/csv"}
    text = f"{HEADER}\n1,A,Clinic A,US,end_users,60,\n1,B,Clinic B,ZZ,end_users,-1,\n"
    with time_machine.travel(AFTER[1], tick=False):
        refused = client.post(
            url(agreement, "/2027-01-01?attest=true"), data=text.encode(), headers=headers
        )
        assert refused.status_code == 422
        assert refused.mimetype == "application/problem+json"
        assert set(refused.get_json()["errors"]) == {"rows.3.country", "rows.3.quantity"}
        assert db.session().scalars(select(RoyaltyReport)).all() == []
        good = text.replace("ZZ,end_users,-1", "CA,end_users,5")
        filed = client.post(
            url(agreement, "/2027-01-01?attest=true"), data=good.encode(), headers=headers
        )
    assert filed.status_code == 201, filed.get_json()
    assert filed.get_json()["total_due"] == "1202.50"  # 65 x 18.50
    report = db.session().get(RoyaltyReport, filed.get_json()["id"])
    import hashlib

    assert report.file_sha256 == hashlib.sha256(good.encode()).hexdigest()


def test_a_json_report_after_a_byte_order_mark_is_refused_saying_so(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    # Saved by a Windows tool as "UTF-8 with BOM", a valid report read only "The
    # body is not valid JSON.", leaving the vendor to hunt for an error in the rows.
    agreement = active_agreement(vendor, SOFTWARE)
    body = json.dumps({"attest": True, "rows": [row(1, "A", quantity=60)]})
    headers = {**factories.bearer(vendor), "Content-Type": "application/json"}
    with time_machine.travel(AFTER[1], tick=False):
        refused = client.post(
            url(agreement, "/2027-01-01"), data=("\ufeff" + body).encode(), headers=headers
        )
        broken = client.post(url(agreement, "/2027-01-01"), data=body[:-1], headers=headers)
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert "byte-order mark" in refused.get_json()["errors"]["_body"][0]
    assert broken.get_json()["errors"]["_body"] == ["The body is not valid JSON."]
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_a_csv_report_reads_ascii_digits_only(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    # A quantity of Arabic-Indic or full-width digits was filed as the number they
    # spell (and the line "\u0661" as line 1), while ids, pages and months refuse them.
    agreement = active_agreement(vendor, SOFTWARE)
    headers = {**factories.bearer(vendor), "Content-Type": "text/csv"}
    text = (
        f"{HEADER}\n\u0661,A,Clinic A,US,end_users,\u0665\u0660,\n"
        "1,B,Clinic B,US,end_users,\uff14\uff10,\n"
    )
    with time_machine.travel(AFTER[1], tick=False):
        refused = client.post(
            url(agreement, "/2027-01-01?attest=true"), data=text.encode(), headers=headers
        )
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]) == {
        "rows.2.line",
        "rows.2.quantity",
        "rows.3.quantity",
    }
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_an_amendment_through_the_api_needs_the_current_report_and_a_reason(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, DATA_FILE)
    headers = factories.bearer(vendor)
    first_rows = [row(1, "A", unit="", revenue="60000.00")]
    with time_machine.travel(AFTER[1], tick=False):
        first = client.post(
            url(agreement, "/2027-01-01"),
            json={"attest": True, "rows": first_rows},
            headers=headers,
        ).get_json()
        again = client.post(
            url(agreement, "/2027-01-01"),
            json={"attest": True, "rows": first_rows},
            headers=headers,
        )
        assert again.status_code == 409
        no_reason = client.post(
            url(agreement, "/2027-01-01"),
            json={"attest": True, "rows": first_rows, "amends": first["id"]},
            headers=headers,
        )
        assert no_reason.status_code == 422
        assert "reason" in no_reason.get_json()["errors"]
        amended = client.post(
            url(agreement, "/2027-01-01"),
            json={
                "attest": True,
                "amends": first["id"],
                "reason": "Customer A's revenue was restated",
                "rows": [row(1, "A", unit="", revenue="70000.00")],
            },
            headers=headers,
        )
    assert amended.status_code == 201, amended.get_json()
    assert amended.get_json()["amends"] == first["id"]
    assert amended.get_json()["total_due"] == "1000.00"  # 10% of 10000.00 more
    superseded = client.get(f"/api/v1/royalty-reports/{first['id']}", headers=headers)
    assert superseded.get_json()["state"] == "superseded"


def test_another_organizations_agreement_and_reports_are_not_found(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        filed = client.post(
            url(agreement, "/2027-01-01"),
            json={"attest": True, "rows": []},
            headers=factories.bearer(vendor),
        ).get_json()
    stranger = factories.bearer(factories.make_vendor(db.session()))
    assert client.get(url(agreement), headers=stranger).status_code == 404
    assert client.get(url(agreement, "/2027-04-01/template"), headers=stranger).status_code == 404
    with time_machine.travel(AFTER[2], tick=False):
        posted = client.post(
            url(agreement, "/2027-04-01"), json={"attest": True, "rows": []}, headers=stranger
        )
    assert posted.status_code == 404
    assert client.get(f"/api/v1/royalty-reports/{filed['id']}", headers=stranger).status_code == 404
    assert (
        client.get(f"/api/v1/royalty-reports/{filed['id']}/rows", headers=stranger).status_code
        == 404
    )


def test_the_template_lists_each_line_and_unit_and_last_periods_customers(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    headers = factories.bearer(vendor)
    empty = client.get(url(agreement, "/2027-01-01/template"), headers=headers)
    assert empty.mimetype == "text/csv"
    assert empty.get_data(as_text=True).splitlines() == [HEADER, "1,,,,end_users,,", "2,,,,,,"]
    with time_machine.travel(AFTER[1], tick=False):
        client.post(
            url(agreement, "/2027-01-01"),
            json={"attest": True, "rows": [row(1, "A", quantity=3)]},
            headers=headers,
        )
    prefilled = client.get(url(agreement, "/2027-04-01/template"), headers=headers)
    assert prefilled.get_data(as_text=True).splitlines() == [
        HEADER,
        "1,A,Clinic A,US,end_users,,",
        "2,,,,,,",
    ]


def test_a_submission_without_attestation_or_with_a_bad_body_stores_nothing(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    with time_machine.travel(AFTER[1], tick=False):
        unattested = client.post(url(agreement, "/2027-01-01"), json={"rows": []}, headers=headers)
        broken = client.post(
            url(agreement, "/2027-01-01"),
            data=b'{"attest": true, "rows": [',
            headers={**headers, "Content-Type": "application/json"},
        )
        wrong_type = client.post(
            url(agreement, "/2027-01-01"),
            data=b"x",
            headers={**headers, "Content-Type": "text/plain"},
        )
        not_a_period = client.post(
            url(agreement, "/2027-02-01"), json={"rows": []}, headers=headers
        )
    assert unattested.status_code == 422
    assert "attest" in unattested.get_json()["errors"]
    assert broken.status_code == 422
    assert wrong_type.status_code == 415
    assert not_a_period.status_code == 404
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_a_report_in_another_media_type_is_a_415_as_everywhere_in_the_api(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    # It was a 422, where every other API body of the wrong type is a 415.
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    with time_machine.travel(AFTER[1], tick=False):
        for tail in ("/2027-01-01", "/2027-01-01/preview"):
            response = client.post(
                url(agreement, tail),
                data=b"line;customer_id",
                headers={**headers, "Content-Type": "application/vnd.ms-excel"},
            )
            assert response.status_code == 415
            assert response.mimetype == "application/problem+json"
            assert "text/csv" in response.get_json()["detail"]
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_the_openapi_document_lists_how_a_report_is_refused(client: Any) -> None:
    # Only 200/201 and 409 were listed: the 422 naming rows.N.FIELD, the most
    # common answer to a report, was not.
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    base = "/api/v1/agreements/{agreement_id}/royalty-reports/{period_start}"
    for path in (base, base + "/preview"):
        responses = paths[path]["post"]["responses"]
        assert {"409", "413", "415", "422"} <= set(responses)
        assert "rows.N.FIELD" in responses["422"]["description"]
        assert "application/problem+json" in responses["422"]["content"]


def test_staff_read_every_report_and_review_a_flagged_one(
    client: Any,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
    mailbox: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=50), row(1, "B", quantity=50)])
    flagged = file_report(vendor, agreement, 2, [row(1, "A", quantity=10)])
    staff = factories.bearer(licensing_staff)
    report_url = f"/api/v1/royalty-reports/{flagged.report.id}"
    assert client.get(report_url, headers=staff).get_json()["review_state"] == "flagged"
    missing_note = client.post(
        report_url + "/review", json={"action": "request_correction"}, headers=staff
    )
    assert missing_note.status_code == 422
    asked = client.post(
        report_url + "/review",
        json={"action": "request_correction", "note": "Customer B is missing."},
        headers=staff,
    )
    assert asked.status_code == 200
    assert asked.get_json()["review_state"] == "correction_requested"
    again = client.post(
        report_url + "/review", json={"action": "request_correction", "note": "x"}, headers=staff
    )
    assert again.status_code == 409
    # Round 14: marshmallow's "Longer than maximum length 2000."; now the service's.
    too_long = client.post(
        report_url + "/review", json={"action": "mark_reviewed", "note": "n" * 2001}, headers=staff
    )
    assert too_long.status_code == 422
    assert too_long.get_json()["errors"] == {"note": ["At most 2,000 characters."]}
    vendor_try = client.post(
        report_url + "/review", json={"action": "mark_reviewed"}, headers=factories.bearer(vendor)
    )
    assert vendor_try.status_code == 403
    assert Decimal(asked.get_json()["total_due"]) == Decimal("0.00")
    # The note is emailed, and kept with its step in the review's history (round 13):
    # nowhere else in the report's document, whose contract fields it leaves alone.
    answered = asked.get_json()
    history = answered.pop("review_history")
    assert [(step["step"], step["note"]) for step in history] == [
        ("correction_requested", "Customer B is missing.")
    ]
    assert "Customer B is missing." not in json.dumps(answered)


def test_hostile_json_bodies_are_refused_before_they_reach_the_parser(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """The C JSON parser crashes the worker on an integer of thousands of digits
    and on very deep nesting: such bodies are a 422, and nothing is stored."""
    agreement = active_agreement(vendor, SOFTWARE)
    headers = {**factories.bearer(vendor), "Content-Type": "application/json"}
    bodies = [
        b'{"attest": true, "rows": [{"line": ' + b"9" * 100_000 + b"}]}",
        b'{"attest": true, "rows": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
        b'{"attest": true, "rows": [{"line": 1, "revenue": 1e' + b"9" * 5000 + b"}]}",
        b"9" * 5000,
        b'{"attest": true, "rows": [{"line": 1, "customer_id": "\\ud800"}]}',
    ]
    with time_machine.travel(AFTER[1], tick=False):
        for body in bodies:
            response = client.post(url(agreement, "/2027-01-01"), data=body, headers=headers)
            assert response.status_code == 422, body[:60]
            assert response.mimetype == "application/problem+json"
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_each_row_is_stored_as_filed_with_its_revenue_to_the_cent(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, DATA_FILE)
    rows = [
        row(1, " Cust-A ", unit="", revenue="60000.05"),
        row(1, "B", unit="", revenue="0.10"),
        row(1, "C", unit="", revenue="0"),
    ]
    with time_machine.travel(AFTER[1], tick=False):
        filed = client.post(
            url(agreement, "/2027-01-01"),
            json={"attest": True, "rows": rows},
            headers=factories.bearer(vendor),
        )
    assert filed.status_code == 201, filed.get_json()
    stored = db.session().scalars(
        select(RoyaltyReportRow)
        .where(RoyaltyReportRow.report_id == filed.get_json()["id"])
        .order_by(RoyaltyReportRow.row_number)
    )
    assert [
        (r.row_number, r.line, r.customer_id, r.customer_key, r.unit, r.quantity, r.revenue)
        for r in stored
    ] == [
        (0, 1, "Cust-A", "cust-a", "", None, Decimal("60000.05")),
        (1, 1, "B", "b", "", None, Decimal("0.10")),
        (2, 1, "C", "c", "", None, Decimal("0")),
    ]


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER.split(","), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _file(client: Any, agreement: Any, vendor: Any, kind: str, rows: list[dict[str, Any]]) -> Any:
    headers = factories.bearer(vendor)
    with time_machine.travel(AFTER[1], tick=False):
        if kind == "json":
            return client.post(
                url(agreement, "/2027-01-01"), json={"attest": True, "rows": rows}, headers=headers
            )
        return client.post(
            url(agreement, "/2027-01-01?attest=true"),
            data=_csv(rows),
            headers={**headers, "Content-Type": "text/csv"},
        )


def _stored_rows(report_id: int) -> list[tuple[Any, ...]]:
    stored = db.session().scalars(
        select(RoyaltyReportRow)
        .where(RoyaltyReportRow.report_id == report_id)
        .order_by(RoyaltyReportRow.row_number)
    )
    return [
        (
            r.row_number,
            r.line,
            r.customer_id,
            r.customer_key,
            r.customer_name,
            r.country,
            r.unit,
            r.quantity,
            r.revenue,
        )
        for r in stored
    ]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_rows_with_tricky_text_and_the_largest_figures_are_stored_exactly_as_checked(
    client: Any, vendor: Any, active_agreement: Any, kind: str
) -> None:
    # PostgreSQL stores the rows through COPY's text format, where a backslash, the
    # text \N (its null) and tabs are markup: each must arrive as the vendor typed it.
    first = 0 if kind == "json" else 2  # JSON numbers rows from 0, CSV by line (header 1)
    revenue_rows = [
        row(1, " Back\\slash\\N ", unit="", customer_name="\\N", revenue="999999999999.8999"),
        row(1, "ÉCOLE-Straße", unit="", customer_name='Zoë\'s Klinik 日本 🏥, "A"', revenue="0"),
        row(1, "x\\t\\n", unit="", customer_name="'+44 Clinic", country=" ca ", revenue="0.10"),
    ]
    filed = _file(client, active_agreement(vendor, DATA_FILE), vendor, kind, revenue_rows)
    assert filed.status_code == 201, filed.get_json()
    # A CSV cell the rows download escaped ('+44) is read back as it was filed.
    name = "+44 Clinic" if kind == "csv" else "'+44 Clinic"
    assert _stored_rows(filed.get_json()["id"]) == [
        (first, 1, "Back\\slash\\N", "back\\slash\\n", "\\N", "US", "", None,
         Decimal("999999999999.8999")),
        (first + 1, 1, "ÉCOLE-Straße", "école-strasse", "Zoë's Klinik 日本 🏥, \"A\"", "US", "",
         None, Decimal("0")),
        (first + 2, 1, "x\\t\\n", "x\\t\\n", name, "CA", "", None, Decimal("0.10")),
    ]  # fmt: skip
    usage_rows = [row(1, "Q", quantity=QUANTITY_MAX), row(1, "E", quantity="0", revenue="")]
    filed = _file(client, active_agreement(vendor, SOFTWARE), vendor, kind, usage_rows)
    assert filed.status_code == 201, filed.get_json()
    assert _stored_rows(filed.get_json()["id"]) == [
        (first, 1, "Q", "q", "Clinic Q", "US", "end_users", QUANTITY_MAX, None),
        (first + 1, 1, "E", "e", "Clinic E", "US", "end_users", 0, None),
    ]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_a_name_with_a_tab_or_a_line_break_is_refused_and_nothing_is_stored(
    client: Any, vendor: Any, active_agreement: Any, kind: str
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    # Enough good rows first that the database has received some before the bad ones.
    rows = [row(1, f"C{n:05d}", quantity=n % 40) for n in range(2000)]
    rows += [row(1, "T", quantity=1, customer_name="Tab\there"), row(1, "N", quantity=1)]
    rows[-1]["customer_name"] = "Line\nbreak"
    refused = _file(client, agreement, vendor, kind, rows)
    assert refused.status_code == 422, refused.get_json()
    message = "The customer name contains a control character."
    if kind == "json":
        assert refused.get_json()["errors"] == {
            "rows.2000.customer_name": [message],
            "rows.2001.customer_name": [message],
        }
    else:  # the quoted line break makes the last row two lines of the file
        assert refused.get_json()["errors"] == {
            "rows.2002.customer_name": [message],
            "rows.2003.customer_name": [message],
        }
    assert db.session().scalars(select(RoyaltyReport)).all() == []
    assert db.session().scalars(select(RoyaltyReportRow)).all() == []
    filed = _file(client, agreement, vendor, kind, rows[:-2])
    assert filed.status_code == 201, filed.get_json()
    assert len(_stored_rows(filed.get_json()["id"])) == 2000


def test_a_row_without_a_line_number_is_told_lines_count_from_1(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    # Before: "Must be a whole number, 0 or more.", though no line 0 exists.
    agreement = active_agreement(vendor, SOFTWARE)
    rows = [
        row(1, "A", quantity=60),
        {**row(1, "B", quantity=10), "line": "first"},
        {**row(1, "C", quantity=10), "line": None},
        {**row(1, "D", quantity=10), "line": -1},
        row(0, "E", quantity=10),
        row(5, "F", quantity=10),
    ]
    with time_machine.travel(AFTER[1], tick=False):
        response = client.post(
            url(agreement, "/2027-01-01/preview"),
            json={"attest": True, "rows": rows},
            headers=factories.bearer(vendor),
        )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    told = "Give the agreement line by its number in Schedule A, from 1 (reportable lines: 1)."
    assert [errors[f"rows.{index}.line"] for index in (1, 2, 3, 4)] == [[told]] * 4
    assert errors["rows.5.line"] == [
        "Line 5 is not a reportable line of this agreement (reportable lines: 1)."
    ]
    assert not any("0 or more" in text for texts in errors.values() for text in texts)


def test_a_preview_takes_no_attestation_but_refuses_a_malformed_one(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """Round 16: a preview stores nothing, so it needs no attestation (the portal
    previews before the box is ticked; docs/royalty-reports.md), but `attest=yes`
    on a CSV report was read as no attestation at all: a preview answered 200 and
    a submission asked to attest, as if the caller had not tried. A value that is
    neither true nor false is now refused by both, JSON and CSV alike."""
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    csv_headers = {**headers, "Content-Type": "text/csv"}
    text = "line,customer_id,customer_name,country,unit,quantity,revenue\r\n"
    text += "1,A,Clinic A,US,end_users,60,\r\n"
    malformed = "Give attest as true or false (true to file the report)."
    with time_machine.travel(AFTER[1], tick=False):
        for tail in ("/2027-01-01/preview", "/2027-01-01"):
            for given in ("yes", "1", "on"):
                refused = client.post(
                    url(agreement, f"{tail}?attest={given}"), data=text, headers=csv_headers
                )
                assert refused.status_code == 422, (tail, given)
                assert refused.get_json()["errors"] == {"attest": [malformed]}, (tail, given)
            for attest in ("yes", 1, "true"):
                body = {"attest": attest, "rows": [row(1, "A", quantity=60)]}
                refused = client.post(url(agreement, tail), json=body, headers=headers)
                assert refused.status_code == 422, (tail, attest)
                assert refused.get_json()["errors"] == {"attest": [malformed]}, (tail, attest)
        for query in ("", "?attest=false", "?attest=TRUE"):
            previewed = client.post(
                url(agreement, f"/2027-01-01/preview{query}"), data=text, headers=csv_headers
            )
            assert previewed.status_code == 200, (query, previewed.get_json())
        unattested = client.post(
            url(agreement, "/2027-01-01?attest=false"), data=text, headers=csv_headers
        )
        assert unattested.status_code == 422
        assert "attest: true" in unattested.get_json()["errors"]["attest"][0]
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_a_csv_report_whose_lines_end_with_a_carriage_return_alone_is_read_as_any_other(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """Round 61 (attack61): a file saved as "CSV (Macintosh)" ends its lines with a
    carriage return alone. Its header was read up to the first line feed, so it held
    every line, and reading it again for a column named twice was a 500."""
    agreement = active_agreement(vendor, SOFTWARE)
    lines = [HEADER, "1,A,Clinic A,US,end_users,60,", "1,B,Clinic B,CA,end_users,30,"]
    headers = {**factories.bearer(vendor), "Content-Type": "text/csv"}
    with time_machine.travel(AFTER[1], tick=False):
        answers = [
            client.post(
                url(agreement, "/2027-01-01/preview"),
                data=ending.join(lines).encode(),
                headers=headers,
            )
            for ending in ("\r", "\r\n")
        ]
        torn = client.post(
            url(agreement, "/2027-01-01/preview"),
            data=b"line,customer_id\r,customer_name\n1,A,Clinic A,US,end_users,60,\n",
            headers=headers,
        )
    assert [answer.status_code for answer in answers] == [200, 200], answers[0].get_json()
    assert answers[0].get_json() == answers[1].get_json()
    assert answers[0].get_json()["total_due"] == "1665.00"
    assert torn.status_code == 422
    assert torn.get_json()["errors"] == {"rows.1": [f"The first line must be exactly: {HEADER}"]}
