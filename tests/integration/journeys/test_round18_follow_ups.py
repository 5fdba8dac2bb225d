"""Round 18, follow-ups: what the round's walks of renewals and of an organization's
administrator found and left."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Application
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.support.agreements import accept, agreement_of
from tests.support.factories import bearer


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        (("suspend",), "account is suspended"),
        (("close",), "account is closed"),
        (("mark_pending_payment",), "new license applications are on hold"),
    ],
)
def test_an_agreement_of_an_organization_not_in_good_standing_is_not_available_to_renew(
    app: Flask,
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
    steps: tuple[str, ...],
    reason: str,
) -> None:
    # A suspended organization read `available: true` and its POST got a 409.
    agreement = accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)
    session = db.session()
    organization = vendor.organization
    for step in steps:
        accounts.change_standing(
            session, organization, step, reason="Held by the office.", actor=Actor.SYSTEM
        )
    session.commit()
    path = f"/api/v1/agreements/{agreement.id}"
    one = client.get(path, headers=bearer(vendor)).get_json()["renewal"]
    listed = client.get("/api/v1/agreements", headers=bearer(vendor)).get_json()
    staff = client.get(path, headers=bearer(licensing_staff)).get_json()["renewal"]
    assert one["available"] is False
    assert [item["renewal"]["available"] for item in listed] == [False]
    assert staff["available"] is False
    refused = client.post(f"{path}/renewal", headers=bearer(vendor))
    assert refused.status_code == 409
    assert reason in refused.get_json()["detail"].lower()

    # The portal's Renewal panel says why instead of offering a button that fails.
    page = signed_in(app.test_client(), vendor).get(f"/portal/agreements/{agreement.id}")
    text = page.get_data(as_text=True)
    assert "Renew for the next rate card year" not in text
    assert reason in " ".join(text.split()).lower()


def _audit_rows(page: str) -> list[str]:
    """The audit table's Record cells, in words."""
    cells = re.findall(r"<tr>\s*<td class=\"num\">.*?</tr>", page, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in cells]


def test_the_audit_log_names_an_api_token_by_its_name_and_owner_and_its_filter_reads_alike(
    app: Flask, vendor: Any, admin: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    # A token read "API token 3", with neither its name nor whose it was, and the
    # record-type filter offered "API token" beside "invitation".
    token, _raw = accounts.create_api_token(
        vendor.id, "nightly sync", actor=Actor.of(accounts.principal_for(vendor))
    )
    accounts.invite_member(
        vendor.organization.id, "newcomer@kestrel.example", Actor.of(accounts.principal_for(vendor))
    )
    client = signed_in(app.test_client(), admin)
    page = client.get("/console/audit", query_string={"entity_type": "api_token"}).get_data(
        as_text=True
    )
    rows = _audit_rows(page)
    assert rows, page
    named = f'API token "nightly sync" ({token.prefix}…) of {vendor.full_name} ({vendor.email})'
    assert all(named in row for row in rows), rows
    assert f'href="/console/users/{vendor.id}#tokens"' in page

    # An invitation reads as whom it invited where, as the organization page lists it.
    invited = client.get("/console/audit", query_string={"entity_type": "invitation"})
    organization = vendor.organization.legal_name
    assert [
        "newcomer@kestrel.example" in row and f"to join {organization}" in row
        for row in _audit_rows(invited.get_data(as_text=True))
    ] == [True]

    everything = client.get("/console/audit").get_data(as_text=True)
    options = re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', everything)
    types = {value: label for value, label in options if value in ("api_token", "invitation")}
    assert types == {"api_token": "API token", "invitation": "Invitation"}
