"""The `|isolated` filter pages show names through (round 61, bidi61)."""

from __future__ import annotations

from markupsafe import Markup

from licensing.web.filters import isolated


def test_a_name_is_put_in_bdi_and_escaped() -> None:
    assert isolated("مترجم الرموز ش.م.م.") == Markup("<bdi>مترجم الرموز ش.م.م.</bdi>")
    assert isolated("Smith & <Sons>") == Markup("<bdi>Smith &amp; &lt;Sons&gt;</bdi>")


def test_no_name_gives_no_element() -> None:
    assert isolated(None) == ""
    assert isolated("") == ""
