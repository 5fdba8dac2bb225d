"""The password rule and hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from licensing.accounts import passwords


@pytest.mark.parametrize(
    "password",
    [
        "plum-harbour-lantern-42",
        "correct horse battery staple",
        "Gx7#qL2!vR9m",
        "tulip umbrella 1987 kettle",
    ],
)
def test_long_unpredictable_passwords_are_accepted(password: str) -> None:
    assert passwords.password_problems(password, email="alex@northwind.example") == []


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-one", "at least 12 characters"),
        ("x" * 129, "At most 128 characters."),
        ("password1234", "commonly used"),
        ("Password2027!", "commonly used"),
        ("!!iloveyou!!", "commonly used"),
        ("welcomewelcome", "commonly used"),
        ("aaaaaaaaaaaaaaa", "more than three different characters"),
        ("abababababab", "more than three different characters"),
        ("abcdefghijklm", "sequence"),
        ("123456789012", "sequence"),
        ("qwertyuiopas", "sequence"),
        ("xyzwxyzwxyzw", "repeat a short pattern"),
    ],
)
def test_obvious_passwords_are_refused_with_a_reason(password: str, problem: str) -> None:
    problems = passwords.password_problems(password)
    assert problems, password
    assert any(problem in text for text in problems), problems


def test_a_password_may_not_contain_the_email_or_names() -> None:
    assert "Do not include your email address." in passwords.password_problems(
        "alexandra-was-here-2027", email="alexandra@northwind.example"
    )
    assert any(
        "name" in text
        for text in passwords.password_problems(
            "northwind-forever-27", names=("Northwind Health Software",)
        )
    )


def test_the_rule_is_stated_in_words_for_the_forms() -> None:
    assert "At least 12 characters" in passwords.RULE


def test_production_hashing_is_argon2id_with_the_rfc_9106_low_memory_profile() -> None:
    hasher = PasswordHasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)
    assert passwords.HASHER.hash("x").startswith("$argon2id$")


def test_a_hash_verifies_only_its_own_password() -> None:
    digest = passwords.hash_password("plum-harbour-lantern-42")
    assert passwords.verify_password(digest, "plum-harbour-lantern-42")
    assert not passwords.verify_password(digest, "plum-harbour-lantern-43")
    assert not passwords.verify_password("not a hash", "plum-harbour-lantern-42")


def test_the_session_fingerprint_changes_with_the_hash() -> None:
    first = passwords.hash_password("plum-harbour-lantern-42")
    second = passwords.hash_password("plum-harbour-lantern-42")
    assert passwords.session_fingerprint(first) != passwords.session_fingerprint(second)
    assert len(passwords.session_fingerprint(first)) == 16
