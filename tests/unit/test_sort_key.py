"""Round 53: `accounts.models.sort_key`, the order lists of names are read in: the
letters without accents or case first, then the accents, then the case, as Unicode's
collation algorithm orders them; bytes, compared alike by SQLite and PostgreSQL."""

from __future__ import annotations

import random

from licensing.accounts.models import SORT_KEY_MAX, sort_key


def _ordered(names: list[str]) -> list[str]:
    shuffled = list(names)
    random.Random(53).shuffle(shuffled)
    return sorted(shuffled, key=sort_key)


def test_names_are_filed_by_their_letters_before_their_accents_and_case() -> None:
    expected = [
        "alpha",
        "Ann",
        "Anna",
        "cote",
        "coté",
        "côte",
        "côté",
        "ecole",
        "Ecole",
        "ECOLE",
        "école",
        "École",
        "Émeraude",
        "Müller",
        "Muster",
        "Oster",
        "Øster",
        "Straße",
        "Strasse Zwei",
        "zeta",
        "Zürich",
    ]
    assert _ordered(expected) == expected


def test_letters_without_a_decomposition_are_filed_with_their_base_letter() -> None:
    assert _ordered(["Zed", "Łódź", "Lodz", "Æther", "Aether", "Ma"]) == [
        "Aether",
        "Æther",
        "Lodz",
        "Łódź",
        "Ma",
        "Zed",
    ]


def test_other_scripts_ignore_case_and_greek_accents() -> None:
    assert sort_key("ΣΟΦΙΑ")[: len("σοφια".encode())] == sort_key("Σοφία")[: len("σοφια".encode())]
    beta = "\u0392\u0397\u03a4\u0391"  # BHTA in Greek capitals
    assert _ordered(["Ωmega", "αλφα", beta]) == ["αλφα", beta, "Ωmega"]


def test_the_key_is_bounded_and_the_same_for_the_same_name() -> None:
    long = "\ufdfa" * 200  # NFKC makes this one character 18
    assert len(sort_key(long)) == SORT_KEY_MAX
    assert sort_key("  École\x1b ") == sort_key("École")
    assert sort_key("École") != sort_key("Ecole")
