"""`licensing permissions expire`: close what time has run out on (from a scheduler)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from licensing import job_runs
from licensing.clock import now_option
from licensing.config import current_config
from licensing.permissions import services


def expire_due(now: datetime | None = None) -> services.ExpiryReport:
    """The `permissions expire` job, for the command and the worker."""
    return services.expire_due(now)


@click.command("expire")
@now_option
@with_appcontext
def expire(now: datetime) -> None:
    """Expire `needs_info` requests unanswered for 5 US business days, expire
    unconfirmed requests whose 48-hour link lapsed, close reconsideration
    windows 14 days after a denial, and tell a grant's requester, once, 30 days
    before the permission ends.

    Idempotent and safe on several hosts at once: rows are claimed with
    FOR NO KEY UPDATE SKIP LOCKED on PostgreSQL.
    """
    click.echo(job_runs.closing(str(expire_due(now))))


@click.command("give-back-waits")
@with_appcontext
def give_back_waits() -> None:
    """Once, after round 37: move later the decision due date of each request whose
    question was answered before the answer moved it, by the business days the
    question waited (what answering does since). Idempotent: a due date already
    moved is left as it is."""
    moved = services.give_back_earlier_waits(sla_days=current_config().permission_sla_days)
    if not moved:
        click.echo("No request's due date to move: every answered question is given back.")
        return
    click.echo(f"Moved the due date of {len(moved)} request(s): {', '.join(moved)}.")
