"""Round 60 (apiwalk60): a vendor's developer writes a small client for a licensing
year, reading only the README's API parts, docs/api.md, docs/royalty-reports.md, the
served OpenAPI document and the two contracts, and following their examples: a token
made with `licensing tokens create`, the README's quote, an application followed to
its agreement and accepted, every 2027 quarter reported (JSON, the CSV template, a
mistake refused and then one filed and amended, the last quarter late, on a new token
once the first expired), the year to date, invoices and credit notes page by page, one
invoice paid by card (localstripe) on the page its `pay_by_card_url` names and read
back paid, and the errors the docs promise. Every answer is checked against the
document's schema for its route and status (`tests.support.openapi.Integration`)."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.royalties.models import RoyaltyReport
from licensing.royalties.services import filing
from tests.integration.agreements.conftest import NOW, SMALL_USE
from tests.integration.billing.refund_support import deliver
from tests.integration.billing.stripe_support import card_token, events_for, stripe_config
from tests.support import factories
from tests.support.openapi import Integration, walk
from tests.support.servers import LocalStripe

API = "/api/v1"
TERM = {"start": "2027-01-01", "end": "2027-12-31"}
PERIODS = f"{API}/agreements/{{agreement_id}}/royalty-reports"
FILE = f"{PERIODS}/{{period_start}}"
REPORT = f"{API}/royalty-reports/{{report_id}}"
INVOICE = f"{API}/invoices/{{invoice_id}}"
PROBLEM = "application/problem+json"
# The days the walk files on: each the day after its quarter ends, but the last
# quarter's, filed after its due date (30 January 2028).
Q1_FILED = datetime(2027, 4, 2, 15, 0, tzinfo=UTC)
Q2_FILED = datetime(2027, 7, 2, 15, 0, tzinfo=UTC)
Q3_FILED = datetime(2027, 10, 4, 15, 0, tzinfo=UTC)
Q4_LATE = datetime(2028, 2, 14, 15, 0, tzinfo=UTC)
# The README's first quote ("First steps on `make run`", step 1).
README_QUOTE = {
    "organization_type": "commercial",
    "term": TERM,
    "uses": [
        {
            "use": "distribution",
            "product_type": "saas",
            "user_type": "provider",
            "quantity": {"end_users": 2500},
        }
    ],
}


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return {**stripe_config(localstripe), "quote_rate_limit": "3 per minute"}


def _row(customer: str, quantity: int) -> dict[str, Any]:
    return {
        "line": 1,
        "customer_id": customer,
        "customer_name": f"Clinic {customer}",
        "country": "US",
        "unit": "end_users",
        "quantity": quantity,
    }


def _token(app: Flask, email: str, name: str) -> dict[str, str]:
    """`licensing tokens create EMAIL --name NAME --expires-in 365`, as the README
    gives it; its one line of output is the token."""
    made = app.test_cli_runner().invoke(
        args=["tokens", "create", email, "--name", name, "--expires-in", "365"]
    )
    assert made.exit_code == 0, made.output
    return {"Authorization": f"Bearer {made.stdout.strip()}"}


def _read_only(user: Any) -> dict[str, str]:
    """A token of `user`'s with scope `read` (`--scope read`)."""
    _token_row, secret = accounts.create_api_token(
        user.id, "read only", actor=Actor.SYSTEM, scope="read", expires_in_days=365
    )
    return {"Authorization": f"Bearer {secret}"}


def _counted(model: Any) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def _problem(api: Integration) -> None:
    assert api.last.mimetype == PROBLEM
    problem = api.last.get_json()
    assert problem["type"] == "about:blank"
    assert problem["status"] == api.last.status_code


def _licensed(api: Integration) -> int:
    """Apply for the term, submit (approved at once: an automatic rule) and accept the
    agreement the application names, its PDF's digest as the acceptance; its id."""
    applied = api.call(
        "POST",
        f"{API}/applications",
        201,
        json={"term_start": TERM["start"], "term_end": TERM["end"], "uses": [SMALL_USE]},
    )
    assert api.last.headers["Location"].endswith(f"{API}/applications/{applied['id']}")
    assert applied["allowed_actions"] == ["submit", "withdraw"]
    submitted = api.call(
        "POST",
        f"{API}/applications/{{application_id}}/submit",
        200,
        f"{API}/applications/{applied['id']}/submit",
        json={"attest": True},
    )
    assert submitted["state"] == "approved"
    agreement_id: int = submitted["agreement_id"]
    agreement = api.call(
        "GET", f"{API}/agreements/{{agreement_id}}", 200, f"{API}/agreements/{agreement_id}"
    )
    assert agreement["allowed_actions"] == ["accept"]
    pdf = api.call(
        "GET", f"{API}/agreements/{{agreement_id}}/pdf", 200, f"{API}/agreements/{agreement_id}/pdf"
    )
    assert hashlib.sha256(pdf).hexdigest() == agreement["pdf_sha256"]
    signed = {
        "signer_name": "Robin Castellanos",
        "signer_title": "Chief Executive",
        "authority_confirmed": True,
        "pdf_sha256": agreement["pdf_sha256"],
    }
    acceptance = f"{API}/agreements/{{agreement_id}}/acceptance"
    accepted = api.call(
        "POST", acceptance, 200, f"{API}/agreements/{agreement_id}/acceptance", json=signed
    )
    assert accepted["state"] == "active"
    # 10 end users estimated, 185.00, under the rule's 1,000.00 minimum: the
    # minimum's lift is charged up front, the 185.00 with the reports.
    assert accepted["charged_to_date"] == "815.00"
    # Accepting again (a retry after a lost answer): a 409 naming the state.
    again = api.call(
        "POST", acceptance, 409, f"{API}/agreements/{agreement_id}/acceptance", json=signed
    )
    _problem(api)
    assert (again["state"], again["allowed_actions"]) == ("active", [])
    return agreement_id


def test_a_vendors_licensing_year_through_the_api_as_the_docs_tell_it(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    example_card: str,
    localstripe: LocalStripe,
    signed_in: Any,
) -> None:
    with time_machine.travel(NOW, tick=False):
        api = Integration(client, _token(app, vendor.email, "billing sync"))
        assert api.call("GET", f"{API}/me", 200)["user"]["email"] == vendor.email
        # The README's quote, word for word.
        quote = api.call("POST", f"{API}/quotes", 200, json=README_QUOTE)
        assert (quote["rate_card"], quote["total"]) == ("2027.1", "33800.00")
        agreement_id = _licensed(api)
        reports = f"{API}/agreements/{agreement_id}/royalty-reports"
        periods = api.call("GET", PERIODS, 200, reports)
        assert [(p["period"]["start"], p["due_on"], p["state"]) for p in periods] == [
            ("2027-01-01", "2027-04-30", "upcoming"),
            ("2027-04-01", "2027-07-30", "upcoming"),
            ("2027-07-01", "2027-10-30", "upcoming"),
            ("2027-10-01", "2028-01-30", "upcoming"),
        ]

    # The first quarter, in JSON: a bad report (every problem at once, nothing stored),
    # a preview, the filing, and the filing again (a 409 saying to amend).
    with time_machine.travel(Q1_FILED, tick=False):
        bad = api.call(
            "POST",
            FILE,
            422,
            f"{reports}/2027-01-01",
            json={"rows": [_row("A", -1), {**_row("B", 5), "country": "USA"}]},
        )
        _problem(api)
        assert set(bad["errors"]) == {"attest", "rows.0.quantity", "rows.1.country"}
        rows = [_row("A", 60), _row("B", 40)]
        preview = api.call(
            "POST", f"{FILE}/preview", 200, f"{reports}/2027-01-01/preview", json={"rows": rows}
        )
        assert (preview["id"], preview["state"], preview["invoice"]) == (None, None, None)
        q1 = api.call(
            "POST", FILE, 201, f"{reports}/2027-01-01", json={"attest": True, "rows": rows}
        )
        assert api.last.headers["Location"].endswith(f"{API}/royalty-reports/{q1['id']}")
        # 100 end users: 100 x 18.50 = 1,850.00, less the 815.00 charged up front.
        assert (q1["lines"][0]["amount_to_date"], q1["total_due"]) == ("1850.00", "1035.00")
        assert q1["lines"] == preview["lines"]
        assert q1["allowed_actions"] == ["amend"]
        again = api.call(
            "POST", FILE, 409, f"{reports}/2027-01-01", json={"attest": True, "rows": []}
        )
        _problem(api)
        assert again["allowed_actions"] == ["amend"]
        assert f"amend it (amends: {q1['id']}, with a reason)" in again["detail"]

    # The second quarter, from its CSV template (the first quarter's customers in it).
    with time_machine.travel(Q2_FILED, tick=False):
        out_of_order = api.call(
            "POST", FILE, 409, f"{reports}/2027-07-01", json={"attest": True, "rows": []}
        )
        assert "first report the period 2027-04-01 to 2027-06-30" in out_of_order["detail"]
        # Round 60 (edges60): and as fields, the address the one to file first is filed at.
        assert out_of_order["file_first"] == {
            "start": "2027-04-01",
            "end": "2027-06-30",
            "url": f"{reports}/2027-04-01",
        }
        template = api.call("GET", f"{FILE}/template", 200, f"{reports}/2027-04-01/template")
        assert api.last.mimetype == "text/csv"
        table = list(csv.reader(io.StringIO(template.decode())))
        assert table[0] == [
            "line",
            "customer_id",
            "customer_name",
            "country",
            "unit",
            "quantity",
            "revenue",
        ]
        assert [row[1] for row in table[1:]] == ["A", "B"]
        quantities = {"A": "60", "B": "40"}
        filled = [table[0], *[[*row[:5], quantities[row[1]], ""] for row in table[1:]]]
        filled.append(["1", "C", "Clinic C", "CA", "end_users", "200", ""])
        sent = io.StringIO()
        csv.writer(sent, lineterminator="\n").writerows(filled)
        q2 = api.call(
            "POST",
            FILE,
            201,
            f"{reports}/2027-04-01?attest=true",
            data=sent.getvalue().encode(),
            content_type="text/csv",
        )
        # 300 end users: 100 x 18.50 + 200 x 15.50 = 4,950.00, less 1,850.00.
        assert q2["lines"][0]["quantities_to_date"] == {"end_users": 300}
        assert q2["total_due"] == "3100.00"
        rows_back = api.call("GET", f"{REPORT}/rows", 200, f"{API}/royalty-reports/{q2['id']}/rows")
        assert rows_back.decode().splitlines() == sent.getvalue().splitlines()
        # The third quarter has not ended: a 409 naming the day it may be filed from.
        too_early = api.call(
            "POST", FILE, 409, f"{reports}/2027-07-01", json={"attest": True, "rows": []}
        )
        assert "report it from 2027-10-01" in too_early["detail"]
        assert too_early["available_from"] == "2027-10-01T05:00:00+00:00"

        # The first quarter's invoice, paid by card on the page it names.
        invoices = walk(api, f"{API}/invoices", f"{API}/invoices?per_page=1")
        assert [i["number"] for i in invoices] == [q2["invoice"], q1["invoice"], "INV-2026-000001"]
        (royalty,) = [i for i in invoices if i["number"] == q1["invoice"]]
        assert (royalty["source_type"], royalty["source_reference"]) == (
            "royalty_report",
            f"CPT-2027-000001 {q1['period']['start']}",
        )
        card_page = urlsplit(royalty["pay_by_card_url"]).path
        person = signed_in(app.test_client(), vendor)
        assert person.get(card_page).status_code == 200
        assert person.get(f"{card_page}/pay").status_code == 200
        # What the pay page's script does with the token Stripe.js makes of the card.
        started = person.post(
            f"/portal/invoices/{royalty['id']}/card-payments",
            json={"token": card_token(localstripe)},
        )
        assert started.status_code == 200, started.get_data(as_text=True)
        payments = f"{API}/invoices/{royalty['id']}/payments"
        (pending,) = api.call("GET", f"{INVOICE}/payments", 200, payments)
        assert (pending["method"], pending["state"]) == ("card", "pending")
        (event,) = events_for(
            localstripe, pending["stripe_payment_intent_id"], "payment_intent.succeeded"
        )
        assert deliver(client, event)["outcome"].startswith("applied")
        paid = api.call("GET", INVOICE, 200, f"{API}/invoices/{royalty['id']}")
        assert (paid["state"], paid["balance_due"], paid["pay_by_card_url"]) == (
            "paid",
            "0.00",
            None,
        )
        (settled,) = api.call("GET", f"{INVOICE}/payments", 200, payments)
        assert (settled["state"], settled["card"], settled["paid_date"]) == (
            "succeeded",
            "Visa ending 4242",
            "2027-07-02",
        )

    # The third quarter: 2,000 typed for Clinic C's 200, filed, then amended.
    with time_machine.travel(Q3_FILED, tick=False):
        wrong = api.call(
            "POST",
            FILE,
            201,
            f"{reports}/2027-07-01",
            json={"attest": True, "rows": [_row("C", 2000), _row("D", 100)]},
        )
        # 2,200 end users: 1,850.00 + 900 x 15.50 + 1,200 x 12.00 = 30,200.00.
        assert wrong["total_due"] == "25250.00"
        correction = {
            "attest": True,
            "rows": [_row("C", 200), _row("D", 100)],
            "amends": wrong["id"],
        }
        no_reason = api.call("POST", FILE, 422, f"{reports}/2027-07-01", json=correction)
        assert set(no_reason["errors"]) == {"reason"}
        reason = "Clinic C has 200 end users, not 2000"
        fixed = api.call(
            "POST", FILE, 201, f"{reports}/2027-07-01", json={**correction, "reason": reason}
        )
        # 400 end users: 1,850.00 + 300 x 15.50 = 6,500.00; 23,700.00 credited
        # against the quarter's invoice, the newest royalty invoice.
        assert (fixed["amends"], fixed["total_due"], fixed["invoice"]) == (
            wrong["id"],
            "-23700.00",
            None,
        )
        (note_number,) = fixed["credit_notes"]
        stale = api.call(
            "POST",
            FILE,
            409,
            f"{reports}/2027-07-01",
            json={**correction, "reason": "again"},
        )
        assert (stale["state"], stale["allowed_actions"]) == ("superseded", [])
        superseded = api.call("GET", REPORT, 200, f"{API}/royalty-reports/{wrong['id']}")
        assert (superseded["state"], superseded["allowed_actions"]) == ("superseded", [])

    # The last quarter, filed late; the token made a year before has expired.
    with time_machine.travel(Q4_LATE, tick=False):
        expired = api.call("GET", PERIODS, 401, reports)
        _problem(api)
        assert expired["expired_at"] == "2027-11-02T15:00:00+00:00"
        assert api.last.headers["WWW-Authenticate"].startswith("Bearer")
        api = Integration(client, _token(app, vendor.email, "billing sync 2028"))
        periods = api.call("GET", PERIODS, 200, reports)
        assert [p["state"] for p in periods] == ["submitted"] * 3 + ["overdue"]
        q4 = api.call(
            "POST",
            FILE,
            201,
            f"{reports}/2027-10-01",
            json={"attest": True, "rows": [_row("E", 50)]},
        )
        # 450 end users: 1,850.00 + 350 x 15.50 = 7,275.00, less 6,500.00.
        assert q4["total_due"] == "775.00"

        # The year to date: the last report's lines and the agreement's charged to date.
        (line,) = q4["lines"]
        assert (line["quantities_to_date"], line["amount_to_date"]) == (
            {"end_users": 450},
            "7275.00",
        )
        agreement = api.call(
            "GET", f"{API}/agreements/{{agreement_id}}", 200, f"{API}/agreements/{agreement_id}"
        )
        assert agreement["charged_to_date"] == line["amount_to_date"]
        # The periods list gives each current report's own total due: an amended
        # period's is the amendment's change, so they do not sum to the year.
        periods = api.call("GET", PERIODS, 200, reports)
        assert [p["total_due"] for p in periods] == ["1035.00", "3100.00", "-23700.00", "775.00"]
        assert [p["invoice"] for p in periods] == [
            q1["invoice"],
            q2["invoice"],
            None,
            q4["invoice"],
        ]
        assert [p["report_id"] for p in periods] == [q1["id"], q2["id"], fixed["id"], q4["id"]]

        # Every invoice and credit note, a page at a time.
        invoices = walk(api, f"{API}/invoices", f"{API}/invoices?per_page=2")
        owed = {
            i["number"]: (i["state"], i["total"], i["amount_credited"], i["balance_due"])
            for i in invoices
        }
        assert owed == {
            "INV-2026-000001": ("open", "815.00", "0.00", "815.00"),
            q1["invoice"]: ("paid", "1035.00", "0.00", "0.00"),
            q2["invoice"]: ("open", "3100.00", "0.00", "3100.00"),
            wrong["invoice"]: ("open", "25250.00", "23700.00", "1550.00"),
            q4["invoice"]: ("open", "775.00", "0.00", "775.00"),
        }
        net = sum(Decimal(i["total"]) - Decimal(i["amount_credited"]) for i in invoices)
        assert net == Decimal(agreement["charged_to_date"])
        (note,) = walk(api, f"{API}/credit-notes", f"{API}/credit-notes?per_page=1")
        assert (note["number"], note["amount"]) == (note_number, "23700.00")
        (wrong_invoice,) = [i for i in invoices if i["number"] == wrong["invoice"]]
        assert note["invoice_id"] == wrong_invoice["id"]
        invoice_notes = f"{API}/invoices/{wrong_invoice['id']}/credit-notes?per_page=1"
        assert walk(api, f"{INVOICE}/credit-notes", invoice_notes) == [note]
        # Every other list the vendor reads, a page at a time.
        (application,) = walk(api, f"{API}/applications", f"{API}/applications?per_page=1")
        assert application["agreement_id"] == agreement_id
        (listed,) = walk(api, f"{API}/agreements", f"{API}/agreements?per_page=1")
        assert listed["charged_to_date"] == agreement["charged_to_date"]
        tokens = walk(api, f"{API}/tokens", f"{API}/tokens?per_page=1")
        assert [(t["name"], t["active"]) for t in tokens] == [
            ("billing sync 2028", True),
            ("billing sync", False),
        ]


def _lost_deadlock(*_args: Any, **_kwargs: Any) -> None:
    """What a PostgreSQL deadlock raises in a unit of work (SQLSTATE 40P01), on either
    database: the service runs the request again, and after its last try answers 503."""
    raise OperationalError("UPDATE ...", {}, _Deadlock())


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_filing_that_loses_to_other_changes_is_a_503_and_the_same_request_again_files_it(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    example_card: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = Integration(client, factories.bearer(vendor))
    with time_machine.travel(NOW, tick=False):
        agreement_id = _licensed(api)
    path = f"{API}/agreements/{agreement_id}/royalty-reports/2027-01-01?attest=true"
    report = b"line,customer_id,customer_name,country,unit,quantity,revenue\n"
    report += b"1,A,Clinic A,US,end_users,60,\n1,B,Clinic B,US,end_users,40,\n"
    store_lines = filing._store_lines
    tries: list[int] = []

    def loses(*args: Any, **kwargs: Any) -> None:
        tries.append(1)
        _lost_deadlock()

    with time_machine.travel(Q1_FILED, tick=False):
        # A report is read once, as it streams, so the service does not run it again
        # itself: the 503 says to send it again in 2 seconds, and nothing is stored.
        monkeypatch.setattr(filing, "_store_lines", loses)
        busy = api.call("POST", FILE, 503, path, data=report, content_type="text/csv")
        _problem(api)
        assert api.last.headers["Retry-After"] == "2"
        assert "nothing was changed. Try again in 2 seconds" in busy["detail"]
        assert len(tries) == 1
        assert _counted(RoyaltyReport) == 0
        # The same request again, as the docs say: filed once, its rows once.
        monkeypatch.setattr(filing, "_store_lines", store_lines)
        filed = api.call("POST", FILE, 201, path, data=report, content_type="text/csv")
        assert (filed["rows"], filed["total_due"]) == (2, "1035.00")
        assert _counted(RoyaltyReport) == 1
        rows = api.call("GET", f"{REPORT}/rows", 200, f"{API}/royalty-reports/{filed['id']}/rows")
        assert rows.decode().splitlines() == report.decode().splitlines()


def test_the_errors_a_vendors_program_meets_are_the_ones_the_docs_promise(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    example_card: str,
) -> None:
    api = Integration(client, factories.bearer(vendor))
    with time_machine.travel(NOW, tick=False):
        agreement_id = _licensed(api)
        # Three quotes a minute (this test's QUOTE_RATE_LIMIT), then a 429 saying when.
        for _ in range(3):
            api.call("POST", f"{API}/quotes", 200, json=README_QUOTE)
        limited = api.call("POST", f"{API}/quotes", 429, json=README_QUOTE)
        _problem(api)
        assert f"{api.last.headers['Retry-After']} seconds" in limited["detail"]
        assert api.last.headers["X-RateLimit-Remaining"] == "0"
    reports = f"{API}/agreements/{agreement_id}/royalty-reports"
    with time_machine.travel(Q1_FILED, tick=False):
        # A period before an earlier one: the 409 names the period to file first.
        early = api.call(
            "POST", f"{FILE}/preview", 409, f"{reports}/2027-04-01/preview", json={"rows": []}
        )
        assert "first report the period 2027-01-01 to 2027-03-31" in early["detail"]
        assert early["file_first"] == {
            "start": "2027-01-01",
            "end": "2027-03-31",
            "url": f"{reports}/2027-01-01",
        }
        assert "available_from" not in early  # worth sending again only once that is filed
        # Another organization's agreement is not found; a trailing slash neither.
        theirs = Integration(client, factories.bearer(other_vendor))
        theirs.call("GET", PERIODS, 404, reports)
        _problem(theirs)
        slashed = client.get(f"{API}/invoices/", headers=api.headers)
        assert (slashed.status_code, slashed.mimetype) == (404, PROBLEM)
        assert slashed.get_json()["detail"].endswith(
            f"paths have no trailing slash: {API}/invoices"
        )
        # A body neither JSON nor CSV: a 415.
        api.call(
            "POST", FILE, 415, f"{reports}/2027-01-01", data=b"A;60", content_type="text/plain"
        )
        _problem(api)
        # A page past the bounds: a 422 naming the argument.
        bounds = api.call("GET", f"{API}/invoices", 422, f"{API}/invoices?per_page=101")
        assert set(bounds["errors"]) == {"query.per_page"}
        # A read-only token previews (it stores nothing) but does not file.
        reader = Integration(client, _read_only(vendor))
        reader.call(
            "POST", f"{FILE}/preview", 200, f"{reports}/2027-01-01/preview", json={"rows": []}
        )
        refused = reader.call(
            "POST", FILE, 403, f"{reports}/2027-01-01", json={"attest": True, "rows": []}
        )
        assert "read-only" in refused["detail"]
        # The document names every POST a read-only token may send, as api.md does.
        for named in ("`POST /quotes`", "a royalty report's preview", "`POST /rate-cards/checks`"):
            assert named in api.document["info"]["description"], named
        # Filing takes no Idempotency-Key (no route a vendor calls does): a retry after
        # a lost answer is told by its own 409, which names the report filed.
        operation = api.document["paths"][FILE]["post"]
        assert "Idempotency-Key" not in {p["name"] for p in operation.get("parameters", [])}
        key = {"Idempotency-Key": "3c0b2f0e-q1-2027"}
        body = {"attest": True, "rows": [_row("A", 60)]}
        first = api.call("POST", FILE, 201, f"{reports}/2027-01-01", json=body, headers=key)
        retried = api.call("POST", FILE, 409, f"{reports}/2027-01-01", json=body, headers=key)
        assert f"amend it (amends: {first['id']}, with a reason)" in retried["detail"]
        periods = api.call("GET", PERIODS, 200, reports)
        assert periods[0]["report_id"] == first["id"]
        # Once it is filed, the next period's preview is refused only for its day: the
        # 409 gives the instant it may be sent again (the office's midnight, CDT).
        early = api.call(
            "POST", f"{FILE}/preview", 409, f"{reports}/2027-04-01/preview", json={"rows": []}
        )
        assert early["detail"].endswith("has not ended; report it from 2027-07-01.")
        assert early["available_from"] == "2027-07-01T05:00:00+00:00"
