"""Who acts: a user, the system, or someone acting by a link with no account. Only
`Actor.SYSTEM` is the system; a link actor holds no role and sees no organization's
records by sight, whatever ids it carries."""

from __future__ import annotations

import pytest

from licensing.access import Principal
from licensing.actors import Actor
from licensing.billing import links
from licensing.billing.models import Invoice

STAFF_ROLES = ("licensing", "billing", "admin")


def _link_payer() -> Actor:
    return Actor.of(links.payer(Invoice(organization_id=7), "billing@northwind.example"))


def _requester() -> Actor:
    return Actor.by_link("dana@riverside-college.example")


def test_the_invoice_link_payer_acts_as_no_user_under_the_billing_contacts_email() -> None:
    payer = _link_payer()
    assert (payer.kind, payer.name, payer.user_id, payer.organization_id) == (
        "link",
        "billing@northwind.example",
        None,
        7,
    )


def test_the_invoice_link_payer_is_not_the_system_and_holds_no_staff_role() -> None:
    payer = _link_payer()
    assert not payer.is_system
    assert not payer.is_staff
    assert not payer.has_role("billing")
    assert not payer.has_role("admin")


def test_the_invoice_link_payer_is_no_user_of_its_organization_and_sees_none_of_its_records() -> (
    None
):
    payer = _link_payer()
    assert not payer.is_vendor
    assert not payer.may_see(7)
    assert not payer.may_see(8)


def test_a_permission_requester_with_neither_user_nor_organization_is_not_the_system() -> None:
    requester = _requester()
    assert requester.kind == "link"
    assert not requester.is_system
    assert not requester.sees_every_organization


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_a_permission_requester_holds_no_staff_role(role: str) -> None:
    assert not _requester().has_role(role)


def test_a_permission_requester_sees_no_organizations_records() -> None:
    assert not _requester().may_see(1)


def test_only_the_system_actor_is_the_system_and_it_holds_every_role() -> None:
    assert Actor.SYSTEM.is_system
    assert Actor.SYSTEM.kind == "system"
    assert all(Actor.SYSTEM.has_role(role) for role in STAFF_ROLES)
    assert Actor.SYSTEM.may_see(42)


def test_a_signed_in_vendor_is_a_user_actor_who_sees_only_their_own_organization() -> None:
    vendor = Actor.of(Principal(user_id=5, email="ana@northwind.example", organization_id=7))
    assert (vendor.kind, vendor.user_id, vendor.is_vendor) == ("user", 5, True)
    assert vendor.may_see(7)
    assert not vendor.may_see(8)
    assert not vendor.has_role("licensing")


def test_a_staff_user_holds_their_roles_and_an_admin_every_staff_role() -> None:
    billing = Actor.of(
        Principal(user_id=3, email="bo@office.example", roles=frozenset({"billing"}))
    )
    admin = Actor.of(Principal(user_id=4, email="al@office.example", roles=frozenset({"admin"})))
    assert billing.has_role("billing")
    assert not billing.has_role("licensing")
    assert all(admin.has_role(role) for role in STAFF_ROLES)
    assert billing.may_see(8)
    assert not billing.is_system


def test_a_user_with_neither_organization_nor_role_sees_no_organizations_records() -> None:
    nobody = Actor.of(Principal(user_id=9, email="ex-staff@office.example"))
    assert not nobody.is_system
    assert not nobody.has_role("licensing")
    assert not nobody.may_see(1)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "user", "name": "x@example.com"},  # a user without a user id
        {"kind": "link", "name": "x@example.com", "user_id": 3},
        {"kind": "link", "name": "x@example.com", "roles": frozenset({"admin"})},
        {"kind": "system", "name": "system", "organization_id": 7},
    ],
)
def test_an_actor_whose_ids_contradict_its_kind_cannot_be_made(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="actor"):
        Actor(**fields)  # type: ignore[arg-type]
