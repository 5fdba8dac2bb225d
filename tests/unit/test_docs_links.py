"""The README's and docs' links lead somewhere in the repository (round 50): a
newcomer follows them from a clone, which has only the repository. Every relative
link names a file that exists and, after `#`, a heading of it (GitHub's anchors);
the README links nothing outside the repository but the server `make run` starts
on this computer."""

from __future__ import annotations

import re
from pathlib import Path

from licensing.config import PROJECT_ROOT

DOCUMENTS = [
    PROJECT_ROOT / "README.md",
    PROJECT_ROOT / "BENCHMARKS.md",
    *sorted((PROJECT_ROOT / "docs").glob("*.md")),
]

# The server `make run` serves, on this computer: the README's page table and
# set-up steps point there, which is the user's own machine, not the internet.
LOOPBACK = re.compile(r"https?://(127\.0\.0\.1|localhost)(:\d+)?(/|$)")


def _prose(text: str) -> str:
    """The text a reader sees as Markdown: fenced blocks and code spans are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    without_blocks = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", without_blocks, flags=re.MULTILINE):
        base = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[str]:
    """Every link target: `[text](target)`, `<scheme://...>` and a bare address
    (which GitHub links too)."""
    prose = _prose(text)
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", prose)
    targets += re.findall(r"<((?:https?|mailto):[^>\s]+)>", prose)
    rest = re.sub(r"\]\([^)\s]+\)|<(?:https?|mailto):[^>\s]+>", "", prose)
    targets += re.findall(r"(?<![\w(<])(https?://[^\s)>\]]*[^\s)>\].,;:])", rest)
    return targets


def broken_links(document: Path, text: str) -> list[str]:
    """The relative links of `document` (its text `text`) that lead nowhere."""
    broken = []
    for target in links(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, fragment = target.partition("#")
        destination = (document.parent / path).resolve() if path else document.resolve()
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif (
            fragment
            and destination.suffix == ".md"
            and fragment not in anchors(destination.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target}: no such heading")
    return broken


def test_every_relative_link_names_a_file_and_heading_of_the_repository() -> None:
    broken = {
        str(document.relative_to(PROJECT_ROOT)): found
        for document in DOCUMENTS
        if (found := broken_links(document, document.read_text(encoding="utf-8")))
    }
    assert broken == {}


def test_the_readme_links_nothing_outside_the_repository() -> None:
    outside = [
        target
        for target in links((PROJECT_ROOT / "README.md").read_text(encoding="utf-8"))
        if re.match(r"[a-z]+:", target) and not LOOPBACK.match(target)
    ]
    assert outside == []


def test_the_checks_find_a_missing_file_a_missing_heading_and_an_outside_link() -> None:
    """What keeps the two tests above from passing on nothing."""
    readme = PROJECT_ROOT / "README.md"
    text = (
        "# Running it\n\nSee [ops](docs/operations.md#no-such-heading), [gone](docs/gone.md),"
        " [here](#running-it), [jobs](docs/operations.md#jobs-not-run-lately),"
        " `[not a link](docs/gone.md)` and <https://example.org/x> or"
        " https://example.com/y, <http://127.0.0.1:5000/estimate>.\n"
    )
    assert broken_links(readme, text) == [
        "docs/operations.md#no-such-heading: no such heading",
        "docs/gone.md: no such file",
    ]
    assert [t for t in links(text) if not LOOPBACK.match(t) and ":" in t] == [
        "https://example.org/x",
        "https://example.com/y",
    ]
    assert {"running-it", "a-heading-1"} <= anchors("# Running it\n## A heading\n## A heading\n")
    assert "what-a-create-answers-201-and-location" in anchors(
        "## What a create answers: `201` and `Location`\n"
    )
