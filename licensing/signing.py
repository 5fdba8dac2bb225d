"""Signed tokens in emailed links: the one port through which use cases use
`SECRET_KEY`.

A permission request's status link and an invoice's link for its billing contact
carry an HMAC of the record under the app's secret, so the database alone (which
keeps at most a digest) cannot produce a working link, and rotating the key
invalidates old links. The use cases ask `signer().token(message)` for it and
never read the secret themselves; the app installs a `Signer` over
`Config.secret_key` at start-up (`init_app`), and a test may install another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import Flask, current_app

EXTENSION = "licensing.signer"


class Signer:
    """HMAC-SHA256 of a message under one secret, as unpadded URL-safe base64."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a signer needs a secret")
        self._key = secret.encode("utf-8")

    def token(self, message: str) -> str:
        mac = hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def install(app: Flask, signer: Signer) -> None:
    """Make `signer` the app's port for signed link tokens."""
    app.extensions[EXTENSION] = signer


def init_app(app: Flask) -> None:
    install(app, Signer(app.config["LICENSING"].secret_key))


def signer() -> Signer:
    """The current app's signer."""
    port: Signer = current_app.extensions[EXTENSION]
    return port
