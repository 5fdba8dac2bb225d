"""The served app is frozen out of the garbage collector's full collections once built."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# How each entry point a server imports builds its app: `gunicorn wsgi:app`, and
# `licensing serve`'s worker (`licensing.serving.Server.load`).
_WSGI = "import wsgi\napp = wsgi.app\n"
_SERVE = (
    "from licensing.serving import Server\n"
    "app = Server({'bind': '127.0.0.1:0'}, with_worker=False).load()\n"
)

_SERVED = """
import gc
import sys

ENTRY
frozen = gc.get_freeze_count()
tracked = {id(each) for each in gc.get_objects()}
made_later = []
made_later.append(made_later)  # a cycle made after start-up: still collected
del made_later
sys.stdout.write(" ".join([
    str(frozen > 100_000),
    str(id(app) in tracked),
    str(id(app.url_map) in tracked),
    str(gc.collect() >= 1),
]))
"""


@pytest.mark.parametrize("entry", [_WSGI, _SERVE], ids=["wsgi", "licensing serve"])
def test_the_served_app_is_frozen_and_what_is_made_later_is_still_collected(
    entry: str, tmp_path: Any
) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _SERVED.replace("ENTRY", entry)],
        cwd=root,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
            "SECRET_KEY": "s" * 40,
            "AUDIT_HMAC_KEY": "a" * 40,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    frozen, app_tracked, routes_tracked, later_collected = done.stdout.split()
    assert frozen == "True"
    assert (app_tracked, routes_tracked) == ("False", "False")
    assert later_collected == "True"


def test_building_an_app_freezes_nothing() -> None:
    import gc

    from licensing.app import create_app
    from licensing.config import Config

    before = gc.get_freeze_count()
    create_app(
        Config(
            environment="testing",
            database_url="sqlite://",
            secret_key="s" * 40,
            audit_hmac_key="a" * 40,
        )
    )
    # Not equal: a frozen object freed while the app is built (a cache entry
    # replaced) leaves the permanent generation, and the count goes down.
    assert gc.get_freeze_count() <= before
