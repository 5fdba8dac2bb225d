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
@click.option(
    "--accept-unkeyed-until",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Accept rows up to this seq without an audit key (written before the chain was "
    "keyed, in a database upgraded from then); note the seq when you upgrade.",
)
@with_appcontext
def verify(accept_unkeyed_until: int) -> None:
    """Recompute the keyed hash chain; exit 1 and list each break if any row was
    edited, deleted or reordered."""
    report = verify_chain(db.session(), unkeyed_until=accept_unkeyed_until)
    if report.ok:
        legacy = f", {report.unkeyed} from before the chain was keyed" if report.unkeyed else ""
        click.echo(
            f"Audit log intact: {report.events} events{legacy}, "
            f"chain head at seq {report.head_seq}."
        )
        return
    click.echo(
        f"Audit log BROKEN: {len(report.problems)} problem(s) in {report.events} events:", err=True
    )
    for problem in report.problems:
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(1)
