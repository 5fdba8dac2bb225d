"""Explicit state machines refuse illegal steps and say what is allowed."""

from __future__ import annotations

import pytest

from licensing.errors import IllegalTransition
from licensing.statemachine import StateMachine

MACHINE = StateMachine(
    "invoice",
    {("draft", "finalize"): "open", ("open", "pay"): "paid", ("open", "void"): "void"},
    ("draft", "open", "paid", "void"),
)


def test_a_legal_step_gives_the_next_state() -> None:
    assert MACHINE.step("draft", "finalize") == "open"


def test_an_illegal_step_names_the_allowed_actions() -> None:
    with pytest.raises(IllegalTransition) as raised:
        MACHINE.step("open", "finalize")
    assert raised.value.allowed == ["pay", "void"]
    assert "allowed actions: pay, void" in raised.value.detail


def test_the_refusal_reads_as_a_sentence_with_the_entitys_article() -> None:
    with pytest.raises(IllegalTransition) as raised:
        MACHINE.step("open", "finalize")
    assert raised.value.detail.startswith("Cannot finalize an invoice that is open;")
    report = StateMachine("royalty report", {("due", "submit"): "submitted"}, ("due", "submitted"))
    with pytest.raises(IllegalTransition, match=r"^Cannot submit a royalty report that is"):
        report.step("submitted", "submit")


def test_terminal_states_allow_nothing() -> None:
    assert MACHINE.is_terminal("paid")
    with pytest.raises(IllegalTransition, match="allowed actions: none"):
        MACHINE.step("paid", "void")


def test_a_table_naming_unknown_states_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown states"):
        StateMachine("x", {("a", "go"): "b"}, ("a",))


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        ("agreement", "Cannot pay an agreement that is open"),
        ("invoice", "Cannot pay an invoice that is open"),
        ("outbox message", "Cannot pay an outbox message that is open"),
        ("permission request", "Cannot pay a permission request that is open"),
    ],
)
def test_the_refusal_reads_as_a_sentence_with_the_right_article(entity: str, expected: str) -> None:
    # "Cannot accept a agreement that is active" is what a vendor read in a 409.
    error = IllegalTransition(entity, "open", "pay", [])
    assert error.detail.startswith(expected + ";")
