"""Round 6's billing loose ends: what the billing walk found and first left alone."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.billing import services as billing
from licensing.references import ROYALTY_REPORT
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    SOFTWARE,
    active_agreement,
    file_report,
    lowered_by_amendment,
    row,
)
from tests.support.factories import bearer, billing_clerk
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]


def _export(client: FlaskClient, user: Any, query: str) -> list[dict[str, str]]:
    answer = client.get(f"/api/v1/exports/{query}", headers=bearer(user))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def test_a_credit_note_an_amendment_issued_reads_issued_by_the_system_on_that_report(
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # `issued_by` named the vendor user whose amendment lowered the royalty, as
    # if they had issued the office's credit note; the service issued it on the
    # amendment, and who filed the amendment is a fact of its own.
    agreement = active_agreement(vendor, SOFTWARE)
    lowered = lowered_by_amendment(file_report, vendor, agreement)
    assert lowered.report is not None
    rows = {
        row["credit_note_number"]: row for row in _export(client, billing_staff, "credit_notes")
    }
    for number in lowered.credit_notes:
        row = rows[number]
        assert row["issued_by"] == "system"
        assert row["royalty_report"] == ROYALTY_REPORT(lowered.report.id)
        assert row["report_filed_by"] == vendor.email
    assert list(rows[lowered.credit_notes[0]])[-4:] == [
        "royalty_report",
        "report_filed_by",
        "issued_by_name",  # round 60 (names60)
        "report_filed_by_name",
    ]


def test_a_credit_note_billing_staff_issued_still_names_them_and_no_report(
    client: FlaskClient, vendor: Any, billing_staff: Any, invoice_for: Any
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    clerk = billing_clerk()
    credit = billing.issue_credit_note(
        invoice.id, amount=Decimal("100.00"), reason="Goodwill", actor=clerk
    )
    rows = {
        row["credit_note_number"]: row for row in _export(client, billing_staff, "credit_notes")
    }
    row = rows[credit.number]
    assert row["issued_by"] == clerk.name
    assert row["royalty_report"] == ""
    assert row["report_filed_by"] == ""


def test_the_royalty_queue_shows_when_an_amended_period_was_first_filed_and_how_late(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The queue showed an amended period as filed when the amendment was: how late
    # the first filing was (due 2027-04-30, filed 2027-05-10) was only on the
    # superseded report's page.
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=3000)],
        now=datetime(2027, 5, 10, 15, tzinfo=UTC),
    )
    second = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=3100)],
        amends=first.report.id,
        reason="Clinic A had 3100 users",
        now=datetime(2027, 6, 1, 15, tzinfo=UTC),
    )
    assert second.report is not None
    with time_machine.travel(datetime(2027, 6, 2, 15, tzinfo=UTC), tick=False):
        listed = text_of(signed_in(client, licensing_staff).get("/console/royalty-reports"))
    assert (
        "first filed 2027-05-10 10:00 (US Central time), 10 days late; "
        "amended 2027-06-01 10:00 (US Central time)"
    ) in listed


def test_the_royalty_queue_shows_a_period_filed_once_as_filed_then(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=3000)],
        now=datetime(2027, 4, 20, 15, tzinfo=UTC),
    )
    with time_machine.travel(datetime(2027, 6, 2, 15, tzinfo=UTC), tick=False):
        listed = text_of(signed_in(client, licensing_staff).get("/console/royalty-reports"))
    assert "filed 2027-04-20 10:00 (US Central time)" in listed
    assert "first filed" not in listed
    assert "amended" not in listed


def test_an_export_argument_given_twice_is_a_400_naming_it_never_the_first_taken(
    client: FlaskClient, billing_staff: Any
) -> None:
    # `?from=2026-11-01&from=2026-12-01` exported from the first day given, without
    # a word that the second was dropped.
    answer = client.get(
        "/api/v1/exports/invoices?state=open&state=paid&from=2026-11-01",
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 400
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["errors"] == {
        "query.state": ["Give state once: it takes one value, and it was given 2 times."]
    }


def test_a_list_argument_given_twice_on_the_api_is_honoured(
    client: FlaskClient, licensing_staff: Any
) -> None:
    # `state` on the agreements list is a list: each value counts.
    answer = client.get(
        "/api/v1/agreements?state=active&state=expired", headers=bearer(licensing_staff)
    )
    assert answer.status_code == 200


def test_a_page_argument_given_twice_is_a_400_naming_it(
    client: FlaskClient, billing_staff: Any
) -> None:
    answer = client.get("/api/v1/exports?page=1&page=2", headers=bearer(billing_staff))
    assert answer.status_code == 400
    assert "query.page" in answer.get_json()["errors"]


def test_the_exports_page_refuses_an_argument_given_twice_beside_its_field(
    client: FlaskClient, signed_in: SignIn, billing_staff: Any
) -> None:
    page = signed_in(client, billing_staff).get(
        "/console/exports?dataset=invoices&format=csv&from=2026-11-01&from=2026-12-01"
    )
    assert page.status_code == 400
    assert page.mimetype == "text/html"
    # It said "Give from once", the address's name, beside the field labelled From.
    said = "From takes one value, and the link gave it 2: choose one and filter again."
    assert said in text_of(page)
    assert "Give from once" not in text_of(page)


def test_the_finance_page_refuses_a_month_given_twice_beside_its_field(
    client: FlaskClient, signed_in: SignIn, billing_staff: Any
) -> None:
    page = signed_in(client, billing_staff).get("/console/finance/?from=2026-11&from=2026-12")
    assert page.status_code == 400
    said = "First month takes one value, and the link gave it 2: choose one and filter again."
    assert said in text_of(page)
    assert "Give from once" not in text_of(page)


def test_the_invoice_list_refuses_a_state_given_twice_beside_its_field(
    client: FlaskClient, signed_in: SignIn, vendor: Any, billing_staff: Any, invoice_for: Any
) -> None:
    # `?state=open&state=paid` listed the open invoices only, as if none were paid.
    invoice = invoice_for(vendor, ("1000.00",))
    console = signed_in(client, billing_staff)
    page = console.get("/console/invoices?state=open&state=paid")
    assert page.status_code == 400
    text = text_of(page)
    assert "State takes one value, and the link gave it 2: choose one and filter again." in text
    assert invoice.number not in text
    assert invoice.number in text_of(console.get("/console/invoices?state=open"))
