"""The royalty-report contract (`contracts/royalty-reports.md`), clause by clause,
through the HTTP API as the contract words it: the clauses no other test held
(docs/contract-coverage.md maps every clause to its tests)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.services import expiry as expiries
from licensing.api import royalty_reports as royalty_api
from licensing.api.royalty_reports import MAX_REPORT_BYTES
from licensing.billing.models import CreditNote, Invoice
from licensing.royalties import services as royalty_services
from licensing.royalties.models import (
    CUSTOMER_ID_MAX,
    CUSTOMER_NAME_MAX,
    QUANTITY_MAX,
    REVENUE_MAX_DIGITS,
    REVENUE_PLACES,
    UNIT_MAX,
    RoyaltyReport,
)
from tests.integration.agreements.conftest import NOW
from tests.integration.royalties.conftest import AFTER, DATA_FILE, PAYER, SOFTWARE, row
from tests.support import factories
from tests.support.agreements import accept, agreement_of
from tests.support.settings import issuing

PROBLEM = "application/problem+json"
HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"
# The keys of "The response of preview and submit" in the contract.
CONTRACT_KEYS = {
    "id",
    "agreement",
    "period",
    "state",
    "amends",
    "currency",
    "lines",
    "total_due",
    "invoice",
}
LINE_KEYS = {
    "line",
    "quantities_to_date",
    "revenue_to_date",
    "amount_to_date",
    "charged_before",
    "due",
    "explanation",
}


def url(agreement: Any, tail: str = "") -> str:
    return f"/api/v1/agreements/{agreement.id}/royalty-reports{tail}"


def file(client: Any, user: Any, agreement: Any, start: str, body: dict[str, Any]) -> Any:
    return client.post(url(agreement, f"/{start}"), json=body, headers=factories.bearer(user))


def attested(*rows: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"attest": True, "rows": list(rows), **extra}


def counted(model: Any) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


# --- Which lines report, and when ----------------------------------------------------------


def test_a_period_is_filed_only_after_every_earlier_one_with_a_409_naming_the_first_missing(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[3], tick=False):
        refused = file(client, vendor, agreement, "2027-07-01", attested())
    assert refused.status_code == 409
    assert refused.mimetype == PROBLEM
    assert "2027-01-01" in refused.get_json()["detail"]
    assert counted(RoyaltyReport) == 0


def test_a_period_is_filed_no_earlier_than_the_day_after_it_ends(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    # Noon at the office (US Central) on the quarter's last day, then the next day.
    with time_machine.travel(datetime(2027, 3, 31, 18, 0, tzinfo=UTC), tick=False):
        early = file(client, vendor, agreement, "2027-01-01", attested())
    assert early.status_code == 409
    assert early.mimetype == PROBLEM
    assert "2027-04-01" in early.get_json()["detail"]
    with time_machine.travel(datetime(2027, 4, 1, 18, 0, tzinfo=UTC), tick=False):
        on_time = file(client, vendor, agreement, "2027-01-01", attested())
    assert on_time.status_code == 201, on_time.get_json()


def test_an_agreement_without_a_reportable_line_has_no_reports(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    development = {**SOFTWARE, "use": "development", "product_name": "Scrubber SDK"}
    agreement = active_agreement(vendor, development)  # a flat fee only
    listed = client.get(url(agreement), headers=factories.bearer(vendor))
    assert listed.status_code == 200
    assert listed.get_json() == []


# --- A report ------------------------------------------------------------------------------


def test_customer_ids_and_names_have_the_contracts_lengths_and_countries_are_alpha_2(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    rows = [
        row(1, "i" * 100, quantity=1, customer_name="n" * 200),  # the longest allowed
        row(1, "j" * 101, quantity=1),
        row(1, "K", quantity=1, customer_name="n" * 201),
        row(1, "L", quantity=1, country="USA"),
        row(1, "M", quantity=1, country=""),
        {**row(1, "", quantity=1)},
    ]
    with time_machine.travel(AFTER[1], tick=False):
        refused = file(client, vendor, agreement, "2027-01-01", attested(*rows))
        assert refused.status_code == 422
        assert refused.mimetype == PROBLEM
        assert set(refused.get_json()["errors"]) == {
            "rows.1.customer_id",
            "rows.2.customer_name",
            "rows.3.country",
            "rows.4.country",
            "rows.5.customer_id",
        }
        assert counted(RoyaltyReport) == 0
        filed = file(client, vendor, agreement, "2027-01-01", attested(rows[0]))
    assert filed.status_code == 201, filed.get_json()


def test_a_unit_needs_a_whole_quantity_and_revenue_goes_only_where_the_rule_takes_a_percent(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    rows = [
        row(1, "A"),  # a unit without its quantity
        row(1, "B", quantity="2.5"),
        row(1, "C", quantity=1, revenue="10.00"),  # revenue on a per-unit line
        row(2, "D", unit=""),  # no revenue on a percent-of-revenue line
        row(2, "E", unit="", revenue="-1"),
        row(2, "F", unit="", revenue="100.00"),  # good
    ]
    with time_machine.travel(AFTER[1], tick=False):
        refused = file(client, vendor, agreement, "2027-01-01", attested(*rows))
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]) == {
        "rows.0.quantity",
        "rows.1.quantity",
        "rows.2.revenue",
        "rows.3.revenue",
        "rows.4.revenue",
    }
    assert counted(RoyaltyReport) == 0


def test_customer_ids_are_one_customer_after_trimming_and_unicode_case_folding(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    # "ß" case-folds to "ss": lower() alone would keep these apart.
    agreement = active_agreement(vendor, SOFTWARE)
    rows = [row(1, "Straße-7", quantity=5), row(1, "  STRASSE-7 ", quantity=6)]
    with time_machine.travel(AFTER[1], tick=False):
        refused = file(client, vendor, agreement, "2027-01-01", attested(*rows))
        assert refused.status_code == 422
        message = refused.get_json()["errors"]["rows.1.customer_id"][0]
        assert "Rows 0 and 1" in message
        first = file(client, vendor, agreement, "2027-01-01", attested(rows[0]))
        assert first.status_code == 201, first.get_json()
    with time_machine.travel(AFTER[2], tick=False):
        second = file(client, vendor, agreement, "2027-04-01", attested(rows[1]))
    # The same customer counted once, at its largest quantity: 6, not 11.
    assert second.get_json()["lines"][0]["quantities_to_date"] == {"end_users": 6}


def test_a_csv_file_needs_its_header_row_exactly(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = {**factories.bearer(vendor), "Content-Type": "text/csv"}
    reordered = (
        "customer_id,line,customer_name,country,unit,quantity,revenue\n"
        "A,1,Clinic A,US,end_users,5,\n"
    )
    with time_machine.travel(AFTER[1], tick=False):
        refused = client.post(
            url(agreement, "/2027-01-01?attest=true"), data=reordered.encode(), headers=headers
        )
    assert refused.status_code == 422
    assert "rows.1" in refused.get_json()["errors"]
    assert counted(RoyaltyReport) == 0


def test_a_csv_amendment_takes_amends_and_reason_as_query_parameters(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = {**factories.bearer(vendor), "Content-Type": "text/csv"}
    with time_machine.travel(AFTER[1], tick=False):
        first = client.post(
            url(agreement, "/2027-01-01?attest=true"),
            data=f"{HEADER}\n1,A,Clinic A,US,end_users,60,\n".encode(),
            headers=headers,
        ).get_json()
        amended = client.post(
            url(agreement, f"/2027-01-01?attest=true&amends={first['id']}&reason=Recount"),
            data=f"{HEADER}\n1,A,Clinic A,US,end_users,70,\n".encode(),
            headers=headers,
        )
    assert amended.status_code == 201, amended.get_json()
    assert amended.get_json()["amends"] == first["id"]
    assert amended.get_json()["total_due"] == "185.00"  # 10 more at 18.50


# --- The response --------------------------------------------------------------------------


def test_preview_submit_and_read_answer_the_contracts_shape(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    body = attested(row(1, "A", quantity=60))
    headers = factories.bearer(vendor)
    with time_machine.travel(AFTER[1], tick=False):
        preview = client.post(url(agreement, "/2027-01-01/preview"), json=body, headers=headers)
        assert counted(RoyaltyReport) == 0
        filed = file(client, vendor, agreement, "2027-01-01", body)
    read = client.get(f"/api/v1/royalty-reports/{filed.get_json()['id']}", headers=headers)
    assert (preview.status_code, filed.status_code, read.status_code) == (200, 201, 200)
    for answer in (preview.get_json(), filed.get_json(), read.get_json()):
        assert set(answer) >= CONTRACT_KEYS
        assert [set(line) for line in answer["lines"]] == [LINE_KEYS]
        assert isinstance(answer["lines"][0]["explanation"], list)
    shown = preview.get_json()
    assert (shown["id"], shown["state"], shown["invoice"]) == (None, None, None)
    stored = filed.get_json()
    assert stored["state"] == "submitted"
    assert stored["invoice"].startswith("INV-2027-")
    for key in CONTRACT_KEYS - {"id", "state", "invoice"}:
        assert shown[key] == stored[key] == read.get_json()[key], key


def test_a_negative_due_has_a_leading_minus_and_is_credited_without_an_invoice(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, PAYER)
    with time_machine.travel(AFTER[1], tick=False):
        first = file(
            client, vendor, agreement, "2027-01-01", attested(row(1, "P1", "members", 1000000))
        )
    with time_machine.travel(AFTER[2], tick=False):
        second = file(client, vendor, agreement, "2027-04-01", attested(row(1, "P2", "members", 1)))
    assert first.get_json()["total_due"] == "30000.00"
    document = second.get_json()
    assert document["lines"][0]["due"] == "-11999.98"
    assert document["total_due"] == "-11999.98"
    assert document["invoice"] is None
    credit = db.session().scalars(select(CreditNote)).one()
    assert credit.invoice.number == first.get_json()["invoice"]


def test_a_total_due_of_zero_issues_neither_invoice_nor_credit_note(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        file(client, vendor, agreement, "2027-01-01", attested(row(1, "A", quantity=60)))
    invoices = counted(Invoice)
    with time_machine.travel(AFTER[2], tick=False):
        same = file(client, vendor, agreement, "2027-04-01", attested(row(1, "A", quantity=60)))
    assert same.status_code == 201
    assert same.get_json()["total_due"] == "0.00"
    assert same.get_json()["invoice"] is None
    assert counted(Invoice) == invoices
    assert counted(CreditNote) == 0


def test_one_invoice_has_a_line_per_line_with_a_due_and_shows_a_negative_due_as_a_deduction(
    client: Any, vendor: Any, billing_staff: Any, active_agreement: Any
) -> None:
    # Line 1 (per end user, graduated) grows; line 2 (per member, volume) crosses
    # into a cheaper tier, so its due is negative.
    agreement = active_agreement(vendor, SOFTWARE, PAYER)
    with time_machine.travel(AFTER[1], tick=False):
        file(
            client,
            vendor,
            agreement,
            "2027-01-01",
            attested(row(1, "A", quantity=100), row(2, "P1", "members", 1000000)),
        )
    with time_machine.travel(AFTER[2], tick=False):
        second = file(
            client,
            vendor,
            agreement,
            "2027-04-01",
            attested(row(1, "A", quantity=3000), row(2, "P2", "members", 1)),
        ).get_json()
    # Line 1: 100 x 18.50 + 900 x 15.50 + 2000 x 12.00 = 39800.00, 1850.00 before.
    # Line 2: 1,000,001 x 0.018 = 18000.02, 30000.00 before.
    assert [line["due"] for line in second["lines"]] == ["37950.00", "-11999.98"]
    assert second["total_due"] == "25950.02"
    invoice = db.session().scalars(select(Invoice).where(Invoice.number == second["invoice"])).one()
    answer = client.get(f"/api/v1/invoices/{invoice.id}", headers=factories.bearer(billing_staff))
    lines = answer.get_json()["lines"]
    assert [line["amount"] for line in lines] == ["37950.00", "-11999.98"]
    assert answer.get_json()["total"] == "25950.02"
    for line in lines:  # the working: usage to date, A_k, charged before and the due
        assert line["working"]
    for figure in ("39800.00", "1850.00", "37950.00"):
        assert figure in lines[0]["working"]
    for figure in ("18000.02", "30000.00", "11999.98"):
        assert figure in lines[1]["working"]


# --- Corrections ---------------------------------------------------------------------------


def test_a_period_is_amended_until_a_year_after_the_agreement_ended_then_refused_with_409(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    # The term ends 2027-12-31: on 2028-12-31 it ended exactly a year ago (366 days:
    # 2028 is a leap year), not more; from 2029-01-01 it ended more than a year ago.
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        first = file(client, vendor, agreement, "2027-01-01", attested(row(1, "A", quantity=60)))
    report = first.get_json()["id"]
    with time_machine.travel(datetime(2028, 12, 31, 18, 0, tzinfo=UTC), tick=False):
        within = file(
            client,
            vendor,
            agreement,
            "2027-01-01",
            attested(row(1, "A", quantity=61), amends=report, reason="Recount"),
        )
    assert within.status_code == 201, within.get_json()
    with time_machine.travel(datetime(2029, 1, 1, 18, 0, tzinfo=UTC), tick=False):
        late = file(
            client,
            vendor,
            agreement,
            "2027-01-01",
            attested(row(1, "A", quantity=62), amends=within.get_json()["id"], reason="Again"),
        )
    assert late.status_code == 409
    assert late.mimetype == PROBLEM
    assert "more than a year" in late.get_json()["detail"]


def test_amending_a_superseded_report_is_a_409_naming_the_current_one(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        first = file(client, vendor, agreement, "2027-01-01", attested(row(1, "A", quantity=60)))
        old = first.get_json()["id"]
        file(
            client,
            vendor,
            agreement,
            "2027-01-01",
            attested(row(1, "A", quantity=61), amends=old, reason="Recount"),
        )
        again = file(
            client,
            vendor,
            agreement,
            "2027-01-01",
            attested(row(1, "A", quantity=62), amends=old, reason="Again"),
        )
    assert again.status_code == 409
    assert again.mimetype == PROBLEM
    assert counted(RoyaltyReport) == 2


def test_a_chain_of_amendments_names_one_amendment_for_each_report_it_replaced(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """Only the current report can be amended (above), so each report is amended at
    most once and `amended_by` finds one row (`one_or_none`), however long the chain."""
    agreement = active_agreement(vendor, SOFTWARE)
    filed = []
    with time_machine.travel(AFTER[1], tick=False):
        for quantity in (60, 61, 62):
            amends = {"amends": filed[-1], "reason": "Recount"} if filed else {}
            response = file(
                client,
                vendor,
                agreement,
                "2027-01-01",
                attested(row(1, "A", quantity=quantity), **amends),
            )
            assert response.status_code == 201, response.get_json()
            filed.append(response.get_json()["id"])
    session = db.session()
    named = [royalty_services.amended_by(session, report_id) for report_id in filed]
    assert [found.id if found else None for found in named] == [filed[1], filed[2], None]


def test_amending_a_report_a_stored_row_already_amends_is_a_409_naming_that_row(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """The database holds one amendment per report (`uq_royalty_reports_amends_id`). A
    row stored by hand (or by a path that skipped the agreement's lock) already amends
    the current report: amending it again is a 409 naming that row, and nothing of the
    refused amendment is stored (the report stays current, not superseded)."""
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        first = file(client, vendor, agreement, "2027-01-01", attested(row(1, "A", quantity=60)))
        current = first.get_json()["id"]
        with db.transaction() as session:
            report = session.get(RoyaltyReport, current)
            assert report is not None
            copied = {
                column.key: getattr(report, column.key)
                for column in RoyaltyReport.__table__.columns
                if column.key not in {"id", "state", "amends_id", "amendment_reason"}
            }
            stray = RoyaltyReport(
                **copied, state="superseded", amends_id=current, amendment_reason="By hand"
            )
            session.add(stray)
            session.flush()
            stray_reference = stray.reference
        refused = file(
            client,
            vendor,
            agreement,
            "2027-01-01",
            attested(row(1, "A", quantity=61), amends=current, reason="Recount"),
        )
    assert refused.status_code == 409
    assert refused.mimetype == PROBLEM
    assert f"already amended by report {stray_reference}" in refused.get_json()["detail"]
    assert counted(RoyaltyReport) == 2
    kept = db.session().get(RoyaltyReport, current)
    assert kept is not None
    assert kept.state == "submitted"


# --- Interfaces ----------------------------------------------------------------------------


def test_billing_staff_reach_every_organizations_periods_and_reports(
    client: Any, vendor: Any, billing_staff: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        filed = file(client, vendor, agreement, "2027-01-01", attested(row(1, "A", quantity=1)))
    staff = factories.bearer(billing_staff)
    report = filed.get_json()["id"]
    assert client.get(url(agreement), headers=staff).status_code == 200
    assert client.get(url(agreement, "/2027-04-01/template"), headers=staff).status_code == 200
    assert client.get(f"/api/v1/royalty-reports/{report}", headers=staff).status_code == 200
    assert client.get(f"/api/v1/royalty-reports/{report}/rows", headers=staff).status_code == 200


def test_every_royalty_report_call_is_in_the_openapi_document(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    base = "/api/v1/agreements/{agreement_id}/royalty-reports"
    assert "get" in paths[base]
    assert "get" in paths[base + "/{period_start}/template"]
    assert "post" in paths[base + "/{period_start}/preview"]
    assert "201" in paths[base + "/{period_start}"]["post"]["responses"]
    assert "get" in paths["/api/v1/royalty-reports/{report_id}"]
    assert "get" in paths["/api/v1/royalty-reports/{report_id}/rows"]


# --- Reportable lines ----------------------------------------------------------------------


def _approved_with_a_line_set_by_hand(vendor: Any, staff: Any) -> Any:
    """SOFTWARE (per end user) and DATA_FILE (percent of revenue), the second's
    amount set by licensing staff when approving."""
    draft = agreements.ApplicationDraft.from_fields(
        {
            "term_start": date(2027, 1, 1),
            "term_end": date(2027, 12, 31),
            "uses": (SOFTWARE, DATA_FILE),
        }
    )
    principal = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(principal, draft, now=NOW)
    agreements.submit(application.id, principal, policy=issuing(), attest=True, now=NOW)
    reviewer = Actor.of(accounts.principal_for(staff))
    agreements.start_review(application.id, reviewer, now=NOW)
    approved = agreements.approve(
        application.id,
        reviewer,
        policy=issuing(),
        modifications=agreements.Modifications(
            lines=[agreements.LineChange(1, Decimal("7500.00"), "a negotiated fixed fee")]
        ),
        now=NOW,
    )
    agreement = agreement_of(approved)
    accept(agreement, vendor, now=NOW)
    return agreement


def test_a_line_whose_amount_staff_set_by_hand_does_not_report(
    client: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = _approved_with_a_line_set_by_hand(vendor, licensing_staff)
    headers = factories.bearer(vendor)
    template = client.get(url(agreement, "/2027-01-01/template"), headers=headers)
    assert template.get_data(as_text=True).splitlines() == [HEADER, "1,,,,end_users,,"]
    with time_machine.travel(AFTER[1], tick=False):
        refused = file(
            client, vendor, agreement, "2027-01-01", attested(row(2, "A", unit="", revenue="1.00"))
        )
        assert refused.status_code == 422
        assert "not a reportable line" in refused.get_json()["errors"]["rows.0.line"][0]
        filed = file(client, vendor, agreement, "2027-01-01", attested(row(1, "A", quantity=1)))
    assert [line["line"] for line in filed.get_json()["lines"]] == [1]


def test_a_sum_with_a_usage_part_reports_and_its_flat_part_was_charged_up_front(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    internal = {
        **SOFTWARE,
        "use": "internal_use",
        "product_name": "Coding desk",
        "quantity": {"users": 4},
    }
    agreement = active_agreement(vendor, internal)  # 82.50 entity fee + 18.50 a user
    headers = factories.bearer(vendor)
    template = client.get(url(agreement, "/2027-01-01/template"), headers=headers)
    assert template.get_data(as_text=True).splitlines() == [HEADER, "1,,,,users,,"]
    with time_machine.travel(AFTER[1], tick=False):
        filed = file(
            client,
            vendor,
            agreement,
            "2027-01-01",
            attested(row(1, "A", unit="users", quantity=10)),
        ).get_json()
    line = filed["lines"][0]
    # A_1 = 82.50 + 10 x 18.50 = 267.50; U = the 82.50 entity fee invoiced up front.
    assert (line["amount_to_date"], line["charged_before"], line["due"]) == (
        "267.50",
        "82.50",
        "185.00",
    )


# --- 200,000 rows in one request -----------------------------------------------------------


def _longest_row(letter: str) -> dict[str, Any]:
    """A valid row with every field at its longest, its text in `letter`."""
    return {
        "line": 200000,
        "customer_id": letter * CUSTOMER_ID_MAX,
        "customer_name": letter * CUSTOMER_NAME_MAX,
        "country": "US",
        "unit": letter * UNIT_MAX,
        "quantity": QUANTITY_MAX,
        "revenue": "9" * REVENUE_MAX_DIGITS + "." + "9" * REVENUE_PLACES,
    }


@pytest.mark.parametrize("letter", ["x", "é", "Ж"], ids=["ascii", "latin", "cyrillic"])
def test_a_report_of_200000_rows_each_at_its_longest_fits_the_request_limit(letter: str) -> None:
    # The limit was 64 MiB: 200,000 such rows are 74 MiB of CSV even in ASCII.
    row = _longest_row(letter)
    csv_line = ",".join(str(value) for value in row.values()) + "\r\n"
    json_row = json.dumps(row, ensure_ascii=False) + ", "
    csv_body = len((HEADER + "\r\n").encode()) + 200_000 * len(csv_line.encode())
    json_body = len(b'{"attest": true, "rows": []}') + 200_000 * len(json_row.encode())
    assert max(csv_body, json_body) <= MAX_REPORT_BYTES


def test_a_body_over_the_reports_limit_is_a_413_and_one_at_it_is_read(
    client: Any, vendor: Any, active_agreement: Any, monkeypatch: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    body = f"{HEADER}\n1,A,Clinic A,US,end_users,60,\n".encode()
    headers = {**factories.bearer(vendor), "Content-Type": "text/csv"}
    monkeypatch.setattr(royalty_api, "MAX_REPORT_BYTES", len(body) - 1)
    with time_machine.travel(AFTER[1], tick=False):
        over = client.post(
            url(agreement, "/2027-01-01/preview?attest=true"), data=body, headers=headers
        )
        monkeypatch.setattr(royalty_api, "MAX_REPORT_BYTES", len(body))
        at = client.post(
            url(agreement, "/2027-01-01/preview?attest=true"), data=body, headers=headers
        )
    assert over.status_code == 413
    assert over.mimetype == PROBLEM
    # The detail names the limit (round 14), the endpoint's own, not the JSON bodies'.
    assert f"at most {len(body) - 1:,} bytes" in over.get_json()["detail"]
    assert at.status_code == 200, at.get_json()


@pytest.mark.parametrize(
    ("use", "rows", "figure"),
    [
        # The figure grouped and in words, as pages write them (round 13; it read
        # "2000000000000 end_users" and "1999999999999.9998 revenue").
        (SOFTWARE, [row(1, c, quantity=QUANTITY_MAX) for c in "AB"], "2,000,000,000,000 end users"),
        (
            DATA_FILE,
            [row(1, c, unit="", revenue="999999999999.9999") for c in "AB"],
            "revenue 1,999,999,999,999.9998 USD",
        ),
    ],
    ids=["quantity", "revenue"],
)
def test_usage_to_date_beyond_what_can_be_priced_is_a_422_naming_the_line_never_a_500(
    client: Any,
    vendor: Any,
    active_agreement: Any,
    use: dict[str, Any],
    rows: list[dict[str, Any]],
    figure: str,
) -> None:
    # Each row is within its bounds, but their sum to date was beyond the pricing
    # core's, whose refusal escaped as a 500.
    agreement = active_agreement(vendor, use)
    with time_machine.travel(AFTER[1], tick=False):
        for tail in ("/preview", ""):
            refused = client.post(
                url(agreement, f"/2027-01-01{tail}"),
                json=attested(*rows),
                headers=factories.bearer(vendor),
            )
            assert refused.status_code == 422, refused.get_json()
            assert refused.mimetype == PROBLEM
            message = refused.get_json()["errors"]["rows"][0]
            assert message.startswith("Line 1:"), message
            assert figure in message
    assert counted(RoyaltyReport) == 0


# --- Periods: due dates and the last periods of an expired agreement -----------------------


def test_a_period_is_due_until_30_days_after_it_ends_and_overdue_from_the_next_day(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    states = []
    for day in (date(2027, 3, 31), date(2027, 4, 1), date(2027, 4, 30), date(2027, 5, 1)):
        noon = datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)  # at the office
        with time_machine.travel(noon, tick=False):
            listed = client.get(url(agreement), headers=factories.bearer(vendor)).get_json()
        states.append(listed[0]["state"])
    assert listed[0]["due_on"] == "2027-04-30"
    assert states == ["upcoming", "due", "due", "overdue"]


def test_an_expired_agreement_still_reports_its_last_periods(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        file(client, vendor, agreement, "2027-01-01", attested(row(1, "A", quantity=100)))
    with time_machine.travel(AFTER[2], tick=False):
        file(client, vendor, agreement, "2027-04-01", attested(row(1, "A", quantity=100)))
    with time_machine.travel(AFTER[3], tick=False):
        file(client, vendor, agreement, "2027-07-01", attested(row(1, "A", quantity=100)))
    expiries.expire(now=AFTER[4])
    assert (
        client.get(
            f"/api/v1/agreements/{agreement.id}", headers=factories.bearer(vendor)
        ).get_json()["state"]
        == "expired"
    )
    with time_machine.travel(AFTER[4], tick=False):
        last = file(client, vendor, agreement, "2027-10-01", attested(row(1, "A", quantity=110)))
    assert last.status_code == 201, last.get_json()
    assert (
        last.get_json()["total_due"] == "155.00"
    )  # 10 more end users, at 15.50 past the first 100


def test_only_a_vendor_user_of_the_licensee_files_a_report(
    client: Any, vendor: Any, licensing_staff: Any, admin: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        for user in (licensing_staff, admin):
            refused = file(client, user, agreement, "2027-01-01", attested(row(1, "A", quantity=1)))
            assert refused.status_code == 403
            assert refused.mimetype == PROBLEM
    assert counted(RoyaltyReport) == 0


def test_a_csv_report_without_attest_true_in_the_query_is_refused_and_stores_nothing(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = {**factories.bearer(vendor), "Content-Type": "text/csv"}
    body = f"{HEADER}\n1,A,Clinic A,US,end_users,60,\n".encode()
    with time_machine.travel(AFTER[1], tick=False):
        for query in ("", "?attest=false", "?attest=yes"):
            refused = client.post(url(agreement, f"/2027-01-01{query}"), data=body, headers=headers)
            assert refused.status_code == 422, query
            assert "attest" in refused.get_json()["errors"]
    assert counted(RoyaltyReport) == 0


def test_a_revenue_lines_invoice_working_shows_the_revenue_to_date(
    client: Any, vendor: Any, billing_staff: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, DATA_FILE)
    rows = [row(1, "A", unit="", revenue="30000.00"), row(1, "B", unit="", revenue="40000.00")]
    with time_machine.travel(AFTER[1], tick=False):
        filed = file(client, vendor, agreement, "2027-01-01", attested(*rows)).get_json()
    assert filed["lines"][0]["revenue_to_date"] == "70000.00"
    assert filed["total_due"] == "7000.00"  # 10% of 70000.00, above the 5000.00 minimum
    invoice = db.session().scalars(select(Invoice).where(Invoice.number == filed["invoice"])).one()
    answer = client.get(f"/api/v1/invoices/{invoice.id}", headers=factories.bearer(billing_staff))
    (line,) = answer.get_json()["lines"]
    assert line["amount"] == "7000.00"
    for figure in ("70000.00", "7000.00", "0.00"):
        assert figure in line["working"]


def test_the_template_is_prefilled_from_the_previous_periods_current_report_after_an_amendment(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        first = file(client, vendor, agreement, "2027-01-01", attested(row(1, "A", quantity=5)))
        file(
            client,
            vendor,
            agreement,
            "2027-01-01",
            attested(row(1, "B", quantity=5), amends=first.get_json()["id"], reason="B, not A"),
        )
    template = client.get(url(agreement, "/2027-04-01/template"), headers=factories.bearer(vendor))
    assert template.mimetype == "text/csv"
    assert template.get_data(as_text=True).splitlines() == [HEADER, "1,B,Clinic B,US,end_users,,"]


def test_a_royalty_invoice_takes_the_agreements_payment_terms_and_late_fee_and_has_a_pdf(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    # Terms of its own, unlike the office's defaults that new invoices would take.
    agreement.payment_terms_days = 45
    agreement.late_fee_monthly_percent = Decimal("0.75")
    db.session().flush()
    with time_machine.travel(AFTER[1], tick=False):
        filed = file(client, vendor, agreement, "2027-01-01", attested(row(1, "A", quantity=5)))
    invoice = (
        db.session()
        .scalars(select(Invoice).where(Invoice.number == filed.get_json()["invoice"]))
        .one()
    )
    headers = factories.bearer(vendor)
    answer = client.get(f"/api/v1/invoices/{invoice.id}", headers=headers).get_json()
    assert answer["payment_terms_days"] == 45
    assert Decimal(answer["late_fee_monthly_percent"]) == Decimal("0.75")
    assert answer["source_type"] == "royalty_report"
    pdf = client.get(f"/api/v1/invoices/{invoice.id}/pdf", headers=headers)
    assert pdf.mimetype == "application/pdf"
    assert pdf.get_data().startswith(b"%PDF")
