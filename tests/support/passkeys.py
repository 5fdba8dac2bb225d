"""A software authenticator for the passkey ceremonies, built from `cryptography`:
it makes a real P-256 key pair and answers the service's options with what a
browser would post (clientDataJSON, a "none" attestation, signed assertions), so
the service's py_webauthn checks run on genuine bytes, not a mock of the library.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import encode_cbor

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One passkey, made by `register` for an origin, answering `sign_in` after."""

    origin: str
    rp_id: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    sign_count: int = 0
    user_handle: bytes = b""
    verifies_user: bool = True

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return encode_cbor(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _flags(self) -> int:
        return UP | (UV if self.verifies_user else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None = None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        ).encode()

    def _answer(self, client_data: bytes, **response: Any) -> str:
        """The credential as a browser's script posts it (JSON text)."""
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {"clientDataJSON": b64url(client_data), **response},
                "clientExtensionResults": {},
            }
        )

    def register(self, options: dict[str, Any], *, origin: str | None = None) -> str:
        """The browser's answer to the registration options, as JSON text."""
        self.user_handle = unb64url(options["user"]["id"])
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags() | AT])
            + struct.pack(">I", self.sign_count)
            + bytes(16)  # AAGUID: none
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return self._answer(
            client_data, attestationObject=b64url(attestation), transports=["internal"]
        )

    def sign_in(
        self,
        options: dict[str, Any],
        *,
        count_step: int = 1,
        origin: str | None = None,
        user_handle: bytes | None = None,
    ) -> str:
        """The browser's answer to the sign-in options, as JSON text; the counter
        moves on by `count_step` first (0 or less: a copy that fell behind)."""
        self.sign_count += count_step
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", max(self.sign_count, 0))
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = self.user_handle if user_handle is None else user_handle
        return self._answer(
            client_data,
            authenticatorData=b64url(auth_data),
            signature=b64url(signature),
            userHandle=b64url(handle),
        )


# --- the page flows, through a Flask test client ------------------------------------

ORIGIN = "http://testserver"  # the tests' PUBLIC_URL
RP_ID = "testserver"


def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID)


def add_passkey(client: Any, device: SoftAuthenticator, name: str = "Work laptop") -> Any:
    """The two-step page's *Add a passkey*, as its script does it (the client
    signed in less than 10 minutes ago); the answer to the form's POST."""
    options = client.post("/account/passkeys/options")
    assert options.status_code == 200, options.get_data(as_text=True)[:2000]
    credential = device.register(options.get_json())
    return client.post("/account/passkeys", data={"name": name, "credential": credential})


def sign_in_with_passkey(client: Any, device: SoftAuthenticator, **answer: Any) -> Any:
    """The sign-in page's *Sign in with a passkey*; the answer to its POST."""
    options = client.post("/sign-in/passkey/options")
    assert options.status_code == 200, options.get_data(as_text=True)[:2000]
    credential = device.sign_in(options.get_json(), **answer)
    return client.post("/sign-in/passkey", data={"credential": credential})


# --- in Chromium ----------------------------------------------------------------------


@dataclass
class LaptopAndPhone:
    """A person with two passkeys, "Laptop" and "Phone", and two browsers of theirs:
    one signed in with the laptop's passkey, one with the password (rounds 47, 49)."""

    laptop: SoftAuthenticator
    on_the_laptop: Any
    by_password: Any


def laptop_and_phone(app: Any, person: Any, signed_in: Any) -> LaptopAndPhone:
    """`person` adds a "Laptop" and a "Phone" passkey, then signs in twice: with the
    laptop's passkey, and with the password (`signed_in`, the fixture)."""
    laptop = authenticator()
    adding = signed_in(app.test_client(), person)
    assert add_passkey(adding, laptop, "Laptop").status_code == 302
    assert add_passkey(adding, authenticator(), "Phone").status_code == 302
    on_the_laptop = app.test_client()
    assert sign_in_with_passkey(on_the_laptop, laptop).status_code == 302
    return LaptopAndPhone(laptop, on_the_laptop, signed_in(app.test_client(), person))


def serve_on_localhost(live_server: Any) -> str:
    """The live server's base URL as `localhost`, made its PUBLIC_URL: a passkey needs
    a host name (an IP address is no relying party id)."""
    import dataclasses

    url = f"http://localhost:{live_server.port}"
    live_server.app.config["LICENSING"] = dataclasses.replace(
        live_server.app.config["LICENSING"], public_url=url
    )
    return url


def virtual_authenticator(page: Any) -> tuple[Any, str]:
    """DevTools' virtual authenticator on `page` (CTAP2, internal transport, resident
    keys, user verification that succeeds), standing in for a laptop's: the DevTools
    session and the authenticator's id."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable", {"enableUI": False})
    added = devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return devtools, added["authenticatorId"]
