"""The links port without the app or a database: a bare Flask app with another adapter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from licensing import links, signing
from licensing.billing import links as invoice_links
from licensing.billing.models import Invoice


class RecordingLinks:
    """Links on another host, for the two invoice links the billing contact gets."""

    def invoice(self, invoice_id: int, token: str) -> str:
        return f"https://pay.example.test/i/{invoice_id}/{token}"

    def invoice_pdf(self, invoice_id: int, token: str) -> str:
        return f"https://pay.example.test/i/{invoice_id}/{token}.pdf"


@pytest.fixture
def bare_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    # No database here: the invoice's links have never been withdrawn.
    monkeypatch.setattr(invoice_links, "current_generation", lambda _invoice: 0)
    app = Flask("links-test")
    signing.install(app, signing.Signer("unit-test-key"))
    links.install(app, RecordingLinks())  # type: ignore[arg-type]  # two methods suffice here
    with app.app_context():
        yield app


def test_the_invoice_links_come_from_whatever_adapter_the_app_holds(bare_app: Flask) -> None:
    invoice = Invoice(id=41, number="INV-2027-000041")

    page = invoice_links.invoice_url(invoice)
    pdf = invoice_links.pdf_url(invoice)

    token = invoice_links.token(invoice)
    assert page == f"https://pay.example.test/i/41/{token}"
    assert pdf == f"https://pay.example.test/i/41/{token}.pdf"
