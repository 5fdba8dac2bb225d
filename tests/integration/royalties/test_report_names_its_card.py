"""Cardcheck54: a royalty report names the rate card it is priced on where an analyst
reads its total. Only each line's *How line N was computed* named it ("rule
distribution-software of rate card 2027.1"); the table with the total, the preview's
included, and the API's report did not. It is the agreement's card (the royalty
contract), even once a correction replaces that card for every day of its period."""

from __future__ import annotations

import json
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.ratecards import services as ratecards
from tests.integration.pricing.conftest import example_document
from tests.integration.royalties.conftest import AFTER, SOFTWARE, period_url, row, typed
from tests.support.factories import bearer
from tests.support.pages import text_of

CAPTION = "The royalty, line by line, to date, priced on rate card 2027.1 (the agreement's)"


def _correct_2027_1() -> None:
    """2027.2: 2027.1 for the same days, its development fee changed: quotes naming
    no card are priced on it from now on, the agreement's royalties are not."""
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][2]["model"]["amount"] = "2750.00"
    ratecards.import_card(document, published_by="tests")


def test_the_reports_total_names_the_agreements_card_on_the_page_and_the_api(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    _correct_2027_1()
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    report_id = filed.report.id
    with time_machine.travel(AFTER[2], tick=False):
        answer = client.get(f"/api/v1/royalty-reports/{report_id}", headers=bearer(vendor))
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["rate_card"] == "2027.1"
        assert "rate card 2027.1" in json.dumps(answer.get_json()["lines"][0]["explanation"])
        signed_in(client, vendor)
        assert CAPTION in text_of(client.get(f"/portal/royalty-reports/report/{report_id}"))
        signed_in(client, licensing_staff)
        assert CAPTION in text_of(client.get(f"/console/royalty-reports/{report_id}"))


def test_a_previews_total_names_the_card_too(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        rows = typed(row(1, "A", quantity=60))
        signed_in(client, vendor)
        preview = client.post(
            period_url(agreement, 1), data={"mode": "form", "action": "preview", **rows}
        )
        assert CAPTION in text_of(preview)
        body = {"attest": True, "rows": [row(1, "A", quantity=60)]}
        answer = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01/preview",
            json=body,
            headers=bearer(vendor),
        )
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["rate_card"] == "2027.1"
