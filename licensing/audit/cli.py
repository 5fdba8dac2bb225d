"""`licensing audit verify`: check that the audit log is intact."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from licensing import db
from licensing.audit.services import verify_chain


@click.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@with_appcontext
def verify() -> None:
    """Recompute the hash chain; exit 1 and list each break if any row was
    edited, deleted or reordered."""
    report = verify_chain(db.session())
    if report.ok:
        click.echo(
            f"Audit log intact: {report.events} events, chain head at seq {report.head_seq}."
        )
        return
    click.echo(
        f"Audit log BROKEN: {len(report.problems)} problem(s) in {report.events} events:", err=True
    )
    for problem in report.problems:
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(1)
