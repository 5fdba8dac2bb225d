"""A process a test starts runs this checkout's code (`tests.support.checkout`):
from a worktree, `python -m licensing.cli` started in a temporary directory
imported the copy the shared virtual environment had installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.checkout import PROJECT_ROOT, this_checkout

WHICH = "import licensing; print(licensing.__file__)"


def test_a_process_started_elsewhere_imports_this_checkouts_licensing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WHICH],
        env=this_checkout(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(done.stdout.strip()).is_relative_to(PROJECT_ROOT)


def test_the_paths_a_process_had_are_kept_after_this_checkout() -> None:
    environment = this_checkout({"PYTHONPATH": "/opt/plugins"}, LOG_LEVEL="DEBUG")
    assert environment["PYTHONPATH"].split(":") == [str(PROJECT_ROOT), "/opt/plugins"]
    assert environment["LOG_LEVEL"] == "DEBUG"


def test_a_process_started_for_this_checkout_may_write_its_bytecode() -> None:
    # Round 66: each process compiled the whole package from source again.
    assert "PYTHONDONTWRITEBYTECODE" not in this_checkout({"PYTHONDONTWRITEBYTECODE": "1"})
