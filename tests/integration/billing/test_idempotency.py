"""`Idempotency-Key` on the money-moving staff POSTs: a retried request is
answered from the first one's stored response instead of recording again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.billing import idempotency
from licensing.billing.models import CreditNote, IdempotentRequest, Invoice, Payment
from licensing.db import utcnow
from licensing.worker import JOBS
from tests.support import factories
from tests.support.factories import bearer

from .conftest import activated, send_activation

WIRE = {"method": "wire", "amount": "100.00", "reference": "W-2027-1"}


@pytest.fixture
def invoice(vendor: User, invoice_for: Callable[..., Invoice]) -> Invoice:
    """The vendor's open invoice: 1200.00 and 350.50 due."""
    return invoice_for(vendor)


@pytest.fixture
def headers(billing_staff: User) -> dict[str, str]:
    """A billing staff member's API token headers, without a key."""
    return bearer(billing_staff)


def _payments(invoice: Invoice) -> int:
    count = select(func.count()).select_from(Payment).where(Payment.invoice_id == invoice.id)
    return int(db.session().scalar(count) or 0)


def _post_payment(
    client: FlaskClient, invoice: Invoice, headers: dict[str, str], key: str | None, body: object
) -> object:
    extra = {} if key is None else {"Idempotency-Key": key}
    return client.post(
        f"/api/v1/invoices/{invoice.id}/payments", json=body, headers={**headers, **extra}
    )


def test_a_payment_retried_with_the_same_key_is_recorded_once_and_the_retry_replays_the_answer(
    client: FlaskClient, invoice: Invoice, headers: dict[str, str]
) -> None:
    first = _post_payment(client, invoice, headers, "retry-1", WIRE)
    again = _post_payment(client, invoice, headers, "retry-1", WIRE)
    assert first.status_code == 201  # type: ignore[attr-defined]
    assert "Idempotent-Replayed" not in first.headers  # type: ignore[attr-defined]
    assert again.status_code == 201  # type: ignore[attr-defined]
    assert again.headers["Idempotent-Replayed"] == "true"  # type: ignore[attr-defined]
    assert again.get_json() == first.get_json()  # type: ignore[attr-defined]
    assert _payments(invoice) == 1


def test_the_same_key_with_another_body_is_a_422_saying_so_and_records_nothing(
    client: FlaskClient, invoice: Invoice, headers: dict[str, str]
) -> None:
    _post_payment(client, invoice, headers, "retry-2", WIRE)
    other = _post_payment(client, invoice, headers, "retry-2", {**WIRE, "amount": "50.00"})
    assert other.status_code == 422  # type: ignore[attr-defined]
    problem = other.get_json()  # type: ignore[attr-defined]
    assert "another request" in problem["detail"]
    assert "header.Idempotency-Key" in problem["errors"]
    assert _payments(invoice) == 1


def test_keys_are_per_caller_so_another_clerk_with_the_same_key_records_their_own_payment(
    client: FlaskClient, invoice: Invoice, billing_staff: User
) -> None:
    colleague = factories.make_staff(db.session(), roles=("billing",))
    mine = _post_payment(client, invoice, bearer(billing_staff), "shared", WIRE)
    theirs = _post_payment(client, invoice, bearer(colleague), "shared", WIRE)
    assert mine.status_code == theirs.status_code == 201  # type: ignore[attr-defined]
    assert "Idempotent-Replayed" not in theirs.headers  # type: ignore[attr-defined]
    assert _payments(invoice) == 2


def test_without_the_header_each_post_records_a_payment_as_before(
    client: FlaskClient, invoice: Invoice, headers: dict[str, str]
) -> None:
    for _ in range(2):
        assert _post_payment(client, invoice, headers, None, WIRE).status_code == 201  # type: ignore[attr-defined]
    assert _payments(invoice) == 2


def test_a_refused_request_stores_no_key_so_the_corrected_retry_is_carried_out(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    headers = bearer(billing_staff)
    too_much = _post_payment(client, invoice, headers, "fix-me", {**WIRE, "amount": "900.00"})
    assert too_much.status_code == 422  # type: ignore[attr-defined]
    fixed = _post_payment(client, invoice, headers, "fix-me", WIRE)
    assert fixed.status_code == 201  # type: ignore[attr-defined]
    assert _payments(invoice) == 1


def test_a_key_that_is_not_one_printable_line_of_at_most_255_characters_is_a_422(
    client: FlaskClient, invoice: Invoice, headers: dict[str, str]
) -> None:
    for bad in ("x" * 256, "   "):
        answer = _post_payment(client, invoice, headers, bad, WIRE)
        assert answer.status_code == 422  # type: ignore[attr-defined]
        assert "header.Idempotency-Key" in answer.get_json()["errors"]  # type: ignore[attr-defined]
    assert _payments(invoice) == 0


def test_a_credit_note_retried_with_the_same_key_is_issued_once(
    client: FlaskClient, invoice: Invoice, billing_staff: User
) -> None:
    headers = {**bearer(billing_staff), "Idempotency-Key": "credit-1"}
    body = {"amount": "10.00", "reason": "goodwill"}
    url = f"/api/v1/invoices/{invoice.id}/credit-notes"
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["number"] == first.get_json()["number"]
    credits = select(func.count()).select_from(CreditNote)
    assert db.session().scalar(credits.where(CreditNote.invoice_id == invoice.id)) == 1


def test_a_key_older_than_24_hours_is_not_replayed_and_pruning_deletes_it(
    client: FlaskClient, invoice: Invoice, headers: dict[str, str]
) -> None:
    _post_payment(client, invoice, headers, "old", WIRE)
    with db.transaction() as session:
        for stored in session.scalars(select(IdempotentRequest)):
            stored.created_at = utcnow() - idempotency.KEPT_FOR - timedelta(minutes=1)
    again = _post_payment(client, invoice, headers, "old", WIRE)
    assert again.status_code == 201  # type: ignore[attr-defined]
    assert "Idempotent-Replayed" not in again.headers  # type: ignore[attr-defined]
    assert _payments(invoice) == 2
    later = utcnow() + idempotency.KEPT_FOR + timedelta(minutes=1)
    assert idempotency.prune(now=later) == 1
    assert db.session().scalar(select(func.count()).select_from(IdempotentRequest)) == 0


def test_the_openapi_document_names_the_header_on_the_payment_credit_note_and_refund_posts(
    client: FlaskClient,
) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/invoices/{invoice_id}/payments",
        "/api/v1/invoices/{invoice_id}/credit-notes",
        "/api/v1/credit-notes/{credit_note_id}/refunds",
    ):
        names = [p["name"] for p in paths[path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in names


def test_two_simultaneous_requests_with_one_key_record_one_payment(committed_app: Flask) -> None:
    with committed_app.app_context():
        organization = factories.make_organization(db.session())
        invoice = send_activation(activated(organization.id))
        assert invoice is not None
        clerk = factories.make_staff(db.session(), roles=("billing",))
        headers = {**bearer(clerk), "Idempotency-Key": "race"}
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    replayed: list[bool] = []

    def post() -> None:
        client = committed_app.test_client()
        barrier.wait(timeout=30)
        answer = client.post(f"/api/v1/invoices/{invoice.id}/payments", json=WIRE, headers=headers)
        statuses.append(answer.status_code)
        replayed.append(answer.headers.get("Idempotent-Replayed") == "true")

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) in ([201, 201], [201, 409])
    assert replayed.count(True) == statuses.count(201) - 1
    with committed_app.app_context():
        assert _payments(invoice) == 1


def test_prune_keys_deletes_keys_older_than_24_hours_and_keeps_newer_ones(
    app: Flask, client: FlaskClient, invoice: Invoice, headers: dict[str, str]
) -> None:
    for key in ("old", "new"):
        _post_payment(client, invoice, headers, key, WIRE)
    with db.transaction() as session:
        record = session.scalars(select(IdempotentRequest).order_by(IdempotentRequest.id)).first()
        assert record is not None
        record.created_at = utcnow() - idempotency.KEPT_FOR - timedelta(seconds=1)
    result = app.test_cli_runner().invoke(args=["payments", "prune-keys"])
    assert result.exit_code == 0, result.output
    assert "1 idempotency keys pruned" in result.output
    assert db.session().scalar(select(func.count()).select_from(IdempotentRequest)) == 1
    assert any(job.name == "payments prune-keys" for job in JOBS)


def test_a_request_that_loses_the_race_for_its_key_is_answered_from_the_winners_record(
    client: FlaskClient,
    invoice: Invoice,
    headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _post_payment(client, invoice, headers, "race", WIRE)
    looked_up = idempotency._stored
    misses = iter([True])

    def winner_not_yet_visible(*args: object, **kwargs: object) -> IdempotentRequest | None:
        # As if the other request committed between this one's look-up and its insert.
        return None if next(misses, False) else looked_up(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(idempotency, "_stored", winner_not_yet_visible)
    loser = _post_payment(client, invoice, headers, "race", WIRE)
    assert loser.status_code == 201  # type: ignore[attr-defined]
    assert loser.headers["Idempotent-Replayed"] == "true"  # type: ignore[attr-defined]
    assert loser.get_json() == first.get_json()  # type: ignore[attr-defined]
    assert _payments(invoice) == 1


def test_a_stored_answer_is_not_replayed_to_its_user_once_they_act_for_another_organization(
    app: Flask, vendor: User, other_vendor: User, admin: User
) -> None:
    """Round 27: a person moved to another organization who sent the same request
    again got the old organization's stored answer: a read after leaving it. The
    request is carried out anew instead, under the access they have now."""
    member = factories.make_vendor(db.session(), organization=vendor.organization, role="billing")
    fingerprint = idempotency.request_hash("POST", "/api/v1/somewhere", b"{}")

    def keyed() -> idempotency.KeyedRequest:
        caller = idempotency.Caller(member.id, member.organization_id)
        return idempotency.KeyedRequest.of(caller, "before-the-move", fingerprint)

    carried_out: list[int | None] = []

    def perform() -> idempotency.Answer:
        carried_out.append(member.organization_id)
        return idempotency.Answer(201, f'{{"organization": {member.organization_id}}}')

    first = idempotency.run_once(keyed(), perform)
    assert idempotency.run_once(keyed(), perform).replayed  # the same organization: replayed
    accounts.move_user(
        member.id,
        other_vendor.organization_id,
        "Joined another firm.",
        Actor.of(accounts.principal_for(admin)),
    )
    db.session().refresh(member)

    assert isinstance(idempotency.begin(keyed()), idempotency.Claim)
    after = idempotency.run_once(keyed(), perform)
    assert not after.replayed
    assert after.body != first.body
    assert carried_out == [vendor.organization_id, other_vendor.organization_id]


def _keys() -> int:
    return int(db.session().scalar(select(func.count()).select_from(IdempotentRequest)) or 0)


def _age_keys(by: timedelta) -> None:
    with db.transaction() as session:
        for stored in session.scalars(select(IdempotentRequest)):
            stored.created_at = stored.created_at - by


def test_a_new_key_past_the_users_bound_in_24_hours_is_a_429_saying_when_and_stores_nothing(
    client: FlaskClient,
    invoice: Invoice,
    headers: dict[str, str],
    billing_staff: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Round 42: a client sending a fresh key with every request stored a record each,
    bounded only by the 24 hours and the hourly prune."""
    monkeypatch.setattr(idempotency, "KEYS_PER_USER", 3)
    small = {**WIRE, "amount": "10.00"}
    assert _post_payment(client, invoice, headers, "k-1", small).status_code == 201  # type: ignore[attr-defined]
    _age_keys(timedelta(hours=2))  # the oldest two hours old
    for key in ("k-2", "k-3"):
        assert _post_payment(client, invoice, headers, key, small).status_code == 201  # type: ignore[attr-defined]
    payments, keys = _payments(invoice), _keys()

    refused = _post_payment(client, invoice, headers, "k-4", small)

    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert refused.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    wait = int(refused.headers["Retry-After"])  # type: ignore[attr-defined]
    assert 22 * 3600 - 60 <= wait <= 22 * 3600  # when the oldest key is 24 hours old
    assert refused.headers["X-RateLimit-Limit"] == "3"  # type: ignore[attr-defined]
    assert refused.headers["X-RateLimit-Remaining"] == "0"  # type: ignore[attr-defined]
    resets = int(refused.headers["X-RateLimit-Reset"])  # type: ignore[attr-defined]
    assert abs(resets - (time.time() + wait)) <= 2
    detail = refused.get_json()["detail"]  # type: ignore[attr-defined]
    assert f"in {wait} seconds" in detail
    assert "retrying with one is safe" in detail
    assert (_payments(invoice), _keys()) == (payments, keys)  # nothing done or stored
    # A retry with a key already stored is still answered from its record.
    replayed = _post_payment(client, invoice, headers, "k-3", small)
    assert replayed.status_code == 201  # type: ignore[attr-defined]
    assert replayed.headers["Idempotent-Replayed"] == "true"  # type: ignore[attr-defined]
    # Another user's keys are their own.
    other = bearer(factories.make_staff(db.session(), roles=("billing",)))
    assert _post_payment(client, invoice, other, "k-4", small).status_code == 201  # type: ignore[attr-defined]
    # Once the oldest is over 24 hours old (not yet pruned), it no longer counts.
    _age_keys(timedelta(hours=22, minutes=1))
    assert _post_payment(client, invoice, headers, "k-4", small).status_code == 201  # type: ignore[attr-defined]


def _counted_slowly(monkeypatch: pytest.MonkeyPatch, bound: int) -> None:
    """The bound at `bound`, and each request waiting 0.4 s after counting, so that
    without turns every request sent at once counts before any stores its key."""
    monkeypatch.setattr(idempotency, "KEYS_PER_USER", bound)
    counted = idempotency._within_bound

    def slow_after_counting(*args: object, **kwargs: object) -> None:
        counted(*args, **kwargs)  # type: ignore[arg-type]
        time.sleep(0.4)

    monkeypatch.setattr(idempotency, "_within_bound", slow_after_counting)


def _clerks_invoice(app: Flask) -> tuple[Invoice, dict[str, str]]:
    """An open invoice, committed, and a billing clerk's token headers."""
    with app.app_context():
        organization = factories.make_organization(db.session())
        invoice = send_activation(activated(organization.id))
        assert invoice is not None
        return invoice, bearer(factories.make_staff(db.session(), roles=("billing",)))


def _paid_at_once(
    app: Flask, invoice: Invoice, headers: dict[str, str], keys: list[str]
) -> list[tuple[str, int, dict[str, str]]]:
    """A payment of 10.00 posted with each key, all at the same moment, each from a
    thread of its own: (key, status, headers) of each answer."""
    barrier = threading.Barrier(len(keys))
    answers: list[tuple[str, int, dict[str, str]]] = []

    def post(key: str) -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        answer = client.post(
            f"/api/v1/invoices/{invoice.id}/payments",
            json={**WIRE, "amount": "10.00"},
            headers={**headers, "Idempotency-Key": key},
        )
        answers.append((key, answer.status_code, dict(answer.headers)))

    threads = [threading.Thread(target=post, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return answers


def test_new_keys_sent_at_once_at_the_bound_store_exactly_the_bound_and_the_rest_are_429s(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 44: the count of a user's keys was read, not locked, so requests with
    new keys sent at the same moment at the bound were all taken."""
    _counted_slowly(monkeypatch, 2)
    invoice, headers = _clerks_invoice(committed_app)

    answers = _paid_at_once(committed_app, invoice, headers, [f"at-once-{n}" for n in range(4)])

    assert sorted(status for _, status, _ in answers) == [201, 201, 429, 429]
    for _, status, answered in answers:
        if status == 429:
            assert int(answered["Retry-After"]) > 0
            assert answered["X-RateLimit-Remaining"] == "0"
    with committed_app.app_context():
        assert (_keys(), _payments(invoice)) == (2, 2)
    # The keys stored are still answered from their records, at the bound.
    taken = [key for key, status, _ in answers if status == 201]
    again = _paid_at_once(committed_app, invoice, headers, taken)
    assert [(status, answered["Idempotent-Replayed"]) for _, status, answered in again] == [
        (201, "true"),
        (201, "true"),
    ]
    with committed_app.app_context():
        assert (_keys(), _payments(invoice)) == (2, 2)


def test_one_key_sent_twice_at_once_for_the_last_place_is_stored_once_and_replayed_not_429(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 44: the second request, having waited its turn behind the first, counts
    the first's key and finds the user at the bound; the key is its own, so it is
    answered from the first's record as any retry is, not refused."""
    _counted_slowly(monkeypatch, 1)
    invoice, headers = _clerks_invoice(committed_app)

    answers = _paid_at_once(committed_app, invoice, headers, ["the-last-place"] * 2)

    replayed = sorted(
        (status, "Idempotent-Replayed" in answered) for _, status, answered in answers
    )
    assert replayed == [(201, False), (201, True)]
    with committed_app.app_context():
        assert (_keys(), _payments(invoice)) == (1, 1)


def test_the_document_lists_the_bounds_429_with_retry_after_on_every_keyed_route(
    client: FlaskClient,
) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    keyed = 0
    for item in document["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            names = [p.get("name") for p in operation.get("parameters", [])]
            if "Idempotency-Key" not in names:
                continue
            keyed += 1
            answer = operation["responses"]["429"]
            assert "Retry-After" in answer["headers"]
            assert "new `Idempotency-Key`s" in answer["description"]
    assert keyed >= 6
