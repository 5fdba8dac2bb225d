"""`licensing applications expire`: the time-based steps of applications and agreements."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from licensing.agreements import services


@click.group("applications")
def applications_group() -> None:
    """License applications and agreements."""


@applications_group.command("expire")
@click.option(
    "--now",
    "now_text",
    default=None,
    help="Act as if it were this moment (ISO 8601 with a zone); for replays and tests.",
)
@with_appcontext
def expire(now_text: str | None) -> None:
    """Lapse returned applications not resubmitted within 5 US business days, close
    reconsideration windows after 14 days, and expire agreements past their term.

    Idempotent and safe on several hosts at once: run it from a scheduler, e.g.
    every hour.
    """
    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter("use ISO 8601, e.g. 2027-01-05T00:00:00+00:00") from None
        if now.tzinfo is None:
            raise click.BadParameter("give a time zone, e.g. 2027-01-05T00:00:00+00:00")
    report = services.expire(now=now)
    click.echo(str(report))
    for label, items in (
        ("lapsed", report.lapsed),
        ("reconsideration closed", report.windows_closed),
        ("expired", report.expired),
    ):
        for item in items:
            click.echo(f"  {label}: {item}")
