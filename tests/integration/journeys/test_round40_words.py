"""Round 40: the stored words rounds 37 and 38 left (docs/journeys.md), each read
where its person reads it: a rate card comparison, a royalty report's unit refusal,
an up-front invoice's line, and the portal's and console's pages."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing.ratecards import services as ratecards
from tests.integration.pricing.conftest import example_card, example_document  # noqa: F401


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_rate_card_comparison_says_a_rules_review_in_an_analysts_words(
    example_card: str,  # noqa: F811
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    # The comparison said "review from auto to staff", the card's stored values, and
    # quoted a changed description as Python does ("'The licensee\'s ...'").
    revision = example_document()
    revision["version"] = "2027.2"
    revision["rules"][2]["review"] = "staff"
    revision["rules"][2]["description"] = "The licensee's own development"
    ratecards.import_card(revision, published_by="tests")
    staff: FlaskClient = signed_in(app.test_client(), licensing_staff)
    compared = _words(
        staff.get(f"/console/rate-cards/compare?old={example_card}&new=2027.2").get_data(
            as_text=True
        )
    )
    assert (
        "Changed rule development: description from \u201cDevelop, test, maintain and "
        "service a product that uses CPT content\u201d to \u201cThe licensee's own "
        "development\u201d; review from automatic approval to staff review."
    ) in compared
    assert "from auto to staff" not in compared
    assert "'The licensee" not in compared

    # Going back the other way says it the other way round.
    back = _words(
        staff.get(f"/console/rate-cards/compare?old=2027.2&new={example_card}").get_data(
            as_text=True
        )
    )
    assert "review from staff review to automatic approval." in back
