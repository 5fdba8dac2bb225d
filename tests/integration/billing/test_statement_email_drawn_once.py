"""Round 56: a statement of account emailed (on request, by the monthly run, sent
again) is drawn through the same copies as its download (`licensing.drawn`,
`services.monthly_statements.drawn_statement_pdf`): a clerk who looks at the PDF and
emails it the same minute has it drawn once, the attachment the very bytes looked
at; and never a stale copy: a payment between the two draws the statement anew,
as does another minute on its "as of" (round 55's download test; docs/billing.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask

from licensing import drawn
from licensing.accounts.models import User
from licensing.billing import documents
from licensing.mail.models import OutboxMessage
from tests.support.documents import pdf_text
from tests.support.factories import bearer
from tests.support.monthly_statements import IN_JANUARY, invoice, paid, statement_emails

# A morning in March at the office (Chicago).
ASKED = datetime(2027, 3, 15, 15, 0, 5, tzinfo=UTC)
QUARTER = {"from": "2027-01-01", "to": "2027-03-15", "currency": "USD"}


@pytest.fixture(autouse=True)
def _no_copies_from_other_tests() -> Iterator[None]:
    drawn.COPIES.clear()
    yield
    drawn.COPIES.clear()


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every statement drawn (the renderer counted, its bytes unchanged)."""
    render = documents.render_statement_pdf
    drawn_texts: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> bytes:
        content = render(*args, **kwargs)
        drawn_texts.append(pdf_text(content))
        return content

    monkeypatch.setattr(documents, "render_statement_pdf", counted)
    return drawn_texts


def _attached(message: OutboxMessage) -> bytes:
    [attachment] = message.attachments
    assert attachment.content is not None
    return bytes(attachment.content)


def test_a_statement_looked_at_then_emailed_the_same_minute_is_drawn_once_and_attached_as_seen(
    app: Flask,
    signed_in: Callable[..., Any],
    billing_staff: User,
    vendor: User,
    draws: list[str],
) -> None:
    organization = vendor.organization
    with time_machine.travel(ASKED, tick=False) as clock:
        invoice(organization.id, "1200.00", IN_JANUARY)
        paid(invoice(organization.id, "300.00", IN_JANUARY), IN_JANUARY.date())
        browser = signed_in(app.test_client(), billing_staff)
        looked_at = browser.get(
            f"/console/organizations/{organization.id}/statement.pdf", query_string=QUARTER
        )
        assert looked_at.status_code == 200
        assert len(draws) == 1

        clock.move_to(ASKED + timedelta(seconds=30))
        emailed = app.test_client().post(
            f"/api/v1/organizations/{organization.id}/statement/email",
            json=QUARTER,
            headers=bearer(billing_staff),
        )
        assert emailed.status_code == 200, emailed.get_data(as_text=True)

    [email] = statement_emails()
    assert _attached(email) == looked_at.data
    assert len(draws) == 1
    assert "1,200.00 USD" in draws[0]


def test_an_emailed_statement_is_never_a_stale_copy_a_payment_since_or_another_minute_draws_anew(
    app: Flask,
    signed_in: Callable[..., Any],
    billing_staff: User,
    vendor: User,
    draws: list[str],
) -> None:
    organization = vendor.organization
    client = app.test_client()

    def email(days: dict[str, str]) -> bytes:
        answer = client.post(
            f"/api/v1/organizations/{organization.id}/statement/email",
            json=days,
            headers=bearer(billing_staff),
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return _attached(statement_emails()[-1])

    with time_machine.travel(ASKED, tick=False) as clock:
        owed = invoice(organization.id, "1200.00", IN_JANUARY)
        browser = signed_in(app.test_client(), billing_staff)
        looked_at = browser.get(
            f"/console/organizations/{organization.id}/statement.pdf", query_string=QUARTER
        )
        assert "1,200.00 USD" in pdf_text(looked_at.data)

        # The invoice paid on 10 March, recorded now: the same days read other data.
        paid(owed, date(2027, 3, 10), recorded=ASKED + timedelta(seconds=10))
        clock.move_to(ASKED + timedelta(seconds=20))
        sent = email(QUARTER)
        assert len(draws) == 2
        assert sent != looked_at.data
        assert "W-" in pdf_text(sent)
        assert "W-" not in pdf_text(looked_at.data)
