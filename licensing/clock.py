"""The `--now` option of batch commands: act as if it were another time."""

from __future__ import annotations

from datetime import datetime

import click

from licensing.db import utcnow

NOW_HELP = "Act as if it were this time (ISO 8601 with a zone); default: now."


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
