"""The audit log and the outbox page with a body envelope (`items`, `page`,
`per_page`, `total`) and no paging headers, unlike every other list: exactly as
docs/api.md tells clients (issue: write it down, do not change it)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing import db
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.mail import services as mail
from tests.support.factories import bearer

# (path, a filter that finds only what the test made, default per_page)
LISTS = [
    ("/api/v1/audit-events", {"entity_type": "pagewise"}, 100),
    ("/api/v1/outbox-messages", {"to": "pagewise"}, 50),
]


def _make_three() -> list[int]:
    """Three audit events and three queued messages; their ids, oldest first."""
    made = []
    with db.transaction() as session:
        for number in range(3):
            audit.record(
                session,
                action="pagewise.made",
                entity_type="pagewise",
                entity_id=number,
                before=None,
                after={"number": number},
            )
            made.append(
                mail.enqueue(
                    session,
                    to=f"pagewise{number}@northwind.example",
                    subject="Reset your password",
                    template="reset_password",
                    context={
                        "user": {"full_name": "Robin", "email": "robin@northwind.example"},
                        "link": "http://x/y",
                        "expires_at": utcnow(),
                    },
                ).id
            )
    return made


@pytest.mark.parametrize(("path", "only_ours", "default_per_page"), LISTS)
def test_each_envelope_list_pages_as_the_api_reference_says(
    client: FlaskClient, admin: Any, path: str, only_ours: dict[str, str], default_per_page: int
) -> None:
    messages = _make_three()
    headers = bearer(admin)
    first = client.get(path, query_string={**only_ours, "per_page": 2}, headers=headers)
    assert first.status_code == 200
    body = first.get_json()
    assert set(body) == {"items", "page", "per_page", "total"}
    assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (1, 2, 3, 2)
    assert "Link" not in first.headers
    assert "X-Total-Count" not in first.headers
    second = client.get(path, query_string={**only_ours, "per_page": 2, "page": 2}, headers=headers)
    past = client.get(path, query_string={**only_ours, "per_page": 2, "page": 3}, headers=headers)
    assert len(second.get_json()["items"]) == 1
    assert past.get_json()["items"] == []
    assert past.get_json()["total"] == 3
    if path.endswith("outbox-messages"):  # newest first
        listed = [item["id"] for item in body["items"] + second.get_json()["items"]]
        assert listed == messages[::-1]
    else:
        listed = [item["seq"] for item in body["items"] + second.get_json()["items"]]
        assert listed == sorted(listed, reverse=True)
    assert client.get(path, headers=headers).get_json()["per_page"] == default_per_page
    largest = client.get(path, query_string={"per_page": 500}, headers=headers)
    assert largest.status_code == 200
    too_large = client.get(path, query_string={"per_page": 501}, headers=headers)
    assert too_large.status_code == 422
    assert "query.per_page" in too_large.get_json()["errors"]


def test_an_audit_filter_whose_until_is_before_its_since_is_a_422_naming_until(
    client: FlaskClient, admin: Any
) -> None:
    # It answered an empty page, which reads as "nothing happened then"; the
    # exports refuse the same reversed range, and the audit page explains it.
    response = client.get(
        "/api/v1/audit-events",
        query_string={"since": "2027-03-31", "until": "2027-01-01"},
        headers=bearer(admin),
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert list(response.get_json()["errors"]) == ["query.until"]
    same_day = client.get(
        "/api/v1/audit-events",
        query_string={"since": "2027-01-01", "until": "2027-01-01"},
        headers=bearer(admin),
    )
    assert same_day.status_code == 200
