"""The royalty-report API and pages under random input: wrong types, huge numbers,
exponents, NULs, unknown periods and ids, another organization's agreements and
reports, and list queries. Never a 5xx; the API refuses with a problem document;
nothing is stored on a refusal; another organization's record is not found, exactly
as a record that does not exist."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from flask import Flask
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import func, select

from licensing import db
from licensing.billing.models import CreditNote, Invoice
from licensing.royalties.models import RoyaltyReport, RoyaltyReportRow
from licensing.royalties.rows import COLUMNS
from tests.integration.royalties.conftest import AFTER, SMALL_SOFTWARE, row
from tests.support import factories
from tests.support.nasty import (
    JSON_VALUES,
    PATH_SEGMENT,
    QUERY_TEXT,
    SCALARS,
    SWEEP,
    form,
    is_problem,
    query,
)

UNKNOWN_ID = 2_000_000_000

PERIOD_STARTS = st.one_of(
    st.just("2027-01-01"),  # the period open for filing, half the time
    st.sampled_from(["2027-04-01", "2026-10-01", "2028-01-01"]),
    PATH_SEGMENT,
)

ROWS = st.lists(
    st.dictionaries(st.sampled_from([*COLUMNS, "extra"]), JSON_VALUES, max_size=len(COLUMNS)),
    max_size=3,
)
BODIES = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"rows": st.one_of(ROWS, JSON_VALUES)},
        optional={"attest": SCALARS, "amends": SCALARS, "reason": SCALARS},
    ),
    # Mostly well-formed rows with one awkward quantity or revenue.
    st.builds(
        lambda quantity, revenue: {
            "attest": True,
            "rows": [row(1, "A", quantity=quantity, revenue=revenue)],
        },
        JSON_VALUES,
        JSON_VALUES,
    ),
)
CSV_BODIES = st.one_of(
    st.text(max_size=200),
    st.lists(QUERY_TEXT, min_size=7, max_size=7).map(
        lambda cells: ",".join(COLUMNS) + "\n" + ",".join(c.replace(",", "") for c in cells)
    ),
)


def _stored() -> tuple[int, ...]:
    session = db.session()
    return tuple(
        int(session.scalar(select(func.count()).select_from(model)) or 0)
        for model in (RoyaltyReport, RoyaltyReportRow, Invoice, CreditNote)
    )


@pytest.fixture
def agreements(vendor: Any, other_vendor: Any, active_agreement: Any, file_report: Any) -> Any:
    """The vendor's agreement, with the first quarter filed, and another organization's."""
    own = active_agreement(vendor, SMALL_SOFTWARE)
    theirs = active_agreement(other_vendor, SMALL_SOFTWARE)
    theirs_filed = file_report(other_vendor, theirs, 1, [row(1, "Z", quantity=20)])
    return own, theirs, theirs_filed.report


@pytest.fixture
def vendor_bearer(vendor: Any) -> dict[str, str]:
    return factories.bearer(vendor)  # once: every example would make a token


@pytest.fixture
def staff_bearer(licensing_staff: Any) -> dict[str, str]:
    return factories.bearer(licensing_staff)


@pytest.fixture
def vendor_page(app: Flask, vendor: Any, signed_in: Any) -> Any:
    # Once, not a sign-in an example; at the moment the examples run, so that the
    # session is fresh then.
    with time_machine.travel(AFTER[1], tick=False):
        return signed_in(app.test_client(), vendor)


@pytest.fixture
def staff_page(app: Flask, licensing_staff: Any, signed_in: Any) -> Any:
    return signed_in(app.test_client(), licensing_staff)


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"auth_rate_limit": "off"}  # the pages sign in once a test, the API never


def _no_server_error(response: Any, what: Any) -> None:
    assert response.status_code < 500, (what, response.get_data(as_text=True)[:800])


def _api_refusal(response: Any, what: Any) -> None:
    _no_server_error(response, what)
    if response.status_code >= 400:
        assert is_problem(response), (what, response.mimetype)


def _post(client: Any, path: str, body: Any, headers: dict[str, str], csv: bool) -> Any:
    if csv:
        # A lone surrogate has no UTF-8 form: send the bytes a careless client would
        # (surrogatepass), which the service must refuse as text it cannot read.
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        return client.post(path, data=data, headers={**headers, "Content-Type": "text/csv"})
    return client.post(
        path,
        data=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


@SWEEP
@given(
    start=PERIOD_STARTS,
    body=st.one_of(BODIES, CSV_BODIES),
    submit=st.booleans(),
    query_args=query(["attest", "amends", "reason"]),
)
def test_filing_through_the_api_never_fails_and_stores_nothing_when_refused(
    app: Flask,
    vendor_bearer: dict[str, str],
    agreements: Any,
    start: str,
    body: Any,
    submit: bool,
    query_args: Any,
) -> None:
    own, theirs, _report = agreements
    headers = vendor_bearer
    client = app.test_client()
    csv = isinstance(body, str) and "," in body
    tail = f"/{quote(start, safe='')}" + ("" if submit else "/preview")
    answers = {}
    with time_machine.travel(AFTER[1], tick=False):
        for name, agreement_id in (("theirs", theirs.id), ("unknown", UNKNOWN_ID)):
            path = f"/api/v1/agreements/{agreement_id}/royalty-reports{tail}"
            before = _stored()
            response = client.post(
                path + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query_args.items()),
                data=body if csv else json.dumps(body),
                headers={**headers, "Content-Type": "text/csv" if csv else "application/json"},
            )
            _api_refusal(response, (path, body))
            assert response.status_code >= 400
            assert _stored() == before
            answers[name] = response.status_code
        # Another organization's agreement answers as one that does not exist.
        assert answers["theirs"] == answers["unknown"]
        before = _stored()
        path = f"/api/v1/agreements/{own.id}/royalty-reports{tail}"
        response = _post(client, path, body, headers, csv)
        _api_refusal(response, (path, body))
        if response.status_code != 201:
            assert _stored() == before


@SWEEP
@given(
    column=st.sampled_from([*COLUMNS, "extra"]),
    value=JSON_VALUES,
    csv=st.booleans(),
    # Mostly previews: once a submission is filed, the period's next ones are 409s.
    submit=st.sampled_from([False, False, False, True]),
)
@example(column="customer_name", value="\ud800", csv=True, submit=False)
def test_a_report_with_one_awkward_cell_is_filed_or_refused_never_a_server_error(
    app: Flask,
    vendor_bearer: dict[str, str],
    agreements: Any,
    column: str,
    value: Any,
    csv: bool,
    submit: bool,
) -> None:
    own, _theirs, _report = agreements
    cells = {**row(1, "A", quantity=40), column: value}
    if csv:
        text = "" if value is None else str(value).replace(",", " ").replace("\n", " ")
        line = [
            ("" if name == column else str(row(1, "A", quantity=40).get(name, "")))
            for name in COLUMNS
        ]
        if column in COLUMNS:
            line[COLUMNS.index(column)] = text
        body: Any = ",".join(COLUMNS) + "\n" + ",".join(line) + "\n"
        path = f"/api/v1/agreements/{own.id}/royalty-reports/2027-01-01" + (
            "?attest=true" if submit else "/preview"
        )
    else:
        body = {"attest": True, "rows": [cells]}
        path = f"/api/v1/agreements/{own.id}/royalty-reports/2027-01-01" + (
            "" if submit else "/preview"
        )
    before = _stored()
    with time_machine.travel(AFTER[1], tick=False):
        response = _post(app.test_client(), path, body, vendor_bearer, csv)
    _api_refusal(response, (path, body))
    if response.status_code != 201:
        assert _stored() == before


@SWEEP
@given(csv=st.booleans(), submit=st.booleans(), reason=QUERY_TEXT)
def test_amending_another_organizations_report_answers_as_amending_none(
    app: Flask,
    vendor_bearer: dict[str, str],
    agreements: Any,
    file_report: Any,
    vendor: Any,
    csv: bool,
    submit: bool,
    reason: str,
) -> None:
    own, _theirs, their_report = agreements
    path = f"/api/v1/agreements/{own.id}/royalty-reports/2027-01-01" + (
        "" if submit else "/preview"
    )
    answers = {}
    for name, amends in (("theirs", their_report.id), ("unknown", UNKNOWN_ID)):
        if csv:
            body: Any = ",".join(COLUMNS) + "\n1,A,Clinic A,US,end_users,40,\n"
            target = f"{path}?attest=true&amends={amends}&reason={quote(reason, safe='')}"
        else:
            body = {
                "attest": True,
                "amends": amends,
                "reason": reason,
                "rows": [row(1, "A", quantity=40)],
            }
            target = path
        before = _stored()
        with time_machine.travel(AFTER[1], tick=False):
            response = _post(app.test_client(), target, body, vendor_bearer, csv)
        _api_refusal(response, (target, body))
        assert response.status_code in (404, 409, 422), response.get_json()
        assert _stored() == before
        detail = response.get_json()
        # Reports are named by reference (RR-000001) or, in the API's fields, by id.
        text = json.dumps(detail).replace(RoyaltyReport.reference_of(amends), "RR-N")
        answers[name] = (response.status_code, re.sub(rf"\b{amends}\b", "N", text))
    assert answers["theirs"] == answers["unknown"]


# Cases are looped over in one test, not parametrized: `agreements` costs seconds.
REPORT_PAGES = (
    "/portal/royalty-reports/report/{report}",
    "/royalty-reports/report/{report}/rows.csv",
    "/portal/royalty-reports/{agreement}/2027-01-01",
    "/portal/royalty-reports/{agreement}/2027-01-01/template.csv",
)


def test_another_organizations_report_pages_are_not_found(
    vendor_page: Any, agreements: Any
) -> None:
    _own, theirs, their_report = agreements
    for page in REPORT_PAGES:
        with time_machine.travel(AFTER[1], tick=False):
            theirs_answer = vendor_page.get(
                page.format(report=their_report.id, agreement=theirs.id)
            )
            unknown_answer = vendor_page.get(page.format(report=UNKNOWN_ID, agreement=UNKNOWN_ID))
        assert theirs_answer.status_code == unknown_answer.status_code == 404, page


@SWEEP
@given(query_args=query([]))
def test_reading_periods_and_reports_never_fails_and_hides_another_organizations(
    app: Flask, vendor_bearer: dict[str, str], agreements: Any, query_args: dict[str, str]
) -> None:
    own, theirs, their_report = agreements
    headers = vendor_bearer
    client = app.test_client()
    for path in (
        f"/api/v1/agreements/{own.id}/royalty-reports",
        f"/api/v1/agreements/{own.id}/royalty-reports/2027-01-01/template",
    ):
        response = client.get(path, query_string=query_args, headers=headers)
        _api_refusal(response, (path, query_args))
    for tail in ("royalty-reports", "royalty-reports/2027-01-01/template"):
        theirs_answer = client.get(
            f"/api/v1/agreements/{theirs.id}/{tail}", query_string=query_args, headers=headers
        )
        unknown_answer = client.get(
            f"/api/v1/agreements/{UNKNOWN_ID}/{tail}", query_string=query_args, headers=headers
        )
        _api_refusal(theirs_answer, tail)
        assert theirs_answer.status_code == unknown_answer.status_code
        assert theirs_answer.status_code in (400, 404, 422)
    for tail in ("", "/rows"):
        response = client.get(f"/api/v1/royalty-reports/{their_report.id}{tail}", headers=headers)
        assert response.status_code == 404
        assert is_problem(response)


@SWEEP
@given(action=JSON_VALUES, note=JSON_VALUES, report=st.sampled_from(["theirs", "unknown"]))
def test_staff_review_through_the_api_refuses_any_body_without_a_server_error(
    app: Flask, agreements: Any, staff_bearer: dict[str, str], action: Any, note: Any, report: str
) -> None:
    _own, _theirs, their_report = agreements
    report_id = their_report.id if report == "theirs" else UNKNOWN_ID
    before = _stored()
    response = app.test_client().post(
        f"/api/v1/royalty-reports/{report_id}/review",
        json={"action": action, "note": note},
        headers=staff_bearer,
    )
    _api_refusal(response, (action, note))
    assert _stored() == before


PERIOD_FORM = ["action", "mode", "amends", "reason", "attest", "carried_csv", "carried_name"] + [
    f"rows-{n}-{column}" for n in (1, 2, 99999) for column in COLUMNS
]


@SWEEP
@given(start=PERIOD_STARTS, fields=form(PERIOD_FORM), whose=st.sampled_from(["own", "theirs"]))
def test_the_period_page_answers_any_form_without_a_server_error(
    vendor_page: Any,
    agreements: Any,
    start: str,
    fields: dict[str, str],
    whose: str,
) -> None:
    own, theirs, _report = agreements
    agreement = own if whose == "own" else theirs
    client = vendor_page
    path = f"/portal/royalty-reports/{agreement.id}/{quote(start, safe='')}"
    before = _stored()
    with time_machine.travel(AFTER[1], tick=False):
        response = client.post(path, data=fields)
    _no_server_error(response, (path, fields))
    if whose == "theirs":
        assert response.status_code in (404, 422), (response.status_code, response.location)
    if response.status_code != 302:
        assert _stored() == before


@SWEEP
@given(query_args=query(["state", "agreement", "organization", "period"]))
def test_the_console_queue_answers_any_filter_without_a_server_error(
    staff_page: Any, agreements: Any, query_args: Any
) -> None:
    client = staff_page
    response = client.get("/console/royalty-reports", query_string=query_args)
    _no_server_error(response, query_args)
    assert response.status_code in (200, 422)


@SWEEP
@given(action=QUERY_TEXT, note=QUERY_TEXT, report=st.sampled_from(["theirs", "unknown"]))
def test_the_console_review_answers_any_form_without_a_server_error(
    staff_page: Any,
    agreements: Any,
    action: str,
    note: str,
    report: str,
) -> None:
    _own, _theirs, their_report = agreements
    report_id = their_report.id if report == "theirs" else UNKNOWN_ID
    client = staff_page
    before = _stored()
    response = client.post(
        f"/console/royalty-reports/{report_id}", data={"action": action, "note": note}
    )
    _no_server_error(response, (action, note))
    if report == "unknown":
        assert response.status_code in (404, 422)
    assert _stored() == before


# A superscript two is a digit to str.isdigit() but not to int(): read as an id, it was
# a 500. int() reads a mathematical bold nine and Arabic-Indic twelve as 9 and 12.
NOT_ASCII_DIGITS = ["\u00b2", "\U0001d7d7", "\u0661\u0662"]


def test_the_console_queue_ignores_an_organization_filter_of_digits_other_than_ascii(
    staff_page: Any, agreements: Any
) -> None:
    everyone = staff_page.get("/console/royalty-reports").get_data(as_text=True)
    for organization in NOT_ASCII_DIGITS:
        response = staff_page.get(
            "/console/royalty-reports", query_string={"organization": organization}
        )
        assert response.status_code == 200, organization
        shown = response.get_data(as_text=True)
        assert shown.count("CPT-2027-") == everyone.count("CPT-2027-")


def test_an_amendment_naming_a_report_in_digits_other_than_ascii_is_a_422(
    app: Flask, vendor_bearer: dict[str, str], agreements: Any
) -> None:
    for amends in NOT_ASCII_DIGITS:
        for csv in (False, True):
            _amend_refused(app, vendor_bearer, agreements, amends, csv=csv)


def _amend_refused(
    app: Flask, vendor_bearer: dict[str, str], agreements: Any, amends: str, *, csv: bool
) -> None:
    own, _theirs, _report = agreements
    path = f"/api/v1/agreements/{own.id}/royalty-reports/2027-01-01"
    if csv:
        body: Any = ",".join(COLUMNS) + "\n1,A,Clinic A,US,end_users,40,\n"
        path += f"?attest=true&amends={quote(amends)}&reason=restated"
    else:
        body = {
            "attest": True,
            "amends": amends,
            "reason": "restated",
            "rows": [row(1, "A", quantity=40)],
        }
    before = _stored()
    with time_machine.travel(AFTER[1], tick=False):
        response = _post(app.test_client(), path, body, vendor_bearer, csv)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert "amends" in response.get_json()["errors"]
    assert _stored() == before


def test_a_json_report_with_a_lone_surrogate_is_a_422_and_stores_nothing(
    app: Flask, vendor_bearer: dict[str, str], agreements: Any
) -> None:
    # The parser read "\ud800" as "?", and the report was filed with it.
    for field in ("customer_name", "customer_id", "reason"):
        _surrogate_refused(app, vendor_bearer, agreements, field)


def _surrogate_refused(
    app: Flask, vendor_bearer: dict[str, str], agreements: Any, field: str
) -> None:
    own, _theirs, _report = agreements
    report: dict[str, Any] = {"attest": True, "rows": [row(1, "A", quantity=40)]}
    if field == "reason":
        report["reason"] = "restated \ud800"
    else:
        report["rows"][0][field] = "Clinic \ud800"
    before = _stored()
    with time_machine.travel(AFTER[1], tick=False):
        response = _post(
            app.test_client(),
            f"/api/v1/agreements/{own.id}/royalty-reports/2027-01-01",
            report,
            vendor_bearer,
            csv=False,
        )
    assert response.status_code == 422
    assert is_problem(response)
    assert "surrogate" in response.get_json()["errors"]["_body"][0]
    assert _stored() == before


@pytest.mark.parametrize(
    "customer_name",
    [
        r'"\\\udc00"',  # an escaped backslash, then a real lone low escape
        r'"\\ud800\udc00"',  # the text "\ud800", then a real lone low escape
        r'"Clinic \\\ud800"',  # an escaped backslash, then a real lone high escape
    ],
)
def test_a_lone_surrogate_after_an_escaped_backslash_is_a_422_naming_it(
    app: Flask, vendor_bearer: dict[str, str], agreements: Any, customer_name: str
) -> None:
    own, _theirs, _report = agreements
    body = json.dumps({"attest": True, "rows": [row(1, "A", quantity=40)]})
    body = body.replace('"Clinic A"', customer_name, 1)
    assert customer_name in body
    before = _stored()
    with time_machine.travel(AFTER[1], tick=False):
        response = app.test_client().post(
            f"/api/v1/agreements/{own.id}/royalty-reports/2027-01-01",
            data=body,
            headers={**vendor_bearer, "Content-Type": "application/json"},
        )
    assert response.status_code == 422
    assert is_problem(response)
    assert "surrogate" in response.get_json()["errors"]["_body"][0]
    assert _stored() == before


@pytest.mark.parametrize("encoded", [b"\xed\xa0\x80", b"\xed\xb0\x80", b"\xed\xa0\xbd\xed\xb8\x80"])
def test_a_csv_report_holding_an_encoded_surrogate_is_a_422_and_stores_nothing(
    app: Flask, vendor_bearer: dict[str, str], agreements: Any, encoded: bytes
) -> None:
    # UTF-8 has no surrogates: their three-byte forms (lone, or a pair encoded
    # one half at a time) are not UTF-8 text, and the upload is refused whole.
    own, _theirs, _report = agreements
    body = ",".join(COLUMNS).encode() + b"\n1,A,Clinic " + encoded + b",US,end_users,40,\n"
    before = _stored()
    with time_machine.travel(AFTER[1], tick=False):
        response = app.test_client().post(
            f"/api/v1/agreements/{own.id}/royalty-reports/2027-01-01?attest=true",
            data=body,
            headers={**vendor_bearer, "Content-Type": "text/csv"},
        )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert is_problem(response)
    assert "UTF-8" in json.dumps(response.get_json()["errors"])
    assert _stored() == before
