"""How a payment is named on the console, in the audit log and in its invoice's notes
(`billing.models.payment_name`, round 55), never by its row id."""

from __future__ import annotations

from datetime import UTC, date, datetime

from licensing.billing.models import payment_name


def _card(started: datetime) -> str:
    return payment_name(
        "card",
        "INV-2027-000012",
        card="Visa ending 4242",
        reference=None,
        received_on=None,
        created_at=started,
    )


def test_two_card_payments_started_in_the_same_minute_are_named_apart() -> None:
    """Round 56: a second try on the same card within the minute read exactly as the
    first ("started 2026-12-05 23:38"); the seconds tell them apart."""
    first = _card(datetime(2026, 12, 6, 5, 38, 7, tzinfo=UTC))
    second = _card(datetime(2026, 12, 6, 5, 38, 41, tzinfo=UTC))
    assert first != second
    assert first == (
        "Card payment of INV-2027-000012 (Visa ending 4242), started 2026-12-05 23:38:07 "
        "(US Central time)"
    )
    assert second.endswith("started 2026-12-05 23:38:41 (US Central time)")


def test_an_offline_payment_is_named_by_its_reference_and_the_day_received() -> None:
    named = payment_name(
        "wire",
        None,
        in_sentence=True,
        card=None,
        reference="W-IN-1",
        received_on=date(2027, 3, 10),
        created_at=datetime(2027, 3, 11, 15, tzinfo=UTC),
    )
    assert named == "wire payment (W-IN-1), received 2027-03-10"
