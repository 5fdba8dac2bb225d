"""Options the feature commands share beside `--now` (`licensing.clock.now_option`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def whole_number_option(flag: str, *, at_least: int, default: int, help: str) -> Callable[[F], F]:
    """An option taking a whole number of at least `at_least` (a count, minutes, a
    sequence number), its default and range shown in `--help`."""
    return click.option(
        flag, type=click.IntRange(min=at_least), default=default, show_default=True, help=help
    )
