"""Billing test helpers: invoices made the way production makes them, by sending
`agreement_activated` as the agreements package does on acceptance."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice, Payment
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
) -> ActivatedAgreement:
    number = next(_agreements)
    return ActivatedAgreement(
        agreement_id=number,
        number=f"CPT-2027-{number:06d}",
        organization_id=organization_id,
        currency=currency,
        activated_at=at,
        term_start=date(2027, 1, 1),
        term_end=date(2027, 12, 31),
        rate_card_version="2027.1",
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
