"""The royalty-report contract (`contracts/royalty-reports.md`) read line by line in
round 50: the edges its clauses imply, through the HTTP API (docs/contract-coverage.md,
"Edges the contracts imply"). Each test quotes the clause it holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from licensing import db
from licensing.billing.models import CreditNote, Invoice
from licensing.ratecards import services as ratecards
from licensing.royalties.models import RoyaltyReport
from tests.integration.agreements.conftest import NOW
from tests.integration.pricing.conftest import example_document
from tests.integration.royalties.conftest import AFTER, DATA_FILE, SOFTWARE, row
from tests.support import factories
from tests.support.agreements import make_active_agreement

PROBLEM = "application/problem+json"
HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"


def url(agreement: Any, tail: str = "") -> str:
    return f"/api/v1/agreements/{agreement.id}/royalty-reports{tail}"


def attested(*rows: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"attest": True, "rows": list(rows), **extra}


def send(client: Any, vendor: Any, agreement: Any, tail: str, body: Any) -> Any:
    """`body` to `tail` of the agreement's reports: a dict as JSON, a str as the raw
    JSON text (numbers written as they are), bytes as a CSV file."""
    headers = factories.bearer(vendor)
    if isinstance(body, bytes):
        return client.post(
            url(agreement, tail), data=body, content_type="text/csv", headers=headers
        )
    if isinstance(body, str):
        return client.post(
            url(agreement, tail), data=body, content_type="application/json", headers=headers
        )
    return client.post(url(agreement, tail), json=body, headers=headers)


def line_of(answer: dict[str, Any], number: int) -> dict[str, Any]:
    found: dict[str, Any] = next(line for line in answer["lines"] if line["line"] == number)
    return found


def revenue_row(revenue: Any, customer: str = "X") -> dict[str, Any]:
    """A row of line 2 (the data file, 10% of revenue) reporting revenue only."""
    return row(2, customer, unit="", revenue=revenue)


def counted(model: Any) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def invoiced() -> Decimal:
    return sum(db.session().scalars(select(Invoice.total)), Decimal(0))


def credited() -> Decimal:
    return sum(db.session().scalars(select(CreditNote.amount)), Decimal(0))


# --- A report: numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "revenue",
    ['"-0"', '"-0.00"', "-0.0", "-0"],
    ids=["string -0", "string -0.00", "number -0.0", "number -0"],
)
def test_revenue_decimal_string_at_least_0_takes_a_negative_zero_as_zero(
    client: Any, vendor: Any, active_agreement: Any, revenue: str
) -> None:
    """ "`revenue` decimal string >= 0": -0 is 0, so it is >= 0 (as the quote endpoint
    reads it); it was a 422 "Must be an amount of 0 or more"."""
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    body = (
        '{"attest": true, "rows": [{"line": 2, "customer_id": "X", "customer_name": "X",'
        f' "country": "US", "unit": "", "quantity": "", "revenue": {revenue}}}]}}'
    )
    with time_machine.travel(AFTER[1], tick=False):
        answer = send(client, vendor, agreement, "/2027-01-01/preview", body)
    assert answer.status_code == 200, answer.get_json()
    assert line_of(answer.get_json(), 2)["revenue_to_date"] == "0.00"


def test_quantity_whole_number_at_least_0_takes_a_negative_zero_in_a_csv_file_as_zero(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "`quantity` whole number >= 0": a CSV cell "-0" is 0 (JSON's -0 already was)."""
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    csv = f"{HEADER}\n1,A,Clinic A,US,end_users,-0,\n2,X,Clinic X,US,,,-0.00\n".encode()
    with time_machine.travel(AFTER[1], tick=False):
        answer = send(client, vendor, agreement, "/2027-01-01/preview?attest=true", csv)
        filed = send(client, vendor, agreement, "/2027-01-01?attest=true", csv)
    assert answer.status_code == 200, answer.get_json()
    assert line_of(answer.get_json(), 1)["quantities_to_date"] == {"end_users": 0}
    assert filed.status_code == 201, filed.get_json()
    rows = client.get(
        f"/api/v1/royalty-reports/{filed.get_json()['id']}/rows",
        headers=factories.bearer(vendor),
    )
    # Stored and written back without the sign: no "-0" ever leaves the service.
    assert "-0" not in rows.get_data(as_text=True)
    assert "1,A,Clinic A,US,end_users,0," in rows.get_data(as_text=True)


def test_a_negative_revenue_is_still_refused_naming_the_row(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "decimal string >= 0": only zero loses its sign; -0.01 is refused."""
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    with time_machine.travel(AFTER[1], tick=False):
        refused = send(
            client, vendor, agreement, "/2027-01-01/preview", attested(revenue_row("-0.01"))
        )
    assert refused.status_code == 422
    assert refused.mimetype == PROBLEM
    assert list(refused.get_json()["errors"]) == ["rows.0.revenue"]


def test_revenue_as_a_json_number_in_exponent_form_is_read_as_its_value_a_string_is_not(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "`revenue` decimal string": "1E+3" is not a decimal string (422 naming the row's
    field); a JSON number 1E+3 is read as the exact number it writes, 1000."""
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    number = (
        '{"attest": true, "rows": [{"line": 2, "customer_id": "X", "customer_name": "X",'
        ' "country": "US", "unit": "", "quantity": "", "revenue": 1E+3}]}'
    )
    with time_machine.travel(AFTER[1], tick=False):
        read = send(client, vendor, agreement, "/2027-01-01/preview", number)
        refused = send(
            client, vendor, agreement, "/2027-01-01/preview", attested(revenue_row("1E+3"))
        )
    assert read.status_code == 200, read.get_json()
    assert line_of(read.get_json(), 2)["revenue_to_date"] == "1000.00"
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["rows.0.revenue"]


def test_the_largest_and_smallest_numbers_a_row_takes_and_one_past_each_bound(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "`quantity` whole number >= 0", "`revenue` decimal string >= 0": at most 10^12
    units and 12 digits before the point and 4 after (docs/royalty-reports.md); the
    largest of each is priced exactly, one past it is a 422 naming the row's field."""
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    with time_machine.travel(AFTER[1], tick=False):
        largest = send(
            client,
            vendor,
            agreement,
            "/2027-01-01/preview",
            attested(row(1, "A", quantity=10**12), revenue_row("999999999999.9999")),
        )
        smallest = send(
            client,
            vendor,
            agreement,
            "/2027-01-01/preview",
            attested(row(1, "A", quantity=0), revenue_row("0.0001")),
        )
        past = send(
            client,
            vendor,
            agreement,
            "/2027-01-01/preview",
            attested(
                row(1, "A", quantity=10**12 + 1),
                revenue_row("1000000000000"),
                revenue_row("0.00001", customer="Y"),
            ),
        )
    assert largest.status_code == 200, largest.get_json()
    software, data = line_of(largest.get_json(), 1), line_of(largest.get_json(), 2)
    # 100 x 18.50 + 900 x 15.50 + (10^12 - 1000) x 12.00
    assert software["amount_to_date"] == "12000000003800.00"
    # Money leaves with the currency's two digits: the revenue to date is shown
    # rounded; the amount is 10% of the exact revenue (99999999999.99999), half-up once.
    assert data["revenue_to_date"] == "1000000000000.00"
    assert data["amount_to_date"] == "100000000000.00"
    assert smallest.status_code == 200, smallest.get_json()
    # 10% of 0.0001 is below the 5000.00 minimum: the minimum is charged.
    assert line_of(smallest.get_json(), 2)["amount_to_date"] == "5000.00"
    assert past.status_code == 422
    assert set(past.get_json()["errors"]) == {"rows.0.quantity", "rows.1.revenue", "rows.2.revenue"}


def test_cells_are_read_trimmed_of_whitespace_and_countries_in_any_case(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "`country` ISO 3166-1 alpha-2", "`unit` a quantity name": " us " is US and
    " end_users " is end_users; " 7 " is 7 and " 10.50 " is 10.50."""
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    rows = [
        row(1, " A ", unit=" end_users ", quantity=" 7 ", country=" us "),
        revenue_row(" 10.50 "),
    ]
    with time_machine.travel(AFTER[1], tick=False):
        filed = send(client, vendor, agreement, "/2027-01-01", attested(*rows))
    assert filed.status_code == 201, filed.get_json()
    assert line_of(filed.get_json(), 1)["quantities_to_date"] == {"end_users": 7}
    assert line_of(filed.get_json(), 2)["revenue_to_date"] == "10.50"
    stored = client.get(
        f"/api/v1/royalty-reports/{filed.get_json()['id']}/rows", headers=factories.bearer(vendor)
    ).get_data(as_text=True)
    assert "1,A,Clinic  A,US,end_users,7," in stored


def test_an_unknown_column_or_field_is_a_422_naming_it_and_nothing_is_stored(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "Every problem in a report is reported at once, and nothing is stored when any
    row is invalid": an unknown key of a row or of the body is named, never ignored."""
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        refused = send(
            client,
            vendor,
            agreement,
            "/2027-01-01",
            attested(row(1, "A", quantity=1, colour="red"), row(1, "B", quantity=-1), note="x"),
        )
    assert refused.status_code == 422
    assert refused.mimetype == PROBLEM
    errors = refused.get_json()["errors"]
    assert "note" in errors or "rows.0.colour" in errors
    assert counted(RoyaltyReport) == 0


def test_duplicate_rows_of_a_csv_file_are_named_by_both_line_numbers_in_the_file(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "Two rows of one report with the same `line`, `unit` and customer ... are an
    error naming both rows"; for CSV, "N is the line number in the file"."""
    agreement = active_agreement(vendor, SOFTWARE)
    csv = (
        f"{HEADER}\n1,A,Clinic A,US,end_users,5,\n1,B,Clinic B,US,end_users,5,\n"
        "1, a ,Clinic A again,US,end_users,6,\n"
    ).encode()
    with time_machine.travel(AFTER[1], tick=False):
        refused = send(client, vendor, agreement, "/2027-01-01?attest=true", csv)
    assert refused.status_code == 422
    (path, messages), *_ = refused.get_json()["errors"].items()
    assert path == "rows.4.customer_id"
    assert "Rows 2 and 4" in messages[0]
    assert counted(RoyaltyReport) == 0


# --- Which lines report, and when ---------------------------------------------------------


def test_a_period_not_yet_ended_is_a_409_to_preview_and_submit_after_every_earlier_one(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "no earlier than the day after the period ends (otherwise 409)": with the first
    quarter filed, the second on its own last day is refused, preview as submit."""
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        assert send(client, vendor, agreement, "/2027-01-01", attested()).status_code == 201
    with time_machine.travel(datetime(2027, 6, 30, 18, 0, tzinfo=UTC), tick=False):
        body = attested(row(1, "A", quantity=5))
        preview = send(client, vendor, agreement, "/2027-04-01/preview", body)
        submit = send(client, vendor, agreement, "/2027-04-01", body)
    for refused in (preview, submit):
        assert refused.status_code == 409
        assert refused.mimetype == PROBLEM
        assert "2027-07-01" in refused.get_json()["detail"]
    assert counted(RoyaltyReport) == 1


# --- The royalty: year to date ------------------------------------------------------------


def test_amount_to_date_keeps_the_agreements_rate_card_when_a_new_card_is_published_mid_term(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "`A_k`: ... priced exactly as `pricing.md` defines, with the agreement's rate
    card version": a card published for the same year between two quarters (every
    price doubled) changes no quarter of an agreement on the old card."""
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        first = send(client, vendor, agreement, "/2027-01-01", attested(row(1, "A", quantity=1000)))
    assert first.status_code == 201, first.get_json()
    document = example_document()
    document["version"] = "2027.2"
    for rule in document["rules"]:
        for tier in rule.get("model", {}).get("tiers", []):
            tier["unit_price"] = str(Decimal(tier["unit_price"]) * 2)
    ratecards.import_card(document, published_by="tests")
    with time_machine.travel(AFTER[2], tick=False):
        second = send(
            client, vendor, agreement, "/2027-04-01", attested(row(1, "A", quantity=1500))
        )
    assert second.status_code == 201, second.get_json()
    line = line_of(second.get_json(), 1)
    # 2027.1: 100 x 18.50 + 900 x 15.50 + 500 x 12.00 (2027.2 would say 43600.00)
    assert line["amount_to_date"] == "21800.00"
    assert line["charged_before"] == "15800.00"
    assert line["due"] == "6000.00"
    assert "rate card 2027.1" in line["explanation"][0]


# --- Corrections --------------------------------------------------------------------------


def test_an_amendment_of_an_amendment_nets_to_the_charge_to_date_less_the_up_front_amount(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    """ "After any number of amendments, for every line, the amount invoiced minus the
    amount credited for its reports equals `C_last - U`": the first quarter filed at
    100 end users, the second at 200, the first amended up to 300, and that amendment
    amended down to 50; each amendment recomputes the later quarter too."""
    agreement = active_agreement(vendor, SOFTWARE)
    invoices_before, invoiced_before = counted(Invoice), invoiced()
    with time_machine.travel(AFTER[1], tick=False):
        first = send(client, vendor, agreement, "/2027-01-01", attested(row(1, "A", quantity=100)))
    with time_machine.travel(AFTER[2], tick=False):
        second = send(client, vendor, agreement, "/2027-04-01", attested(row(1, "A", quantity=200)))
        up = send(
            client,
            vendor,
            agreement,
            "/2027-01-01",
            attested(row(1, "A", quantity=300), amends=first.get_json()["id"], reason="Recount"),
        )
        down = send(
            client,
            vendor,
            agreement,
            "/2027-01-01",
            attested(row(1, "A", quantity=50), amends=up.get_json()["id"], reason="Recount again"),
        )
    for answer in (first, second, up, down):
        assert answer.status_code == 201, answer.get_json()
    assert down.get_json()["amends"] == up.get_json()["id"]
    superseded = client.get(
        f"/api/v1/royalty-reports/{up.get_json()['id']}", headers=factories.bearer(vendor)
    ).get_json()
    assert superseded["state"] == "superseded"
    # C_last: the second quarter, A = 200 end users = 100 x 18.50 + 100 x 15.50 = 3400.00
    # (the customer's largest quantity over both quarters, now 200); U: nothing up front.
    u = Decimal(line_of(first.get_json(), 1)["charged_before"])
    assert (invoiced() - invoiced_before) - credited() == Decimal("3400.00") - u
    assert counted(Invoice) - invoices_before == 3  # first, second, the first amendment


# --- No 500 on any input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "null",
        "[]",
        '"rows"',
        "{}",
        '{"attest": true}',
        '{"attest": true, "rows": null}',
        '{"attest": true, "rows": [null, 1, "x", [], {}]}',
        '{"attest": true, "rows": [{"line": 1e400}]}',
        '{"attest": true, "rows": [{"line": 1, "quantity": 1e400, "unit": "end_users"}]}',
        '{"attest": true, "rows": [{"line": 1, "quantity": -1e-400, "unit": "end_users"}]}',
        '{"attest": true, "rows": [{"line": 2, "revenue": {"a": 1}, "unit": ""}]}',
        '{"attest": true, "rows": [{"line": 2, "revenue": [1], "unit": []}]}',
        '{"attest": true, "rows": [], "amends": -1, "reason": "x"}',
        '{"attest": true, "rows": [], "amends": 1e30, "reason": "x"}',
        '{"attest": true, "rows": [], "amends": 1, "reason": 5}',
        '{"attest": 1, "rows": []}',
    ],
)
def test_no_body_however_odd_is_ever_a_500(
    client: Any, vendor: Any, active_agreement: Any, body: str
) -> None:
    """ "errors as `application/problem+json`": every odd body is a 4xx problem."""
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    with time_machine.travel(AFTER[1], tick=False):
        for tail in ("/2027-01-01/preview", "/2027-01-01"):
            answer = send(client, vendor, agreement, tail, body)
            assert 400 <= answer.status_code < 500, (tail, answer.status_code, answer.data)
            assert answer.mimetype == PROBLEM
            json.loads(answer.data)
    assert counted(RoyaltyReport) == 0


# --- Interfaces: money --------------------------------------------------------------------


def test_a_reports_money_has_exactly_the_minor_unit_digits_of_a_currency_without_cents(
    client: Any, vendor: Any, example_card: str, licensing_staff: Any
) -> None:
    """ "Money is a decimal string ... with exactly the currency's minor-unit digits":
    under a yen card (no minor unit) every amount of the answer and the period list
    is whole yen, rounded half-up once (5461.5 is 5462), the revenue to date too."""
    document = example_document()
    document["version"] = "2027.jpy"  # the same period, published later: it takes over
    document["currency"] = "JPY"
    ratecards.import_card(document, published_by="tests")
    agreement = make_active_agreement(vendor, licensing_staff, SOFTWARE, DATA_FILE, now=NOW)
    rows = attested(row(1, "A", quantity=333), revenue_row("12345.67"))
    with time_machine.travel(AFTER[1], tick=False):
        filed = send(client, vendor, agreement, "/2027-01-01", rows)
        periods = client.get(url(agreement), headers=factories.bearer(vendor)).get_json()
    assert filed.status_code == 201, filed.get_json()
    answer = filed.get_json()
    assert answer["currency"] == "JPY"
    software, data = line_of(answer, 1), line_of(answer, 2)
    # 100 x 18.5 + 233 x 15.5 = 5461.5, half-up to 5462; 10% of the revenue is below
    # the 5000 minimum.
    assert [software["amount_to_date"], software["charged_before"], software["due"]] == [
        "5462",
        "0",
        "5462",
    ]
    assert [data["revenue_to_date"], data["amount_to_date"], data["due"]] == [
        "12346",
        "5000",
        "5000",
    ]
    assert answer["total_due"] == periods[0]["total_due"] == "10462"
