"""Round 49: on the vendor's Organization page, an invitation or the address form
refused (a bad email, a blank city) drew the page again with the first page of its
members and of its invitations, whatever pages the administrator was on. Both forms
post with the pages shown (as the forms on a row do since round 47), so the page
drawn again shows the same pages, and a form accepted returns there."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.access import MEMBER
from licensing.accounts import views as account_views
from licensing.accounts.models import INVITATION, OneTimeToken
from licensing.db import utcnow
from tests.support import factories

MEMBER_ROW = r'<tr id="member-(\d+)">'
INVITATION_ROW = r'<tr id="invitation-(\d+)">'


def _action(markup: str, endpoint_path: str) -> str:
    found = re.search(
        rf'<form method="post" action="({re.escape(endpoint_path)}[^"]*)" novalidate>', markup
    )
    assert found is not None, endpoint_path
    return found[1].replace("&amp;", "&")


def _with_colleagues(vendor: Any, count: int = 4) -> Any:
    """The vendor's organization with `count` colleagues more (two pages of two)."""
    for _ in range(count):
        factories.make_vendor(db.session(), vendor.organization)
    return vendor.organization


def test_a_refused_invitation_or_address_keeps_the_pages_of_members_and_invitations(
    app: Flask,
    vendor: Any,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = db.session()
    organization = _with_colleagues(vendor)
    now = utcnow()
    for index in range(5):
        sent = now - timedelta(days=index + 1)
        session.add(
            OneTimeToken(
                purpose=INVITATION,
                token_hash=f"kept-pages-{index}".ljust(64, "x"),
                email=f"person{index}@northwind.example",
                organization_id=organization.id,
                organization_role=MEMBER,
                created_at=sent,
                expires_at=sent + timedelta(days=7),
            )
        )
    session.commit()
    monkeypatch.setattr(account_views, "MEMBERS_PER_PAGE", 2)
    monkeypatch.setattr(account_views, "INVITATIONS_PER_PAGE", 2)
    client = signed_in(app.test_client(), vendor)
    shown = client.get("/organization?page=2&invitations_page=3").get_data(as_text=True)
    members = re.findall(MEMBER_ROW, shown)
    invitations = re.findall(INVITATION_ROW, shown)
    assert len(members) == 2
    assert len(invitations) == 1

    invite = _action(shown, "/organization/invitations")
    assert "page=2" in invite
    assert "invitations_page=3" in invite
    refused = client.post(invite, data={"email": "not an address", "role": MEMBER})
    assert refused.status_code == 422
    again = refused.get_data(as_text=True)
    assert re.findall(MEMBER_ROW, again) == members
    assert re.findall(INVITATION_ROW, again) == invitations

    profile = _action(shown, "/organization/profile")
    refused = client.post(profile, data={"legal_name": organization.legal_name, "city": ""})
    assert refused.status_code == 422
    again = refused.get_data(as_text=True)
    assert re.findall(MEMBER_ROW, again) == members
    assert re.findall(INVITATION_ROW, again) == invitations

    # Accepted, the invitation returns to the same pages.
    sent = client.post(invite, data={"email": "new.colleague@northwind.example", "role": MEMBER})
    assert sent.status_code == 302
    assert "page=2" in sent.headers["Location"]
    assert "invitations_page=3" in sent.headers["Location"]


def test_the_consoles_refused_profile_or_standing_keeps_the_pages_of_members_and_invitations(
    app: Flask,
    vendor: Any,
    admin: Any,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The console's organization page, likewise: its address and standing forms."""
    organization = _with_colleagues(vendor)
    db.session().commit()
    monkeypatch.setattr(account_views, "MEMBERS_PER_PAGE", 2)
    client = signed_in(app.test_client(), admin)
    url = f"/console/organizations/{organization.id}"
    shown = client.get(f"{url}?page=2").get_data(as_text=True)
    members = re.findall(MEMBER_ROW, shown)
    assert len(members) == 2
    for path, data in (
        (f"{url}/profile", {"legal_name": organization.legal_name, "city": ""}),
        (f"{url}/standing", {"action": "", "reason": ""}),
    ):
        action = _action(shown, path)
        assert action.endswith("?page=2"), action
        refused = client.post(action, data=data)
        assert refused.status_code == 422, path
        assert re.findall(MEMBER_ROW, refused.get_data(as_text=True)) == members, path
