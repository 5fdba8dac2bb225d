"""`licensing reports remind`: royalty-report reminders and the standing rule, from a
scheduler, on any number of hosts."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from licensing.clock import now_option
from licensing.config import current_config
from licensing.royalties import services


def remind_due(now: datetime | None = None) -> services.ReminderRun:
    """The `reports remind` job, for the command and the worker: reminders, and the
    standing rule under the running app's OVERDUE_STANDING_DAYS."""
    return services.send_reminders(standing_days=current_config().overdue_standing_days, now=now)


@click.command("remind")
@now_option
@with_appcontext
def remind(now: datetime) -> None:
    """Email reminders 14 days before a report is due, on the due date and every 14 days
    while it is overdue; hold at pending_payment an organization with a report overdue
    beyond the standing threshold (30 days). Idempotent; run it daily or hourly."""
    click.echo(str(remind_due(now)))
