"""Revenue classified from the agreement's quote snapshot (and from any source
that plugs a classifier in), queue health against the service levels, and the
monthly revenue report: as PDF from the page, and queued to an inbox by the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, QuoteVersion
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.db import utcnow
from licensing.finance import classification, queries
from licensing.finance.classification import Classification, RevenueLine
from licensing.finance.queries import Filters
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import (
    AUTO_USE,
    DEVELOPMENT_USE,
    NOW,
    STAFF_USE,
    apply,  # noqa: F401 - the fixture
    draft,
)
from tests.integration.finance.conftest import History, at
from tests.integration.permissions.conftest import submit  # noqa: F401 - the fixture
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import accept, agreement_of
from tests.support.documents import pdf_text
from tests.support.servers import SMTPServer
from tests.support.settings import delivery, issuing


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


def _accepted_agreement(vendor: Any) -> Invoice:
    """The real path: apply, auto-approve, accept; the agreement's invoice."""
    principal = accounts.principal_for(vendor)
    application = agreements.create_draft(
        Actor.of(principal), draft(AUTO_USE, DEVELOPMENT_USE), now=NOW
    )
    agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True, now=NOW)
    accept(agreement_of(application), vendor, now=NOW)
    return db.session().scalars(select(Invoice).where(Invoice.source_type == "agreement")).one()


def _month_of(invoice: Invoice) -> Filters:
    assert invoice.issue_date is not None
    month = invoice.issue_date.replace(day=1)
    return Filters(month, month)


def test_up_front_revenue_is_classified_by_the_agreements_quote_snapshot(
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    invoice = _accepted_agreement(vendor)
    revenue = queries.revenue(db.session(), _month_of(invoice))
    expected = {
        "use": "development",
        "product_type": AUTO_USE["product_type"],
        "user_type": AUTO_USE["user_type"],
        "organization_type": "commercial",  # the organization's type when priced
    }
    for axis, value in expected.items():
        (row,) = revenue.by_axis[axis]
        assert (row.value, row.up_front, row.royalty) == (value, invoice.total, Decimal(0))
    assert revenue.total == invoice.total
    assert revenue.other == Decimal(0)


def test_a_quote_snapshot_without_its_request_is_classified_by_the_applications_uses(
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    """A snapshot stored before quotes kept their request classifies by the uses
    applied for, in their order, and the organization's type, as it did before round
    52 read snapshots as narrow rows; and the same as `agreement_lines` reads it."""
    invoice = _accepted_agreement(vendor)
    session = db.session()
    agreement = session.get(Agreement, invoice.source_id)
    assert agreement is not None
    snapshot = {**agreement.quote.snapshot, "request": None}
    session.execute(
        update(QuoteVersion)
        .where(QuoteVersion.id == agreement.quote_id)
        .values(snapshot_json=json.dumps(snapshot))
    )
    session.expire_all()
    organization = session.get(Organization, vendor.organization_id)
    assert organization is not None
    # The up-front fee is the development use's, the second use applied for.
    (use,) = [use for use in agreement.application.uses if use.use == "development"]
    revenue = queries.revenue(session, _month_of(invoice))
    expected = {
        "use": use.use,
        "product_type": use.product_type,
        "user_type": use.user_type,
        "organization_type": organization.organization_type,
    }
    for axis, value in expected.items():
        (row,) = revenue.by_axis[axis]
        assert (row.value, row.up_front) == (value, invoice.total)
    (charged,) = [line for line in classification.agreement_lines(agreement) if line.up_front > 0]
    assert charged.classification == Classification(*expected.values())


def test_a_line_that_does_not_match_its_quote_line_is_left_unclassified(
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    invoice = _accepted_agreement(vendor)
    line = invoice.lines[0]
    as_invoiced = RevenueLine(line.id, invoice.id, "agreement", invoice.source_id, 1, line.amount)
    wrong_amount = RevenueLine(
        line.id, invoice.id, "agreement", invoice.source_id, 1, line.amount + 1
    )
    no_such_line = RevenueLine(line.id, invoice.id, "agreement", invoice.source_id, 9, line.amount)
    session = db.session()
    assert classification.classify(session, [as_invoiced])[line.id].use == "development"
    assert classification.classify(session, [wrong_amount])[line.id] == (
        classification.NOT_CLASSIFIED
    )
    assert classification.classify(session, [no_such_line])[line.id] == (
        classification.NOT_CLASSIFIED
    )


def test_royalty_report_lines_are_classified_by_the_classifier_plugged_in_when_issued(
    vendor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line keeps the classification found when its invoice is issued (round 61,
    classified61): issued with no classifier it is unclassified, and stays so once one
    is plugged in; one issued after is classified by it."""

    def issued(source_id: int, day: date) -> Invoice:
        with db.transaction() as session:
            return billing.create_invoice(
                session,
                organization_id=vendor.organization_id,
                currency="USD",
                charges=[billing.Charge("Royalty, line 1, 2027 Q1", Decimal("812.40"))],
                source_type="royalty_report",
                source_id=source_id,
                payment_terms_days=30,
                late_fee_monthly_percent=Decimal("1.5"),
                now=at(day),
                actor=Actor.SYSTEM,
            )

    monkeypatch.delitem(classification._CLASSIFIERS, "royalty_report", raising=False)
    issued(77, date(2027, 4, 20))
    april = Filters(date(2027, 4, 1), date(2027, 4, 1))
    unplugged = queries.revenue(db.session(), april)
    assert [(r.value, r.royalty) for r in unplugged.by_axis["use"]] == [
        ("unclassified", Decimal("812.40"))
    ]

    seen: list[RevenueLine] = []

    def from_report_lines(_session: Any, lines: Any) -> dict[int, Classification]:
        seen.extend(lines)
        return {
            line.invoice_line_id: Classification("distribution", "saas", "provider", "commercial")
            for line in lines
        }

    monkeypatch.setitem(classification._CLASSIFIERS, "royalty_report", from_report_lines)
    invoice = issued(78, date(2027, 5, 20))
    plugged = queries.revenue(db.session(), Filters(date(2027, 5, 1), date(2027, 5, 1)))
    (row,) = plugged.by_axis["use"]
    assert (row.value, row.up_front, row.royalty) == ("distribution", Decimal(0), invoice.total)
    assert [(line.source_id, line.position) for line in seen] == [(78, 1)]
    assert queries.revenue(db.session(), april).by_axis["use"] == unplugged.by_axis["use"]


# --- queue health ----------------------------------------------------------------------


def _health(now: datetime) -> dict[str, queries.QueueHealth]:
    found = queries.queue_health(db.session(), now, application_target=10, permission_target=10)
    return {row.key: row for row in found}


@pytest.mark.parametrize(
    ("day", "band", "age"),
    [
        # Submitted Monday 2026-11-02; Veterans Day (Wednesday 11-11) is no business day.
        (date(2026, 11, 5), "on_track", 3),
        (date(2026, 11, 9), "due_soon", 5),
        (date(2026, 11, 17), "due_soon", 10),
        (date(2026, 11, 18), "past_target", 11),
    ],
)
def test_applications_awaiting_review_are_aged_in_business_days_against_the_target(
    vendor: Any,
    apply: Callable[..., Any],  # noqa: F811
    day: date,
    band: str,
    age: int,
) -> None:
    application = apply(vendor, STAFF_USE)
    assert application.state == "submitted"
    health = _health(datetime(day.year, day.month, day.day, 20, 0, tzinfo=UTC))["applications"]
    assert health.bands == {band: 1, **{b: 0 for b, _ in queries.BANDS if b != band}}
    assert health.oldest_days == age
    assert health.target_days == 10


def test_permission_requests_are_past_the_target_once_their_deadline_passes(
    submit: Callable[..., Any],  # noqa: F811
) -> None:
    request, _token = submit()
    assert request.sla_due_at is not None
    fresh = _health(utcnow())["permissions"]
    assert (fresh.count, fresh.bands["on_track"]) == (1, 1)
    late = _health(request.sla_due_at + timedelta(minutes=1))["permissions"]
    assert late.bands["past_target"] == 1


def test_queue_health_shows_on_the_page_for_licensing_staff(
    client: Any,
    signed_in: Any,
    licensing_staff: Any,
    vendor: Any,
    apply: Callable[..., Any],  # noqa: F811
) -> None:
    apply(vendor, STAFF_USE)
    html = signed_in(client, licensing_staff).get("/console/finance/").get_data(as_text=True)
    assert "Applications awaiting review" in html
    assert 'data-table="queues-table"' in html


# --- the monthly report ------------------------------------------------------------------


def test_billing_staff_download_the_monthly_report_with_the_months_figures(
    client: Any, signed_in: Any, billing_staff: Any, history: History
) -> None:
    response = signed_in(client, billing_staff).get(
        "/console/finance/report.pdf?month=2027-03&currency=USD"
    )
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "revenue-report-2027-03-USD.pdf" in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    assert "Monthly revenue report: March 2027" in text  # the month in words (round 56)
    assert "750.50" in text  # invoiced in March
    assert "2,500.00" in text  # collected in March, grouped as on the page (round 12)
    assert "1,250.50" in text  # outstanding at the end of March
    assert history.names["B"] in text  # the top licensee


@pytest.mark.parametrize("month", ["March", "0001-01", "9999-12", "2027-13"])
def test_a_report_for_a_month_that_is_not_one_is_a_400(
    client: Any, signed_in: Any, billing_staff: Any, month: str
) -> None:
    response = signed_in(client, billing_staff).get(f"/console/finance/report.pdf?month={month}")
    assert response.status_code == 400
    assert "YYYY-MM" in response.get_data(as_text=True)


def test_the_cli_queues_the_report_to_an_inbox_with_the_pdf_attached(
    app: Any, history: History, mailbox: SMTPServer, client: Any, signed_in: Any, admin: Any
) -> None:
    result = app.test_cli_runner().invoke(
        args=["finance", "report", "--month", "2027-03", "--email", "manager@office.example"]
    )
    assert result.exit_code == 0, result.output
    assert "Queued the 2027-03 revenue report to manager@office.example" in result.output
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    assert [a.filename for a in message.attachments] == ["revenue-report-2027-03-USD.pdf"]
    outbox_page = signed_in(client, admin).get(f"/console/outbox/{message.id}")
    assert "revenue-report-2027-03-USD.pdf (application/pdf" in outbox_page.get_data(as_text=True)

    assert mail.deliver_due(delivery()).sent >= 1
    (received,) = [m for m in mailbox.wait_for(1) if m["To"] == "manager@office.example"]
    assert received["Subject"] == "Monthly revenue report for March 2027 (USD)"
    (attachment,) = list(received.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "revenue-report-2027-03-USD.pdf"
    assert "Monthly revenue report: March 2027" in pdf_text(attachment.get_content())
    body = received.get_body(("plain",))
    assert body is not None
    assert "Outstanding at the month's end:   1,250.50 USD" in body.get_content()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2027-3", "--email", "manager@office.example"], "YYYY-MM"),
        (["--month", "2027-03", "--email", "manager at office"], "not an email address"),
    ],
)
def test_the_cli_refuses_a_bad_month_or_address_and_queues_nothing(
    app: Any, args: list[str], message: str
) -> None:
    before = len(db.session().scalars(select(OutboxMessage)).all())
    result = app.test_cli_runner().invoke(args=["finance", "report", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert len(db.session().scalars(select(OutboxMessage)).all()) == before


def test_an_attachment_without_a_proper_name_is_refused(app: Any) -> None:
    from licensing.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused, db.transaction() as session:
        mail.enqueue(
            session,
            to="manager@office.example",
            subject="Report",
            template="finance_monthly_report",
            context={"report": None},
            attachments=[mail.Attachment("../report.pdf", "application/pdf", b"%PDF")],
        )
    assert "attachments.0.filename" in refused.value.errors
