"""The `licensing` commands the README and docs tell an operator to run exist, with
the options written (round 50): every command line in a code span or a code block
(docs/operations.md's crontab and systemd unit among them) names a command of the
console script and only options it takes, the README's choices (`--scope
read\\|write`) are the command's, and the README's command table lists every command
the script has but Flask's and its extensions' own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from licensing.app import create_app
from licensing.cli import main
from licensing.config import PROJECT_ROOT
from tests.conftest import make_config

DOCUMENTS = [PROJECT_ROOT / "README.md"] + [
    path for path in sorted((PROJECT_ROOT / "docs").glob("*.md")) if path.name != "journeys.md"
]
# journeys.md is the record of past rounds: commands as they were then.

# Commands Flask and its extensions add, which the README does not describe.
NOT_OURS = {("routes",), ("shell",), ("openapi",), ("limiter",)}


@pytest.fixture(scope="module")
def top() -> Iterator[dict[str, click.Command]]:
    """The console script's commands: `serve` and `run` of its own, the app's. Read
    from one app the module builds on no database (round 63: each test took the `app`
    fixture, so ran twice, on SQLite and on PostgreSQL, whose commands are the same;
    and run alone, the file started a PostgreSQL server for nothing)."""
    app = create_app(make_config("sqlite://"))
    yield {**main.commands, **app.cli.commands}
    app.extensions["licensing.db"].engine.dispose()


def command_lines(text: str) -> list[str]:
    """Every `licensing ...` command line of a Markdown text: code spans that begin
    with it, and the lines of code blocks that run it (`$L` is the crontab's)."""
    found = [" ".join(span.split()) for span in re.findall(r"`(licensing(?:\s[^`]*)?)`", text)]
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            if line.lstrip().startswith(("#", "Description=")):
                continue
            match = re.search(r"(?:^|[\s=;(])(?:[\w./-]*/bin/)?(?:licensing|\$L)\s+(.*)", line)
            if match and not line.lstrip().startswith("L="):
                found.append("licensing " + match.group(1))
    return found


def _words_and_options(line: str) -> tuple[list[str], list[str]]:
    """A command line's command words (and lower-case arguments after them) and options."""
    rest = re.sub(r"\$\([^)]*\)", "", line.split(None, 1)[1] if " " in line else "")
    rest = re.sub(r"(^|\s)(--env-file|-e)\s+\S+", " ", rest).strip()
    words = re.match(r"[a-z][a-z-]*(?: [a-z][a-z-]*)*", rest)
    options = re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", rest)
    return (words.group(0).split() if words else []), options


def resolve(top: dict[str, click.Command], words: list[str]) -> tuple[click.Command | None, int]:
    """The command `words` name and how many of them name it (the rest are arguments)."""
    command: click.Command | None = None
    group: dict[str, click.Command] | None = top
    used = 0
    for word in words:
        if group is None or word not in group:
            break
        command = group[word]
        used += 1
        group = command.commands if isinstance(command, click.Group) else None
    return command, used


def problems(top: dict[str, click.Command], line: str) -> list[str]:
    """What is wrong with one command line: no such command, or an option it lacks."""
    words, options = _words_and_options(line)
    if words:
        command, _ = resolve(top, words)
        if isinstance(command, click.Group) and line.endswith(" ..."):
            return []  # `licensing db ...`: any of the group's commands
        if command is None or isinstance(command, click.Group):
            return [f"{line}: no such command"]
    else:
        command = main  # `licensing --env-file prod.env COMMAND`: the script's own options
    known = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    if command is main:
        known |= {"--env-file", "-e", "--app", "-A", "--debug", "--no-debug"}
    return [f"{line}: {option} is not an option" for option in options if option not in known]


def _leaves(group: dict[str, click.Command], prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for name, command in group.items():
        if (*prefix, name) in NOT_OURS:
            continue
        if isinstance(command, click.Group):
            yield from _leaves(command.commands, (*prefix, name))
        else:
            yield (*prefix, name)


def _document_problems(top: dict[str, click.Command], path: Path) -> list[str]:
    return [
        problem
        for line in command_lines(path.read_text(encoding="utf-8"))
        for problem in problems(top, line)
    ]


def test_every_command_the_readme_and_docs_name_exists_with_its_options(
    top: dict[str, click.Command],
) -> None:
    found = {
        str(path.relative_to(PROJECT_ROOT)): wrong
        for path in DOCUMENTS
        if (wrong := _document_problems(top, path))
    }
    assert found == {}


def test_the_check_finds_a_command_or_option_that_does_not_exist(
    top: dict[str, click.Command],
) -> None:
    """What keeps the test above from passing on nothing."""
    text = (
        "`licensing invoices overdue --now T`, `licensing invoices remind`, "
        "`licensing tokens create EMAIL --name N --days 30`\n\n```cron\n"
        'L="/srv/licensing/.venv/bin/licensing --env-file /etc/licensing/prod.env"\n'
        "5 * * * *  $L applications expire --dry-run >/dev/null\n```\n"
    )
    lines = command_lines(text)
    assert len(lines) == 4
    assert [problem for line in lines for problem in problems(top, line)] == [
        "licensing invoices remind: no such command",
        "licensing tokens create EMAIL --name N --days 30: --days is not an option",
        "licensing applications expire --dry-run >/dev/null: --dry-run is not an option",
    ]


def test_the_readme_table_lists_every_command_of_the_console_script(
    top: dict[str, click.Command],
) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = {
        tuple(_words_and_options(row)[0])
        for row in re.findall(r"^\| `(licensing [^`]*)` \|", readme, flags=re.MULTILINE)
    }
    assert sorted(set(_leaves(top, ())) - table) == []


@pytest.mark.parametrize(
    ("words", "option"),
    [
        (("exports",), "--format"),
        (("tokens", "create"), "--scope"),
        (("tokens", "create"), "--expires-in"),
        (("users", "set-role"), "role"),
    ],
)
def test_the_choices_the_readme_writes_are_the_commands(
    top: dict[str, click.Command], words: tuple[str, ...], option: str
) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    row = re.search(rf"^\| `licensing {' '.join(words)} ([^`]*)` \|", readme, flags=re.MULTILINE)
    assert row, words
    written = re.escape(option) + r" " if option.startswith("-") else r""
    choices = re.search(written + r"\[?([a-z0-9]+(?:\\\|[a-z0-9]+)+)", row.group(1))
    assert choices, row.group(1)
    command, _ = resolve(top, list(words))
    assert command is not None
    param = next(p for p in command.params if option in (*p.opts, p.name))
    assert isinstance(param.type, click.Choice)
    assert choices.group(1).split("\\|") == list(param.type.choices)
