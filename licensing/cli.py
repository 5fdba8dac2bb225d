"""The `licensing` console script.

Built on Flask's CLI (Click): every command runs inside an app context with the
configuration from the environment. Features add their command groups in
`register()`; batch commands are idempotent and safe to run on several hosts at
once, so a scheduler may call them freely.
"""

from __future__ import annotations

import multiprocessing
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
    from licensing.ratecards import cli as ratecards_cli

    return [("Sample rate cards", ratecards_cli.load_samples)]


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
def serve(bind: str, workers: int | None, timeout: int) -> None:
    """Serve the app with gunicorn (the production server)."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": bind,
                "workers": workers or multiprocessing.cpu_count() * 2 + 1,
                "timeout": timeout,
                "accesslog": "-",
                "forwarded_allow_ips": "*",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return _create_app()

    click.echo(f"Serving on http://{bind}")
    Server().run()


def register(app: Flask) -> None:
    """Attach every command group to the app's CLI."""
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

    app.cli.add_command(db_group)
    app.cli.add_command(accounts_cli.users_group)
    app.cli.add_command(accounts_cli.tokens_group)
    app.cli.add_command(agreements_cli.applications_group)
    app.cli.add_command(audit_cli.audit_group)
    app.cli.add_command(mail_cli.outbox_group)
    app.cli.add_command(billing_cli.invoices_group)
    app.cli.add_command(billing_cli.payments_group)
    app.cli.add_command(exports_cli.exports_command)
    app.cli.add_command(finance_cli.finance_group)
    app.cli.add_command(permissions_cli.permissions_group)
    app.cli.add_command(ratecards_cli.ratecards_group)
    app.cli.add_command(royalties_cli.reports_group)
    app.cli.add_command(setup)
    app.cli.add_command(serve)
