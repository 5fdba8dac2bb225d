"""The applications and agreements API: the journey with bearer tokens, and errors."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.support.factories import bearer


def test_apply_review_approve_with_a_change_and_accept_through_the_api(
    client: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    as_vendor, as_staff = bearer(vendor), bearer(licensing_staff)
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": [AUTO_USE, STAFF_USE]}
    created = client.post("/api/v1/applications", json=body, headers=as_vendor)
    assert created.status_code == 201, created.get_json()
    # Round 16: where the new application is read.
    assert created.headers["Location"] == f"/api/v1/applications/{created.get_json()['id']}"
    assert client.get(created.headers["Location"], headers=as_vendor).status_code == 200
    application_id = created.get_json()["id"]
    refused = client.post(
        f"/api/v1/applications/{application_id}/submit", json={"attest": False}, headers=as_vendor
    )
    assert refused.status_code == 422
    assert "attest" in refused.get_json()["errors"]
    submitted = client.post(
        f"/api/v1/applications/{application_id}/submit", json={"attest": True}, headers=as_vendor
    ).get_json()
    assert submitted["state"] == "submitted"
    assert submitted["total"] == "41800.00"
    queue = client.get("/api/v1/applications?state=submitted&sort=amount_high", headers=as_staff)
    assert application_id in [item["id"] for item in queue.get_json()]
    no_reason = client.post(
        f"/api/v1/applications/{application_id}/approve",
        json={"lines": [{"line": 1, "amount": "7500.00", "reason": ""}]},
        headers=as_staff,
    )
    assert no_reason.status_code == 422
    approved = client.post(
        f"/api/v1/applications/{application_id}/approve",
        json={"lines": [{"line": 1, "amount": "7500.00", "reason": "pilot rate"}]},
        headers=as_staff,
    ).get_json()
    assert approved["state"] == "approved"
    assert [q["kind"] for q in approved["quotes"]] == ["submitted", "modified"]
    assert approved["total"] == "41300.00"
    agreement_id = approved["agreement_id"]
    pdf = client.get(f"/api/v1/agreements/{agreement_id}/pdf", headers=as_vendor)
    assert pdf.mimetype == "application/pdf"
    digest = hashlib.sha256(pdf.data).hexdigest()
    accepted = client.post(
        f"/api/v1/agreements/{agreement_id}/acceptance",
        json={
            "signer_name": "Samira Haddad",
            "signer_title": "Chief Executive",
            "authority_confirmed": True,
            "pdf_sha256": digest,
        },
        headers={**as_vendor, "User-Agent": "contract-bot/1.0"},
    ).get_json()
    assert accepted["state"] == "active"
    assert accepted["acceptance"]["pdf_sha256"] == digest
    assert accepted["acceptance"]["user_agent"] == "contract-bot/1.0"
    again = client.get(f"/api/v1/agreements/{agreement_id}/pdf", headers=as_vendor)
    assert hashlib.sha256(again.data).hexdigest() == digest


def test_vendors_cannot_decide_and_staff_cannot_submit(
    client: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": [STAFF_USE]}
    created = client.post("/api/v1/applications", json=body, headers=bearer(vendor)).get_json()
    decide = client.post(
        f"/api/v1/applications/{created['id']}/approve", json={}, headers=bearer(vendor)
    )
    assert decide.status_code == 403
    submit = client.post(
        f"/api/v1/applications/{created['id']}/submit",
        json={"attest": True},
        headers=bearer(licensing_staff),
    )
    assert submit.status_code == 403


def test_the_operations_are_in_the_openapi_document(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/applications",
        "/api/v1/applications/{application_id}/approve",
        "/api/v1/applications/{application_id}/notes",
        "/api/v1/agreements/{agreement_id}/acceptance",
        "/api/v1/agreements/{agreement_id}/pdf",
    ):
        assert path in paths, path


def test_another_organizations_vendor_cannot_act_on_an_application_or_agreement(
    client: Any, vendor: Any, other_vendor: Any, example_card: str
) -> None:
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": [AUTO_USE]}
    owner = bearer(vendor)
    created = client.post("/api/v1/applications", json=body, headers=owner).get_json()
    intruder = bearer(other_vendor)
    attempts = [
        client.put(f"/api/v1/applications/{created['id']}", json=body, headers=intruder),
        client.post(
            f"/api/v1/applications/{created['id']}/submit", json={"attest": True}, headers=intruder
        ),
        client.post(f"/api/v1/applications/{created['id']}/withdraw", headers=intruder),
    ]
    assert [response.status_code for response in attempts] == [404, 404, 404]
    approved = client.post(
        f"/api/v1/applications/{created['id']}/submit", json={"attest": True}, headers=owner
    ).get_json()
    accept = client.post(
        f"/api/v1/agreements/{approved['agreement_id']}/acceptance",
        json={
            "signer_name": "Eve",
            "signer_title": "Spy",
            "authority_confirmed": True,
            "pdf_sha256": "0" * 64,
        },
        headers=intruder,
    )
    assert accept.status_code == 404
    assert client.get("/api/v1/applications", headers=intruder).get_json() == []


def test_the_queue_filtered_to_me_lists_only_the_caller_s_applications(
    client: Any, apply: Any, vendor: Any, licensing_staff: Any
) -> None:
    from licensing.accounts.services import principal_for
    from licensing.actors import Actor
    from licensing.agreements import services

    mine, other = apply(vendor, STAFF_USE), apply(vendor, STAFF_USE)
    services.assign(mine.id, licensing_staff.id, Actor.of(principal_for(licensing_staff)))
    listed = client.get("/api/v1/applications?assignee=me", headers=bearer(licensing_staff))
    assert listed.status_code == 200
    assert [item["id"] for item in listed.get_json()] == [mine.id]
    assert other.id != mine.id


@pytest.mark.parametrize("assignee", ["me", "nobody", "1"])
def test_a_vendor_filtering_applications_by_assignee_is_told_it_is_a_staff_filter(
    client: Any, apply: Any, vendor: Any, assignee: str
) -> None:
    apply(vendor, STAFF_USE)
    refused = client.get(f"/api/v1/applications?assignee={assignee}", headers=bearer(vendor))
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["errors"] == {
        "query.assignee": ["assignee is a staff filter: vendors are never assigned applications."]
    }


def test_a_uses_revenue_reads_the_same_when_saved_and_when_read_back(
    client: Any, vendor: Any, example_card: str
) -> None:
    # Round 14: the draft's answer said "revenue": "0" (as sent), every later read
    # "0.0000" (as stored): one field, two texts. Both read as filed, with the
    # currency's digits or more where filed finer.
    as_vendor = bearer(vendor)
    uses = [
        {**AUTO_USE, "revenue": "0"},
        {**AUTO_USE, "revenue": "120000"},
        {**AUTO_USE, "revenue": "80.125"},
        {**AUTO_USE, "revenue": None},
    ]
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": uses}
    created = client.post("/api/v1/applications", json=body, headers=as_vendor)
    assert created.status_code == 201, created.get_json()
    expected = ["0.00", "120000.00", "80.125", None]
    assert [use["revenue"] for use in created.get_json()["uses"]] == expected
    read = client.get(f"/api/v1/applications/{created.get_json()['id']}", headers=as_vendor)
    assert [use["revenue"] for use in read.get_json()["uses"]] == expected


def test_a_text_past_its_limit_is_refused_in_the_pages_sentence_grouped(
    client: Any, vendor: Any
) -> None:
    """Round 14: the API said marshmallow's "Longer than maximum length 2000.", the
    pages and services "At most 2000 characters."; all say "At most 2,000 characters."."""
    from licensing.agreements.models import DESCRIPTION_MAX

    use = dict(AUTO_USE, description="d" * (DESCRIPTION_MAX + 1))
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": [use]}
    refused = client.post("/api/v1/applications", json=body, headers=bearer(vendor))
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["uses.0.description"] == ["At most 2,000 characters."]
