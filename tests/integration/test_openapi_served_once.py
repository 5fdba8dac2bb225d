"""Round 68 (reads68): the OpenAPI document is serialized once a process for each tokens
page address it names, not built and indented afresh for every request (35 to 48 ms of
CPU each, round 67's profile); what is served is unchanged (`test_api_contract.py`
compares its content)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.api import API_EXTENSION


def test_the_document_is_built_once_for_an_address_and_served_alike_to_every_request(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = app.extensions[API_EXTENSION].spec
    built: list[str] = []
    to_dict = spec.to_dict

    def counted() -> dict[str, object]:
        built.append(app.config["LICENSING"].public_url)
        return to_dict()  # type: ignore[no-any-return]

    monkeypatch.setattr(spec, "to_dict", counted)
    served: dict[str, list[bytes]] = {}
    for public_url in ("https://one.example/cpt", "https://two.example", "https://one.example/cpt"):
        app.config["LICENSING"] = dataclasses.replace(
            app.config["LICENSING"], public_url=public_url
        )
        for _ in range(2):
            response = client.get("/api/v1/openapi.json")
            assert response.status_code == 200
            assert response.mimetype == "application/json"
            served.setdefault(public_url, []).append(response.get_data())

    # Once for each address (another test of this process may have served one already).
    assert len(built) <= 2
    assert len(set(built)) == len(built)
    for public_url, bodies in served.items():
        assert len(set(bodies)) == 1, public_url
        document = json.loads(bodies[0])
        assert f"({public_url}/account/tokens;" in document["info"]["description"]
        bearer = document["components"]["securitySchemes"]["bearerAuth"]["description"]
        assert f"({public_url}/account/tokens;" in bearer
        assert bodies[0] == json.dumps(document, indent=2).encode()  # indented, as it was
