"""The `licensing` console script.

Built on Flask's CLI (Click): every command runs inside an app context with the
configuration from the environment. The app's commands are attached by
`licensing.commands.register`; this module adds `serve`, which starts the app
itself (and, with `--with-worker`, the periodic jobs beside it), and sits on
top of everything: nothing imports it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo
from flask.cli import run_command as _flask_run_command

from licensing import start_warnings
from licensing.app import START_UP_REFUSALS, create_app, refusal_to_start
from licensing.worker import STARTING_ENVIRONMENT

# The environment as the process started, before `--env-file` adds the file's
# variables to it: `licensing worker` restarts in it on HUP, to read the file anew.
_STARTING_ENVIRONMENT = dict(os.environ)

log = logging.getLogger("licensing.serve")


def _create_app() -> Flask:
    try:
        app = create_app()
    except START_UP_REFUSALS as error:
        # One line naming the setting, not a traceback ending in it; exit 1, so
        # a service manager sees the start-up fail.
        raise click.ClickException(refusal_to_start(error)) from None
    if not _server_says_start_warnings():
        # Now that logging is set up: in the app's format (round 36).
        start_warnings.development_keys(app.config["LICENSING"])
    return app


# Set by `--beside-server` (the worker `serve --with-worker` starts).
_BESIDE_A_SERVER = {"set": False}


def _server_says_start_warnings() -> bool:
    """Whether the server says this process's start-up warnings, once, from its
    first worker (`licensing.start_warnings`): `serve` itself (before it becomes
    the server) and the worker it starts beside it, so a server start says the
    development keys once rather than from each process that built the app."""
    context = click.get_current_context(silent=True)
    return _BESIDE_A_SERVER["set"] or (context is not None and context.command is serve)


def _beside_a_server(_context: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _BESIDE_A_SERVER["set"] = True


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=True,
    add_version_option=False,
    load_dotenv=False,
)
@click.option(
    "--beside-server",
    is_flag=True,
    hidden=True,
    is_eager=True,  # read before the app is built, which resolving the command does
    expose_value=False,
    callback=_beside_a_server,
    help="Started by `serve --with-worker`: the server says the start-up warnings.",
)
@click.pass_context
def main(context: click.Context) -> None:
    """Licensing and royalty service for CPT content."""
    context.meta[STARTING_ENVIRONMENT] = _STARTING_ENVIRONMENT


@main.command("serve")
@click.option("--bind", default="127.0.0.1:5000", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help=(
        "Worker processes [default: 1 while rate limits are counted in memory "
        "(RATELIMIT_STORAGE_URI=memory://), else 2 x CPUs + 1]."
    ),
)
@click.option("--timeout", type=int, default=60, show_default=True)
@click.option(
    "--with-worker",
    is_flag=True,
    help="Also run `licensing worker` (the periodic jobs) beside the server, stopped with it.",
)
@click.option(
    "--control-socket",
    type=click.Path(dir_okay=False),
    default=None,
    help="Open gunicorn's control socket (for `gunicornc`) at this path [default: none].",
)
def serve(
    bind: str, workers: int | None, timeout: int, with_worker: bool, control_socket: str | None
) -> None:
    """Serve the app with gunicorn (the production server); `kill -HUP` on it
    starts new workers, and `licensing worker` beside them, on the code as it is on
    disk (`licensing.serving`)."""
    from licensing import serving

    # The access log, the forwarding headers believed, the control socket and the
    # start-up warnings are gunicorn.conf.py's (`serving.SETTINGS`), which the
    # server applies first: `gunicorn wsgi:app` run directly gets the same.
    options: dict[str, Any] = {
        "bind": bind,
        "workers": _worker_count(workers),
        "timeout": timeout,
    }
    # gunicorn (25.1 and later) opens a control socket under the user's home by
    # default and says so at every start; only one the operator asks for is opened.
    if control_socket:
        options["control_socket"] = control_socket
        options["control_socket_disable"] = False
    # Logged as every other start-up line (round 36: a bare line on stdout).
    log.info("Serving on http://%s", bind)
    # Replaced, not a child: the same process id (for HUP, TERM and the worker's
    # `--parent-pid`), without this process's imports of the app.
    argv = serving.command(options, with_worker=with_worker)
    os.execv(argv[0], argv)  # noqa: S606 - our own interpreter and module


def _worker_count(workers: int | None) -> int:
    """How many gunicorn worker processes `serve` starts.

    Flask-Limiter's default store is each process's memory: with several workers
    every worker counts on its own, so a limit let through up to `workers` times
    its number (26 of 30 sign-ups under 10 a minute with 3 workers). So without
    `--workers` the server runs ONE sync worker while the limits are counted in
    memory, and 2 x CPUs + 1 once `RATELIMIT_STORAGE_URI` names a store they share
    (or the limiter is off). gunicorn's threads would bring concurrency back to one
    process, but the app has not been checked to be thread-safe under them. An
    explicit `--workers N` is obeyed, with a warning when its workers each count
    alone."""
    storage = start_warnings.limits_in_memory()
    if workers is not None:
        start_warnings.limits_per_worker(workers)
        return workers
    if storage is not None:
        log.info(
            "One worker process: rate limits are counted in its memory "
            "(RATELIMIT_STORAGE_URI=%s). Set RATELIMIT_STORAGE_URI to a store the "
            "workers share to run several (docs/security.md, Rate limits).",
            storage,
        )
        return 1
    return multiprocessing.cpu_count() * 2 + 1


def _run_development_server(in_production: bool, **options: Any) -> None:
    """Flask's `run`, refused in production unless `--in-production` says so."""
    app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    if app.config["LICENSING"].is_production and not in_production:
        # Round 33: it served production with only Flask's own warning, one
        # thread, no access log and none of `serve`'s checks.
        raise click.ClickException(
            "`licensing run` starts Flask's development server, which is not for "
            "LICENSING_ENV=production (one process, no access log, no reload on HUP): "
            "serve with `licensing serve` (gunicorn), or add --in-production to start "
            "it anyway."
        )
    _flask_run_command.callback(**options)  # type: ignore[misc]


main.add_command(
    click.Command(
        "run",
        callback=_run_development_server,
        params=[
            *_flask_run_command.params,
            click.Option(
                ["--in-production"],
                is_flag=True,
                help="Start it even when LICENSING_ENV=production (refused otherwise).",
            ),
        ],
        help=(
            "Run Flask's development server (for development; production serves with "
            "`licensing serve`, and refuses this without --in-production)."
        ),
        short_help="Run a development server.",
    )
)


if __name__ == "__main__":  # `python -m licensing.cli`: how `serve --with-worker` starts the worker
    main()
