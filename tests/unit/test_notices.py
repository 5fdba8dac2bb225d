"""One copyright-year rule for every document (issue 15, item 6)."""

from datetime import date

from licensing import notices


def test_a_period_starting_in_2027_uses_the_2027_release_copyrighted_2026() -> None:
    assert notices.copyright_year(date(2027, 1, 1)) == 2026
    assert notices.copyright_year(date(2027, 12, 31)) == 2026
    assert notices.copyright_notice(date(2027, 7, 1)) == (
        "CPT © 2026 American Medical Association. All rights reserved."
    )
