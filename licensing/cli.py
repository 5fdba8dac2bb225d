"""The `licensing` console script.

Built on Flask's CLI (Click): every command runs inside an app context with the
configuration from the environment. Features add their command groups in
`register()`; batch commands are idempotent and safe to run on several hosts at
once, so a scheduler may call them freely.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from licensing import migrations


def _create_app() -> Flask:
    from licensing.app import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=True,
    add_version_option=False,
    load_dotenv=False,
)
def main() -> None:
    """Licensing and royalty service for CPT content."""


@click.group("db")
def db_group() -> None:
    """Database schema migrations (Alembic)."""


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to date."""
    url = current_app.config["LICENSING"].database_url
    migrations.upgrade(url, revision)
    click.echo(f"Database at revision {_revisions(url)}.")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the database's schema revision."""
    click.echo(_revisions(current_app.config["LICENSING"].database_url))


# Steps that `licensing setup` runs after migrating (e.g. loading the sample
# rate cards). Each must be idempotent.
def _setup_steps() -> list[tuple[str, Any]]:
    from licensing.accounts import cli as accounts_cli
    from licensing.ratecards import cli as ratecards_cli

    return [
        ("Sample rate cards", ratecards_cli.load_samples),
        ("Admin", accounts_cli.first_admin),
    ]


def _revisions(url: str) -> str:
    return ", ".join(migrations.current(url)) or "base"


@click.command("setup")
@with_appcontext
def setup() -> None:
    """Prepare a fresh install: migrate, then load what quotes need (idempotent)."""
    url = current_app.config["LICENSING"].database_url
    migrations.upgrade(url)
    click.echo(f"Database at revision {_revisions(url)}.")
    for label, step in _setup_steps():
        click.echo(f"{label}: {step()}")


@click.command("serve")
@click.option("--bind", default="127.0.0.1:5000", show_default=True)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Worker processes [default: 2 x CPUs + 1].",
)
@click.option("--timeout", type=int, default=60, show_default=True)
@click.option(
    "--with-worker",
    is_flag=True,
    help="Also run `licensing worker` (the periodic jobs) beside the server, stopped with it.",
)
def serve(bind: str, workers: int | None, timeout: int, with_worker: bool) -> None:
    """Serve the app with gunicorn (the production server)."""
    from gunicorn.app.base import BaseApplication

    jobs = _WorkerProcess() if with_worker else None

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": bind,
                "workers": workers or multiprocessing.cpu_count() * 2 + 1,
                "timeout": timeout,
                "accesslog": "-",
                "forwarded_allow_ips": "*",
            }
            if jobs is not None:  # gunicorn calls these hooks in its master process only
                options["when_ready"] = jobs.start
                options["on_exit"] = jobs.stop
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return _create_app()

    click.echo(f"Serving on http://{bind}")
    Server().run()


class _WorkerProcess:
    """`licensing worker` as a child of the server's master process: started when
    the server is ready, stopped when it exits (and, should the master be killed,
    the worker notices its parent is gone and stops by itself)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, _server: object) -> None:
        command = [
            sys.executable,
            "-m",
            "licensing.cli",
            "worker",
            "--parent-pid",
            str(os.getpid()),
        ]
        self.process = subprocess.Popen(command)  # noqa: S603 - our own interpreter and module
        click.echo(
            f"Worker started (pid {self.process.pid}): the periodic jobs run beside the server"
        )

    def stop(self, _server: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@click.command("worker")
@click.option("--once", is_flag=True, help="Run each job once, then exit (1 if one failed).")
@click.option("--parent-pid", type=int, default=None, hidden=True)
@with_appcontext
def worker(once: bool, parent_pid: int | None) -> None:
    """Run every periodic job on its schedule, without cron: the outbox every
    minute; applications expire, permissions expire, payments reconcile and
    reports remind hourly; invoices overdue daily.

    Safe with several workers on one database (each job claims its rows).
    Each run is logged; SIGTERM or Ctrl-C stops after the job in hand.
    """
    from licensing.worker import Worker

    runner = Worker(current_app._get_current_object())  # type: ignore[attr-defined]
    if once:
        runs = runner.run_due()
        if not all(run.ok for run in runs):
            raise SystemExit(1)
        return
    runner.handle_signals()
    runner.run_forever(parent_pid=parent_pid)


def register(app: Flask) -> None:
    """Attach every command group to the app's CLI."""
    from licensing.accounts import cli as accounts_cli
    from licensing.agreements import cli as agreements_cli
    from licensing.audit import cli as audit_cli
    from licensing.billing import cli as billing_cli
    from licensing.mail import cli as mail_cli
    from licensing.permissions import cli as permissions_cli
    from licensing.ratecards import cli as ratecards_cli
    from licensing.royalties import cli as royalties_cli

    app.cli.add_command(db_group)
    app.cli.add_command(accounts_cli.users_group)
    app.cli.add_command(accounts_cli.tokens_group)
    app.cli.add_command(agreements_cli.applications_group)
    app.cli.add_command(audit_cli.audit_group)
    app.cli.add_command(mail_cli.outbox_group)
    app.cli.add_command(billing_cli.invoices_group)
    app.cli.add_command(billing_cli.payments_group)
    app.cli.add_command(permissions_cli.permissions_group)
    app.cli.add_command(ratecards_cli.ratecards_group)
    app.cli.add_command(royalties_cli.reports_group)
    app.cli.add_command(setup)
    app.cli.add_command(serve)
    app.cli.add_command(worker)


if __name__ == "__main__":  # `python -m licensing.cli`: how `serve --with-worker` starts the worker
    main()
