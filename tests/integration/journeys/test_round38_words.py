"""Round 38: the stored words round 37 left (docs/journeys.md), each read where its
person reads it: the staff rate card pages, the royalty templates, an up-front
invoice's line."""

from __future__ import annotations

import html
import json
import re
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
    SOFTWARE,
    active_agreement,
    row,
)
from tests.support.agreements import up_front_invoice
from tests.support.factories import bearer
from tests.support.pages import text_of


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_rate_card_pages_say_whom_a_rule_applies_to_in_the_forms_words(
    example_card: str,  # noqa: F811
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    # The Applies to column read "distribution of software, SaaS or mobile app
    # products" and "any use by nonprofit or academic organizations": the stored
    # words with spaces, where the forms offer "Distribute a product to others
    # (installed or hosted)" and "Non-profit organization".
    staff: FlaskClient = signed_in(app.test_client(), licensing_staff)
    page = _words(staff.get(f"/console/rate-cards/{example_card}").get_data(as_text=True))
    rules = page.split("Rules, in order")[1].split("Compare with another version")[0]
    assert (
        "distribution-software Installed, hosted and mobile software, per end user "
        "Use: Distribute a product to others (installed or hosted); product type: Software, "
        "SaaS or Mobile app Per end user"
    ) in rules
    assert (
        "Use: Distribute a product to others (installed or hosted); who uses the product: Payer"
        in (rules)
    )
    assert (
        "Use: Education or training material; organization type: Academic institution, "
        "Non-profit organization or Individual"
    ) in rules
    assert "Use: Develop, test, maintain or service a product Flat fee" in rules
    assert "nonprofit Organization type: Non-profit organization or Academic institution 20%" in (
        rules
    )
    for stored in (
        "distribution of",
        "mobile app products",
        "nonprofit or academic",
        "payer users",
    ):
        assert stored not in rules

    # A difference between two versions says the condition the same way.
    revision = example_document()
    revision["version"] = "2027.2"
    revision["rules"][5]["when"]["product_type"] = ["software", "saas"]
    ratecards.import_card(revision, published_by="tests")
    compared = _words(
        staff.get(f"/console/rate-cards/compare?old={example_card}&new=2027.2").get_data(
            as_text=True
        )
    )
    assert (
        "Changed rule distribution-software: applies to use: Distribute a product to others "
        "(installed or hosted); product type: Software or SaaS (was use: Distribute a product "
        "to others (installed or hosted); product type: Software, SaaS or Mobile app)."
    ) in compared

    # The card's JSON download, and the API, keep the stored words staff write cards in.
    download = json.loads(staff.get("/console/rate-cards/2027.2/card.json").get_data(as_text=True))
    assert download["rules"][5]["when"] == {
        "product_type": ["software", "saas"],
        "use": "distribution",
    }


def test_the_csv_templates_help_says_which_unit_each_line_takes_and_refusals_say_it_in_words(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # The period page listed each line as counting "end users per customer" and the
    # CSV's columns as "line,...,unit,..."; nothing said the file's unit cell takes
    # `end_users`, and a row without its quantity was told "Give the quantity of
    # end_users." The template's header and cells stay as a machine reads them.
    agreement = active_agreement(vendor, SOFTWARE, DATA_FILE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/royalty-reports/{agreement.id}/2027-01-01"))
        page = re.sub(r" ([;.])", r"\1", page)  # the space a closing tag left
        assert "Columns: line,customer_id,customer_name,country,unit,quantity,revenue" in page
        assert (
            "In the file, line is the line's number and unit the quantity's name as the "
            "template writes it: line 1, end_users (end users) with its quantity; line 2, "
            "empty, with the revenue. country is the two-letter code (US), revenue an "
            "amount such as 5000.00."
        ) in page
        refused = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01/preview",
            json={
                "attest": True,
                "rows": [
                    row(1, "A"),
                    row(1, "B", unit="members", quantity=3),
                    row(1, "C", unit=""),
                ],
            },
            headers=bearer(vendor),
        )
    assert refused.status_code == 422, refused.get_data(as_text=True)
    errors = refused.get_json()["errors"]
    assert errors["rows.0.quantity"] == ["Give the quantity of end users."]
    assert errors["rows.1.unit"] == [
        "Line 1's rule (Installed, hosted and mobile software, per end user; rule "
        "distribution-software) does not count members; the unit must be end_users (end users)."
    ]
    assert errors["rows.2.unit"] == ["Give the unit: line 1's rule counts end_users (end users)."]


def test_an_up_front_invoice_line_reads_in_the_forms_words_with_its_rules_description(
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # "Scrubber Pro SDK: development of mobile app (rule development)": the use and
    # product type in stored words and the rule by its id, where the agreement the
    # licensee accepted says the use as the form offers it and the rule's description.
    agreement = active_agreement(vendor, {**DEVELOPMENT, "product_type": "mobile_app"})
    invoice = up_front_invoice(agreement)
    # Round 40: the card's description said the use again and is left out.
    said = (
        "Scrubber Pro SDK: Develop, test, maintain or service a product; mobile app for "
        "provider users (rule development of rate card 2027.1)"
    )
    assert [line.description for line in invoice.lines] == [said]
    answer = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(vendor)).get_json()
    assert [line["description"] for line in answer["lines"]] == [said]
    # The invoice lines export carries it as free text; the use stays in its own column.
    exported = client.get(
        "/api/v1/exports/invoice_lines",
        query_string={"format": "jsonl"},
        headers=bearer(billing_staff),
    )
    _, rows = read_jsonl(exported.get_data())
    assert [(row["use"], row["description"]) for row in rows] == [("development", said)]
