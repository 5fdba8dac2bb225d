"""The `licensing` console script.

Built on Flask's CLI (Click): every command runs inside an app context with the
configuration from the environment. The app's commands are attached by
`licensing.commands.register`; this module adds `serve`, which starts the app
itself (and, with `--with-worker`, the periodic jobs beside it), and sits on
top of everything: nothing imports it.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
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
@click.option(
    "--with-worker",
    is_flag=True,
    help="Also run `licensing worker` (the periodic jobs) beside the server, stopped with it.",
)
def serve(bind: str, workers: int | None, timeout: int, with_worker: bool) -> None:
    """Serve the app with gunicorn (the production server)."""
    from gunicorn.app.base import BaseApplication

    jobs = _WorkerProcess() if with_worker else None

    class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
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


if __name__ == "__main__":  # `python -m licensing.cli`: how `serve --with-worker` starts the worker
    main()
