"""Round 56 (waiting56): a dispute's withdrawal booked after its month's statement went,
dated on Stripe's day in that month, is found by the check for late entries
(`sent_statements.note_late_entries`) that the console home's *Work waiting* runs, as
the old reading of every statement sent found it."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import sent_statements, services
from licensing.billing.models import Invoice, LateEntryCheck, SentStatement
from tests.support.monthly_statements import JANUARY, RUN
from tests.support.servers import LocalStripe

from .dispute_support import charge_of, dispute_event
from .refund_support import deliver, paid_by_card
from .stripe_support import stripe_config

PAID = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)
# Stripe withdrew the disputed money on 20 January; the event reached the office on 10
# February, after January's statement went (1 February).
WITHDRAWN_ON = datetime(2027, 1, 20, 15, 0, tzinfo=UTC)
TOLD = datetime(2027, 2, 10, 15, 0, tzinfo=UTC)
CHANGED_QUEUE = "Statements changed since they were emailed (send again?)"


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _home_count(client: FlaskClient) -> int:
    home = client.get("/console/").text
    at = home.index(CHANGED_QUEUE)
    row = home[home.rindex("<tr", 0, at) : home.index("</tr>", at)]
    return int(row.split('<td class="num">')[1].split("</td>")[0])


def test_a_dispute_withdrawal_booked_late_into_a_month_sent_is_counted_at_the_next_load(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    billing_staff: User,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    with time_machine.travel(PAID, tick=True):
        invoice = invoice_for(vendor, ("250.00",), at=PAID)
        payment = paid_by_card(client, vendor, localstripe, invoice)
    services.send_monthly_statements(JANUARY, now=RUN)
    sent = db.session().scalars(select(SentStatement)).one()
    assert sent.closing == 0
    clerk = signed_in(client.application.test_client(), billing_staff)
    assert _home_count(clerk) == 0
    assert db.session().get(LateEntryCheck, sent_statements.CHECK_ROW) is not None

    with time_machine.travel(TOLD, tick=True):
        opened = dispute_event(
            "charge.dispute.created",
            payment,
            charge_of(localstripe, payment),
            amount=25000,
            moved=(WITHDRAWN_ON,),
            created=WITHDRAWN_ON,
        )
        assert "withdrawal of 250.00 booked" in deliver(client, opened)["outcome"]

    assert _home_count(clerk) == 1
    page = html.unescape(clerk.get("/console/billing/statements-changed").text)
    assert page.count(">Send again</button>") == 1
    candidates = list(
        db.session().scalars(sent_statements.sent_query().where(sent_statements._late_entry()))
    )
    assert [each.id for each in candidates] == [sent.id]
    db.session().refresh(sent)
    assert sent.late_entry_at is not None
