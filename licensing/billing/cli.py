"""`licensing payments reconcile`, `licensing payments prune-keys` and
`licensing invoices overdue`: from a scheduler, on any number of hosts (rows
are claimed with SKIP LOCKED)."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask.cli import with_appcontext

from licensing.billing import idempotency, services
from licensing.clock import now_option
from licensing.config import current_config
from licensing.errors import DomainError


@click.command("reconcile")
@click.option(
    "--older-than-minutes",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Ask Stripe about card payments and refunds still pending after this long "
    "without a webhook.",
)
@now_option
@with_appcontext
def reconcile(older_than_minutes: int, now: datetime) -> None:
    """Apply what Stripe says about card payments and card refunds whose outcome is unknown."""
    older_than = timedelta(minutes=older_than_minutes)
    try:
        reports = (
            services.reconcile_payments(now=now, older_than=older_than),
            services.reconcile_refunds(now=now, older_than=older_than),
        )
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    for report in reports:
        for line in report.outcomes:
            click.echo(line)
        click.echo(str(report))


@click.command("prune-keys")
@now_option
@with_appcontext
def prune_keys(now: datetime) -> None:
    """Forget the Idempotency-Key records of API requests older than 24 hours
    (a retry with such a key is carried out anew). Idempotent."""
    click.echo(f"{idempotency.prune(now=now)} idempotency keys pruned")


@click.command("overdue")
@now_option
@with_appcontext
def overdue(now: datetime) -> None:
    """Email reminders for overdue invoices (at most weekly), issue late-fee
    invoices per the agreement's terms, and move organizations with an invoice
    overdue beyond OVERDUE_STANDING_DAYS to pending_payment. Idempotent."""
    report = services.process_overdue(standing_days=current_config().overdue_standing_days, now=now)
    for number in report.late_fee_invoices:
        click.echo(f"late fee invoice {number}")
    for name in report.pending_payment:
        click.echo(f"pending payment: {name}")
    click.echo(str(report))
