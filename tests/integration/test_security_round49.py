"""Round 49: a security review of what rounds 39-48 added (docs/security.md,
"Round 49: what rounds 39-48 added, reviewed"). Each fix's test fails without it;
the others pin what was checked and found right, so the next review knows."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts.models import User
from tests.support import factories
from tests.support.passkey_records import passkey_id, passkey_names
from tests.support.passkeys import add_passkey, authenticator

SignIn = Callable[..., FlaskClient]


def test_a_passkey_id_with_a_fraction_names_no_passkey_and_removes_none(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    """An id is a whole number: marshmallow's int() cut `"passkey_id": 2.9` to 2 and
    the admin's typo removed passkey 2, ending every session of the account. Each
    `record_id` field of the API read so (an organization, an invoice, an assignee)."""
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, authenticator(), "Phone").status_code == 302
    assert add_passkey(owner, authenticator(), "Laptop").status_code == 302
    phone = passkey_id(vendor, "Phone")
    client, token = app.test_client(), factories.bearer(admin)
    url = f"/api/v1/users/{vendor.id}/remove-passkeys"
    for typed in (f"{phone}.9", f"{phone}.5e0", f"{phone}1e-1"):
        answer = client.post(
            url,
            data=f'{{"reason": "Phone lost", "passkey_id": {typed}}}',
            headers={**token, "Content-Type": "application/json"},
        )
        assert answer.status_code == 422, (typed, answer.get_json())
        assert answer.get_json()["errors"] == {"passkey_id": ["Not a valid integer."]}
    assert passkey_names(vendor) == ["Phone", "Laptop"]
    # The same number written with a point is that number.
    answer = client.post(
        url,
        data=f'{{"reason": "Phone lost", "passkey_id": {phone}.0}}',
        headers={**token, "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.get_json()
    assert passkey_names(vendor) == ["Laptop"]
