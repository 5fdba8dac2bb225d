"""The `|isolated` filter pages show names through (round 61, bidi61), and round 62's
others: `apart` in emails, a queue's `rows.isolated`, who acted `People.shown`."""

from __future__ import annotations

from types import SimpleNamespace

from markupsafe import Markup

from licensing.accounts.queries import People
from licensing.web import rows
from licensing.web.filters import greeting, isolated
from licensing.words import apart, end_sentence


def test_a_right_to_left_name_is_put_in_bdi_and_any_name_escaped() -> None:
    assert isolated("مترجم الرموز ش.م.م.") == Markup("<bdi>مترجم الرموز ش.م.م.</bdi>")
    assert isolated("מרכז <ישראל>") == Markup("<bdi>מרכז &lt;ישראל&gt;</bdi>")
    # Round 62: a name without a right-to-left letter cannot reorder the sentence.
    assert isolated("Smith & <Sons>") == Markup("Smith &amp; &lt;Sons&gt;")
    assert isolated("株式会社翻訳工房 (2)") == Markup("株式会社翻訳工房 (2)")


def test_no_name_gives_no_element() -> None:
    assert isolated(None) == ""
    assert isolated("") == ""


def test_an_emails_right_to_left_name_is_set_between_isolates_and_any_other_left_as_typed() -> None:
    assert apart("ليلى منصور") == "\u2068ليلى منصور\u2069"
    assert apart("מרכז (ישראל) 2") == "\u2068מרכז (ישראל) 2\u2069"
    for name in ("Layla Mansour", "株式会社翻訳工房", "Μεταφραστής", "अनन्या शर्मा", "Acme (UK) 2"):
        assert apart(name) == name
    assert apart(None) == ""
    assert apart("") == ""


def test_a_name_set_apart_ending_in_a_full_stop_is_followed_by_no_other() -> None:
    assert end_sentence(apart("مترجم الرموز ش.م.م.")) == "\u2068مترجم الرموز ش.م.م.\u2069"
    assert end_sentence(apart("مترجم الرموز")) == "\u2068مترجم الرموز\u2069."


def test_an_emails_greeting_keeps_its_comma_after_a_right_to_left_name() -> None:
    assert greeting(["ليلى منصور"]) == "Hello \u2068ليلى منصور\u2069,"
    assert greeting(["Layla Mansour", "אנה כהן"]) == "Hello Layla Mansour and \u2068אנה כהן\u2069,"


def test_a_queue_cell_holds_the_name_escaped_in_bdi_and_a_dash_for_none() -> None:
    assert rows.isolated("مترجم & <الرموز>") == "<bdi>مترجم &amp; &lt;الرموز&gt;</bdi>"
    assert rows.isolated("Smith & <Sons>") == "Smith &amp; &lt;Sons&gt;"
    assert rows.isolated("") == "—"


def test_who_acted_is_shown_with_the_name_alone_in_bdi_and_the_address_after_it() -> None:
    people = People([SimpleNamespace(id=7, email="layla@example.com", full_name="ليلى <منصور>")])
    assert people.shown("layla@example.com", 7) == Markup(
        "<bdi>ليلى &lt;منصور&gt;</bdi> (layla@example.com)"
    )
    assert people.shown("gone@example.com", 9) == "gone@example.com"
    latin = People([SimpleNamespace(id=8, email="pat@example.com", full_name="Pat Lee")])
    assert latin.shown("pat@example.com", 8) == "Pat Lee (pat@example.com)"
    assert people.shown(None) == ""
