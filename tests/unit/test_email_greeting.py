"""Round 61: an email greets the people it is sent to by name where the service
knows them ("Hello," named nobody in the licensing emails to members)."""

from __future__ import annotations

from licensing.web.filters import greeting


def test_an_email_to_one_person_greets_them_by_name() -> None:
    assert greeting(["Jonas Weber"]) == "Hello Jonas Weber,"


def test_an_email_to_two_or_three_people_names_each_of_them() -> None:
    assert greeting(["Ann Lee", "Bo Chen"]) == "Hello Ann Lee and Bo Chen,"
    assert greeting(["A B", "C D", "E F"]) == "Hello A B, C D and E F,"


def test_an_email_to_nobody_named_or_to_many_says_hello_alone() -> None:
    assert greeting([]) == "Hello,"
    assert greeting(None) == "Hello,"
    assert greeting(["", "  "]) == "Hello,"
    assert greeting(["A", "B", "C", "D"]) == "Hello,"
