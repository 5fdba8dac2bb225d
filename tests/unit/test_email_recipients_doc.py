"""docs/accounts.md's table of who receives which email names every email the
service sends (its templates), and no other: an email added without a line there
would reach someone nobody checked could act on it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _table_names() -> set[str]:
    text = (ROOT / "docs" / "accounts.md").read_text(encoding="utf-8")
    section = text.split("### Who receives which email", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split(" | ")[0])}


def _templates() -> set[str]:
    return {
        path.stem
        for path in (ROOT / "templates" / "emails").glob("*.txt")
        if not path.name.startswith("_")  # a part included by others
    }


def test_every_email_template_is_in_the_table_of_recipients() -> None:
    assert _templates() - _table_names() == set()


def test_the_table_of_recipients_names_only_emails_that_exist() -> None:
    assert _table_names() - _templates() == set()


def _operations_names() -> set[str]:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("## The emails the service sends: who gets what, when", 1)[1]
    rows = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split(" | ")[0])}


def test_the_operators_list_of_emails_names_each_email_the_service_sends_and_no_other() -> None:
    """docs/operations.md's list (who gets what, when; round 55) is the same set."""
    assert _operations_names() == _templates()
