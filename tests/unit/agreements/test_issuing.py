"""The agreement's notices, reporting periods and clause parsing."""

from __future__ import annotations

from datetime import date

from flask import Flask

from licensing.agreements.issuing import (
    _clause_use,
    _parse_clauses,
    _quarters,
    clauses,
    copyright_notice,
)
from licensing.agreements.models import ApplicationUse
from licensing.config import PROJECT_ROOT


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


def _licensed_use(use: str) -> ApplicationUse:
    return ApplicationUse(
        use=use,
        product_name="Invented Claims Checker",
        product_type="software",
        user_type="internal_staff",
        territories="US, CA",
        languages="en,fr",
    )


CLAUSE_CONTEXT = {
    "licensee": "Invented Health Software Inc.",
    "licensor": "The Licensing Office",
    "number": "CPT-2027-000042",
    "term_start": "2027-01-01",
    "term_end": "2027-12-31",
    "payment_days": 30,
    "late_fee_percent": "1.5",
}


def test_the_clauses_render_without_a_running_app_as_the_app_rendered_them() -> None:
    uses = [_licensed_use("distribution"), _licensed_use("development")]
    rendered = clauses(CLAUSE_CONTEXT, uses)  # no app context: it would raise before
    # What the app's template environment rendered the same files to.
    environment = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates")).jinja_env
    expected = [
        environment.get_template(f"agreements/clauses/{name}.txt").render(
            CLAUSE_CONTEXT, uses=[] if name == "general" else of_use
        )
        for name, of_use in (
            ("general", []),
            ("development", [_clause_use(uses[1])]),
            ("distribution", [_clause_use(uses[0])]),
        )
    ]
    assert rendered == tuple(clause for text in expected for clause in _parse_clauses(text))
    assert any("Invented Claims Checker" in " ".join(c.paragraphs) for c in rendered)
