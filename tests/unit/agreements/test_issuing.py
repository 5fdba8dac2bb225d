"""The agreement's notices, reporting periods and clause parsing."""

from __future__ import annotations

from datetime import date

from licensing.agreements.issuing import _parse_clauses, _quarters, copyright_notice


def test_a_2027_term_carries_the_2026_copyright_notice() -> None:
    assert (
        copyright_notice(date(2027, 1, 1))
        == "CPT © 2026 American Medical Association. All rights reserved."
    )


def test_reporting_periods_are_calendar_quarters_clipped_to_the_term() -> None:
    assert _quarters(date(2027, 2, 15), date(2027, 7, 31)) == [
        (date(2027, 2, 15), date(2027, 3, 31)),
        (date(2027, 4, 1), date(2027, 6, 30)),
        (date(2027, 7, 1), date(2027, 7, 31)),
    ]


def test_clause_text_splits_into_headings_and_paragraphs() -> None:
    clauses = _parse_clauses("## One\nFirst line\ncontinued.\n\nSecond.\n## Two\nOnly.\n")
    assert [(c.heading, c.paragraphs) for c in clauses] == [
        ("One", ("First line continued.", "Second.")),
        ("Two", ("Only.",)),
    ]
