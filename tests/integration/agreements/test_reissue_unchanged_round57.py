"""Round 57: a reissue whose correction leaves every price of the agreement as it was
says so first on its confirmation (docs/agreements.md, "A reissue that changes no
price"): it read "total 2,500.00 USD (it is 2,500.00 USD)" and nothing more, and a
reissue sends the licensee a new agreement to accept for the same figures."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import DEVELOPMENT_USE, STAFF_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import issued_agreement


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _corrected(rule: int, field: str, value: str) -> dict[str, Any]:
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][rule]["model"][field] = value
    return document


def test_a_reissue_whose_correction_changes_none_of_its_prices_says_so_first(
    client: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    example_card: str,
    signed_in: Callable[..., FlaskClient],
) -> None:
    development = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    feed = issued_agreement(other_vendor, licensing_staff, STAFF_USE)
    # The correction mends the data feeds' share: the development fee is as it was.
    ratecards.import_card(_corrected(7, "percent", "8"), published_by="tests")
    signed_in(client, licensing_staff)

    def asked(agreement_id: int) -> str:
        response = client.post(
            f"/console/agreements/{agreement_id}/reissue",
            data={"reissue-reason": "2027.1 had the data feeds' share mistyped."},
        )
        assert response.status_code == 200
        return _words(response.get_data(as_text=True))

    same = asked(development.id)
    assert (
        "Rate card 2027.2 prices every use of this agreement as 2027.1 did: the correction "
        "changed none of its prices. Reissuing changes only the card it names, and the "
        "licensee must read and accept a new agreement; keeping it, they may accept it as "
        "issued, at its prices on 2027.1."
    ) in same
    assert "total 2,500.00 USD (it is 2,500.00 USD)" in same
    moved = asked(feed.id)
    assert "total 6,400.00 USD (it is 8,000.00 USD)" in moved
    assert "the correction changed none of its prices" not in moved
