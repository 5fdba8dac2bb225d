"""Explicit state machines refuse illegal steps and say, in a sentence, what is
allowed instead."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import licensing
from licensing.errors import IllegalTransition
from licensing.statemachine import Action, Hold, StateMachine, past_tense

MACHINE = StateMachine(
    "invoice",
    {("draft", "finalize"): "open", ("open", "pay"): "paid", ("open", "void"): "void"},
    ("draft", "open", "paid", "void"),
    steps={"finalize": "be finalized", "pay": "be paid", "void": "be voided"},
    state_words={"draft": "a draft"},
)


def test_a_legal_step_gives_the_next_state() -> None:
    assert MACHINE.step("draft", "finalize") == "open"


def test_an_illegal_step_says_in_words_what_the_state_allows() -> None:
    # The wording is the point: it read "Cannot finalize an invoice that is open;
    # allowed actions: pay, void" (and "Cannot start review a permission request").
    with pytest.raises(IllegalTransition) as raised:
        MACHINE.step("open", "finalize")
    assert raised.value.allowed == ["pay", "void"]
    assert raised.value.detail == (
        "An invoice that is open cannot be finalized: it can only be paid or voided."
    )


def test_the_refusal_reads_as_a_sentence_with_the_entitys_article_and_the_states_words() -> None:
    with pytest.raises(IllegalTransition) as raised:
        MACHINE.step("draft", "pay")
    assert raised.value.detail.startswith("An invoice that is a draft cannot be paid:")
    report = StateMachine(
        "royalty report",
        {("due", "submit"): "submitted"},
        ("due", "submitted"),
        steps={"submit": "be submitted"},
    )
    with pytest.raises(IllegalTransition, match=r"^A royalty report that is submitted cannot"):
        report.step("submitted", "submit")


def test_terminal_states_allow_nothing() -> None:
    assert MACHINE.is_terminal("paid")
    with pytest.raises(
        IllegalTransition, match=r"cannot be voided: no further step is possible\.$"
    ):
        MACHINE.step("paid", "void")


def test_passive_and_active_steps_are_listed_as_one_sentence() -> None:
    error = IllegalTransition(
        "application",
        "returned",
        "approve",
        ["lapse", "resubmit", "withdraw"],
        steps={"lapse": "lapse", "resubmit": "be resubmitted", "withdraw": "be withdrawn"},
    )
    assert error.detail == (
        "An application that is returned cannot take the step 'approve': "
        "it can only be resubmitted or withdrawn, or lapse."
    )


def test_events_and_step_words_default_to_the_actions_past_tense() -> None:
    # A machine names only its irregular words; the rest follow from the action.
    machine = StateMachine(
        "invoice",
        {
            ("draft", "finalize"): "open",
            ("open", "settle"): "paid",
            ("open", "deny"): "void",
            ("open", "mark_uncollectible"): "void",
        },
        ("draft", "open", "paid", "void"),
        events={"settle": "paid", "mark_uncollectible": "written_off"},
        steps={"settle": "be marked paid"},
    )
    assert machine.events == {
        "finalize": "finalized",
        "settle": "paid",
        "deny": "denied",
        "mark_uncollectible": "written_off",
    }
    assert machine.steps["finalize"] == "be finalized"
    assert machine.steps["deny"] == "be denied"
    # The words say the action done to the record, whatever the audit log calls it.
    assert machine.steps["mark_uncollectible"] == "be marked uncollectible"
    with pytest.raises(IllegalTransition) as raised:
        machine.step("draft", "settle")
    assert raised.value.detail == (
        "An invoice that is draft cannot be marked paid: it can only be finalized."
    )


def test_a_machine_declared_action_by_action_is_the_same_table_and_words() -> None:
    declared = StateMachine.from_actions(
        "invoice",
        ("draft", "open", "paid", "void"),
        {
            "finalize": Action("draft", to="open", stamp="finalized_at"),
            "settle": Action("open", to="paid", event="paid", words="be marked paid"),
            "void": Action("draft", "open", to="void"),
        },
        stamp="updated_at",
    )
    assert declared.transitions == {
        ("draft", "finalize"): "open",
        ("open", "settle"): "paid",
        ("draft", "void"): "void",
        ("open", "void"): "void",
    }
    assert declared.events == {"finalize": "finalized", "settle": "paid", "void": "voided"}
    # The machine's stamp is every action's that names none of its own.
    assert declared.stamps == {
        "finalize": "finalized_at",
        "settle": "updated_at",
        "void": "updated_at",
    }
    assert declared.steps == {
        "finalize": "be finalized",
        "settle": "be marked paid",
        "void": "be voided",
    }


def test_an_action_the_record_takes_itself_is_worded_as_its_verb() -> None:
    # "An agreement that is expired cannot expire", not "cannot be expired".
    machine = StateMachine(
        "agreement",
        {("active", "expire"): "expired", ("active", "terminate"): "ended"},
        ("active", "expired", "ended"),
        steps={},
    )
    assert machine.steps == {"expire": "expire", "terminate": "be terminated"}


@pytest.mark.parametrize(
    ("action", "event"),
    [
        ("approve", "approved"),
        ("accept", "accepted"),
        ("deny", "denied"),
        ("retry", "retried"),
        ("mark_uncollectible", "marked_uncollectible"),
        ("submit", "submitted"),
        ("give_up", "given_up"),
    ],
)
def test_an_actions_past_tense_conjugates_its_first_word(action: str, event: str) -> None:
    assert past_tense(action) == event


def _service_machines() -> list[StateMachine]:
    """Every state machine the service declares (in its packages' states.py)."""
    found = []
    for module in pkgutil.walk_packages(licensing.__path__, "licensing."):
        if module.name.endswith(".states"):
            names = vars(importlib.import_module(module.name))
            found += [value for value in names.values() if isinstance(value, StateMachine)]
    return found


def test_every_machine_words_every_step_so_no_refusal_names_a_raw_action() -> None:
    machines = _service_machines()
    assert len(machines) >= 9  # application, agreement, invoice, payment, refund, ...
    for machine in machines:
        assert set(machine.steps) == set(machine.actions), machine.entity
        for state in machine.states:
            for action in sorted(machine.actions - set(machine.allowed(state))):
                with pytest.raises(IllegalTransition) as raised:
                    machine.step(state, action)
                detail = raised.value.detail
                assert "_" not in detail, detail
                assert "'" not in detail.replace("'s ", ""), detail  # no 'raw_action' quoted
                assert detail.endswith("."), detail


def test_a_table_naming_unknown_states_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown states"):
        StateMachine("x", {("a", "go"): "b"}, ("a",))


def test_words_for_an_action_the_table_does_not_have_are_refused() -> None:
    # Only the irregular words are listed, so a misspelt action would go unnoticed.
    with pytest.raises(ValueError, match=r"no actions \['stat_review'\]"):
        StateMachine(
            "x",
            {("a", "start_review"): "b"},
            ("a", "b"),
            events={"stat_review": "review_started"},
        )


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        ("agreement", "An agreement that is open cannot be paid"),
        ("invoice", "An invoice that is open cannot be paid"),
        ("outbox message", "An outbox message that is open cannot be paid"),
        ("permission request", "A permission request that is open cannot be paid"),
    ],
)
def test_the_refusal_reads_as_a_sentence_with_the_right_article(entity: str, expected: str) -> None:
    # "Cannot accept a agreement that is active" is what a vendor read in a 409.
    error = IllegalTransition(entity, "open", "pay", [], steps={"pay": "be paid"})
    assert error.detail.startswith(expected + ":")


def test_a_state_that_waits_on_something_outside_says_why_instead_of_its_steps() -> None:
    """Round 43: a refusal from a state with `state_why` listed the outside's steps as
    if the caller could take them ("it can only be answered by the courier ...") and
    then the why; it says the why alone, and other states' refusals list their steps."""
    machine = StateMachine.from_actions(
        "parcel",
        ("ready", "in_transit", "delivered"),
        {
            "send": Action("ready", to="in_transit", words="be sent"),
            "deliver": Action("in_transit", to="delivered", words="be delivered by the courier"),
        },
        state_words={"in_transit": "on its way"},
        state_why={"in_transit": "The courier has not answered yet."},
    )
    with pytest.raises(IllegalTransition) as refused:
        machine.step("in_transit", "send")
    assert str(refused.value) == (
        "A parcel that is on its way cannot be sent: The courier has not answered yet."
    )
    with pytest.raises(IllegalTransition) as listed:
        machine.step("ready", "deliver")
    assert str(listed.value) == (
        "A parcel that is ready cannot be delivered by the courier: it can only be sent."
    )


def test_a_step_held_back_from_outside_is_refused_saying_why_and_others_go_on() -> None:
    """Round 44: a flagged payment whose charge the bank disputes was accepted, its
    state allowing it; a `Hold` from outside the record refuses the steps it holds,
    saying its why in place of the steps, asked as `step`, `apply` or `refusal`,
    while the steps it does not hold, and every step of another state, go on."""
    hold = Hold("pay", why="its cheque is being checked by the bank.")
    with pytest.raises(IllegalTransition) as held:
        MACHINE.step("open", "pay", hold=hold)
    assert str(held.value) == (
        "An invoice that is open cannot be paid: its cheque is being checked by the bank."
    )
    assert held.value.allowed == ["void"]
    assert MACHINE.refusal("open", "pay", hold=hold) == str(held.value)
    assert MACHINE.refusal("open", "void", hold=hold) is None
    assert MACHINE.step("open", "void", hold=hold) == "void"
    assert MACHINE.refusal("open", "pay") is None
    # A step the state refuses anyway says what the state allows, as before.
    assert MACHINE.refusal("draft", "pay", hold=hold) == (
        "An invoice that is a draft cannot be paid: it can only be finalized."
    )
