"""Round 39: a security review of what rounds 31-38 added (docs/security.md,
"Round 39: what rounds 31-38 added, reviewed"). Each test fails without its fix."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from licensing import serving


def test_a_directory_made_where_the_start_up_flag_was_does_not_stop_a_worker_booting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flag's name is in a shared temporary directory anyone can list: once the
    first worker removed it, any local user could make a directory (or, where the
    server runs as a user of its own, a file of theirs) at that name, and every
    worker booted after (a HUP, a worker recycled) raised removing it: gunicorn's
    master stops when a worker fails to boot."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(serving, "_start_warnings_flag", None)
    serving.warn_at_start(object())
    [flag] = tmp_path.glob("licensing-start-warnings-*")
    assert serving.claim_start_warnings() is True
    flag.mkdir()  # another user's, made after the first worker removed the flag
    assert serving.claim_start_warnings() is False
    assert flag.is_dir()  # not ours: left as it is
