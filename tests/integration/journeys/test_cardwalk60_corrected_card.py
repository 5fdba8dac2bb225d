"""Round 60 (cardwalk60): what a rate card manager reads of a correction once a
licensee has accepted an agreement priced on the wrong card (docs/journeys.md)."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.agreements import services as agreements
from licensing.ratecards import services
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import agreement_of, make_active_agreement


def _words(page: str) -> str:
    """The page's text, as read: tags dropped, spaces collapsed, none a tag left
    before a comma or inside brackets."""
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    return words.replace(" ,", ",").replace("( ", "(").replace(" )", ")")


def _correction() -> dict[str, Any]:
    """2027.2: 2027.1 for the same days, its software price above 1,000 end users
    corrected from 12.00 to 10.00 (2,500 end users: 33,800.00 then, 30,800.00 now)."""
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][5]["model"]["tiers"][2]["unit_price"] = "10.00"
    return document


def _card_file(document: dict[str, Any], action: str) -> dict[str, Any]:
    return {
        "card": (io.BytesIO(json.dumps(document).encode()), "card.json"),
        "action": action,
    }


def test_an_accepted_agreement_on_a_corrected_card_says_it_keeps_its_prices_and_the_corrections(
    client: FlaskClient, signed_in: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    signed_in(client, licensing_staff)
    page = client.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
    assert 'id="kept-prices"' not in page  # its card is in use

    services.import_card(_correction(), published_by="tests")
    # Before: the page named "Rate card 2027.1" alone, and the wrong card's page said
    # "accepted: its fees stay", though every royalty report of the term is priced on it.
    page = client.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
    words = _words(page)
    assert "Priced on a replaced rate card" in words
    assert ("Rate card 2027.1, which priced this agreement, was replaced by 2027.2 on ") in words
    assert (
        "The licensee accepted this agreement, so it keeps the prices of 2027.1: its "
        "invoices, and the royalty reports of every period of its term, are priced on "
        "2027.1, the agreement's card."
    ) in words
    assert (
        "On 2027.2 its uses come to 30,800.00 USD, 3,000.00 USD less than its 33,800.00 USD "
        "(royalties on usage priced on the application's estimates; reported usage decides "
        "them)."
    ) in words
    assert "1. Scrubber Pro 33,800.00 USD 30,800.00 USD" in words
    assert (
        "To charge the corrected prices, issue a credit note for the difference on each of "
        "its invoices as they are issued, or terminate it below, giving the reason, and let "
        "the licensee apply again."
    ) in words
    # The day is in words, in a <time> keeping ISO (round 57's rule for sentences).
    assert re.search(r'replaced by 2027\.2 on <time datetime="\d{4}-\d\d-\d\d">', page)

    card = client.get("/console/rate-cards/2027.1").get_data(as_text=True)
    assert f'href="/console/agreements/{agreement.id}#kept-prices"' in card
    assert (
        f"accepted: its fees stay ({agreement.number} on the corrected card, and what to do)"
    ) in _words(card)
    assert re.search(r'Replaced by 2027\.2 on <time datetime="\d{4}-\d\d-\d\d">', card)


def test_an_agreement_awaiting_acceptance_is_offered_the_reissue_not_told_of_kept_prices(
    vendor: Any, licensing_staff: Any, apply: Any
) -> None:
    application = apply(vendor, AUTO_USE)
    issued = agreement_of(application)
    assert issued.state == "issued"
    services.import_card(_correction(), published_by="tests")
    assert agreements.kept_prices(db.session(), issued) is None
    assert agreements.reissue_offer(db.session(), issued) is not None


def test_publishing_a_correction_says_what_it_replaces_and_that_its_records_keep_their_prices(
    client: FlaskClient, signed_in: Any, admin: Any, example_card: str
) -> None:
    signed_in(client, admin)
    # Before: "Rate card 2027.2 published." alone (or, before its first day, from when
    # and what prices a term starting today: the words asserted follow either).
    answer = client.post(
        "/console/rate-cards/",
        data=_card_file(_correction(), "publish"),
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert answer.status_code == 200
    assert (
        "It replaces 2027.1 for every day of its period: quotes, "
        "estimates, applications and renewals naming no card are priced on 2027.2 from now "
        "on. What 2027.1 priced keeps its prices, listed on its page."
    ) in _words(answer.get_data(as_text=True))


def test_the_import_command_says_what_a_correction_replaces_and_nothing_for_a_new_year(
    app: Flask, example_card: str, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    path = tmp_path / "card.json"
    path.write_text(json.dumps(_correction()))
    imported = runner.invoke(args=["ratecards", "import", str(path)])
    assert imported.exit_code == 0, imported.output
    # Before: "Published rate card 2027.2." alone.
    assert imported.output.splitlines()[:2] == [
        "Published rate card 2027.2.",
        "It replaces 2027.1 for every day of its period: quotes, estimates, applications and "
        "renewals naming no card are priced on 2027.2 from now on. What 2027.1 priced keeps "
        "its prices, listed on its page.",
    ]
    again = runner.invoke(args=["ratecards", "import", str(path)])
    assert again.output.splitlines() == ["Already published, unchanged: rate card 2027.2."]

    next_year = example_document()
    next_year.update(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31")
    path.write_text(json.dumps(next_year))
    imported = runner.invoke(args=["ratecards", "import", str(path)])
    assert imported.output.splitlines()[0] == "Published rate card 2028.1."
    assert "replaces" not in imported.output


def test_a_correction_of_an_open_ended_card_is_listed_and_quoted_without_overflowing(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    # Found by the import's new line: `replaced_by` stepped to the day after the
    # correction's last, 9999-12-31, and overflowed, so the list of cards (and a quote
    # naming the corrected card) failed once an open-ended card was corrected.
    wrong = example_document()
    wrong.update(version="2028.1", effective_from="2028-01-01", effective_to="9999-12-31")
    services.import_card(wrong, published_by="tests")
    right = {**wrong, "version": "2028.2", "title": "Corrected"}
    services.import_card(right, published_by="tests")
    signed_in(client, admin)
    listed = client.get("/console/rate-cards/")
    assert listed.status_code == 200
    assert "replaced by 2028.2: prices only quotes that name it" in _words(
        listed.get_data(as_text=True)
    )
    named = client.post(
        "/api/v1/quotes",
        json={
            "organization_type": "commercial",
            "term": {"start": "2028-01-01", "end": "2028-12-31"},
            "rate_card": "2028.1",
            "uses": [{"use": "development", "product_type": "saas", "user_type": "provider"}],
        },
    )
    assert named.status_code == 200, named.get_data(as_text=True)
    assert named.headers["Link"] == '</api/v1/rate-cards/2028.2>; rel="successor-version"'
