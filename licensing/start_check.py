"""Whether the code and configuration on disk would start, asked of a fresh
interpreter before a running process replaces itself or its workers with them
(`licensing worker` and `licensing serve` on HUP). Standard library only: the
server's master process imports it and must import none of the app
(`licensing.serving`)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence


def refused(
    argv: Sequence[str], environment: Mapping[str, str] | None, timeout: float
) -> str | None:
    """Why `argv` (a command that creates the app and does nothing else, such as
    `licensing worker --check`) fails, in its last line of output, or None when it
    succeeds. A check that hangs past `timeout` (a database lock, a network drive)
    is a refusal too."""
    try:
        check = subprocess.run(  # noqa: S603 - our own interpreter and command line
            list(argv),
            env=None if environment is None else dict(environment),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"the check could not run: {error}"
    if check.returncode == 0:
        return None
    lines = (check.stderr or check.stdout).strip().splitlines()
    return lines[-1] if lines else f"the check exited with {check.returncode}"
