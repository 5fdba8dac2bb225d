"""The `licensing` console script.

Built on Flask's CLI (Click): every command runs inside an app context with the
configuration from the environment. The app's commands are attached by
`licensing.commands.register`; this module adds `serve`, which starts the app
itself, and sits on top of everything (nothing imports it).
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

from licensing.app import create_app


def _create_app() -> Flask:
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


@main.command("serve")
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
