"""Round 52: the agreement's page offers *Renew* from 90 days before its term ends,
when the office lists it among the renewals due and the vendor's dashboard asks for
it; it was offered from the day of acceptance, a year early. Before then the panel
says from when (docs/agreements.md, "Renewal").

Round 53: the API drew a renewal on any day (`renewal.available` true the day after
acceptance); it holds the same window (`renewal.renewal_opens`), answering 409 with
from when, and says the day in `renewal.opens_on`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing import db
from licensing.agreements.models import Application
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.royalties.conftest import active_agreement  # noqa: F401 - fixture
from tests.support.factories import bearer
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]
RENEW = "Renew for the next rate card year"


def _page(
    client: FlaskClient, signed_in: SignIn, vendor: Any, agreement_id: int, at: datetime
) -> str:
    with time_machine.travel(at, tick=False):
        signed_in(client, vendor)
        return text_of(client.get(f"/portal/agreements/{agreement_id}"))


def test_renew_is_offered_from_ninety_days_before_the_term_ends_and_said_when_before(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, AUTO_USE)  # 2027-01-01 to 2027-12-31
    early = _page(client, signed_in, vendor, agreement.id, datetime(2027, 2, 1, 15, tzinfo=UTC))
    day_before = _page(
        client, signed_in, vendor, agreement.id, datetime(2027, 10, 1, 15, tzinfo=UTC)
    )
    opened = _page(client, signed_in, vendor, agreement.id, datetime(2027, 10, 2, 15, tzinfo=UTC))
    said = (
        "You can renew this agreement from October 2, 2027, 90 days before its term ends on "
        "December 31, 2027: the renewal then runs from January 1, 2028, on the rate card in "
        "effect that day in USD (the agreement's currency), and your dashboard asks for it "
        "from then."
    )
    assert said in early
    assert RENEW not in early
    assert said in day_before
    assert RENEW in opened
    assert "You can renew this agreement from" not in opened


def test_the_api_draws_a_renewal_from_the_same_day_and_before_it_answers_409_saying_from_when(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, AUTO_USE)  # 2027-01-01 to 2027-12-31
    headers = bearer(vendor)
    url = f"/api/v1/agreements/{agreement.id}"
    with time_machine.travel(datetime(2027, 10, 1, 15, tzinfo=UTC), tick=False):
        before = client.get(url, headers=headers).get_json()["renewal"]
        refused = client.post(f"{url}/renewal", headers=headers)
    assert (before["available"], before["opens_on"]) == (False, "2027-10-02")
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["detail"] == (
        f"Agreement {agreement.number} can be renewed from 2027-10-02, 90 days before its "
        "term ends on 2027-12-31."
    )
    assert db.session().query(Application).filter_by(renewal_of_id=agreement.id).count() == 0

    with time_machine.travel(datetime(2027, 10, 2, 15, tzinfo=UTC), tick=False):
        opened = client.get(url, headers=headers).get_json()["renewal"]
        drawn = client.post(f"{url}/renewal", headers=headers)
    assert (opened["available"], opened["opens_on"]) == (True, "2027-10-02")
    assert drawn.status_code == 201, drawn.get_json()
    assert drawn.get_json()["term_start"] == "2028-01-01"
