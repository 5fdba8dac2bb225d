"""Round 40: the stored words rounds 37 and 38 left (docs/journeys.md), each read
where its person reads it: a rate card comparison, a royalty report's unit refusal,
an up-front invoice's line, and the portal's and console's pages."""

from __future__ import annotations

import io
import json
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing.ratecards import services as ratecards
from tests.integration.exports.conftest import read_jsonl
from tests.integration.pricing.conftest import example_card, example_document  # noqa: F401
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    DATA_FILE,
    DEVELOPMENT,
    SMALL_SOFTWARE,
    SOFTWARE,
    active_agreement,
    file_report,
    period_url,
    previewed_csv,
    row,
)
from tests.support.agreements import up_front_invoice
from tests.support.factories import bearer
from tests.support.pages import text_of


def test_a_rate_card_comparison_says_a_rules_review_in_an_analysts_words(
    example_card: str,  # noqa: F811
    licensing_staff: Any,
    admin: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    # The comparison said "review from auto to staff", the card's stored values, and
    # quoted a changed description as Python does ("'The licensee\'s ...'").
    revision = example_document()
    revision["version"] = "2027.2"
    revision["rules"][2]["review"] = "staff"
    revision["rules"][2]["description"] = "The licensee's own development"
    # The check before publishing lists the same difference in the same words.
    checking = signed_in(app.test_client(), admin)
    checked = checking.post(
        "/console/rate-cards/",
        data={
            "card": (io.BytesIO(json.dumps(revision, default=str).encode()), "card.json"),
            "action": "check",
        },
        content_type="multipart/form-data",
    )
    assert "review from automatic approval to staff review." in text_of(checked)
    ratecards.import_card(revision, published_by="tests")
    staff: FlaskClient = signed_in(app.test_client(), licensing_staff)
    compared = text_of(staff.get(f"/console/rate-cards/compare?old={example_card}&new=2027.2"))
    assert (
        "Changed rule development: description from \u201cDevelop, test, maintain and "
        "service a product that uses CPT content\u201d to \u201cThe licensee's own "
        "development\u201d; review from automatic approval to staff review."
    ) in compared
    assert "from auto to staff" not in compared
    assert "'The licensee" not in compared

    # Going back the other way says it the other way round.
    back = text_of(staff.get(f"/console/rate-cards/compare?old=2027.2&new={example_card}"))
    assert "review from staff review to automatic approval." in back


def test_a_royalty_rows_unit_refusal_names_the_rule_by_its_description_and_id(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # "Line 1's rule (distribution-software) does not count members": the rule by its
    # id alone, where the period page above the form names it by its description.
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    software = "Installed, hosted and mobile software, per end user; rule distribution-software"
    data = "Data files, feeds and electronic publications, share of net revenue; rule "
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        content = (
            "line,customer_id,customer_name,country,unit,quantity,revenue\n"
            "1,A,Clinic A,US,members,3,\n"
            "1,B,Clinic B,US,end_users,3,100.00\n"
            "2,C,Clinic C,US,,,\n"
        )
        page = previewed_csv(client, agreement, 1, content)
        refused = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01/preview",
            json={
                "attest": True,
                "rows": [
                    row(1, "A", unit="members", quantity=3),
                    row(1, "B", revenue="100.00"),
                    row(2, "C", unit="", revenue=None),
                ],
            },
            headers=bearer(vendor),
        )
    text = text_of(page)
    assert (
        f"Line 1's rule ({software}) does not count members; the unit must be end_users "
        "(end users)."
    ) in text
    assert f"Line 1's rule ({software}) takes no share of revenue" in text
    assert f"line 2's rule ({data}" in text
    assert "rule (distribution-software)" not in text

    assert refused.status_code == 422, refused.get_data(as_text=True)
    errors = refused.get_json()["errors"]
    assert errors["rows.0.unit"] == [
        f"Line 1's rule ({software}) does not count members; the unit must be end_users "
        "(end users)."
    ]
    assert errors["rows.1.revenue"] == [
        f"Line 1's rule ({software}) takes no share of revenue; leave the revenue empty."
    ]
    assert errors["rows.2.revenue"][0].startswith(
        f"Give the revenue from this customer in the period: line 2's rule ({data}"
    )


def test_a_new_up_front_invoice_line_says_the_use_once(
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # "Scrubber Pro SDK: Develop, test, maintain or service a product; mobile app for
    # provider users (Develop, test, maintain and service a product that uses CPT
    # content; rule development)": the sample card's description says the use the
    # line had just said.
    agreement = active_agreement(
        vendor, {**DEVELOPMENT, "product_type": "mobile_app"}, SMALL_SOFTWARE
    )
    invoice = up_front_invoice(agreement)
    said = [
        "Scrubber Pro SDK: Develop, test, maintain or service a product; mobile app for "
        "provider users (rule development of rate card 2027.1)",
        # A description saying something else than the use is kept.
        "Scrubber Lite: Distribute a product to others (installed or hosted); SaaS for "
        "provider users (Installed, hosted and mobile software, per end user; rule "
        "distribution-software of rate card 2027.1)",
    ]
    assert [line.description for line in invoice.lines] == said
    answer = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(vendor)).get_json()
    assert [line["description"] for line in answer["lines"]] == said
    exported = client.get(
        "/api/v1/exports/invoice_lines",
        query_string={"format": "jsonl"},
        headers=bearer(billing_staff),
    )
    _, rows = read_jsonl(exported.get_data())
    assert [row["description"] for row in rows] == said


def test_a_royaltys_working_names_its_rule_by_its_description_on_the_pages(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    app: Flask,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # "How line 1 was computed: line 1, rule distribution-software of rate card
    # 2027.1: usage to date ...", on the report's page and the royalty invoice's: the
    # only place left where a page named a rule by its id alone.
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    filing = file_report(
        vendor, agreement, 1, [row(1, "A", quantity=60), row(2, "B", unit="", revenue="5000.00")]
    )
    assert filing.report is not None
    invoice = f"/invoices/{filing.report.invoice_id}"
    said = (
        "line 1, Installed, hosted and mobile software, per end user (rule "
        "distribution-software of rate card 2027.1): usage to date 60 end users"
    )
    signed_in(client, vendor)
    report = text_of(client.get(f"/portal/royalty-reports/report/{filing.report.id}"))
    assert said in report
    assert (
        "line 2, Data files, feeds and electronic publications, share of net revenue (rule "
        "distribution-data of rate card 2027.1): usage to date revenue 5,000.00"
    ) in report
    assert said in text_of(client.get(f"/portal{invoice}"))
    staff = signed_in(app.test_client(), billing_staff)
    assert said in text_of(staff.get(f"/console{invoice}"))
    # The stored working, which the API gives, keeps the id alone.
    answer = client.get(f"/api/v1{invoice}", headers=bearer(vendor)).get_json()
    assert (
        "line 1, rule distribution-software of rate card 2027.1: usage to date"
        in (answer["lines"][0]["working"])
    )


def test_an_applications_history_says_it_was_approved_automatically(
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    app: Flask,
    active_agreement: Any,  # noqa: F811
) -> None:
    # The review page's history read "Application auto approved": the stored "auto"
    # of a rule's review, where the rest of the page says "Automatic".
    agreement = active_agreement(vendor, SOFTWARE)
    staff = signed_in(app.test_client(), licensing_staff)
    page = text_of(staff.get(f"/console/applications/{agreement.application_id}"))
    assert "Application approved automatically" in page
    assert "auto approved" not in page
