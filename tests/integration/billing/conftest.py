"""Billing test helpers: invoices made the way production makes them, by sending
`agreement_activated` as the agreements package does on acceptance."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice, Payment
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.signals import ActivatedAgreement, UpFrontCharge, agreement_activated
from tests.support.servers import LocalStripe

from .stripe_support import flagged_card_payment

ACTIVATED_AT = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)
# The disputes' tests run on this day: after their invoices are issued (ACTIVATED_AT)
# and paid, before their disputes open (`dispute_support.OPENED`, 2 March 2027).
BEFORE_THE_DISPUTES = datetime(2027, 1, 20, 15, 0, tzinfo=UTC)
_agreements = itertools.count(9000)


def activated(
    organization_id: int,
    amounts: tuple[str, ...] = ("1200.00", "350.50"),
    *,
    at: datetime = ACTIVATED_AT,
    terms: int = 30,
    late_fee: str = "1.5",
    currency: str = "USD",
    term: tuple[date, date] = (date(2027, 1, 1), date(2027, 12, 31)),
) -> ActivatedAgreement:
    """An agreement activated `at` for `term` (2027's, the example card's, unless
    told), its up-front charges of `amounts`."""
    number = next(_agreements)
    term_start, term_end = term
    return ActivatedAgreement(
        agreement_id=number,
        number=f"CPT-{term_start.year}-{number:06d}",
        organization_id=organization_id,
        currency=currency,
        activated_at=at,
        term_start=term_start,
        term_end=term_end,
        rate_card_version=f"{term_start.year}.1",
        payment_terms_days=terms,
        late_fee_monthly_percent=Decimal(late_fee),
        charges=tuple(
            UpFrontCharge(
                line_index=index,
                description=f"Distribution of Harborlight Coder, line {index + 1}",
                amount=Decimal(amount),
                working=f"flat fee {amount} x 1 year = {amount}",
            )
            for index, amount in enumerate(amounts)
        ),
    )


def around_today() -> dict[str, Any]:
    """`activated`'s `at` and `term` around the office's today (round 64): activated
    yesterday, for a year from the first of last month. A test whose records meet the
    real clock (a payment made or returned today, a card charged now) takes these
    rather than 15 January 2027 and 2027's term: an invoice issued in the future
    until then, and a year and more after its term from 2028."""
    now = utcnow()
    start = (office_date(now).replace(day=1) - timedelta(days=1)).replace(day=1)
    return {
        "at": now - timedelta(days=1),
        "term": (start, start.replace(year=start.year + 1) - timedelta(days=1)),
    }


def send_activation(payload: ActivatedAgreement) -> Invoice | None:
    """What the agreements package does on acceptance: send the signal in its
    transaction; returns the invoice the receiver issued."""
    from sqlalchemy import select

    with db.transaction() as session:
        agreement_activated.send(payload, session=session)
        return session.scalars(
            select(Invoice).where(
                Invoice.source_type == "agreement", Invoice.source_id == payload.agreement_id
            )
        ).one_or_none()


@pytest.fixture
def before_the_disputes() -> Iterator[None]:
    """The whole test on a fixed (ticking) day before its disputes, as it is written:
    the card payment a dispute takes back is made "now", and at the real time it came
    after the disputes dated in March 2027 from 3 March 2027 (round 47)."""
    with time_machine.travel(BEFORE_THE_DISPUTES, tick=True):
        yield


@pytest.fixture
def invoice_for(app: Flask) -> Callable[..., Invoice]:
    """`invoice_for(user_or_org_id, amounts=..., **kwargs)`: an open invoice."""

    def make(
        owner: Any, amounts: tuple[str, ...] = ("1200.00", "350.50"), **kwargs: Any
    ) -> Invoice:
        organization_id = owner if isinstance(owner, int) else owner.organization_id
        invoice = send_activation(activated(organization_id, amounts, **kwargs))
        assert invoice is not None
        return invoice

    return make


@pytest.fixture
def flagged(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> Payment:
    """A 300.00 invoice's card payment, flagged for 299.99 received (the keyed
    give-backs, rounds 45 and 47)."""
    return flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)[1]
