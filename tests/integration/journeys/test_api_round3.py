"""Round 3: rough edges an integrator meets in the API. Problem documents carry
one title a status, whoever found the problem. On both backends."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.integration.agreements.conftest import AUTO_USE
from tests.support import factories


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


def test_a_422_is_titled_invalid_input_whether_the_schema_or_the_service_refused_it(
    client: FlaskClient, vendor: Any
) -> None:
    # Before: the schema's 422 said "Unprocessable Entity", the service's "Invalid input".
    headers = factories.bearer(vendor)
    by_schema = client.get("/api/v1/applications?colour=red", headers=headers)
    by_service = client.get("/api/v1/applications?assignee=me", headers=headers)
    assert _problem(by_schema, 422)["title"] == "Invalid input"
    assert _problem(by_service, 422)["title"] == "Invalid input"
    assert "query.colour" in by_schema.get_json()["errors"]
    assert "query.assignee" in by_service.get_json()["errors"]


def test_a_404_is_titled_not_found_whether_no_route_or_no_record_answered(
    client: FlaskClient, vendor: Any
) -> None:
    headers = factories.bearer(vendor)
    no_route = client.get("/api/v1/no-such-thing", headers=headers)
    no_record = client.get("/api/v1/invoices/999999", headers=headers)
    assert _problem(no_route, 404)["title"] == _problem(no_record, 404)["title"] == "Not found"


def test_every_refusal_is_titled_by_its_status_alone(
    client: FlaskClient,
    apply: Any,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    application = apply(vendor, AUTO_USE)  # approved at once: a rejection is an illegal step
    illegal = client.post(
        f"/api/v1/applications/{application.id}/reject",
        json={"reason": "too late"},
        headers=factories.bearer(licensing_staff),
    )
    wrong_method = client.delete("/api/v1/quotes")
    wrong_type = client.post("/api/v1/quotes", data="a=1", content_type="text/plain")
    anonymous = client.get("/api/v1/invoices")
    assert _problem(illegal, 409)["title"] == "Conflict"
    assert _problem(wrong_method, 405)["title"] == "Method not allowed"
    assert _problem(wrong_type, 415)["title"] == "Unsupported media type"
    assert _problem(anonymous, 401)["title"] == "Authentication required"


def test_options_on_an_api_route_is_a_204_naming_the_methods_for_any_caller(
    client: FlaskClient,
) -> None:
    # Before: 200 with an empty text/html page, or a 401 on a route needing a token.
    public = client.options("/api/v1/quotes")
    secured = client.options("/api/v1/invoices/7")
    for answer in (public, secured):
        assert answer.status_code == 204
        assert answer.get_data() == b""
        assert "text/html" not in answer.headers.get("Content-Type", "")
    assert public.headers["Allow"] == "OPTIONS, POST"
    assert secured.headers["Allow"] == "GET, HEAD, OPTIONS, PATCH"


def test_an_accept_that_excludes_json_is_a_406_and_the_usual_ones_still_work(
    client: FlaskClient, vendor: Any
) -> None:
    headers = factories.bearer(vendor)
    html = client.get("/api/v1/invoices", headers={**headers, "Accept": "text/html"})
    body = _problem(html, 406)
    assert body["title"] == "Not acceptable"
    assert body["detail"].startswith("This endpoint answers application/json, and errors as")
    assert "the Accept header (text/html) admits none of them" in body["detail"]
    for accept in (
        None,
        "*/*",
        "application/json",
        "application/problem+json",
        "application/*",
        "text/html, application/json;q=0.5",
        "text/html,application/xhtml+xml,*/*;q=0.8",  # what a browser sends
    ):
        sent = {**headers, "Accept": accept} if accept else headers
        answer = client.get("/api/v1/invoices", headers=sent)
        assert answer.status_code == 200, (accept, answer.get_data(as_text=True))
        assert answer.mimetype == "application/json"
    refused_json = client.get(
        "/api/v1/invoices", headers={**headers, "Accept": "application/json;q=0, text/csv"}
    )
    assert _problem(refused_json, 406)["title"] == "Not acceptable"


def test_a_pdf_answers_its_own_type_and_refuses_an_accept_without_it(
    client: FlaskClient, vendor: Any, invoice_for: Any
) -> None:
    invoice = invoice_for(vendor)
    headers = factories.bearer(vendor)
    url = f"/api/v1/invoices/{invoice.id}/pdf"
    pdf = client.get(url, headers={**headers, "Accept": "application/pdf"})
    anything = client.get(url, headers={**headers, "Accept": "*/*"})
    json_only = client.get(url, headers={**headers, "Accept": "application/json"})
    assert (pdf.status_code, pdf.mimetype) == (200, "application/pdf")
    assert (anything.status_code, anything.mimetype) == (200, "application/pdf")
    assert "answers application/pdf, and errors as" in _problem(json_only, 406)["detail"]


def test_an_export_is_refused_when_accept_excludes_the_format_it_asks_for(
    client: FlaskClient, billing_staff: Any
) -> None:
    headers = {**factories.bearer(billing_staff), "Accept": "text/csv"}
    csv = client.get("/api/v1/exports/invoices", headers=headers)
    xlsx = client.get("/api/v1/exports/invoices?format=xlsx", headers=headers)
    assert csv.status_code == 200
    assert csv.mimetype == "text/csv"
    assert "answers application/vnd.openxmlformats" in _problem(xlsx, 406)["detail"]


def test_who_is_asked_before_what_an_anonymous_caller_with_a_bad_accept_gets_a_401(
    client: FlaskClient, vendor: Any
) -> None:
    # Decided in round 5 (docs/security.md, "Who before what"): a route that needs
    # a caller answers an anonymous one 401 whatever else is wrong with the
    # request, and checks Accept, the body's type and size only for a caller it
    # admits; a public route has no "who" and answers 406 at once.
    xml = {"Accept": "text/xml"}
    anonymous = client.get("/api/v1/invoices", headers=xml)
    assert _problem(anonymous, 401)["title"] == "Authentication required"
    unread = client.post(
        "/api/v1/invoices", data="<invoice/>", content_type="text/xml", headers=xml
    )
    _problem(unread, 401)  # not 406 nor 415: the body of an anonymous caller is not read
    signed = client.get("/api/v1/invoices", headers={**xml, **factories.bearer(vendor)})
    assert _problem(signed, 406)["title"] == "Not acceptable"
    public = client.post("/api/v1/quotes", json={}, headers=xml)
    _problem(public, 406)


def test_options_on_a_page_is_answered_as_its_get_sign_in_first(
    client: FlaskClient, billing_staff: Any, signed_in: Any
) -> None:
    # The API answers OPTIONS for anyone (its methods are in the public OpenAPI
    # document); a page that needs sign-in tells an anonymous caller nothing more
    # than its GET does, and a public page answers with its methods.
    console = client.options("/console/invoices")
    assert console.status_code == 302
    assert console.headers["Location"].startswith("/sign-in?next=/console/invoices")
    assert "Allow" not in console.headers
    public = client.options("/estimate")
    assert public.status_code == 200
    assert set(public.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    admitted = signed_in(client, billing_staff).options("/console/invoices")
    assert admitted.status_code == 200
    assert "GET" in admitted.headers["Allow"]
