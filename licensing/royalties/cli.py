"""`licensing reports remind`: royalty-report reminders and the standing rule, from a
scheduler, on any number of hosts."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from licensing.clock import now_option
from licensing.config import current_config
from licensing.royalties import services


@click.command("remind")
@now_option
@with_appcontext
def remind(now: datetime) -> None:
    """Email reminders 14 days before a report is due, on the due date and every 14 days
    while it is overdue; hold at pending_payment an organization with a report overdue
    beyond the standing threshold (30 days). Idempotent; run it daily or hourly."""
    days = current_config().overdue_standing_days
    click.echo(str(services.send_reminders(standing_days=days, now=now)))
