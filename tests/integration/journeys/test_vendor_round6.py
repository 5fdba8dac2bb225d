"""Round 6 of the journeys: a vendor's whole licensing year, from the application
to the renewal, with every email and page checked against what is billed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.mail.models import OutboxMessage
from licensing.royalties.services import send_reminders
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    SOFTWARE,
    active_agreement,
    file_report,
    row,
)

SignIn = Callable[..., FlaskClient]


def _emails(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
    )


def test_the_standing_email_of_a_vendor_held_for_a_royalty_report_does_not_ask_to_pay_an_invoice(
    app: Flask,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # Held at pending payment for a report more than 30 days overdue, the vendor was
    # told "New license applications are on hold until the overdue invoice is paid",
    # with no invoice overdue at all.
    active_agreement(vendor, SOFTWARE)
    send_reminders(standing_days=30, now=datetime(2027, 6, 1, 15, 0, tzinfo=UTC))
    [email] = _emails("standing_changed")
    body = email.body_text
    assert "royalty report" in body
    assert "overdue invoice is paid" not in body
    assert "file overdue royalty reports from the Royalty reports page" in body
    assert "pay overdue invoices from the Invoices page" in body
