"""`licensing reports remind`: royalty-report reminders and the standing rule, from a
scheduler, on any number of hosts; `licensing reports restore-terminated`: the
periods of agreements terminated before round 23."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from licensing import job_runs
from licensing.actors import operator_login
from licensing.calendar import office_date
from licensing.clock import now_option
from licensing.config import current_config
from licensing.royalties import restore, services


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
    click.echo(job_runs.closing(str(remind_due(now))))


@click.command("restore-terminated")
@click.option(
    "--apply", is_flag=True, help="Store the periods listed (without it, nothing is changed)."
)
@click.option(
    "--terminated-since",
    "terminated_since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="DATE",
    help="Only agreements terminated on or after this office day (YYYY-MM-DD) [default: all].",
)
@now_option
@with_appcontext
def restore_terminated(apply: bool, terminated_since: datetime | None, now: datetime) -> None:
    """List, or with --apply store, the reporting periods of agreements terminated
    before round 23 (their termination deleted them): the term's quarters up to the
    termination's day, as a termination now stores them.

    Without --apply it changes nothing and says, for each agreement, the periods
    it would store, which are filed, which are overdue and by how long, and which
    would hold the organization at the next `licensing reports remind` (overdue
    beyond OVERDUE_STANDING_DAYS). Once stored, the staff queue lists them and the
    reminders job reminds of them like any other report: bound the run with
    --terminated-since to leave older terminations out. Audited as `system` with
    your login in the note; idempotent and safe on several hosts at once. Exits 0,
    or 2 on a bad argument.
    """
    today = office_date(now)
    standing_days = current_config().overdue_standing_days
    since = terminated_since.date() if terminated_since else None
    found = restore.restorations(apply=apply, terminated_since=since, operator=operator_login())
    count = 0
    for restoration in found:
        count += 1
        for line in restore.describe(restoration, today, standing_days):
            click.echo(line)
    if apply and count:
        click.echo(f"{count} agreement(s) terminated before round 23: periods stored.")
    elif apply:  # a second run: "0 ... periods stored" read as if it had done something
        click.echo("No agreement terminated before round 23 is missing its periods: none stored.")
    elif count:
        click.echo(
            f"{count} agreement(s) terminated before round 23 have no stored periods; "
            "nothing changed: run again with --apply to store them."
        )
    else:
        click.echo("No agreement terminated before round 23 is missing its periods.")
