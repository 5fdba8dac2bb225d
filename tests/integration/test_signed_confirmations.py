"""Round 55: the console's confirmations of closing an organization, removing
passkeys (an organization's administrator's and, newly asked, the office's),
withdrawing an invoice's links and terminating an agreement carry what they showed
signed (`licensing.confirmations`), as the credit note's and the card refund's do:
edited, forged, another person's or stale is a 400 and nothing is done; the record
moved since is the 409 round 54 gave. Each on SQLite and PostgreSQL."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.billing.models import Invoice
from tests.integration.agreements.conftest import AUTO_USE, apply  # noqa: F401 - the fixture
from tests.integration.billing.conftest import invoice_for  # noqa: F401 - the fixture
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories
from tests.support.agreements import agreement_of
from tests.support.pages import confirmation_carried, text_of
from tests.support.passkey_records import passkey_id, passkey_names
from tests.support.passkeys import add_passkey, authenticator

# What a page says, whichever confirmation was refused, for each kind of refusal.
FORGED = "the confirmation is not one this service made"
MISSING = "the confirmation of what was shown is missing"
ELSEWHERE = "the confirmation was shown to someone else"
STALE = "the confirmation was shown more than 15 minutes ago"


def _later(minutes: float) -> Any:
    return time_machine.travel(datetime.now(UTC) + timedelta(minutes=minutes), tick=False)


def _said(response: Any) -> str:
    return " ".join(html.unescape(text_of(response)).split())


# --- terminating an agreement ---------------------------------------------------------


@pytest.fixture
def termination(
    app: Flask,
    apply: Any,  # noqa: F811 - the fixture
    vendor: User,
    licensing_staff: User,
    signed_in: Callable[..., FlaskClient],
) -> tuple[FlaskClient, str, dict[str, str], Any]:
    """A licensing clerk shown the termination of an issued agreement: the client,
    the address, the confirming post and the agreement."""
    agreement = agreement_of(apply(vendor, AUTO_USE))
    staff = signed_in(app.test_client(), licensing_staff)
    url = f"/console/agreements/{agreement.id}/terminate"
    asked = staff.post(url, data={"reason": "Breach of the distribution clause"})
    confirming = {
        "reason": "Breach of the distribution clause",
        "confirmed": "yes",
        "confirmation": confirmation_carried(asked),
    }
    return staff, url, confirming, agreement


def _not_terminated(agreement: Any) -> None:
    db.session().refresh(agreement)
    assert (agreement.state, agreement.termination_reason) == ("issued", None)


def test_a_termination_whose_reason_was_edited_after_its_confirmation_is_a_400(
    termination: Any,
) -> None:
    staff, url, confirming, agreement = termination
    refused = staff.post(url, data={**confirming, "reason": "Another reason altogether"})
    assert refused.status_code == 400
    assert "Not terminated: the reason posted is not the one shown to confirm" in _said(refused)
    _not_terminated(agreement)


@pytest.mark.parametrize(
    ("confirmation", "why"),
    [("", MISSING), ("e30.forged", FORGED), ("x" * 5_000, FORGED)],
)
def test_a_termination_confirmed_with_a_missing_or_forged_confirmation_is_a_400(
    termination: Any, confirmation: str, why: str
) -> None:
    staff, url, confirming, agreement = termination
    refused = staff.post(url, data={**confirming, "confirmation": confirmation})
    assert refused.status_code == 400
    assert f"Not terminated: {why}." in _said(refused)
    _not_terminated(agreement)


def test_a_termination_confirmed_by_another_clerk_or_too_late_is_a_400(
    app: Flask, termination: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    staff, url, confirming, agreement = termination
    colleague = signed_in(
        app.test_client(), factories.make_staff(db.session(), roles=("licensing",))
    )
    assert ELSEWHERE in _said(colleague.post(url, data=confirming))
    with _later(15.1):
        late = staff.post(url, data=confirming)
    assert late.status_code == 400
    assert STALE in _said(late)
    _not_terminated(agreement)
    assert staff.post(url, data=confirming).status_code == 302  # in time, it goes


# --- closing an organization ----------------------------------------------------------


def test_closing_confirmed_with_an_edited_reason_or_a_forged_confirmation_is_a_400(
    app: Flask, vendor: User, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    console = signed_in(app.test_client(), licensing_staff)
    url = f"/console/organizations/{vendor.organization_id}/standing"
    form = {"action": "close", "reason": "The licensee stopped trading."}
    shown = confirmation_carried(console.post(url, data=form))
    confirming = {**form, "confirmed": "yes", "confirmation": shown}
    edited = console.post(url, data={**confirming, "reason": "Another reason"})
    assert edited.status_code == 400
    assert "Not closed: the reason posted is not the one shown to confirm" in _said(edited)
    # Round 54's plain list of what closing ends, written by hand, is not read.
    forged = console.post(url, data={**form, "confirmed": "yes", "shown_ending": ""})
    assert forged.status_code == 400
    assert f"Not closed: {MISSING}." in _said(forged)
    with _later(16):
        assert STALE in _said(console.post(url, data=confirming))
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    db.session().refresh(organization)
    assert organization.standing == "active"
    assert console.post(url, data=confirming).status_code == 302


# --- withdrawing an invoice's links -----------------------------------------------------


def test_a_links_withdrawal_with_an_edited_reason_or_a_forged_confirmation_is_a_400(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],  # noqa: F811 - the fixture
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor)
    url = f"/console/invoices/{invoice.id}/link-withdrawals"
    signed_in(client, billing_staff)
    fields = {"links-reason": "Sent to the wrong person"}
    shown = confirmation_carried(client.post(url, data=fields))
    confirming = {**fields, "confirmed": "yes", "confirmation": shown}
    edited = client.post(url, data={**confirming, "links-reason": "Another"})
    assert edited.status_code == 400
    assert "Not withdrawn: the reason posted is not the one shown to confirm" in _said(edited)
    # Round 54's plain contact, written by hand, is not read.
    plain = {**fields, "confirmed": "yes", "shown_contact": vendor.organization.billing_email}
    assert MISSING in _said(client.post(url, data=plain))
    with _later(16):
        assert STALE in _said(client.post(url, data=confirming))
    assert client.post(url, data=confirming).status_code == 302


# --- removing passkeys ------------------------------------------------------------------


def _with_passkeys(app: Flask, user: User, signed_in: Any, *names: str) -> FlaskClient:
    own = signed_in(app.test_client(), user)
    for name in names:
        assert add_passkey(own, authenticator(), name).status_code == 302
    return own


def test_a_members_passkey_removal_confirmed_for_another_choice_is_a_400(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    member = factories.make_vendor(db.session(), vendor.organization)
    _with_passkeys(app, member, signed_in, "Laptop", "Phone")
    administrator = signed_in(app.test_client(), vendor)
    path = f"/organization/members/{member.id}/passkeys/remove"
    one = {"passkey": str(passkey_id(member, "Laptop")), "reason": "Laptop lost"}
    shown = confirmation_carried(administrator.post(path, data=one))
    # The press for "all" carrying the confirmation of one: the others were not named.
    widened = administrator.post(
        path, data={**one, "passkey": "all", "confirmed": "yes", "confirmation": shown}
    )
    assert widened.status_code == 400
    assert "Not removed: the passkey or reason posted is not the one shown" in _said(widened)
    assert passkey_names(member) == ["Laptop", "Phone"]
    done = administrator.post(path, data={**one, "confirmed": "yes", "confirmation": shown})
    assert done.status_code == 302
    assert passkey_names(member) == ["Phone"]


def test_the_office_asks_before_removing_a_persons_passkeys_and_binds_what_it_named(
    app: Flask, vendor: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """Round 55: the office's removal went at one press; now it is asked, and the press
    is refused when it is not what was shown (400) or a passkey appeared (409)."""
    _with_passkeys(app, vendor, signed_in, "Phone", "Laptop")
    office = signed_in(app.test_client(), admin)
    url = f"/console/users/{vendor.id}/passkeys/remove"
    form = {"passkey": "all", "reason": "Bag lost"}
    asked = office.post(url, data=form)
    assert asked.status_code == 200
    assert "All 2 of their passkeys (Phone, Laptop) no longer sign" in _said(asked)
    assert passkey_names(vendor) == ["Phone", "Laptop"]
    shown = confirmation_carried(asked)
    confirming = {**form, "confirmed": "yes", "confirmation": shown}

    edited = office.post(url, data={**confirming, "reason": "Something else"})
    assert edited.status_code == 400
    assert "Not removed: the passkey or reason posted is not the one shown" in _said(edited)
    forged = office.post(url, data={**confirming, "confirmation": shown[:-2] + "xx"})
    assert forged.status_code == 400
    assert FORGED in _said(forged)
    other_admin = factories.make_staff(db.session(), roles=("admin",))
    assert ELSEWHERE in _said(signed_in(app.test_client(), other_admin).post(url, data=confirming))
    late = signed_in(app.test_client(), admin)  # its own session, which the wait may end
    with _later(16):
        assert STALE in _said(late.post(url, data=confirming))
    assert passkey_names(vendor) == ["Phone", "Laptop"]

    _with_passkeys(app, vendor, signed_in, "Tablet")  # meanwhile, signed in afresh
    assert passkey_names(vendor) == ["Phone", "Laptop", "Tablet"]
    appeared = office.post(url, data=confirming)
    assert appeared.status_code == 409
    assert "added the passkey Tablet after the removal was shown to confirm" in _said(appeared)
    assert passkey_names(vendor) == ["Phone", "Laptop", "Tablet"]

    again = office.post(url, data=form)
    assert "All 3 of their passkeys (Phone, Laptop, Tablet)" in _said(again)
    done = office.post(
        url, data={**form, "confirmed": "yes", "confirmation": confirmation_carried(again)}
    )
    assert done.status_code == 302
    assert passkey_names(vendor) == []
