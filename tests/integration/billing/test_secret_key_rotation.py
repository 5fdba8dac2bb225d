"""Rotating SECRET_KEY with the former key kept in SECRET_KEY_FALLBACKS (round 13):
the invoice links already emailed keep working, and new links use the new key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import signing
from licensing.billing import links
from licensing.billing.models import Invoice
from licensing.signing import Signer

FORMER = "the-former-secret-key-" + "f" * 20
NEW = "the-new-secret-key-" + "n" * 20


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_an_emailed_invoice_link_outlives_a_rotation_with_the_old_key_kept(
    app: Flask, client: FlaskClient, invoice_for: Callable[..., Invoice], vendor: Any
) -> None:
    signing.install(app, Signer(FORMER))
    invoice = invoice_for(vendor)
    emailed = _path(links.invoice_url(invoice))
    assert client.get(emailed).status_code == 200

    signing.install(app, Signer(NEW, [FORMER]))
    assert client.get(emailed).status_code == 200
    assert client.get(f"{emailed}/invoice.pdf").status_code == 200
    fresh = _path(links.invoice_url(invoice))
    assert fresh != emailed  # new emails carry the new key's link
    assert client.get(fresh).status_code == 200

    signing.install(app, Signer(NEW))  # the former key dropped: its links end
    assert client.get(emailed).status_code == 404
    assert client.get(fresh).status_code == 200
