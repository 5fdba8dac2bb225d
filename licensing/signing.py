"""Signed tokens in emailed links: the one port through which use cases use
`SECRET_KEY`.

A permission request's status link and an invoice's link for its billing contact
carry an HMAC of the record under the app's secret, so the database alone (which
keeps at most a digest) cannot produce a working link. Rotating the key
invalidates old links unless the old key is kept in `SECRET_KEY_FALLBACKS`:
links are made under the current key and accepted under any of them. The use
cases ask `signer().token(message)` for it and never read the secret themselves;
the app installs a `Signer` over `Config.secret_key` and its fallbacks at start-up
(`init_app`), and a test may install another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from flask import Flask, current_app
from itsdangerous import URLSafeSerializer

EXTENSION = "licensing.signer"


class Signer:
    """HMAC-SHA256 of a message under one secret, as unpadded URL-safe base64;
    tokens made under former secrets (`fallbacks`) are still recognised."""

    def __init__(self, secret: str, fallbacks: Sequence[str] = ()) -> None:
        if not secret:
            raise ValueError("a signer needs a secret")
        self._keys = tuple(key.encode("utf-8") for key in (secret, *fallbacks) if key)

    def token(self, message: str) -> str:
        """The token under the current secret: what new links carry."""
        return self._token(self._keys[0], message)

    def tokens(self, message: str) -> tuple[str, ...]:
        """The token under each secret, the current one first."""
        return tuple(self._token(key, message) for key in self._keys)

    def serializer(self, salt: str) -> URLSafeSerializer:
        """A signed-value serializer (itsdangerous, as Flask's session uses) under the
        same secrets, for values a page hands out and takes back (round 54: a credit
        note's confirmation): made under the current secret, read under any; `salt`
        names what the value is for, so one kind never passes for another."""
        # itsdangerous signs with the last key and verifies with each.
        keys = [key.decode("utf-8") for key in reversed(self._keys)]
        return URLSafeSerializer(keys, salt=salt)

    def matches(self, message: str, raw: str) -> bool:
        """Whether `raw` is the token of `message` under any of the secrets."""
        return any(hmac.compare_digest(token, raw) for token in self.tokens(message))

    @staticmethod
    def _token(key: bytes, message: str) -> str:
        mac = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def install(app: Flask, signer: Signer) -> None:
    """Make `signer` the app's port for signed link tokens."""
    app.extensions[EXTENSION] = signer


def init_app(app: Flask) -> None:
    config = app.config["LICENSING"]
    install(app, Signer(config.secret_key, config.secret_key_fallbacks))


def signer() -> Signer:
    """The current app's signer."""
    port: Signer = current_app.extensions[EXTENSION]
    return port
