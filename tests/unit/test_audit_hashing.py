"""The audit log's canonical JSON and event hash."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from licensing.audit.models import GENESIS_HASH, AuditEvent
from licensing.audit.services import canonical_json, event_hash


def test_canonical_json_sorts_keys_and_writes_exact_decimals_and_utc_times() -> None:
    eastern = timezone(timedelta(hours=-5))
    text = canonical_json(
        {
            "b": Decimal("0.10"),
            "a": datetime(2027, 1, 1, 7, 0, tzinfo=eastern),
            "d": date(2027, 2, 3),
        }
    )
    assert text == '{"a":"2027-01-01T12:00:00.000000+00:00","b":"0.10","d":"2027-02-03"}'


def test_naive_datetimes_and_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError):
        canonical_json({"when": datetime(2027, 1, 1)})  # noqa: DTZ001 - the point of the test
    with pytest.raises(TypeError):
        canonical_json({"thing": object()})


def _event(**changes: object) -> AuditEvent:
    values: dict[str, object] = {
        "seq": 1,
        "occurred_at": datetime(2027, 1, 1, tzinfo=UTC),
        "actor": "system",
        "actor_user_id": None,
        "action": "organization.created",
        "entity_type": "organization",
        "entity_id": "1",
        "before": None,
        "after": '{"standing":"applying"}',
        "note": None,
        "request_id": None,
        "client_ip": None,
        "prev_hash": GENESIS_HASH,
    }
    values.update(changes)
    return AuditEvent(**values)


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 2},
        {"actor": "someone"},
        {"after": '{"standing":"active"}'},
        {"note": "x"},
        {"prev_hash": "1" * 64},
        {"occurred_at": datetime(2027, 1, 1, 0, 0, 0, 1, tzinfo=UTC)},
    ],
)
def test_any_change_to_an_event_changes_its_hash(change: dict[str, object]) -> None:
    assert event_hash(_event(**change)) != event_hash(_event())
    assert len(event_hash(_event())) == 64


KEYS = {"k1": b"first audit key", "k2": b"second audit key"}


def test_a_keyed_event_hash_is_an_hmac_that_depends_on_the_key() -> None:
    keyed = _event(key_id="k1")
    assert event_hash(keyed, KEYS) != event_hash(_event())
    assert event_hash(keyed, KEYS) != event_hash(_event(key_id="k2"), KEYS)
    assert event_hash(keyed, {"k1": b"a guessed key"}) != event_hash(keyed, KEYS)


def test_an_event_signed_with_a_key_that_is_not_configured_cannot_be_hashed() -> None:
    from licensing.audit.keys import UnknownKey

    with pytest.raises(UnknownKey):
        event_hash(_event(key_id="k9"), KEYS)


def test_a_key_id_names_a_key_without_revealing_it() -> None:
    from licensing.audit.keys import key_id

    assert key_id("first audit key") == key_id("first audit key")
    assert key_id("first audit key") != key_id("second audit key")
    assert len(key_id("first audit key")) == 16
    assert "first" not in key_id("first audit key")
