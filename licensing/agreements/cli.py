"""`licensing applications expire`: the time-based steps of applications and agreements;
`licensing applications withdraw-closed`: round 49's one-off for the applications of
organizations closed before round 48."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from licensing import job_runs
from licensing.agreements import queries, services
from licensing.clock import now_option
from licensing.config import current_config

# Every hour (the worker's schedule): what the console's and `/readyz`'s word that the
# run is behind allows it (`queries.past_term_cutoff`, round 60).
RUNS_EVERY = queries.EXPIRY_RUN_EVERY


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


@click.command("withdraw-closed")
@now_option
@with_appcontext
def withdraw_closed(now: datetime) -> None:
    """Withdraw the undecided applications, drafts included, of organizations closed
    before round 48 (since then closing withdraws them): no one may approve a closed
    organization's application, so they waited in the review queue for a decision
    nobody could take. Each is audited `application.withdrawn` by the system, saying
    why.

    A one-off after upgrading past round 49, in batches of 100 each committed on its
    own; idempotent (a second run finds nothing) and safe on several hosts at once.
    """
    withdrawn = services.withdraw_left_by_closed(now=now)
    click.echo(
        f"{len(withdrawn)} undecided "
        f"{'application' if len(withdrawn) == 1 else 'applications'} of closed "
        "organizations withdrawn."
    )
    for reference in withdrawn:
        click.echo(f"  withdrawn: {reference}")
