"""Round 55: a statement of account's PDF asked for again, nothing having moved, is
served the copy drawn before (its data is read every time; the drawing, most of a
long statement's request, is not done again), and never a stale one: a payment
recorded in its range, or another minute on its "as of", draws it anew
(`licensing.drawn`, docs/billing.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask

from licensing import drawn
from licensing.accounts.models import User
from licensing.billing import documents, services
from licensing.billing.models import Invoice
from tests.support.documents import pdf_text
from tests.support.factories import billing_clerk

ISSUED = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30", "currency": "USD"}
ASKED = datetime(2026, 12, 2, 15, 0, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_copies_from_other_tests() -> Iterator[None]:
    drawn.COPIES.clear()
    yield
    drawn.COPIES.clear()


def _wire(invoice: Invoice, amount: str, day: date, reference: str) -> None:
    services.record_offline_payment(
        invoice.id,
        method="wire",
        amount=Decimal(amount),
        reference=reference,
        received_on=day,
        now=datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC),
        actor=billing_clerk(),
    )


def test_a_statement_asked_again_is_drawn_once_and_a_payment_since_draws_it_anew(
    app: Flask,
    signed_in: Callable[..., Any],
    vendor: User,
    invoice_for: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoice = invoice_for(vendor, ("1200.00", "350.50"), at=ISSUED)
    _wire(invoice, "500.00", date(2026, 11, 25), "W-77")
    render = documents.render_statement_pdf
    draws: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> bytes:
        content = render(*args, **kwargs)
        draws.append(pdf_text(content))
        return content

    monkeypatch.setattr(documents, "render_statement_pdf", counted)
    with time_machine.travel(ASKED, tick=False) as clock:
        browser = signed_in(app.test_client(), vendor)

        def pdf(seconds_later: int) -> bytes:
            clock.move_to(ASKED + timedelta(seconds=seconds_later))
            answer = browser.get("/portal/statement.pdf", query_string=NOVEMBER)
            assert answer.status_code == 200
            return bytes(answer.data)

        first = pdf(0)
        assert pdf(40) == first
        assert len(draws) == 1
        assert "1,050.50 USD" in draws[0]

        # A wire recorded in November since: the same question reads other data.
        _wire(invoice, "200.00", date(2026, 11, 28), "W-78")
        after = pdf(45)
        assert len(draws) == 2
        assert after != first
        assert "850.50 USD" in pdf_text(after)
        assert "1,050.50 USD" not in pdf_text(after)
        assert pdf(50) == after
        assert len(draws) == 2

        # Another minute on its "as of" is another document, drawn for that minute.
        later = pdf(60)
        assert len(draws) == 3
        assert "December 2, 2026 at 9:01 AM" in pdf_text(later)  # in words (round 56)
        assert "December 2, 2026 at 9:00 AM" in pdf_text(after)
