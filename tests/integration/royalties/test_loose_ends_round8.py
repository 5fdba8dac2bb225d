"""Round 8's royalty loose ends (docs/journeys.md, "Round 8: royalty loose ends"):
each test failed before its fix."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient

from tests.integration.royalties.conftest import SOFTWARE

# Mid-May 2027: the first quarter's report (due 2027-04-30) is 15 days overdue.
MID_MAY = datetime(2027, 5, 15, 15, 0, tzinfo=UTC)

SignIn = Callable[..., FlaskClient]


def text_of(response: Any) -> str:
    """The page's text, tags dropped and spaces squeezed, for sentences."""
    without_tags = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(without_tags)).strip()


def test_the_queue_says_an_unfiled_period_waits_for_the_licensees_report_and_by_when(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
) -> None:
    # The overdue row's Report column read "—", as if nothing were to be done.
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(MID_MAY, tick=False):
        signed_in(client, licensing_staff)
        everything = text_of(client.get("/console/royalty-reports"))
        upcoming = text_of(
            client.get("/console/royalty-reports", query_string={"state": "upcoming"})
        )
    assert (
        f"{agreement.number} 2027-01-01 to 2027-03-31 2027-04-30 overdue 15 days overdue "
        "— — Waiting for the licensee's report, due 2027-04-30" in everything
    )
    assert (
        "2027-04-01 to 2027-06-30 2027-07-30 upcoming — — — "
        "Not due yet: the licensee may file it from 2027-07-01" in upcoming
    )
