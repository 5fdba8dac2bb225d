"""`licensing permissions expire`: close what time has run out on (from a scheduler)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from licensing.permissions import services


@click.command("expire")
@with_appcontext
def expire() -> None:
    """Expire `needs_info` requests unanswered for 5 US business days, expire
    unconfirmed requests whose 48-hour link lapsed, and close reconsideration
    windows 14 days after a denial.

    Idempotent and safe on several hosts at once: rows are claimed with
    FOR UPDATE SKIP LOCKED on PostgreSQL.
    """
    click.echo(str(services.expire_due()))
