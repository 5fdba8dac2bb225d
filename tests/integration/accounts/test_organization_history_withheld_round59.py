"""Round 59: the console's organization History (round 58) showed its members'
two-step and passkey steps with their values (a passkey's name, the browser
remembered, recovery codes left) and notes to licensing and billing staff, values only
the admins' audit log and user pages had shown. Those readers see the step and whom it
was about now, without its values or note; admins see them as before. The accounts
moved out of or into the organization were the newest 100 only: every one is paged
with the rest of the history, and an organization whose id begins with another's is
not taken for it."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.audit import services as audit
from tests.support import factories

SignIn = Callable[..., FlaskClient]


def _history(client: FlaskClient, organization_id: int, page: int = 1) -> str:
    found = client.get(
        f"/console/organizations/{organization_id}", query_string={"history_page": page}
    ).get_data(as_text=True)
    return found[found.index('id="history"') :]


def _security_steps(person: User) -> None:
    session = db.session()
    for action, before, after, note in [
        ("user.passkey_added", None, {"passkey": "Lena's YubiKey", "passkeys": 1}, None),
        ("user.browser_remembered", None, {"browser": "Firefox on Linux"}, None),
        (
            "user.passkey_refused",
            {"sign_count": 9},
            {"sign_count": 3},
            "Passkey Lena's YubiKey: its counter did not move on, as a copy's would not.",
        ),
        # Not a security step: its values stay for every reader.
        (
            "user.role_changed",
            {"organization_role": "member"},
            {"organization_role": "billing"},
            None,
        ),
    ]:
        audit.record(
            session,
            action=action,
            entity_type="user",
            entity_id=person.id,
            before=before,
            after=after,
            actor=person.email,
            actor_user_id=person.id,
            note=note,
        )
    session.commit()


def test_two_step_and_passkey_values_are_shown_to_admins_only(
    app: Flask,
    vendor: User,
    admin: User,
    licensing_staff: User,
    billing_staff: User,
    signed_in: SignIn,
) -> None:
    organization = vendor.organization
    lena = factories.make_vendor(
        db.session(), organization, full_name="Lena Sato", email="lena@tallowmere.example"
    )
    _security_steps(lena)
    for reader in (licensing_staff, billing_staff):
        history = _history(signed_in(app.test_client(), reader), organization.id)
        # The step and whom it was about are listed ...
        assert "User passkey added" in history
        assert "User browser remembered" in history
        assert "User passkey refused" in history
        assert "Lena Sato (lena@tallowmere.example)" in history
        # ... without its values or note.
        assert "YubiKey" not in history
        assert "Firefox on Linux" not in history
        assert "Sign count" not in history
        assert history.count("Shown to administrators") == 3
        assert "listed without their details, which administrators read" in history
        # Another step's values are every reader's.
        assert "organization role: member → billing member" in history
    history = _history(signed_in(app.test_client(), admin), organization.id)
    assert "Lena&#39;s YubiKey" in history
    assert "Firefox on Linux" in history
    assert "its counter did not move on" in history
    assert "Shown to administrators" not in history
    assert "listed without their details" not in history


def test_every_account_moved_out_is_paged_with_the_history_and_no_other_organizations(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    organization, joined = vendor.organization, other_vendor.organization
    session = db.session()
    people = []
    for _ in range(120):
        person = factories.make_vendor(session, joined, role="billing")
        audit.record(
            session,
            action="user.moved",
            entity_type="user",
            entity_id=person.id,
            before={"organization_id": organization.id, "organization_role": "member"},
            after={"organization_id": joined.id, "organization_role": "billing"},
            actor="admin@example.com",
        )
        people.append(person)
    # A move between organizations whose ids begin with this one's: not its history.
    stranger = factories.make_vendor(session, joined, full_name="Noor Haddad")
    audit.record(
        session,
        action="user.moved",
        entity_type="user",
        entity_id=stranger.id,
        before={"organization_id": int(f"{organization.id}7")},
        after={"organization_id": int(f"{organization.id}8")},
        actor="admin@example.com",
    )
    session.commit()
    console = signed_in(app.test_client(), admin)
    first = _history(console, organization.id)
    shown = re.search(r"Events 1\u201350 of (\d+)", first)
    assert shown is not None
    pages = -(-int(shown.group(1)) // 50)
    assert pages >= 3
    listed = "".join(_history(console, organization.id, page) for page in range(1, pages + 1))
    for person in people:
        assert f"{person.full_name} ({person.email})" in listed
    assert "Noor Haddad" not in listed
    # Each move listed once.
    assert listed.count("User moved") == 120
    assert db.session().get(Organization, organization.id) is not None
