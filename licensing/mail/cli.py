"""`licensing outbox send`: deliver queued email (from a scheduler, on any number of hosts)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from licensing import job_runs
from licensing.config import current_config
from licensing.mail.services import DeliveryReport, deliver_due
from licensing.mail.smtp import Delivery
from licensing.options import whole_number_option


def send_due(limit: int = 500) -> DeliveryReport:
    """The `outbox send` job, for the command and the worker: deliver what is due
    as the running app's settings say (`Delivery.from_config`)."""
    return deliver_due(Delivery.from_config(current_config()), limit=limit)


@click.command("send")
@whole_number_option(
    "--limit", at_least=1, default=500, help="Send at most this many messages in this run."
)
@with_appcontext
def send(limit: int) -> None:
    """Deliver every message that is due, retrying earlier failures.

    Safe to run on several hosts at once: each message is claimed by one
    sender. Exits 1 when the SMTP server could not be reached or refused
    messages (they stay queued for the next run): a signal for a script, while
    the run is recorded ok with its counts, as the worker records it (round 49).
    """
    report = send_due(limit)
    status = 1 if report.deferred or report.failed else 0
    click.echo(job_runs.closing(str(report), ok_exit_status=status))
    if status:
        raise SystemExit(status)
