"""The environment of a process a test starts (`python -m licensing.cli`, the
`licensing` console script, gunicorn): this checkout's code first on its path.

Without it, a process started outside the project's root (`cwd=tmp_path`), or a
console script (whose path starts at the virtual environment's bin), imports the
`licensing` the virtual environment has installed: from a worktree sharing
another checkout's environment, that is the other checkout's code, and the test
passes or fails on code that is not the branch's.

Such a process may write the bytecode of what it compiles (round 66): with
`PYTHONDONTWRITEBYTECODE` (set in the sessions that run the suite here), every
process a test started compiled the whole package from source, some 0.6 s of CPU
of its 3 s start; now the first writes it beside the code (`__pycache__`, which
git ignores) and the others load it, as an installed package's processes do."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def this_checkout(environment: Mapping[str, str] | None = None, **changes: str) -> dict[str, str]:
    """`environment` (the test's own, by default) with `changes`, and `PROJECT_ROOT`
    first on `PYTHONPATH` (before any path it had), without `PYTHONDONTWRITEBYTECODE`."""
    found = {**(os.environ if environment is None else environment), **changes}
    found.pop("PYTHONDONTWRITEBYTECODE", None)
    paths = [str(PROJECT_ROOT), *filter(None, found.get("PYTHONPATH", "").split(os.pathsep))]
    found["PYTHONPATH"] = os.pathsep.join(paths)
    return found
