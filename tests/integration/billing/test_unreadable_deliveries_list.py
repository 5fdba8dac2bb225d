"""Round 60 (stripe60): a signed Stripe delivery the service could not read was shown on
*Stripe's events* only among the ten bodies delivered last (every delivery in the audit
log, for admins), and nobody could say they had looked at one. Billing readers now page
every such delivery, by day and by looked at or not, each with its digest and first 300
characters (never the body); billing staff mark a body looked at with a note, after a
confirmation, audited with who and when; the page's count says how many deliveries are
not looked at."""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing.models import UNREADABLE_LOOKED_AT_ACTION
from licensing.billing.services.webhooks import UNREADABLE_SHOWN
from tests.support.console_lists import rows, words
from tests.support.pages import next_link
from tests.support.servers import LocalStripe

from .stripe_support import STRIPE_EVENTS, WEBHOOK_SECRET, signature_of, stripe_config

UNREADABLE = f"{STRIPE_EVENTS}/unreadable"


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _post_signed(client: FlaskClient, body: bytes, secret: str = WEBHOOK_SECRET) -> None:
    answer = client.post("/webhooks/stripe", data=body, headers=signature_of(body, secret))
    assert answer.status_code == 400


def _listed(staff: FlaskClient, query: str = "") -> dict[int, str]:
    """The list's rows (a delivery each) by their audit event's id, in words."""
    answer = staff.get(f"{UNREADABLE}{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]
    markup = answer.get_data(as_text=True)
    if 'id="unreadable-list"' not in markup:
        return {}
    return rows(markup, "unreadable-list", "delivery")


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


NOT_JSON = b"this is not JSON at all"
NO_ID = json.dumps({"type": "payment_intent.succeeded", "data": {"object": {}}}).encode()
LONG = json.dumps({"object": "event", "padding": "y" * 10_000}).encode()


def test_every_delivery_not_read_is_listed_newest_first_a_page_at_a_time_and_by_day(
    app: Flask, client: FlaskClient, signed_in: Any, licensing_staff: User
) -> None:
    with time_machine.travel(datetime(2027, 3, 2, 15, 0, tzinfo=UTC), tick=True):
        _post_signed(client, NOT_JSON)
        _post_signed(client, NOT_JSON)
    with time_machine.travel(datetime(2027, 3, 3, 15, 0, tzinfo=UTC), tick=True):
        _post_signed(client, LONG)
        for number in range(50):
            _post_signed(client, b"not an event %d" % number)
        _post_signed(client, b"forged", secret="whsec_someone_else")  # refused, unrecorded
    staff = signed_in(app.test_client(), licensing_staff)  # a billing reader

    first = staff.get(UNREADABLE).get_data(as_text=True)
    assert "53 deliveries are not looked at" in words(first)
    listed = rows(first, "unreadable-list", "delivery")
    assert len(listed) == 50
    assert "not an event 49" in next(iter(listed.values()))  # the newest first
    following = next_link(first, "deliveries")
    assert following is not None
    second = _listed(staff, following[len(UNREADABLE) :])
    assert len(second) == 3
    oldest = list(second.values())
    assert "this is not JSON at all" in oldest[-1]
    assert "this is not JSON at all" in oldest[-2]
    assert _digest(NOT_JSON) in oldest[-1]
    long_row = oldest[0]
    assert f"{len(LONG):,} bytes in all" in long_row
    shown = long_row.split('{"object": "event", "padding": "', 1)[1].split(" ", 1)[0]
    assert shown.endswith("…")
    assert len(shown) < UNREADABLE_SHOWN  # the first 300 characters at most
    assert "y" * 1_000 not in first + "".join(second.values())  # never the body
    assert "forged" not in first
    # Nobody but billing staff may mark: no form for a licensing officer.
    assert "Mark looked at" not in first

    on_the_2nd = _listed(staff, "?day=2027-03-02")
    assert len(on_the_2nd) == 2
    assert all("this is not JSON at all" in row for row in on_the_2nd.values())
    assert len(_listed(staff, "?day=2027-03-04")) == 0
    refused = staff.get(f"{UNREADABLE}?day=2027-13-01")
    assert refused.status_code == 422
    assert "Day received takes a day such as 2027-03-31" in words(refused.get_data(as_text=True))
    assert staff.get(f"{UNREADABLE}?day=2027-03-02&day=2027-03-03").status_code == 400
    assert staff.get(f"{UNREADABLE}?state=someday").status_code == 422


def test_billing_staff_mark_a_body_looked_at_with_a_note_and_its_later_deliveries_with_it(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    billing_staff: User,
    licensing_staff: User,
) -> None:
    for body in (NOT_JSON, NO_ID, NOT_JSON):
        _post_signed(client, body)
    digest = _digest(NOT_JSON)
    mark = f"{UNREADABLE}/{digest}/looked-at"
    officer = signed_in(app.test_client(), licensing_staff)
    assert officer.post(mark, data={"delivery-note": "x", "confirmed": "yes"}).status_code == 403

    staff = signed_in(app.test_client(), billing_staff)
    events_page = words(staff.get(STRIPE_EVENTS).get_data(as_text=True))
    assert "3 deliveries are not looked at by billing staff." in events_page
    assert "Mark looked at" in staff.get(UNREADABLE).get_data(as_text=True)

    note = "A test our staging proxy sent with the webhook's secret; proxy mended."
    asked = staff.post(mark, data={"delivery-note": note})
    assert asked.status_code == 200
    assert "Mark the deliveries of the body" in words(asked.get_data(as_text=True))
    assert _marks(digest) == []  # asked, not done
    blank = staff.post(mark, data={"delivery-note": "  ", "confirmed": "yes"})
    assert blank.status_code == 422
    assert "Say what was done about the delivery" in words(blank.get_data(as_text=True))
    assert _marks(digest) == []

    done = staff.post(mark, data={"delivery-note": note, "confirmed": "yes"})
    assert done.status_code == 302
    (marked,) = _marks(digest)
    assert marked.actor == billing_staff.email
    assert marked.actor_user_id == billing_staff.id
    assert marked.note == note
    assert marked.entity_type == "stripe_delivery"
    assert marked.after_data == {"state": "looked_at"}

    listed = list(_listed(staff).values())
    assert [f"Looked at: {note}" in row for row in listed] == [True, False, True]
    assert billing_staff.email in listed[0]
    assert "1 delivery is not looked at" in words(staff.get(UNREADABLE).get_data(as_text=True))
    assert "1 delivery is not looked at by billing staff." in words(
        staff.get(STRIPE_EVENTS).get_data(as_text=True)
    )
    assert len(_listed(staff, "?state=not_looked_at")) == 1
    assert len(_listed(staff, "?state=looked_at")) == 2

    # Marked once: a second mark is the machine's 409, saying what is allowed.
    again = staff.post(mark, data={"delivery-note": "again", "confirmed": "yes"})
    assert again.status_code == 409
    assert "cannot be marked looked at" in words(again.get_data(as_text=True))
    assert len(_marks(digest)) == 1
    # Stripe's next delivery of the body is looked at with it, not counted again.
    _post_signed(client, NOT_JSON)
    newest = next(iter(_listed(staff).values()))
    assert f"Looked at: {note}" in newest
    assert "1 delivery is not looked at" in words(staff.get(UNREADABLE).get_data(as_text=True))
    # A body no delivery had.
    nowhere = staff.post(
        f"{UNREADABLE}/{'0' * 64}/looked-at", data={"delivery-note": "x", "confirmed": "yes"}
    )
    assert nowhere.status_code == 404


def test_a_refused_mark_shows_the_list_again_at_its_page_and_filters_with_the_note_typed(
    app: Flask, client: FlaskClient, signed_in: Any, billing_staff: User
) -> None:
    """Round 60 (pagesfix60): a mark refused from page 2 of the deliveries not looked at
    showed page 1, unfiltered, and the note typed was lost with the body's form (on page
    2). Each mark's form now posts with the list's filters and page, and the list shown
    again (and after a mark done) is that page; a body not offered on the page shown is
    offered above it, with the note."""
    with time_machine.travel(datetime(2027, 3, 3, 15, 0, tzinfo=UTC), tick=True):
        for number in range(52):
            _post_signed(client, b"not an event %d" % number)
    staff = signed_in(app.test_client(), billing_staff)
    narrowed = "?state=not_looked_at&page=2"
    second = staff.get(f"{UNREADABLE}{narrowed}").get_data(as_text=True)
    oldest = _digest(b"not an event 0")
    action = html.unescape(
        re.search(rf'action="({re.escape(UNREADABLE)}/{oldest}/looked-at[^"]*)"', second)[1]
    )
    assert action == f"{UNREADABLE}/{oldest}/looked-at{narrowed}"

    note = "Resent from the dashboard and read. " + "x" * 1_000  # too long
    refused = staff.post(action, data={"delivery-note": note, "confirmed": "yes"})
    assert refused.status_code == 422
    again = refused.get_data(as_text=True)
    assert "Not marked looked at" in words(again)
    shown = rows(again, "unreadable-list", "delivery")
    assert len(shown) == 2  # page 2 of the 52, still narrowed
    assert oldest in list(shown.values())[-1]
    assert '<option value="not_looked_at" selected' in again
    assert f">{note}</textarea>" in again
    assert 'id="refused-mark"' not in again  # its form is in its row
    previous = next_link(again, "deliveries", rel="prev")
    assert previous == f"{UNREADABLE}?state=not_looked_at"  # the list's pages, not the post's
    assert _marks(oldest) == []

    # Posted from a page the body is no longer on: offered above the list, note kept.
    moved = staff.post(
        f"{UNREADABLE}/{oldest}/looked-at?state=not_looked_at",
        data={"delivery-note": note, "confirmed": "yes"},
    )
    assert moved.status_code == 422
    markup = moved.get_data(as_text=True)
    offered = markup.split('id="refused-mark"', 1)[1].split("</section>", 1)[0]
    assert f'action="{UNREADABLE}/{oldest}/looked-at?state=not_looked_at"' in offered
    assert f">{note}</textarea>" in offered

    # Marked, back to the page it was marked from; Cancel on the confirmation too.
    asked = staff.post(action, data={"delivery-note": "Resent and read."})
    back = html.escape(f"{UNREADABLE}{narrowed}#mark-delivery-{oldest}")  # its button
    assert f'href="{back}"' in asked.get_data(as_text=True)
    done = staff.post(action, data={"delivery-note": "Resent and read.", "confirmed": "yes"})
    assert done.status_code == 302
    assert done.headers["Location"] == f"{UNREADABLE}{narrowed}"
    assert len(_marks(oldest)) == 1


def _marks(digest: str) -> list[AuditEvent]:
    db.session().expire_all()
    return list(
        db.session().scalars(
            select(AuditEvent).where(
                AuditEvent.action == UNREADABLE_LOOKED_AT_ACTION, AuditEvent.entity_id == digest
            )
        )
    )


def test_the_list_keeps_a_range_of_days_and_a_refused_mark_keeps_the_range_page_and_note(
    app: Flask, client: FlaskClient, signed_in: Any, billing_staff: User
) -> None:
    """Round 61 (payments61): the list took one day (stripe60's and pagesfix60's "Left");
    it takes a range of office days now, *Received from* and *Received to*, either end
    open, and a mark refused or done keeps the range with the page and the state."""
    for day, bodies in ((1, 1), (2, 2), (3, 51), (5, 1)):
        with time_machine.travel(datetime(2027, 3, day, 15, 0, tzinfo=UTC), tick=True):
            for number in range(bodies):
                _post_signed(client, b"day %d body %d" % (day, number))
    staff = signed_in(app.test_client(), billing_staff)

    two_days = _listed(staff, "?from=2027-03-01&to=2027-03-02")
    assert len(two_days) == 3
    assert all("day 1 " in row or "day 2 " in row for row in two_days.values())
    page = staff.get(f"{UNREADABLE}?from=2027-03-01&to=2027-03-02").get_data(as_text=True)
    assert "Deliveries not read from March 1, 2027 to March 2, 2027" in words(page)
    assert 'name="from" value="2027-03-01"' in page
    assert len(_listed(staff, "?from=2027-03-04")) == 1  # open at its end: the 5th
    assert len(_listed(staff, "?to=2027-03-01")) == 1  # open at its start
    assert len(_listed(staff, "?day=2027-03-02")) == 2  # round 60's links still work
    # Refused: an end before the start, a day spelled otherwise, a day with a range.
    backwards = staff.get(f"{UNREADABLE}?from=2027-03-03&to=2027-03-01")
    assert backwards.status_code == 422
    assert "Received to cannot come before received from." in words(
        backwards.get_data(as_text=True)
    )
    assert staff.get(f"{UNREADABLE}?from=03/01/2027").status_code == 422
    assert staff.get(f"{UNREADABLE}?day=2027-03-02&from=2027-03-01").status_code == 422
    assert staff.get(f"{UNREADABLE}?from=2027-03-01&from=2027-03-02").status_code == 400

    # Page 2 of the range's deliveries not looked at: a mark refused keeps it all.
    narrowed = "?from=2027-03-02&to=2027-03-03&state=not_looked_at&page=2"
    second = staff.get(f"{UNREADABLE}{narrowed}").get_data(as_text=True)
    assert len(rows(second, "unreadable-list", "delivery")) == 3  # 53 in the range
    oldest = _digest(b"day 2 body 0")
    action = html.unescape(
        re.search(rf'action="({re.escape(UNREADABLE)}/{oldest}/looked-at[^"]*)"', second)[1]
    )
    assert action == f"{UNREADABLE}/{oldest}/looked-at{narrowed}"
    note = "Resent and read. " + "x" * 1_000  # too long
    refused = staff.post(action, data={"delivery-note": note, "confirmed": "yes"})
    assert refused.status_code == 422
    again = refused.get_data(as_text=True)
    assert len(rows(again, "unreadable-list", "delivery")) == 3
    assert 'name="from" value="2027-03-02"' in again
    assert 'name="to" value="2027-03-03"' in again
    assert f">{note}</textarea>" in again
    previous = next_link(again, "deliveries", rel="prev")
    assert previous is not None
    assert "from=2027-03-02" in previous
    assert "to=2027-03-03" in previous
    done = staff.post(action, data={"delivery-note": "Resent and read.", "confirmed": "yes"})
    assert done.status_code == 302
    assert done.headers["Location"] == f"{UNREADABLE}{narrowed}"
    assert len(_marks(oldest)) == 1
