"""The OpenAPI document keeps its promises: every error is documented as a
problem document, and every list is paginated with `page` and `per_page`,
answered with a `Link` header and `X-Total-Count`."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_smorest.spec.plugins import FlaskPlugin

from licensing import access, db
from licensing.actors import Actor
from licensing.api.base import (
    ANY_BODY,
    BODY_ATTRIBUTE,
    LOCATION_ATTRIBUTE,
    MAX_BODY_BYTES,
    MAX_PER_PAGE,
    NOBODY,
)
from tests.support import factories
from tests.support.openapi import resolved, served_document

METHODS = ("get", "post", "put", "patch", "delete")


_document = served_document
_resolve = resolved


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_documented_error_response_is_a_problem_document(client: FlaskClient) -> None:
    document = _document(client)
    wrong = []
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status != "default" and int(status) < 400:
                continue
            content = _resolve(document, response).get("content", {})
            if list(content) != ["application/problem+json"]:
                wrong.append(f"{method.upper()} {path} {status}: {sorted(content)}")
            elif content["application/problem+json"]["schema"] != {
                "$ref": "#/components/schemas/Problem"
            }:
                wrong.append(f"{method.upper()} {path} {status}: not the Problem schema")
        assert "default" in operation["responses"], f"{method.upper()} {path}"
    assert wrong == []


def test_every_success_with_a_body_names_its_content_type(client: FlaskClient) -> None:
    document = _document(client)
    undocumented = [
        f"{method.upper()} {path} {status}"
        for method, path, operation in _operations(document)
        for status, response in operation["responses"].items()
        if status not in ("default", "204") and int(status) < 300
        and not _resolve(document, response).get("content")
    ]  # fmt: skip
    assert undocumented == []


def _untyped_properties(document: dict[str, Any]) -> list[str]:
    """Every property of every schema, nested ones too, that says nothing of its
    type: a client generated from the document would read it as anything."""
    found: list[str] = []

    def walk(where: str, schema: dict[str, Any]) -> None:
        if not schema.keys() & {"type", "$ref", "allOf", "anyOf", "oneOf"}:
            found.append(where)
        for name, inner in schema.get("properties", {}).items():
            walk(f"{where}.{name}", inner)
        if isinstance(schema.get("items"), dict):
            walk(f"{where}[]", schema["items"])
        for inner in schema.get("allOf", []) + schema.get("anyOf", []):
            if "$ref" not in inner:
                walk(where, inner)

    for name, schema in document["components"]["schemas"].items():
        walk(name, schema)
    return found


def test_every_property_in_the_document_says_what_it_holds(client: FlaskClient) -> None:
    # An invoice's lines and bill-to, every record's allowed_actions, a user's roles,
    # a quote version's snapshot... used to be documented as `{"readOnly": true}`.
    assert _untyped_properties(_document(client)) == []


def test_an_invoice_as_served_has_the_fields_its_documented_lines_name(
    client: FlaskClient, vendor: Any, billing_staff: Any
) -> None:
    document = _document(client)
    invoice_schema = document["components"]["schemas"]["Invoice"]["properties"]
    line_schema = _resolve(document, invoice_schema["lines"]["items"])
    draft = client.post(
        "/api/v1/invoices",
        json={
            "organization_id": vendor.organization_id,
            "lines": [{"description": "Consulting", "amount": "120.00"}],
        },
        headers=factories.bearer(billing_staff),
    )
    assert draft.status_code == 201, draft.get_json()
    assert draft.headers["Location"] == f"/api/v1/invoices/{draft.get_json()['id']}"
    served = draft.get_json()
    assert set(served["lines"][0]) == set(line_schema["properties"])
    assert set(line_schema["required"]) == set(line_schema["properties"])
    assert invoice_schema["bill_to"]["items"] == {"type": "string"}
    assert all(isinstance(text, str) for text in served["bill_to"])


def test_the_document_says_how_to_get_a_token(client: FlaskClient) -> None:
    # It said to send a personal API token but not where one comes from.
    document = _document(client)
    for text in (
        document["info"]["description"],
        document["components"]["securitySchemes"]["bearerAuth"]["description"],
    ):
        assert "/account/tokens" in text
    assert "/api/v1/signups" in document["info"]["description"]


def test_the_document_names_the_tokens_page_at_the_apps_address_as_the_refusals_do(
    app: Flask, client: FlaskClient
) -> None:
    # It named the page as the path `/account/tokens`, where a refusal gives the
    # full address under PUBLIC_URL; and an app learns its address after it is built.
    refusal = client.get("/api/v1/agreements").get_json()["detail"]
    assert "http://testserver/account/tokens" in refusal
    for public_url in ("http://testserver", "https://licensing.example.org/cpt"):
        app.config["LICENSING"] = dataclasses.replace(
            app.config["LICENSING"], public_url=public_url
        )
        document = _document(client)
        for text in (
            document["info"]["description"],
            document["components"]["securitySchemes"]["bearerAuth"]["description"],
        ):
            assert f"*API tokens* page ({public_url}/account/tokens; it is shown once)" in text
    # The document built once for the process's apps still names the path only.
    built = app.extensions["licensing.api"].spec.to_dict()
    assert "(`/account/tokens`; it is shown once)" in built["info"]["description"]


def test_an_invoice_states_its_late_fee_as_the_agreement_does(
    client: FlaskClient, vendor: Any, billing_staff: Any
) -> None:
    # Invoices said "1.5000" where agreements say "1.5", and the document's
    # example for the percentage was "120000.00".
    draft = client.post(
        "/api/v1/invoices",
        json={
            "organization_id": vendor.organization_id,
            "lines": [{"description": "Consulting", "amount": "120.00"}],
        },
        headers=factories.bearer(billing_staff),
    ).get_json()
    db.session().expire_all()  # read it back as stored, not as created
    read = client.get(f"/api/v1/invoices/{draft['id']}", headers=factories.bearer(billing_staff))
    assert read.get_json()["late_fee_monthly_percent"] == "1.5"
    documented = _document(client)["components"]["schemas"]
    for schema in ("Invoice", "Agreement"):
        assert documented[schema]["properties"]["late_fee_monthly_percent"]["example"] == "1.5"


def test_the_documentation_groups_operations_under_words_not_identifiers(
    client: FlaskClient,
) -> None:
    # The docs page headed its groups "accounts_api", "royalty_reports_api".
    document = _document(client)
    names = [tag["name"] for tag in document["tags"]]
    assert "Royalty reports" in names
    assert "Accounts" in names
    assert all("_" not in name for name in names)
    for _method, path, operation in _operations(document):
        assert set(operation["tags"]) <= set(names), path


def test_a_path_with_a_trailing_slash_is_a_404_that_names_the_path_without_it(
    client: FlaskClient, vendor: Any
) -> None:
    # "There is no such resource." left a client guessing what was wrong.
    response = client.get("/api/v1/invoices/", headers=factories.bearer(vendor))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "/api/v1/invoices" in response.get_json()["detail"]
    assert "trailing slash" in response.get_json()["detail"]
    unknown = client.get("/api/v1/nothing-here/", headers=factories.bearer(vendor))
    assert unknown.status_code == 404
    assert unknown.get_json()["detail"] == "There is no such resource."


def test_a_body_over_the_limit_is_a_413_that_names_the_limit(
    client: FlaskClient, vendor: Any
) -> None:
    # "The request body is too large." left a client guessing how much it may send
    # (round 14): the detail names the limit, in bytes.
    body = b'{"uses": "' + b"x" * MAX_BODY_BYTES + b'"}'
    for path, headers in (
        ("/api/v1/quotes", {}),
        ("/api/v1/applications", factories.bearer(vendor)),
    ):
        response = client.post(
            path, data=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 413, path
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["detail"] == (
            "The request body is too large: this endpoint accepts at most 1,000,000 bytes."
        )


# Steps a record's state can refuse (a 409 naming the state and, for a state
# machine's step, the allowed actions), each seen answering 409 to a client.
REFUSED_BY_STATE = [
    ("post", "/api/v1/applications/{application_id}/withdraw"),
    ("put", "/api/v1/applications/{application_id}/assignee"),
    ("post", "/api/v1/invoices/{invoice_id}/void"),
    ("post", "/api/v1/invoices/{invoice_id}/mark-uncollectible"),
    ("post", "/api/v1/invoices/{invoice_id}/payments"),
    ("post", "/api/v1/invoices/{invoice_id}/credit-notes"),
]


@pytest.mark.parametrize(("method", "path"), REFUSED_BY_STATE)
def test_a_step_the_state_can_refuse_documents_its_409(
    client: FlaskClient, method: str, path: str
) -> None:
    # These answered 409 (withdrawing an approved application, voiding a paid
    # invoice, paying a draft) but documented only their success.
    operation = _document(client)["paths"][path][method]
    assert "409" in operation["responses"]
    assert operation["summary"]


def test_every_documented_list_is_paginated(client: FlaskClient) -> None:
    document = _document(client)
    lists = []
    for method, path, operation in _operations(document):
        ok = operation["responses"].get("200", {})
        schema = _resolve(document, ok).get("content", {}).get("application/json", {})
        shape = _resolve(document, schema.get("schema", {}))
        is_list = shape.get("type") == "array" or "items" in shape.get("properties", {})
        if method != "get" or not is_list:
            continue
        lists.append(path)
        names = {parameter["name"] for parameter in operation.get("parameters", [])}
        assert {"page", "per_page"} <= names, path
        per_page = next(p for p in operation["parameters"] if p["name"] == "per_page")
        assert per_page["schema"]["maximum"] <= 500, path
        if shape.get("type") == "array":
            assert {"Link", "X-Total-Count"} <= set(ok.get("headers", {})), path
    assert len(lists) >= 14  # the walk found the lists it is meant to check


@pytest.fixture
def staff_headers(app: Flask) -> dict[str, str]:
    return factories.bearer(factories.make_staff(db.session(), roles=("admin",)))


def _links(response: Any) -> dict[str, str]:
    return {
        rel: url
        for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("Link", ""))
    }


def test_a_list_answers_one_page_and_links_to_the_others(
    client: FlaskClient, staff_headers: dict[str, str]
) -> None:
    session = db.session()
    made = [
        factories.make_organization(session, legal_name=f"Pagewise Health {n}") for n in range(5)
    ]
    ids = {organization.id for organization in made}
    url = "/api/v1/organizations?q=Pagewise&per_page=2"
    first = client.get(url, headers=staff_headers)
    assert first.status_code == 200
    assert len(first.get_json()) == 2
    assert first.headers["X-Total-Count"] == "5"
    links = _links(first)
    assert set(links) == {"first", "next", "last"}
    assert "q=Pagewise" in links["next"]
    assert "page=2" in links["next"]
    assert "page=3" in links["last"]

    seen = [item["id"] for item in first.get_json()]
    next_url = links["next"]
    while next_url:
        response = client.get(next_url, headers=staff_headers)
        seen += [item["id"] for item in response.get_json()]
        next_url = _links(response).get("next", "")
    assert sorted(seen) == sorted(ids)  # every item once, none twice

    past = client.get(url + "&page=9", headers=staff_headers)
    assert past.status_code == 200
    assert past.get_json() == []
    assert "page=3" in _links(past)["prev"]


def test_lists_default_to_fifty_items_a_page(
    client: FlaskClient, staff_headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/users", headers=staff_headers)
    assert response.status_code == 200
    assert "per_page=50" in response.headers["Link"]


@pytest.mark.parametrize(
    "query",
    ["per_page=0", f"per_page={MAX_PER_PAGE + 1}", "page=0", "page=-1", "page=abc",
     f"page={2**64}", "per_page=1e3"],
)  # fmt: skip
def test_page_arguments_out_of_bounds_are_a_422_problem(
    client: FlaskClient, staff_headers: dict[str, str], query: str
) -> None:
    response = client.get(f"/api/v1/invoices?{query}", headers=staff_headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert set(response.get_json()["errors"]) <= {"query.page", "query.per_page"}


def test_unknown_query_arguments_are_still_refused_on_a_paginated_list(
    client: FlaskClient, staff_headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/invoices?page=1&colour=blue", headers=staff_headers)
    assert response.status_code == 422
    assert "query.colour" in response.get_json()["errors"]


def test_every_paginated_list_refuses_an_argument_it_does_not_take(
    client: FlaskClient, staff_headers: dict[str, str], vendor: Any
) -> None:
    # Round 14: a list with no filters of its own (a period list, an invoice's
    # payments, the caller's tokens) ignored what it did not know, so
    # `?state=due` on an agreement's royalty periods answered every period as if
    # it had filtered; docs/api.md says a list refuses an unknown argument.
    document = _document(client)
    walked = []
    # Round 49: a member's passkeys are listed for their organization's administrators
    # only (staff are refused before the arguments are read).
    administrator = factories.bearer(vendor)
    for method, path, operation in _operations(document):
        names = {parameter["name"] for parameter in operation.get("parameters", [])}
        if method != "get" or "per_page" not in names or "{token}" in path:
            continue
        url = re.sub(r"\{[a-z_]+\}", "1", path) + "?page=1&colour=blue"
        headers = administrator if "/members/{user_id}/" in path else staff_headers
        response = client.get(url, headers=headers)
        assert response.status_code == 422, (url, response.get_json())
        assert response.get_json()["errors"] == {"query.colour": ["Unknown field."]}, url
        walked.append(path)
    assert "/api/v1/agreements/{agreement_id}/royalty-reports" in walked
    assert "/api/v1/invoices/{invoice_id}/payments" in walked
    assert len(walked) >= 14


HUGE = 2**64  # past PostgreSQL's bigint: the database would raise, not find nothing


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", f"/api/v1/audit-events?page={HUGE}", None),
        ("get", f"/api/v1/outbox-messages?page={HUGE}", None),
        ("get", f"/api/v1/invoices?organization_id={HUGE}", None),
        ("post", "/api/v1/permission-requests/assignments",
         {"request_ids": [1, HUGE], "assignee_id": None}),
        ("post", "/api/v1/permission-requests/assignments",
         {"request_ids": [1], "assignee_id": HUGE}),
        ("put", "/api/v1/applications/1/assignee", {"assignee_id": HUGE}),
        ("post", "/api/v1/invoices",
         {"organization_id": HUGE, "lines": [{"description": "Fee", "amount": "1.00"}]}),
    ],
)  # fmt: skip
def test_numbers_past_any_record_id_or_page_are_a_422_not_a_server_error(
    client: FlaskClient,
    staff_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """Found by schemathesis (tests/integration/test_api_schemathesis.py)."""
    response = client.open(path, method=method.upper(), json=body, headers=staff_headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


def test_the_database_pages_a_scoped_list_and_counts_only_what_the_caller_may_see(
    client: FlaskClient, staff_headers: dict[str, str]
) -> None:
    """Applications are paged in SQL, through the query's joins and the vendor scope."""
    from licensing.accounts import services as accounts
    from licensing.agreements import services as agreements
    from licensing.ratecards import services as ratecards
    from tests.integration.agreements.conftest import DEVELOPMENT_USE, draft
    from tests.integration.pricing.conftest import example_document

    session = db.session()
    ratecards.import_card(example_document(), published_by="tests")
    vendor, other = factories.make_vendor(session), factories.make_vendor(session)
    made = [
        agreements.create_draft(Actor.of(accounts.principal_for(vendor)), draft(DEVELOPMENT_USE)).id
        for _ in range(3)
    ]
    agreements.create_draft(Actor.of(accounts.principal_for(other)), draft(DEVELOPMENT_USE))

    headers = factories.bearer(vendor)
    first = client.get("/api/v1/applications?per_page=2", headers=headers)
    second = client.get("/api/v1/applications?per_page=2&page=2", headers=headers)
    assert first.headers["X-Total-Count"] == second.headers["X-Total-Count"] == "3"
    assert len(first.get_json()) == 2
    assert len(second.get_json()) == 1
    assert sorted(item["id"] for item in first.get_json() + second.get_json()) == sorted(made)
    everyone = client.get("/api/v1/applications?per_page=1", headers=staff_headers)
    assert everyone.headers["X-Total-Count"] == "4"


def test_submitting_an_application_says_what_a_draft_may_leave_out(client: FlaskClient) -> None:
    # Round 14: a draft saved without territories was refused at submission with a
    # 422 the document never mentioned; the operation now names what it needs.
    operation = _document(client)["paths"]["/api/v1/applications/{application_id}/submit"]["post"]
    for field in ("term_start", "term_end", "product_name", "territories"):
        assert f"`{field}`" in operation["description"], field


def test_a_documented_429_names_the_retry_after_header(client: FlaskClient) -> None:
    # Round 14: the document said "see Retry-After" but listed no header, so a
    # client generated from it could not read how long to wait.
    document = _document(client)
    limited = [
        (method, path, operation["responses"]["429"])
        for method, path, operation in _operations(document)
        if "429" in operation["responses"]
    ]
    assert ("post", "/api/v1/quotes") in [(method, path) for method, path, _ in limited]
    for method, path, response in limited:
        headers = _resolve(document, response).get("headers", {})
        assert headers["Retry-After"]["schema"]["type"] == "integer", (method, path)
        assert "X-RateLimit-Reset" in headers, (method, path)


def test_a_route_taking_an_idempotency_key_documents_the_replayed_header(
    client: FlaskClient,
) -> None:
    # Round 14: `Idempotent-Replayed: true` was promised in the key's description
    # but absent from the responses a client is generated from.
    keyed = [
        (method, path, operation)
        for method, path, operation in _operations(_document(client))
        if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    ]
    # The four money-moving POSTs; a statement sent again (round 28); a flagged card
    # payment accepted (round 30); a person signed out everywhere (round 33), and their
    # browsers forgotten (round 34); a flagged card payment given back (round 36); its
    # remainder accepted after a dispute lost of part of its charge, and a person's
    # passkeys removed by the office (round 47), and a member's by their organization's
    # administrator (round 49); a statement of account emailed on request (round 54);
    # an offline refund's return by the bank recorded (round 55); a payment recorded
    # against the wrong invoice moved to the one it pays (round 68).
    assert len(keyed) == 15
    for method, path, operation in keyed:
        successes = [code for code in operation["responses"] if code.startswith("2")]
        assert successes, (method, path)
        for code in successes:
            headers = operation["responses"][code].get("headers", {})
            assert "Idempotent-Replayed" in headers, (method, path, code)


def _walkable(path: str) -> str:
    """`path` with a value in each of its parameters (the check runs before the
    route looks anything up, so no record needs to exist)."""
    path = path.replace("{period_start}", "2027-01-01").replace("{dataset}", "invoices")
    return re.sub(r"\{[a-z_]+\}", "1", path)


def test_every_operation_refuses_a_query_argument_it_does_not_take(
    client: FlaskClient, staff_headers: dict[str, str]
) -> None:
    # A vendor's routes (who may call comes first: a staff caller's 403).
    vendor_headers = factories.bearer(factories.make_vendor(db.session()))
    """Round 16: lists refused an unknown argument (round 14), but a record's GET
    (`/api/v1/invoices/1?expand=lines`), an action's POST and the royalty report's
    POST ignored it as if understood. Every operation of the document now refuses
    what its document does not list, in the lists' words, before anything else."""
    document = _document(client)
    walked = []
    for method, path, _operation in _operations(document):
        url = _walkable(path) + "?colour=blue&colour=red"
        response = client.open(url, method=method.upper(), headers=staff_headers)
        if response.status_code == 403:
            response = client.open(url, method=method.upper(), headers=vendor_headers)
        assert response.status_code == 422, (method, url, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json", (method, url)
        assert response.get_json()["errors"] == {"query.colour": ["Unknown field."]}, url
        walked.append(f"{method.upper()} {path}")
    assert "GET /api/v1/invoices/{invoice_id}" in walked
    assert "POST /api/v1/agreements/{agreement_id}/royalty-reports/{period_start}" in walked
    assert len(walked) == len(_operations(document)) > 90


def test_the_arguments_an_operation_documents_are_not_refused(
    client: FlaskClient, staff_headers: dict[str, str]
) -> None:
    document = _document(client)
    for method, path, operation in _operations(document):
        names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
        if method != "get" or not names or "{" in path:
            continue
        response = client.get(f"{path}?{names[0]}=", headers=staff_headers)
        errors = (response.get_json(silent=True) or {}).get("errors") or {}
        assert "Unknown field." not in str(errors), (path, names[0], errors)
    exported = client.get("/api/v1/exports/invoices?format=csv&colour=blue", headers=staff_headers)
    assert exported.get_json()["errors"] == {"query.colour": ["Unknown field."]}


# Its requester reads it by the link emailed to them (`/api/v1/permission-status/
# {token}`), which the answer does not hold: no URL to give.
UNLOCATED = {"POST /api/v1/permission-requests"}


def test_every_create_declares_and_answers_where_its_record_is_read(
    app: Flask, client: FlaskClient
) -> None:
    """Round 16: a 201 answered no `Location`. Every 201 of the document now
    declares it, and says the API URL of the record made (the record's own GET,
    or where it has none, the record it was added to: an application's notes, a
    permission request, a payment's reversal on its payment), from the answer's
    `id` and the request's own URL."""
    document = _document(client)
    urls = app.url_map.bind("localhost")
    walked = []
    for method, path, operation in _operations(document):
        if "201" not in operation["responses"]:
            continue
        name = f"{method.upper()} {path}"
        walked.append(name)
        headers = _resolve(document, operation["responses"]["201"]).get("headers", {})
        if name in UNLOCATED:
            assert "Location" not in headers, name
            continue
        assert "Location" in headers, name
        url = _walkable(path)
        endpoint, _args = urls.match(url, method=method.upper())
        created = getattr(app.view_functions[endpoint], LOCATION_ATTRIBUTE, None)
        assert created is not None, name
        with app.test_request_context(url, method=method.upper()):
            location = created.url({"id": 7})
        assert location is not None, name
        target, values = urls.match(location, method="GET")
        assert target == created.endpoint, name
        assert not created.fields or 7 in values.values(), (name, location)
        assert (
            FlaskPlugin.flaskpath2openapi(urls.match(location, return_rule=True)[0].rule)
            in (document["paths"])
        ), name
    assert len(walked) >= 14
    assert "POST /api/v1/invoices/{invoice_id}/credit-notes" in walked
    assert "POST /api/v1/agreements/{agreement_id}/royalty-reports/{period_start}" in walked


def test_an_absent_required_field_and_an_empty_one_say_the_same_sentence(
    client: FlaskClient,
) -> None:
    # Round 17: an empty required text said "This field is required." (round 16),
    # an absent one marshmallow's "Missing data for required field.".
    absent = client.post("/api/v1/quotes", json={})
    assert absent.status_code == 422
    errors = absent.get_json()["errors"]
    assert errors, absent.get_json()
    for name, messages in errors.items():
        assert messages == ["This field is required."], name
    assert "Missing data" not in absent.get_data(as_text=True)


def test_every_route_documents_who_may_call_it_with_its_401_and_403(
    app: Flask, client: FlaskClient
) -> None:
    """Round 19: a 401 and a 403 were documented only through the `default` error.
    From each route's access declaration the document now gives a route that needs
    a caller its 401 (with the `WWW-Authenticate` challenge), a route restricted to
    vendors or to staff roles its 403 naming whom, and says who may call it."""
    document = _document(client)
    urls = app.url_map.bind("localhost")
    restricted = []
    for method, path, operation in _operations(document):
        name = f"{method.upper()} {path}"
        endpoint, _args = urls.match(_walkable(path), method=method.upper())
        declaration = access.declaration_for(app, endpoint)
        assert declaration is not None, name
        responses = operation["responses"]
        if declaration.public:
            # Round 31: needing no token, but checking one sent (a 401 when unknown).
            assert "was sent" in _resolve(document, responses["401"])["description"], name
            continue
        # Round 66: a route refusing every caller says so, whatever its declaration.
        refused_to_all = getattr(app.view_functions[endpoint], BODY_ATTRIBUTE, None) == ANY_BODY
        who = NOBODY if refused_to_all else declaration.describe()
        assert operation["description"].endswith(f"Who may call it: {who}."), name
        unauthenticated = _resolve(document, responses["401"])
        assert "WWW-Authenticate" in unauthenticated.get("headers", {}), name
        assert list(unauthenticated["content"]) == ["application/problem+json"], name
        if declaration.any_user:
            continue
        forbidden = _resolve(document, responses["403"])
        assert forbidden["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }, name
        for role in declaration.staff - {"admin"}:
            assert role in forbidden["description"], name
        if declaration.vendor:
            assert "vendor users" in forbidden["description"], name
        if declaration.staff:
            restricted.append(name)
    assert len(restricted) >= 40
    withdrawals = document["paths"]["/api/v1/invoices/{invoice_id}/link-withdrawals"]["post"]
    assert withdrawals["responses"]["403"]["description"] == (
        "Forbidden: only staff with the billing role (and admins) may call it."
    )
