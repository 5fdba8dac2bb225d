"""An organization's name ending in a full stop ("Example Inc.") ends a sentence of
an email once: every template where a name ends the sentence writes it through the
`end_sentence` filter, the one rule pages and messages use (round 35)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from jinja2 import UndefinedError

from licensing.mail import services as mail

EMAILS = Path(__file__).parents[2] / "templates" / "emails"
NAME = "Example Inc."


def _context() -> dict[str, object]:
    """What the templates read, every organization named `NAME`: the values the
    templates name and this leaves out render empty, which no sentence end needs."""
    organization = SimpleNamespace(
        legal_name=NAME,
        billing_contact_name="Bea Payne",
        billing_email="billing@example.com",
        two_step_required=True,
    )
    user = SimpleNamespace(
        full_name="Ana Ruiz", email="ana@example.com", is_active=True, two_step_enabled=False
    )
    return {
        "organization": organization,
        "joined": organization,
        "left": organization,
        "user": user,
        "payer_left": True,
        "old_email": "old@example.com",
        "colleague": "Ben Ode (ben@example.com)",
        "payment": SimpleNamespace(method="card", card_label="Visa 4242", reference=None),
        "invoice": SimpleNamespace(number="INV-1", state="paid"),
        "agreement": SimpleNamespace(number="LA-1", organization=organization),
        "application": SimpleNamespace(reference="APP-1", organization=organization),
        "expires_at": datetime(2027, 1, 1, tzinfo=UTC),
        "headline": "approved",
    }


@pytest.mark.parametrize(
    "template",
    ["invoice_link_renewed", "payment_received", "access_restored", "application_update"],
)
def test_a_name_ending_in_a_full_stop_ends_the_sentence_once(app: Flask, template: str) -> None:
    with app.test_request_context():
        text, _html = mail._render(template, _context())

    assert NAME in text
    assert "Inc.." not in text


def _rendered(template: str) -> str | None:
    """The template's text for `_context()`, or None where it needs a value not given."""
    try:
        text, _html = mail._render(template, _context())
    except (AttributeError, TypeError, ValueError, KeyError, UndefinedError):
        return None
    return text


def test_no_email_template_follows_a_name_with_its_own_full_stop(app: Flask) -> None:
    """Every email rendered for "Example Inc." (those that render from the context
    above): none writes "Inc..", so a template added later that forgets the filter
    fails here."""
    with app.test_request_context():
        texts = {path.name: _rendered(path.stem) for path in sorted(EMAILS.glob("[!_]*.txt"))}

    rendered = {name: text for name, text in texts.items() if text is not None}
    assert len(rendered) >= 25, sorted(rendered)
    assert [name for name, text in rendered.items() if "Inc.." in text] == []
