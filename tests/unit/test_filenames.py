"""`licensing.filenames`: a file's name from a name people know (round 55)."""

from __future__ import annotations

from licensing.filenames import SLUG_MAX, ascii_name, content_disposition, slug


def test_a_slug_keeps_letters_and_digits_of_any_script_and_makes_the_rest_one_hyphen() -> None:
    assert slug("Northwind Inc.") == "northwind-inc"
    assert slug("  Société Générale -- S.A. ") == "société-générale-s-a"
    assert slug("株式会社 東京") == "株式会社-東京"
    assert slug('a"b;c\\d/e\r\nf\u202eg') == "a-b-c-d-e-f-g"


def test_a_slug_with_nothing_left_is_the_fallback_and_a_long_one_is_cut() -> None:
    assert slug(" ./\\ ") == "organization"
    long = slug("word " * 40)
    assert len(long) <= SLUG_MAX
    assert not long.endswith("-")


def test_the_ascii_name_drops_accents_and_other_scripts_without_doubled_hyphens() -> None:
    assert ascii_name("statement-société-USD-2027-03.pdf") == "statement-societe-USD-2027-03.pdf"
    assert ascii_name("statement-東京-USD-2027-03.pdf") == "statement-USD-2027-03.pdf"


def test_the_header_says_filename_star_only_for_a_name_outside_ascii() -> None:
    assert content_disposition("inline", "INV-2027-000001.pdf") == (
        'inline; filename="INV-2027-000001.pdf"'
    )
    assert content_disposition("attachment", "é.pdf") == (
        "attachment; filename=\"e.pdf\"; filename*=UTF-8''%C3%A9.pdf"
    )
