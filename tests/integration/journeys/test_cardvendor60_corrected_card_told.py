"""Round 60 (cardvendor60): the licensee told, on its agreement page and in the API's
agreement, when the rate card its agreement was priced on was corrected
(docs/journeys.md): cardwalk60 told the office alone."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient

from licensing import calendar, db
from licensing.mail import services as mail
from licensing.ratecards import services
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import agreement_of, make_active_agreement
from tests.support.factories import bearer
from tests.support.openapi import answered_as_documented, served_document


def _words(page: str) -> str:
    """The page's text, as read: tags dropped, spaces collapsed."""
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    return words.replace(" ,", ",").replace("( ", "(").replace(" )", ")")


def _correction() -> dict[str, Any]:
    """2027.2: 2027.1 for the same days, its software price above 1,000 end users
    corrected from 12.00 to 10.00 (2,500 end users: 33,800.00 then, 30,800.00 now)."""
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][5]["model"]["tiers"][2]["unit_price"] = "10.00"
    return document


def _published_on() -> str:
    """The office's day the correction was published, as the API gives it."""
    from licensing.ratecards import queries

    replaced = queries.catalogue(db.session()).replacement("2027.1")
    assert replaced is not None
    return calendar.office_date(replaced[1]).isoformat()


def _replaced_by() -> dict[str, Any]:
    """`rate_card_replaced_by` of an agreement for 2027 once 2027.2 corrected 2027.1 for
    the same days (round 61 added the days, and whether they are the whole term and
    card)."""
    return {
        "versions": ["2027.2"],
        "published_on": _published_on(),
        "days": [{"version": "2027.2", "first": "2027-01-01", "last": "2027-12-31"}],
        "whole_term": True,
        "whole_card": True,
    }


def test_the_licensee_reads_on_its_accepted_agreement_that_its_card_was_corrected(
    client: FlaskClient, signed_in: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    signed_in(client, vendor)
    page = client.get(f"/portal/agreements/{agreement.id}").get_data(as_text=True)
    assert 'id="card-corrected"' not in page  # its card is in use
    assert (
        client.get(f"/api/v1/agreements/{agreement.id}", headers=bearer(vendor)).get_json()[
            "rate_card_replaced_by"
        ]
        is None
    )

    services.import_card(_correction(), published_by="tests")
    # Before: the portal's page named "Rate card 2027.1" and nothing of the correction.
    page = client.get(f"/portal/agreements/{agreement.id}").get_data(as_text=True)
    words = _words(page)
    assert "Its rate card was corrected" in words
    assert "Rate card 2027.1, on which this agreement was priced, was corrected on " in words
    assert ", by rate card 2027.2, published for the same days." in words
    assert (
        "You accepted this agreement, so its prices stay as agreed: its invoices, and your "
        "royalty reports for every period of its term, are priced on 2027.1. They change "
        "only if the licensing office issues a credit note against an invoice."
    ) in words
    office = mail.sender_address()
    assert (
        f"To ask about the correction and your prices, contact the licensing office at "
        f"{office} (or reply to any of its emails), naming agreement {agreement.number}."
    ) in words
    assert f'href="mailto:{office}"' in page
    # The day in words, in a <time> keeping ISO.
    assert re.search(r'corrected on <time datetime="\d{4}-\d\d-\d\d">', page)
    # None of the office's figures or steps: the correction's prices, the difference,
    # the credit note's invoices link, terminating.
    assert "30,800.00" not in words
    assert "3,000.00" not in words
    assert "Priced on a replaced rate card" not in words
    assert "/console/" not in page

    answer = client.get(f"/api/v1/agreements/{agreement.id}", headers=bearer(vendor))
    # As the served document declares it (a nullable object of the versions and day).
    document = served_document(client)
    body = answered_as_documented(document, "get", "/api/v1/agreements/{agreement_id}", answer)
    assert body["rate_card_replaced_by"] == _replaced_by()
    declared = document["components"]["schemas"]["Agreement"]["properties"]
    assert "rate_card_replaced_by" in declared
    (listed,) = [
        row
        for row in client.get("/api/v1/agreements", headers=bearer(vendor)).get_json()
        if row["id"] == agreement.id
    ]
    assert listed["rate_card_replaced_by"] == answer.get_json()["rate_card_replaced_by"]


def test_an_agreement_awaiting_acceptance_tells_the_licensee_the_office_may_reissue_it(
    client: FlaskClient, signed_in: Any, vendor: Any, apply: Any
) -> None:
    issued = agreement_of(apply(vendor, AUTO_USE))
    assert issued.state == "issued"
    services.import_card(_correction(), published_by="tests")
    signed_in(client, vendor)
    words = _words(client.get(f"/portal/agreements/{issued.id}").get_data(as_text=True))
    assert (
        "This agreement's prices stay as issued on 2027.1 unless the licensing office "
        "reissues it on 2027.2: a new agreement, with a new number, for the same uses and "
        "term, which replaces this one, and which you would then accept instead. Accepting "
        "this one agrees to its prices as they are."
    ) in words
    assert "Accept the agreement" in words  # the acceptance is offered as before
    answer = client.get(f"/api/v1/agreements/{issued.id}", headers=bearer(vendor)).get_json()
    assert answer["rate_card_replaced_by"] == _replaced_by()


def test_another_organizations_agreement_stays_404_after_the_correction(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    example_card: str,
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    services.import_card(_correction(), published_by="tests")
    signed_in(client, other_vendor)
    assert client.get(f"/portal/agreements/{agreement.id}").status_code == 404
    answer = client.get(f"/api/v1/agreements/{agreement.id}", headers=bearer(other_vendor))
    assert answer.status_code == 404
    assert "2027.2" not in answer.get_data(as_text=True)
    listed = client.get("/api/v1/agreements", headers=bearer(other_vendor)).get_json()
    assert all(row["id"] != agreement.id for row in listed)
