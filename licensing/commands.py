"""The app's own commands, attached to `app.cli` by `register(app)`: the schema,
first-time setup, and every feature's commands, grouped under the names operators
type (`GROUPS`). Batch commands are idempotent and safe to run on several hosts at
once, so a scheduler may call them freely. (The console script that runs them is
`licensing.cli`.)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from licensing import calendar, db, job_runs, log_context, options, unprintable_records
from licensing.accounts import cli as accounts_cli
from licensing.agreements import cli as agreements_cli
from licensing.audit import cli as audit_cli
from licensing.billing import cli as billing_cli
from licensing.exports import cli as exports_cli
from licensing.finance import cli as finance_cli
from licensing.mail import cli as mail_cli
from licensing.permissions import cli as permissions_cli
from licensing.ratecards import cli as ratecards_cli
from licensing.royalties import cli as royalties_cli
from licensing.worker import (
    SCHEDULE,
    STARTING_ENVIRONMENT,
    UNFINISHED,
    Restart,
    Worker,
    jobs_overview,
)


@click.command("upgrade")
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to date."""
    # Alembic is imported by the commands that use it, not by every process that
    # creates the app: it is 11 MB and a fifth of a second of each worker's start.
    from licensing import migrations

    url = current_app.config["LICENSING"].database_url
    try:
        migrations.upgrade(url, revision)
    except migrations.RowsBreakUniqueness as refused:
        # The operator's next step is in the message (which rows, the docs' section);
        # a traceback of sixty lines buried it.
        raise click.ClickException(str(refused)) from refused
    click.echo(f"Database at revision {_revisions(url)}.")


@click.command("current")
@with_appcontext
def db_current() -> None:
    """Print the database's schema revision; exit 1, saying what to run, when it
    lacks migrations this code needs (an upgrade's check, from any host)."""
    click.echo(_revisions(current_app.config["LICENSING"].database_url))
    missing = _schema_behind()
    if missing:
        from licensing.migrations import behind_message

        raise click.ClickException(f"behind this code: {behind_message(missing)}")


# Steps that `licensing setup` runs after migrating (e.g. loading the sample
# rate cards). Each must be idempotent.
def _setup_steps() -> list[tuple[str, Any]]:
    return [
        ("Sample rate cards", _sample_rate_cards),
        ("Admin", accounts_cli.first_admin),
    ]


def _sample_rate_cards() -> str:
    """The shipped sample cards, except in production: published cards never
    change, so samples published there would price vendors' quotes for good."""
    if current_app.config["LICENSING"].is_production:
        return (
            "not published in production; publish the office's own with "
            "`licensing ratecards import FILE` (docs/pricing.md)"
        )
    return ratecards_cli.load_samples()


def _revisions(url: str) -> str:
    from licensing import migrations  # on use: see db_upgrade

    return ", ".join(migrations.current(url)) or "base"


@click.command("setup")
@with_appcontext
def setup() -> None:
    """Prepare a fresh install: migrate, then load what quotes need (idempotent)."""
    from licensing import migrations  # on use: see db_upgrade

    url = current_app.config["LICENSING"].database_url
    migrations.upgrade(url)
    click.echo(f"Database at revision {_revisions(url)}.")
    for label, step in _setup_steps():
        click.echo(f"{label}: {step()}")


@click.command("worker")
@click.option("--once", is_flag=True, help="Run each job once, then exit (1 if one failed).")
@click.option("--parent-pid", type=int, default=None, hidden=True)
# What a reload runs first, in a fresh interpreter: the app created, nothing run.
@click.option("--check", is_flag=True, hidden=True)
@with_appcontext
def worker(once: bool, parent_pid: int | None, check: bool) -> None:
    """Run every periodic job on its schedule, without cron: the outbox every
    minute; applications expire, permissions expire, payments reconcile and
    reports remind hourly; statements send and invoices overdue daily.

    Safe with several workers on one database (each job claims its rows).
    Each run is logged; SIGTERM or Ctrl-C stops after the job in hand; SIGHUP
    restarts it, after the job in hand, on the code and configuration on disk.
    """
    if check:
        return
    # current_app is typed as the app it stands for, so its proxy method is unknown.
    runner = Worker(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        schema_behind=_schema_behind,
        record_runs=True,
    )
    if once:
        runs = runner.run_due()
        if runner.waiting_for:
            from licensing.migrations import behind_message

            raise click.ClickException(f"no job ran: {behind_message(runner.waiting_for)}")
        if not all(run.ok for run in runs):
            raise SystemExit(1)
        return
    environment = click.get_current_context().meta.get(STARTING_ENVIRONMENT, os.environ)
    runner.handle_signals()
    runner.run_forever(parent_pid=parent_pid, restart=Restart.of_this_process(environment))


@click.command("status")
@with_appcontext
def jobs_status() -> None:
    """Each periodic job's last start, finish, outcome and success (recorded by the
    worker and by the commands run from cron); exits 1 naming the jobs whose last
    success is older than their schedule allows (JOB_GRACE_MINUTES beyond it), and
    those whose last run failed (round 34)."""
    statuses, trouble = jobs_overview(current_app.config["LICENSING"])  # as the Jobs page
    for job in statuses:
        row = job.record
        if row is None:
            click.echo(f"{job.name}: never recorded")
            continue
        ended = (
            f"finished {_instant(row.last_finished_at)}: {row.last_outcome}"
            if job.finished and row.last_finished_at is not None
            else UNFINISHED
        )
        success = _instant(row.last_succeeded_at) if row.last_succeeded_at else "never"
        # The run's id, as its log lines carry it (round 42): `grep run_id=RUN`.
        run = f"; run {row.last_run_id}" if row.last_run_id else ""
        click.echo(
            f"{job.name}: started {_instant(row.last_started_at)}, {ended}; "
            f"last success {success}{run}"
        )
    if trouble is not None:  # as /readyz's `jobs` and `jobs_detail`
        raise click.ClickException(f"{trouble.state}: {trouble.detail}")
    click.echo("No job is late or failing.")


def _instant(moment: datetime) -> str:
    """As `/readyz` writes it (round 44: `...Z` before)."""
    return calendar.instant_iso(moment, to_the_second=True)


def _schema_behind() -> tuple[str, ...]:
    """The migrations this code needs that the app's database lacks."""
    from licensing import migrations  # on use: see db_upgrade

    return migrations.missing(db.database().engine)


# The command line's groups: what each is for, and the features' commands in it
# (`licensing outbox send`). A feature's `cli.py` defines commands; they are grouped here.
GROUPS: dict[str, tuple[str, tuple[click.Command, ...]]] = {
    "applications": (
        "License applications and agreements.",
        (agreements_cli.expire, agreements_cli.withdraw_closed),
    ),
    "audit": (
        "The audit log and the seals of issued documents.",
        (audit_cli.verify, audit_cli.seal_unsealed_command),
    ),
    "db": ("Database schema migrations (Alembic).", (db_upgrade, db_current)),
    "finance": ("Finance reports.", (finance_cli.report,)),
    "invoices": (
        "Invoices: overdue reminders, late fees and standing.",
        (billing_cli.overdue, billing_cli.reopen_owed),
    ),
    "outbox": ("The email outbox.", (mail_cli.send,)),
    "payments": (
        "Card payments through Stripe.",
        (
            billing_cli.reconcile,
            billing_cli.prune_keys,
            billing_cli.match_disputes,
            billing_cli.fill_charge_ids,
            billing_cli.withdraw_unknown_intents,
        ),
    ),
    "permissions": (
        "Educational permission requests.",
        (permissions_cli.expire, permissions_cli.give_back_waits),
    ),
    "ratecards": (
        "Check, publish and list rate cards.",
        (
            ratecards_cli.check_command,
            ratecards_cli.import_command,
            ratecards_cli.list_command,
            ratecards_cli.tell_command,
        ),
    ),
    "records": (
        "Stored records: the text a document would print as empty boxes (round 55).",
        (unprintable_records.unprintable_command,),
    ),
    "reports": (
        "Royalty reports.",
        (royalties_cli.remind, royalties_cli.restore_terminated),
    ),
    "statements": (
        "Statements of account: the monthly run that emails them.",
        (billing_cli.send_statements,),
    ),
    "tokens": ("API tokens.", (accounts_cli.create_token, accounts_cli.remind)),
    "users": (
        "User accounts.",
        (
            accounts_cli.create_admin,
            accounts_cli.set_role,
            accounts_cli.two_step_off,
            accounts_cli.remove_passkeys,
            accounts_cli.move,
            accounts_cli.prune_browsers,
        ),
    ),
}


def _in_a_run_of_its_own() -> None:
    """A group's callback, before its command runs: the command's lines carry its
    name (`outbox send`, as the worker's job of the same name) and a run id, so a
    cron-run command's lines are followed as the worker's are (`log_context`)."""
    context = click.get_current_context()
    job = f"{context.info_name} {context.invoked_subcommand}"
    context.with_resource(log_context.run(job))
    if job in JOB_NAMES:  # a periodic job run from cron: recorded as the worker's runs are
        context.with_resource(_recorded_run(job))


JOB_NAMES = frozenset(name for name, _every in SCHEDULE)


@contextlib.contextmanager
def _recorded_run(job: str) -> Iterator[None]:
    """The command's run in `job_runs`: its start, then its end, failed when it
    exits non-zero or raises (click hands the exception to the group's resources).
    Its outcome is the job's closing line, the worker's (round 48: `exit status N`
    before), which the command says through `job_runs.closing`; the line alone, not
    the command's output, is kept. A non-zero exit adds `(exit status N)`, but the
    one the command said ends an ok run (round 49: `outbox send`'s mail to retry)."""
    job_runs.record_start(job, db.utcnow())
    with job_runs.closing_line_kept() as said:
        try:
            yield
        except click.exceptions.Exit as done:
            _record_end(job, said, done.exit_code)
            raise
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            _record_end(job, said, code)
            raise
        except BaseException as error:
            db.session().rollback()
            job_runs.record_finish(
                job, db.utcnow(), ok=False, outcome=f"failed: {type(error).__name__}: {error}"
            )
            raise
        _record_end(job, said, 0)


def _record_end(job: str, said: job_runs.Said, code: int) -> None:
    """The run's end by its exit status: ok when 0 or the status the command said
    an ok run exits with; its closing line, else (a command that says none) its exit
    status, as before round 48; a failed exit is named after the line."""
    ok = code == 0 or (said.line is not None and code == said.ok_exit_status)
    if said.line is None:
        outcome = f"exit status {code}"
    else:
        outcome = said.line if ok else f"{said.line} (exit status {code})"
    # In the command's app context; the command's own session may hold a failed
    # transaction, which the record's transaction begins by ending.
    db.session().rollback()
    job_runs.record_finish(job, db.utcnow(), ok=ok, outcome=outcome)


def register(app: Flask) -> None:
    """Attach every command group, and the commands of no group, to the app's CLI."""
    for name, (summary, commands) in GROUPS.items():
        app.cli.add_command(
            click.Group(name, commands, help=summary, callback=_in_a_run_of_its_own)
        )
    app.cli.add_command(
        click.Group("jobs", [jobs_status], help="The periodic jobs' last runs (round 33).")
    )
    for command in (exports_cli.exports_command, setup, worker):
        app.cli.add_command(command)
    # Round 60 (pagesfix60): text arguments composed, as forms' and the API's text is.
    options.compose_text_arguments(app.cli)
