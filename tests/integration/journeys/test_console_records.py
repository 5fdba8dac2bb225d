"""Issue 15, item 16: the application queue searches and shows uses, products and
the age against the review target; the organization page lists the
organization's records; audit rows name and link their records; an audit filter
that finds nothing says why."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.agreements.queries import agreement_for_application, review_level
from licensing.audit.models import AuditEvent
from licensing.words import USE_LABELS
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE


def _rows(page: str) -> list[str]:
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    rows = body.split("<tr")[1:]
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


def test_the_queue_finds_applications_by_reference_organization_or_product(
    client: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    apply: Any,
    signed_in: Any,
) -> None:
    mine = apply(vendor, STAFF_USE)
    theirs = apply(other_vendor, {**STAFF_USE, "product_name": "Quillon Audit Feed"})
    theirs_name = theirs.organization.legal_name
    signed_in(client, licensing_staff)

    def found(query: str) -> list[str]:
        page = client.get("/console/applications", query_string={"q": query})
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        return [] if "<tbody>" not in text else _rows(text)

    assert [mine.reference in row for row in found(mine.reference)] == [True]
    # A bare number finds the reference; it may also match digits in other
    # organizations' or products' names (the invented names carry numbers).
    assert any(mine.reference in row for row in found(str(mine.id)))
    assert [theirs.reference in row for row in found("quillon")] == [True]
    assert [theirs.reference in row for row in found(theirs_name[:8])] == [True]
    assert found("no such thing anywhere") == []


def test_queue_rows_show_uses_products_and_the_age_against_the_review_target(
    client: FlaskClient, app: Any, vendor: Any, licensing_staff: Any, apply: Any, signed_in: Any
) -> None:
    application = apply(vendor, STAFF_USE, AUTO_USE)
    signed_in(client, licensing_staff)
    page = client.get("/console/applications").get_data(as_text=True)
    [row] = [r for r in _rows(page) if application.reference in r]
    assert f"Fernhill Code Feed · {USE_LABELS['distribution']}; data file" in row
    assert "Scrubber Pro" in row
    target = app.config["LICENSING"].application_review_sla_days
    level = review_level(application, db.utcnow(), target_days=target)
    age = calendar.business_days_between(
        calendar.office_date(NOW), calendar.office_date(db.utcnow())
    )
    assert level.age_days == age
    assert f"{age} of {target}" in row
    assert ("overdue" in row) == (age > target)


def test_the_organization_page_lists_applications_invoices_and_the_balance(
    client: FlaskClient, vendor: Any, admin: Any, apply: Any, invoice_for: Any, signed_in: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    invoice = invoice_for(vendor, amounts=("1200.00",))
    signed_in(client, admin)
    page = client.get(f"/console/organizations/{vendor.organization_id}").get_data(as_text=True)
    assert f'href="/console/applications/{application.id}">{application.reference}</a>' in page
    assert f'href="/console/invoices/{invoice.id}">{invoice.number}</a>' in page
    assert 'Balance owed:</strong> <span class="money">1,200.00 USD</span>' in page
    for heading in ("Applications", "Agreements", "Invoices", "Royalty reports"):
        assert f">{heading}</h2>" in page


def test_audit_rows_name_their_records_by_reference_and_link_to_them(
    client: FlaskClient, vendor: Any, admin: Any, apply: Any, invoice_for: Any, signed_in: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    invoice = invoice_for(vendor)
    signed_in(client, admin)
    page = client.get("/console/audit").get_data(as_text=True)
    assert f'<a href="/console/applications/{application.id}">{application.reference}</a>' in page
    assert f'<a href="/console/invoices/{invoice.id}">{invoice.number}</a>' in page
    by_reference = client.get("/console/audit", query_string={"entity_id": application.reference})
    rows = _rows(by_reference.get_data(as_text=True))
    assert rows
    assert all(application.reference in row for row in rows)


def test_an_audit_filter_that_finds_nothing_says_why(
    client: FlaskClient, vendor: Any, admin: Any, apply: Any, invoice_for: Any, signed_in: Any
) -> None:
    apply(vendor, STAFF_USE)
    invoice_for(vendor)
    events = db.session().scalars(select(AuditEvent)).all()
    invoice_action = next(e.action for e in events if e.entity_type == "invoice")
    signed_in(client, admin)

    def why(**query: str) -> str:
        return _rows(client.get("/console/audit", query_string=query).get_data(as_text=True))[0]

    assert "No actor's name or email address contains 'nobody-here'." in why(actor="nobody-here")
    assert "a reference such as APP-000042" in why(entity_id="APP-X")
    assert "is after To" in why(since="2026-05-02", until="2026-05-01")
    assert "no event matches all of them together" in why(
        entity_type="application", action=invoice_action
    )
    # A record type reads by its name, as inside a sentence (once "outbox message",
    # "api token" and "user 999", the column's identifiers).
    assert "No event is about outbox message 999." in why(
        entity_type="outbox_message", entity_id="999"
    )
    assert "No event is about API token 999." in why(entity_type="api_token", entity_id="999")
    assert "No event is about user account 999." in why(entity_type="user", entity_id="999")
    assert "No event is about any payment reversal." in why(entity_type="payment_reversal")


def test_an_agreement_links_its_application_for_staff_and_for_the_vendor(
    client: FlaskClient, vendor: Any, licensing_staff: Any, apply: Any, signed_in: Any
) -> None:
    application = apply(vendor, AUTO_USE)  # approved automatically: the agreement is issued
    agreement = agreement_for_application(db.session(), application.id)
    assert agreement is not None
    signed_in(client, licensing_staff)
    page = client.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
    assert f'<a href="/console/applications/{application.id}">{application.reference}</a>' in page
    client.post("/sign-out")
    signed_in(client, vendor)
    page = client.get(f"/portal/agreements/{agreement.id}").get_data(as_text=True)
    assert f'<a href="/portal/applications/{application.id}">{application.reference}</a>' in page
