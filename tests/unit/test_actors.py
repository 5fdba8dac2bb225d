"""The actor of someone acting by a link, with no account: no user, and no more
than a vendor without roles may do."""

from __future__ import annotations

from licensing.actors import Actor
from licensing.billing import links
from licensing.billing.models import Invoice


def _link_payer() -> Actor:
    return Actor.of(links.payer(Invoice(organization_id=7), "billing@northwind.example"))


def test_the_invoice_link_payer_acts_as_no_user_under_the_billing_contacts_email() -> None:
    payer = _link_payer()
    assert (payer.name, payer.user_id, payer.organization_id) == (
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


def test_the_invoice_link_payer_sees_only_its_own_organizations_records() -> None:
    payer = _link_payer()
    assert payer.may_see(7)
    assert not payer.may_see(8)


def test_an_actor_with_neither_user_nor_organization_is_still_the_system() -> None:
    assert Actor.SYSTEM.is_system
    assert Actor.SYSTEM.has_role("billing")
