"""Issue 16: the vendor dashboard asks every feature's "anything waiting?" condition
in one statement and calls only the providers whose condition holds
(`licensing.web.portal`, `waiting_provider(when=...)`). A condition that says
"nothing" while its provider has something would hide a waiting record, so each
is held to its provider here: as records of every kind come and go, a provider
with items always had its condition hold, and the dashboard lists exactly what
every provider asked unconditionally lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import calendar, db
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.accounts.models import OneTimeToken
from licensing.actors import Actor
from licensing.billing.models import Invoice
from licensing.permissions import services as permissions
from licensing.web import portal
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.integration.agreements.conftest import apply as apply
from tests.integration.permissions.conftest import routed_use, send_routed
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
)
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.statements import statements_for


def _every_provider(vendor: Any) -> list[tuple[str, bool, list[portal.WaitingItem]]]:
    """Each registered provider's name, whether the dashboard would ask it now, and
    what it lists when asked regardless."""
    session = db.session()
    principal = accounts.principal_for(vendor)
    organization = vendor.organization
    return [
        (provider.__name__, asked, list(provider(session, principal, organization)))
        for provider, asked in portal._answering(session, organization)
    ]


def test_a_provider_with_anything_to_list_is_always_asked(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    apply: Callable[..., Any],
    active_agreement: Callable[..., Any],  # noqa: F811
) -> None:
    organization = vendor.organization
    actor = Actor.of(accounts.principal_for(vendor))
    held: dict[str, list[bool]] = {}

    def check(step: str) -> None:
        with app.test_request_context("/portal/"):
            for name, asked, items in _every_provider(vendor):
                assert asked or not items, f"{step}: {name} lists {items} but was not asked"
                held.setdefault(name, []).append(asked)
            unconditional = sorted(
                (item for _name, _asked, items in _every_provider(vendor) for item in items),
                key=portal._order,
            )
            principal = accounts.principal_for(vendor)
            shown = portal.waiting_items(db.session(), principal, organization)
            assert shown == unconditional, step
            # As the dashboard asks: the conditions read in the organization's row.
            asked = portal.waiting_question()
            _organization, _members, answers = account_queries.own_organization_and_members(
                db.session(), principal, asked.columns, asked.parameters(organization.id)
            )
            assert len(answers) == len(asked.conditions)
            assert portal.waiting_items(db.session(), principal, organization, answers) == shown

    check("nothing yet")
    apply(other_vendor, AUTO_USE)  # another organization's records ask nothing of this one
    active_agreement(other_vendor, SMALL_SOFTWARE)
    check("another vendor's records")
    apply(vendor, STAFF_USE, submit=False)
    check("a draft")
    apply(vendor, AUTO_USE)
    check("an agreement to accept")
    active_agreement(vendor, SMALL_SOFTWARE)
    check("an active agreement, its invoice and reporting periods")
    send_routed(routed_use(organization.id, organization.legal_name, application_id=90001))
    check("a permission request")
    # Round 36: a refund a credit note owes (the up-front invoice paid, then credited).
    invoice = (
        db.session()
        .scalars(select(Invoice).where(Invoice.organization_id == organization.id))
        .one()
    )
    paid_offline(invoice.id, f"{invoice.total}", "W-16")
    credit = credited(invoice.id, "100.00", "Seat removed")
    check("a refund owed")
    refunded_offline(credit.id, "100.00", "W-16-R")
    check("a refund sent")
    link = accounts.invite_member(organization.id, "newcomer@bluefin.example", actor)
    check("an invitation")
    accounts.revoke_invitation(link.id, actor)
    check("a revoked invitation")
    expired = accounts.invite_member(organization.id, "late@bluefin.example", actor)
    session = db.session()
    session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.id == expired.id)
        .values(expires_at=db.utcnow() - timedelta(minutes=1))
    )
    session.commit()
    check("an expired invitation")

    # Every condition said "nothing" at first and "something" once its record came
    # (the invitations' again after one was revoked; an invitation that expired
    # unanswered is listed, to send again, so its condition holds once more).
    conditional = {
        provider.__name__ for provider, condition in portal._PROVIDERS if condition is not None
    }
    assert conditional >= {
        "_open_invoices",
        "_permissions_waiting",
        "_invitations_waiting",
        "_agreements_to_accept",
        "_due_reports",
        "_refunds_owed",
    }
    for name in conditional:
        assert held[name][0] is False, name
        assert any(held[name]), name
    assert held["_invitations_waiting"][-2:] == [False, True]


def test_a_dashboard_with_nothing_waiting_asks_every_feature_with_its_organization(
    app: Flask, vendor: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    # The session's user; the organization with its members and the features'
    # conditions; the applications' counts by state: nothing else to read (it
    # was ten statements, each feature's provider asking on its own).
    assert statements_for(app, signed_in(app.test_client(), vendor), "/portal/") <= 3


# 21:30 at the office (US Central, CST) on Friday 8 January 2027, already the 9th in UTC.
OFFICE_EVENING = datetime(2027, 1, 9, 3, 30, tzinfo=UTC)


def _permission_item(app: Flask, vendor: Any) -> portal.WaitingItem:
    with app.test_request_context("/portal/"):
        principal = accounts.principal_for(vendor)
        items = portal.waiting_items(db.session(), principal, vendor.organization)
    [item] = [item for item in items if item.title.startswith("Permission request")]
    return item


def test_the_dashboard_dates_a_permission_request_by_the_office_s_days(
    app: Flask, vendor: Any
) -> None:
    # Round 46: the dashboard took the UTC date of the request's instants, a day late
    # in the office's evening and, for the answer's deadline (the end of an office
    # day, 05:59 UTC the next), always.
    organization = vendor.organization
    with time_machine.travel(OFFICE_EVENING, tick=False):
        request = send_routed(routed_use(organization.id, organization.legal_name))
        assert _permission_item(app, vendor).detail == "Submitted January 8, 2027."
        permissions.ask_for_info(request.id, "Which course is it for?", factories.staff_actor())
        asked = _permission_item(app, vendor)
    # Five US business days from the office's Friday: the end of Friday the 15th.
    assert request.answer_due_at is not None
    assert "Friday, January 15, 2027" in calendar.deadline_text(request.answer_due_at)
    assert asked.detail.endswith("can answer on the request's status page until January 15, 2027.")
