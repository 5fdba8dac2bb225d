"""Round 65 (ops65): after a Stripe key mistake, the reports withdrawn so Stripe is asked
again.

The service runs a while with another Stripe account's keys: every pending card
payment's PaymentIntent is refused and reported once (round 61), and no job asks Stripe
about it again. Until round 65 nothing let the office have those payments asked about
again once the right keys were back: billing staff could only mark each report looked
at. Now an operator (`licensing payments withdraw-unknown-intents`) or billing staff
(*Ask Stripe again* on *Stripe's events*) withdraw the reports not looked at, each an
audit event with who and why, and the next `payments reconcile` asks Stripe again.

The key mistake is made for real: the wrong keys are the real adapter pointed at a
second localstripe of this module's (another account, which made none of these
PaymentIntents and refuses each with its own 404); the right keys, the test's
localstripe. Never a mock of Stripe: the gateway is only wrapped to count what it is
asked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import queries, services
from licensing.billing.models import (
    UNKNOWN_INTENT_ACTION,
    UNKNOWN_INTENT_WITHDRAWN_ACTION,
    Invoice,
    Payment,
)
from licensing.billing.services import unknown_intents
from licensing.billing.states import PENDING, SUCCEEDED
from licensing.db import utcnow
from tests.support import settings
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.console_lists import words
from tests.support.hosts import run_as_hosts
from tests.support.servers import LocalStripe, ServerUnavailable

from .lock_support import card_paid
from .stripe_support import (
    STRIPE_EVENTS,
    CountingIntents,
    another_account,
    pay_by_card,
    put_pending,
    stripe_config,
)

COMMAND = ["payments", "withdraw-unknown-intents"]
WITHDRAW = f"{STRIPE_EVENTS}/unknown-intents/withdraw"
REASON = "The live keys are back since 09:40; the staging keys were deployed by mistake."


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


@pytest.fixture(scope="module")
def other_stripe() -> Iterator[LocalStripe]:
    """Another Stripe account: a localstripe of this module's own."""
    try:
        server = LocalStripe().start()
    except ServerUnavailable as exc:
        pytest.skip(f"localstripe: {exc}")
    yield server
    server.stop()


def _events(action: str) -> list[AuditEvent]:
    db.session().expire_all()
    return list(
        db.session().scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def test_an_operator_withdraws_the_reports_of_a_key_mistake_and_reconcile_asks_stripe_again(
    app: Flask,
    vendor: User,
    localstripe: LocalStripe,
    other_stripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payments = [
        put_pending(pay_by_card(invoice_for(vendor, (amount,)), vendor, localstripe), hours=hours)
        for amount, hours in (("50.00", 5), ("60.00", 4), ("70.00", 3))
    ]
    intents = [payment.stripe_payment_intent_id for payment in payments]
    assert all(intents)

    # The wrong keys: another account refuses each PaymentIntent; each is reported once.
    report = services.reconcile_payments(gateway=another_account(other_stripe), now=utcnow())
    assert len([line for line in report.outcomes if "not asked again" in line]) == 3
    assert [event.entity_id for event in _events(UNKNOWN_INTENT_ACTION)] == intents

    # The right keys are back, and no job asks Stripe about them (the base).
    right = CountingIntents(settings.gateway())
    services.reconcile_payments(gateway=right, now=utcnow())
    assert right.asked == []

    runner = app.test_cli_runner()
    # A selection is required, and a reason unless it is a dry run.
    neither = runner.invoke(args=[*COMMAND, "--reason", REASON])
    assert neither.exit_code == 2
    assert "Give --all, or the PaymentIntents" in neither.output
    both = runner.invoke(args=[*COMMAND, "--all", "--intent", intents[0], "--reason", REASON])
    assert both.exit_code == 2
    no_reason = runner.invoke(args=[*COMMAND, "--all"])
    assert no_reason.exit_code == 2
    assert "Say why the reports are withdrawn" in no_reason.output
    backwards = runner.invoke(
        args=[*COMMAND, "--reported-from", "2027-03-02", "--reported-to", "2027-03-01"]
    )
    assert backwards.exit_code == 2
    assert "Reported to cannot come before reported from." in backwards.output
    assert runner.invoke(args=[*COMMAND, "--reported-from", "03/01/2027"]).exit_code == 2

    # A dry run lists what it would withdraw, and changes nothing.
    dry = runner.invoke(args=[*COMMAND, "--all", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert [line.split()[2] for line in dry.output.splitlines() if line.startswith("would")] == (
        intents
    )
    assert "payments reconcile" in dry.output
    assert "3 report(s) of PaymentIntents Stripe did not know would be withdrawn" in dry.output
    limited = runner.invoke(args=[*COMMAND, "--all", "--dry-run", "--limit", "1"])
    assert [line for line in limited.output.splitlines() if line.startswith("would")] == [
        line for line in dry.output.splitlines() if line.startswith("would")
    ][:1]
    assert "more remain past the limit (run it again to go on)" in limited.output
    assert _events(UNKNOWN_INTENT_WITHDRAWN_ACTION) == []

    # One PaymentIntent by name (and one never reported, said so).
    one = runner.invoke(
        args=[*COMMAND, "--intent", intents[0], "--intent", "pi_never_reported", "--reason", REASON]
    )
    assert one.exit_code == 0, one.output
    assert f"withdrawn: {intents[0]} (card payment {payments[0].id};" in one.output
    assert "not withdrawn: pi_never_reported: no report of it not looked at" in one.output
    (first,) = _events(UNKNOWN_INTENT_WITHDRAWN_ACTION)
    assert (first.entity_type, first.entity_id) == ("stripe_payment_intent", intents[0])
    assert (first.actor, first.note) == ("system", REASON)
    assert first.after_data["state"] == "withdrawn"
    assert first.after_data["payment_id"] == payments[0].id
    assert first.after_data["by"].startswith(
        "licensing payments withdraw-unknown-intents on the command line, user "
    )

    # The rest, a report a batch; run again, nothing more (idempotent).
    rest = runner.invoke(args=[*COMMAND, "--all", "--batch-size", "1", "--reason", REASON])
    assert rest.exit_code == 0, rest.output
    assert [
        line.split()[1] for line in rest.output.splitlines() if line.startswith("withdrawn")
    ] == (intents[1:])
    again = runner.invoke(args=[*COMMAND, "--all", "--reason", REASON])
    assert again.exit_code == 0, again.output
    assert "0 report(s) of PaymentIntents Stripe did not know withdrawn" in again.output
    assert len(_events(UNKNOWN_INTENT_WITHDRAWN_ACTION)) == 3

    # The next reconcile asks Stripe about each again, and applies what it says.
    ran = services.reconcile_payments(gateway=right, now=utcnow())
    assert sorted(right.asked) == sorted(intents)
    assert len([line for line in ran.outcomes if "applied to" in line]) == 3
    db.session().expire_all()
    assert {db.session().get(Payment, payment.id).state for payment in payments} == {SUCCEEDED}
    assert len(_events(UNKNOWN_INTENT_ACTION)) == 3  # none reported again


def test_a_report_withdrawn_while_the_keys_are_still_wrong_is_reported_afresh(
    vendor: User,
    localstripe: LocalStripe,
    other_stripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment = put_pending(pay_by_card(invoice_for(vendor, ("40.00",)), vendor, localstripe))
    intent = payment.stripe_payment_intent_id
    assert intent is not None
    wrong = another_account(other_stripe)
    services.reconcile_payments(gateway=wrong, now=utcnow())
    run = services.withdraw_reports(
        services.Withdrawal.of([intent]), reason=REASON, actor=Actor.SYSTEM
    )
    assert run.intents == [intent]
    assert not unknown_intents.is_reported(db.session(), intent)
    again = services.reconcile_payments(gateway=wrong, now=utcnow())
    assert any("not asked again" in line for line in again.outcomes)
    assert unknown_intents.is_reported(db.session(), intent)
    assert [row.intent for row in queries.unknown_intents(db.session()).newest] == [intent]
    db.session().expire_all()
    assert db.session().get(Payment, payment.id).state == PENDING


def _report(intent: str, at: datetime, payment_id: int = 1) -> None:
    """A job's report that Stripe does not know `intent`, made at the moment `at`."""
    with time_machine.travel(at, tick=False):
        assert unknown_intents.report_unknown(
            intent,
            payment_id=payment_id,
            why="No such payment_intent",
            job="payments reconcile",
            now=at,
        )


def test_billing_staff_withdraw_the_reports_of_some_days_after_a_confirmation(
    app: Flask,
    signed_in: Any,
    billing_staff: User,
    licensing_staff: User,
) -> None:
    day_one = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # 09:00 at the office
    day_two = day_one + timedelta(days=1)
    _report("pi_first_day", day_one)
    _report("pi_second_day", day_two)

    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(STRIPE_EVENTS).get_data(as_text=True)
    assert f'action="{WITHDRAW}"' in page
    assert "Ask Stripe again about them" in words(page)
    reader = signed_in(app.test_client(), licensing_staff)
    assert f'action="{WITHDRAW}"' not in reader.get(STRIPE_EVENTS).get_data(as_text=True)
    assert reader.post(WITHDRAW, data={"withdraw-reason": REASON}).status_code == 403

    # What cannot be read is the field's message; nothing matching is said so.
    bad_day = staff.post(
        WITHDRAW, data={"withdraw-reported_from": "1 March", "withdraw-reason": REASON}
    )
    assert bad_day.status_code == 422
    assert "Reported from takes an office day such as 2027-03-31" in words(
        bad_day.get_data(as_text=True)
    )
    no_reason = staff.post(WITHDRAW, data={"withdraw-reported_from": "2027-03-02"})
    assert no_reason.status_code == 422
    assert services.WITHDRAW_REASON_REQUIRED in words(no_reason.get_data(as_text=True))
    none_then = staff.post(
        WITHDRAW, data={"withdraw-reported_from": "2027-03-05", "withdraw-reason": REASON}
    )
    assert none_then.status_code == 422
    assert "No report not looked at matches" in words(none_then.get_data(as_text=True))

    # Asked first: the confirmation lists the second day's report alone.
    form = {"withdraw-reported_from": "2027-03-02", "withdraw-reason": REASON}
    asked = staff.post(WITHDRAW, data=form)
    assert asked.status_code == 200
    said = words(asked.get_data(as_text=True))
    assert "Ask Stripe again about these PaymentIntents?" in said
    assert "1 report of PaymentIntents Stripe did not know is withdrawn: pi_second_day." in said
    assert "pi_first_day" not in said
    assert 'name="withdraw-through"' in asked.get_data(as_text=True)
    assert _events(UNKNOWN_INTENT_WITHDRAWN_ACTION) == []
    (shown,) = [
        event.seq for event in _events(UNKNOWN_INTENT_ACTION) if event.entity_id == "pi_second_day"
    ]

    # A report made on the same day after the confirmation was shown is not withdrawn.
    _report("pi_after_the_confirmation", day_two + timedelta(hours=2))
    done = staff.post(WITHDRAW, data={**form, "withdraw-through": str(shown), "confirmed": "yes"})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    (withdrawn,) = _events(UNKNOWN_INTENT_WITHDRAWN_ACTION)
    assert withdrawn.entity_id == "pi_second_day"
    assert (withdrawn.actor_user_id, withdrawn.note) == (billing_staff.id, REASON)
    assert withdrawn.after_data["report_seq"] == shown
    listed = words(staff.get(STRIPE_EVENTS).get_data(as_text=True))
    assert "Withdrawn: 1 report of PaymentIntents Stripe did not know." in listed
    assert "2 PaymentIntents named by card payments are not known to Stripe" in listed
    assert "pi_second_day" not in listed

    # Pressed again: nothing left of what it showed, the machine's 409.
    twice = staff.post(WITHDRAW, data={**form, "withdraw-through": str(shown), "confirmed": "yes"})
    assert twice.status_code == 409
    assert "Nothing was withdrawn" in words(twice.get_data(as_text=True))
    # A report withdrawn cannot be marked looked at: it is no longer reported.
    mark = f"{STRIPE_EVENTS}/unknown-intents/pi_second_day/looked-at"
    refused = staff.post(mark, data={"intent-note": "x", "confirmed": "yes"})
    assert refused.status_code == 409
    assert "withdrawn for the jobs to ask Stripe again" in words(refused.get_data(as_text=True))
    assert not unknown_intents.is_reported(db.session(), "pi_second_day")
    assert unknown_intents.is_reported(db.session(), "pi_first_day")


def test_two_hosts_withdrawing_at_once_withdraw_each_report_once(committed_app: Flask) -> None:
    """Two operators (or hosts) run the command at once, in batches of two: between them
    every report is withdrawn, and none twice (each batch claims its reports and reads
    them again under the claim)."""
    intents = [f"pi_key_mistake_{number:02d}" for number in range(12)]
    with committed_app.app_context():
        for number, intent in enumerate(intents):
            unknown_intents.report_unknown(
                intent, payment_id=number + 1, why="No such", job="payments reconcile", now=utcnow()
            )

    runs = run_as_hosts(
        committed_app,
        lambda: services.withdraw_reports(
            services.Withdrawal.of(), reason=REASON, actor=Actor.SYSTEM, batch_size=2
        ),
    )

    assert sorted(intent for run in runs for intent in run.intents) == intents
    with committed_app.app_context():
        withdrawn = [event.entity_id for event in _events(UNKNOWN_INTENT_WITHDRAWN_ACTION)]
        assert sorted(withdrawn) == intents
        assert not any(unknown_intents.is_reported(db.session(), intent) for intent in intents)


def test_two_hosts_meeting_the_same_refusal_at_once_report_it_once(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 66: `payments reconcile` on one host and `payments fill-charge-ids` on
    another meet Stripe's refusal of the same PaymentIntent at once. Each read that no
    report was written and wrote one (round 65's "Left"): two reports of one
    PaymentIntent. The first host is held once it has read; the second now waits for
    the payment's lock and then reads the first's report."""
    _organization, _invoice, payment_id = card_paid(committed_app, pending=True)
    holds = held_until(
        monkeypatch,
        (unknown_intents, "is_reported"),
        (unknown_intents.audit, "record_event"),
    )

    def report(job: str) -> Callable[[], bool]:
        return lambda: unknown_intents.report_unknown(
            "pi_met_twice", payment_id=payment_id, why="No such", job=job, now=utcnow()
        )

    said = run_at_once(
        committed_app, report("payments reconcile"), report("payments fill-charge-ids"), holds
    )

    assert said == {"first": True, "second": False}
    with committed_app.app_context():
        (reported,) = _events(UNKNOWN_INTENT_ACTION)
        assert reported.after_data["job"] == "payments reconcile"
