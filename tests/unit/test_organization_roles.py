"""A vendor user's role in their organization, as route declarations and actors
read it: administrators manage the organization, members do the work, billing
members read and pay the invoices."""

from __future__ import annotations

import pytest

from licensing import access
from licensing.access import ADMINISTRATOR, BILLING, LICENSING_WORK, MEMBER, Access, Principal
from licensing.actors import Actor


def _vendor(role: str) -> Principal:
    return Principal(
        user_id=5, email="ana@northwind.example", organization_id=7, organization_role=role
    )


ADMINISTRATORS_ROUTE = Access(
    vendor=True, vendor_roles=frozenset({ADMINISTRATOR}), staff=frozenset({"admin"})
)


def test_an_administrators_route_admits_administrators_and_refuses_members_for_their_role() -> None:
    assert ADMINISTRATORS_ROUTE.admits(_vendor(ADMINISTRATOR))
    assert not ADMINISTRATORS_ROUTE.admits(_vendor(MEMBER))
    assert ADMINISTRATORS_ROUTE.refuses_for_organization_role(_vendor(MEMBER))
    staff = Principal(user_id=9, email="jo@office.example", roles=frozenset({"admin"}))
    assert ADMINISTRATORS_ROUTE.admits(staff)
    assert not ADMINISTRATORS_ROUTE.refuses_for_organization_role(staff)


def test_a_route_for_every_vendor_user_admits_members_too() -> None:
    assert Access(vendor=True).admits(_vendor(MEMBER))


LICENSING_ROUTE = Access(vendor=True, vendor_roles=LICENSING_WORK, staff=frozenset({"licensing"}))


def test_a_licensing_step_admits_administrators_and_members_and_refuses_billing_members() -> None:
    assert LICENSING_ROUTE.admits(_vendor(ADMINISTRATOR))
    assert LICENSING_ROUTE.admits(_vendor(MEMBER))
    assert not LICENSING_ROUTE.admits(_vendor(BILLING))
    assert LICENSING_ROUTE.refuses_for_organization_role(_vendor(BILLING))


def test_a_route_for_every_vendor_user_admits_billing_members_too() -> None:
    assert Access(vendor=True).admits(_vendor(BILLING))
    assert not Access(vendor=True).refuses_for_organization_role(_vendor(BILLING))


def test_the_route_registry_describes_a_licensing_step() -> None:
    assert LICENSING_ROUTE.describe() == (
        "vendor users who are their organization's administrators or members, "
        "or staff with the licensing role (and admins)"
    )


def test_the_route_registry_describes_an_administrators_route() -> None:
    assert ADMINISTRATORS_ROUTE.describe() == (
        "vendor users who are their organization's administrators, or admins"
    )


def test_a_declaration_names_only_known_organization_roles() -> None:
    with pytest.raises(ValueError, match="unknown organization role"):
        access.allow(vendor="owner")
    with pytest.raises(ValueError, match="unknown organization role"):
        access.allow(vendor=(MEMBER, "clerk"))


def test_a_declaration_of_no_organization_roles_says_it_would_admit_no_vendor() -> None:
    # It said "unknown organization roles []": nothing unknown was named.
    for empty in (frozenset(), (), []):
        with pytest.raises(ValueError, match="would admit no vendor user") as refused:
            access.allow(vendor=empty)
        assert "omit vendor" in str(refused.value)
        assert "unknown" not in str(refused.value)


def test_principals_of_different_roles_are_admitted_apart() -> None:
    # The navigation is kept per admission: a member must not get an administrator's.
    assert _vendor(MEMBER).admission != _vendor(ADMINISTRATOR).admission
    assert _vendor(BILLING).admission != _vendor(MEMBER).admission


def test_the_actor_of_a_vendor_carries_their_role_and_staff_carry_none() -> None:
    assert Actor.of(_vendor(ADMINISTRATOR)).is_administrator
    assert not Actor.of(_vendor(MEMBER)).is_administrator
    staff = Actor.user("jo@office.example", 9, None, frozenset({"admin"}), organization_role=MEMBER)
    assert staff.organization_role is None
