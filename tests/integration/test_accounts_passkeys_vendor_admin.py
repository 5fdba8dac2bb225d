"""A vendor organization's administrator removes a member's passkeys (round 47): on
the Organization page, for a member of their own organization only, after a
confirmation and with a reason; the member is emailed, the removal audited, and a
browser signed in with the removed passkey signed out (as round 45's owner's removal
does). Real ceremonies, as in `test_accounts_passkeys.py`."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.access import BILLING
from licensing.accounts.models import User
from tests.support import factories
from tests.support.pages import confirmation_carried
from tests.support.passkey_records import (
    emails_to,
    passkey_id,
    passkey_names,
    still_signed_in,
)
from tests.support.passkeys import (
    add_passkey,
    authenticator,
    laptop_and_phone,
    sign_in_with_passkey,
)
from tests.support.two_step import events_of

SignIn = Callable[..., FlaskClient]


def _page(response: Any) -> str:
    return " ".join(html.unescape(response.get_data(as_text=True)).split())


@pytest.fixture
def member(app: Flask, vendor: User) -> User:
    """A member of `vendor`'s organization (`vendor` administers it)."""
    return factories.make_vendor(db.session(), vendor.organization, full_name="Noor Haddad")


def test_an_administrator_removes_a_members_passkey_after_a_confirmation_with_a_reason(
    app: Flask, vendor: User, member: User, signed_in: SignIn
) -> None:
    devices = laptop_and_phone(app, member, signed_in)
    laptop, on_the_laptop, by_password = devices.laptop, devices.on_the_laptop, devices.by_password
    administrator = signed_in(app.test_client(), vendor)
    members = _page(administrator.get("/organization"))
    assert 'aria-label="Remove passkeys: Noor Haddad"' in members
    assert f"/organization/members/{member.id}/passkeys" in members
    listed = _page(administrator.get(f"/organization/members/{member.id}/passkeys"))
    assert "Noor Haddad's passkeys" in listed
    assert "Laptop" in listed
    assert "Phone" in listed
    assert '<option value="all">All of them</option>' in listed
    path = f"/organization/members/{member.id}/passkeys/remove"
    chosen = {"passkey": str(passkey_id(member, "Laptop"))}

    no_reason = administrator.post(path, data={**chosen, "reason": " "})
    assert no_reason.status_code == 422
    assert "This field is required" in _page(no_reason) or "Say why" in _page(no_reason)
    asked = administrator.post(path, data={**chosen, "reason": "Laptop left on a train"})
    assert asked.status_code == 200
    question = _page(asked)
    assert "Remove Noor Haddad's passkeys?" in question
    assert f"The passkey Laptop no longer signs Noor Haddad ({member.email}) in" in question
    assert "“Laptop left on a train”" in question
    assert 'name="confirmed" value="yes"' in question
    assert passkey_names(member) == ["Laptop", "Phone"]  # nothing yet

    done = administrator.post(
        path,
        data={
            **chosen,
            "reason": "Laptop left on a train",
            "confirmed": "yes",
            "confirmation": confirmation_carried(asked),
        },
    )

    assert done.status_code == 302
    assert done.headers["Location"].endswith("/organization#members")
    assert passkey_names(member) == ["Phone"]
    said = _page(administrator.get("/organization"))
    assert "Removed the passkey Laptop of Noor Haddad" in said
    assert f"We emailed them at {member.email}" in said
    (event,) = events_of(member, "user.passkey_removed")
    assert json.loads(event.before) == {"passkeys": ["Laptop"]}
    assert json.loads(event.after) == {"passkeys": 1, "emailed": True}
    assert event.note == "Laptop left on a train"
    assert event.actor_user_id == vendor.id
    (email,) = emails_to(member, "passkeys_removed_by_administrator")
    assert email.subject == f"{vendor.full_name} removed passkeys from your account"
    body = " ".join(email.body_text.split())
    assert f"{vendor.full_name} ({vendor.email}), an administrator of" in body
    assert 'removed the passkey named "Laptop"' in body
    assert "Reason given: Laptop left on a train" in body
    # The laptop's session rested on the passkey: it ends. A password session stays.
    assert not still_signed_in(on_the_laptop)
    assert still_signed_in(by_password)
    refused = sign_in_with_passkey(app.test_client(), laptop)
    assert "That passkey is not one this service knows" in _page(refused)


def test_an_administrator_removes_all_of_a_members_passkeys(
    app: Flask, vendor: User, member: User, signed_in: SignIn
) -> None:
    adding = signed_in(app.test_client(), member)
    assert add_passkey(adding, authenticator(), "Laptop").status_code == 302
    assert add_passkey(adding, authenticator(), "Phone").status_code == 302
    administrator = signed_in(app.test_client(), vendor)
    path = f"/organization/members/{member.id}/passkeys/remove"
    asking = administrator.post(path, data={"passkey": "all", "reason": "Bag stolen"})
    assert "All 2 of their passkeys (Laptop, Phone) no longer sign" in _page(asking)

    done = administrator.post(
        path,
        data={
            "passkey": "all",
            "reason": "Bag stolen",
            "confirmed": "yes",
            "confirmation": confirmation_carried(asking),
        },
    )

    assert done.status_code == 302
    assert passkey_names(member) == []
    (email,) = emails_to(member, "passkeys_removed_by_administrator")
    assert '2 passkeys ("Laptop", "Phone")' in email.body_text
    assert not still_signed_in(adding)  # it rested on the passkey it added last
    again = administrator.post(path, data={"passkey": "all", "reason": "again"})
    assert again.status_code == 302
    assert "has no passkey: nothing was removed" in _page(administrator.get(again.location))
    members = _page(administrator.get("/organization"))
    assert "Remove passkeys: Noor Haddad" not in members  # none left: not offered


def test_removing_all_after_the_member_added_a_passkey_is_refused_naming_it(
    app: Flask, vendor: User, member: User, signed_in: SignIn
) -> None:
    # Round 54: the confirmation named Laptop and Phone; the member added Tablet before
    # the press, and "all" removed it too, unnamed, though the email named it.
    adding = signed_in(app.test_client(), member)
    assert add_passkey(adding, authenticator(), "Laptop").status_code == 302
    assert add_passkey(adding, authenticator(), "Phone").status_code == 302
    administrator = signed_in(app.test_client(), vendor)
    path = f"/organization/members/{member.id}/passkeys/remove"
    form = {"passkey": "all", "reason": "Bag stolen"}
    shown = confirmation_carried(administrator.post(path, data=form))
    assert add_passkey(adding, authenticator(), "Tablet").status_code == 302

    refused = administrator.post(path, data={**form, "confirmed": "yes", "confirmation": shown})

    assert refused.status_code == 409
    said = _page(refused)
    assert (
        "Not removed: Noor Haddad added the passkey Tablet after the removal was shown to "
        "confirm. Nothing was removed"
    ) in said
    assert "Tablet" in said  # the page lists it among theirs
    assert passkey_names(member) == ["Laptop", "Phone", "Tablet"]
    assert events_of(member, "user.passkey_removed") == []
    assert emails_to(member, "passkeys_removed_by_administrator") == []
    # A confirming post that carries no confirmation is refused as not what was shown
    # (round 55: 400; it was a 409 when the passkeys named came in plain text).
    unnamed = administrator.post(path, data={**form, "confirmed": "yes"})
    assert unnamed.status_code == 400
    assert "Not removed: the confirmation of what was shown is missing" in _page(unnamed)
    assert passkey_names(member) == ["Laptop", "Phone", "Tablet"]


def test_only_an_administrator_of_the_members_own_organization_removes_them(
    app: Flask, vendor: User, member: User, other_vendor: User, signed_in: SignIn
) -> None:
    assert add_passkey(signed_in(app.test_client(), member), authenticator(), "Laptop")
    assert add_passkey(signed_in(app.test_client(), vendor), authenticator(), "Mine")
    colleague = factories.make_vendor(db.session(), vendor.organization)
    clerk = factories.make_vendor(db.session(), vendor.organization, role=BILLING)
    page = f"/organization/members/{member.id}/passkeys"
    form = {"passkey": "all", "reason": "asked"}

    stranger = signed_in(app.test_client(), other_vendor)  # another organization's admin
    assert stranger.get(page).status_code == 404
    assert stranger.post(page + "/remove", data=form).status_code == 404
    for who in (colleague, clerk):  # a member, a billing member: not administrators
        client = signed_in(app.test_client(), who)
        assert client.get(page).status_code == 403
        assert client.post(page + "/remove", data=form).status_code == 403
        assert "Remove passkeys:" not in _page(client.get("/organization"))
    administrator = signed_in(app.test_client(), vendor)
    # Their own: the two-step page, which asks for the password.
    own = administrator.get(f"/organization/members/{vendor.id}/passkeys")
    assert own.status_code == 302
    assert "/account/two-step" in own.location
    refused = administrator.post(f"/organization/members/{vendor.id}/passkeys/remove", data=form)
    assert refused.status_code == 302
    assert "Your own passkeys are removed on your two-step sign-in page" in _page(
        administrator.get(refused.location, follow_redirects=True)
    )
    # Another person's passkey, named on the member's form: not theirs.
    mine = {**form, "passkey": str(passkey_id(vendor, "Mine"))}
    wrong = administrator.post(page + "/remove", data=mine)
    assert wrong.status_code == 302
    assert "is not one of" in _page(administrator.get(wrong.location))
    assert passkey_names(member) == ["Laptop"]
    assert passkey_names(vendor) == ["Mine"]
    assert events_of(member, "user.passkey_removed") == []
    assert "Remove passkeys: " + vendor.full_name not in _page(administrator.get("/organization"))
