"""Round 44: a staff member of an office that requires two-step sign-in adds a
passkey on the set-up page, signs out, and signs in with it alone (no password,
no code); a passkey removed, or one the service never saw, is refused.

Chromium's virtual authenticator (DevTools' WebAuthn domain: CTAP2, internal
transport, resident keys, user verification that succeeds) stands in for a
laptop's platform authenticator, so the browser runs the real ceremony with the
page's script. Passkeys need a host name, not an address (an IP address is no
relying party id), so the tab opens the server as `localhost`, which is also the
service's PUBLIC_URL here."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from licensing import db
from tests.support import factories
from tests.support.passkeys import serve_on_localhost, virtual_authenticator
from tests.support.servers import LiveServer


@pytest.fixture
def browser_config_changes() -> dict[str, Any]:
    return {"two_step_required_for_staff": True}


def _use_a_passkey(page: Any, base: str, lands: str) -> None:
    """*Use a passkey* on the sign-in page; the script asks for the options, the
    authenticator answers, and the form is posted: the page `lands` on then."""
    page.goto(f"{base}/sign-in")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(lands)


def _sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_load_state()


def test_staff_add_a_passkey_sign_out_and_sign_in_with_it_alone(
    page: Any, live_server: LiveServer
) -> None:
    base = serve_on_localhost(live_server)
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("licensing",))
        email = staff.email
    devtools, authenticator = virtual_authenticator(page)

    page.goto(f"{base}/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/account/two-step/")
    page.get_by_label("Name of the passkey").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    # The script asks for the options, the authenticator makes the passkey, the form posts.
    page.get_by_text("Passkey Test laptop added").wait_for()
    (held,) = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})[
        "credentials"
    ]
    assert held["isResidentCredential"]
    assert held["rpId"] == "localhost"
    # The passkey met the office's requirement for this session.
    page.goto(f"{base}/console/")
    assert page.url.endswith("/console/")
    _sign_out(page)

    _use_a_passkey(page, base, "**/console/")
    assert f"Signed in with your passkey as {email}" in page.inner_text("main")
    page.goto(f"{base}/account/two-step/")
    row = page.get_by_role("row").filter(has_text="Test laptop")
    assert "Not yet" not in row.inner_text()

    page.get_by_role("button", name="Remove passkey Test laptop").click()
    page.wait_for_load_state()
    assert "Passkey Test laptop removed" in page.inner_text("main")
    _sign_out(page)

    # The removed passkey is still on the laptop: the service refuses it.
    _use_a_passkey(page, base, "**/sign-in/passkey")
    assert "That passkey is not one this service knows" in page.inner_text("main")
    page.goto(f"{base}/console/")
    assert "/sign-in" in page.url

    # A passkey for this host the service never registered is refused alike.
    devtools.send("WebAuthn.clearCredentials", {"authenticatorId": authenticator})
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    devtools.send(
        "WebAuthn.addCredential",
        {
            "authenticatorId": authenticator,
            "credential": {
                "credentialId": base64.b64encode(os.urandom(16)).decode(),
                "isResidentCredential": True,
                "rpId": "localhost",
                "privateKey": base64.b64encode(key).decode(),
                "userHandle": base64.b64encode(b"user-1").decode(),
                "signCount": 0,
            },
        },
    )
    _use_a_passkey(page, base, "**/sign-in/passkey")
    assert "That passkey is not one this service knows" in page.inner_text("main")
    page.goto(f"{base}/console/")
    assert "/sign-in" in page.url
