"""Round 59: an agreement's last months and after (docs/journeys.md, "Round 59: when an
agreement ends (termwalk59)"): an expired agreement's page says when it ended and what a
renewal drawn late leaves unlicensed, the API's `renewal.term_start` is the day the
renewal would start, the dashboard asks for the renewal after the term as before it,
and the expiry email says a renewal runs from the day it is drawn."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.support.agreements import accept, agreement_of
from tests.support.factories import bearer
from tests.support.pages import text_of

SignIn = Callable[[FlaskClient, Any], FlaskClient]
TERM_END = date(2027, 12, 31)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)


def _expired(apply: Callable[..., Application], vendor: Any) -> Agreement:
    """`vendor`'s 2027 agreement, accepted, then expired by the run on 2028-01-01."""
    agreement = accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)
    assert agreements.expire(now=_at(date(2028, 1, 1))).expired == [agreement.number]
    db.session().commit()
    return agreement


def _page(client: FlaskClient, signed_in: SignIn, vendor: Any, url: str, day: date) -> str:
    with time_machine.travel(_at(day), tick=False):
        signed_in(client, vendor)
        return text_of(client.get(url))


def test_an_expired_agreements_page_says_when_it_ended_and_what_a_late_renewal_leaves_out(
    client: FlaskClient, signed_in: SignIn, apply: Callable[..., Application], vendor: Any
) -> None:
    agreement = _expired(apply, vendor)
    url = f"/portal/agreements/{agreement.id}"
    late = _page(client, signed_in, vendor, url, date(2028, 1, 16))
    # It said "expired" and offered "Renew for the next rate card year", a renewal
    # that would start on January 16 and leave the days before it unlicensed.
    assert (
        "Ended At the end of its term on December 31, 2027: it licenses no use after that "
        "day. Royalty reports for its term are still filed under it."
    ) in late
    assert (
        "This agreement expired at the end of its term on December 31, 2027. A renewal drawn "
        "today runs from January 16, 2028, on the rate card in effect then in USD (the "
        "agreement's currency), for a year at most: it does not license January 1, 2028 to "
        "January 15, 2028, between the two terms (ask the licensing office about any use "
        "then)."
    ) in late
    assert "Renew from today" in late
    assert "Renew for the next rate card year" not in late
    # On the day after the term, the renewal starts then: nothing is left out.
    next_day = _page(client, signed_in, vendor, url, date(2028, 1, 1))
    assert "A renewal drawn today runs from January 1, 2028, on the rate card in effect " in (
        next_day
    )
    assert "does not license" not in next_day
    # The licensing office reads the same facts.
    assert "Ended At the end of its term on December 31, 2027" in text_of(
        _console(client, agreement)
    )


def _console(client: FlaskClient, agreement: Agreement) -> Any:
    from tests.support import factories

    staff = factories.make_staff(db.session(), roles=("licensing",))
    db.session().commit()
    client.post("/sign-in", data={"email": staff.email, "password": factories.DEFAULT_PASSWORD})
    return client.get(f"/console/agreements/{agreement.id}")


def test_the_api_names_the_day_a_late_renewal_starts_as_drawing_it_does(
    client: FlaskClient, apply: Callable[..., Application], vendor: Any
) -> None:
    agreement = _expired(apply, vendor)
    url = f"/api/v1/agreements/{agreement.id}"
    headers = bearer(vendor)
    with time_machine.travel(_at(date(2028, 1, 16)), tick=False):
        said = client.get(url, headers=headers).get_json()["renewal"]
        drawn = client.post(f"{url}/renewal", headers=headers)
    # It said 2028-01-01, the day after the term, while the renewal drawn started today.
    assert said["term_start"] == "2028-01-16"
    assert drawn.status_code == 201, drawn.get_json()
    assert drawn.get_json()["term_start"] == said["term_start"]


def test_an_active_agreements_renewal_still_starts_the_day_after_its_term_in_the_api(
    client: FlaskClient, apply: Callable[..., Application], vendor: Any
) -> None:
    agreement = accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)
    with time_machine.travel(_at(date(2027, 11, 1)), tick=False):
        said = client.get(f"/api/v1/agreements/{agreement.id}", headers=bearer(vendor))
    assert said.get_json()["renewal"]["term_start"] == "2028-01-01"


def _waiting(client: FlaskClient, signed_in: SignIn, vendor: Any, day: date) -> str:
    return _page(client, signed_in, vendor, "/portal/", day)


def test_the_dashboard_asks_to_renew_an_agreement_that_expired_lately_until_it_is_renewed(
    client: FlaskClient, signed_in: SignIn, apply: Callable[..., Application], vendor: Any
) -> None:
    agreement = _expired(apply, vendor)
    asked = (
        f"Agreement {agreement.number} expired on December 31, 2027: renew it to license its "
        "uses again"
    )
    # Until the term's last day it asked; from the next day, nothing was said.
    late = _waiting(client, signed_in, vendor, date(2028, 1, 16))
    assert asked in late
    assert (
        "It licenses no use after that day. Renew it on the agreement's page: the renewal is "
        "a new application for the term from January 16, 2028, the day it is drawn, priced "
        "on the rate card in effect then in USD (the agreement's currency); it does not "
        "license January 1, 2028 to January 15, "
        "2028, between the two terms (ask the licensing office about any use then). Royalty "
        f"reports for its term are still filed under {agreement.number}."
    ) in late
    assert "does not license" not in _waiting(client, signed_in, vendor, date(2028, 1, 1))
    # Ninety days after the term it is no longer asked for.
    assert asked in _waiting(client, signed_in, vendor, date(2028, 3, 30))
    assert asked not in _waiting(client, signed_in, vendor, date(2028, 3, 31))
    # Once a renewal is drawn, the dashboard lists that application instead.
    with time_machine.travel(_at(date(2028, 1, 20)), tick=False):
        drawn = client.post(f"/api/v1/agreements/{agreement.id}/renewal", headers=bearer(vendor))
    assert drawn.status_code == 201
    assert asked not in _waiting(client, signed_in, vendor, date(2028, 1, 21))


def test_an_agreement_that_expired_unaccepted_is_not_asked_to_be_renewed(
    client: FlaskClient, signed_in: SignIn, apply: Callable[..., Application], vendor: Any
) -> None:
    agreement = agreement_of(apply(vendor, AUTO_USE))
    assert agreements.expire(now=_at(date(2028, 1, 1))).expired == [agreement.number]
    db.session().commit()
    assert "renew it to license its uses again" not in _waiting(
        client, signed_in, vendor, date(2028, 1, 16)
    )
    unaccepted = _page(
        client, signed_in, vendor, f"/portal/agreements/{agreement.id}", date(2028, 1, 16)
    )
    assert "Not accepted by the end of its term on December 31, 2027, so it licensed nothing." in (
        unaccepted
    )


def test_the_expiry_email_says_a_renewal_runs_from_the_day_it_is_drawn(
    apply: Callable[..., Application], vendor: Any
) -> None:
    agreement = _expired(apply, vendor)
    sent = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.subject.contains(": expired"))
    )
    body = " ".join(next(iter(sent)).body_text.split())
    assert (
        "The term ended on December 31, 2027. Renew it from the agreement's page to keep using "
        "CPT content: a renewal runs from the day it is drawn, so the sooner it is drawn, the "
        "fewer days are left unlicensed between the two terms. Royalty reports still due for "
        f"its term are filed under {agreement.number}."
    ) in body
