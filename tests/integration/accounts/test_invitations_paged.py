"""Round 47: the organization's invitations a page at a time. Both organization pages
listed every invitation ever sent; they now page them (`invitations_page`, so the
members' pager and the invitations' each keep the other's page), pending first,
while which to send again is read in SQL of the whole list, whichever page is shown.
(The console's members: test_members_paged.py.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.access import MEMBER
from licensing.accounts import views as account_views
from licensing.accounts.models import INVITATION, OneTimeToken
from licensing.db import utcnow
from tests.support import factories
from tests.support.pages import next_link, text_of, walk_pages

MEMBER_ROW = r'<tr id="member-(\d+)">'
INVITATION_ROW = r'<tr id="invitation-(\d+)">'


def _invite(
    organization_id: int,
    email: str,
    *,
    sent_days_ago: float,
    state: str = "pending",
    by: int | None = None,
) -> OneTimeToken:
    """An invitation sent `sent_days_ago`, pending, expired, revoked or accepted."""
    now = utcnow()
    sent = now - timedelta(days=sent_days_ago)
    link = OneTimeToken(
        purpose=INVITATION,
        token_hash=f"{email}-{sent_days_ago}-{state}".ljust(64, "x")[:64],
        email=email,
        organization_id=organization_id,
        organization_role=MEMBER,
        created_by_id=by,
        created_at=sent,
        expires_at=sent + timedelta(days=7),
        used_at=sent + timedelta(hours=1) if state == "accepted" else None,
        revoked_at=sent + timedelta(hours=1) if state == "revoked" else None,
    )
    db.session().add(link)
    db.session().flush()
    return link


def test_the_invitations_page_pending_first_each_pager_keeping_the_others_page(
    app: Flask,
    vendor: Any,
    admin: Any,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = db.session()
    organization = vendor.organization
    for _ in range(3):
        factories.make_vendor(session, organization)
    member_email = factories.make_vendor(session, organization).email
    oid = organization.id
    # Newest first: a revoked one newer than every pending one, so "pending first"
    # moves it; two to one address (only the newer, expired, is offered again), and
    # an expired one to an address that has since joined (not offered).
    revoked = _invite(oid, "rey@northwind.example", sent_days_ago=0.5, state="revoked")
    pending_new = _invite(oid, "pat@northwind.example", sent_days_ago=1)
    pending_old = _invite(oid, "pia@northwind.example", sent_days_ago=3)
    expired_newer = _invite(oid, "eve@northwind.example", sent_days_ago=10)
    expired_older = _invite(oid, "eve@northwind.example", sent_days_ago=20)
    joined = _invite(oid, member_email, sent_days_ago=30)
    accepted = _invite(oid, "ace@northwind.example", sent_days_ago=40, state="accepted")
    session.commit()
    order = [pending_new, pending_old, revoked, expired_newer, expired_older, joined, accepted]
    offered = {revoked.id, expired_newer.id}
    monkeypatch.setattr(account_views, "INVITATIONS_PER_PAGE", 3)
    monkeypatch.setattr(account_views, "MEMBERS_PER_PAGE", 2)

    vendor_client = signed_in(app.test_client(), vendor)
    staff_client = signed_in(app.test_client(), admin)
    for client, url in (
        (vendor_client, "/organization"),
        (staff_client, f"/console/organizations/{oid}"),
    ):
        # Walked from the members' page 2: every invitation once, pending first then
        # newest, and the members' page kept in every link.
        seen, urls = walk_pages(client, f"{url}?page=2", INVITATION_ROW, "invitations")
        assert seen == [str(link.id) for link in order], url
        assert urls[1:] == [
            f"{url}?page=2&invitations_page=2#invitations",
            f"{url}?page=2&invitations_page=3#invitations",
        ]
        for shown in urls:
            page = client.get(shown).get_data(as_text=True)
            assert re.findall(MEMBER_ROW, page) == re.findall(
                MEMBER_ROW, client.get(f"{url}?page=2").get_data(as_text=True)
            )
            # The members' pager keeps the invitations' page.
            invitations_page = parse_qs(urlsplit(shown).query).get("invitations_page")
            for rel in ("next", "prev"):
                link = next_link(page, "members", rel)
                assert link is not None
                assert parse_qs(urlsplit(link).query).get("invitations_page") == invitations_page
        assert client.get(f"{url}?invitations_page=1&invitations_page=2").status_code == 400
        past = text_of(client.get(f"{url}?invitations_page=9"))
        assert "Invitations 7\u20137 of 7 \u00b7 page 3 of 3" in past

    # The vendor's administrator is offered to send again the newest invitation to each
    # address that is no member, expired or withdrawn, on whichever page it is.
    again: set[int] = set()
    for number in (1, 2, 3):
        page = vendor_client.get(f"/organization?invitations_page={number}").get_data(as_text=True)
        table = page[page.index("<caption>Invitations</caption>") :]
        for row in re.findall(r'<tr id="invitation-(\d+)">(.*?)</tr>', table, re.S):
            if "Send again" in row[1]:
                again.add(int(row[0]))
        # Each row has a cell under every heading (a sixth heading had no cells).
        head = table[: table.index("</thead>")]
        first_row = re.search(r'<tr id="invitation-\d+">(.*?)</tr>', table, re.S)
        assert first_row is not None
        assert head.count("<th ") == first_row.group(1).count("<td>")
    assert again == offered

    # Sent again from the invitations' page 2: back to it.
    action = "/organization/invitations?invitations_page=2"
    page_2 = vendor_client.get("/organization?invitations_page=2").get_data(as_text=True)
    assert f'action="{action}"' in page_2
    sent_again = vendor_client.post(action, data={"email": "eve@northwind.example", "role": MEMBER})
    assert sent_again.status_code == 302
    assert sent_again.headers["Location"].endswith("/organization?invitations_page=2")

    # Withdrawn from the members' page 2: back to it, at the invitations.
    action = f"/organization/invitations/{pending_old.id}/revoke?page=2"
    assert f'action="{action}"' in vendor_client.get("/organization?page=2").get_data(as_text=True)
    withdrawn = vendor_client.post(action)
    assert withdrawn.status_code == 302
    assert withdrawn.headers["Location"].endswith("/organization?page=2#invitations")
