"""Issue 15, item 1: a renewal always leads somewhere: priced on the card in effect,
or, when none is published for its year, submitted for staff to price by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient

from licensing import db
from licensing.agreements.models import Agreement, Application
from licensing.pricing import Quote
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.integration.pricing.conftest import card_document
from tests.support.agreements import accept, agreement_of, renewal_window
from tests.support.factories import bearer


def _active(apply: Callable[..., Application], vendor: Any) -> Agreement:
    return accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)


def _renew_and_submit(client: FlaskClient, vendor: Any, agreement: Agreement) -> Any:
    with time_machine.travel(renewal_window(agreement), tick=False):
        renewal = client.post(f"/api/v1/agreements/{agreement.id}/renewal", headers=bearer(vendor))
    assert renewal.status_code == 201, renewal.get_json()
    return client.post(
        f"/api/v1/applications/{renewal.get_json()['id']}/submit",
        json={"attest": True},
        headers=bearer(vendor),
    )


@pytest.mark.usefixtures("in_december_2026")  # 2027's days, before 2028
def test_a_renewal_with_no_card_for_its_year_is_submitted_for_staff_pricing(
    client: FlaskClient, apply: Callable[..., Application], vendor: Any
) -> None:
    submitted = _renew_and_submit(client, vendor, _active(apply, vendor))
    assert submitted.status_code == 200, submitted.get_json()
    body = submitted.get_json()
    assert body["state"] == "submitted"
    assert body["total"] is None  # to be priced, not 0.00
    application = db.session().get(Application, body["id"])
    quote = Quote.from_snapshot(application.quotes[-1].snapshot)
    assert [(line.review, line.amount) for line in quote.lines] == [("staff", None)]
    assert (
        "no rate card in USD is published yet for a term starting 2028-01-01"
        in (quote.lines[0].explanation[0])
    )


def test_a_renewal_is_priced_on_the_card_in_effect_when_one_is_published(
    client: FlaskClient, apply: Callable[..., Application], vendor: Any
) -> None:
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )
    submitted = _renew_and_submit(client, vendor, _active(apply, vendor))
    body = submitted.get_json()
    assert body["total"] == "33800.00"
    assert body["state"] == "approved"  # every line auto: approved at once
