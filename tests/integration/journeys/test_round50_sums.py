"""Round 50: sums across records beyond the largest amount. Each amount is bounded
(`money.MAX_AMOUNT`), but an organization's balance across invoices near it is not:
SQLite's SUM of the scaled integers raised "integer overflow" past about 9.2e14 (a 500
on the console's organization page and the finance dashboard; `db.money_sum` sums
exactly on both databases), and the monthly statement run stored the balances in money
columns that refuse them (a 500 that stopped the run; now the statement is skipped,
said in the run's output and the audit log)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, SentStatement
from licensing.billing.services import monthly_statements
from licensing.db import money_sum
from licensing.errors import InvalidInput
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.integration.pricing.conftest import example_card  # noqa: F401 - a fixture
from tests.support import factories
from tests.support.factories import bearer, billing_clerk
from tests.support.monthly_statements import (
    IN_JANUARY,
    JANUARY,
    RUN,
    invoice,
    organization,
    sent_row,
    statement_emails,
)
from tests.support.pages import text_of

LARGEST = "99999999999999.99"
# Ten invoices at the largest amount: beyond SQLite's integers once scaled (9.2e18).
TEN_LARGEST = "999,999,999,999,999.90"
NEAR = "60000000000000.00"  # three of them owe 180,000,000,000,000.00


def words(response: Any) -> str:
    return re.sub(r"\s+", " ", text_of(response))


def test_a_money_sum_is_exact_beyond_sqlite_integers_on_both_databases(app: Flask) -> None:
    owing = organization("Vastmoor Holdings")
    for _ in range(10):
        invoice(owing.id, LARGEST, IN_JANUARY)
    invoice(owing.id, "0.01", IN_JANUARY)
    session = db.session()
    total = session.scalar(select(money_sum(Invoice.total)))
    assert total == Decimal("999999999999999.91")
    assert isinstance(total, Decimal)
    # Less than what each invoice is: negative terms too, to the ten-thousandth.
    less = session.scalar(select(money_sum(Invoice.amount_credited - Invoice.total)))
    assert less == Decimal("-999999999999999.91")
    assert session.scalar(select(money_sum(Invoice.total)).where(Invoice.id < 0)) is None


def test_the_organization_page_and_finance_dashboard_sum_ten_invoices_at_the_largest(
    client: FlaskClient, signed_in: Any, billing_staff: Any
) -> None:
    owing = organization("Vastmoor Holdings")
    for _ in range(10):
        invoice(owing.id, LARGEST, IN_JANUARY)
    with time_machine.travel(RUN, tick=False):
        licensee = factories.make_vendor(db.session(), organization=owing)
        db.session().commit()
        signed_in(client, licensee)
        portal = client.get("/portal/")
        assert portal.status_code == 200  # a 500 on SQLite
        assert f"{TEN_LARGEST} USD" in words(portal)
        client.post("/sign-out")
        signed_in(client, billing_staff)
        page = client.get(f"/console/organizations/{owing.id}")
        assert page.status_code == 200  # a 500 on SQLite: "integer overflow"
        assert f"{TEN_LARGEST} USD" in words(page)
        finance = client.get("/console/finance/?start=2027-01-01&end=2027-01-31")
        assert finance.status_code == 200  # a 500 on SQLite
        assert TEN_LARGEST in words(finance)
        statement = client.get(
            f"/console/organizations/{owing.id}/statement?from=2027-01-01&to=2027-01-31"
        )
        assert statement.status_code == 200
        assert f"{TEN_LARGEST} USD" in words(statement)
        # The page says why no monthly statement with that balance is emailed.
        assert (
            f"Not emailed at a month's end: its closing balance of {TEN_LARGEST} USD exceeds the "
            "largest amount the office can record and invoice, 99,999,999,999,999.99 USD, so a "
            "monthly statement with it cannot be recorded as sent. This page and its PDF show it."
        ) in words(statement)
        february = client.get(
            f"/console/organizations/{owing.id}/statement?from=2027-01-01&to=2027-01-14"
        )
        assert "Not emailed" not in words(february)
        api = client.get(
            f"/api/v1/organizations/{owing.id}/statement?from=2027-01-01&to=2027-01-31",
            headers=bearer(billing_staff),
        )
        assert api.status_code == 200, api.get_json()
        assert api.get_json()["closing_balance"] == "999999999999999.90"
        report = client.get("/console/finance/report.pdf?month=2027-01")
        assert report.status_code == 200  # a 500 on SQLite
        exported = client.get("/console/exports?dataset=receivables&format=csv&as_of=2027-01-31")
        assert exported.status_code == 200
        balances = [line.split(",") for line in exported.get_data(as_text=True).splitlines()]
        assert balances[0].count("balance") == 1
        column = balances[0].index("balance")
        owed = sum(Decimal(row[column]) for row in balances[1:])
        assert owed == Decimal("999999999999999.90")


def test_the_statement_run_skips_a_statement_beyond_the_largest_saying_why(
    app: Flask,
) -> None:
    owing = organization("Vastmoor Holdings")
    for _ in range(3):
        invoice(owing.id, NEAR, IN_JANUARY)
    other = organization("Brindle Harbor Labs")
    invoice(other.id, "300.00", IN_JANUARY)

    run = services.send_monthly_statements(JANUARY, now=RUN)  # stopped with a 500 before

    assert run.not_sent == [
        "Vastmoor Holdings (USD): its closing balance of 180,000,000,000,000.00 USD exceeds "
        "the largest amount the office can record and invoice, 99,999,999,999,999.99 USD, "
        "so the statement cannot be recorded as sent and was not emailed; its page and PDF "
        "show it"
    ]
    assert len(run.sent) == 1  # the other organization's still goes
    assert [m.to for m in statement_emails()] == [[other.billing_email]]
    recorded = db.session().scalars(select(SentStatement)).all()
    assert [s.organization_id for s in recorded] == [other.id]
    [event] = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "organization.statement_not_sent")
    )
    assert event.entity_id == str(owing.id)
    assert event.actor == "system"
    assert event.after_data["closing"] == "180000000000000.00"
    assert event.after_data["month"] == "2027-01"
    # The next run says it again; nothing is stored meanwhile.
    again = services.send_monthly_statements(JANUARY, now=RUN.replace(day=2))
    assert len(again.not_sent) == 1
    assert again.sent == []  # the other was sent: not read again


def test_the_statement_command_names_the_statement_it_could_not_record(app: Flask) -> None:
    owing = organization("Vastmoor Holdings")
    for _ in range(3):
        invoice(owing.id, NEAR, IN_JANUARY)
    with time_machine.travel(RUN, tick=False):
        result = app.test_cli_runner().invoke(args=["statements", "send"])
    assert result.exit_code == 0, result.output
    assert "not sent: Vastmoor Holdings (USD): its closing balance" in result.output
    assert "0 statement(s) sent" in result.output


def test_sending_again_a_statement_now_beyond_the_largest_is_refused(
    client: FlaskClient, signed_in: Any, billing_staff: Any
) -> None:
    owing = organization("Vastmoor Holdings")
    sent = sent_row(owing.id, JANUARY, closing="1200.00")
    for _ in range(3):
        invoice(owing.id, NEAR, IN_JANUARY)
    with time_machine.travel(RUN, tick=False):
        signed_in(client, billing_staff)
        page = client.post(f"/console/organizations/{owing.id}/statements/{sent.id}/resend")
    assert page.status_code == 422  # a 500 before: the re-sent figures were bound
    assert "cannot be recorded as sent now: its closing balance of" in words(page)
    with pytest.raises(InvalidInput) as refused:
        monthly_statements.resend_statement(sent.id, actor=billing_clerk(), now=RUN)
    assert refused.value.detail == (
        "Not sent again: the January 2027 statement (USD) cannot be recorded as sent now: its "
        "closing balance of 180,000,000,000,000.00 USD exceeds the largest amount the office "
        "can record and invoice, 99,999,999,999,999.99 USD. Its page and PDF show it."
    )
    db.session().rollback()
    kept = db.session().get(SentStatement, sent.id)
    assert kept is not None
    assert (kept.resends, kept.last_closing) == (0, Decimal("1200.00"))
    assert statement_emails() == []


@pytest.mark.usefixtures("example_card")
def test_the_application_page_numbers_an_estimate_problem_s_use_from_1(
    client: FlaskClient, signed_in: Any, vendor: Any
) -> None:
    unpriced = {**AUTO_USE, "quantity": {}}
    draft = agreements.ApplicationDraft.from_fields(
        {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": [unpriced]}
    )
    application = agreements.create_draft(Actor.of(accounts.principal_for(vendor)), draft, now=NOW)
    signed_in(client, vendor)
    text = words(client.get(f"/portal/applications/{application.id}"))
    section = text[text.index("Not priced yet") :]
    assert "Use 1" in section[:200], section[:300]
    assert "Use 0" not in text
