"""Round 2's loose ends: small defects the journey rounds found and left
(docs/journeys.md, "Round 2: loose ends")."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select, update
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.billing.models import Invoice
from licensing.config import PROJECT_ROOT
from licensing.mail.models import OutboxMessage
from licensing.permissions import services as permissions
from licensing.web.errors import handle_http_exception
from licensing.web.filters import money
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.integration.finance.conftest import issue, refunded_credit
from tests.integration.permissions.conftest import OFFICE, routed_use, send_routed
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.factories import make_staff
from tests.support.pages import text_of


def _email(template: str) -> OutboxMessage:
    return (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id.desc())
        )
        .first()
    ) or _missing(template)


def _missing(template: str) -> OutboxMessage:
    raise AssertionError(f"no {template} email")


def test_billing_emails_group_thousands_in_amounts_as_pages_do(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1200.00", "2350.50"))
    issued = _email("invoice_issued")
    assert f"Invoice {invoice.number}: 3,550.50 USD due" in issued.subject
    assert "3,550.50 USD" in issued.body_text
    assert "3550.50" not in issued.body_text + issued.subject

    paid_offline(invoice.id, "3550.50", "W-7")
    assert (
        "we received 3,550.50 USD (wire transfer, reference W-7)"
        in _email("payment_received").body_text
    )

    credit = credited(invoice.id, "1500.25", "Seat removed")
    credit_email = _email("invoice_credit_note").body_text
    assert f"Credit note {credit.number} for 1,500.25 USD" in credit_email
    assert "Of it, 1,500.25 USD is a refund due to you" in credit_email

    refunded_offline(credit.id, "1200.00", "C-1", method="check")
    refund = _email("refund_sent")
    assert refund.subject.startswith("Refund of 1,200.00 USD for credit note")
    assert "We have refunded 1,200.00 USD to you" in refund.body_text
    assert "A further 300.25 USD is still due to you" in refund.body_text


def test_the_approval_email_groups_thousands_in_the_agreement_total(
    apply: Callable[..., Application],
) -> None:
    session = db.session()
    vendor = factories.make_vendor(session, organization=factories.make_organization(session))
    session.commit()
    application = apply(vendor, {**AUTO_USE, "quantity": {"end_users": 250000}})
    assert application.total is not None
    assert application.total >= 1000
    body = _email("application_update").body_text
    # (A usage-based total then says it is the application's estimate: round 6.)
    assert f"total {money(application.total, 'USD')} USD as estimated" in body
    assert "," in money(application.total, "USD")


def _pdf_figures(text: str) -> dict[str, Decimal]:
    """The monthly report's summary figures, by their label."""
    labels = (
        "Outstanding at the month's start",
        "Invoiced",
        "Collected",
        "Reversed",
        "Credited",
        "Net refunds (sent less returned)",
        "Outstanding at the month's end",
    )
    figures = {}
    for label in labels:
        found = re.search(rf"^{re.escape(label)}\s+(-?[\d,]+\.\d\d)$", text, re.M)
        assert found is not None, label
        figures[label] = Decimal(found.group(1).replace(",", ""))
    return figures


def test_the_monthly_report_pdf_adds_up_to_the_cent_with_a_refund_in_the_month(
    app: Flask, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    organization = factories.make_organization(db.session())
    issue(organization.id, "2000.00", date(2026, 12, 10))  # still owed in January
    refunded_credit(organization.id)  # January: 1,000.00 paid, 150.00 credited and refunded
    response = signed_in(app.test_client(), billing_staff).get(
        "/console/finance/report.pdf?month=2027-01&currency=USD"
    )
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    figures = _pdf_figures(text)
    assert figures["Net refunds (sent less returned)"] == Decimal("150.00")
    assert figures["Outstanding at the month's start"] == Decimal("2000.00")
    assert (
        figures["Outstanding at the month's start"]
        + figures["Invoiced"]
        - figures["Collected"]
        + figures["Reversed"]
        - figures["Credited"]
        + figures["Net refunds (sent less returned)"]
        == figures["Outstanding at the month's end"]
    )
    # The twelve months' table has the same columns as the Finance page (the refunds
    # owed at the month's end beside the outstanding since round 52: none here), each
    # header on one line ("Outstanding" broke as "Outstandin g" when the column was
    # added with the month's width unchanged; in 7 points since round 53 "Refunds
    # owed" fits on one line too).
    columns = ("Month", "Invoiced", "Collected", "Reversed", "Credited", "Net refunds")
    header = "\n".join((*columns, "Refunds owed", "Outstanding"))
    table = text[text.index(header) :]
    row = re.search(r"^2027-01\n((?:[\d,.]+\n){7})", table, re.M)
    assert row is not None
    assert row.group(1).split() == [
        "1,000.00",
        "1,000.00",
        "0.00",
        "150.00",
        "150.00",
        "0.00",
        "2,000.00",
    ]


def _list_pages(app: Flask) -> list[str]:
    """The portal's and console's pages without a trailing slash or a variable part."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/portal/", "/console/"))
        and "GET" in (rule.methods or ())
        and not rule.arguments
        and not rule.rule.endswith("/")
        and "." not in rule.rule  # files: audit.csv, report.pdf
    )


def test_a_list_page_asked_with_a_trailing_slash_redirects_to_the_page(app: Flask) -> None:
    client = app.test_client()
    pages = _list_pages(app)
    assert "/portal/agreements" in pages
    assert "/console/royalty-reports" in pages
    for page in pages:
        response = client.get(f"{page}/?page=2")
        assert response.status_code == 308, page
        assert response.headers["Location"] == f"{page}?page=2", page
    # As Werkzeug already redirects /console to /console/: one address per page.
    assert client.get("/console").status_code == 308


def test_a_trailing_slash_on_no_page_is_still_not_found_and_the_api_is_unchanged(
    app: Flask,
) -> None:
    client = app.test_client()
    assert client.get("/portal/no-such-page/").status_code == 404
    assert client.post("/portal/agreements/").status_code == 404  # a form posts to its page
    api = client.get("/api/v1/applications/")
    assert api.status_code == 404
    assert api.mimetype == "application/problem+json"


def _upload(client: FlaskClient, content: bytes) -> Any:
    return client.post(
        "/console/rate-cards/",
        data={"card": (io.BytesIO(content), "card.json")},
        content_type="multipart/form-data",
    )


def test_a_rate_card_file_that_is_not_json_is_refused_in_words(
    client: FlaskClient, signed_in: Callable[..., FlaskClient], admin: User
) -> None:
    signed_in(client, admin)
    for content, expected in (
        (b'{"version": "2027.1",', "The file is not valid JSON: "),
        (b"\xff\xfe{}", "The file is not UTF-8 text"),
        (b"[1, 2]", "Problems in the card A rate card is a JSON object."),
    ):
        refused = _upload(client, content)
        assert refused.status_code == 422
        page = text_of(refused)
        assert expected in page, page
        assert "_body" not in page


def test_a_body_over_the_limit_says_the_limit_it_exceeds(
    app: Flask, client: FlaskClient, signed_in: Callable[..., FlaskClient], admin: User
) -> None:
    signed_in(client, admin)
    limit = app.config["MAX_CONTENT_LENGTH"]
    refused = _upload(client, b" " * (limit + 1))
    assert refused.status_code == 413
    page = text_of(refused)
    assert f"larger than the {limit // (1024 * 1024)} MB" in page, page


def test_the_favicon_browsers_ask_for_is_the_projects_icon(client: FlaskClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"
    assert icon.data == (PROJECT_ROOT / "static" / "favicon.svg").read_bytes()
    for page in ("/", "/api/v1/docs"):
        html = client.get(page).get_data(as_text=True)
        assert re.search(r'<link rel="icon" href="[^"]*favicon[^"]*"', html), page


def test_a_page_that_does_not_exist_says_so_in_plain_words(client: FlaskClient) -> None:
    response = client.get("/portal/no-such-page")
    assert response.status_code == 404
    page = text_of(response)
    assert "Page not found" in page
    assert "There is no page at this address" in page
    assert "check your spelling" not in page
    # The API keeps its problem document.
    assert client.get("/api/v1/no-such-thing").mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("retry_after", "words"),
    [("60", "in 1 minute"), ("45", "in 45 seconds"), ("1", "in 1 second"), ("150", "in 3 minutes")],
)
def test_too_many_attempts_says_when_to_try_again_in_words(
    retry_after: str, words: str, app: Flask
) -> None:
    with app.test_request_context("/sign-in", method="POST"):
        answer = handle_http_exception(
            TooManyRequests(
                "3 per 1 minute",
                response=Response(status=429, headers={"Retry-After": retry_after}),
            )
        )
    assert not isinstance(answer, tuple)
    assert answer.status_code == 429
    page = answer.get_data(as_text=True)
    assert "<h1>Too many attempts</h1>" in page
    assert "Too Many Requests" not in page
    assert f"Try again {words}." in page


@pytest.mark.parametrize("config_changes", [{"auth_rate_limit": "3 per minute"}])
def test_a_rate_limited_sign_in_page_says_too_many_attempts(app: Flask) -> None:
    client = app.test_client()
    for n in range(4):
        response = client.post("/sign-in", data={"email": f"g{n}@nowhere.example", "password": "x"})
    assert response.status_code == 429
    page = text_of(response)
    assert "Too many attempts" in page
    assert re.search(r"Try again in (\d+ seconds|1 minute)\.", page), page


def test_the_console_homes_overdue_invoices_give_their_oldest_due_date_in_the_oldest_column(
    app: Flask,
    vendor: User,
    billing_staff: Any,
    signed_in: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor)
    after_due = datetime.combine(invoice.due_date + timedelta(days=10), time(15), tzinfo=UTC)
    with time_machine.travel(after_due, tick=False):
        page = signed_in(app.test_client(), billing_staff).get("/console/")
    home = text_of(page)
    # It gave "Oldest due ..." under the queue's name and "—" under *Oldest*.
    assert f"Overdue invoices 1 1 overdue due {invoice.due_date.isoformat()}" in home
    assert "Oldest due" not in home


def _left_with_a_deactivated_reviewer(reviewer: User) -> None:
    """Deactivated before deactivation released a reviewer's work: the rows as they
    were left, set directly."""
    db.session().execute(update(User).where(User.id == reviewer.id).values(is_active=False))
    db.session().commit()


def test_an_application_left_with_a_deactivated_reviewer_says_so_in_the_queue_and_on_its_page(
    apply: Any, vendor: User, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    reviewer = make_staff(db.session(), roles=("licensing",))
    kept = make_staff(db.session(), roles=("licensing",))
    left, assigned = apply(vendor, STAFF_USE), apply(vendor, STAFF_USE)
    office = Actor.of(accounts.principal_for(licensing_staff))
    agreements.assign(left.id, reviewer.id, office)
    agreements.assign(assigned.id, kept.id, office)
    _left_with_a_deactivated_reviewer(reviewer)
    staff = signed_in(app.test_client(), licensing_staff)
    queue = text_of(staff.get("/console/applications"))
    # It showed the name alone, as if the reviewer were still at work on it.
    assert f"{reviewer.full_name} (deactivated)" in queue
    assert f"{kept.full_name} (deactivated)" not in queue
    page = text_of(staff.get(f"/console/applications/{left.id}"))
    assert f"Assignee {reviewer.full_name} (deactivated)" in page
    other = text_of(staff.get(f"/console/applications/{assigned.id}"))
    assert f"Assignee {kept.full_name}" in other
    assert "(deactivated)" not in other


def test_a_permission_request_left_with_a_deactivated_reviewer_says_so_in_the_queue_and_on_its_page(
    app: Flask, admin: Any, signed_in: Any
) -> None:
    organization = factories.make_organization(db.session())
    reviewer = make_staff(db.session(), roles=("licensing",))
    routed = send_routed(routed_use(organization.id, "Bluefin", application_id=91001))
    permissions.assign([routed.id], reviewer.id, OFFICE)
    _left_with_a_deactivated_reviewer(reviewer)
    staff = signed_in(app.test_client(), admin)
    queue = text_of(staff.get("/console/permissions/"))
    assert f"{reviewer.full_name} (deactivated)" in queue
    page = text_of(staff.get(f"/console/permissions/{routed.id}"))
    assert f"Assignee {reviewer.full_name} (deactivated)" in page
