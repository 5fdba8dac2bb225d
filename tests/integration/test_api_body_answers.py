"""An operation that takes a body lists its 413 (too large) and 415 (not JSON) by
number (round 33): only `default` covered them, and a generated client met them as
untyped errors. So does one that takes none but whose method carries one (round
44): the body is read and refused alike. 405 and 406 stay `default` (docs/api.md
says why)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.api.base import MAX_BODY_BYTES
from tests.support.factories import bearer
from tests.support.openapi import resolved, served_document

METHODS = ("post", "put", "patch", "delete")
PROBLEM = "application/problem+json"


def test_every_operation_that_takes_a_body_lists_413_and_415_as_problems(
    client: FlaskClient,
) -> None:
    document = served_document(client)
    missing, extra, bodies, bodiless = [], [], 0, 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in (*METHODS, "get"):
                continue
            listed = {
                status
                for status in ("413", "415")
                if PROBLEM
                in resolved(document, operation["responses"].get(status, {})).get("content", {})
            }
            if "requestBody" in operation:
                bodies += 1
                if listed != {"413", "415"}:
                    missing.append(f"{method} {path}")
            elif method == "get" or (method, path) == ("post", "/api/v1/tokens"):
                # No body is read: a GET's, and `POST /tokens`, which refuses whatever
                # is sent (403).
                if listed:
                    extra.append(f"{method} {path}")
            else:
                # Round 44: an operation that takes no body is sent one by its method,
                # reads it as JSON and refuses it alike; its 413 and 415 were `default`.
                bodiless += 1
                if listed != {"413", "415"}:
                    missing.append(f"{method} {path} (takes no body)")
    assert bodies > 40
    assert bodiless >= 10
    assert missing == []
    assert extra == []


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        ({"data": "reason=x", "content_type": "text/plain"}, 415),
        ({"data": b"[" + b" " * MAX_BODY_BYTES + b"]", "content_type": "application/json"}, 413),
        ({"data": "{", "content_type": "application/json"}, 400),
        ({"json": {"reason": "x"}}, 422),
    ],
)
def test_an_operation_that_takes_no_body_answers_one_with_a_problem_its_document_lists(
    client: FlaskClient, vendor: Any, sent: dict[str, Any], status: int
) -> None:
    """Round 44: a withdrawal's document listed none of these but its 422; a
    generated client met the others as `default`."""
    path = "/api/v1/applications/{application_id}/withdraw"
    listed = served_document(client)["paths"][path]["post"]["responses"]
    answer = client.post(
        path.replace("{application_id}", "2147480000"), headers=bearer(vendor), **sent
    )
    assert answer.status_code == status
    assert answer.mimetype == PROBLEM
    assert str(status) in listed


def test_a_body_too_large_or_not_json_is_the_problem_the_document_lists(
    client: FlaskClient,
) -> None:
    not_json = client.post("/api/v1/quotes", data="uses=1", content_type="text/plain")
    assert not_json.status_code == 415
    assert not_json.mimetype == PROBLEM
    large = client.post(
        "/api/v1/quotes",
        data=b"[" + b" " * MAX_BODY_BYTES + b"]",
        content_type="application/json",
    )
    assert large.status_code == 413
    assert large.mimetype == PROBLEM
    assert f"{MAX_BODY_BYTES:,} bytes" in large.get_json()["detail"]
