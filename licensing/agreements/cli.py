"""`licensing applications expire`: the time-based steps of applications and agreements."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from licensing import job_runs
from licensing.agreements import services
from licensing.clock import now_option
from licensing.config import current_config


def expire_due(now: datetime | None = None) -> services.ExpiryReport:
    """The `applications expire` job, for the command and the worker."""
    return services.expire(now=now, long_card_days=current_config().long_card_days)


@click.command("expire")
@now_option
@with_appcontext
def expire(now: datetime) -> None:
    """Lapse returned applications not resubmitted within 5 US business days, close
    reconsideration windows after 14 days, tell licensees once, 60 days before its
    last day, that an agreement nothing renews is ending, supersede renewed
    agreements once their renewal takes over, and expire the other agreements past
    their term.

    Idempotent and safe on several hosts at once: run it from a scheduler, e.g.
    every hour.
    """
    report = expire_due(now)
    click.echo(job_runs.closing(str(report)))
    for label, items in (
        ("lapsed", report.lapsed),
        ("reconsideration closed", report.windows_closed),
        ("expired", report.expired),
        ("told it ends soon", report.ending_reminded),
    ):
        for item in items:
            click.echo(f"  {label}: {item}")
