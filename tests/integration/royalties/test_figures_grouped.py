"""The royalty intake says its counts and limits as pages write figures (round 13):
"12,000 rows", "At most 2,000 characters.", where it said "12000 rows" beside a
page that said every other count grouped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.billing.models import Invoice
from licensing.errors import Conflict, InvalidInput
from licensing.royalties import services
from licensing.royalties.models import REASON_MAX, REVIEW_NOTE_MAX, RoyaltyReport
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    SOFTWARE,
    active_agreement,
    file_report,
    period_url,
    row,
)
from tests.support.billing import credited
from tests.support.factories import staff_actor
from tests.support.pages import text_of


def test_a_large_reports_row_count_reads_grouped_on_its_pages(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=10)]).report
    # As if uploaded with 12,000 rows: the pages read the count the report keeps.
    db.session().execute(
        update(RoyaltyReport).where(RoyaltyReport.id == report.id).values(row_count=12000)
    )
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        own = text_of(client.get(f"/portal/royalty-reports/report/{report.id}"))
        period = text_of(client.get(period_url(agreement, 1)))
        signed_in(client, licensing_staff)
        staff = text_of(client.get(f"/console/royalty-reports/{report.id}"))
    for page in (own, staff):
        assert ", 12,000 rows)" in page  # was "12000 rows"
        assert "Download the 12,000 rows as filed (CSV)" in page
    assert f"Report {report.reference} has 12,000 rows, more than the form takes" in period


def test_an_amendments_reason_and_a_review_note_name_their_limit_grouped(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=10)]).report
    with pytest.raises(InvalidInput) as reason:
        file_report(
            vendor,
            agreement,
            1,
            [row(1, "A", quantity=20)],
            amends=report.id,
            reason="r" * (REASON_MAX + 1),
        )
    assert reason.value.errors["reason"] == ["At most 2,000 characters."]
    with pytest.raises(InvalidInput) as note:
        services.review(
            report.id, "request_correction", staff_actor(), note="n" * (REVIEW_NOTE_MAX + 1)
        )
    assert note.value.errors == {"note": ["At most 2,000 characters."]}


def test_an_amendment_lowering_the_royalty_beyond_what_is_left_to_credit_names_the_amount(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # It said "lowers the royalty by 1200.00, more than ...": no grouping, no currency.
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)]).report
    invoice = db.session().get(Invoice, first.invoice_id)
    assert invoice is not None
    credited(invoice.id, str(invoice.total - 1), "Goodwill", now=AFTER[1])
    with pytest.raises(Conflict) as refused:
        file_report(
            vendor,
            agreement,
            1,
            [row(1, "A", quantity=2900)],
            amends=first.id,
            reason="Clinic A had 2900 users",
        )
    assert str(refused.value) == (
        "The report lowers the royalty by 1,200.00 USD, more than the agreement's royalty "
        "invoices leave to credit; ask billing staff."
    )
