"""No sentence built in Python puts a full stop straight after a name (round 36).

Round 35 gave the email templates `end_sentence` ("Example Inc." ends a sentence
once, not "Example Inc.."); this holds the same for the subjects, page messages,
refusals and documents written as f-strings: a name (an organization's legal name,
a person's, an institution, an issuer) followed by "." is written through
`licensing.words.end_sentence`, the one rule pages, emails and services share."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "licensing"
# What holds a name, by the attribute or variable the f-string reads.
NAMED = re.compile(
    r"(legal_name|full_name|institution|issuer|shown_name|display_name|licensee\.name|"
    r"requester\.name|user\.name|organization_name)$"
)
# A full stop ending the sentence: at the text's end, or before a space.
FULL_STOP = re.compile(r"\.(\s|$)")


def _names_before_a_full_stop(source: str) -> list[str]:
    """Each `{name}.` in the module's f-strings, with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.JoinedStr):
            continue
        for value, after in zip(node.values, node.values[1:], strict=False):
            if not (isinstance(value, ast.FormattedValue) and isinstance(after, ast.Constant)):
                continue
            said = ast.unparse(value.value)
            if NAMED.search(said) and FULL_STOP.match(str(after.value)):
                found.append(f"{node.lineno}: {{{said}}}.")
    return found


def test_no_f_string_puts_a_full_stop_straight_after_a_name() -> None:
    found = {
        str(path.relative_to(PACKAGE.parent)): hits
        for path in sorted(PACKAGE.rglob("*.py"))
        if (hits := _names_before_a_full_stop(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_sweep_finds_a_name_before_a_full_stop() -> None:
    """It can fail: the finance report's subtitle as it was before round 36, and
    not a name inside a sentence or written through `end_sentence`."""
    before = 'line = f"{report.issuer}. Amounts in {report.currency}."\n'
    assert _names_before_a_full_stop(before) == ["1: {report.issuer}."]
    fine = (
        'a = f"{end_sentence(report.issuer)} Amounts in {report.currency}."\n'
        'b = f"{organization.legal_name}\'s administrators."\n'
        'c = f"Welcome to {organization.legal_name}"\n'
    )
    assert _names_before_a_full_stop(fine) == []
