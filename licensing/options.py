"""Options the feature commands share beside `--now` (`licensing.clock.now_option`), and
the text arguments composed (`compose_text_arguments`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from licensing.printable import composed

F = TypeVar("F", bound=Callable[..., Any])


def whole_number_option(flag: str, *, at_least: int, default: int, help: str) -> Callable[[F], F]:
    """An option taking a whole number of at least `at_least` (a count, minutes, a
    sequence number), its default and range shown in `--help`."""
    return click.option(
        flag, type=click.IntRange(min=at_least), default=default, show_default=True, help=help
    )


class _ComposedText(click.types.StringParamType):
    """A command's text argument composed as the forms' and the API's text is
    (`printable.composed`, kana60): か and U+3099 typed (as macOS and some input methods
    send it) is stored as が, e and U+0301 as é (round 60, pagesfix60: a command's
    arguments were stored as typed, so a name given to `users create-admin` or a reason
    to `users two-step-off` could be kept decomposed, unlike the same typed on a page)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return composed(super().convert(value, param, ctx))


class _AsTyped(click.types.StringParamType):
    """A text argument left as typed: a file's path (the file system's name, which
    composing could make name another file or none)."""


COMPOSED_TEXT = _ComposedText()
AS_TYPED = _AsTyped()


def compose_text_arguments(command: click.Command) -> None:
    """Every plain text argument and option of `command` (and of each command under it)
    composed (`COMPOSED_TEXT`), as `limits` composes each form field, query parameter
    and JSON string: names, notes, reasons, and what finds a record (an organization's
    name, a passkey's), as they were stored from the pages. Left as typed, as the pages
    leave them: a parameter whose name says password, and one declared `AS_TYPED` (a
    file's path); choices, numbers, days and paths have their own types, not touched."""
    for param in command.params:
        plain = type(param.type) is click.types.StringParamType
        if plain and "password" not in (param.name or "").lower():
            param.type = COMPOSED_TEXT
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            compose_text_arguments(sub)
