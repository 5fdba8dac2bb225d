"""The `--now` option of batch commands: act as if it were another time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from licensing.db import utcnow

NOW_HELP = "Act as if it were this time (ISO 8601 with a zone); default: now."

F = TypeVar("F", bound=Callable[..., Any])


def parse_now(value: str | None) -> datetime:
    """`--now`'s value as an aware datetime; the current time when not given."""
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2027-03-01T12:00:00+00:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. +00:00")
    return moment


def now_option(command: F) -> F:
    """Every batch command's `--now`, handed to it as `now`: an aware datetime."""
    option = click.option(
        "--now",
        "now",
        default=None,
        help=NOW_HELP,
        callback=lambda _ctx, _param, value: parse_now(value),
    )
    return option(command)
