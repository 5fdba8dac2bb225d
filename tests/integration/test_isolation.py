"""Vendor isolation, on every resource type: a vendor asking for another
organization's record gets 404 (its existence is not revealed), on the API and
on pages; the record's own organization gets 200.

This is a registry. Each feature adds a case for each record type it adds:

    @isolation_case("application")
    def _application(session, owner):
        application = make_application(session, organization=owner.organization)
        return Urls(api=f"/api/v1/applications/{application.id}",
                    page=f"/portal/applications/{application.id}")

`owner` is a vendor user of organization B; the case creates a record owned by
B and returns the URLs that read it (either may be None when there is none).
The tests below then read every URL as a vendor of organization A (404) and as
`owner` (200).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import User
from tests.support import factories
from tests.support.factories import bearer


@dataclass(frozen=True)
class Urls:
    api: str | None = None
    page: str | None = None


@dataclass(frozen=True)
class IsolationCase:
    name: str
    make: Callable[[Session, User], Urls]


CASES: list[IsolationCase] = []


def isolation_case(name: str) -> Callable[[Callable[[Session, User], Urls]], Callable[..., Urls]]:
    def register(make: Callable[[Session, User], Urls]) -> Callable[[Session, User], Urls]:
        CASES.append(IsolationCase(name, make))
        return make

    return register


# --- accounts -------------------------------------------------------------------------


@isolation_case("organization")
def _organization(session: Session, owner: User) -> Urls:
    return Urls(
        api=f"/api/v1/organizations/{owner.organization_id}",
        page=f"/organizations/{owner.organization_id}",
    )


@isolation_case("organization members")
def _members(session: Session, owner: User) -> Urls:
    return Urls(api=f"/api/v1/organizations/{owner.organization_id}/members")


@isolation_case("member (user)")
def _member(session: Session, owner: User) -> Urls:
    colleague = factories.make_vendor(session, organization=owner.organization)
    return Urls(api=f"/api/v1/users/{colleague.id}")


@isolation_case("api token")
def _token(session: Session, owner: User) -> Urls:
    token, _secret = services.create_api_token(owner.id, "owned by B")
    return Urls(api=f"/api/v1/tokens/{token.id}")


@isolation_case("invitation")
def _invitation(session: Session, owner: User) -> Urls:
    link = services.invite_member(
        owner.organization_id or 0, "newcomer@bluefin.example", services.principal_for(owner)
    )
    return Urls(api=f"/api/v1/invitations/{link.id}")


@isolation_case("organization invitations")
def _invitations(session: Session, owner: User) -> Urls:
    return Urls(api=f"/api/v1/organizations/{owner.organization_id}/invitations")


# --- the tests --------------------------------------------------------------------------


def _read(
    app: Flask, user: User, urls: Urls, signed_in: Callable[..., FlaskClient]
) -> dict[str, int]:
    statuses = {}
    if urls.api:
        statuses[urls.api] = app.test_client().get(urls.api, headers=bearer(user)).status_code
    if urls.page:
        statuses[urls.page] = signed_in(app.test_client(), user).get(urls.page).status_code
    return statuses


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_vendor_of_another_organization_gets_404_for_the_record(
    app: Flask,
    vendor: User,
    other_vendor: User,
    case: IsolationCase,
    signed_in: Callable[..., FlaskClient],
) -> None:
    urls = case.make(db.session(), other_vendor)
    assert urls.api or urls.page, "a case must name at least one URL"
    statuses = _read(app, vendor, urls, signed_in)
    assert statuses == dict.fromkeys(statuses, 404)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_owning_organizations_vendor_reads_the_record(
    app: Flask, other_vendor: User, case: IsolationCase, signed_in: Callable[..., FlaskClient]
) -> None:
    urls = case.make(db.session(), other_vendor)
    statuses = _read(app, other_vendor, urls, signed_in)
    assert statuses == dict.fromkeys(statuses, 200)


def test_an_unknown_record_and_another_organizations_record_get_the_same_answer(
    client: FlaskClient, vendor: User, other_vendor: User
) -> None:
    headers = bearer(vendor)
    theirs = client.get(f"/api/v1/organizations/{other_vendor.organization_id}", headers=headers)
    missing = client.get("/api/v1/organizations/999999", headers=headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_json()["title"] == missing.get_json()["title"]
    assert str(other_vendor.organization_id) in theirs.get_json()["detail"]
    assert "999999" in missing.get_json()["detail"]


def test_vendors_cannot_change_another_organizations_records(
    client: FlaskClient, vendor: User, other_vendor: User
) -> None:
    link = services.invite_member(
        other_vendor.organization_id or 0, "x@bluefin.example", services.principal_for(other_vendor)
    )
    headers = bearer(vendor)
    attempts = [
        client.patch(
            f"/api/v1/organizations/{other_vendor.organization_id}",
            json={"city": "Elsewhere"},
            headers=headers,
        ),
        client.post(
            f"/api/v1/organizations/{other_vendor.organization_id}/invitations",
            json={"email": "spy@northwind.example"},
            headers=headers,
        ),
        client.delete(f"/api/v1/invitations/{link.id}", headers=headers),
        client.patch(
            f"/api/v1/users/{other_vendor.id}", json={"is_active": False}, headers=headers
        ),
    ]
    assert [response.status_code for response in attempts] == [404, 404, 404, 404]


def test_a_vendor_lists_only_their_own_organization(
    client: FlaskClient, vendor: User, other_vendor: User
) -> None:
    listed = client.get("/api/v1/organizations", headers=bearer(vendor)).get_json()
    assert [item["id"] for item in listed] == [vendor.organization_id]


def test_staff_see_every_organizations_records(
    client: FlaskClient, other_vendor: User, licensing_staff: User
) -> None:
    headers = bearer(licensing_staff)
    for url in (
        f"/api/v1/organizations/{other_vendor.organization_id}",
        f"/api/v1/organizations/{other_vendor.organization_id}/members",
        f"/api/v1/users/{other_vendor.id}",
    ):
        assert client.get(url, headers=headers).status_code == 200, url
