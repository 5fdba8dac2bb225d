"""Input the service cannot price or store is refused at the edge with a 4xx
naming the limit, never a 500 and never minutes of CPU: absurd numbers, deep
JSON, unstorable text (lone surrogates, NUL), ids beyond the id columns and
signed webhooks that are not events."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.audit.models import AuditEvent
from licensing.billing.models import UNREADABLE_ACTION, Invoice, StripeEvent
from licensing.limits import MAX_JSON_DEPTH, MAX_RECORD_ID
from licensing.money import AMOUNT_INTEGER_DIGITS
from licensing.permissions.models import PermissionRequest
from licensing.pricing import ProposedUse
from tests.integration.agreements.conftest import (  # noqa: F401 - `apply` is a fixture
    AUTO_USE,
    NOW,
    STAFF_USE,
    apply,
)
from tests.integration.permissions.conftest import request_fields
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories
from tests.support.agreements import agreement_of
from tests.support.decimals import no_decimal_arithmetic
from tests.support.nasty import QUERY_TEXT, SWEEP
from tests.support.servers import LocalStripe

WEBHOOK_SECRET = "whsec_test_input_bounds"
HUGE = str(2**64)
SURROGATE = "\ud800"
NUL = "\x00"


@pytest.fixture
def config_changes(request: pytest.FixtureRequest) -> dict[str, Any]:
    changes = {
        "auth_rate_limit": "off",  # the public permission form is posted often here
        "stripe_secret_key": "sk_test_input_bounds",
        "stripe_publishable_key": "pk_test_input_bounds",
        "stripe_webhook_secret": WEBHOOK_SECRET,
    }
    if "localstripe" in request.fixturenames:
        # A test whose webhooks ask Stripe for an intent asks localstripe, which answers
        # at once that it knows none; api.stripe.com, unreachable here, was asked twice
        # (a retry) and waited for each of a sweep's examples (round 63).
        changes["stripe_api_base"] = request.getfixturevalue("localstripe").url
    return changes


@pytest.fixture
def staff(app: Flask) -> Any:
    return factories.make_staff(db.session(), roles=("licensing", "billing", "admin"))


def raw_post(client: FlaskClient, path: str, text: str, headers: Any = None) -> Any:
    return client.post(path, data=text, content_type="application/json", headers=headers or {})


def quote_with_revenue(revenue_literal: str) -> str:
    """A quote body whose revenue is written as the given JSON literal."""
    body = {
        "organization_type": "commercial",
        "term": {"start": "2027-01-01", "end": "2027-12-31"},
        "rate_card": "2027.1",
        "uses": [
            {
                "use": "distribution",
                "product_type": "data_file",
                "user_type": "provider",
                "revenue": "REVENUE",
            }
        ],
    }
    return json.dumps(body).replace('"REVENUE"', revenue_literal)


def problem_text(response: Any) -> str:
    body = response.get_json()
    messages = itertools.chain.from_iterable(body.get("errors", {}).values())
    return " ".join([body.get("detail", ""), *messages])


# --- numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "limit"),
    [
        ("1e999999999", "1e40"),  # used to hold a worker 15-60 s
        ("1e10000000", "1e40"),
        ("1" * 100_000, "40 characters"),  # used to be a 500 (int conversion limit)
        ("1e24", f"{AMOUNT_INTEGER_DIGITS} digits"),  # used to be priced
        ("1000000000000000000000000", f"{AMOUNT_INTEGER_DIGITS} digits"),
        ('"100000000000000000000000"', f"{AMOUNT_INTEGER_DIGITS} digits"),
        ('"1.00001"', "4 decimal places"),
    ],
)
@pytest.mark.usefixtures("example_card")
def test_an_absurd_revenue_is_a_prompt_422_naming_the_limit(
    client: FlaskClient, literal: str, limit: str
) -> None:
    # Refused from its digits and exponent alone: no arithmetic on the number
    # (which is what held a worker 15-60 s) happens before the 422.
    with no_decimal_arithmetic():
        response = raw_post(client, "/api/v1/quotes", quote_with_revenue(literal))
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert limit in problem_text(response)


@pytest.mark.usefixtures("example_card")
def test_the_largest_revenue_is_still_priced(
    client: FlaskClient,
) -> None:
    # A use's revenue is bounded once, on ProposedUse (far below the money columns).
    largest = ProposedUse.MAX_REVENUE
    response = raw_post(client, "/api/v1/quotes", quote_with_revenue(f'"{largest}"'))
    assert response.status_code == 200
    assert response.get_json()["lines"][0]["amount"] == "100000000000.00"  # 10%
    over = raw_post(client, "/api/v1/quotes", quote_with_revenue(f'"{largest + 1}"'))
    assert over.status_code == 422


def test_json_nested_100000_deep_is_a_422_naming_the_depth(client: FlaskClient) -> None:
    response = raw_post(client, "/api/v1/quotes", "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 422
    assert f"deeper than {MAX_JSON_DEPTH} levels" in problem_text(response)
    shallow_but_over = '{"a":' * (MAX_JSON_DEPTH + 2) + "1" + "}" * (MAX_JSON_DEPTH + 2)
    assert raw_post(client, "/api/v1/quotes", shallow_but_over).status_code == 422


def test_the_app_json_provider_refuses_absurd_number_literals(app: Flask) -> None:
    for literal in ("1e999999999", "9" * 5000):
        with pytest.raises(ValueError, match="out of range"):
            app.json.loads(literal)
    assert str(app.json.loads("12.50")) == "12.50"


@pytest.mark.usefixtures("example_card")
def test_an_application_revenue_beyond_the_money_columns_is_a_422(
    client: FlaskClient,
    vendor: Any,
) -> None:
    use = {**STAFF_USE, "revenue": "99999999999999999999.99"}
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": [use]}
    response = client.post("/api/v1/applications", json=body, headers=factories.bearer(vendor))
    assert response.status_code == 422
    assert f"{AMOUNT_INTEGER_DIGITS} digits" in problem_text(response)


@pytest.mark.usefixtures("example_card")
def test_an_application_whose_quoted_total_cannot_be_recorded_is_a_422(
    client: FlaskClient,
    vendor: Any,
) -> None:
    # 20 uses of 10**12 end users each: every line fits, the total does not.
    use = {**AUTO_USE, "quantity": {"end_users": 10**12}}
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": [use] * 20}
    headers = factories.bearer(vendor)
    created = client.post("/api/v1/applications", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    submitted = client.post(
        f"/api/v1/applications/{created.get_json()['id']}/submit",
        json={"attest": True},
        headers=headers,
    )
    assert submitted.status_code == 422
    assert "too large to record" in problem_text(submitted)


@pytest.fixture
def open_invoice(client: FlaskClient, staff: Any, vendor: Any) -> int:
    headers = factories.bearer(staff)
    created = client.post(
        "/api/v1/invoices",
        json={
            "organization_id": vendor.organization_id,
            "lines": [{"description": "Annual fee", "amount": "100.00"}],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    invoice_id = created.get_json()["id"]
    assert (
        client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=headers).status_code == 200
    )
    return invoice_id


@pytest.mark.parametrize("amount", ['"100000000000000000000"', "1e20", "1E+25", '"1e20"'])
@pytest.mark.parametrize("what", ["invoice", "payment", "credit note"])
def test_billing_amounts_beyond_the_money_columns_are_a_422(
    client: FlaskClient, staff: Any, vendor: Any, open_invoice: int, amount: str, what: str
) -> None:
    headers = factories.bearer(staff)
    path, body = {
        "invoice": (
            "/api/v1/invoices",
            {"organization_id": vendor.organization_id, "lines": [{"description": "Fee"}]},
        ),
        "payment": (
            f"/api/v1/invoices/{open_invoice}/payments",
            {"method": "wire", "reference": "W-1"},
        ),
        "credit note": (f"/api/v1/invoices/{open_invoice}/credit-notes", {"reason": "Error"}),
    }[what]
    text = json.dumps({**body, "amount": "AMOUNT"} if what != "invoice" else body)
    if what == "invoice":
        text = text.replace('"description": "Fee"', '"description": "Fee", "amount": AMOUNT')
    response = raw_post(
        client, path, text.replace('"AMOUNT"', amount).replace("AMOUNT", amount), headers
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]


def test_an_invoice_whose_lines_add_up_beyond_the_money_columns_is_a_422(
    client: FlaskClient, staff: Any, vendor: Any
) -> None:
    line = {"description": "Fee", "amount": "90000000000000.00"}
    response = client.post(
        "/api/v1/invoices",
        json={"organization_id": vendor.organization_id, "lines": [line, line]},
        headers=factories.bearer(staff),
    )
    assert response.status_code == 422
    assert "lines" in response.get_json()["errors"]
    assert db.session().scalar(select(func.count()).select_from(Invoice)) == 0


@pytest.mark.parametrize("form", ["payments", "credit-notes"])
def test_billing_forms_answer_absurd_amounts_with_a_field_message(
    client: FlaskClient, staff: Any, open_invoice: int, signed_in: Any, form: str
) -> None:
    signed_in(client, staff)
    for amount in ("100000000000000000000", "1e999999999", "9" * 100_000):
        response = client.post(
            f"/console/invoices/{open_invoice}/{form}",
            data={"method": "wire", "amount": amount, "reference": "W-1", "reason": "Error"},
        )
        assert response.status_code == 422, amount[:30]
        assert "Give an amount" in response.get_data(as_text=True)


@pytest.mark.usefixtures("example_card")
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("uses-0-revenue", "99999999999999999999.99", "14 digits before the decimal point"),
        ("uses-0-quantity-end_users", "\u00b2", "whole number"),
        # The limit in the words the estimator and the API use for it too.
        ("uses-0-quantity-end_users", "9" * 5000, "at most 1,000,000,000,000"),
    ],
)
def test_the_application_form_answers_absurd_numbers_with_a_field_message(
    client: FlaskClient, vendor: Any, signed_in: Any, field: str, value: str, message: str
) -> None:
    signed_in(client, vendor)
    form = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        **{
            f"uses-0-{name}": str(value) for name, value in STAFF_USE.items() if name != "languages"
        },
        "uses-0-languages": "en",
        field: value,
    }
    response = client.post("/portal/applications/new", data=form)
    assert response.status_code == 422, response.status_code
    assert message in response.get_data(as_text=True)


# --- ids and pages --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/invoices?organization_id={HUGE}",
        f"/api/v1/audit-events?page={HUGE}",
        f"/api/v1/outbox-messages?page={HUGE}",
        f"/api/v1/permission-requests?assignee={HUGE}",
    ],
)
def test_query_numbers_beyond_the_id_range_are_a_422_not_a_500(
    client: FlaskClient, staff: Any, path: str
) -> None:
    response = client.get(path, headers=factories.bearer(staff))
    assert response.status_code in (200, 422), response.get_data(as_text=True)[:300]


def test_every_integer_the_api_reads_declares_its_maximum(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    unbounded: list[str] = []

    def walk(schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        if schema.get("readOnly"):
            return
        if schema.get("type") == "integer" and "maximum" not in schema:
            unbounded.append(where)
        for name, inner in schema.get("properties", {}).items():
            walk(inner, f"{where}.{name}")
        if "items" in schema:
            walk(schema["items"], f"{where}[]")

    for template, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    walk(parameter.get("schema", {}), f"{method} {template} ?{parameter['name']}")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                walk(body["schema"], f"{method} {template} body")
    assert unbounded == []


def test_pages_beyond_the_last_are_an_empty_page_not_a_500(
    client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    signed_in(client, admin)
    for path in ("/console/audit", "/console/outbox"):
        response = client.get(path, query_string={"page": HUGE})
        assert response.status_code == 200, path


def test_huge_ids_in_routes_and_forms_are_not_found_not_a_500(
    client: FlaskClient, staff: Any, licensing_staff: Any, signed_in: Any
) -> None:
    assert (
        client.get(f"/api/v1/invoices/{HUGE}", headers=factories.bearer(staff)).status_code == 404
    )
    signed_in(client, licensing_staff)
    response = client.post(
        "/console/permissions/assign", data={"request_ids": [HUGE, "\u00b2"], "assignee_id": ""}
    )
    assert response.status_code < 500
    queue = client.get("/console/permissions/", query_string={"assignee": "\u00b2" + HUGE})
    assert queue.status_code == 200


# --- text -------------------------------------------------------------------------------


def _writes(document: dict[str, Any]) -> Iterator[tuple[str, str, list[str]]]:
    """Every documented write and the names of its string body fields."""
    schemas = document["components"]["schemas"]
    for template, item in document["paths"].items():
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method, operation in item.items():
            if method not in ("post", "put", "patch"):
                continue
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not content:
                continue
            schema = content["schema"]
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
            names = [
                name
                for name, field in schema.get("properties", {}).items()
                if field.get("type") == "string" and not field.get("readOnly")
            ]
            if names:
                yield method, path, names


@pytest.mark.parametrize("character", [SURROGATE, NUL], ids=["lone surrogate", "NUL"])
def test_unstorable_text_in_any_api_write_is_a_422_naming_the_field(
    client: FlaskClient, staff: Any, vendor: Any, character: str
) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    refused = 0
    for user in (None, vendor, staff):
        headers = factories.bearer(user) if user else {}
        for method, path, names in _writes(document):
            for name in names:
                response = client.open(
                    path, method=method.upper(), json={name: f"a{character}b"}, headers=headers
                )
                assert response.status_code < 500, (method, path, name)
                if response.status_code == 422:
                    assert "cannot be stored" in problem_text(response), (method, path, name)
                    assert name in response.get_json()["errors"], (method, path, name)
                    refused += 1
    assert refused > 50


@pytest.mark.parametrize("character", [SURROGATE, NUL], ids=["lone surrogate", "NUL"])
def test_a_public_permission_request_with_unstorable_text_is_a_422_and_nothing_stored(
    client: FlaskClient, character: str
) -> None:
    body = {
        **request_fields(),
        "audience_size": 45,
        "noncommercial": True,
        "institution": f"Cedar{character}Ridge",
    }
    response = client.post("/api/v1/permission-requests", json=body)
    assert response.status_code == 422
    assert "institution" in response.get_json()["errors"]
    assert db.session().scalar(select(func.count()).select_from(PermissionRequest)) == 0


def test_a_nul_in_the_public_permission_form_is_a_422_page_naming_the_field(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/permissions/request", data=request_fields(institution=f"Cedar{NUL}Ridge")
    )
    assert response.status_code == 422
    assert "institution" in response.get_data(as_text=True)
    assert db.session().scalar(select(func.count()).select_from(PermissionRequest)) == 0


def test_a_nul_in_a_search_or_path_is_a_4xx(
    client: FlaskClient, billing_staff: Any, signed_in: Any
) -> None:
    signed_in(client, billing_staff)
    assert client.get("/console/invoices", query_string={"q": f"a{NUL}"}).status_code == 422
    headers = factories.bearer(billing_staff)
    assert client.get(f"/api/v1/invoices?q=a{NUL}", headers=headers).status_code == 422
    assert client.get("/api/v1/ratecards/2027%00", headers=headers).status_code in (404, 422)


def test_a_user_agent_with_a_nul_is_recorded_readably_at_acceptance(
    apply: Any,  # noqa: F811 - the fixture imported above
    vendor: Any,
) -> None:
    agreement = agreement_of(apply(vendor, AUTO_USE))
    accepted = agreements.accept(
        agreement.id,
        Actor.of(accounts.principal_for(vendor)),
        agreements.AcceptanceInput(
            signer_name="Robin Castellanos",
            signer_title="Chief Executive",
            authority_confirmed=True,
            pdf_sha256=agreement.pdf_sha256,
            ip_address="198.51.100.7",
            user_agent=f"contract-bot{NUL}/1.0",
        ),
        now=NOW,
    )
    assert accepted.acceptance.user_agent == "contract-bot\ufffd/1.0"


# --- the estimator ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("uses-0-quantity-end_users", "\u00b2"),
        ("uses-0-quantity-end_users", "9" * 5000),
        ("uses-0-revenue", "1" * 30),
    ],
)
@pytest.mark.usefixtures("example_card")
def test_the_estimator_answers_absurd_numbers_with_a_form_message(
    client: FlaskClient, field: str, value: str
) -> None:
    query = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "uses-0-use": "distribution",
        "uses-0-product_type": "saas",
        "uses-0-user_type": "provider",
        field: value,
    }
    response = client.get("/estimate", query_string=query)
    assert 200 <= response.status_code < 500
    assert response.status_code != 200 or "error" in response.get_data(as_text=True).lower()


# --- webhooks ----------------------------------------------------------------------------


def _signed(payload: bytes) -> dict[str, str]:
    timestamp = int(time.time())
    digest = hmac.new(
        WEBHOOK_SECRET.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256
    ).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={digest}", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    "event",
    [
        [],
        "an event",
        {},
        {"id": "evt_no_data", "type": "payment_intent.succeeded"},
        {"id": "evt_list", "type": "payment_intent.succeeded", "data": {"object": []}},
        {
            "id": "evt_no_status",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_1", "amount": 100, "currency": "usd"}},
        },
    ],
    ids=["list", "string", "empty", "no data", "object a list", "no status"],
)
def test_a_signed_webhook_that_is_not_an_event_is_a_400_and_nothing_is_applied(
    client: FlaskClient, event: Any
) -> None:
    payload = json.dumps(event).encode()
    response = client.post("/webhooks/stripe", data=payload, headers=_signed(payload))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"] == "Malformed event"
    # Round 58: an event with an id, type and object whose object is not its type's
    # is stored as failed, saying why, for billing staff's list; a body that is no
    # event at all is not stored.
    stored = [(e.event_id, e.kind) for e in db.session().scalars(select(StripeEvent))]
    named = event.get("id") if isinstance(event, dict) and "data" in event else None
    assert stored == ([(named, "failed")] if named else [])
    # Round 59: one that is no event is recorded in the audit log instead, by its
    # body's SHA-256, for the Stripe events page to count.
    unread = db.session().scalars(
        select(AuditEvent.entity_id).where(AuditEvent.action == UNREADABLE_ACTION)
    )
    assert list(unread) == ([] if named else [hashlib.sha256(payload).hexdigest()])


# Ids a Stripe answer's metadata may name: digits to str.isdigit() that int() refuses
# ("²": a 500) or reads (Arabic-Indic "١٢", a mathematical bold "9"), and the rest.
# A new event id for each example of the sweep below.
_SWEPT_EVENTS = itertools.count(1)

METADATA_IDS = st.one_of(st.sampled_from(["\u00b2", "\u0661\u0662", "\U0001d7d7"]), QUERY_TEXT)


@SWEEP
@given(
    kind=st.sampled_from(["payment_intent.succeeded", "payment_intent.payment_failed"]),
    payment_id=METADATA_IDS,
    invoice_id=METADATA_IDS,
)
def test_a_signed_answer_naming_any_metadata_id_is_never_a_server_error(
    client: FlaskClient, localstripe: LocalStripe, kind: str, payment_id: str, invoice_id: str
) -> None:
    """Each example is an event of its own (the examples share one database: a second
    delivery of one event id was answered as a duplicate, its metadata unread). The
    intent's card is asked of localstripe, which knows none of them: the same path as a
    Stripe unreachable (`_with_card` keeps the event's intent), without its waits."""
    event = {
        "id": f"evt_sweep_{next(_SWEPT_EVENTS)}",
        "type": kind,
        "data": {
            "object": {
                "id": "pi_sweep_unknown",
                "object": "payment_intent",
                "status": "succeeded" if kind.endswith("succeeded") else "requires_payment_method",
                "amount": 1000,
                "amount_received": 1000,
                "currency": "usd",
                "metadata": {"payment_id": payment_id, "invoice_id": invoice_id},
            }
        },
    }
    payload = json.dumps(event).encode()
    response = client.post("/webhooks/stripe", data=payload, headers=_signed(payload))
    assert response.status_code < 500, (payment_id, response.get_data(as_text=True)[:500])


def test_ids_in_the_id_range_still_work(client: FlaskClient, staff: Any) -> None:
    headers = factories.bearer(staff)
    response = client.get(f"/api/v1/invoices?organization_id={MAX_RECORD_ID}", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == []


@pytest.mark.parametrize(
    ("path", "argument"),
    [
        ("/api/v1/exports/payments?to=9999-12-31", "query.to"),
        ("/api/v1/exports/invoices?by=paid&to=9999-12-31", "query.to"),
        ("/api/v1/exports/receivables?as_of=9999-12-31", "query.as_of"),
        ("/api/v1/audit-events?until=9999-12-31", "query.until"),
        ("/api/v1/exports/invoices?from=0001-01-01", "query.from"),
    ],
)
def test_the_last_day_of_the_calendar_is_a_422_naming_the_argument_not_a_500(
    client: FlaskClient, admin: Any, path: str, argument: str
) -> None:
    # A filter ending 9999-12-31 looked for the day after it: OverflowError, a 500
    # (for exports, after the 200 and the header row had been sent).
    response = client.get(path, headers=factories.bearer(admin))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert argument in response.get_json()["errors"]


def test_the_exports_page_answers_the_last_day_of_the_calendar_with_a_field_message(
    client: FlaskClient, admin: Any, signed_in: Any
) -> None:
    page = signed_in(client, admin).get("/console/exports?dataset=payments&to=9999-12-31")
    assert page.status_code == 422
    assert "9998-12-31" in page.get_data(as_text=True)
