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
from licensing.actors import Actor
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.factories import bearer, billing_clerk
from tests.support.settings import issuing


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
    token, _secret = services.create_api_token(
        owner.id, "owned by B", actor=Actor.of(services.principal_for(owner))
    )
    return Urls(api=f"/api/v1/tokens/{token.id}")


@isolation_case("invitation")
def _invitation(session: Session, owner: User) -> Urls:
    link = services.invite_member(
        owner.organization_id or 0,
        "newcomer@bluefin.example",
        Actor.of(services.principal_for(owner)),
    )
    return Urls(api=f"/api/v1/invitations/{link.id}")


@isolation_case("organization invitations")
def _invitations(session: Session, owner: User) -> Urls:
    return Urls(api=f"/api/v1/organizations/{owner.organization_id}/invitations")


# --- permission requests --------------------------------------------------------------


@isolation_case("permission request (from an application)")
def _permission_request(session: Session, owner: User) -> Urls:
    from tests.integration.permissions.conftest import routed_use, send_routed

    organization = owner.organization
    assert organization is not None
    request = send_routed(
        routed_use(organization.id, organization.legal_name, requester_email=owner.email)
    )
    return Urls(
        api=f"/api/v1/permission-requests/{request.id}",
        page=f"/portal/permissions/{request.id}",
    )


# --- applications and agreements ------------------------------------------------------


def _auto_approved_application(owner: User) -> object:
    from licensing.agreements import services as agreements
    from licensing.ratecards import services as ratecards
    from tests.integration.agreements.conftest import AUTO_USE, draft
    from tests.integration.pricing.conftest import example_document

    ratecards.import_card(example_document(), published_by="tests")
    principal = services.principal_for(owner)
    application = agreements.create_draft(Actor.of(principal), draft(AUTO_USE))
    return agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)


@isolation_case("application")
def _application(session: Session, owner: User) -> Urls:
    application = _auto_approved_application(owner)
    return Urls(
        api=f"/api/v1/applications/{application.id}",  # type: ignore[attr-defined]
        page=f"/portal/applications/{application.id}",  # type: ignore[attr-defined]
    )


@isolation_case("agreement")
def _agreement(session: Session, owner: User) -> Urls:
    from licensing.agreements import queries as agreement_queries

    application = _auto_approved_application(owner)
    agreement = agreement_queries.agreement_for_application(session, application.id)  # type: ignore[attr-defined]
    assert agreement is not None
    return Urls(api=f"/api/v1/agreements/{agreement.id}", page=f"/portal/agreements/{agreement.id}")


@isolation_case("agreement PDF")
def _agreement_pdf(session: Session, owner: User) -> Urls:
    from licensing.agreements import queries as agreement_queries

    application = _auto_approved_application(owner)
    agreement = agreement_queries.agreement_for_application(session, application.id)  # type: ignore[attr-defined]
    assert agreement is not None
    return Urls(
        api=f"/api/v1/agreements/{agreement.id}/pdf",
        page=f"/portal/agreements/{agreement.id}/agreement.pdf",
    )


# --- billing --------------------------------------------------------------------------


def _billing_invoice(owner: User):  # type: ignore[no-untyped-def]
    from tests.integration.billing.conftest import activated, send_activation

    invoice = send_activation(activated(owner.organization_id or 0, ("120.00",)))
    assert invoice is not None
    return invoice


@isolation_case("invoice")
def _invoice(session: Session, owner: User) -> Urls:
    invoice = _billing_invoice(owner)
    return Urls(api=f"/api/v1/invoices/{invoice.id}", page=f"/portal/invoices/{invoice.id}")


@isolation_case("invoice PDF")
def _invoice_pdf(session: Session, owner: User) -> Urls:
    invoice = _billing_invoice(owner)
    return Urls(api=f"/api/v1/invoices/{invoice.id}/pdf", page=f"/invoices/{invoice.id}.pdf")


@isolation_case("invoice payments")
def _invoice_payments(session: Session, owner: User) -> Urls:

    invoice = _billing_invoice(owner)
    payment = paid_offline(invoice.id, "20.00", "W-ISO")
    return Urls(api=f"/api/v1/payments/{payment.id}")


@isolation_case("credit note and its PDF")
def _credit_note(session: Session, owner: User) -> Urls:

    invoice = _billing_invoice(owner)
    credit = credited(invoice.id, "20.00", "seat removed")
    return Urls(api=f"/api/v1/credit-notes/{credit.id}", page=f"/credit-notes/{credit.id}.pdf")


@isolation_case("refund of a credit note")
def _refund(session: Session, owner: User) -> Urls:

    from licensing.billing import services as billing

    invoice = _billing_invoice(owner)
    billing.record_offline_payment(
        invoice.id,
        method="wire",
        amount=invoice.balance_due,
        reference="W-ISO",
        actor=billing_clerk(),
    )
    credit = credited(invoice.id, "20.00", "seat removed")
    refund = refunded_offline(credit.id, "20.00", "R-ISO")
    return Urls(api=f"/api/v1/refunds/{refund.id}")


@isolation_case("refunds of a credit note")
def _refunds(session: Session, owner: User) -> Urls:

    invoice = _billing_invoice(owner)
    credit = credited(invoice.id, "20.00", "seat removed")
    return Urls(api=f"/api/v1/credit-notes/{credit.id}/refunds")


@isolation_case("an invoice's payments (list)")
def _invoice_payment_list(session: Session, owner: User) -> Urls:
    invoice = _billing_invoice(owner)
    paid_offline(invoice.id, "20.00", "W-ISO")
    return Urls(api=f"/api/v1/invoices/{invoice.id}/payments")


# Round 30: the records rounds 19-29 added that a vendor reads by an organization's id.
@isolation_case("statement of account")
def _statement(session: Session, owner: User) -> Urls:
    _billing_invoice(owner)
    return Urls(api=f"/api/v1/organizations/{owner.organization_id}/statement")


@isolation_case("statements sent")
def _statements_sent(session: Session, owner: User) -> Urls:
    return Urls(api=f"/api/v1/organizations/{owner.organization_id}/statements/sent")


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
        other_vendor.organization_id or 0,
        "x@bluefin.example",
        Actor.of(services.principal_for(other_vendor)),
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
        client.patch(f"/api/v1/users/{other_vendor.id}", json={"role": "member"}, headers=headers),
    ]
    assert [response.status_code for response in attempts] == [404, 404, 404, 404, 404]


def test_an_administrator_cannot_manage_another_organizations_members_on_pages(
    app: Flask, vendor: User, other_vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # `vendor` administers their own organization, not `other_vendor`'s.
    client = signed_in(app.test_client(), vendor)
    for action, data in (
        ("role", {"role": "member"}),
        ("deactivate", {"confirmed": "yes"}),
        ("restore", {}),
    ):
        response = client.post(f"/organization/members/{other_vendor.id}/{action}", data=data)
        assert response.status_code == 404, action
    assert db.session().get(User, other_vendor.id, populate_existing=True).is_active  # type: ignore[union-attr]


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


def test_vendors_cannot_take_round_19_to_29_steps_on_another_organizations_records(
    client: FlaskClient, vendor: User, other_vendor: User
) -> None:
    """Round 30: requiring two-step sign-in of another organization is a 404 (its
    existence is not told); the office's steps on payments, disputes and statements
    are a 403 for any vendor, whoever's the record."""
    invoice = _billing_invoice(other_vendor)
    payment = paid_offline(invoice.id, "20.00", "W-ISO")
    headers = bearer(vendor)
    other = other_vendor.organization_id
    required = client.post(
        f"/api/v1/organizations/{other}/two-step", json={"required": True}, headers=headers
    )
    assert required.status_code == 404
    office_steps = [
        client.post(
            f"/api/v1/payments/{payment.id}/reversal",
            json={"reason": "bounced", "returned_on": "2026-01-05"},
            headers=headers,
        ),
        client.post(f"/api/v1/organizations/{other}/statements/sent/1/resend", headers=headers),
        client.get("/api/v1/disputes", headers=headers),
        client.get("/api/v1/payments", headers=headers),
    ]
    assert [answer.status_code for answer in office_steps] == [403, 403, 403, 403]
    db.session().refresh(payment)
    assert payment.state == "succeeded"
    assert db.session().get(type(other_vendor.organization), other).two_step_required is False
