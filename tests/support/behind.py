"""A database two billing migrations behind the code, and what a server started
on it logs: `licensing serve` and plain `gunicorn wsgi:app` each, in
`tests/integration/test_start_up_lines.py` (round 62: one run of each server
answers for the start-up lines of rounds 31, 33, 36 and 40)."""

from __future__ import annotations

import sys
from pathlib import Path

from licensing import migrations

BIN = Path(sys.executable).parent
AGENT = f"Python-urllib/{sys.version_info.major}.{sys.version_info.minor}"


def behind_url(tmp_path: Path) -> str:
    """A SQLite database migrated to billing_0011 only."""
    url = f"sqlite:///{tmp_path / 'older.db'}"
    migrations.upgrade(url, "billing_0011")
    return url


def billing_head() -> str:
    """The billing branch's newest revision: the one the warning names as lacking."""
    return next(name for name in migrations.heads("") if name.startswith("billing_"))
