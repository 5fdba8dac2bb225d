"""Round 59 (indexes59): *Stripe's events* searched by a refund's, a dispute's or a
refunded charge's id (stripeevents59) read the whole events table: `object_id` had no
index, and the search was one `OR` of six tests, three of them `IN (subquery)`, for
which PostgreSQL probed no index (it counted by reading every event and read the page
by walking every event newest first, index or not). billing_0030
indexes `object_id` and the search is a UNION of one select per test, each read by an
index. The page's and the count's statements, as the console sends them, are
EXPLAINed with their own values on both backends, priced on 2,000 events of the
test's own beside the three it finds, ANALYZEd in its transaction (plans58)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import StripeEvent
from tests.support.plans import analyzed, copied, plan_of, sent_with_values

COPIES = 2000

# (event type, its object's id): the ids the search finds by `object_id`.
OBJECTS = [
    ("refund.updated", "re_3PindexedRefund"),
    ("charge.dispute.created", "du_1PindexedDispute"),
    ("charge.refunded", "ch_3PindexedCharge"),
]


def _stored_events() -> None:
    """The three events, each of another PaymentIntent, and 2,000 copies of the last
    about other objects and intents."""
    session = db.session()
    events = [
        StripeEvent(
            event_id=f"evt_indexed_{n}",
            event_type=event_type,
            payment_intent_id=f"pi_indexed_{n}",
            object_id=object_id,
            outcome="applied",
            kind="applied",
        )
        for n, (event_type, object_id) in enumerate(OBJECTS)
    ]
    session.add_all(events)
    session.flush()
    copied(
        StripeEvent.__table__,
        events[-1].id,
        COPIES,
        lambda n: {
            "event_id": f"evt_copy_{n}",
            "payment_intent_id": f"pi_copy_{n // 3}",
            "object_id": f"{('re', 'du', 'ch')[n % 3]}_copy_{n}",
        },
    )


@pytest.mark.parametrize(("event_type", "object_id"), OBJECTS)
def test_a_search_by_an_objects_id_reads_the_events_by_their_object_index_not_every_event(
    app: Flask,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
    event_type: str,
    object_id: str,
) -> None:
    _stored_events()
    dialect = db.session().connection().dialect.name
    if dialect == "sqlite":
        # SQLite's statistics are rows of sqlite_stat1, rolled back with the test.
        db.session().connection().exec_driver_sql("ANALYZE")
    analyzed("stripe_events")
    staff = signed_in(app.test_client(), billing_staff)

    with sent_with_values(app.extensions["licensing.db"].engine) as caught:
        page = staff.get("/console/stripe-events", query_string={"q": f" {object_id} "})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert object_id in text
    assert text.count("evt_indexed_") == 1, "the one event about the object"
    searches = [(sql, values) for sql, values in caught if "about_event" in sql]
    assert len(searches) == 2, [sql for sql, _values in searches]  # the count and the page
    for sql, values in searches:
        lines = plan_of(sql, values, sorts_priced_out=False)
        shown = "\n".join(lines)
        assert "ix_stripe_events_object_id" in shown, shown
        if dialect == "postgresql":
            assert "Seq Scan on stripe_events" not in shown, shown
            # The page is not read by walking every event newest first.
            assert "ix_stripe_events_received_order" not in shown, shown
        else:
            scans = [line for line in lines if line.strip().startswith("SCAN")]
            assert not [line for line in scans if "stripe_events" in line], shown
            assert not [line for line in scans if "about_event" in line], shown
