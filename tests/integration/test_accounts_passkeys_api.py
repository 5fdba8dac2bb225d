"""Passkeys through the API (round 47): a person lists and removes their own; an
admin lists and removes another person's with a reason, as the console and
`licensing users remove-passkeys` do (the same service, audit and email). Adding
one stays a browser ceremony (the two-step page). Real ceremonies, as in
`test_accounts_passkeys.py`; the API with real tokens (`factories.bearer`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import ApiToken, Passkey, User
from tests.support import factories
from tests.support.checkout import this_checkout
from tests.support.passkey_records import (
    emails_to,
    passkey_id,
    passkey_names,
    still_signed_in,
)
from tests.support.passkeys import add_passkey, authenticator, sign_in_with_passkey
from tests.support.two_step import events_of

SignIn = Callable[..., FlaskClient]
PROBLEM = "application/problem+json"


def _without_webauthn(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import webauthn` (and its submodules) fails from here on, after the test's
    ceremonies: a step that imported a ceremony's module would fail. Listing and
    removing never need py_webauthn."""
    monkeypatch.setitem(sys.modules, "webauthn", None)


def test_a_person_lists_and_removes_their_own_passkeys_through_the_api(
    app: Flask,
    vendor: User,
    other_vendor: User,
    signed_in: SignIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    phone, laptop = authenticator(), authenticator()
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, phone, "Phone").status_code == 302
    assert add_passkey(owner, laptop, "Laptop").status_code == 302
    on_the_laptop = app.test_client()
    assert sign_in_with_passkey(on_the_laptop, laptop).status_code == 302
    theirs = signed_in(app.test_client(), other_vendor)
    assert add_passkey(theirs, authenticator(), "Tablet").status_code == 302
    by_password = signed_in(app.test_client(), vendor)
    _without_webauthn(monkeypatch)
    client, token = app.test_client(), factories.bearer(vendor)

    listed = client.get("/api/v1/me/passkeys", headers=token)

    assert listed.status_code == 200, listed.get_json()
    items = listed.get_json()
    assert [item["name"] for item in items] == ["Phone", "Laptop"]
    assert all(set(item) == {"id", "name", "created_at", "last_used_at"} for item in items)
    assert items[0]["last_used_at"] is None
    assert items[1]["last_used_at"] is not None
    stored = db.session().scalars(select(Passkey).where(Passkey.user_id == vendor.id)).all()
    text = listed.get_data(as_text=True)
    for passkey in stored:  # neither the credential's id nor its key, in any form
        assert passkey.credential_id not in text
        assert passkey.credential_id[:12] not in text
        assert passkey.public_key.hex()[:16] not in text

    someone_elses = client.delete(
        f"/api/v1/me/passkeys/{passkey_id(other_vendor, 'Tablet')}", headers=token
    )
    assert someone_elses.status_code == 404
    assert someone_elses.content_type == PROBLEM
    assert passkey_names(other_vendor) == ["Tablet"]

    removed = client.delete(f"/api/v1/me/passkeys/{passkey_id(vendor, 'Laptop')}", headers=token)

    assert removed.status_code == 204
    assert passkey_names(vendor) == ["Phone"]
    (event,) = events_of(vendor, "user.passkey_removed")
    assert json.loads(event.before) == {"passkey": "Laptop"}
    assert event.actor_user_id == vendor.id
    (email,) = emails_to(vendor, "passkey_removed")
    assert 'The passkey named "Laptop" was removed' in email.body_text
    assert not still_signed_in(on_the_laptop)  # it rested on the laptop's passkey
    assert still_signed_in(by_password)  # a password session
    again = client.delete(
        f"/api/v1/me/passkeys/{passkey_id(vendor, 'Phone') + 1000}", headers=token
    )
    assert again.status_code == 404
    # Another vendor sees their own only.
    other = client.get("/api/v1/me/passkeys", headers=factories.bearer(other_vendor))
    assert [item["name"] for item in other.get_json()] == ["Tablet"]


def test_a_removal_with_a_token_alone_names_the_token_to_the_owner_and_in_the_audit_log(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    """Round 50: the API's own removal needs the token alone (round 47's decision,
    kept); its owner was emailed "reset your password now, which signs every session
    out", which leaves a leaked token working. The email and the audit note name the
    token, and the email says to revoke it on the API tokens page first."""
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, authenticator(), "Phone").status_code == 302
    assert add_passkey(owner, authenticator(), "Laptop").status_code == 302
    token = factories.bearer(vendor, name="finance sync")
    stored = db.session().scalars(select(ApiToken).where(ApiToken.user_id == vendor.id)).one()

    removed = app.test_client().delete(
        f"/api/v1/me/passkeys/{passkey_id(vendor, 'Laptop')}", headers=token
    )

    assert removed.status_code == 204
    (event,) = events_of(vendor, "user.passkey_removed")
    assert event.actor == vendor.email
    assert json.loads(event.before) == {"passkey": "Laptop"}
    assert json.loads(event.after) == {"passkeys": 1}
    assert (
        event.note == f"Removed through the API with the token “finance sync” ({stored.prefix}…)."
    )
    (email,) = emails_to(vendor, "passkey_removed")
    text = " ".join(email.body_text.split())
    assert 'The passkey named "Laptop" was removed' in text
    assert (
        f'It was removed through the API with your API token "finance sync" ({stored.prefix}...).'
        in text
    )
    assert "revoke it now on your API tokens page (a new password does not stop a token)" in text
    assert "/account/tokens" in text
    assert "which signs every session out" not in text

    # The page's removal (with the recent password) is told as before, no token named.
    by_password = signed_in(app.test_client(), vendor)
    gone = by_password.post(f"/account/passkeys/{passkey_id(vendor, 'Phone')}/remove")
    assert gone.status_code == 302
    page_email = [m for m in emails_to(vendor, "passkey_removed") if m.id != email.id]
    assert len(page_email) == 1
    page_text = " ".join(page_email[0].body_text.split())
    assert "someone was signed in as you: reset your password now" in page_text
    assert "API token" not in page_text
    notes = {each.note for each in events_of(vendor, "user.passkey_removed")}
    assert notes == {event.note, None}


def test_an_admin_removes_a_persons_passkey_through_the_api_as_the_console_does(
    app: Flask, vendor: User, admin: User, signed_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone, laptop = authenticator(), authenticator()
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, phone, "Phone").status_code == 302
    assert add_passkey(owner, laptop, "Laptop").status_code == 302
    _without_webauthn(monkeypatch)
    client, office = app.test_client(), factories.bearer(admin)
    path = f"/api/v1/users/{vendor.id}/remove-passkeys"

    listed = client.get(f"/api/v1/users/{vendor.id}/passkeys", headers=office)
    assert listed.status_code == 200
    assert [item["name"] for item in listed.get_json()] == ["Phone", "Laptop"]

    no_reason = client.post(path, headers=office, json={"reason": "   "})
    assert no_reason.status_code == 422
    assert no_reason.content_type == PROBLEM
    assert "reason" in no_reason.get_json()["errors"]
    missing = client.post(path, headers=office, json={})
    assert missing.status_code == 422
    assert "reason" in missing.get_json()["errors"]
    not_theirs = client.post(path, headers=office, json={"reason": "x", "passkey_id": 987654})
    assert not_theirs.status_code == 404
    assert not_theirs.content_type == PROBLEM
    nobody = client.post(
        "/api/v1/users/987654/remove-passkeys", headers=office, json={"reason": "x"}
    )
    assert nobody.status_code == 404
    assert client.get("/api/v1/users/987654/passkeys", headers=office).status_code == 404
    assert passkey_names(vendor) == ["Phone", "Laptop"]
    assert emails_to(vendor, "passkeys_removed_by_office") == []

    done = client.post(
        path,
        headers=office,
        json={"reason": "Phone stolen; called back", "passkey_id": passkey_id(vendor, "Phone")},
    )

    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["user"]["id"] == vendor.id
    assert body["passkeys_removed"] == ["Phone"]
    assert body["sessions_ended"] is True
    assert body["recipients"] == [
        {"email": vendor.email, "audience": "person", "organization_id": vendor.organization_id}
    ]
    assert body["summary"] == (
        f"Removed Phone of {vendor.email} and signed them out everywhere; emailed {vendor.email}."
    )
    assert passkey_names(vendor) == ["Laptop"]
    # The console's audit and email, exactly.
    (event,) = events_of(vendor, "user.passkey_removed")
    assert json.loads(event.before) == {"passkeys": ["Phone"]}
    assert json.loads(event.after) == {"passkeys": 1, "emailed": True}
    assert event.note == "Phone stolen; called back"
    assert event.actor_user_id == admin.id
    (email,) = emails_to(vendor, "passkeys_removed_by_office")
    assert 'The licensing office removed the passkey named "Phone"' in email.body_text
    assert not still_signed_in(owner)  # every session, as on the console

    rest = client.post(path, headers=office, json={"reason": "Bag lost"})
    assert rest.status_code == 200
    assert rest.get_json()["passkeys_removed"] == ["Laptop"]
    none_left = client.post(path, headers=office, json={"reason": "again"})
    assert none_left.status_code == 409
    assert none_left.content_type == PROBLEM
    assert "has no passkey" in none_left.get_json()["detail"]
    assert len(emails_to(vendor, "passkeys_removed_by_office")) == 2


def test_a_removal_retried_with_its_idempotency_key_gets_the_first_answer(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    """Without the key, a retry after a lost answer is a 409 (none left): with it, the
    first answer again, nothing removed or emailed twice."""
    assert add_passkey(signed_in(app.test_client(), vendor), authenticator(), "Phone")
    office = {**factories.bearer(admin), "Idempotency-Key": "stolen-phone-1"}
    path = f"/api/v1/users/{vendor.id}/remove-passkeys"
    first = app.test_client().post(path, headers=office, json={"reason": "Phone stolen"})
    assert first.status_code == 200

    retry = app.test_client().post(path, headers=office, json={"reason": "Phone stolen"})

    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == first.get_json()
    assert len(events_of(vendor, "user.passkey_removed")) == 1
    assert len(emails_to(vendor, "passkeys_removed_by_office")) == 1


def test_only_an_admin_reaches_another_persons_passkeys_through_the_api(
    app: Flask, vendor: User, licensing_staff: User, signed_in: SignIn
) -> None:
    colleague = factories.make_vendor(db.session(), vendor.organization)
    assert add_passkey(signed_in(app.test_client(), colleague), authenticator(), "Phone")
    client = app.test_client()
    # `vendor` administers the colleague's organization: still the office's step here.
    for caller in (vendor, colleague, licensing_staff):
        token = factories.bearer(caller)
        listed = client.get(f"/api/v1/users/{colleague.id}/passkeys", headers=token)
        assert listed.status_code == 403, caller.email
        assert listed.content_type == PROBLEM
        removed = client.post(
            f"/api/v1/users/{colleague.id}/remove-passkeys", headers=token, json={"reason": "x"}
        )
        assert removed.status_code == 403, caller.email
    # Nor through their own routes: `/me` is the caller's.
    refused = client.delete(
        f"/api/v1/me/passkeys/{passkey_id(colleague, 'Phone')}", headers=factories.bearer(vendor)
    )
    assert refused.status_code == 404
    assert passkey_names(colleague) == ["Phone"]
    assert events_of(colleague, "user.passkey_removed") == []


def test_an_admin_removing_their_own_through_the_api_is_not_emailed_as_by_the_office(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    assert add_passkey(signed_in(app.test_client(), admin), authenticator(), "Phone")
    answer = app.test_client().post(
        f"/api/v1/users/{admin.id}/remove-passkeys",
        headers=factories.bearer(admin),
        json={"reason": "Replacing my phone"},
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["recipients"] == []
    assert answer.get_json()["summary"].endswith(
        f"emailed nobody: {admin.email} is your own account."
    )
    assert emails_to(admin, "passkeys_removed_by_office") == []


def test_the_api_document_lists_the_passkey_routes_their_errors_and_no_way_to_add_one(
    client: FlaskClient,
) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]

    assert set(paths["/api/v1/me/passkeys"]["get"]["responses"]) >= {"200", "401"}
    mine = paths["/api/v1/me/passkeys/{passkey_id}"]
    assert set(mine) - {"parameters"} == {"delete"}
    assert set(mine["delete"]["responses"]) >= {"204", "401", "404"}
    theirs = paths["/api/v1/users/{user_id}/passkeys"]
    assert set(theirs) - {"parameters"} == {"get"}  # no POST: added in a browser only
    assert set(theirs["get"]["responses"]) >= {"200", "401", "403", "404"}
    remove = paths["/api/v1/users/{user_id}/remove-passkeys"]["post"]
    assert set(remove["responses"]) >= {"200", "401", "403", "404", "409", "422"}
    assert remove["responses"]["409"]["content"].keys() == {PROBLEM}
    assert "reason" in remove["requestBody"]["content"]["application/json"]["schema"]["$ref"] or (
        "PasskeyRemoval" in json.dumps(remove["requestBody"])
    )
    item = document["components"]["schemas"]["Passkey"]["properties"]
    assert set(item) == {"id", "name", "created_at", "last_used_at"}


def test_building_the_app_imports_no_webauthn(tmp_path: object) -> None:
    """The app (and with it the API's passkey routes) is built without py_webauthn:
    it is imported where a ceremony runs (round 46)."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from licensing.app import create_app; create_app(); "
            "import licensing.api.accounts; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'webauthn'))",
        ],
        env=this_checkout(
            DATABASE_URL=f"sqlite:///{tmp_path}/app.sqlite",
            SECRET_KEY="s" * 64,
            AUDIT_HMAC_KEY="a" * 64,
        ),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"
