"""Round 40: a vendor's engineer integrates their billing system with the service
through the API alone, reading only docs/api.md and the OpenAPI document: a quote,
an application followed to its agreement, the acceptance, the up-front invoice's
payment details, a quarter's royalty report and its amendment, the year to date,
invoices and credit notes page by page, and the errors a program must handle. Every
answer is checked against the document's schema for its route and status
(`tests.support.openapi.answered_as_documented`)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from tests.integration.agreements.conftest import NOW, SMALL_USE
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.openapi import Integration, served_document, walk

# The day after the first 2027 quarter ends: its report may be filed.
AFTER_Q1 = datetime(2027, 4, 2, 15, 0, tzinfo=UTC)
API = "/api/v1"
TERM = {"start": "2027-01-01", "end": "2027-12-31"}
# The quote's use: the application's, without what only an application records.
QUOTED = ("use", "product_type", "user_type", "quantity", "languages", "description")
USE = {key: value for key, value in SMALL_USE.items() if key in QUOTED}


# Card payments on (a Stripe test key pair, never called): the invoice then names
# the portal page that takes the card.
CARDS = {
    "stripe_secret_key": "sk_test_round40",
    "stripe_publishable_key": "pk_test_round40",
    "stripe_webhook_secret": "whsec_round40",
}


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return CARDS


def _row(customer: str, quantity: int) -> dict[str, Any]:
    return {
        "line": 1,
        "customer_id": customer,
        "customer_name": f"Clinic {customer}",
        "country": "US",
        "unit": "end_users",
        "quantity": quantity,
    }


def test_an_integrators_quarter_through_the_api(
    app: Flask, client: FlaskClient, vendor: Any, example_card: str
) -> None:
    api = Integration(client, factories.bearer(vendor, name="billing sync"))
    with time_machine.travel(NOW, tick=False):
        quote = api.call(
            "POST",
            f"{API}/quotes",
            200,
            json={"organization_type": "commercial", "term": TERM, "uses": [USE]},
        )
        applied = api.call(
            "POST",
            f"{API}/applications",
            201,
            json={"term_start": TERM["start"], "term_end": TERM["end"], "uses": [SMALL_USE]},
        )
        assert api.last.headers["Location"].endswith(f"/api/v1/applications/{applied['id']}")
        assert "submit" in applied["allowed_actions"]
        submitted = api.call(
            "POST",
            f"{API}/applications/{{application_id}}/submit",
            200,
            f"{API}/applications/{applied['id']}/submit",
            json={"attest": True},
        )
        assert submitted["state"] == "approved", submitted["state"]
        # A retry of the submission after a lost answer is refused by its own rule.
        resubmitted = api.call(
            "POST",
            f"{API}/applications/{{application_id}}/submit",
            409,
            f"{API}/applications/{applied['id']}/submit",
            json={"attest": True},
        )
        assert resubmitted["state"] == "approved"
        assert submitted["total"] == quote["total"]
        # The application names its agreement; the agreement its PDF's hash.
        agreement_id = submitted["agreement_id"]
        agreement = api.call(
            "GET",
            f"{API}/agreements/{{agreement_id}}",
            200,
            f"{API}/agreements/{agreement_id}",
        )
        assert agreement["allowed_actions"] == ["accept"]
        pdf = api.call(
            "GET",
            f"{API}/agreements/{{agreement_id}}/pdf",
            200,
            f"{API}/agreements/{agreement_id}/pdf",
        )
        assert hashlib.sha256(pdf).hexdigest() == agreement["pdf_sha256"]
        route = f"{API}/agreements/{{agreement_id}}/acceptance"
        path = f"{API}/agreements/{agreement_id}/acceptance"
        signed = {
            "signer_name": "Robin Castellanos",
            "signer_title": "Chief Executive",
            "authority_confirmed": True,
            "pdf_sha256": agreement["pdf_sha256"],
        }
        accepted = api.call("POST", route, 200, path, json=signed)
        assert accepted["state"] == "active"
        # An illegal step: accepting again is a 409 naming the state and what it allows.
        again = api.call("POST", route, 409, path, json=signed)
        assert again["state"] == "active"
        assert "allowed_actions" in again
        # The up-front invoice, and what paying it takes.
        invoices = api.call("GET", f"{API}/invoices", 200)
        (upfront,) = [
            i for i in invoices if (i["source_type"], i["source_id"]) == ("agreement", agreement_id)
        ]
        assert upfront["source_reference"] == agreement["number"]
        assert upfront["state"] == "open"
        assert upfront["balance_due"] == "815.00"
        invoice = api.call(
            "GET",
            f"{API}/invoices/{{invoice_id}}",
            200,
            f"{API}/invoices/{upfront['id']}",
        )
        assert invoice["due_date"]
        assert invoice["number"]
        assert any("Quote the invoice number" in line for line in invoice["remit_to"])
        assert invoice["pay_by_card_url"] == f"http://testserver/portal/invoices/{upfront['id']}"

    with time_machine.travel(AFTER_Q1, tick=False):
        periods_url = f"{API}/agreements/{{agreement_id}}/royalty-reports"
        periods = api.call(
            "GET", periods_url, 200, f"{API}/agreements/{agreement_id}/royalty-reports"
        )
        assert [p["state"] for p in periods][:2] == ["due", "upcoming"]
        q1 = periods[0]["period"]["start"]
        file_route = f"{API}/agreements/{{agreement_id}}/royalty-reports/{{period_start}}"
        file_path = f"{API}/agreements/{agreement_id}/royalty-reports/{q1}"
        template = api.call("GET", f"{file_route}/template", 200, f"{file_path}/template").decode()
        assert template.startswith("line,customer_id,customer_name,country,unit,quantity,revenue")
        # A bad report: every problem at once, keyed rows.N.FIELD; nothing stored.
        bad = api.call(
            "POST",
            file_route,
            422,
            file_path,
            json={"attest": True, "rows": [_row("A", -1), {**_row("B", 5), "country": "XX"}]},
        )
        assert {"rows.0.quantity", "rows.1.country"} <= set(bad["errors"])
        filed = api.call(
            "POST",
            file_route,
            201,
            file_path,
            json={"attest": True, "rows": [_row("A", 60), _row("B", 40)]},
        )
        assert api.last.headers["Location"].endswith(f"/api/v1/royalty-reports/{filed['id']}")
        assert filed["invoice"]
        assert filed["total_due"] == filed["lines"][0]["due"]
        # Filing the period again without `amends` is an illegal step.
        twice = api.call(
            "POST", file_route, 409, file_path, json={"attest": True, "rows": [_row("A", 60)]}
        )
        assert "already has report RR-" in twice["detail"]
        assert f"to correct it, amend it (amends: {filed['id']}, " in twice["detail"]
        amended = api.call(
            "POST",
            file_route,
            201,
            file_path,
            json={
                "attest": True,
                "rows": [_row("A", 60)],
                "amends": filed["id"],
                "reason": "Clinic B signed in Q2, not Q1",
            },
        )
        # 100 end users priced 1,850.00 (815.00 of it charged up front); 60 price
        # 1,110.00: the amendment credits 740.00 against the quarter's invoice.
        assert filed["total_due"] == "1035.00"
        assert amended["amends"] == filed["id"]
        assert amended["total_due"] == "-740.00"
        original = api.call(
            "GET",
            f"{API}/royalty-reports/{{report_id}}",
            200,
            f"{API}/royalty-reports/{filed['id']}",
        )
        assert original["state"] == "superseded"
        rows = api.call(
            "GET",
            f"{API}/royalty-reports/{{report_id}}/rows",
            200,
            f"{API}/royalty-reports/{amended['id']}/rows",
        ).decode()
        assert rows.splitlines()[1:] == ["1,A,Clinic A,US,end_users,60,"]
        # The year to date: the periods list and the current report's lines.
        periods = api.call(
            "GET", periods_url, 200, f"{API}/agreements/{agreement_id}/royalty-reports"
        )
        assert periods[0]["state"] == "submitted"
        assert periods[0]["report_id"] == amended["id"]
        to_date = amended["lines"][0]
        assert to_date["quantities_to_date"] == {"end_users": 60}
        # Invoices a page at a time, following Link; then each invoice's credit notes.
        every = walk(api, f"{API}/invoices", f"{API}/invoices?per_page=1")
        assert len(every) == 2
        assert len({i["id"] for i in every}) == 2
        (royalty,) = [i for i in every if i["number"] == filed["invoice"]]
        notes = walk(
            api,
            f"{API}/invoices/{{invoice_id}}/credit-notes",
            f"{API}/invoices/{royalty['id']}/credit-notes?per_page=1",
        )
        assert [note["number"] for note in notes] == amended["credit_notes"]
        assert [note["amount"] for note in notes] == ["740.00"]
        # Every credit note at once, without walking the invoices (round 40).
        every_note = walk(api, f"{API}/credit-notes", f"{API}/credit-notes?per_page=1")
        assert every_note == notes

    # An expired token: a 401 saying when, and where to make a new one.
    with time_machine.travel(NOW, tick=False):
        _token, secret = accounts.create_api_token(
            vendor.id, "short-lived", actor=Actor.SYSTEM, expires_in_days=30
        )
    expired = Integration(client, {"Authorization": f"Bearer {secret}"})
    with time_machine.travel(NOW + timedelta(days=31), tick=False):
        refused = expired.call("GET", f"{API}/invoices", 401)
    assert "expired at" in refused["detail"]
    assert refused["expired_at"]
    assert expired.last.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("config_changes", [{**CARDS, "quote_rate_limit": "2 per minute"}])
def test_a_rate_limited_quote_is_a_documented_429_saying_when_to_retry(
    client: FlaskClient, vendor: Any, example_card: str
) -> None:
    api = Integration(client, factories.bearer(vendor))
    body = {"organization_type": "commercial", "term": TERM, "uses": [USE]}
    for _ in range(2):
        api.call("POST", f"{API}/quotes", 200, json=body)
    refused = api.call("POST", f"{API}/quotes", 429, json=body)
    assert int(api.last.headers["Retry-After"]) > 0
    assert f"{api.last.headers['Retry-After']} seconds" in refused["detail"]
    listed = api.document["paths"][f"{API}/quotes"]["post"]["responses"]["429"]["headers"]
    assert set(listed) == {
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    }
    for header in listed:
        assert int(api.last.headers[header]) >= 0, header


def test_the_documents_401_names_an_expired_token_and_that_retrying_it_is_useless(
    client: FlaskClient,
) -> None:
    # Before: "unknown, revoked or of a deactivated account": an expired token, the
    # 401 an integrator meets every 90 days, was not among them.
    document = served_document(client)
    for route, method in ((f"{API}/invoices", "get"), (f"{API}/applications", "post")):
        answer = document["paths"][route][method]["responses"]["401"]
        assert "expired (`expired_at` says when" in answer["description"]


@pytest.mark.parametrize("config_changes", [{}])
def test_an_invoice_names_no_card_page_where_cards_are_off_but_still_where_to_remit(
    client: FlaskClient, vendor: Any, invoice_for: Any
) -> None:
    invoice = invoice_for(vendor)
    api = Integration(client, factories.bearer(vendor))
    read = api.call("GET", f"{API}/invoices/{{invoice_id}}", 200, f"{API}/invoices/{invoice.id}")
    assert read["pay_by_card_url"] is None
    assert read["remit_to"][0].startswith("Wire or ACH: ")


def test_a_paid_invoice_names_no_card_page(
    client: FlaskClient, vendor: Any, invoice_for: Any
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    paid_offline(invoice.id, "100.00", "WIRE-0040")
    api = Integration(client, factories.bearer(vendor))
    read = api.call("GET", f"{API}/invoices/{{invoice_id}}", 200, f"{API}/invoices/{invoice.id}")
    assert read["state"] == "paid"
    assert read["pay_by_card_url"] is None


def test_the_credit_notes_list_pages_each_vendors_own_newest_first(
    client: FlaskClient, vendor: Any, other_vendor: Any, invoice_for: Any
) -> None:
    # Before: no `GET /api/v1/credit-notes`; a billing system walked every invoice's
    # `/credit-notes` to find them.
    mine = invoice_for(vendor, ("300.00",))
    theirs = invoice_for(other_vendor, ("300.00",))
    staff = factories.bearer(factories.make_staff(db.session(), ("billing",)))
    credit = Integration(client, staff)
    route = f"{API}/invoices/{{invoice_id}}/credit-notes"
    for invoice, amount in ((mine, "10.00"), (theirs, "20.00"), (mine, "30.00")):
        credit.call(
            "POST",
            route,
            201,
            f"{API}/invoices/{invoice.id}/credit-notes",
            json={"amount": amount, "reason": "A discount agreed after issue"},
        )
    api = Integration(client, factories.bearer(vendor))
    listed = walk(api, f"{API}/credit-notes", f"{API}/credit-notes?per_page=1")
    assert [note["amount"] for note in listed] == ["30.00", "10.00"]
    assert {note["invoice_id"] for note in listed} == {mine.id}
    everyone = walk(credit, f"{API}/credit-notes", f"{API}/credit-notes")
    assert [note["amount"] for note in everyone] == ["30.00", "20.00", "10.00"]


def test_the_document_says_which_errors_to_retry(client: FlaskClient) -> None:
    # Before: nothing in the document told a 429 or a lost answer (retry) from a 422
    # or a 401 (the same request fails forever).
    described = served_document(client)["info"]["description"]
    assert "Which to retry: a 429, and a 503 (" in described
    assert "after their `Retry-After` seconds" in described
    assert "Never a 401 (create a new token) nor any other 4xx" in described


def test_the_document_says_what_an_invoices_source_fields_mean(client: FlaskClient) -> None:
    # Before: `source_type` a bare string and `source_reference` undescribed, so an
    # integrator matched an up-front invoice by `source_id` alone, which a royalty
    # report's id may equal.
    invoice = served_document(client)["components"]["schemas"]["Invoice"]["properties"]
    assert invoice["source_type"]["enum"] == ["agreement", "royalty_report", "late_fee", "manual"]
    assert "read it with source_id" in invoice["source_type"]["description"]
    assert "the period's first day" in invoice["source_reference"]["description"]


def test_the_document_says_a_quotes_use_is_an_applications_without_three_fields(
    client: FlaskClient, example_card: str
) -> None:
    # Before: nothing said why the use an application took was refused by a quote.
    document = served_document(client)
    uses = document["components"]["schemas"]["QuoteRequest"]["properties"]["uses"]
    assert "`product_name`, `delivery` and `territories` are refused here" in uses["description"]
    only_an_application = {"product_name", "delivery", "territories"}
    use = document["components"]["schemas"]["Use"]["properties"]
    applied = document["components"]["schemas"]["ApplicationUseInput"]["properties"]
    assert set(applied) - set(use) == only_an_application
    api = Integration(client, {})
    body = {"organization_type": "commercial", "term": TERM, "uses": [SMALL_USE]}
    refused = api.call("POST", f"{API}/quotes", 422, json=body)
    assert set(refused["errors"]) == {f"uses.0.{name}" for name in only_an_application}
