"""Round 56: one rule for a page's query argument given twice (`licensing.arguments`):
refused (400), never read as its first value. A page whose form shows the argument
says it beside the field, as every list's filters do (round 7); an argument no field
shows (a list's organization, a report's month, the cards compared) is the 400 page
saying it in the same words. Round 55 found the statement page answering a day given
twice with 422 (its first day was taken, then checked); the API answers 400."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.mail.models import OutboxMessage
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture

CALL = datetime(2027, 3, 15, 15, 0, tzinfo=UTC)
TWICE = "takes one value, and the link gave it 2: choose one and filter again."


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _beside(page: str, field_id: str) -> str:
    found = re.search(rf'id="{field_id}-error">([^<]*)<', page)
    assert found, f"no message beside {field_id}"
    return found.group(1)


@pytest.mark.parametrize("name", ["from", "to", "currency"])
def test_the_console_statement_refuses_a_field_given_twice_beside_it_with_400(
    name: str, app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    query = {"from": "2027-01-01", "to": "2027-03-15", "currency": "USD"}
    given = "&".join(f"{key}={value}" for key, value in query.items())
    given += f"&{name}={query[name]}"  # the same value again: still refused
    base = f"/console/organizations/{vendor.organization_id}/statement"
    with time_machine.travel(CALL, tick=False):
        clerk = signed_in(app.test_client(), billing_staff)
        shown = clerk.get(f"{base}?{given}")
        pdf = clerk.get(f"{base}.pdf?{given}")
        emailed = clerk.post(f"{base}/email?{given}")
    label = {"from": "From", "to": "To", "currency": "Currency"}[name]
    for answer in (shown, pdf, emailed):
        assert answer.status_code == 400
        assert answer.mimetype == "text/html"
        page = _page(answer)
        assert f"{label} {TWICE}" in page
        assert "Closing balance" not in page  # no statement shown
    assert db.session().scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_the_vendors_statement_refuses_a_day_given_twice_as_the_console_does(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User
) -> None:
    with time_machine.travel(CALL, tick=False):
        browser = signed_in(app.test_client(), vendor)
        shown = browser.get("/portal/statement?from=2027-01-01&from=2027-02-01")
        pdf = browser.get("/portal/statement.pdf?from=2027-01-01&from=2027-02-01")
    for answer in (shown, pdf):
        assert answer.status_code == 400
        assert f"From {TWICE}" in _page(answer)
    assert f"From {TWICE}" in _beside(_page(shown), "from")


def test_a_list_narrowed_to_an_organization_given_twice_is_refused(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    admin: User,
    vendor: User,
    other_vendor: User,
) -> None:
    staff = signed_in(app.test_client(), admin)
    twice = f"organization={vendor.organization_id}&organization={other_vendor.organization_id}"
    for path in ("/console/invoices", "/console/agreements", "/console/applications"):
        answer = staff.get(f"{path}?{twice}")
        assert answer.status_code == 400, path
        assert f"Organization {TWICE}" in _page(answer), path
        once = staff.get(f"{path}?organization={vendor.organization_id}")
        assert once.status_code == 200, path


def test_the_vendors_overdue_invoices_link_given_twice_is_refused(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User
) -> None:
    browser = signed_in(app.test_client(), vendor)
    answer = browser.get("/portal/invoices?overdue=1&overdue=0")
    assert answer.status_code == 400
    assert f"Overdue only {TWICE}" in _page(answer)
    assert browser.get("/portal/invoices?overdue=1").status_code == 200


def test_the_monthly_report_refuses_its_month_or_currency_given_twice(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    clerk = signed_in(app.test_client(), billing_staff)
    for query, label in (
        ("month=2027-01&month=2027-02&currency=USD", "Month"),
        ("month=2027-01&currency=USD&currency=EUR", "Currency"),
    ):
        answer = clerk.get(f"/console/finance/report.pdf?{query}")
        assert answer.status_code == 400
        assert answer.mimetype == "text/html"
        assert f"{label} {TWICE}" in _page(answer)


def test_the_rate_card_comparison_refuses_a_version_given_twice(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    licensing_staff: User,
    example_card: str,  # noqa: F811 - the fixture
) -> None:
    staff = signed_in(app.test_client(), licensing_staff)
    answer = staff.get(
        f"/console/rate-cards/compare?old={example_card}&old={example_card}&new={example_card}"
    )
    assert answer.status_code == 400
    assert f"Earlier version {TWICE}" in _page(answer)


def test_the_move_search_on_a_users_page_given_twice_is_refused(
    app: Flask, signed_in: Callable[..., FlaskClient], admin: User, vendor: User
) -> None:
    staff = signed_in(app.test_client(), admin)
    answer = staff.get(f"/console/users/{vendor.id}?move_search=a&move_search=b")
    assert answer.status_code == 400
    assert f"Search organizations {TWICE}" in _page(answer)
    assert staff.get(f"/console/users/{vendor.id}?move_search=a").status_code == 200


def test_the_invoice_list_narrowed_to_an_agreement_given_twice_is_refused(
    app: Flask, signed_in: Callable[..., FlaskClient], admin: User
) -> None:
    """Round 56's merge: the console's invoice list by agreement (walk56) met the rule
    security56 gave every argument no form field shows: given twice, the 400 page
    naming it, never the first agreement's invoices listed."""
    staff = signed_in(app.test_client(), admin)
    answer = staff.get("/console/invoices?agreement=CPT-2026-000001&agreement=CPT-2026-000002")
    assert answer.status_code == 400
    assert f"Agreement {TWICE}" in _page(answer)
    assert staff.get("/console/invoices?agreement=CPT-2026-000001").status_code == 200
